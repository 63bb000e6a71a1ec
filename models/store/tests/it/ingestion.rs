//! Ingestion limits, backlog, de-duplication, instances, retention and the change feed.

use sim::{Epoch, SimDuration, SimTime};
use store::{
    DeviceIndex, IngestEvent, Schema, SearchSpan, StoreConfig, StoreError, TimeSeriesStore,
};

fn store(config: StoreConfig) -> TimeSeriesStore {
    TimeSeriesStore::new(config, Schema::collar(), Epoch::DEFAULT).unwrap()
}

fn reading(device: u32, seq: u32, t: SimTime) -> IngestEvent {
    IngestEvent::new(DeviceIndex(device), seq, t, t, &[46.9, 7.4, 38.5])
}

fn all_time() -> SearchSpan {
    SearchSpan::new(SimTime::ZERO, SimTime::from_secs(100 * 86_400))
}

#[test]
fn a_burst_above_the_environment_limit_builds_a_backlog_that_delays_queryability() {
    let mut s = store(StoreConfig::default());
    let now = SimTime::from_secs(10);
    // 2,000 devices x 1,000 bytes = 2 MB over 4 partitions: the 1 MB/s environment
    // limit makes the last one wait 2 s, then 60 s until it is queryable.
    for d in 0..2_000u32 {
        s.handle_ingest(now, (d % 4) as u16, reading(d, 0, now), 1_000)
            .unwrap();
    }
    assert_eq!(s.stats().backlog_depth, 2_000);
    let first_ready = s.poll_timeout().unwrap();
    // First event: 2 ms through its partition, 1 ms through the environment, then 60 s.
    assert_eq!(first_ready, now + SimDuration::from_millis(60_003));
    s.handle_timeout(now + SimDuration::from_secs(61));
    let indexed_early = s.stats().events_indexed;
    assert!(
        indexed_early > 900 && indexed_early < 1_100,
        "{indexed_early}"
    );
    assert!(s
        .get_events(DeviceIndex(1_999), all_time(), 10)
        .unwrap()
        .is_empty());
    s.handle_timeout(now + SimDuration::from_millis(62_002));
    assert_eq!(s.stats().events_indexed, 2_000);
    assert_eq!(s.stats().ingest_lag_max, SimDuration::from_millis(62_002));
    assert_eq!(s.stats().backlog_depth_max, 2_000);
    assert_eq!(
        s.get_events(DeviceIndex(1_999), all_time(), 10)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn one_partition_ingests_at_most_half_a_megabyte_per_second() {
    let mut s = store(StoreConfig::default());
    for d in 0..1_000u32 {
        s.handle_ingest(SimTime::ZERO, 2, reading(d, 0, SimTime::ZERO), 1_000)
            .unwrap();
    }
    // 1 MB through one 0.5 MB/s partition: the last leaves it at 2 s, the environment
    // (1 ms per event behind it) adds 1 ms.
    s.handle_timeout(SimTime::from_millis(62_000));
    assert_eq!(s.stats().events_indexed, 999);
    s.handle_timeout(SimTime::from_millis(62_001));
    assert_eq!(s.stats().events_indexed, 1_000);
    let err = s
        .handle_ingest(SimTime::ZERO, 4, reading(0, 1, SimTime::ZERO), 10)
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::UnknownPartition {
            partition: 4,
            partitions: 4
        }
    );
}

#[test]
fn a_redelivered_reading_is_stored_once() {
    let mut s = store(StoreConfig::default());
    let t = SimTime::from_secs(300);
    for (seq, at) in [(0u32, 0u64), (1, 300), (1, 301), (0, 302), (2, 600)] {
        let at = SimTime::from_secs(at);
        s.handle_ingest(at, 0, reading(5, seq, at), 100).unwrap();
    }
    s.handle_timeout(t + SimDuration::from_secs(600));
    assert_eq!(s.stats().events_indexed, 3);
    assert_eq!(s.stats().duplicates_dropped, 2);
    assert_eq!(
        s.get_events(DeviceIndex(5), all_time(), 100).unwrap().len(),
        3
    );
}

#[test]
fn instances_are_discovered_from_ingested_events() {
    let mut s = store(StoreConfig::default());
    for d in [7u32, 3, 7, 11] {
        s.handle_ingest(SimTime::ZERO, 0, reading(d, d, SimTime::ZERO), 100)
            .unwrap();
    }
    s.handle_timeout(SimTime::from_secs(61));
    assert_eq!(
        s.instances(),
        vec![DeviceIndex(3), DeviceIndex(7), DeviceIndex(11)]
    );
}

#[test]
fn readings_older_than_the_warm_retention_are_dropped() {
    let mut s = store(StoreConfig::default());
    // 1,200 readings of one device over 100 hours: two sealed blocks and an open one.
    for seq in 0..1_200u32 {
        let t = SimTime::from_secs(u64::from(seq) * 300);
        s.handle_ingest(t, 0, reading(0, seq, t), 100).unwrap();
        s.handle_timeout(t);
    }
    let last = SimTime::from_secs(1_199 * 300);
    s.handle_timeout(last + SimDuration::from_secs(61));
    assert_eq!(s.storage_stats().events_live, 1_200);
    let stored = |s: &TimeSeriesStore| {
        s.get_events(DeviceIndex(0), all_time(), usize::MAX)
            .unwrap()
            .len()
    };
    assert_eq!(stored(&s), 1_200);
    // Seven days after the first block's newest point was indexed, it goes.
    let first_block_indexed = SimTime::from_secs(511 * 300 + 60);
    let week = SimDuration::from_hours(24 * 7);
    s.handle_timeout(first_block_indexed + week + SimDuration::from_hours(1));
    assert_eq!(s.stats().blocks_expired, 1);
    assert_eq!(s.storage_stats().events_live, 1_200 - 512);
    let events = s
        .get_events(DeviceIndex(0), all_time(), usize::MAX)
        .unwrap();
    assert_eq!(events.len(), 688);
    assert_eq!(events[0].timestamp, SimTime::from_secs(512 * 300));
    // After everything has aged out the store is empty and asks for no more sweeps.
    s.handle_timeout(last + week + SimDuration::from_hours(2));
    assert_eq!(s.storage_stats().events_live, 0);
    assert_eq!(s.stats().events_expired, 1_200);
    assert_eq!(s.poll_timeout(), None);
    assert!(s
        .get_events(DeviceIndex(0), all_time(), 1)
        .unwrap()
        .is_empty());
}

#[test]
fn a_message_that_outwaits_the_hub_retention_is_lost_and_counted() {
    let mut s = store(StoreConfig::default());
    let enqueued = SimTime::ZERO;
    let now = SimTime::from_secs(86_401);
    s.handle_ingest(now, 0, reading(0, 0, enqueued), 100)
        .unwrap();
    assert_eq!(s.stats().aged_out_dropped, 1);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn the_change_feed_yields_each_new_reading_once_in_indexing_order() {
    let mut s = store(StoreConfig {
        change_feed: true,
        ..StoreConfig::default()
    });
    for (seq, d) in [(0u32, 1u32), (0, 2), (0, 1), (1, 1)] {
        s.handle_ingest(SimTime::ZERO, 0, reading(d, seq, SimTime::ZERO), 100)
            .unwrap();
    }
    s.handle_timeout(SimTime::from_secs(61));
    let fed: Vec<(u32, u32)> = std::iter::from_fn(|| s.poll_indexed())
        .map(|e| (e.device.0, e.seq))
        .collect();
    assert_eq!(fed, vec![(1, 0), (2, 0), (1, 1)]);
}

#[test]
fn the_lent_change_feed_yields_what_the_copied_one_does_even_when_polled_in_part() {
    let config = StoreConfig {
        change_feed: true,
        ..StoreConfig::default()
    };
    let mut copied = store(config.clone());
    let mut lent = store(config);
    let mut fed_copied = Vec::new();
    let mut fed_lent = Vec::new();
    for round in 0..20u32 {
        let t = SimTime::from_secs(u64::from(round) * 10);
        for d in 0..5u32 {
            // Every third reading is delivered twice: the feed carries it once.
            for _ in 0..1 + u32::from((round + d) % 3 == 0) {
                for s in [&mut copied, &mut lent] {
                    s.handle_ingest(t, 0, reading(d, round, t), 100).unwrap();
                }
            }
        }
        let now = t + SimDuration::from_secs(61);
        copied.handle_timeout(now);
        lent.handle_timeout(now);
        // Drain everything from one, only two events per round from the other, so the
        // lent feed carries a polled prefix and a backlog across `handle_timeout` calls.
        fed_copied.extend(std::iter::from_fn(|| copied.poll_indexed()));
        for _ in 0..2 {
            if let Some(e) = lent.poll_indexed_ref() {
                fed_lent.push(*e);
            }
        }
    }
    while let Some(e) = lent.poll_indexed_ref() {
        fed_lent.push(*e);
    }
    // Absent columns are NaN, which is not equal to itself: compare the bits.
    let key = |e: &IngestEvent| (e.device, e.seq, e.event_time, e.values.map(f64::to_bits));
    assert_eq!(fed_copied.len(), lent.stats().events_indexed as usize);
    assert_eq!(fed_copied.len(), 100);
    assert_eq!(
        fed_lent.iter().map(key).collect::<Vec<_>>(),
        fed_copied.iter().map(key).collect::<Vec<_>>()
    );
    assert!(lent.poll_indexed().is_none());
}

#[test]
fn readings_taken_one_at_a_time_as_indexed_are_the_change_feed_and_leave_the_same_store() {
    let mut fed = store(StoreConfig {
        change_feed: true,
        ..StoreConfig::default()
    });
    // `index_next` ignores the change feed; with it on, nothing may pile up in it.
    let mut stepped = store(StoreConfig {
        change_feed: true,
        ..StoreConfig::default()
    });
    let mut from_feed = Vec::new();
    let mut one_at_a_time = Vec::new();
    let mut named_ahead = Vec::new();
    let mut held = Vec::new();
    for round in 0..40u32 {
        let t = SimTime::from_secs(u64::from(round) * 7);
        // Last round's held-back readings arrive now, out of time order.
        let mut deliveries = std::mem::take(&mut held);
        for d in 0..6u32 {
            // Device 5 counts in threes, so that a very old number is stale.
            let seq = if d == 5 { round * 3 } else { round };
            if (round + d) % 4 == 1 {
                held.push((d, seq, t));
                continue;
            }
            deliveries.push((d, seq, t));
            if (round + d) % 3 == 0 {
                deliveries.push((d, seq, t));
            }
        }
        if round == 35 {
            deliveries.push((5, 1, SimTime::ZERO));
        }
        for (d, seq, at) in deliveries {
            for s in [&mut fed, &mut stepped] {
                s.handle_ingest(t, (d % 4) as u16, reading(d, seq, at), 100)
                    .unwrap();
            }
        }
        // Polls that do not line up with arrivals: some find nothing due.
        let now = t + SimDuration::from_secs(58);
        fed.handle_timeout(now);
        from_feed.extend(std::iter::from_fn(|| fed.poll_indexed()));
        loop {
            let ahead = stepped.upcoming_due(0);
            let Some(e) = stepped.index_next(now) else {
                break;
            };
            one_at_a_time.push(*e);
            named_ahead.push(ahead);
        }
        stepped.handle_timeout(now);
        assert_eq!(stepped.stats(), fed.stats(), "round {round}");
        assert!(stepped.poll_indexed().is_none(), "index_next feeds nothing");
    }
    let key = |e: &IngestEvent| (e.device, e.seq, e.event_time, e.values.map(f64::to_bits));
    assert!(fed.stats().duplicates_dropped > 0 && fed.stats().stale_dropped > 0);
    assert_eq!(from_feed.len(), fed.stats().events_indexed as usize);
    assert_eq!(
        one_at_a_time.iter().map(key).collect::<Vec<_>>(),
        from_feed.iter().map(key).collect::<Vec<_>>()
    );
    // The hint names the next reading in the backlog, which is the one that comes out
    // unless it is dropped (a few in ten here).
    let hits = named_ahead
        .iter()
        .zip(&one_at_a_time)
        .filter(|(a, e)| **a == Some(e.device))
        .count();
    assert!(
        hits * 4 > one_at_a_time.len() * 3,
        "{hits} of {}",
        one_at_a_time.len()
    );
    for d in 0..6 {
        let get = |s: &TimeSeriesStore| {
            s.get_events(DeviceIndex(d), all_time(), usize::MAX)
                .unwrap()
                .iter()
                .map(|e| (e.timestamp, [0, 1, 2].map(|c| e.value(c).map(f64::to_bits))))
                .collect::<Vec<_>>()
        };
        assert_eq!(get(&stepped), get(&fed), "device {d}");
    }
}

#[test]
fn the_feed_names_the_device_a_consumer_will_poll_a_few_events_on() {
    let mut s = store(StoreConfig {
        change_feed: true,
        ..StoreConfig::default()
    });
    let t = SimTime::from_secs(1);
    for d in [7u32, 3, 9, 3, 1] {
        s.handle_ingest(t, 0, reading(d, 0, t), 100).unwrap();
    }
    // Nothing is indexed yet: the feed names nobody.
    assert_eq!(s.upcoming_indexed(0), None);
    s.handle_timeout(t + SimDuration::from_secs(61));
    // The second reading of device 3 is a duplicate (same sequence number): it is not in
    // the feed, so the feed is 7, 3, 9, 1.
    let mut polled = Vec::new();
    loop {
        let ahead = [0, 1, 2].map(|k| s.upcoming_indexed(k));
        let Some(e) = s.poll_indexed_ref() else {
            assert_eq!(ahead, [None; 3]);
            break;
        };
        assert_eq!(ahead[0], Some(e.device));
        polled.push((e.device.0, ahead));
    }
    let d = |i: u32| Some(DeviceIndex(i));
    assert_eq!(
        polled,
        vec![
            (7, [d(7), d(3), d(9)]),
            (3, [d(3), d(9), d(1)]),
            (9, [d(9), d(1), None]),
            (1, [d(1), None, None]),
        ]
    );
}
