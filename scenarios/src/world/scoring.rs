//! The end of a run: the invariants (every acknowledged reading stored exactly once, the
//! accounting balances, no device on two hubs, and the scenario's own over the rules and the
//! ground truth), the rules' scores against the classes' ground truth, the summary and the
//! report's data.

use super::{convergence, verdicts, InvariantSpec, SolutionWorld};
use crate::summary::{self, grouped, Count, Invariant, RuleScore, Summary};
use analytics::{Score, TruthEpisode};
use hardware::battery::EnergyUse;
use sim::{SimDuration, SimTime};
use store::DeviceIndex;

/// Data for the report's charts (the summary holds the figures).
#[derive(Clone, Debug, Default)]
pub struct ReportData {
    /// Seconds between samples of `series`.
    pub sample_interval_s: f64,
    /// Sampled metrics by name (cumulative counters, gauges).
    pub series: Vec<(String, Vec<f64>)>,
    /// End-to-end latency histogram: (upper bound in ms, readings).
    pub latency_buckets_ms: Vec<(f64, u64)>,
    /// Battery state of charge at the end, one value per device (a sample of at most 20,000).
    pub battery_soc: Vec<f64>,
    /// The stored class's map outline and its devices' true positions at the end (a sample
    /// of at most 5,000), in metres.
    pub map_outline: Vec<(f64, f64)>,
    pub positions: Vec<(f64, f64)>,
    /// How many devices the map's class has (`positions` is a sample of them).
    pub positions_of: u64,
    /// Positions at the end of the devices (of the map's class) a tower outage cut off at
    /// some point (at most 5,000).
    pub cut_off: Vec<(f64, f64)>,
    /// Flagged devices at the end by rule: (rule, positions).
    pub flagged: Vec<(String, Vec<(f64, f64)>)>,
    /// The configuration as run, after defaults and overrides, one line per part.
    pub configuration: Vec<String>,
    /// The fault plan's windows, for the timelines.
    pub faults: Vec<super::as_run::FaultWindow>,
    /// Episodes and alerts of up to 40 devices, for the timeline.
    pub timeline: Vec<TimelineEntry>,
    /// The dashboard as text, first rows.
    pub dashboard: String,
    /// Every class's and app's own figures and series, by name.
    pub reports: Vec<(String, crate::class::ClassReport)>,
}

/// One device's true episode and the alerts of the rule that should detect it.
#[derive(Clone, Debug)]
pub struct TimelineEntry {
    pub device: u32,
    /// The device's id (`cow-0000117`).
    pub id: String,
    pub kind: String,
    /// The episode, in hours from the start.
    pub episode_h: (f64, f64),
    /// Alert times in hours, and whether each fell within the episode (plus grace).
    pub alerts_h: Vec<(f64, bool)>,
}

/// The stored class's ground truth, as the rule engine scores it.
fn truth_of(w: &SolutionWorld, end: SimTime) -> Vec<TruthEpisode> {
    w.fleet
        .class(w.backend.class())
        .truth(end)
        .into_iter()
        .map(|e| TruthEpisode {
            kind: e.kind,
            device: DeviceIndex(e.device),
            start: e.start,
            end: e.end,
        })
        .collect()
}

/// Checks the invariants, scores the rules and gathers the summary and the report's data.
pub(crate) fn finish(
    w: &mut SolutionWorld,
    end: SimTime,
    events: u64,
    trace: String,
) -> super::Outcome {
    let truth = truth_of(w, end);
    let scores = w.backend.engine.score(&truth, w.cfg.score_grace);
    w.service.close();
    let reports = verdicts::reports(w, &truth, end);
    let mut summary_core = summary_of(w, end, events, trace, &scores, Vec::new());
    summary_core.commands = verdicts::commands(w);
    summary_core.notifications = verdicts::notifications(w, &truth, &scores);
    summary_core.figures = verdicts::figures(&reports);
    // The states_converged invariants first: their figures join the summary's, where a
    // `figure` invariant may judge them.
    let mut converged = Vec::new();
    let mut converged_figures = Vec::new();
    let mut converged_bars = Vec::new();
    for spec in &w.cfg.invariants {
        if let InvariantSpec::StatesConverged {
            class,
            app,
            after,
            window,
            min,
        } = spec
        {
            let spec = convergence::Spec {
                class: *class,
                app,
                after: *after,
                window: *window,
                min: *min,
            };
            let (invariant, figures, bars) = convergence::judge(w, &spec, end);
            converged_figures.extend(figures);
            converged_bars.push((app.clone(), bars));
            converged.push(invariant);
        }
    }
    summary_core
        .figures
        .extend(converged_figures.iter().cloned());
    let mut converged = converged.into_iter();
    let mut invariants = fleet_invariants(w);
    for spec in &w.cfg.invariants {
        if let InvariantSpec::StatesConverged { .. } = spec {
            invariants.extend(converged.next());
            continue;
        }
        invariants.push(
            verdicts::judge(spec, &summary_core, &scores, w)
                .unwrap_or_else(|| scenario_invariant(w, spec, &truth, &scores, end)),
        );
    }
    summary_core.invariants = invariants;
    let mut report = report_of(w, &truth, end);
    report.reports = reports;
    // The convergence counts show beside the app's own figures, and as a chart.
    for f in converged_figures {
        if let Some((_, r)) = report.reports.iter_mut().find(|(of, _)| *of == f.of) {
            r.figures.push((f.name, f.value));
        }
    }
    for (of, bars) in converged_bars {
        if let Some((_, r)) = report.reports.iter_mut().find(|(name, _)| *name == of) {
            r.charts.push(crate::class::Chart::bars(
                "Devices whose state the app believed rightly, after each heal and at the end",
                "judged at (hours from the start)",
                "devices",
                bars,
            ));
        }
    }
    for i in summary_core.invariants.iter_mut().filter(|i| i.passed) {
        i.devices.clear();
    }
    summary_core.trace_hash = fold_figures(&summary_core);
    let story = w.take_story(&truth, &scores, end);
    super::Outcome {
        summary_core,
        report,
        story,
    }
}

/// The id of the stored class's device `local`.
fn device_id(w: &SolutionWorld, local: u32) -> String {
    w.cfg.classes[w.backend.class()].ids.format(local)
}

/// The distinct devices of `episodes`, in order, at most [`Invariant::DEVICES_NAMED`].
fn named<'a>(w: &SolutionWorld, episodes: impl Iterator<Item = &'a TruthEpisode>) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for e in episodes {
        let id = device_id(w, e.device.0);
        if !ids.contains(&id) {
            ids.push(id);
            if ids.len() == Invariant::DEVICES_NAMED {
                break;
            }
        }
    }
    ids
}

/// The id of global device `g`.
fn global_id(w: &SolutionWorld, g: u32) -> String {
    let (c, local) = w.fleet.locate(g);
    w.cfg.classes[c].ids.format(local)
}

/// The invariants every run is held to, whatever its scenario says.
fn fleet_invariants(w: &SolutionWorld) -> Vec<Invariant> {
    let c = w.acct.counts;
    let mut invariants = Vec::new();
    // 1. Every acknowledged reading is stored, and stored once.
    let (acked_not_stored, example) = w.acct.acked_bits.missing_from(&w.acct.stored_bits);
    let st = w.backend.stats();
    let missed: u64 = w.backend.consumers.iter().map(|c| c.missed).sum();
    let losses = if missed + st.stale_dropped + st.aged_out_dropped > 0 {
        format!(
            "; back-end losses: {missed} evicted from the hub endpoint before being read, {} too late for de-duplication, {} aged out",
            st.stale_dropped, st.aged_out_dropped
        )
    } else {
        String::new()
    };
    invariants.push(Invariant {
        devices: example.iter().map(|(g, _)| global_id(w, *g)).collect(),
        name: "every acknowledged reading is stored exactly once".into(),
        passed: acked_not_stored == 0 && c.store_duplicates == 0,
        detail: match example {
            Some((g, seq)) => format!(
                "{} acknowledged readings not stored (first: {} seq {seq}); {} stored twice",
                grouped(acked_not_stored),
                global_id(w, g),
                grouped(c.store_duplicates)
            ),
            None => format!(
                "{} acknowledged, {} stored, {} duplicates dropped by the store, {} stored twice",
                grouped(c.acked),
                grouped(c.stored),
                grouped(st.duplicates_dropped),
                grouped(c.store_duplicates)
            ),
        } + &losses,
    });

    // 2. sent = acknowledged + lost + in flight.
    let in_flight = w.fleet.buffered();
    let lost = c.dropped_overflow + c.dropped_reboot;
    let balanced = c.sampled == c.acked + lost + in_flight;
    invariants.push(Invariant {
        devices: Vec::new(),
        name: "sent = acknowledged + lost + in flight at the end".into(),
        passed: balanced,
        detail: format!(
            "sent {} = acknowledged {} + lost {} (buffer overflow {}, reboot {}) + in flight {}{}",
            grouped(c.sampled),
            grouped(c.acked),
            grouped(lost),
            grouped(c.dropped_overflow),
            grouped(c.dropped_reboot),
            grouped(in_flight),
            if balanced { "" } else { " does NOT balance" }
        ),
    });

    // 3. No device is registered on two hubs.
    let mut doubles = 0u64;
    for g in 0..w.fleet.len() {
        let id = global_id(w, g);
        let on = w
            .cloud
            .hubs
            .iter()
            .filter(|h| h.device(&id).is_some())
            .count();
        if on > 1 {
            doubles += 1;
        }
    }
    invariants.push(Invariant {
        devices: Vec::new(),
        name: "no device is registered on two hubs".into(),
        passed: doubles == 0,
        detail: format!("{doubles} devices on more than one hub"),
    });
    invariants
}

/// The truth kind a rule is scored against, from its score.
fn unscored(name: String, rule: &str) -> Invariant {
    Invariant {
        devices: Vec::new(),
        name,
        passed: false,
        detail: format!("rule `{rule}` has no truth kind to be scored against"),
    }
}

fn scenario_invariant(
    w: &SolutionWorld,
    spec: &InvariantSpec,
    truth: &[TruthEpisode],
    scores: &[Score],
    end: SimTime,
) -> Invariant {
    let score_of = |rule: &str| scores.iter().find(|s| s.rule == rule);
    match spec {
        InvariantSpec::Recall { rule, min, min_age } => {
            let name = format!("{rule} recall >= {min}");
            let Some(f) = score_of(rule) else {
                return unscored(name, rule);
            };
            recall_invariant(w, name, f, *min, *min_age, truth, end)
        }
        InvariantSpec::NoAlertWithoutEpisode { rule } => {
            let name = format!("no {rule} alert for a device that never had one");
            let Some(f) = score_of(rule) else {
                return unscored(name, rule);
            };
            let mut had = vec![false; w.backend.engine_devices()];
            for e in truth.iter().filter(|e| e.kind == f.truth) {
                if let Some(h) = had.get_mut(e.device.0 as usize) {
                    *h = true;
                }
            }
            let healthy = |d: &DeviceIndex| !had.get(d.0 as usize).copied().unwrap_or(false);
            let count = f.false_alerts.iter().filter(|(d, _)| healthy(d)).count();
            Invariant {
                devices: f
                    .false_alerts
                    .iter()
                    .filter(|(d, _)| healthy(d))
                    .map(|(d, _)| device_id(w, d.0))
                    .take(Invariant::DEVICES_NAMED)
                    .collect(),
                name,
                passed: count == 0,
                detail: match f.false_alerts.iter().find(|(d, _)| healthy(d)) {
                    Some((d, t)) => {
                        format!("{count} alerts, first {} at {t}", device_id(w, d.0))
                    }
                    None => "none".into(),
                },
            }
        }
        InvariantSpec::FlaggedBeforeEnd { rule } => match score_of(rule) {
            None => unscored(
                format!("every episode of rule {rule}'s truth is flagged before it ends"),
                rule,
            ),
            Some(s) => flagged_before_end(w, s, truth, end),
        },
        other => unreachable!("{other:?} is judged by verdicts::judge"),
    }
}

fn recall_invariant(
    w: &SolutionWorld,
    name: String,
    f: &Score,
    min: f64,
    min_age: SimDuration,
    truth: &[TruthEpisode],
    end: SimTime,
) -> Invariant {
    let judged_until = end.saturating_since(SimTime::ZERO + min_age);
    let old_enough = |e: &TruthEpisode| e.start.as_nanos() <= judged_until.as_nanos();
    let judged = truth
        .iter()
        .filter(|e| e.kind == f.truth && old_enough(e))
        .count();
    let missed: Vec<&TruthEpisode> = f.missed.iter().filter(|e| old_enough(e)).collect();
    let recall = if judged == 0 {
        1.0
    } else {
        1.0 - missed.len() as f64 / judged as f64
    };
    Invariant {
        devices: named(w, missed.iter().copied()),
        name,
        passed: recall >= min,
        detail: format!(
            "recall {:.4} over {} episodes that began at least {} before the end ({} missed{}); {} younger episodes not judged",
            recall,
            judged,
            min_age.human(),
            missed.len(),
            missed
                .first()
                .map(|e| format!(", first {} from {}", device_id(w, e.device.0), e.start))
                .unwrap_or_default(),
            f.episodes.saturating_sub(judged)
        ),
    }
}

fn flagged_before_end(
    w: &SolutionWorld,
    s: &Score,
    truth: &[TruthEpisode],
    end: SimTime,
) -> Invariant {
    let engine = &w.backend.engine;
    // Episodes that end within the run must be flagged before they end.
    let ended: Vec<&TruthEpisode> = truth
        .iter()
        .filter(|e| e.kind == s.truth && e.end < end)
        .collect();
    let rule_id = engine.rule_id(&s.rule);
    let alerts_of = |d: DeviceIndex| {
        engine
            .alerts()
            .iter()
            .filter(move |a| a.device == d && rule_id == Some(a.rule))
    };
    let missed: Vec<&&TruthEpisode> = ended
        .iter()
        .filter(|e| !alerts_of(e.device).any(|a| a.raised_at >= e.start && a.raised_at <= e.end))
        .collect();
    let first_missed = missed.first().map(|e| {
        let alerts: Vec<String> = alerts_of(e.device)
            .map(|a| a.raised_at.to_string())
            .collect();
        format!(
            "; first missed: {} {} {} to {}, its {} alerts: [{}]",
            device_id(w, e.device.0),
            s.truth,
            e.start,
            e.end,
            s.rule,
            alerts.join(", ")
        )
    });
    Invariant {
        devices: named(w, missed.iter().copied().copied()),
        name: format!("every {} episode is flagged before it ends", s.truth),
        passed: missed.is_empty(),
        detail: format!(
            "{} of {} episodes that ended within the run flagged in time; {} episodes in all, recall {:.3}{}",
            ended.len() - missed.len(),
            ended.len(),
            s.episodes,
            s.recall.unwrap_or(1.0),
            first_missed.unwrap_or_default()
        ),
    }
}

/// Every device's battery at `now`, over the classes that have one.
fn batteries(w: &SolutionWorld, now: SimTime) -> Vec<crate::class::BatteryState> {
    (0..w.fleet.class_count())
        .flat_map(|c| {
            let class = w.fleet.class(c);
            (0..class.len()).filter_map(move |i| class.battery(i, now))
        })
        .collect()
}

fn summary_of(
    w: &SolutionWorld,
    end: SimTime,
    events: u64,
    trace: String,
    scores: &[Score],
    invariants: Vec<Invariant>,
) -> Summary {
    let c = w.acct.counts;
    let e2e = w
        .acct
        .metrics
        .histogram_by_name("telemetry.e2e_latency_ms")
        .expect("registered");
    let lat = sim::metrics::summarise(e2e);
    let (mut hub_throttled, mut d2c_throttled, mut quota_rejections) = (0, 0, 0);
    for h in &w.cloud.hubs {
        let hc = h.counters();
        hub_throttled += hc.d2c_throttled + hc.connects_throttled + hc.twin_throttled;
        d2c_throttled += hc.d2c_throttled;
        quota_rejections += hc.d2c_quota_exceeded;
    }
    // A gateway's losses are listed only in scenarios that have gateways.
    let gateway_lost = w.edge.lost;
    let mut lost_by_reason = vec![
        Count {
            name: "buffer_overflow".into(),
            count: c.dropped_overflow,
        },
        Count {
            name: "reboot".into(),
            count: c.dropped_reboot,
        },
    ];
    if !w.edge.classes.is_empty() {
        for (reason, n) in super::edge::LOSS_REASONS.iter().zip(gateway_lost) {
            lost_by_reason.push(Count {
                name: reason.as_str().into(),
                count: n,
            });
        }
    }
    let batteries = batteries(w, end);
    let mut socs: Vec<f64> = batteries.iter().map(|b| b.charge_ratio).collect();
    let mut lives: Vec<f64> = batteries
        .iter()
        .filter_map(|b| b.projected_life_s)
        .collect();
    socs.sort_by(f64::total_cmp);
    lives.sort_by(f64::total_cmp);
    let mean_j = |use_: EnergyUse| {
        let total_uj = batteries
            .iter()
            .map(|b| b.energy.get(use_))
            .fold(0u64, u64::saturating_add);
        total_uj as f64 / 1e6 / batteries.len().max(1) as f64
    };
    let median = |v: &[f64]| if v.is_empty() { 0.0 } else { v[v.len() / 2] };
    let rules = scores
        .iter()
        .map(|s| RuleScore {
            rule: s.rule.clone(),
            raised: s.alerts as u64,
            true_episodes: s.episodes as u64,
            precision: s.precision,
            recall: s.recall.unwrap_or(1.0),
            latency_s_p50: s.latency_p50.map(|d| d.as_secs_f64()),
            latency_s_p99: s.latency_p99.map(|d| d.as_secs_f64()),
            latency_s_max: s.latency_max.map(|d| d.as_secs_f64()),
        })
        .collect();
    let hub0 = &w.cfg.hubs[0];
    let alerts = w.backend.engine.alerts();
    Summary {
        scenario: String::new(),
        seed: w.cfg.seed,
        overrides: Vec::new(),
        devices: u64::from(w.fleet.len()),
        simulated_seconds: end.as_secs_f64(),
        events,
        wall_seconds: 0.0,
        peak_rss_bytes: 0,
        trace_hash: trace,
        telemetry: summary::Telemetry {
            sent: c.sampled,
            acknowledged: c.acked,
            delivered: c.delivered,
            stored: c.stored,
            lost: c.dropped_overflow + c.dropped_reboot,
            lost_by_reason,
            duplicates_dropped: w.backend.stats().duplicates_dropped,
            throttled: d2c_throttled,
            in_flight_at_end: w.fleet.buffered(),
            lost_at_gateways: gateway_lost.iter().sum(),
            held_at_gateways_at_end: w.edge.held_at_end,
        },
        latency_ms: summary::Latency {
            p50: lat.p50 as f64,
            p99: lat.p99 as f64,
            max: lat.max as f64,
        },
        latency_stages: latency_stages(w),
        hub: summary::Hub {
            tier: format!("{:?}", hub0.tier),
            units: hub0.units,
            quota_used_ratio: w.acct.peak_quota_ratio,
            throttled_requests: hub_throttled,
            quota_rejections,
        },
        alerts: summary::Alerts {
            raised: alerts.len() as u64,
            raised_after_end: alerts.iter().filter(|a| a.raised_at > end).count() as u64,
            rules,
        },
        hubs: w
            .cloud
            .hubs
            .iter()
            .map(|h| {
                let c = h.counters();
                summary::HubRow {
                    name: h.name().to_string(),
                    devices: h.device_count() as u64,
                    connected_at_end: h.connected_count() as u64,
                    connects_accepted: c.connects_accepted,
                    connects_delayed: c.connects_delayed,
                    connects_throttled: c.connects_throttled,
                    d2c_delayed: c.d2c_delayed,
                    d2c_throttled: c.d2c_throttled,
                }
            })
            .collect(),
        dps: {
            let d = w.cloud.dps.counters();
            summary::Dps {
                registrations_accepted: d.registrations_accepted,
                registrations_throttled: d.registrations_throttled,
                polls: d.polls,
                polls_throttled: d.polls_throttled,
                assigned: d.assigned,
                preprovisioned: d.preprovisioned,
            }
        },
        commands: summary::Commands::default(),
        notifications: Vec::new(),
        figures: Vec::new(),
        models: w.backend.templates.rows(&w.cfg),
        battery: summary::Battery {
            charge_ratio_min: socs.first().copied().unwrap_or(0.0),
            charge_ratio_p50: median(&socs),
            projected_life_days_p50: median(&lives) / 86_400.0,
            energy_j_mean: summary::EnergyByUse {
                sleep: mean_j(EnergyUse::Sleep),
                sample: mean_j(EnergyUse::Sample),
                fix: mean_j(EnergyUse::Fix),
                radio: mean_j(EnergyUse::Radio),
            },
        },
        invariants,
        cost: cost_of(w, end),
        provenance: summary::Provenance::default(),
    }
}

/// The trace hash with every figure of the summary folded in (FNV-1a over its JSON, from
/// the kernel's hash): two runs that report anything different (battery life, quota, a
/// rule's recall) have different hashes, even where their event traces agree. What the
/// harness adds (names, wall time, memory, provenance) is not in the summary yet.
fn fold_figures(s: &Summary) -> String {
    let kernel = u64::from_str_radix(&s.trace_hash, 16).unwrap_or(0);
    let figures = Summary {
        trace_hash: String::new(),
        ..s.clone()
    };
    let json = serde_json::to_vec(&figures).expect("plain data");
    let mut h = kernel ^ 0xcbf2_9ce4_8422_2325;
    for b in json {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The month's cost at list prices of what the run used.
fn cost_of(w: &SolutionWorld, end: SimTime) -> crate::cost::Cost {
    let hubs: Vec<crate::cost::HubUse> = w
        .cloud
        .hubs
        .iter()
        .map(|h| crate::cost::HubUse {
            tier: h.config().tier,
            units: h.config().units,
            messages_metered: h.counters().messages_metered,
        })
        .collect();
    let d = w.cloud.dps.counters();
    crate::cost::cost(
        &hubs,
        d.registrations_accepted + d.polls,
        w.backend.stats().bytes_received,
        end.as_secs_f64(),
        u64::from(w.fleet.len()),
    )
}

/// Sample → published, → enqueued at the hub, → read by the back end, → queryable.
fn latency_stages(w: &SolutionWorld) -> Vec<summary::LatencyStage> {
    [
        ("latency.sample_to_publish_ms", "published"),
        ("latency.sample_to_hub_ms", "enqueued"),
        ("latency.sample_to_read_ms", "read"),
        ("telemetry.e2e_latency_ms", "queryable"),
    ]
    .iter()
    .map(|(name, stage)| {
        let h = w.acct.metrics.histogram_by_name(name).expect("registered");
        let l = sim::metrics::summarise(h);
        summary::LatencyStage {
            stage: (*stage).to_string(),
            p50: l.p50 as f64,
            p99: l.p99 as f64,
            max: l.max as f64,
        }
    })
    .collect()
}

fn report_of(w: &SolutionWorld, truth: &[TruthEpisode], end: SimTime) -> ReportData {
    let e2e = w
        .acct
        .metrics
        .histogram_by_name("telemetry.e2e_latency_ms")
        .expect("registered");
    let mut report = ReportData {
        sample_interval_s: w.cfg.sample_interval.as_secs_f64(),
        series: w
            .acct
            .metrics
            .all_series()
            .iter()
            .map(|s| (s.name.clone(), s.values.clone()))
            .collect(),
        ..ReportData::default()
    };
    for v in e2e.iter_log(100, 2.0) {
        report
            .latency_buckets_ms
            .push((v.value_iterated_to() as f64, v.count_since_last_iteration()));
    }
    let mut socs: Vec<f64> = batteries(w, end).iter().map(|b| b.charge_ratio).collect();
    socs.sort_by(f64::total_cmp);
    let stride = (socs.len() / 20_000).max(1);
    report.battery_soc = socs.iter().step_by(stride).copied().collect();
    let class = w.fleet.class(w.backend.class());
    report.map_outline = class.map_outline();
    let map_stride = (class.len() as usize / 5_000).max(1);
    report.positions = (0..class.len())
        .step_by(map_stride)
        .filter_map(|i| class.position(i))
        .collect();
    report.positions_of = u64::from(class.len());
    if !report.map_outline.is_empty() {
        let base = w.fleet.base(w.backend.class());
        let cut: Vec<u32> = super::as_run::cut_off(&w.plan)
            .into_iter()
            .filter(|g| *g >= base && *g - base < class.len())
            .collect();
        let stride = (cut.len() / 5_000).max(1);
        report.cut_off = cut
            .iter()
            .step_by(stride)
            .filter_map(|g| class.position(g - base))
            .collect();
    }
    report.configuration = super::as_run::configuration(&w.cfg);
    report.faults = super::as_run::fault_windows(&w.cfg);
    let engine = &w.backend.engine;
    for rule in engine.rule_names() {
        let id = engine.rule_id(&rule);
        let pts: Vec<(f64, f64)> = engine
            .dashboard()
            .open_alerts()
            .filter(|a| Some(a.rule) == id)
            .filter_map(|a| class.position(a.device.0))
            .collect();
        report.flagged.push((rule, pts));
    }
    let hours = |t: SimTime| t.as_secs_f64() / 3_600.0;
    // Up to 20 episodes of each truth kind a rule is scored against, in the rules' order.
    let mut kinds: Vec<(String, String)> = Vec::new();
    for s in engine.score(&[], w.cfg.score_grace) {
        if !kinds.iter().any(|(k, _)| *k == s.truth) {
            kinds.push((s.truth.clone(), s.rule.clone()));
        }
    }
    for (kind, rule) in &kinds {
        let id = engine.rule_id(rule);
        for e in truth.iter().filter(|e| &e.kind == kind).take(20) {
            let alerts = engine
                .alerts()
                .iter()
                .filter(|a| a.device == e.device && Some(a.rule) == id)
                .map(|a| {
                    (
                        hours(a.raised_at),
                        a.raised_at >= e.start && a.raised_at <= e.end + w.cfg.score_grace,
                    )
                })
                .collect();
            report.timeline.push(TimelineEntry {
                device: e.device.0,
                id: w.cfg.classes[w.backend.class()].ids.format(e.device.0),
                kind: e.kind.clone(),
                episode_h: (hours(e.start), hours(e.end)),
                alerts_h: alerts,
            });
        }
    }
    let ids = &w.cfg.classes[w.backend.class()].ids;
    report.dashboard = engine.render_dashboard_named(20, &|d| ids.format(d.0));
    report
}
