//! Event-queue throughput on a fleet-shaped workload: 1,000,000 devices each re-arming a timer
//! uniformly 0-300 s ahead, with 1-200 ms network deliveries (a reading and its ack) in
//! between. The kernel's timing wheel and `std::collections::BinaryHeap` run the identical
//! sequence of operations (`benches::WheelFleet` / `benches::HeapFleet`); a third case runs the
//! whole kernel (`sim::Sim`: clock, trace hash, dispatch to a world) on the same workload.
//!
//! Run: `cargo bench -p benches --bench queue`. Throughput is reported in events/s.

use benches::{fleet_reaction, initial_timers, HeapFleet, WheelFleet, TIMER};
use criterion::{black_box, criterion_group, Criterion, Throughput};
use sim::{CompactRng, EntityId, Epoch, Event, Kernel, Seed, Sim, SimDuration, World};

const ENTITIES: u32 = 1_000_000;
const BATCH: u64 = 1_000_000;

struct FleetWorld {
    rng: CompactRng,
    out: [(SimDuration, Event); 2],
}

impl World for FleetWorld {
    #[inline]
    fn handle(&mut self, k: &mut Kernel, ev: Event) {
        let n = fleet_reaction(ev, &mut self.rng, &mut self.out);
        for (d, e) in &self.out[..n] {
            k.schedule_in(*d, *e);
        }
    }
}

fn queue(c: &mut Criterion) {
    let mut g = c.benchmark_group("fleet_1M_entities");
    g.throughput(Throughput::Elements(BATCH));
    g.sample_size(10);

    let mut wheel = WheelFleet::new(ENTITIES, 42);
    wheel.run(2 * BATCH); // reach the steady mix of timers and deliveries
    g.bench_function("timing_wheel", |b| b.iter(|| black_box(wheel.run(BATCH))));

    let mut heap = HeapFleet::new(ENTITIES, 42);
    heap.run(2 * BATCH);
    g.bench_function("binary_heap", |b| b.iter(|| black_box(heap.run(BATCH))));

    let mut rng = CompactRng::from_seed_u64(42);
    let timers: Vec<_> = initial_timers(ENTITIES, &mut rng).collect();
    let mut sim = Sim::new(
        Seed(42),
        Epoch::default(),
        FleetWorld {
            rng,
            out: [(SimDuration::ZERO, Event::new(EntityId(0), TIMER, 0)); 2],
        },
    );
    for (t, e) in timers {
        sim.parts_mut().0.schedule(t, e);
    }
    for _ in 0..2 * BATCH {
        sim.step().expect("no checkers");
    }
    g.bench_function("kernel_sim_step", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                sim.step().expect("no checkers");
            }
            black_box(sim.kernel().trace_hash())
        })
    });
    g.finish();
}

criterion_group!(benches, queue);
benches::bench_main!(benches);
