//! The timing wheel pops exactly what a `BinaryHeap` over (time, seq) pops.

use proptest::prelude::*;
use sim::{EventKey, EventQueue, SimTime};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

#[derive(Clone, Debug)]
enum Op {
    /// Push at `now + delta` nanoseconds.
    Push(u64),
    Pop,
    /// Peek at the next key (the kernel peeks before every step).
    Peek,
    /// Cancel the i-th key handed out so far (modulo the count).
    Cancel(usize),
}

/// Deltas shaped like a fleet: same-instant ties, sub-bucket, milliseconds, minutes, hours,
/// and beyond the wheel's two-year horizon.
fn delta() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        0u64..2_000_000,
        0u64..300_000_000_000,
        0u64..86_400_000_000_000,
        (1u64 << 56)..(1u64 << 58),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => delta().prop_map(Op::Push),
        4 => Just(Op::Pop),
        2 => Just(Op::Peek),
        1 => any::<usize>().prop_map(Op::Cancel),
    ]
}

/// The oracle: a binary heap plus a set of cancelled keys.
struct Oracle {
    heap: BinaryHeap<Reverse<(EventKey, u32)>>,
    cancelled: BTreeSet<EventKey>,
    popped: BTreeSet<EventKey>,
}

impl Oracle {
    fn pop(&mut self) -> Option<(EventKey, u32)> {
        while let Some(Reverse((k, v))) = self.heap.pop() {
            if !self.cancelled.contains(&k) {
                self.popped.insert(k);
                return Some((k, v));
            }
        }
        None
    }
    fn cancel(&mut self, k: EventKey) -> bool {
        !self.popped.contains(&k)
            && self.heap.iter().any(|Reverse((hk, _))| *hk == k)
            && self.cancelled.insert(k)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_wheel_pops_what_a_binary_heap_pops(ops in proptest::collection::vec(op(), 1..400)) {
        let mut q: EventQueue<u32> = EventQueue::new();
        let mut oracle = Oracle { heap: BinaryHeap::new(), cancelled: BTreeSet::new(), popped: BTreeSet::new() };
        let mut keys: Vec<EventKey> = Vec::new();
        let mut now = 0u64;
        for (i, op) in ops.into_iter().enumerate() {
            match op {
                Op::Push(d) => {
                    let t = SimTime::from_nanos(now.saturating_add(d));
                    let k = q.push(t, i as u32);
                    oracle.heap.push(Reverse((k, i as u32)));
                    keys.push(k);
                }
                Op::Pop => {
                    let got = q.pop();
                    let want = oracle.pop();
                    prop_assert_eq!(got, want);
                    if let Some((k, _)) = got {
                        now = k.time().as_nanos();
                    }
                }
                Op::Peek => {
                    let want = {
                        let mut live: Vec<EventKey> = oracle.heap.iter().map(|Reverse((k, _))| *k).filter(|k| !oracle.cancelled.contains(k)).collect();
                        live.sort();
                        live.first().copied()
                    };
                    prop_assert_eq!(q.peek_key(), want);
                }
                Op::Cancel(j) if !keys.is_empty() => {
                    let k = keys[j % keys.len()];
                    prop_assert_eq!(q.cancel(k), oracle.cancel(k));
                }
                Op::Cancel(_) => {}
            }
            let live = oracle.heap.iter().filter(|Reverse((k, _))| !oracle.cancelled.contains(k)).count();
            prop_assert_eq!(q.len(), live);
        }
        // Drain both.
        loop {
            let got = q.pop();
            prop_assert_eq!(got, oracle.pop());
            if got.is_none() { break; }
        }
    }
}

#[test]
fn a_million_fleet_timers_leave_in_order() {
    let mut q: EventQueue<u32> = EventQueue::new();
    let mut rng = sim::CompactRng::from_seed_u64(7);
    for i in 0..1_000_000u32 {
        let d = sim::rng::below(&mut rng, 300_000_000_000);
        q.push(SimTime::from_nanos(d), i);
    }
    let mut last: Option<EventKey> = None;
    let mut n = 0;
    while let Some((k, _)) = q.pop() {
        assert!(last.is_none_or(|l| k > l), "{k:?} after {last:?}");
        last = Some(k);
        n += 1;
    }
    assert_eq!(n, 1_000_000);
}
