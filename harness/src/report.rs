//! The run's reports: `summary.json` (the contract), `report.md`, and a self-contained
//! `report.html` with SVG charts.

use crate::charts::{self, MapPoint, TimelineRow};
use scenarios::class::ChartBody;
use scenarios::summary::{grouped as thousands, Summary};
use scenarios::world::scoring::ReportData;
use std::fmt::Write;

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// The report as Markdown: the figures a person wants first.
/// What the alert table's figures mean, under it.
const ALERT_DEFINITIONS: &str =
    "\n*Definitions.* An **episode** is a stretch of a device's true state (its class's ground \
truth) of the kind the rule's `truth` names. An alert for that device raised during an episode \
or within `scoring.grace_min` after it **detects** it: the first is a true alert, later ones in \
the same episode are duplicates, and an alert in no episode is false. **Precision** = true / \
(true + false); a rule that raised no alert has none (`—` here, `null` in summary.json). \
**Recall** = detected / all episodes, 1 when there were none (the `recall` invariant judges \
only episodes that began `min_age_h` before the end). A rule that detected no episode has no \
latency (`—`, `null`). \
**Latency** runs from the episode's onset to its first detecting alert, so it includes what the \
condition waits for (a fever's ramp, a stuck window) as well as the readings' end-to-end \
latency, itself including the store's `queryable_delay_s`.\n";

const TELEMETRY_DEFINITIONS: &str = "*Definitions.* **Sent**: readings the devices sampled \
and queued to publish. **Acknowledged**: the hub's PUBACK reached the device, which then \
forgets the reading. **Delivered**: read from the hub's endpoint by the back end, redeliveries \
included. **Stored**: distinct readings queryable in the store. **Lost**: dropped on the device \
(its store-and-forward buffer overflowed, or it rebooted with them in RAM) or given up by a \
gateway. **In flight at the end**: still on a device or on the way. Latency is measured from \
the reading's own timestamp (the device's clock when it sampled).\n\n";

const HUB_DEFINITIONS: &str = "*Definitions.* **Quota used**: the share of the hub's daily \
message quota (its tier's messages a day per unit, each message counted in 4 KB blocks) used on \
the busiest UTC day. **Throttled**: requests answered late or refused with 429 because a \
per-second throttle (device-to-cloud sends, connections, twin operations) was exceeded. \
**Quota rejections**: messages refused because the day's quota was spent.\n\n";

/// Milliseconds as whole milliseconds; `—` when not measured.
pub(crate) fn ms_text(ms: Option<f64>) -> String {
    ms.map_or("—".into(), |v| format!("{v:.0} ms"))
}

/// Milliseconds as seconds to a tenth; `—` when not measured.
pub(crate) fn secs_text(ms: Option<f64>) -> String {
    ms.map_or("—".into(), |v| format!("{:.1} s", v / 1e3))
}

/// Seconds as whole minutes; `—` when not measured.
pub(crate) fn minutes(s: Option<f64>) -> String {
    s.map_or("—".into(), |s| format!("{:.0} min", s / 60.0))
}

/// Where the latency goes: sample → each milestone, cumulative, and alert → notification.
fn latency_md(m: &mut String, s: &Summary) {
    if s.latency_stages.is_empty() {
        return;
    }
    let _ = writeln!(
        m,
        "### Where the latency goes\n\n| from sampling until the reading is | p50 | p99 | max |\n|---|---:|---:|---:|"
    );
    for st in &s.latency_stages {
        let what = match st.stage.as_str() {
            "published" => "published by the device (its first attempt)",
            "enqueued" => "enqueued at the hub",
            "read" => "read from the hub's endpoint by the back end",
            "queryable" => "queryable in the store; the rules run on it",
            other => other,
        };
        let _ = writeln!(
            m,
            "| {what} | {} | {} | {} |",
            secs_text(Some(st.p50)),
            secs_text(Some(st.p99)),
            secs_text(Some(st.max))
        );
    }
    for n in s.notifications.iter().filter(|n| n.delivered > 0) {
        let _ = writeln!(
            m,
            "| (from the alert) notified by {} | {} | {} | |",
            n.channel,
            secs_text(n.latency_ms_p50),
            secs_text(n.latency_ms_p99)
        );
    }
    let _ = writeln!(
        m,
        "\nEach row is cumulative from the sample. Sample → publish: the device's buffer while it is offline, connecting or waiting for the duty cycle. Publish → hub: the radio, the network and TCP retransmissions, and the hub's traffic shaping. Hub → read: the back end's polling of the endpoint. Read → queryable: the store's configured `store.queryable_delay_s` and its ingestion throughput. The rules run on each reading as it becomes queryable; their alert latency adds what the condition waits for.\n"
    );
}

/// What the solution would cost a month at list prices.
fn cost_md(m: &mut String, s: &Summary) {
    let c = &s.cost;
    if c.prices_dated.is_empty() {
        return;
    }
    let usd = |v: f64| {
        if v >= 100.0 {
            format!("{} USD", crate::charts::tick(v))
        } else {
            format!("{v:.2} USD")
        }
    };
    let _ = writeln!(
        m,
        "## Cost per month\n\n| part | use | USD / month |\n|---|---|---:|\n| IoT Hub as configured ({} × {}) | {} messages a day (metered) | {} |\n| IoT Hub the traffic needs | {} unit(s) of {} | {} |\n| DPS | {} operations | {} |\n| store | {:.3} GB a day | {} |\n| **total (hub as configured)** | {:.4} USD per device | **{}** |\n",
        s.hub.tier,
        s.hub.units,
        thousands(c.hub_messages_per_day.round() as u64),
        usd(c.hub_usd_per_month),
        c.hub_units_needed,
        s.hub.tier,
        usd(c.hub_usd_per_month_needed),
        thousands(c.dps_operations),
        usd(c.dps_usd_per_month),
        c.store_gb_per_day,
        usd(c.store_usd_per_month),
        c.usd_per_device_per_month,
        usd(c.total_usd_per_month)
    );
    let _ = writeln!(
        m,
        "*Definitions.* Prices dated {}: {}. A month is 730 hours; a run shorter than a day is scaled to a day. The hub is billed by unit whatever it carries; **needed** is the units of the same tier whose daily quota holds the metered messages (4 KB chunks, reference §1.1). DPS operations (registrations and status polls) are paid once.\n",
        c.prices_dated, c.prices_source
    );
}

/// The Device Provisioning Service's work.
fn dps_md(m: &mut String, s: &Summary) {
    let d = &s.dps;
    if d.assigned == 0 && d.registrations_accepted == 0 {
        return;
    }
    let _ = writeln!(
        m,
        "## Provisioning (DPS)\n\n{} devices have a hub, {} of them provisioned before the run. {} registrations accepted, {} refused with 429; {} operation-status polls, {} of them throttled.\n",
        thousands(d.assigned),
        thousands(d.preprovisioned),
        thousands(d.registrations_accepted),
        thousands(d.registrations_throttled),
        thousands(d.polls),
        thousands(d.polls_throttled)
    );
    m.push_str("*Definitions.* A device without a hub in its flash registers with DPS through its class's enrollment group (symmetric key) and polls the operation until it is assigned; DPS admits 1,000 registrations a minute per unit, and a refused device retries after the `Retry-After` DPS sends (reference §2.5).\n\n");
}

pub fn markdown(s: &Summary, r: &ReportData, description: &str) -> String {
    let mut m = String::new();
    let t = &s.telemetry;
    let verdict = if s.all_invariants_held() {
        "all invariants held"
    } else {
        "INVARIANT FAILED"
    };
    let _ = writeln!(m, "# fleetsim run: {} (seed {})\n", s.scenario, s.seed);
    let _ = writeln!(m, "{description}\n");
    let _ = writeln!(
        m,
        "**{}** · {} devices · {:.1} simulated hours · {} events in {:.1} s wall · peak memory {:.2} GiB · trace hash `{}`\n",
        verdict,
        thousands(s.devices),
        s.simulated_seconds / 3_600.0,
        thousands(s.events),
        s.wall_seconds,
        s.peak_rss_bytes as f64 / (1u64 << 30) as f64,
        s.trace_hash
    );
    if !s.overrides.is_empty() {
        let _ = writeln!(
            m,
            "Overrides: `{}`. The description above is the scenario file's; the configuration below is the run's, with the overrides.\n",
            s.overrides.join("` `")
        );
    }
    if !r.configuration.is_empty() {
        let _ = writeln!(m, "## Configuration as run\n");
        for line in &r.configuration {
            let _ = writeln!(m, "- {line}");
        }
        m.push('\n');
    }
    let _ = writeln!(
        m,
        "## Invariants\n\n| invariant | held | detail |\n|---|---|---|"
    );
    for i in &s.invariants {
        let _ = writeln!(
            m,
            "| {} | {} | {} |",
            i.name,
            if i.passed { "yes" } else { "**NO**" },
            i.detail
        );
    }
    let _ = writeln!(
        m,
        "\n## Telemetry\n\n| | readings | share of sent |\n|---|---:|---:|"
    );
    let share = |n: u64| pct(n as f64 / t.sent.max(1) as f64);
    for (name, n) in [
        ("sent", t.sent),
        ("acknowledged by the hub", t.acknowledged),
        ("delivered to the back end", t.delivered),
        ("stored", t.stored),
        ("lost", t.lost),
        ("in flight at the end", t.in_flight_at_end),
    ] {
        let _ = writeln!(m, "| {name} | {} | {} |", thousands(n), share(n));
    }
    for c in &t.lost_by_reason {
        let _ = writeln!(
            m,
            "| lost: {} | {} | {} |",
            c.name,
            thousands(c.count),
            share(c.count)
        );
    }
    let _ = writeln!(
        m,
        "\nDuplicates dropped by the store: {}. End-to-end latency (sample → queryable in the store): p50 {:.1} s, p99 {:.1} s, max {:.1} s.\n",
        thousands(t.duplicates_dropped),
        s.latency_ms.p50 / 1_000.0,
        s.latency_ms.p99 / 1_000.0,
        s.latency_ms.max / 1_000.0
    );
    m.push_str(TELEMETRY_DEFINITIONS);
    latency_md(&mut m, s);
    let h = &s.hub;
    let _ = writeln!(
        m,
        "## IoT Hub\n\n{} × {} unit(s): {} of the daily quota used at the peak; {} throttled requests; {} quota rejections.\n",
        h.tier,
        h.units,
        pct(h.quota_used_ratio),
        thousands(h.throttled_requests),
        thousands(h.quota_rejections)
    );
    m.push_str(HUB_DEFINITIONS);
    dps_md(&mut m, s);
    cost_md(&mut m, s);
    commands_md(&mut m, s);
    for (of, rep) in r.reports.iter().filter(|(_, rep)| !rep.figures.is_empty()) {
        let _ = writeln!(m, "## {of}\n\n| figure | value |\n|---|---:|");
        for (name, v) in &rep.figures {
            let _ = writeln!(m, "| {name} | {} |", figure_text(*v));
        }
        m.push('\n');
    }
    if s.alerts.rules.is_empty() {
        return dashboard_md(m, r);
    }
    let _ = writeln!(
        m,
        "## Alerts\n\n{} alerts raised{}.\n\n| rule | alerts | true episodes | precision | recall | latency p50 | p99 | max |\n|---|---:|---:|---:|---:|---:|---:|---:|",
        thousands(s.alerts.raised),
        if s.alerts.raised_after_end > 0 {
            format!(
                ", {} of them after the run's end, while the back end drained what the hub and the store still held",
                thousands(s.alerts.raised_after_end)
            )
        } else {
            String::new()
        }
    );
    for r in &s.alerts.rules {
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {:.3} | {} | {} | {} |",
            r.rule,
            r.raised,
            r.true_episodes,
            r.precision.map_or("—".into(), |p| format!("{p:.3}")),
            r.recall,
            minutes(r.latency_s_p50),
            minutes(r.latency_s_p99),
            minutes(r.latency_s_max)
        );
    }
    m.push_str(ALERT_DEFINITIONS);
    let b = &s.battery;
    if r.battery_soc.is_empty() {
        return dashboard_md(m, r);
    }
    let _ = writeln!(
        m,
        "\n## Batteries\n\nCharge left: lowest {}, median {}. Projected life at this day's drain (median collar): {:.0} days ({:.1} years).\n",
        pct(b.charge_ratio_min),
        pct(b.charge_ratio_p50),
        b.projected_life_days_p50,
        b.projected_life_days_p50 / 365.0
    );
    let e = &b.energy_j_mean;
    let total_j = e.sleep + e.sample + e.fix + e.radio;
    if total_j > 0.0 {
        let share = |j: f64| pct(j / total_j);
        let _ = writeln!(
            m,
            "Energy per collar over the run: {total_j:.1} J, of which the modem's transmissions {:.1} J ({}), GNSS fixes {:.1} J ({}), sleep {:.1} J ({}) and the temperature probe {:.1} mJ ({}).\n",
            e.radio,
            share(e.radio),
            e.fix,
            share(e.fix),
            e.sleep,
            share(e.sleep),
            e.sample * 1e3,
            share(e.sample)
        );
    }
    dashboard_md(m, r)
}

fn dashboard_md(mut m: String, r: &ReportData) -> String {
    if !r.dashboard.is_empty() {
        let _ = writeln!(
            m,
            "## Dashboard at the end\n\n```text\n{}\n```",
            r.dashboard.trim_end()
        );
    }
    m
}

/// A figure as people read it: whole numbers with thousands separators, others to a few
/// decimals.
pub(crate) fn figure_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let t = thousands(v.abs() as u64);
        if v < 0.0 {
            format!("-{t}")
        } else {
            t
        }
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// What the back end asked of the devices, if anything.
fn commands_md(m: &mut String, s: &Summary) {
    let c = &s.commands;
    if c.methods.sent + c.c2d.sent + c.desired.sent == 0 {
        return;
    }
    let _ = writeln!(
        m,
        "## Commands to devices\n\n| | sent | outcome |\n|---|---:|---|"
    );
    if c.methods.sent > 0 {
        let failed: Vec<String> = c
            .methods
            .failed_by_code
            .iter()
            .map(|f| format!("{} × {}", thousands(f.count), f.name))
            .collect();
        let _ = writeln!(
            m,
            "| direct methods | {} | {} answered 200{}; latency p50 {}, p99 {} |",
            thousands(c.methods.sent),
            thousands(c.methods.answered_ok),
            if failed.is_empty() {
                String::new()
            } else {
                format!("; failed: {}", failed.join(", "))
            },
            ms_text(c.methods.latency_ms_p50),
            ms_text(c.methods.latency_ms_p99)
        );
    }
    if c.c2d.sent > 0 {
        let _ = writeln!(
            m,
            "| C2D messages | {} | {} completed, {} expired, {} accepted without feedback, {} refused |",
            thousands(c.c2d.sent),
            thousands(c.c2d.completed),
            thousands(c.c2d.expired),
            thousands(c.c2d.accepted),
            thousands(c.c2d.failed)
        );
    }
    if c.desired.sent > 0 {
        let _ = writeln!(
            m,
            "| desired-property patches | {} | {} accepted, {} refused; twins converged at the end: {} |",
            thousands(c.desired.sent),
            thousands(c.desired.accepted),
            thousands(c.desired.failed),
            pct(c.twins_converged_ratio)
        );
    }
    m.push('\n');
    let sent: Vec<_> = s.notifications.iter().filter(|n| n.sent > 0).collect();
    if !sent.is_empty() {
        let _ = writeln!(
            m,
            "## Notifications\n\n| channel | sent | delivered | lost | latency p50 | p99 |\n|---|---:|---:|---:|---:|---:|"
        );
        for n in sent {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} |",
                n.channel,
                thousands(n.sent),
                thousands(n.delivered),
                thousands(n.lost),
                secs_text(n.latency_ms_p50),
                secs_text(n.latency_ms_p99)
            );
        }
        m.push('\n');
    }
}

fn hourly_rates(r: &ReportData, name: &str) -> Vec<(f64, f64)> {
    let Some((_, v)) = r.series.iter().find(|(n, _)| n == name) else {
        return Vec::new();
    };
    let per_hour = 3_600.0 / r.sample_interval_s;
    v.windows(2)
        .enumerate()
        .map(|(i, w)| {
            (
                (i + 1) as f64 * r.sample_interval_s / 3_600.0,
                (w[1] - w[0]) * per_hour,
            )
        })
        .collect()
}

fn series_points(r: &ReportData, name: &str, scale: f64) -> Vec<(f64, f64)> {
    r.series
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| {
            v.iter()
                .enumerate()
                .map(|(i, x)| (i as f64 * r.sample_interval_s / 3_600.0, x * scale))
                .collect()
        })
        .unwrap_or_default()
}

/// The self-contained HTML report.
pub fn html(s: &Summary, r: &ReportData, description: &str) -> String {
    let md = markdown(s, r, description);
    let faults = charts::Over {
        faults: &r.faults,
        layered: false,
    };
    let msgs = charts::lines_over(
        "Messages per hour",
        "hour",
        "messages / hour",
        &[
            ("sampled", hourly_rates(r, "telemetry.sampled")),
            ("acknowledged", hourly_rates(r, "telemetry.acknowledged")),
            ("stored", hourly_rates(r, "telemetry.stored")),
            ("lost", hourly_rates(r, "telemetry.lost")),
        ],
        &charts::Over {
            faults: &r.faults,
            layered: true,
        },
    );
    let mut bins: Vec<(String, f64)> = Vec::new();
    let mut lo = 0.0;
    for (hi, n) in &r.latency_buckets_ms {
        if *n > 0 || !bins.is_empty() {
            bins.push((
                format!("{:.0}-{:.0}s", lo / 1_000.0, hi / 1_000.0),
                *n as f64,
            ));
        }
        lo = *hi;
    }
    while bins.last().is_some_and(|b| b.1 == 0.0) {
        bins.pop();
    }
    let latency = charts::bars_log(
        "Delivery latency (sample → stored)",
        "seconds",
        "readings",
        &bins,
    );
    let hub = charts::lines_over(
        "IoT Hub: daily quota used",
        "hour",
        "% of the daily quota",
        &[(
            "quota used",
            series_points(r, "hub.quota_used_ratio", 100.0),
        )],
        &faults,
    );
    let throttled = charts::lines_over(
        "IoT Hub: requests throttled (429)",
        "hour",
        "requests / hour",
        &[("throttled", hourly_rates(r, "hub.throttled"))],
        &faults,
    );
    let connected = charts::lines_over(
        "Connected devices",
        "hour",
        "devices",
        &[("connected", series_points(r, "hub.connected_devices", 1.0))],
        &faults,
    );
    let rows: Vec<TimelineRow> = r
        .timeline
        .iter()
        .map(|e| TimelineRow {
            label: format!("{} {}", e.kind, e.id),
            episode_h: Some(e.episode_h),
            alerts_h: e.alerts_h.clone(),
        })
        .collect();
    let timeline = charts::timeline(
        "Alerts against the truth (sample of episodes)",
        s.simulated_seconds / 3_600.0,
        &rows,
        &r.faults,
    );
    let mut soc_bins: Vec<(String, f64)> = Vec::new();
    if let (Some(min), Some(max)) = (r.battery_soc.first(), r.battery_soc.last()) {
        let (min, max) = (*min, (*max).max(*min + 1e-9));
        let n = 12;
        let mut counts = vec![0.0; n];
        for v in &r.battery_soc {
            let i = (((v - min) / (max - min)) * n as f64) as usize;
            counts[i.min(n - 1)] += 1.0;
        }
        for (i, c) in counts.into_iter().enumerate() {
            let a = min + (max - min) * i as f64 / n as f64;
            soc_bins.push((format!("{:.3}%", 100.0 * a), c));
        }
    }
    let battery = charts::bars(
        "Battery charge left at the end",
        "state of charge",
        "collars",
        &soc_bins,
    );
    let pt = |p: &(f64, f64)| MapPoint {
        east_m: p.0,
        north_m: p.1,
    };
    let flagged: Vec<(&str, Vec<MapPoint>)> = r
        .flagged
        .iter()
        .map(|(name, v)| (name.as_str(), v.iter().map(pt).collect()))
        .collect();
    let shown = if r.positions.len() as u64 >= r.positions_of {
        format!("all {} cows", thousands(r.positions_of))
    } else {
        format!(
            "{} of {} cows, every {}th",
            thousands(r.positions.len() as u64),
            thousands(r.positions_of),
            r.positions_of.div_ceil(r.positions.len().max(1) as u64)
        )
    };
    let map = charts::map(
        &format!("The herd at the end: flagged cows ({shown})"),
        &r.map_outline.iter().map(pt).collect::<Vec<_>>(),
        &r.positions.iter().map(pt).collect::<Vec<_>>(),
        &r.cut_off.iter().map(pt).collect::<Vec<_>>(),
        &flagged,
    );
    let mut extra = String::new();
    for (_, rep) in &r.reports {
        for c in &rep.charts {
            let svg = match &c.body {
                ChartBody::Lines(series) => {
                    let v: Vec<(&str, Vec<(f64, f64)>)> = series
                        .iter()
                        .map(|(n, p)| (n.as_str(), p.clone()))
                        .collect();
                    // Charts over hours share the run's fault windows.
                    if c.x_label.starts_with("hour") {
                        charts::lines_over(&c.title, &c.x_label, &c.y_label, &v, &faults)
                    } else {
                        charts::lines(&c.title, &c.x_label, &c.y_label, &v)
                    }
                }
                ChartBody::Bars(bins) => charts::bars(&c.title, &c.x_label, &c.y_label, bins),
                ChartBody::Map(layers) => charts::site_map(&c.title, layers),
            };
            let _ = writeln!(extra, "<div>{svg}</div>");
        }
    }
    let herd_only = |svg: String, shown: bool| {
        if shown {
            format!("<div>{svg}</div>\n")
        } else {
            String::new()
        }
    };
    let battery = herd_only(battery, !r.battery_soc.is_empty());
    let map = herd_only(map, !r.map_outline.is_empty());
    let timeline = herd_only(timeline, !r.timeline.is_empty());
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fleetsim: {} seed {}</title>\n<style>\nbody{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}\ntable{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ccc;padding:.25em .6em}}\n.charts{{display:flex;flex-wrap:wrap;gap:12px}}.charts>div{{border:1px solid #eee}}\npre{{background:#f6f6f6;padding:.6em;overflow:auto}}\n</style></head><body>\n",
        escape(&s.scenario),
        s.seed
    );
    h.push_str(&markdown_to_html(&md));
    let _ = write!(
        h,
        "<h2>Charts</h2>\n<div class=\"charts\">\n<div>{msgs}</div>\n<div>{latency}</div>\n<div>{hub}</div>\n<div>{throttled}</div>\n<div>{connected}</div>\n{extra}{battery}{map}{timeline}</div>\n</body></html>\n"
    );
    h
}

/// A page of `md` (the subset [`markdown`] writes) with the reports' style.
pub fn standalone_html(title: &str, md: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>\nbody{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}\ntable{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ccc;padding:.25em .6em}}\n</style></head><body>\n{}</body></html>\n",
        escape(title),
        markdown_to_html(md)
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders the subset of Markdown `markdown` writes: headings, paragraphs, tables, code.
fn markdown_to_html(md: &str) -> String {
    let mut out = String::new();
    let mut in_table = false;
    let mut in_code = false;
    let mut in_list = false;
    for line in md.lines() {
        if in_list && !line.starts_with("- ") {
            out.push_str("</ul>\n");
            in_list = false;
        }
        if let Some(item) = line.strip_prefix("- ") {
            if !in_list {
                out.push_str("<ul>\n");
                in_list = true;
            }
            let _ = writeln!(out, "<li>{}</li>", inline(item));
            continue;
        }
        if line.starts_with("```") {
            out.push_str(if in_code { "</pre>\n" } else { "<pre>" });
            in_code = !in_code;
            continue;
        }
        if in_code {
            out.push_str(&escape(line));
            out.push('\n');
            continue;
        }
        if line.starts_with('|') {
            if line.starts_with("|---") || line.starts_with("|:--") {
                continue;
            }
            if !in_table {
                out.push_str("<table>\n");
                in_table = true;
            }
            out.push_str("<tr>");
            for cell in line.trim_matches('|').split('|') {
                let _ = write!(out, "<td>{}</td>", inline(cell.trim()));
            }
            out.push_str("</tr>\n");
            continue;
        }
        if in_table {
            out.push_str("</table>\n");
            in_table = false;
        }
        if let Some(t) = line.strip_prefix("### ") {
            let _ = writeln!(out, "<h3>{}</h3>", inline(t));
        } else if let Some(t) = line.strip_prefix("## ") {
            let _ = writeln!(out, "<h2>{}</h2>", inline(t));
        } else if let Some(t) = line.strip_prefix("# ") {
            let _ = writeln!(out, "<h1>{}</h1>", inline(t));
        } else if !line.trim().is_empty() {
            let _ = writeln!(out, "<p>{}</p>", inline(line));
        }
    }
    if in_table {
        out.push_str("</table>\n");
    }
    if in_list {
        out.push_str("</ul>\n");
    }
    out
}

/// `**bold**`, `*italic*` and `` `code` `` within a line.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut bold = false;
    let mut italic = false;
    let mut code = false;
    let e = escape(s);
    let mut chars = e.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                out.push_str(if bold { "</b>" } else { "<b>" });
                bold = !bold;
            }
            '*' if !code => {
                out.push_str(if italic { "</i>" } else { "<i>" });
                italic = !italic;
            }
            '`' => {
                out.push_str(if code { "</code>" } else { "<code>" });
                code = !code;
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_tables_and_emphasis_become_html() {
        let h = markdown_to_html(
            "# T\n\n| a | **b** |\n|---|---|\n| 1 | `x` |\n\n*Note.* text\n- one\n- `two`\n\nend",
        );
        assert_eq!(
            h,
            "<h1>T</h1>\n<table>\n<tr><td>a</td><td><b>b</b></td></tr>\n<tr><td>1</td><td><code>x</code></td></tr>\n</table>\n<p><i>Note.</i> text</p>\n<ul>\n<li>one</li>\n<li><code>two</code></li>\n</ul>\n<p>end</p>\n"
        );
    }

    #[test]
    fn alerts_raised_while_the_back_end_drains_after_the_end_are_called_out() {
        let mut o = scenarios::bundled::run_bundled("herd", &["devices=50", "hours=1"]);
        let plain = markdown(&o.summary_core, &o.report, "");
        assert!(!plain.contains("after the run's end"), "{plain}");
        o.summary_core.alerts.raised = 5;
        o.summary_core.alerts.raised_after_end = 3;
        let md = markdown(&o.summary_core, &o.report, "");
        assert!(
            md.contains("5 alerts raised, 3 of them after the run's end"),
            "{md}"
        );
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }
}
