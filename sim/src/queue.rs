//! The pending-event set: a hierarchical timing wheel totally ordered by (time, sequence).
//!
//! **Order.** Every entry carries its time and a sequence number given at insertion, unique
//! and increasing. Entries leave in ascending `(time, seq)` order, so two entries at the same
//! instant leave in the order they were scheduled: ties never depend on heap or hash order.
//! [`std::collections::BinaryHeap`] over the same keys is the oracle the property tests compare
//! against (`tests/it/queue_oracle.rs`).
//!
//! **Shape.** Time is cut into buckets of 2^21 ns (about 2.1 ms) and blocks of 128 buckets
//! (268 ms). Entries of the current block sit in a 128-slot near wheel, one slot a bucket.
//! Entries of later blocks sit in three far levels of 4,096 slots, chosen by the highest time
//! bit in which the entry differs from the current block: level 1 holds 268 ms slots (18.3
//! min), level 2 18.3 min slots (52 days), level 3 52-day slots (the rest of the u64 range),
//! so no entry is ever out of range. Each level keeps a two-tier occupancy bitmap, so the next
//! occupied slot is two `trailing_zeros` away.
//!
//! A device timer minutes ahead is appended once to its level-1 slot (one cache line written
//! every two timers). When the wheel reaches that block, the slot cascades into the near
//! wheel's 128 buckets, whose tails are hot in cache, and each bucket is ordered when it
//! becomes current (tens of entries at fleet rates, in cache). A slot's vector is in
//! insertion order (appends only; cascades keep order), so each bucket is too, and ordering
//! it by (time within the bucket, position) is ordering by (time, seq): integers packed into
//! a `u64` and sorted, the entries then copied out in that order. Entries at or before the
//! current bucket (a reply scheduled for "now") join its ordered run directly. Entries are
//! `Copy` for this.
//!
//! **Memory.** Entries live in per-slot `Vec`s. A drained vector goes to its level's pool
//! (up to 64 vectors of up to 65,536 entries) and the next slot to fill takes it, so after
//! warm-up scheduling rarely allocates (never per event), and capacity follows the slots in
//! use rather than staying parked in every slot the wheel has passed. An entry is the key
//! (16 bytes) plus the payload.
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
use std::cmp::Ordering;
use std::collections::BTreeSet;

const BUCKET_SHIFT: u32 = 21;
const BUCKET_MASK: u64 = (1 << BUCKET_SHIFT) - 1;
const NEAR_BITS: u32 = 7;
/// Bits of the time that select a block: everything above bucket and near-slot bits.
const BLOCK_SHIFT: u32 = BUCKET_SHIFT + NEAR_BITS;
const FAR_BITS: u32 = 12;
/// The lowest time bit of each far level's slot index (levels 1, 2, 3).
const FAR_SHIFT: [u32; 3] = [
    BLOCK_SHIFT,
    BLOCK_SHIFT + FAR_BITS,
    BLOCK_SHIFT + 2 * FAR_BITS,
];

/// Drained slot vectors a level keeps for reuse, and the largest (in entries) it keeps.
const POOL_MAX: usize = 64;
const POOLED_ENTRIES_MAX: usize = 1 << 16;

/// One level of the wheel: its slots and a two-tier occupancy bitmap (a bit per slot, and a
/// summary bit per 64-slot word), so the first occupied slot is two `trailing_zeros` away.
/// Drained vectors go to a small pool and the next slot to fill takes one, so capacity
/// follows the slots in use instead of staying parked in every slot ever used.
struct Level<T> {
    slots: Vec<Vec<Entry<T>>>,
    words: Vec<u64>,
    summary: u64,
    pool: Vec<Vec<Entry<T>>>,
}

impl<T> Level<T> {
    fn new(bits: u32) -> Self {
        let n = 1usize << bits;
        Level {
            slots: (0..n).map(|_| Vec::new()).collect(),
            words: vec![0; n / 64],
            summary: 0,
            pool: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, slot: usize, entry: Entry<T>) {
        let v = &mut self.slots[slot];
        if v.capacity() == 0 {
            if let Some(pooled) = self.pool.pop() {
                *v = pooled;
            }
        }
        v.push(entry);
        self.words[slot / 64] |= 1 << (slot % 64);
        self.summary |= 1 << (slot / 64);
    }

    /// The lowest occupied slot. Every occupied slot is later than the wheel's position at
    /// this level (an entry is filed at the level of its highest differing time bit), so the
    /// lowest is the earliest.
    #[inline]
    fn first(&self) -> Option<usize> {
        if self.summary == 0 {
            return None;
        }
        let w = self.summary.trailing_zeros() as usize;
        Some(w * 64 + self.words[w].trailing_zeros() as usize)
    }

    /// Takes a slot's entries (the caller hands the emptied vector back with `recycle`).
    #[inline]
    fn take(&mut self, slot: usize) -> Vec<Entry<T>> {
        self.words[slot / 64] &= !(1 << (slot % 64));
        if self.words[slot / 64] == 0 {
            self.summary &= !(1 << (slot / 64));
        }
        std::mem::take(&mut self.slots[slot])
    }

    /// Keeps an emptied vector for the next slot to fill, unless the pool is full or the
    /// vector is huge (a rare cascade of many minutes of timers must not pin its memory).
    #[inline]
    fn recycle(&mut self, emptied: Vec<Entry<T>>) {
        debug_assert!(emptied.is_empty());
        if self.pool.len() < POOL_MAX && emptied.capacity() <= POOLED_ENTRIES_MAX {
            self.pool.push(emptied);
        }
    }
}

/// The identity of a scheduled entry: its time and its insertion sequence number. Only the
/// queue makes keys, so a key handed to [`EventQueue::cancel`] names an entry that was
/// really pushed (a made-up key could name a time the entry does not have, and the queue
/// would count an entry cancelled that it still holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey {
    time: SimTime,
    seq: u64,
}

impl EventKey {
    /// When the entry is due.
    pub fn time(self) -> SimTime {
        self.time
    }
    /// Its insertion sequence number: ties in time leave in this order.
    pub fn seq(self) -> u64 {
        self.seq
    }
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
    /// The bucket the near wheel stands at: `run` holds entries at or before it, the near
    /// wheel entries of later buckets in the same block, the far levels later blocks.
    current_bucket: u64,
    /// Entries at or before `current_bucket`, sorted descending so the earliest is last.
    run: Vec<Entry<T>>,
    /// Scratch for ordering a bucket: (time within the bucket << 32) | position.
    order: Vec<u64>,
    near: Level<T>,
    far: [Level<T>; 3],
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

impl<T: Copy> Default for EventQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Entries are small plain values (the kernel's are 16-byte events), copied when a bucket is
/// ordered.
impl<T: Copy> EventQueue<T> {
    pub fn new() -> Self {
        EventQueue {
            current_bucket: 0,
            run: Vec::new(),
            order: Vec::new(),
            near: Level::new(NEAR_BITS),
            far: std::array::from_fn(|_| Level::new(FAR_BITS)),
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
            let key = self.head()?;
            if !self.cancelled.is_empty() && self.cancelled.remove(&key) {
                self.pop_any();
                self.skipped.insert(key);
                continue;
            }
            return Some(key);
        }
    }

    fn pop_any(&mut self) -> Option<Entry<T>> {
        self.head()?;
        self.run.pop()
    }

    /// The earliest entry's key, with its bucket loaded into `run` (the end of `run` is the
    /// earliest entry); `None` when the queue holds nothing.
    #[inline]
    fn head(&mut self) -> Option<EventKey> {
        loop {
            if let Some(r) = self.run.last() {
                return Some(r.key);
            }
            if let Some(slot) = self.near.first() {
                self.load_near(slot);
            } else if !self.advance_block() {
                return None;
            }
        }
    }

    /// Moves the near wheel's bucket `slot` (its earliest occupied one) into `run`.
    #[inline]
    fn load_near(&mut self, slot: usize) {
        self.current_bucket = ((self.current_bucket >> NEAR_BITS) << NEAR_BITS) | slot as u64;
        let mut entries = self.near.take(slot);
        // The bucket is in insertion (sequence) order, so ordering by (time within the bucket,
        // position) is (time, seq) order. Sort those as packed integers, then lay the entries
        // out descending so the earliest is last: cheaper than comparison-sorting the entries.
        debug_assert!(self.run.is_empty() && entries.len() <= u32::MAX as usize);
        self.order.clear();
        self.order.extend(
            entries
                .iter()
                .enumerate()
                .map(|(i, e)| ((e.key.time.as_nanos() & BUCKET_MASK) << 32) | i as u64),
        );
        self.order.sort_unstable();
        self.run.extend(
            self.order
                .iter()
                .rev()
                .map(|&k| entries[(k as u32) as usize]),
        );
        entries.clear();
        self.near.recycle(entries);
    }

    /// With `run` and the near wheel empty, moves to the earliest later slot of the far levels
    /// and cascades its entries down (a level-1 slot into the near wheel's buckets).
    fn advance_block(&mut self) -> bool {
        debug_assert!(self.run.is_empty() && self.near.first().is_none());
        loop {
            let Some((level, slot)) = self
                .far
                .iter()
                .enumerate()
                .find_map(|(l, lv)| lv.first().map(|s| (l, s)))
            else {
                return false;
            };
            // Stand at the first instant of that slot: keep the time bits above the level,
            // set the level's digit, clear the bits below.
            let shift = FAR_SHIFT[level];
            let above = shift + FAR_BITS;
            let cur = self.current_bucket << BUCKET_SHIFT;
            let high = if above >= 64 {
                0
            } else {
                (cur >> above) << above
            };
            self.current_bucket = (high | ((slot as u64) << shift)) >> BUCKET_SHIFT;
            let mut entries = self.far[level].take(slot);
            // A slot's vector is in insertion order (appends only, and cascades keep order),
            // so each bucket it fills is too.
            for e in entries.drain(..) {
                self.place_later(e);
            }
            self.far[level].recycle(entries);
            if self.near.first().is_some() {
                return true;
            }
        }
    }

    fn place(&mut self, entry: Entry<T>) {
        if entry.key.time.as_nanos() >> BUCKET_SHIFT <= self.current_bucket {
            // At or before the bucket being served: keep the run sorted (descending).
            let at = self.run.partition_point(|e| e.key > entry.key);
            self.run.insert(at, entry);
        } else {
            self.place_later(entry);
        }
    }

    /// Files an entry of a bucket after `current_bucket` into the near wheel or a far level.
    #[inline(always)]
    fn place_later(&mut self, entry: Entry<T>) {
        let t = entry.key.time.as_nanos();
        let diff = t ^ (self.current_bucket << BUCKET_SHIFT);
        if diff >> BLOCK_SHIFT == 0 {
            let slot = ((t >> BUCKET_SHIFT) as usize) & ((1 << NEAR_BITS) - 1);
            self.near.push(slot, entry);
            return;
        }
        let high_bit = 63 - diff.leading_zeros();
        let level = ((high_bit - BLOCK_SHIFT) / FAR_BITS) as usize;
        let slot = ((t >> FAR_SHIFT[level]) as usize) & ((1 << FAR_BITS) - 1);
        self.far[level].push(slot, entry);
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
            SimDuration::from_hours(24 * 800), // level 3
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
