//! Collar update benchmark (issue: hardware models).
//!
//! The cost of one cattle-collar sampling cycle, `hardware::collar::Collar::update`: debit the
//! sleep since the last cycle, advance the cow's physiology and grazing walk to `now` (inside
//! its pasture polygon), sample the body-temperature probe, take a GNSS fix (or fail), and debit
//! the energy ledger. Target: ≤ 100 ns on one core.
//!
//! Two herd sizes, every collar updated once per simulated 5 minutes in id order: 10,000
//! collars (1.2 MB of state, cache-resident) and 1,000,000 (the headline herd, 120 MB, every
//! update touches cold state).
//!
//! Run: `cargo bench -p benches --bench collar_update -- --warm-up-time 1 --measurement-time 3`.
//! Throughput is in collar updates/s; time per iteration divided by `BATCH` is ns/update.

use criterion::{black_box, criterion_group, Criterion, Throughput};
use geometry::Polygon;
use hardware::collar::{Collar, CollarConfig, CollarSpec};
use sim::{Seed, SimDuration, SimTime};

const BATCH: u64 = 10_000;
const INTERVAL: SimDuration = SimDuration::from_secs(300);

struct Herd {
    spec: CollarSpec,
    collars: Vec<Collar>,
    next: usize,
    now: SimTime,
}

impl Herd {
    fn new(size: u64) -> Herd {
        // A 2 km × 1.5 km pasture with one notch, so the fence test is not a plain rectangle.
        let pasture = Polygon::new(
            "bench pasture",
            &[
                [0.0, 0.0],
                [2_000.0, 0.0],
                [2_000.0, 1_500.0],
                [1_200.0, 1_500.0],
                [1_000.0, 1_100.0],
                [800.0, 1_500.0],
                [0.0, 1_500.0],
            ],
        )
        .expect("valid pasture");
        let spec = CollarSpec::new(CollarConfig::default(), pasture).expect("valid collar spec");
        let collars = (0..size)
            .map(|id| Collar::new(Seed(42), id, &spec, SimTime::ZERO).expect("valid collar"))
            .collect();
        Herd {
            spec,
            collars,
            next: 0,
            now: SimTime::ZERO + INTERVAL,
        }
    }

    fn step(&mut self) {
        let c = &mut self.collars[self.next];
        black_box(c.update(self.now, &self.spec));
        self.next += 1;
        if self.next == self.collars.len() {
            self.next = 0;
            self.now += INTERVAL;
        }
    }
}

fn collar_update(c: &mut Criterion) {
    let mut group = c.benchmark_group("collar_update");
    group.throughput(Throughput::Elements(BATCH));
    for size in [10_000u64, 1_000_000] {
        let mut herd = Herd::new(size);
        group.bench_function(format!("herd_{size}"), |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    herd.step();
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, collar_update);
benches::bench_main!(benches);
