//! The ingestion backlog and the change feed, in one ring.
//!
//! An event is written once, when it is ingested, and read where it lies: by indexing
//! when it becomes queryable, then by the change feed's consumer, which borrows it. A
//! separate feed would copy every indexed event (72 bytes) into a second buffer, and at a
//! million devices a poll's feed (17,000 events, 1.2 MB) no longer fits the core's cache.
//!
//! Entries are addressed by position, a counter that only grows; position `p` lives in
//! `buf[p & mask]`, the capacity being a power of two. The positions split the ring in
//! order:
//!
//! - `[start, feed_end)`: the change feed, indexed events not yet polled;
//! - `[feed_end, indexed)`: a gap of events indexed but not fed (dropped by
//!   de-duplication, or indexed without a feed), reused once the ring is full;
//! - `[indexed, end)`: the backlog proper, waiting to become queryable.
//!
//! While nothing is dropped, `feed_end == indexed` and an event fed stays where it is;
//! after a drop, each event fed is moved down to `feed_end`. A push into a full ring first
//! frees what is neither fed nor waiting (`reclaim`): all of it when the feed is drained
//! (the usual case, no copying), or else the gap, by moving the feed up over it once the
//! gap is at least as long as the feed, so a consumer that never quite drains the feed
//! costs amortised constant time per event and bounded memory; only then does the ring
//! grow. Nothing is lent while a push runs (it needs `&mut`). Drops are rare: duplicates
//! are a few per million.
//!
//! Positions count events, so no run comes near overflowing them (at a million events a
//! second, 2⁶⁴ takes 580,000 years). The per-event additions to them (a push, an event
//! indexed, a look-ahead) are unchecked `wrapping_*` calls, so the release build's
//! overflow checks cost nothing there; the positions themselves never wrap, and the
//! comparisons between them are plain ones.

use crate::schema::{DeviceIndex, IngestEvent, MAX_COLUMNS};
use sim::SimTime;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Pending {
    pub queryable_at: SimTime,
    pub event: IngestEvent,
}

/// What fills the ring's unused entries.
const VACANT: Pending = Pending {
    queryable_at: SimTime::ZERO,
    event: IngestEvent {
        device: DeviceIndex(0),
        seq: 0,
        event_time: SimTime::ZERO,
        enqueued_time: SimTime::ZERO,
        values: [0.0; MAX_COLUMNS],
    },
};

const MIN_CAPACITY: usize = 64;

pub(crate) struct Backlog {
    buf: Vec<Pending>,
    mask: usize,
    start: usize,
    feed_end: usize,
    indexed: usize,
    end: usize,
}

impl Backlog {
    pub fn new() -> Self {
        Backlog {
            buf: Vec::new(),
            mask: 0,
            start: 0,
            feed_end: 0,
            indexed: 0,
            end: 0,
        }
    }

    /// Entries the ring has room for.
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Events waiting to become queryable.
    #[inline]
    pub fn waiting(&self) -> usize {
        self.end.wrapping_sub(self.indexed)
    }

    /// Adds an ingested event at the back.
    #[inline]
    pub fn push(&mut self, p: Pending) {
        if self.end.wrapping_sub(self.start) == self.buf.len() {
            self.reclaim();
            if self.end - self.start == self.buf.len() {
                self.grow();
            }
        }
        self.buf[self.end & self.mask] = p;
        self.end = self.end.wrapping_add(1);
    }

    /// Doubles the capacity, keeping every entry at its position.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let capacity = (self.buf.len() * 2).max(MIN_CAPACITY);
        let mut buf = vec![VACANT; capacity];
        for pos in self.start..self.end {
            buf[pos & (capacity - 1)] = self.buf[pos & self.mask];
        }
        self.buf = buf;
        self.mask = capacity - 1;
    }

    /// The entry at `pos`, which must lie in `[start, end)`.
    #[inline]
    fn at(&self, pos: usize) -> &Pending {
        debug_assert!((self.start..self.end).contains(&pos));
        &self.buf[pos & self.mask]
    }

    /// The oldest event not yet indexed.
    #[inline]
    pub fn next_to_index(&self) -> Option<&Pending> {
        (self.indexed < self.end).then(|| self.at(self.indexed))
    }

    /// The position of the next event to index (a counter that only grows).
    #[inline]
    pub fn next_position(&self) -> usize {
        self.indexed
    }

    /// The event indexed last. It stays where it is, unfed, until the feed before it is
    /// drained and [`Self::reclaim`] runs (from a push, which needs `&mut` and so ends the
    /// loan).
    #[inline]
    pub fn last_indexed(&self) -> &IngestEvent {
        // Checked in debug builds (the tests'): a call before anything was indexed would
        // read a vacant entry.
        debug_assert!(self.indexed > self.start);
        &self.buf[self.indexed.wrapping_sub(1) & self.mask].event
    }

    /// The event `ahead` places on from the next one to index (0: that one), if any.
    #[inline]
    pub fn waiting_ahead(&self, ahead: usize) -> Option<&Pending> {
        // Compared with the count waiting, so no `ahead` (it comes from callers) can
        // wrap the position round to an entry already indexed.
        (ahead < self.waiting()).then(|| self.at(self.indexed.wrapping_add(ahead)))
    }

    /// Marks the next event to index as indexed; `feed` says whether it joins the
    /// change feed.
    #[inline]
    pub fn mark_indexed(&mut self, feed: bool) {
        debug_assert!(self.indexed < self.end);
        if feed {
            if self.feed_end != self.indexed {
                self.buf[self.feed_end & self.mask] = *self.at(self.indexed);
            }
            self.feed_end = self.feed_end.wrapping_add(1);
        }
        self.indexed = self.indexed.wrapping_add(1);
    }

    /// Frees the entries that are neither fed nor waiting (every indexed event when the
    /// store keeps no feed): at once when the feed is drained, else by moving the feed
    /// up over the gap once the gap is at least as long as the feed. Nothing may be lent.
    fn reclaim(&mut self) {
        if self.start == self.feed_end {
            self.start = self.indexed;
            self.feed_end = self.indexed;
        } else if self.indexed - self.feed_end >= self.feed_end - self.start {
            self.close_gap();
        }
    }

    #[cold]
    #[inline(never)]
    fn close_gap(&mut self) {
        let gap = self.indexed - self.feed_end;
        // From the top down: an entry moves up into the gap or onto one already moved.
        for pos in (self.start..self.feed_end).rev() {
            self.buf[(pos + gap) & self.mask] = self.buf[pos & self.mask];
        }
        self.start += gap;
        self.feed_end = self.indexed;
    }

    /// The change-feed event `ahead` places on from the next one [`Self::poll_fed`]
    /// returns (0: that one).
    #[inline]
    pub fn fed_ahead(&self, ahead: usize) -> Option<&IngestEvent> {
        let pos = self.start + ahead;
        (pos < self.feed_end).then(|| &self.at(pos).event)
    }

    /// The oldest change-feed event, lent, and removes it from the feed.
    #[inline]
    pub fn poll_fed(&mut self) -> Option<&IngestEvent> {
        let pos = self.start;
        if pos == self.feed_end {
            return None;
        }
        self.start = pos + 1;
        // Read where it lies: the entry is no longer in `[start, end)`, but nothing can
        // overwrite it while it is lent.
        Some(&self.buf[pos & self.mask].event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    fn pending(n: u32) -> Pending {
        Pending {
            queryable_at: SimTime::from_nanos(u64::from(n)),
            event: IngestEvent::new(
                DeviceIndex(n % 7),
                n,
                SimTime::ZERO,
                SimTime::ZERO,
                &[f64::from(n)],
            ),
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Push,
        /// Index the next waiting event; whether it is fed.
        Index(bool),
        Poll,
        Reclaim,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => Just(Op::Push),
            3 => any::<bool>().prop_map(Op::Index),
            3 => Just(Op::Poll),
            1 => Just(Op::Reclaim),
        ]
    }

    proptest! {
        /// The ring against two queues: every event waits in order, is indexed in order,
        /// and exactly the fed ones come out of the feed, in order, however the calls
        /// interleave and however often the ring grows.
        #[test]
        fn the_ring_behaves_as_a_waiting_queue_and_a_feed_queue(ops in prop::collection::vec(op(), 0..600)) {
            let mut ring = Backlog::new();
            let mut waiting: VecDeque<u32> = VecDeque::new();
            let mut feed: VecDeque<u32> = VecDeque::new();
            let mut next = 0u32;
            for op in ops {
                match op {
                    Op::Push => {
                        ring.push(pending(next));
                        waiting.push_back(next);
                        next += 1;
                    }
                    Op::Index(fed) => {
                        let expected = waiting.pop_front();
                        prop_assert_eq!(ring.next_to_index().map(|p| p.event.seq), expected);
                        if expected.is_some() {
                            prop_assert_eq!(ring.waiting_ahead(0).map(|p| p.event.seq), expected);
                            prop_assert_eq!(ring.waiting_ahead(1).map(|p| p.event.seq), waiting.front().copied());
                            ring.mark_indexed(fed);
                            // Lent as it was, moved down into a gap or not.
                            prop_assert_eq!(ring.last_indexed().seq, expected.unwrap());
                            if fed {
                                feed.push_back(expected.unwrap());
                            }
                        }
                    }
                    Op::Poll => {
                        prop_assert_eq!(ring.fed_ahead(1).map(|e| e.seq), feed.get(1).copied());
                        prop_assert_eq!(ring.poll_fed().map(|e| e.seq), feed.pop_front());
                    }
                    Op::Reclaim => ring.reclaim(),
                }
                prop_assert_eq!(ring.waiting(), waiting.len());
            }
            // Everything still waiting or fed is intact.
            let fed: Vec<u32> = std::iter::from_fn(|| ring.poll_fed().map(|e| e.seq)).collect();
            prop_assert_eq!(fed, Vec::from(feed));
        }
    }

    #[test]
    fn a_feed_that_is_never_drained_does_not_keep_its_dropped_events() {
        let mut ring = Backlog::new();
        let mut next = 0u32;
        let mut push = |ring: &mut Backlog, n: u32| {
            for _ in 0..n {
                ring.push(pending(next));
                next += 1;
            }
        };
        // Five events stay in the feed throughout; each round two in ten are dropped.
        push(&mut ring, 5);
        for _ in 0..5 {
            ring.mark_indexed(true);
        }
        let mut polled = Vec::new();
        for _ in 0..1_000 {
            push(&mut ring, 10);
            ring.reclaim();
            for i in 0..10 {
                ring.mark_indexed(i % 5 != 0);
            }
            for _ in 0..8 {
                polled.push(ring.poll_fed().unwrap().seq);
            }
        }
        assert_eq!(
            ring.buf.len(),
            MIN_CAPACITY,
            "the ring never needed to grow"
        );
        // Everything fed came out once, in order, the dropped ones never.
        let fed: Vec<u32> = (0..5)
            .chain((5..10_005).filter(|n| (n - 5) % 5 != 0))
            .collect();
        assert_eq!(polled, fed[..8_000]);
    }

    #[test]
    fn a_drained_feed_lets_the_ring_reuse_its_entries() {
        let mut ring = Backlog::new();
        for round in 0..100u32 {
            for i in 0..50 {
                ring.push(pending(round * 50 + i));
            }
            ring.reclaim();
            for i in 0..50 {
                ring.mark_indexed(i % 10 != 3);
            }
            while ring.poll_fed().is_some() {}
        }
        assert_eq!(
            ring.buf.len(),
            MIN_CAPACITY,
            "the ring never needed to grow"
        );
    }
}
