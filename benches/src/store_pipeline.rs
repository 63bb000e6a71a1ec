//! The store benchmark's workload: the herd back end's hot path, per collar reading,
//! called as the herd calls it (see `benches/store_ingest.rs` for what it measures), shared
//! by the criterion bench and the `store_pipeline` example, which runs it outside criterion
//! for callgrind and perf:
//!
//! ```text
//! cargo build --release -p benches --example store_pipeline
//! FLEETSIM_HUGEPAGES=0 valgrind --tool=callgrind target/release/examples/store_pipeline 10000 200000
//! ```
//!
//! (without the variable the example re-executes itself, as `fleetsim` does, and valgrind
//! would not follow it). `Pipeline::run`'s inclusive count divided by the readings run
//! (the first pass through the pool, then the second argument: 2,200,000 here) is the
//! instructions per reading.

use analytics::{AnalyticsConfig, NotificationSinks, RuleEngine};
use sim::rng::{standard_normal, unit_f64};
use sim::{CompactRng, Epoch, Seed, SimDuration, SimTime, StreamKey};
use store::{
    DeviceIndex, IngestEvent, Schema, StoreConfig, TimeSeriesStore, TimestampSource, PREFETCH_AHEAD,
};

/// Readings per measured iteration of the criterion bench.
pub const BATCH: u64 = 100_000;
/// The herd back end's poll interval (`HerdConfig::backend_poll`).
const POLL: SimDuration = SimDuration::from_secs(5);
const INTERVAL_S: u64 = 300;
const LAT0: f64 = 46.95;
const LON0: f64 = 7.45;
const M_PER_DEG: f64 = 111_195.0;

/// The herd back end's store and rules, fed a replayed collar fleet.
pub struct Pipeline {
    pub store: TimeSeriesStore,
    pub engine: RuleEngine,
    pub sinks: NotificationSinks,
    /// The replayed readings: every device's walk for `rounds` intervals.
    pub pool: Vec<IngestEvent>,
    rounds: u32,
    next: usize,
    pass: u64,
    /// The next back-end poll.
    poll_at: SimTime,
}

impl Pipeline {
    /// A pipeline over `devices` collars, its readings generated (not yet run).
    pub fn new(devices: u32) -> Pipeline {
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
                let lon = LON0 + *x / (M_PER_DEG * geometry::cos_deg(LAT0));
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
    pub fn run(&mut self, n: u64) {
        // The pass's shifts, added as integers: the replay's own cost should stay small.
        let rounds = u64::from(self.rounds);
        let shifts = |pass: u64| {
            (
                pass * rounds * INTERVAL_S * 1_000_000_000,
                // Sequence numbers are `u32`s and wrap, as the firmware's do.
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
            self.next += 1;
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

/// The herd's two rules (as `scenarios/herd.toml` has them, thresholds aside) and a
/// pasture geofence exit, written out in Rust: the bench crate reads no scenario files
/// (they give the same structures).
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
