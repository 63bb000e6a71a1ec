//! Store ingest + rule evaluation per reading (issue: time-series store and analytics).
//!
//! The herd back end's hot path, per collar reading, called as the herd calls it: every
//! 5 s of simulated time (the back end's poll) `TimeSeriesStore::handle_ingest` takes the
//! readings the hub received since the last poll (ingestion limits and backlog), then
//! `index_next` indexes each reading that has become queryable (de-duplication, delta
//! coding into the device's open block, sealing) and lends it, not copied out, to
//! `RuleEngine::handle_event` with three rules: the herd's two (fever over two consecutive
//! readings with hysteresis and cool-down, stuck = under 50 m in 12 h) and a pasture
//! geofence exit, so every kind of per-reading condition runs; prefetching each device's rule state a few readings ahead; `handle_timeout`
//! enforces retention and notifications are drained into sinks. A poll handles about 170
//! readings with 10,000 collars and 17,000 with a million.
//!
//! Readings come from a pre-generated pool (a grazing walk, a body temperature with 1 % of
//! cows febrile) replayed with sequence numbers and times shifted on each pass, devices in
//! a fixed random phase order as a fleet reporting every 5 minutes would arrive. Two fleet
//! sizes: 10,000 collars (2.5 MB of per-device state, which a shared machine's cache may
//! not keep: the slot prefetch halves the time there too) and 1,000,000 (the headline
//! scenario, where every reading touches cold per-device state).
//!
//! Run: `cargo bench -p benches --bench store_ingest -- --warm-up-time 1 --measurement-time 3`.
//! At a million collars each reading touches cold memory pages and, in a virtual machine,
//! the page-table walks dominate; the bench (like `fleetsim`) re-executes itself with
//! glibc's malloc on transparent huge pages (`FLEETSIM_HUGEPAGES=0` for without).
//! Throughput is in readings/s; the time per iteration divided by `BATCH` is ns/reading.

use benches::store_pipeline::{Pipeline, BATCH};
use criterion::{criterion_group, Criterion, Throughput};

fn store_ingest(c: &mut Criterion) {
    let mut g = c.benchmark_group("store_ingest_and_rules");
    g.throughput(Throughput::Elements(BATCH));
    g.sample_size(10);
    for devices in [10_000u32, 1_000_000] {
        let mut p = Pipeline::new(devices);
        // One pass through the pool first, so blocks seal and rule state is warm.
        p.run(p.pool.len() as u64);
        g.bench_function(format!("{devices}_collars"), |b| b.iter(|| p.run(BATCH)));
        let s = p.store.storage_stats();
        eprintln!(
            "{devices} collars: {} readings stored, {:.2} bytes/reading, {} alerts, {} SMS, lag max {:?}",
            s.events_live,
            s.bytes_per_event(),
            p.engine.stats().alerts_raised,
            p.sinks.sent(analytics::Channel::Sms).len(),
            p.store.stats().ingest_lag_max,
        );
    }
    g.finish();
}

criterion_group!(benches, store_ingest);
benches::bench_main!(benches);
