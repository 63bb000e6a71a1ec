//! The pending-event set: a hierarchical timing wheel totally ordered by (time, sequence).
//!
//! **Order.** Every entry carries its time and a sequence number given at insertion, unique
//! and increasing. Entries leave in ascending `(time, seq)` order, so two entries at the same
//! instant leave in the order they were scheduled: ties never depend on heap or hash order.
//! [`std::collections::BinaryHeap`] over the same keys is the oracle the property tests compare
//! against (`tests/it/queue.rs`).
//!
//! **Shape.** Time is cut into buckets of 2^20 ns (about 1.05 ms). Three levels of 4,096
//! slots hold entries by how far their bucket is from the wheel's current bucket (the level is
//! the index of the highest bit in which the two bucket numbers differ, divided by twelve):
//! level 0 spans 4.3 s of 1 ms slots, level 1 4.9 h of 4.3 s slots, level 2 2.2 years; anything
//! further waits in an overflow heap. Each level keeps a two-tier occupancy bitmap, so finding
//! the next non-empty slot is two `trailing_zeros`. When the earliest non-empty slot is above
//! level 0 its entries cascade down; an entry moves at most twice in its life, and a device
//! timer minutes ahead moves once. The entries of the current bucket are
//! sorted once into a small run from which `pop` takes the last element. An IoT fleet's
//! events (millions of timers minutes to hours ahead, network deliveries milliseconds ahead)
//! fall into a few hundred occupied slots, and every operation is O(1) amortised apart from
//! sorting a bucket's handful of entries.
//!
//! **Memory.** Entries live in per-slot `Vec`s that keep their capacity when drained, so after
//! warm-up scheduling allocates nothing. An entry is the key (16 bytes) plus the payload.
//!
//! **Cancellation.** [`EventQueue::cancel`] takes the [`EventKey`] returned by `push`. A
//! cancelled key goes into a set (looked up, never iterated) and the entry is dropped when it
//! reaches the front. Because keys leave in order, a key at or before the last one returned
//! has already left, and cancelling it reports `false`. Models that re-arm one timer per entity at
//! fleet scale should prefer lazy invalidation (a generation number in the payload) to avoid
//! the set entirely.
//!
//! **Invariant.** Pushing an entry earlier than the last popped time is a caller bug and
//! panics: the kernel's clock never goes backwards. (Skipping cancelled entries, or peeking,
//! may move the wheel past times the caller has not reached; an entry pushed into that gap
//! joins the sorted run of the current bucket and still leaves first.)

use crate::time::SimTime;
use rustc_hash::FxHashSet;
use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeSet, BinaryHeap};

const BUCKET_SHIFT: u32 = 20;
const LEVEL_BITS: u32 = 12;
const SLOTS: usize = 1 << LEVEL_BITS;
const WORDS: usize = SLOTS / 64;
const LEVELS: usize = 3;

/// One level of the wheel: its slots and a two-tier occupancy bitmap (a bit per slot, and a
/// summary bit per 64-slot word), so the first occupied slot is two `trailing_zeros` away.
struct Level<T> {
    slots: Vec<Vec<Entry<T>>>,
    words: [u64; WORDS],
    summary: u64,
}

impl<T> Level<T> {
    fn new() -> Self {
        Level {
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            words: [0; WORDS],
            summary: 0,
        }
    }

    #[inline]
    fn push(&mut self, slot: usize, entry: Entry<T>) {
        self.slots[slot].push(entry);
        self.words[slot / 64] |= 1 << (slot % 64);
        self.summary |= 1 << (slot / 64);
    }

    /// The lowest occupied slot, which is also the earliest (see `EventQueue::refill`).
    #[inline]
    fn first(&self) -> Option<usize> {
        if self.summary == 0 {
            return None;
        }
        let w = self.summary.trailing_zeros() as usize;
        Some(w * 64 + self.words[w].trailing_zeros() as usize)
    }

    #[inline]
    fn clear(&mut self, slot: usize) {
        self.words[slot / 64] &= !(1 << (slot % 64));
        if self.words[slot / 64] == 0 {
            self.summary &= !(1 << (slot / 64));
        }
    }
}

/// The identity of a scheduled entry: its time and its insertion sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey {
    pub time: SimTime,
    pub seq: u64,
}

#[derive(Clone, Copy, Debug)]
struct Entry<T> {
    key: EventKey,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// A timing-wheel priority queue of `T`, ordered by `(time, insertion sequence)`.
pub struct EventQueue<T> {
    /// The bucket number the wheel stands at; every entry in a level is in a later bucket.
    current_bucket: u64,
    /// Entries of `current_bucket`, sorted descending so the earliest is last.
    run: Vec<Entry<T>>,
    levels: Vec<Level<T>>,
    overflow: BinaryHeap<Reverse<Entry<T>>>,
    cancelled: FxHashSet<EventKey>,
    next_seq: u64,
    /// The key of the last entry returned by `pop`: every key at or before it has left, and
    /// no push may be earlier than its time.
    last_returned: Option<EventKey>,
    /// Cancelled entries dropped from the front after `last_returned` (only when a pop or a
    /// peek found nothing live behind them); usually empty.
    skipped: BTreeSet<EventKey>,
    len: usize,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> EventQueue<T> {
    pub fn new() -> Self {
        EventQueue {
            current_bucket: 0,
            run: Vec::new(),
            levels: (0..LEVELS).map(|_| Level::new()).collect(),
            overflow: BinaryHeap::new(),
            cancelled: FxHashSet::default(),
            next_seq: 0,
            last_returned: None,
            skipped: BTreeSet::new(),
            len: 0,
        }
    }

    /// Live (not cancelled) entries.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The sequence number the next push will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Schedules `item` at `time`. Panics if `time` is before the last popped entry's time.
    pub fn push(&mut self, time: SimTime, item: T) -> EventKey {
        if let Some(last) = self.last_returned {
            assert!(
                time >= last.time,
                "EventQueue::push at {time:?}, before the last popped time {:?}",
                last.time
            );
        }
        let key = EventKey {
            time,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        self.len += 1;
        self.place(Entry { key, item });
        key
    }

    /// Cancels a pending entry; `false` if it already left or was cancelled before.
    pub fn cancel(&mut self, key: EventKey) -> bool {
        if key.seq >= self.next_seq
            || self.last_returned.is_some_and(|last| key <= last)
            || self.skipped.contains(&key)
        {
            return false;
        }
        if self.cancelled.insert(key) {
            self.len -= 1;
            true
        } else {
            false
        }
    }

    /// Removes and returns the earliest live entry.
    pub fn pop(&mut self) -> Option<(EventKey, T)> {
        loop {
            let entry = self.pop_any()?;
            if !self.cancelled.is_empty() && self.cancelled.remove(&entry.key) {
                self.skipped.insert(entry.key);
                continue;
            }
            self.len -= 1;
            self.last_returned = Some(entry.key);
            if !self.skipped.is_empty() {
                // Keys up to this one are covered by `last_returned` now.
                self.skipped = self.skipped.split_off(&entry.key);
            }
            return Some((entry.key, entry.item));
        }
    }

    /// The key of the earliest live entry, without removing it.
    pub fn peek_key(&mut self) -> Option<EventKey> {
        loop {
            if self.run.is_empty() && !self.refill() {
                return None;
            }
            let key = self.run.last().expect("refilled").key;
            if !self.cancelled.is_empty() && self.cancelled.remove(&key) {
                self.run.pop();
                self.skipped.insert(key);
                continue;
            }
            return Some(key);
        }
    }

    fn pop_any(&mut self) -> Option<Entry<T>> {
        if self.run.is_empty() && !self.refill() {
            return None;
        }
        self.run.pop()
    }

    fn place(&mut self, entry: Entry<T>) {
        if entry.key.time.as_nanos() >> BUCKET_SHIFT <= self.current_bucket {
            // Within the bucket being served: keep the run sorted (descending).
            let at = self.run.partition_point(|e| e.key > entry.key);
            self.run.insert(at, entry);
        } else {
            self.place_later(entry);
        }
    }

    /// Files an entry of a bucket after `current_bucket` into the wheel or the overflow.
    fn place_later(&mut self, entry: Entry<T>) {
        let bucket = entry.key.time.as_nanos() >> BUCKET_SHIFT;
        let diff = bucket ^ self.current_bucket;
        let level = ((63 - diff.leading_zeros()) / LEVEL_BITS) as usize;
        if level >= LEVELS {
            self.overflow.push(Reverse(entry));
            return;
        }
        let slot = ((bucket >> (LEVEL_BITS * level as u32)) as usize) & (SLOTS - 1);
        self.levels[level].push(slot, entry);
    }

    /// Moves the next non-empty bucket into `run`; `false` if the queue holds nothing.
    fn refill(&mut self) -> bool {
        debug_assert!(self.run.is_empty());
        loop {
            let Some((level, slot)) = self
                .levels
                .iter()
                .enumerate()
                .find_map(|(l, lv)| lv.first().map(|s| (l, s)))
            else {
                return self.refill_from_overflow();
            };
            self.levels[level].clear(slot);
            // Advance to the first bucket of that slot: keep the bits above this level, set
            // this level's digit to `slot`, clear the bits below.
            let shift = LEVEL_BITS * level as u32;
            let above = shift + LEVEL_BITS;
            let high = if above >= 64 {
                0
            } else {
                (self.current_bucket >> above) << above
            };
            self.current_bucket = high | ((slot as u64) << shift);
            let mut entries = std::mem::take(&mut self.levels[level].slots[slot]);
            if level == 0 {
                std::mem::swap(&mut self.run, &mut entries);
                self.levels[0].slots[slot] = entries;
                self.run.sort_unstable_by_key(|e| Reverse(e.key));
                return true;
            }
            for e in entries.drain(..) {
                if e.key.time.as_nanos() >> BUCKET_SHIFT == self.current_bucket {
                    self.run.push(e);
                } else {
                    self.place_later(e);
                }
            }
            self.levels[level].slots[slot] = entries;
            if !self.run.is_empty() {
                self.run.sort_unstable_by_key(|e| Reverse(e.key));
                return true;
            }
        }
    }

    fn refill_from_overflow(&mut self) -> bool {
        let Some(Reverse(first)) = self.overflow.pop() else {
            return false;
        };
        self.current_bucket = first.key.time.as_nanos() >> BUCKET_SHIFT;
        let horizon = LEVEL_BITS * LEVELS as u32;
        let block = self.current_bucket >> horizon;
        self.run.push(first);
        while let Some(Reverse(e)) = self.overflow.peek() {
            if (e.key.time.as_nanos() >> BUCKET_SHIFT) >> horizon != block {
                break;
            }
            let Reverse(e) = self.overflow.pop().expect("peeked");
            if e.key.time.as_nanos() >> BUCKET_SHIFT == self.current_bucket {
                self.run.push(e);
            } else {
                self.place_later(e);
            }
        }
        self.run.sort_unstable_by_key(|e| Reverse(e.key));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimDuration;

    #[test]
    fn same_time_entries_leave_in_insertion_order() {
        let mut q = EventQueue::new();
        let t = SimTime::from_secs(5);
        for i in 0..10u32 {
            q.push(t, i);
        }
        let out: Vec<u32> = std::iter::from_fn(|| q.pop().map(|(_, v)| v)).collect();
        assert_eq!(out, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn far_and_near_entries_interleave_in_time_order() {
        let mut q = EventQueue::new();
        let times = [
            SimDuration::from_hours(24 * 800), // beyond the wheel: overflow
            SimDuration::from_hours(3),
            SimDuration::from_millis(1),
            SimDuration::from_secs(299),
            SimDuration::ZERO,
            SimDuration::from_nanos(1),
            SimDuration::from_hours(24 * 800) + SimDuration::from_nanos(1),
        ];
        for (i, d) in times.iter().enumerate() {
            q.push(SimTime::ZERO + *d, i);
        }
        let mut popped = vec![];
        while let Some((k, v)) = q.pop() {
            popped.push((k.time, v));
            // Re-arm a near timer from inside the run, as a model would.
            if v == 2 {
                q.push(k.time + SimDuration::from_millis(2), 100);
            }
        }
        let order: Vec<usize> = popped.iter().map(|p| p.1).collect();
        assert_eq!(order, vec![4, 5, 2, 100, 3, 1, 0, 6]);
        assert!(popped.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn cancel_removes_only_pending_entries() {
        let mut q = EventQueue::new();
        let a = q.push(SimTime::from_secs(1), 'a');
        let b = q.push(SimTime::from_secs(2), 'b');
        assert_eq!(q.pop().map(|p| p.1), Some('a'));
        assert!(!q.cancel(a), "a has left already");
        assert!(q.cancel(b));
        assert!(!q.cancel(b), "cancelled twice");
        assert_eq!(q.len(), 0);
        assert_eq!(q.pop(), None);
    }

    #[test]
    #[should_panic(expected = "before the last popped time")]
    fn pushing_into_the_past_panics() {
        let mut q = EventQueue::new();
        q.push(SimTime::from_secs(2), ());
        q.pop();
        q.push(SimTime::from_secs(1), ());
    }
}
