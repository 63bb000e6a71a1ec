//! Oracle tests: the store's queries agree with a naive Vec-based store on generated
//! series with duplicates, out-of-order arrivals, ties, absent values and empty buckets.

use proptest::prelude::*;
use sim::{Epoch, SimDuration, SimTime};
use std::collections::BTreeSet;
use store::{
    Bucket, ColumnSpec, DeviceIndex, IngestEvent, Schema, SearchSpan, StoreConfig, TimeSeriesStore,
    TimestampSource, MAX_COLUMNS,
};

/// An epoch that is not a whole minute, so epoch alignment differs from sim-time alignment.
const EPOCH: Epoch = Epoch::from_unix_secs(1_767_225_613);

fn schema() -> Schema {
    Schema::new(&[
        ColumnSpec::quantised("lat", 1e-6),
        ColumnSpec::quantised("temp", 0.01),
        ColumnSpec::exact("x"),
    ])
    .unwrap()
}

/// The naive store: every accepted event in indexing order.
struct Naive {
    schema: Schema,
    seen: BTreeSet<(u32, u32)>,
    events: Vec<(u32, i64, [Option<f64>; 3])>,
}

impl Naive {
    fn ingest(&mut self, e: &IngestEvent) {
        if !self.seen.insert((e.device.0, e.seq)) {
            return;
        }
        let mut v = [None; 3];
        for (c, slot) in v.iter_mut().enumerate() {
            *slot = self.schema.stored_value(c, e.values[c]);
        }
        self.events
            .push((e.device.0, e.event_time.as_millis() as i64, v));
    }

    fn series(&self, device: u32, span: SearchSpan) -> Vec<(i64, [Option<f64>; 3])> {
        let mut out: Vec<_> = self
            .events
            .iter()
            .filter(|(d, ts, _)| {
                let ns = *ts as u128 * 1_000_000;
                *d == device
                    && ns >= u128::from(span.from.as_nanos())
                    && ns < u128::from(span.to.as_nanos())
            })
            .map(|(_, ts, v)| (*ts, *v))
            .collect();
        out.sort_by_key(|(ts, _)| *ts);
        out
    }

    fn aggregate(
        &self,
        device: u32,
        span: SearchSpan,
        interval_ms: i64,
        col: usize,
    ) -> Vec<Bucket> {
        let epoch_ms = EPOCH.unix_secs() * 1_000;
        let from_unix = epoch_ms + (span.from.as_nanos() / 1_000_000) as i64;
        let last_unix = epoch_ms + ((span.to.as_nanos() - 1) / 1_000_000) as i64;
        let mut start = from_unix - from_unix.rem_euclid(interval_ms);
        let series = self.series(device, span);
        let mut out = Vec::new();
        let mut next = 0;
        while start <= last_unix {
            // The series is in time order: take every event before this bucket's end.
            let mut in_bucket = Vec::new();
            while next < series.len() && epoch_ms + series[next].0 < start + interval_ms {
                assert!(epoch_ms + series[next].0 >= start);
                if let Some(v) = series[next].1[col] {
                    in_bucket.push(v);
                }
                next += 1;
            }
            let mut sum = None;
            for v in &in_bucket {
                sum = Some(sum.map_or(*v, |s: f64| s + v));
            }
            out.push(Bucket {
                start_unix_ms: start,
                count: in_bucket.len() as u64,
                sum,
                min: in_bucket.iter().copied().reduce(f64::min),
                max: in_bucket.iter().copied().reduce(f64::max),
            });
            start += interval_ms;
        }
        assert_eq!(next, series.len());
        out
    }
}

#[derive(Clone, Debug)]
struct Draw {
    device: u32,
    jitter_ms: i64,
    delay: u32,
    lat: Option<f64>,
    temp: Option<f64>,
    x: f64,
    duplicate: bool,
}

fn draw() -> impl Strategy<Value = Draw> {
    (
        0u32..2,
        prop_oneof![Just(0i64), -400_000i64..400_000],
        0u32..30,
        proptest::option::weighted(0.9, 46.0f64..48.0),
        proptest::option::weighted(0.9, 36.0f64..42.0),
        prop_oneof![Just(1.5f64), -1e6f64..1e6],
        proptest::bool::weighted(0.2),
    )
        .prop_map(|(device, jitter_ms, delay, lat, temp, x, duplicate)| Draw {
            device,
            jitter_ms,
            delay,
            lat,
            temp,
            x,
            duplicate,
        })
}

/// Events in arrival order: per-device sequence numbers, two readings per 5-minute slot
/// (so timestamps tie when the jitter is zero), late arrivals and redeliveries.
fn arrivals(draws: &[Draw]) -> Vec<IngestEvent> {
    let mut next_seq = [0u32; 3];
    let mut keyed = Vec::new();
    for (i, d) in draws.iter().enumerate() {
        let seq = next_seq[d.device as usize];
        next_seq[d.device as usize] += 1;
        let t_ms = 1_000_000 + i64::from(seq / 2) * 300_000 + d.jitter_ms;
        let mut values = [f64::NAN; MAX_COLUMNS];
        values[0] = d.lat.unwrap_or(f64::NAN);
        values[1] = d.temp.unwrap_or(f64::NAN);
        values[2] = d.x;
        let e = IngestEvent {
            device: DeviceIndex(d.device),
            seq,
            event_time: SimTime::from_millis(t_ms as u64),
            enqueued_time: SimTime::ZERO,
            values,
        };
        keyed.push((i as u32 + d.delay, e));
        if d.duplicate {
            keyed.push((i as u32 + d.delay + 1 + d.delay / 2, e));
        }
    }
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, e)| e).collect()
}

fn load(events: &[IngestEvent]) -> (TimeSeriesStore, Naive) {
    let config = StoreConfig {
        timestamp: TimestampSource::EventTime,
        ..StoreConfig::default()
    };
    let mut store = TimeSeriesStore::new(config, schema(), EPOCH).unwrap();
    let mut naive = Naive {
        schema: schema(),
        seen: BTreeSet::new(),
        events: Vec::new(),
    };
    for (i, e) in events.iter().enumerate() {
        let now = SimTime::from_secs(i as u64);
        let e = IngestEvent {
            enqueued_time: now,
            ..*e
        };
        store.handle_ingest(now, (i % 4) as u16, e, 120).unwrap();
        naive.ingest(&e);
    }
    store.handle_timeout(SimTime::from_secs(events.len() as u64 + 7_200));
    assert_eq!(store.stats().stale_dropped, 0);
    assert_eq!(store.stats().backlog_depth, 0);
    (store, naive)
}

fn same(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.to_bits() == b.to_bits(),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn get_series_and_aggregate_series_agree_with_a_naive_store(
        draws in proptest::collection::vec(draw(), 0..3_000),
        from_s in 0u64..300_000,
        len_s in 1u64..400_000,
        interval_s in prop_oneof![Just(7u64), Just(60), Just(300), Just(3_600), Just(86_400)],
        col in 0usize..3,
    ) {
        let events = arrivals(&draws);
        let (store, naive) = load(&events);
        let span = SearchSpan::new(SimTime::from_secs(from_s), SimTime::from_secs(from_s + len_s));
        for device in 0..3u32 {
            let expected = naive.series(device, span);
            let series = store.get_series(DeviceIndex(device), span, col).unwrap();
            prop_assert_eq!(series.len(), expected.len());
            for ((t, v), (ets, ev)) in series.iter().zip(&expected) {
                prop_assert_eq!(t.as_millis() as i64, *ets);
                prop_assert!(same(*v, ev[col]), "value {:?} vs {:?}", v, ev[col]);
            }
            let events = store.get_events(DeviceIndex(device), span, usize::MAX).unwrap();
            for (e, (_, ev)) in events.iter().zip(&expected) {
                for (c, value) in ev.iter().enumerate() {
                    prop_assert!(same(e.value(c), *value));
                }
            }
            let buckets = store
                .aggregate_series(DeviceIndex(device), span, SimDuration::from_secs(interval_s), col)
                .unwrap();
            let expected = naive.aggregate(device, span, interval_s as i64 * 1_000, col);
            prop_assert_eq!(buckets.len(), expected.len());
            for (b, e) in buckets.iter().zip(&expected) {
                prop_assert_eq!(b.start_unix_ms, e.start_unix_ms);
                prop_assert_eq!(b.count, e.count);
                prop_assert!(same(b.sum, e.sum) && same(b.min, e.min) && same(b.max, e.max),
                    "bucket {:?} vs {:?}", b, e);
            }
        }
        let stored: u64 = naive.events.len() as u64;
        prop_assert_eq!(store.stats().events_indexed, stored);
        prop_assert_eq!(
            store.stats().duplicates_dropped,
            events.len() as u64 - stored
        );
    }
}

#[test]
fn aggregate_buckets_are_epoch_aligned_with_left_edges_and_empty_buckets() {
    let config = StoreConfig {
        timestamp: TimestampSource::EventTime,
        ..StoreConfig::default()
    };
    let mut store = TimeSeriesStore::new(config, Schema::collar(), EPOCH).unwrap();
    // EPOCH is 13 s past a whole minute: sim second 47 is Unix minute boundary.
    for (seq, (t_s, temp)) in [(50u64, 38.0), (100, 39.0), (230, 40.0)].iter().enumerate() {
        let e = IngestEvent::new(
            DeviceIndex(0),
            seq as u32,
            SimTime::from_secs(*t_s),
            SimTime::from_secs(*t_s),
            &[47.0, 8.0, *temp],
        );
        store
            .handle_ingest(SimTime::from_secs(*t_s), 0, e, 100)
            .unwrap();
    }
    store.handle_timeout(SimTime::from_secs(1_000));
    let span = SearchSpan::new(SimTime::from_secs(40), SimTime::from_secs(240));
    let b = store
        .aggregate_series(DeviceIndex(0), span, SimDuration::from_secs(60), 2)
        .unwrap();
    let minute0 = (EPOCH.unix_secs() + 47 - 60) * 1_000;
    let starts: Vec<i64> = b.iter().map(|b| b.start_unix_ms - minute0).collect();
    assert_eq!(starts, vec![0, 60_000, 120_000, 180_000, 240_000]);
    let counts: Vec<u64> = b.iter().map(|b| b.count).collect();
    assert_eq!(counts, vec![0, 2, 0, 0, 1]);
    assert!((b[1].avg().unwrap() - 38.5).abs() < 1e-9);
    assert_eq!(b[0].avg(), None);
    assert!((b[4].max.unwrap() - 40.0).abs() < 1e-9);
    let table: String = b
        .iter()
        .map(|b| {
            format!(
                "{} count={} avg={:?} min={:?} max={:?} sum={:?}\n",
                b.start_unix_ms,
                b.count,
                b.avg(),
                b.min,
                b.max,
                b.sum
            )
        })
        .collect();
    insta::assert_snapshot!("aggregate_series_minutes", table);
}

#[test]
fn a_store_configuration_reads_from_a_scenario_table_and_refuses_unknown_fields() {
    let c: StoreConfig = serde_json::from_str(
        r#"{"partitions": 8, "warm_retention_days": 31, "timestamp": "event_time"}"#,
    )
    .unwrap();
    assert_eq!(c.partitions, 8);
    assert_eq!(c.timestamp, TimestampSource::EventTime);
    assert_eq!(c.environment_ingress_bytes_per_s, 1_000_000);
    let err = serde_json::from_str::<StoreConfig>(r#"{"retention_days": 7}"#).unwrap_err();
    assert!(err.to_string().contains("retention_days"));
}
