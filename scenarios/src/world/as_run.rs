//! The run as it ran, for the report: its configuration after the file's defaults and the
//! command line's overrides (a scenario's description is the file's text and goes stale
//! under `--set`), and its fault plan as windows in time for the timelines.

use super::WorldConfig;
use crate::summary::grouped;
use sim::fault::{FaultAction, FaultPlan};
use sim::SimTime;

/// A fault's window, in hours from the start (`from_h == to_h` for a step, such as a clock
/// jump).
#[derive(Clone, Debug, PartialEq)]
pub struct FaultWindow {
    /// One or two words for a chart (`outage`, `crash`, a hardware fault's name).
    pub short: String,
    pub label: String,
    pub from_h: f64,
    pub to_h: f64,
}

fn hours(t: SimTime) -> f64 {
    t.as_secs_f64() / 3_600.0
}

fn pct(r: f64) -> String {
    let p = format!("{:.2}", 100.0 * r);
    format!("{} %", p.trim_end_matches('0').trim_end_matches('.'))
}

/// `n` with thousands separators.
fn count(n: u32) -> String {
    grouped(u64::from(n))
}

/// The configuration a run used, one line per part: classes with their links, hubs, DPS,
/// store, rules' poll and the fault plan.
pub(crate) fn configuration(cfg: &WorldConfig) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!(
        "{} simulated from {}, seed {}",
        cfg.duration.human(),
        cfg.epoch.utc(SimTime::ZERO),
        cfg.seed
    ));
    for c in cfg.classes.iter().filter(|c| c.count > 0) {
        let link = &c.link;
        let bandwidth = link
            .bandwidth_bps
            .map(|b| format!(", {} kbit/s", b / 1_000))
            .unwrap_or_default();
        out.push(format!(
            "class {}: {} devices ({} to {}), radio {}, {} packet loss{bandwidth}, boot over {}, {} provisioned before the run",
            c.name,
            count(c.count),
            c.ids.format(0),
            c.ids.format(c.count - 1),
            c.radio.name,
            pct(link.loss.get()),
            c.boot_window.human(),
            pct(c.provisioned_ratio.get())
        ));
    }
    for h in &cfg.hubs {
        out.push(format!(
            "hub {}: {:?} × {} unit(s), {} partitions",
            h.name, h.tier, h.units, h.partitions
        ));
    }
    let store = &cfg.backend.store;
    out.push(format!(
        "store: queryable {} after ingestion; the back end reads the hubs' endpoints every {}",
        sim::SimDuration::from_secs(store.queryable_delay_s).human(),
        cfg.backend.poll.human()
    ));
    out.push(format!(
        "network: {} devices a cell tower",
        count(cfg.network.devices_per_tower)
    ));
    for w in fault_windows(cfg) {
        out.push(format!("fault: {}", w.label));
    }
    out
}

/// The scenario's fault plan as windows in time, in start order.
pub(crate) fn fault_windows(cfg: &WorldConfig) -> Vec<FaultWindow> {
    let mut out = Vec::new();
    let class_name = |c: Option<usize>| {
        c.map_or("every class".to_string(), |c| {
            format!("class {}", cfg.classes[c].name)
        })
    };
    for o in &cfg.network.outages {
        out.push(FaultWindow {
            short: "outage".into(),
            label: format!(
                "outage of {} tower(s) at {} for {}",
                o.towers,
                o.start,
                o.duration.human()
            ),
            from_h: hours(o.start),
            to_h: hours(o.start + o.duration),
        });
    }
    for c in &cfg.crashes {
        out.push(FaultWindow {
            short: "crash".into(),
            label: format!(
                "{} of {} crash at {}, down {}",
                pct(c.ratio.get()),
                class_name(c.class),
                c.at,
                c.downtime.human()
            ),
            from_h: hours(c.at),
            to_h: hours(c.at + c.downtime),
        });
    }
    for f in &cfg.hardware_faults {
        out.push(FaultWindow {
            short: f.fault.clone(),
            label: format!(
                "{} on {} device(s) of class {} from {} to {}",
                f.fault,
                f.devices.len(),
                cfg.classes[f.class].name,
                f.start,
                f.end
            ),
            from_h: hours(f.start),
            to_h: hours(f.end),
        });
    }
    for f in &cfg.clock_faults {
        let what = match (f.step_ns != 0, f.drift_ppm != 0.0) {
            (true, true) => format!(
                "stepped {:+.0} s, drifting {} ppm",
                f.step_ns as f64 / 1e9,
                f.drift_ppm
            ),
            (true, false) => format!("stepped {:+.0} s", f.step_ns as f64 / 1e9),
            _ => format!("drifting {} ppm", f.drift_ppm),
        };
        out.push(FaultWindow {
            short: "clock".into(),
            label: format!(
                "clocks of {} device(s) of class {} {what} at {}",
                f.devices.len(),
                cfg.classes[f.class].name,
                f.at
            ),
            from_h: hours(f.at),
            to_h: hours(f.at),
        });
    }
    for u in &cfg.uplink_faults {
        out.push(FaultWindow {
            short: "uplink down".into(),
            label: format!(
                "uplinks of {} device(s) of class {} down from {} to {}",
                u.devices.len(),
                cfg.classes[u.class].name,
                u.start,
                u.end
            ),
            from_h: hours(u.start),
            to_h: hours(u.end),
        });
    }
    out.sort_by(|a, b| a.from_h.total_cmp(&b.from_h));
    out
}

/// The devices (global indices, ascending) a tower outage cuts off at some point of the run,
/// as the world's fault plan picked them.
pub(crate) fn cut_off(plan: &FaultPlan) -> Vec<u32> {
    let mut out: Vec<u32> = plan
        .faults()
        .iter()
        .flat_map(|f| match &f.action {
            FaultAction::Partition { nodes, .. } => nodes.iter().map(|n| n.0).collect(),
            _ => Vec::new(),
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}
