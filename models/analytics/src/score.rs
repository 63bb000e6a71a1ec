//! Ground-truth scoring: how well a rule found what really happened.
//!
//! fleetsim's hardware models know which cow is febrile or stuck and when, which no real
//! deployment knows. Given those episodes, an alert of the rule for the same device
//! raised within `[start, end + grace]` detects the episode. Per rule:
//!
//! - an alert that detects a not yet detected episode is a *true* alert; one that falls
//!   in an already detected episode is a *duplicate* (one episode should raise one alert);
//!   one that falls in no episode is a *false* alert;
//! - precision = true / (true + false); recall = detected episodes / episodes;
//! - detection latency = first detecting alert's `raised_at` − episode start, summarised
//!   as nearest-rank p50, p99 and max.
//!
//! Alerts are matched in time order; an alert inside several overlapping episodes of its
//! device detects the earliest-starting undetected one.

use crate::notify::Alert;
use sim::{SimDuration, SimTime};
use store::DeviceIndex;

/// A true episode: `kind` (e.g. "fever") on `device` from `start` to `end`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TruthEpisode {
    pub kind: String,
    pub device: DeviceIndex,
    pub start: SimTime,
    pub end: SimTime,
}

/// How one rule did against its truth kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    pub rule: String,
    pub truth: String,
    pub episodes: usize,
    pub detected: usize,
    pub alerts: usize,
    pub true_alerts: usize,
    pub duplicate_alerts: usize,
    /// Alerts in no episode: (device, raised_at).
    pub false_alerts: Vec<(DeviceIndex, SimTime)>,
    /// Episodes no alert detected.
    pub missed: Vec<TruthEpisode>,
    /// `None` when the rule raised no true or false alert.
    pub precision: Option<f64>,
    /// `None` when there were no episodes.
    pub recall: Option<f64>,
    pub latency_p50: Option<SimDuration>,
    pub latency_p99: Option<SimDuration>,
    pub latency_max: Option<SimDuration>,
}

/// The nearest-rank `percent`-th percentile of sorted values.
pub fn nearest_rank(sorted: &[SimDuration], percent: u32) -> Option<SimDuration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (percent as usize * sorted.len()).div_ceil(100).max(1);
    Some(sorted[rank.min(sorted.len()) - 1])
}

/// Scores `alerts` (all of one rule) against the episodes of kind `truth`.
pub fn score_rule(
    rule: &str,
    truth: &str,
    alerts: &[Alert],
    episodes: &[TruthEpisode],
    grace: SimDuration,
) -> Score {
    let mut eps: Vec<&TruthEpisode> = episodes.iter().filter(|e| e.kind == truth).collect();
    eps.sort_by_key(|e| (e.device, e.start, e.end));
    let mut detected_at: Vec<Option<SimTime>> = vec![None; eps.len()];
    let mut sorted_alerts: Vec<&Alert> = alerts.iter().collect();
    sorted_alerts.sort_by_key(|a| (a.raised_at, a.device));
    let mut true_alerts = 0;
    let mut duplicate_alerts = 0;
    let mut false_alerts = Vec::new();
    for a in sorted_alerts {
        let lo = eps.partition_point(|e| e.device < a.device);
        let hi = eps.partition_point(|e| e.device <= a.device);
        let covering = (lo..hi).filter(|&i| {
            let e = eps[i];
            a.raised_at >= e.start && a.raised_at <= e.end.saturating_add(grace)
        });
        let mut any = false;
        let mut hit = None;
        for i in covering {
            any = true;
            if detected_at[i].is_none() {
                hit = Some(i);
                break;
            }
        }
        match (hit, any) {
            (Some(i), _) => {
                detected_at[i] = Some(a.raised_at);
                true_alerts += 1;
            }
            (None, true) => duplicate_alerts += 1,
            (None, false) => false_alerts.push((a.device, a.raised_at)),
        }
    }
    let mut latencies: Vec<SimDuration> = eps
        .iter()
        .zip(&detected_at)
        .filter_map(|(e, d)| d.map(|t| t.saturating_since(e.start)))
        .collect();
    latencies.sort();
    let missed: Vec<TruthEpisode> = eps
        .iter()
        .zip(&detected_at)
        .filter(|(_, d)| d.is_none())
        .map(|(e, _)| (*e).clone())
        .collect();
    let judged = true_alerts + false_alerts.len();
    Score {
        rule: rule.to_owned(),
        truth: truth.to_owned(),
        episodes: eps.len(),
        detected: latencies.len(),
        alerts: alerts.len(),
        true_alerts,
        duplicate_alerts,
        precision: (judged > 0).then(|| true_alerts as f64 / judged as f64),
        recall: (!eps.is_empty()).then(|| latencies.len() as f64 / eps.len() as f64),
        latency_p50: nearest_rank(&latencies, 50),
        latency_p99: nearest_rank(&latencies, 99),
        latency_max: latencies.last().copied(),
        false_alerts,
        missed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_pick_existing_samples() {
        let v: Vec<SimDuration> = (1..=10).map(SimDuration::from_secs).collect();
        assert_eq!(nearest_rank(&v, 50), Some(SimDuration::from_secs(5)));
        assert_eq!(nearest_rank(&v, 99), Some(SimDuration::from_secs(10)));
        assert_eq!(nearest_rank(&v[..1], 50), Some(SimDuration::from_secs(1)));
        assert_eq!(nearest_rank(&[], 50), None);
    }
}
