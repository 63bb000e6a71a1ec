//! Accounting: what happened to every reading (sampled, acknowledged, dropped, delivered,
//! stored), per-device bitmaps of acknowledged and stored sequence numbers for the
//! exactly-once checker, and the metrics the report's time series come from.

use super::{SolutionWorld, WorldConfig, SAMPLE, SAMPLER};
use firmware::{DropReason, Record};
use sim::metrics::{CounterId, GaugeId, HistogramId, Metrics};
use sim::SimTime;
use sim::{Event, Kernel};
use std::collections::BTreeSet;

/// A set of (device, sequence number): a fixed-width bitmap per device for the sequence
/// numbers a run normally uses, and an ordered set for the rare ones beyond it (a device that
/// rebooted many times skips a block of numbers per boot), so every number is checked.
pub(crate) struct SeqBitmaps {
    pub(crate) words_per_device: usize,
    pub(crate) bits: Vec<u64>,
    /// Sequence numbers beyond the bitmap's width.
    pub(crate) beyond: BTreeSet<(u32, u32)>,
}

impl SeqBitmaps {
    pub(crate) fn new(devices: usize, width: u32) -> Self {
        let words_per_device = (width as usize).div_ceil(64).max(1);
        SeqBitmaps {
            words_per_device,
            bits: vec![0; devices * words_per_device],
            beyond: BTreeSet::new(),
        }
    }
    /// Adds the pair; `false` if it was there already.
    pub(crate) fn set(&mut self, device: u32, seq: u32) -> bool {
        let w = seq as usize / 64;
        if w >= self.words_per_device {
            return self.beyond.insert((device, seq));
        }
        let word = &mut self.bits[device as usize * self.words_per_device + w];
        let mask = 1u64 << (seq % 64);
        let fresh = *word & mask == 0;
        *word |= mask;
        fresh
    }

    /// Whether the pair is in the set.
    pub(crate) fn contains(&self, device: u32, seq: u32) -> bool {
        let w = seq as usize / 64;
        if w >= self.words_per_device {
            return self.beyond.contains(&(device, seq));
        }
        self.bits[device as usize * self.words_per_device + w] & (1u64 << (seq % 64)) != 0
    }

    /// Removes the pair (the exactly-once check no longer expects it stored).
    pub(crate) fn unset(&mut self, device: u32, seq: u32) {
        let w = seq as usize / 64;
        if w >= self.words_per_device {
            self.beyond.remove(&(device, seq));
            return;
        }
        self.bits[device as usize * self.words_per_device + w] &= !(1u64 << (seq % 64));
    }

    /// The (device, seq) pairs in `self` but not in `other` (same shape): how many, and the
    /// first.
    pub(crate) fn missing_from(&self, other: &SeqBitmaps) -> (u64, Option<(u32, u32)>) {
        let words = self.words_per_device;
        let mut count = 0u64;
        let mut first = None;
        for (i, (a, s)) in self.bits.iter().zip(&other.bits).enumerate() {
            let missing = a & !s;
            if missing != 0 {
                count += u64::from(missing.count_ones());
                first.get_or_insert((
                    (i / words) as u32,
                    ((i % words) * 64 + missing.trailing_zeros() as usize) as u32,
                ));
            }
        }
        for &(d, seq) in self.beyond.difference(&other.beyond) {
            count += 1;
            first.get_or_insert((d, seq));
        }
        (count, first)
    }
}

/// Counters the summary and the checkers read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub sampled: u64,
    pub acked: u64,
    pub dropped_overflow: u64,
    pub dropped_reboot: u64,
    pub delivered: u64,
    pub stored: u64,
    pub store_duplicates: u64,
    pub acked_twice: u64,
    pub boots: u64,
}

pub(crate) struct Ids {
    sampled: CounterId,
    acked: CounterId,
    stored: CounterId,
    pub(crate) lost: CounterId,
    pub(crate) throttled: CounterId,
    quota_used: GaugeId,
    connected: GaugeId,
    pub(crate) e2e_ms: HistogramId,
    /// Sample → enqueued at the hub, and sample → read by the back end, per reading
    /// delivered (the report's latency breakdown).
    pub(crate) to_publish_ms: HistogramId,
    pub(crate) to_hub_ms: HistogramId,
    pub(crate) to_read_ms: HistogramId,
}

pub(crate) struct Accounting {
    pub(crate) counts: Counts,
    pub(crate) acked_bits: SeqBitmaps,
    pub(crate) stored_bits: SeqBitmaps,
    pub(crate) metrics: Metrics,
    pub(crate) ids: Ids,
    /// Per device, one more than the highest sequence number it has published (0: none), so
    /// sample → publish is measured at a reading's first publish only.
    published: Vec<u32>,
    /// The highest share of the daily quota used at any sample.
    pub(crate) peak_quota_ratio: f64,
    sample_interval: sim::SimDuration,
}

impl Accounting {
    pub(crate) fn new(cfg: &WorldConfig, devices: u32) -> Accounting {
        let mut metrics = Metrics::new(cfg.sample_interval);
        let mc = |m: &mut Metrics, name: &str| m.counter(name, true).expect("fresh registry");
        let ids = Ids {
            sampled: mc(&mut metrics, "telemetry.sampled"),
            acked: mc(&mut metrics, "telemetry.acknowledged"),
            stored: mc(&mut metrics, "telemetry.stored"),
            lost: mc(&mut metrics, "telemetry.lost"),
            throttled: mc(&mut metrics, "hub.throttled"),
            quota_used: metrics
                .gauge("hub.quota_used_ratio", true)
                .expect("fresh registry"),
            connected: metrics
                .gauge("hub.connected_devices", true)
                .expect("fresh registry"),
            e2e_ms: metrics
                .histogram("telemetry.e2e_latency_ms", 86_400_000)
                .expect("valid range"),
            to_publish_ms: metrics
                .histogram("latency.sample_to_publish_ms", 86_400_000)
                .expect("valid range"),
            to_hub_ms: metrics
                .histogram("latency.sample_to_hub_ms", 86_400_000)
                .expect("valid range"),
            to_read_ms: metrics
                .histogram("latency.sample_to_read_ms", 86_400_000)
                .expect("valid range"),
        };
        // Bitmap width: the busiest class's samples over the run plus an eighth, plus the
        // blocks of sequence numbers skipped by two boots; numbers beyond it (more reboots,
        // bursts of events) go to the ordered overflow set.
        let max_seq = cfg
            .classes
            .iter()
            .map(|c| {
                let fw = &c.firmware;
                let per_run = (cfg.duration.as_secs() / fw.telemetry_interval.as_secs().max(1))
                    .min(u64::from(u32::MAX)) as u32;
                per_run
                    .saturating_add(per_run / 8)
                    .saturating_add(fw.seq_block.saturating_mul(2))
            })
            .max()
            .unwrap_or(0);
        let n = devices as usize;
        Accounting {
            counts: Counts::default(),
            acked_bits: SeqBitmaps::new(n, max_seq),
            stored_bits: SeqBitmaps::new(n, max_seq),
            published: vec![0; n],
            metrics,
            ids,
            peak_quota_ratio: 0.0,
            sample_interval: cfg.sample_interval,
        }
    }

    /// Device `g` publishes reading `seq`, sampled at `sampled` (by its clock): the first
    /// publish of each reading enters sample → publish.
    #[inline]
    pub(crate) fn on_publish(&mut self, g: u32, seq: u32, sampled: SimTime, now: SimTime) {
        let last = &mut self.published[g as usize];
        if seq.saturating_add(1) > *last {
            *last = seq.saturating_add(1);
            let ms = now.saturating_since(sampled).as_millis();
            self.metrics.record(self.ids.to_publish_ms, ms);
        }
    }

    /// A firmware record of device `g`.
    pub(crate) fn on_record(&mut self, g: u32, r: Record) {
        match r {
            Record::Sampled { .. } => {
                self.counts.sampled += 1;
                self.metrics.inc(self.ids.sampled);
            }
            Record::Acked { seq } => {
                if self.acked_bits.set(g, seq) {
                    self.counts.acked += 1;
                    self.metrics.inc(self.ids.acked);
                } else {
                    self.counts.acked_twice += 1;
                }
            }
            Record::Dropped { reason, .. } => {
                match reason {
                    DropReason::Overflow => self.counts.dropped_overflow += 1,
                    DropReason::Reboot => self.counts.dropped_reboot += 1,
                }
                self.metrics.inc(self.ids.lost);
            }
        }
    }

    /// The store indexed device `g`'s reading `seq` (a duplicate if it had already).
    pub(crate) fn on_stored(&mut self, g: u32, seq: u32) {
        if self.stored_bits.set(g, seq) {
            self.counts.stored += 1;
            self.metrics.inc(self.ids.stored);
        } else {
            self.counts.store_duplicates += 1;
        }
    }
}

impl SolutionWorld {
    /// The metrics sampler: the hubs' gauges, then the next sample.
    pub(super) fn on_sample(&mut self, k: &mut Kernel) {
        let now = k.now();
        // The busiest hub's share of its own daily quota.
        let ratio = self
            .cloud
            .hubs
            .iter()
            .map(|h| {
                if h.quota_limit() == 0 {
                    0.0
                } else {
                    h.quota_used() as f64 / h.quota_limit() as f64
                }
            })
            .fold(0.0, f64::max);
        let a = &mut self.acct;
        a.peak_quota_ratio = a.peak_quota_ratio.max(ratio);
        a.metrics.set(a.ids.quota_used, ratio);
        let connected: usize = self.cloud.hubs.iter().map(|h| h.connected_count()).sum();
        a.metrics.set(a.ids.connected, connected as f64);
        k.schedule(now + a.sample_interval, Event::new(SAMPLER, SAMPLE, 0));
        self.sample_gateways(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_set_checks_numbers_beyond_its_bitmap_too() {
        let mut s = SeqBitmaps::new(3, 100);
        assert_eq!(s.words_per_device, 2);
        assert!(s.set(1, 5));
        assert!(!s.set(1, 5), "a repeat is reported");
        assert!(s.set(2, 5), "another device's number is its own");
        assert!(s.set(1, 500), "beyond the bitmap");
        assert!(!s.set(1, 500), "a repeat beyond the bitmap is reported too");
        assert_eq!(s.beyond.len(), 1);
        assert_eq!(s.bits.iter().map(|w| w.count_ones()).sum::<u32>(), 2);
    }

    #[test]
    fn missing_pairs_are_counted_in_the_bitmap_and_beyond_it() {
        let mut acked = SeqBitmaps::new(2, 64);
        let mut stored = SeqBitmaps::new(2, 64);
        for (d, s) in [(0, 3), (1, 9), (1, 70), (0, 200)] {
            acked.set(d, s);
        }
        stored.set(0, 3);
        stored.set(1, 70);
        let (count, first) = acked.missing_from(&stored);
        assert_eq!(count, 2);
        assert_eq!(first, Some((1, 9)));
    }
}
