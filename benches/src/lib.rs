//! Workload generators shared by the criterion benches, so that the timing wheel and the
//! `BinaryHeap` baseline are driven by exactly the same sequence of operations.

pub mod store_pipeline;

use sim::rng::below;
use sim::{CompactRng, EntityId, Event, EventKind, EventQueue, SimDuration, SimTime};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// A device timer fired: re-arm it 0-300 s ahead and send a reading.
pub const TIMER: EventKind = EventKind(0);
/// A reading arrives at the cloud: send an acknowledgement back.
pub const READING: EventKind = EventKind(1);
/// An acknowledgement arrives at the device.
pub const ACK: EventKind = EventKind(2);

const TIMER_SPAN_NS: u64 = 300_000_000_000;
const NET_MIN_NS: u64 = 1_000_000;
const NET_SPAN_NS: u64 = 199_000_000;

/// What a fleet does with each event: a timer re-arms 0-300 s ahead and sends a reading that
/// arrives 1-200 ms later; the reading's acknowledgement comes back 1-200 ms after that.
/// Returns the follow-up events to schedule, as (delay, event).
#[inline]
pub fn fleet_reaction(
    ev: Event,
    rng: &mut CompactRng,
    out: &mut [(SimDuration, Event); 2],
) -> usize {
    match ev.kind {
        TIMER => {
            out[0] = (SimDuration::from_nanos(below(rng, TIMER_SPAN_NS)), ev);
            out[1] = (
                SimDuration::from_nanos(NET_MIN_NS + below(rng, NET_SPAN_NS)),
                Event::new(ev.target, READING, ev.payload),
            );
            2
        }
        READING => {
            out[0] = (
                SimDuration::from_nanos(NET_MIN_NS + below(rng, NET_SPAN_NS)),
                Event::new(ev.target, ACK, ev.payload),
            );
            1
        }
        _ => 0,
    }
}

/// The initial timers of `entities` devices, spread over the first 300 s.
pub fn initial_timers(
    entities: u32,
    rng: &mut CompactRng,
) -> impl Iterator<Item = (SimTime, Event)> + '_ {
    (0..entities).map(move |i| {
        (
            SimTime::from_nanos(below(rng, TIMER_SPAN_NS)),
            Event::new(EntityId(i), TIMER, u64::from(i)),
        )
    })
}

/// The fleet workload on the kernel's timing wheel.
pub struct WheelFleet {
    pub queue: EventQueue<Event>,
    rng: CompactRng,
}

impl WheelFleet {
    pub fn new(entities: u32, seed: u64) -> Self {
        let mut rng = CompactRng::from_seed_u64(seed);
        let mut queue = EventQueue::new();
        for (t, e) in initial_timers(entities, &mut rng).collect::<Vec<_>>() {
            queue.push(t, e);
        }
        WheelFleet { queue, rng }
    }

    /// Processes `n` events; returns a checksum so the work cannot be optimised away.
    pub fn run(&mut self, n: u64) -> u64 {
        let mut out = [(SimDuration::ZERO, Event::new(EntityId(0), TIMER, 0)); 2];
        let mut sum = 0u64;
        for _ in 0..n {
            let (key, ev) = self.queue.pop().expect("the fleet never runs dry");
            sum = sum.wrapping_add(key.time().as_nanos() ^ ev.payload);
            let k = fleet_reaction(ev, &mut self.rng, &mut out);
            for (d, e) in &out[..k] {
                self.queue.push(key.time() + *d, *e);
            }
        }
        sum
    }
}

/// A binary-heap entry ordered by (time, seq) only, carrying the same 16-byte event.
#[derive(Clone, Copy, Debug)]
pub struct HeapEntry {
    pub time: SimTime,
    pub seq: u64,
    pub event: Event,
}

impl PartialEq for HeapEntry {
    fn eq(&self, o: &Self) -> bool {
        (self.time, self.seq) == (o.time, o.seq)
    }
}
impl Eq for HeapEntry {}
impl PartialOrd for HeapEntry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for HeapEntry {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.time, self.seq).cmp(&(o.time, o.seq))
    }
}

/// The same fleet workload on `std::collections::BinaryHeap` (the baseline and the oracle).
pub struct HeapFleet {
    pub heap: BinaryHeap<Reverse<HeapEntry>>,
    seq: u64,
    rng: CompactRng,
}

impl HeapFleet {
    pub fn new(entities: u32, seed: u64) -> Self {
        let mut rng = CompactRng::from_seed_u64(seed);
        let mut heap = BinaryHeap::new();
        let mut seq = 0;
        for (time, event) in initial_timers(entities, &mut rng).collect::<Vec<_>>() {
            heap.push(Reverse(HeapEntry { time, seq, event }));
            seq += 1;
        }
        HeapFleet { heap, seq, rng }
    }

    pub fn run(&mut self, n: u64) -> u64 {
        let mut out = [(SimDuration::ZERO, Event::new(EntityId(0), TIMER, 0)); 2];
        let mut sum = 0u64;
        for _ in 0..n {
            let Reverse(e) = self.heap.pop().expect("the fleet never runs dry");
            sum = sum.wrapping_add(e.time.as_nanos() ^ e.event.payload);
            let k = fleet_reaction(e.event, &mut self.rng, &mut out);
            for (d, ev) in &out[..k] {
                self.heap.push(Reverse(HeapEntry {
                    time: e.time + *d,
                    seq: self.seq,
                    event: *ev,
                }));
                self.seq += 1;
            }
        }
        sum
    }
}

/// A bench's `main`: re-executes into the heap `fleetsim` runs with (transparent huge pages;
/// `FLEETSIM_HUGEPAGES=0` for without), then runs the criterion groups as `criterion_main!`
/// would.
#[macro_export]
macro_rules! bench_main {
    ($($group:path),+ $(,)?) => {
        fn main() {
            fleetsim::hugepages::reexec();
            $($group();)+
            criterion::Criterion::default()
                .configure_from_args()
                .final_summary();
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wheel_and_the_heap_process_the_same_events() {
        let mut w = WheelFleet::new(10_000, 3);
        let mut h = HeapFleet::new(10_000, 3);
        assert_eq!(w.run(200_000), h.run(200_000));
        assert_eq!(w.queue.len(), h.heap.len());
    }
}
