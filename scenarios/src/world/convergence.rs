//! The `states_converged` invariant: a scored comparison between what a class knows truly
//! happened to its devices ([`DeviceClass::states`]) and what an app came to believe
//! ([`App::believed_states`]), neither of which can see the other.
//!
//! It is judged at fixed moments: `after` each `[[faults.outages]]` entry heals, `after` the
//! devices of each `[[faults.crashes]]` entry (of the class, or of every class) restart, and
//! at the end of the run. At a moment `J`, device `d` has converged when the app's last
//! belief about it at or before `J` is a state `d` truly had at `J`, or at any time within
//! `window` before `J` (a change that young may still be on its way: the normal delivery
//! latency). A device the app holds no belief about has not converged. The invariant holds
//! when at least `min` of the devices converged at every moment; each moment's count is a
//! figure of the app (`converged_after_heal_<n>`, `converged_at_end`) in `summary.json`, and a
//! bar chart in the app's section of the report.
//!
//! [`DeviceClass::states`]: crate::class::DeviceClass::states
//! [`App::believed_states`]: crate::app::App::believed_states

use super::SolutionWorld;
use crate::class::StateChange;
use crate::summary::{Figure, Invariant};
use sim::{SimDuration, SimTime};

/// One invariant's spec, as [`super::InvariantSpec::StatesConverged`] holds it.
pub(crate) struct Spec<'a> {
    pub class: usize,
    pub app: &'a str,
    pub after: SimDuration,
    pub window: SimDuration,
    pub min: f64,
}

/// Each device's changes, `(at, state)` in time order.
fn by_device(changes: Vec<StateChange>, devices: u32) -> Vec<Vec<(SimTime, u64)>> {
    let mut out = vec![Vec::new(); devices as usize];
    let mut changes = changes;
    changes.sort_by_key(|c| (c.device, c.at));
    for c in changes {
        if let Some(v) = out.get_mut(c.device as usize) {
            v.push((c.at, c.state));
        }
    }
    out
}

/// The moments judged: each heal plus `after`, then the end, in time order (a heal whose
/// moment falls after the end is judged at the end only).
fn moments(w: &SolutionWorld, class: usize, after: SimDuration, end: SimTime) -> Vec<SimTime> {
    let mut heals: Vec<SimTime> = w
        .cfg
        .network
        .outages
        .iter()
        .map(|o| o.start.saturating_add(o.duration))
        .chain(
            w.cfg
                .crashes
                .iter()
                .filter(|c| c.class.is_none_or(|k| k == class))
                .map(|c| c.at.saturating_add(c.downtime)),
        )
        .map(|t| t.saturating_add(after))
        .filter(|t| *t < end)
        .collect();
    heals.sort();
    heals.dedup();
    heals
}

/// The last state at or before `t`.
fn state_at(changes: &[(SimTime, u64)], t: SimTime) -> Option<u64> {
    let n = changes.partition_point(|(at, _)| *at <= t);
    n.checked_sub(1).map(|i| changes[i].1)
}

/// Whether `believed` is a state the device truly had within `[from, to]`.
fn truly_had(truth: &[(SimTime, u64)], believed: u64, from: SimTime, to: SimTime) -> bool {
    state_at(truth, from) == Some(believed)
        || truth
            .iter()
            .any(|(at, s)| *at > from && *at <= to && *s == believed)
}

/// Judges the invariant; returns it, the app's figures (one per moment) and the same counts
/// labelled by the moment's hour, for the report's chart.
pub(crate) fn judge(
    w: &SolutionWorld,
    spec: &Spec<'_>,
    end: SimTime,
) -> (Invariant, Vec<Figure>, Vec<(String, f64)>) {
    let cfg = &w.cfg.classes[spec.class];
    let name = format!(
        "{} believes {}'s states for >= {} of its devices after each heal and at the end",
        spec.app, cfg.name, spec.min
    );
    let Some(a) = (0..w.service.app_count()).find(|&a| w.service.names[a] == spec.app) else {
        let detail = format!("no app {:?}", spec.app);
        return (
            Invariant {
                devices: Vec::new(),
                name,
                passed: false,
                detail,
            },
            Vec::new(),
            Vec::new(),
        );
    };
    let truth = by_device(w.fleet.class(spec.class).states(), cfg.count);
    let belief = by_device(
        w.service.app(a).believed_states(spec.class as u16),
        cfg.count,
    );
    let mut judged: Vec<(String, SimTime)> = moments(w, spec.class, spec.after, end)
        .into_iter()
        .enumerate()
        .map(|(i, t)| (format!("converged_after_heal_{}", i + 1), t))
        .collect();
    judged.push(("converged_at_end".into(), end));
    let mut passed = true;
    let mut figures = Vec::new();
    let mut bars = Vec::new();
    let mut parts = Vec::new();
    let mut first_miss = None;
    for (figure, t) in &judged {
        let from = SimTime::from_nanos(t.as_nanos().saturating_sub(spec.window.as_nanos()));
        let mut converged = 0u32;
        for d in 0..cfg.count as usize {
            let believed = state_at(&belief[d], *t);
            match believed {
                Some(b) if truly_had(&truth[d], b, from, *t) => converged += 1,
                _ => {
                    first_miss.get_or_insert_with(|| {
                        let state = |s: Option<u64>| s.map_or("nothing".into(), |v| v.to_string());
                        format!(
                            "; first miss: {} at {t} believed {}, truly {}",
                            cfg.ids.format(d as u32),
                            state(believed),
                            state(state_at(&truth[d], *t))
                        )
                    });
                }
            }
        }
        let ratio = if cfg.count == 0 {
            1.0
        } else {
            f64::from(converged) / f64::from(cfg.count)
        };
        passed &= ratio >= spec.min;
        parts.push(format!(
            "{converged}/{} at {:.3} h",
            cfg.count,
            t.as_secs_f64() / 3_600.0
        ));
        figures.push(Figure {
            of: spec.app.to_string(),
            name: figure.clone(),
            value: f64::from(converged),
        });
        bars.push((
            format!("{:.2} h", t.as_secs_f64() / 3_600.0),
            f64::from(converged),
        ));
    }
    let detail = format!(
        "{} (within {} s of a change){}",
        parts.join(", "),
        spec.window.as_secs_f64(),
        first_miss.unwrap_or_default()
    );
    (
        Invariant {
            devices: Vec::new(),
            name,
            passed,
            detail,
        },
        figures,
        bars,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_belief_is_judged_against_the_truth_at_the_moment_or_within_the_window() {
        let s = |t: u64| SimTime::from_secs(t);
        let truth = vec![(s(0), 0), (s(100), 1), (s(200), 0)];
        assert_eq!(state_at(&truth, s(150)), Some(1));
        assert_eq!(state_at(&[], s(150)), None);
        // At 210 s with a 30 s window the door was 1 until 200 s and 0 since: either holds.
        assert!(truly_had(&truth, 1, s(180), s(210)));
        assert!(truly_had(&truth, 0, s(180), s(210)));
        // At 250 s, 1 is 50 s stale.
        assert!(!truly_had(&truth, 1, s(220), s(250)));
        assert!(!truly_had(&truth, 2, s(0), s(250)));
    }
}
