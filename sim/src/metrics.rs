//! Metrics: counters, gauges, latency histograms and time series sampled on simulated time.
//!
//! Every metric is registered once by name and then updated through a small integer id, so the
//! hot path is an indexed add with no hashing and no allocation. Names are looked up in a
//! `BTreeMap`, so listing metrics for a report is in name order, the same on every run.
//!
//! Histograms are `hdrhistogram` with 3 significant figures over `[1, max]`; values above the
//! maximum are clamped to it and counted in `<name>.clamped`, so nothing recorded is silently
//! lost.
//!
//! **Time series.** Counters and gauges registered with `track = true` are sampled at every
//! multiple of the sampling interval. The world calls [`Metrics::advance`] with the current
//! time before it applies an event's updates; a sample at instant `b` therefore holds the
//! values after every event strictly before `b`. Counter series hold cumulative values (a
//! report takes differences for rates).

use crate::time::{SimDuration, SimTime};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CounterId(u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GaugeId(u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HistogramId(u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Counter(u32),
    Gauge(u32),
    Histogram(u32),
}

/// Registering the same name as two kinds of metric, or a histogram with a bad range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    #[error("metric `{0}` is already registered as another kind")]
    KindClash(String),
    #[error("histogram `{name}`: max must be at least 2, got {max}")]
    HistogramRange { name: String, max: u64 },
}

/// A sampled series: one value per sampling instant.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

/// Summary of a histogram for reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct HistogramSummary {
    pub count: u64,
    pub min: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

struct Hist {
    h: Histogram<u64>,
    max: u64,
    clamped: CounterId,
}

/// The metrics registry of one run.
pub struct Metrics {
    names: BTreeMap<String, Slot>,
    counters: Vec<u64>,
    gauges: Vec<f64>,
    hists: Vec<Hist>,
    tracked: Vec<(Slot, usize)>,
    series: Vec<Series>,
    interval: SimDuration,
    next_sample: SimTime,
    sample_times: Vec<SimTime>,
}

impl Metrics {
    /// A registry whose tracked metrics are sampled every `interval` from time zero.
    pub fn new(interval: SimDuration) -> Self {
        assert!(!interval.is_zero(), "metrics sampling interval must be > 0");
        Metrics {
            names: BTreeMap::new(),
            counters: Vec::new(),
            gauges: Vec::new(),
            hists: Vec::new(),
            tracked: Vec::new(),
            series: Vec::new(),
            interval,
            next_sample: SimTime::ZERO,
            sample_times: Vec::new(),
        }
    }

    fn track(&mut self, name: &str, slot: Slot) {
        let start = self.sample_times.len();
        self.tracked.push((slot, self.series.len()));
        self.series.push(Series {
            name: name.to_string(),
            values: vec![0.0; start],
        });
    }

    /// Registers (or finds) a counter.
    pub fn counter(&mut self, name: &str, track: bool) -> Result<CounterId, MetricsError> {
        match self.names.get(name) {
            Some(Slot::Counter(i)) => Ok(CounterId(*i)),
            Some(_) => Err(MetricsError::KindClash(name.to_string())),
            None => {
                let i = self.counters.len() as u32;
                self.counters.push(0);
                self.names.insert(name.to_string(), Slot::Counter(i));
                if track {
                    self.track(name, Slot::Counter(i));
                }
                Ok(CounterId(i))
            }
        }
    }

    /// Registers (or finds) a gauge.
    pub fn gauge(&mut self, name: &str, track: bool) -> Result<GaugeId, MetricsError> {
        match self.names.get(name) {
            Some(Slot::Gauge(i)) => Ok(GaugeId(*i)),
            Some(_) => Err(MetricsError::KindClash(name.to_string())),
            None => {
                let i = self.gauges.len() as u32;
                self.gauges.push(0.0);
                self.names.insert(name.to_string(), Slot::Gauge(i));
                if track {
                    self.track(name, Slot::Gauge(i));
                }
                Ok(GaugeId(i))
            }
        }
    }

    /// Registers (or finds) a histogram of values in `[1, max]` (e.g. microseconds).
    pub fn histogram(&mut self, name: &str, max: u64) -> Result<HistogramId, MetricsError> {
        match self.names.get(name) {
            Some(Slot::Histogram(i)) => Ok(HistogramId(*i)),
            Some(_) => Err(MetricsError::KindClash(name.to_string())),
            None => {
                let h = Histogram::new_with_bounds(1, max.max(2), 3).map_err(|_| {
                    MetricsError::HistogramRange {
                        name: name.to_string(),
                        max,
                    }
                })?;
                let clamped = self.counter(&format!("{name}.clamped"), false)?;
                let i = self.hists.len() as u32;
                self.hists.push(Hist { h, max, clamped });
                self.names.insert(name.to_string(), Slot::Histogram(i));
                Ok(HistogramId(i))
            }
        }
    }

    #[inline]
    pub fn add(&mut self, id: CounterId, n: u64) {
        self.counters[id.0 as usize] += n;
    }

    #[inline]
    pub fn inc(&mut self, id: CounterId) {
        self.counters[id.0 as usize] += 1;
    }

    #[inline]
    pub fn set(&mut self, id: GaugeId, v: f64) {
        self.gauges[id.0 as usize] = v;
    }

    /// Records one value; values outside `[1, max]` are clamped (and counted if above max).
    #[inline]
    pub fn record(&mut self, id: HistogramId, value: u64) {
        let (max, clamped) = {
            let h = &self.hists[id.0 as usize];
            (h.max, h.clamped)
        };
        let v = if value > max {
            self.counters[clamped.0 as usize] += 1;
            max
        } else {
            value.max(1)
        };
        self.hists[id.0 as usize]
            .h
            .record(v)
            .expect("value clamped into the histogram's range");
    }

    pub fn counter_value(&self, id: CounterId) -> u64 {
        self.counters[id.0 as usize]
    }

    pub fn gauge_value(&self, id: GaugeId) -> f64 {
        self.gauges[id.0 as usize]
    }

    /// Takes the samples due at or before `now`; call before applying `now`'s updates.
    #[inline]
    pub fn advance(&mut self, now: SimTime) {
        while self.next_sample <= now {
            self.sample_times.push(self.next_sample);
            for (slot, s) in &self.tracked {
                let v = match *slot {
                    Slot::Counter(i) => self.counters[i as usize] as f64,
                    Slot::Gauge(i) => self.gauges[i as usize],
                    Slot::Histogram(_) => unreachable!("histograms are not tracked"),
                };
                self.series[*s].values.push(v);
            }
            self.next_sample += self.interval;
        }
    }

    pub fn sample_interval(&self) -> SimDuration {
        self.interval
    }

    pub fn sample_times(&self) -> &[SimTime] {
        &self.sample_times
    }

    pub fn series(&self, name: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.name == name)
    }

    pub fn all_series(&self) -> &[Series] {
        &self.series
    }

    /// A counter's value by name.
    pub fn counter_by_name(&self, name: &str) -> Option<u64> {
        match self.names.get(name)? {
            Slot::Counter(i) => Some(self.counters[*i as usize]),
            _ => None,
        }
    }

    /// A gauge's value by name.
    pub fn gauge_by_name(&self, name: &str) -> Option<f64> {
        match self.names.get(name)? {
            Slot::Gauge(i) => Some(self.gauges[*i as usize]),
            _ => None,
        }
    }

    /// A histogram by name, for reports that need more than the summary.
    pub fn histogram_by_name(&self, name: &str) -> Option<&Histogram<u64>> {
        match self.names.get(name)? {
            Slot::Histogram(i) => Some(&self.hists[*i as usize].h),
            _ => None,
        }
    }

    pub fn summary(&self, id: HistogramId) -> HistogramSummary {
        summarise(&self.hists[id.0 as usize].h)
    }

    /// Every counter, in name order.
    pub fn counters(&self) -> impl Iterator<Item = (&str, u64)> {
        self.names.iter().filter_map(|(n, s)| match s {
            Slot::Counter(i) => Some((n.as_str(), self.counters[*i as usize])),
            _ => None,
        })
    }

    /// Every gauge, in name order.
    pub fn gauges(&self) -> impl Iterator<Item = (&str, f64)> {
        self.names.iter().filter_map(|(n, s)| match s {
            Slot::Gauge(i) => Some((n.as_str(), self.gauges[*i as usize])),
            _ => None,
        })
    }

    /// Every histogram's summary, in name order.
    pub fn histograms(&self) -> impl Iterator<Item = (&str, HistogramSummary)> {
        self.names.iter().filter_map(|(n, s)| match s {
            Slot::Histogram(i) => Some((n.as_str(), summarise(&self.hists[*i as usize].h))),
            _ => None,
        })
    }
}

/// Count, min, percentiles and max of a histogram.
pub fn summarise(h: &Histogram<u64>) -> HistogramSummary {
    if h.is_empty() {
        return HistogramSummary::default();
    }
    HistogramSummary {
        count: h.len(),
        min: h.min(),
        p50: h.value_at_quantile(0.50),
        p90: h.value_at_quantile(0.90),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracked_counters_are_sampled_at_each_interval_boundary() {
        let mut m = Metrics::new(SimDuration::from_secs(10));
        let c = m.counter("sent", true).unwrap();
        let g = m.gauge("backlog", true).unwrap();
        for s in [0u64, 5, 12, 31] {
            m.advance(SimTime::from_secs(s));
            m.inc(c);
            m.set(g, s as f64);
        }
        m.advance(SimTime::from_secs(31));
        // Samples at 0, 10, 20, 30: the value after every event strictly before each instant.
        assert_eq!(m.sample_times().len(), 4);
        assert_eq!(m.series("sent").unwrap().values, vec![0.0, 2.0, 3.0, 3.0]);
        assert_eq!(
            m.series("backlog").unwrap().values,
            vec![0.0, 5.0, 12.0, 12.0]
        );
    }

    #[test]
    fn histogram_clamps_and_counts_values_above_its_range() {
        let mut m = Metrics::new(SimDuration::from_secs(1));
        let h = m.histogram("latency_us", 1_000).unwrap();
        for v in [0, 10, 100, 5_000] {
            m.record(h, v);
        }
        let s = m.summary(h);
        assert_eq!(s.count, 4);
        assert_eq!(s.min, 1);
        assert!(s.max >= 1_000 && s.max <= 1_001, "{s:?}");
        assert_eq!(m.counter_by_name("latency_us.clamped"), Some(1));
    }

    #[test]
    fn a_name_registers_one_kind_only() {
        let mut m = Metrics::new(SimDuration::from_secs(1));
        let a = m.counter("x", false).unwrap();
        assert_eq!(m.counter("x", false).unwrap(), a);
        assert_eq!(
            m.gauge("x", false),
            Err(MetricsError::KindClash("x".into()))
        );
        let names: Vec<&str> = {
            m.counter("b", false).unwrap();
            m.counter("a", false).unwrap();
            m.counters().map(|(n, _)| n).collect()
        };
        assert_eq!(names, vec!["a", "b", "x"]);
    }
}
