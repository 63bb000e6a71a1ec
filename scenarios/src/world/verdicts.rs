//! The summary's command, notification and figure sections, and the invariants over them and
//! over latency budgets.

use super::notify::{channel_index, CHANNELS};
use super::{InvariantSpec, SolutionWorld};
use crate::class::ClassReport;
use crate::summary::{self, Count, Invariant};
use analytics::{Score, TruthEpisode};
use serde_json::Value;
use sim::SimTime;
use std::collections::BTreeMap;

/// The nearest-rank percentile of sorted values (0 when empty).
/// The `p`th percentile of `sorted` (nearest rank); `None` when there is nothing to measure.
fn percentile(sorted: &[u64], p: usize) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    Some(sorted[rank - 1] as f64)
}

/// Of class `c`'s devices whose twin has desired properties, how many report each of them
/// with the same value (twin convergence, reference §1.9), and how many have any.
pub(crate) fn twins_converged(w: &SolutionWorld, c: usize) -> (u64, u64) {
    let (mut converged, mut with_desired) = (0, 0);
    let ids = &w.cfg.classes[c].ids;
    for i in 0..w.fleet.class_len(c) {
        let g = w.fleet.base(c) + i;
        let Some(h) = w.cloud.hub_of(g) else { continue };
        let Some(twin) = w.cloud.hubs[h].twin(&ids.format(i)) else {
            continue;
        };
        let keys: Vec<(&String, &Value)> = twin
            .desired
            .iter()
            .filter(|(k, _)| !k.starts_with('$'))
            .collect();
        if keys.is_empty() {
            continue;
        }
        with_desired += 1;
        if keys.iter().all(|(k, v)| twin.reported.get(*k) == Some(*v)) {
            converged += 1;
        }
    }
    (converged, with_desired)
}

pub(crate) fn commands(w: &SolutionWorld) -> summary::Commands {
    let s = &w.service.stats;
    let mut ms = w.service.method_ms.clone();
    ms.sort_unstable();
    let (mut converged, mut with_desired) = (0, 0);
    for c in 0..w.fleet.class_count() {
        let (a, b) = twins_converged(w, c);
        converged += a;
        with_desired += b;
    }
    summary::Commands {
        methods: summary::Methods {
            sent: s.methods_sent,
            answered_ok: s.methods_ok,
            failed_by_code: s
                .methods_failed
                .iter()
                .map(|(code, n)| Count {
                    name: code.to_string(),
                    count: *n,
                })
                .collect(),
            latency_ms_p50: percentile(&ms, 50),
            latency_ms_p99: percentile(&ms, 99),
        },
        c2d: summary::C2d {
            sent: s.c2d_sent,
            completed: s.c2d_completed,
            expired: s.c2d_expired,
            accepted: s.c2d_accepted,
            failed: s.c2d_failed,
        },
        desired: summary::Desired {
            sent: s.desired_sent,
            accepted: s.desired_accepted,
            failed: s.desired_failed,
        },
        twins_converged_ratio: if with_desired == 0 {
            1.0
        } else {
            converged as f64 / with_desired as f64
        },
        open_at_end: s.open_at_end,
    }
}

/// Per channel: sent, delivered, lost, latency, and duplicates: a second notification on the
/// same channel for the same rule and device within one episode of the rule's truth.
pub(crate) fn notifications(
    w: &SolutionWorld,
    truth: &[TruthEpisode],
    scores: &[Score],
) -> Vec<summary::ChannelNotifications> {
    let rules = w.backend.engine.rule_names();
    let truth_of = |rule: u16| {
        scores
            .iter()
            .find(|s| s.rule == rules[usize::from(rule)])
            .map(|s| s.truth.as_str())
    };
    // (channel, rule, device, episode index) → notifications.
    let mut per_episode: BTreeMap<(usize, u16, u32, usize), u64> = BTreeMap::new();
    let grace = w.cfg.score_grace;
    for n in &w.notifier.sent {
        let Some(kind) = truth_of(n.rule) else {
            continue;
        };
        let episode = truth.iter().position(|e| {
            e.kind == kind
                && e.device.0 == n.device
                && n.raised_at >= e.start
                && n.raised_at <= e.end + grace
        });
        if let Some(e) = episode {
            *per_episode
                .entry((channel_index(n.channel), n.rule, n.device, e))
                .or_default() += 1;
        }
    }
    CHANNELS
        .iter()
        .map(|&ch| {
            let c = channel_index(ch);
            let sent: Vec<_> = w.notifier.sent.iter().filter(|n| n.channel == ch).collect();
            let mut lat: Vec<u64> = sent
                .iter()
                .filter_map(|n| {
                    n.delivered_at
                        .map(|d| d.saturating_since(n.raised_at).as_millis())
                })
                .collect();
            lat.sort_unstable();
            summary::ChannelNotifications {
                channel: format!("{ch:?}").to_lowercase(),
                sent: sent.len() as u64,
                delivered: lat.len() as u64,
                lost: (sent.len() - lat.len()) as u64,
                duplicates: per_episode
                    .iter()
                    .filter(|((k, ..), _)| *k == c)
                    .map(|(_, n)| n - 1)
                    .sum(),
                latency_ms_p50: percentile(&lat, 50),
                latency_ms_p99: percentile(&lat, 99),
            }
        })
        .collect()
}

/// Every class's and app's report, by name.
pub(crate) fn reports(
    w: &SolutionWorld,
    truth: &[TruthEpisode],
    end: SimTime,
) -> Vec<(String, ClassReport)> {
    let mut out: Vec<(String, ClassReport)> = (0..w.fleet.class_count())
        .map(|c| {
            let mut r = w.fleet.class(c).report(end);
            w.gateway_report(truth, &mut r, c);
            if w.transport.is_lora(c) {
                let n = w.transport.duty_deferred[c] as f64;
                r.figures.push(crate::app::figure("lora_duty_deferred", n));
            }
            (w.cfg.classes[c].name.clone(), r)
        })
        .collect();
    if w.service.app_count() == 0 {
        return out;
    }
    // Every class's episodes, for the apps that score their own alerts.
    let ground = crate::app::GroundTruth {
        classes: (0..w.fleet.class_count())
            .map(|c| (w.cfg.classes[c].name.clone(), w.fleet.class(c).truth(end)))
            .collect(),
    };
    for a in 0..w.service.app_count() {
        out.push((
            w.service.names[a].clone(),
            w.service.app(a).report_scored(end, &ground),
        ));
    }
    out
}

pub(crate) fn figures(reports: &[(String, ClassReport)]) -> Vec<summary::Figure> {
    reports
        .iter()
        .flat_map(|(of, r)| {
            r.figures.iter().map(move |(name, value)| summary::Figure {
                of: of.clone(),
                name: name.clone(),
                // An empty f64 sum is -0.0; a figure reads 0.
                value: *value + 0.0,
            })
        })
        .collect()
}

/// The invariants over commands, notifications, latency budgets and figures; `None` for the
/// kinds [`super::scoring`] judges.
pub(crate) fn judge(
    spec: &InvariantSpec,
    s: &summary::Summary,
    scores: &[Score],
    w: &SolutionWorld,
) -> Option<Invariant> {
    Some(match spec {
        InvariantSpec::AlertLatency { rule, p99_max } => {
            let score = scores.iter().find(|x| &x.rule == rule);
            let p99 = score.and_then(|x| x.latency_p99);
            Invariant {
                devices: Vec::new(),
                name: format!("{rule} alert latency p99 <= {:.0} s", p99_max.as_secs_f64()),
                passed: p99.is_none_or(|p| p <= *p99_max),
                detail: match p99 {
                    Some(p) => format!(
                        "p99 {:.0} s from episode onset over {} alerts",
                        p.as_secs_f64(),
                        score.map_or(0, |x| x.true_alerts)
                    ),
                    None => "no true alert to time".into(),
                },
            }
        }
        InvariantSpec::TelemetryLatency { p99_ms_max } => Invariant {
            devices: Vec::new(),
            name: format!("telemetry latency p99 <= {p99_ms_max} ms"),
            passed: s.latency_ms.p99 <= *p99_ms_max,
            detail: format!(
                "sample → rules: p50 {} ms, p99 {} ms, max {} ms",
                s.latency_ms.p50, s.latency_ms.p99, s.latency_ms.max
            ),
        },
        InvariantSpec::MethodsAnswered { min } => {
            let m = &s.commands.methods;
            let ratio = if m.sent == 0 {
                1.0
            } else {
                m.answered_ok as f64 / m.sent as f64
            };
            let failed: Vec<String> = m
                .failed_by_code
                .iter()
                .map(|c| format!("{} × {}", c.count, c.name))
                .collect();
            Invariant {
                devices: Vec::new(),
                name: format!("direct methods answered >= {min}"),
                passed: ratio >= *min,
                detail: format!(
                    "{} of {} answered 200 ({ratio:.4}); failed: {}",
                    m.answered_ok,
                    m.sent,
                    if failed.is_empty() {
                        "none".into()
                    } else {
                        failed.join(", ")
                    }
                ),
            }
        }
        InvariantSpec::TwinsConverged { class, min } => {
            let (converged, with) = twins_converged(w, *class);
            let ratio = if with == 0 {
                1.0
            } else {
                converged as f64 / with as f64
            };
            Invariant {
                devices: Vec::new(),
                name: format!("{} twins converged >= {min}", w.cfg.classes[*class].name),
                passed: ratio >= *min,
                detail: format!(
                    "{converged} of {with} devices with desired properties report them all at the end ({ratio:.4})"
                ),
            }
        }
        InvariantSpec::NotificationsDelivered { min } => {
            let sent: u64 = s.notifications.iter().map(|n| n.sent).sum();
            let delivered: u64 = s.notifications.iter().map(|n| n.delivered).sum();
            let ratio = if sent == 0 {
                1.0
            } else {
                delivered as f64 / sent as f64
            };
            Invariant {
                devices: Vec::new(),
                name: format!("notifications delivered >= {min}"),
                passed: ratio >= *min,
                detail: format!("{delivered} of {sent} delivered ({ratio:.4})"),
            }
        }
        InvariantSpec::Figure {
            of,
            figure,
            min,
            max,
        } => {
            let value = s
                .figures
                .iter()
                .find(|f| &f.of == of && &f.name == figure)
                .map(|f| f.value);
            Invariant {
                devices: Vec::new(),
                name: format!("{of} {figure} in [{min}, {max}]"),
                passed: value.is_some_and(|v| v >= *min && v <= *max),
                detail: match value {
                    Some(v) => format!("{v}"),
                    None => format!("{of} reports no figure {figure:?}"),
                },
            }
        }
        InvariantSpec::Recall { .. }
        | InvariantSpec::NoAlertWithoutEpisode { .. }
        | InvariantSpec::FlaggedBeforeEnd { .. }
        | InvariantSpec::StatesConverged { .. } => return None,
    })
}
