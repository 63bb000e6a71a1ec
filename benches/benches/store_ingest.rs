//! Store ingest + rule evaluation per reading (issue: time-series store and analytics).
//!
//! The herd back end's hot path, per collar reading, called as the herd calls it: every
//! 5 s of simulated time (the back end's poll) `TimeSeriesStore::handle_ingest` takes the
//! readings the hub received since the last poll (ingestion limits and backlog), then
//! `index_next` indexes each reading that has become queryable (de-duplication, delta
//! coding into the device's open block, sealing) and lends it, not copied out, to
//! `RuleEngine::handle_event` with the herd's three rules (fever over two consecutive
//! readings with hysteresis and cool-down, stuck = under 50 m in 12 h, pasture geofence
//! exit), prefetching each device's rule state a few readings ahead; `handle_timeout`
//! enforces retention and notifications are drained into sinks. A poll handles about 170
//! readings with 10,000 collars and 17,000 with a million.
//!
//! Readings come from a pre-generated pool (a grazing walk, a body temperature with 1 % of
//! cows febrile) replayed with sequence numbers and times shifted on each pass, devices in
//! a fixed random phase order as a fleet reporting every 5 minutes would arrive. Two fleet
//! sizes: 10,000 collars (state fits in cache) and 1,000,000 (the headline scenario, where
//! every reading touches cold per-device state).
//!
//! Run: `cargo bench -p benches --bench store_ingest -- --warm-up-time 1 --measurement-time 3`.
//! At a million collars each reading touches cold memory pages and, in a virtual machine,
//! the page-table walks dominate; the bench (like `fleetsim`) re-executes itself with
//! glibc's malloc on transparent huge pages (`FLEETSIM_HUGEPAGES=0` for without).
//! Throughput is in readings/s; the time per iteration divided by `BATCH` is ns/reading.

use analytics::{AnalyticsConfig, NotificationSinks, RuleEngine};
use criterion::{criterion_group, Criterion, Throughput};
use sim::rng::{standard_normal, unit_f64};
use sim::{CompactRng, Epoch, Seed, SimDuration, SimTime, StreamKey};
use store::{
    DeviceIndex, IngestEvent, Schema, StoreConfig, TimeSeriesStore, TimestampSource, PREFETCH_AHEAD,
};

const BATCH: u64 = 100_000;
/// The herd back end's poll interval (`HerdConfig::backend_poll`).
const POLL: SimDuration = SimDuration::from_secs(5);
const INTERVAL_S: u64 = 300;
const LAT0: f64 = 46.95;
const LON0: f64 = 7.45;
const M_PER_DEG: f64 = 111_195.0;

struct Pipeline {
    store: TimeSeriesStore,
    engine: RuleEngine,
    sinks: NotificationSinks,
    pool: Vec<IngestEvent>,
    rounds: u32,
    next: usize,
    pass: u64,
    /// The next back-end poll.
    poll_at: SimTime,
}

impl Pipeline {
    fn new(devices: u32) -> Pipeline {
        let rounds = (2_000_000 / devices).clamp(2, 200);
        let mut rng = Seed(42).stream(StreamKey::new("bench", 0, "store_ingest"));
        let mut order: Vec<(u64, u32)> = (0..devices)
            .map(|d| ((unit_f64(&mut rng) * (INTERVAL_S * 1_000) as f64) as u64, d))
            .collect();
        order.sort_unstable();
        let mut cows: Vec<(f64, f64, f64, f64, bool, CompactRng)> = (0..devices)
            .map(|d| {
                let mut r = Seed(42).compact(StreamKey::new("cow", u64::from(d), "walk"));
                let febrile = unit_f64(&mut r) < 0.01;
                (
                    standard_normal(&mut r) * 500.0,
                    standard_normal(&mut r) * 500.0,
                    0.0,
                    0.0,
                    febrile,
                    r,
                )
            })
            .collect();
        let mut pool = Vec::with_capacity(devices as usize * rounds as usize);
        for round in 0..rounds {
            for &(phase_ms, d) in &order {
                let (x, y, vx, vy, febrile, r) = &mut cows[d as usize];
                // A grazing walk: a persistent velocity (m per 5 min) with random turns,
                // resting 30 % of the time.
                *vx = 0.7 * *vx + standard_normal(r) * 12.0;
                *vy = 0.7 * *vy + standard_normal(r) * 12.0;
                if unit_f64(r) >= 0.3 {
                    *x += *vx;
                    *y += *vy;
                }
                let temp = if *febrile { 39.9 } else { 38.6 } + standard_normal(r) * 0.1;
                let t = SimTime::from_millis(u64::from(round) * INTERVAL_S * 1_000 + phase_ms);
                let lat = LAT0 + *y / M_PER_DEG;
                let lon = LON0 + *x / (M_PER_DEG * analytics::geo::cos_deg(LAT0));
                pool.push(IngestEvent::new(
                    DeviceIndex(d),
                    round,
                    t,
                    t + SimDuration::from_millis(900),
                    &[lat, lon, temp],
                ));
            }
        }
        let config = StoreConfig {
            timestamp: TimestampSource::EventTime,
            ..StoreConfig::default()
        };
        let store = TimeSeriesStore::new(config, Schema::collar(), Epoch::DEFAULT).unwrap();
        let rules: AnalyticsConfig = herd_rules();
        let mut engine = RuleEngine::new(&rules, &Schema::collar(), Epoch::DEFAULT).unwrap();
        engine.reserve_devices(devices as usize);
        Pipeline {
            store,
            engine,
            sinks: NotificationSinks::default(),
            pool,
            rounds,
            next: 0,
            pass: 0,
            poll_at: SimTime::ZERO,
        }
    }

    /// Processes `n` readings through the store and the rules, as the herd's back end
    /// does: every `POLL` it ingests what the hub received since the last poll, indexes
    /// what has become queryable and runs the rules on each new reading as it is indexed.
    fn run(&mut self, n: u64) {
        // The pass's shifts, added as integers: the replay's own cost should stay small.
        let rounds = u64::from(self.rounds);
        let shifts = |pass: u64| {
            (
                pass * rounds * INTERVAL_S * 1_000_000_000,
                (pass * rounds) as u32,
            )
        };
        let (mut shift_ns, mut shift_seq) = shifts(self.pass);
        for _ in 0..n {
            let mut e = self.pool[self.next];
            e.seq = e.seq.wrapping_add(shift_seq);
            e.event_time = SimTime::from_nanos(e.event_time.as_nanos().wrapping_add(shift_ns));
            e.enqueued_time =
                SimTime::from_nanos(e.enqueued_time.as_nanos().wrapping_add(shift_ns));
            while e.enqueued_time > self.poll_at {
                self.poll(self.poll_at);
                self.poll_at += POLL;
            }
            let partition = (e.device.0 % 4) as u16;
            self.store
                .handle_ingest(self.poll_at, partition, e, 110)
                .unwrap();
            // Below the pool's length.
            self.next = self.next.wrapping_add(1);
            if self.next == self.pool.len() {
                self.next = 0;
                self.pass += 1;
                (shift_ns, shift_seq) = shifts(self.pass);
            }
        }
    }

    /// One back-end poll at `now`, as the herd's: index what is due, running the rules on
    /// each new reading as it is indexed (prefetching each device's rule state a few
    /// readings ahead), let the store enforce retention, drain the notifications.
    fn poll(&mut self, now: SimTime) {
        loop {
            if let Some(next) = self.store.upcoming_due(PREFETCH_AHEAD) {
                self.engine.prefetch(next);
            }
            let Some(ready) = self.store.index_next(now) else {
                break;
            };
            self.engine.handle_event(now, ready);
        }
        self.store.handle_timeout(now);
        while let Some(note) = self.engine.poll_notification() {
            self.sinks.handle_notification(now, note);
        }
    }
}

/// The herd's rules, written out in Rust because the bench crate has no TOML parser
/// (scenario files give the same structures).
fn herd_rules() -> AnalyticsConfig {
    use analytics::{
        ActionConfig, Channel, Combine, Comparison, ConditionConfig, GeofenceTrigger, RuleConfig,
    };
    AnalyticsConfig {
        rules: vec![
            RuleConfig {
                name: "fever".into(),
                truth: Some("fever".into()),
                combine: Combine::All,
                conditions: vec![ConditionConfig::Consecutive {
                    column: "temp".into(),
                    op: Comparison::Above,
                    value: 39.5,
                    clear: Some(39.2),
                    readings: 2,
                }],
                cooldown_s: 21_600,
                actions: vec![ActionConfig {
                    channel: Channel::Sms,
                    to: "+41790000000".into(),
                }],
            },
            RuleConfig {
                name: "stuck".into(),
                truth: Some("stuck".into()),
                combine: Combine::All,
                conditions: vec![ConditionConfig::Stuck {
                    lat: "lat".into(),
                    lon: "lon".into(),
                    radius_m: 50.0,
                    window_s: 43_200,
                    clear_radius_m: None,
                }],
                cooldown_s: 0,
                actions: vec![],
            },
            RuleConfig {
                name: "escaped".into(),
                truth: None,
                combine: Combine::All,
                conditions: vec![ConditionConfig::Geofence {
                    lat: "lat".into(),
                    lon: "lon".into(),
                    trigger: GeofenceTrigger::Exit,
                    polygon: vec![[46.90, 7.40], [46.90, 7.50], [47.00, 7.50], [47.00, 7.40]],
                }],
                cooldown_s: 0,
                actions: vec![],
            },
        ],
    }
}

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
