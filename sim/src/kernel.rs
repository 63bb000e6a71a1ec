//! The next-event kernel: a clock, the event queue, the trace hash, and the checkers.
//!
//! **Call order.** A [`Sim`] owns a [`Kernel`] and the user's [`World`]. Each
//! [`Sim::step`] pops the earliest event, sets the clock to its time, folds it into the trace
//! hash, hands it to [`World::handle`] (which may schedule, cancel and fold payload digests
//! through the `&mut Kernel` it is given), then runs the checkers that are due. Models inside
//! the world stay sans-IO: the world calls their `handle_*(now, …)`, drains their `poll_*()`
//! outputs and arms their `poll_timeout()` as kernel events.
//!
//! **Driven from outside.** [`Sim::next_event_time`], [`Sim::run_until`] and
//! [`Kernel::inject`] let an external clock (a real-time pacer, or madsim's scheduler in a
//! later issue) advance the simulation: run to the outside's "now", inject what arrived from
//! outside at the current instant, ask when the simulation next needs to wake.
//!
//! **Trace hash.** A 64-bit value folded over every processed event, in processing order:
//! for each event the kernel folds (1) its time in nanoseconds, (2) `target << 32 | kind`,
//! (3) its 64-bit payload; then whatever the world adds during that event through
//! [`Kernel::trace_digest`] (models add a digest of the message bytes they act on). The
//! sequence number is left out on purpose: it is bookkeeping, and two runs that process the
//! same events in the same order at the same times hash equal. Each fold is
//! `h = (mix64(h ^ word) · 0x9e3779b97f4a7c15) ^ 0x5851f42d4c957f2d` (wrapping), where `mix64`
//! is SplitMix64's finaliser;
//! the start value is a fixed constant, not the seed, so the hash speaks only of what
//! happened. Printed as 16 lower-case hex digits.
//!
//! **Checkers** run after events at a chosen cadence (every event, or every simulated
//! interval) and see the world read-only. A failure stops the run and carries the time, the
//! checker's name and the seed, so the harness can print a repro line.

use crate::queue::{EventKey, EventQueue};
use crate::rng::{mix64, Seed};
use crate::time::{Epoch, SimDuration, SimTime};
use std::fmt;

/// A compact entity address. What an id means is the world's business (a device index, the
/// hub, a gateway); the kernel only carries it and hashes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EntityId(pub u32);

/// What an event asks its target to do, in the world's own numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventKind(pub u32);

/// A scheduled event: 16 bytes, no allocation. Larger payloads live in the world (a slab of
/// in-flight messages, say) and `payload` indexes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    pub target: EntityId,
    pub kind: EventKind,
    pub payload: u64,
}

impl Event {
    pub const fn new(target: EntityId, kind: EventKind, payload: u64) -> Self {
        Event {
            target,
            kind,
            payload,
        }
    }
}

/// The running 64-bit trace hash (see the module docs for what goes in).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceHash(u64);

impl TraceHash {
    const START: u64 = 0x6a09_e667_f3bc_c908;

    pub fn new() -> Self {
        TraceHash(Self::START)
    }

    #[inline]
    pub fn fold(&mut self, word: u64) {
        self.0 = mix64(self.0 ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5851_f42d_4c95_7f2d;
    }

    pub fn value(self) -> u64 {
        self.0
    }

    /// Parses the 16-hex-digit form that `Display` prints.
    pub fn parse_hex(s: &str) -> Option<TraceHash> {
        if s.len() != 16 {
            return None;
        }
        u64::from_str_radix(s, 16).ok().map(TraceHash)
    }
}

impl Default for TraceHash {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for TraceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for TraceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceHash({self})")
    }
}

/// The scheduling context a world sees while it handles an event.
pub struct Kernel {
    queue: EventQueue<Event>,
    now: SimTime,
    trace: TraceHash,
    events_processed: u64,
    seed: Seed,
    epoch: Epoch,
}

impl Kernel {
    pub fn new(seed: Seed, epoch: Epoch) -> Self {
        Kernel {
            queue: EventQueue::new(),
            now: SimTime::ZERO,
            trace: TraceHash::new(),
            events_processed: 0,
            seed,
            epoch,
        }
    }

    /// The current simulated instant: the time of the event being handled.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    pub fn seed(&self) -> Seed {
        self.seed
    }

    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// Schedules `event` at `at`. Panics if `at` is in the past (a model bug).
    #[inline]
    pub fn schedule(&mut self, at: SimTime, event: Event) -> EventKey {
        assert!(
            at >= self.now,
            "scheduling {event:?} at {at:?}, before now {:?}",
            self.now
        );
        self.queue.push(at, event)
    }

    /// Schedules `event` `after` from now.
    #[inline]
    pub fn schedule_in(&mut self, after: SimDuration, event: Event) -> EventKey {
        self.queue.push(self.now + after, event)
    }

    /// Schedules `event` at the current instant, after everything already scheduled for it.
    /// This is how input from outside the simulation (a live device, an async back end under
    /// madsim) enters.
    pub fn inject(&mut self, event: Event) -> EventKey {
        self.queue.push(self.now, event)
    }

    /// Cancels a pending event; `false` if it already ran or was cancelled.
    pub fn cancel(&mut self, key: EventKey) -> bool {
        self.queue.cancel(key)
    }

    /// Folds a model-supplied digest (of a message's bytes, say) into the trace hash.
    #[inline]
    pub fn trace_digest(&mut self, digest: u64) {
        self.trace.fold(digest);
    }

    pub fn trace_hash(&self) -> TraceHash {
        self.trace
    }

    pub fn events_processed(&self) -> u64 {
        self.events_processed
    }

    pub fn pending_events(&self) -> usize {
        self.queue.len()
    }

    /// The time of the next pending event.
    pub fn next_event_time(&mut self) -> Option<SimTime> {
        self.queue.peek_key().map(|k| k.time())
    }

    fn pop(&mut self) -> Option<Event> {
        let (key, event) = self.queue.pop()?;
        self.now = key.time();
        self.events_processed += 1;
        self.trace.fold(key.time().as_nanos());
        self.trace
            .fold((u64::from(event.target.0) << 32) | u64::from(event.kind.0));
        self.trace.fold(event.payload);
        Some(event)
    }
}

/// The simulated system: entities, models, and the glue that routes events between them.
pub trait World {
    fn handle(&mut self, kernel: &mut Kernel, event: Event);
}

/// How often a checker runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cadence {
    /// After every event (for cheap checks in tests).
    EveryEvent,
    /// After the first event at or past each multiple of the interval.
    Every(SimDuration),
}

/// A cross-entity invariant, checked while the simulation runs.
pub trait Checker<W> {
    fn name(&self) -> &str;
    /// `Err(detail)` if the invariant does not hold at `now`.
    fn check(&mut self, now: SimTime, world: &W) -> Result<(), String>;
}

/// A checker failed: what, when, and the seed to reproduce it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invariant `{checker}` failed at {at:?} (seed={seed}, after {events} events): {detail}")]
pub struct CheckFailure {
    pub checker: String,
    pub at: SimTime,
    pub seed: u64,
    pub events: u64,
    pub detail: String,
}

struct CheckerSlot<W> {
    checker: Box<dyn Checker<W>>,
    cadence: Cadence,
    next_due: SimTime,
}

/// A kernel, a world, and the checkers over it.
///
/// The kernel and the world are reached through [`Sim::kernel`], [`Sim::world`] and
/// [`Sim::parts_mut`] (to seed the queue from the world's state before the run), so a run's
/// call order stays the kernel's.
pub struct Sim<W> {
    kernel: Kernel,
    world: W,
    checkers: Vec<CheckerSlot<W>>,
}

impl<W: World> Sim<W> {
    pub fn new(seed: Seed, epoch: Epoch, world: W) -> Self {
        Sim {
            kernel: Kernel::new(seed, epoch),
            world,
            checkers: Vec::new(),
        }
    }

    pub fn add_checker(&mut self, checker: impl Checker<W> + 'static, cadence: Cadence) {
        self.checkers.push(CheckerSlot {
            checker: Box::new(checker),
            cadence,
            next_due: self.kernel.now,
        });
    }

    pub fn now(&self) -> SimTime {
        self.kernel.now
    }

    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    pub fn world(&self) -> &W {
        &self.world
    }

    /// The kernel and the world together, to schedule a world's first events:
    ///
    /// ```
    /// # use sim::{Epoch, Event, EntityId, EventKind, Kernel, Seed, Sim, SimTime, World};
    /// struct Ticker(u32);
    /// impl World for Ticker {
    ///     fn handle(&mut self, _: &mut Kernel, _: Event) {
    ///         self.0 += 1;
    ///     }
    /// }
    /// let mut sim = Sim::new(Seed(1), Epoch::default(), Ticker(0));
    /// let (kernel, _world) = sim.parts_mut();
    /// kernel.schedule(SimTime::from_secs(1), Event::new(EntityId(0), EventKind(0), 0));
    /// sim.run_until(SimTime::from_secs(2)).unwrap();
    /// assert_eq!(sim.world().0, 1);
    /// ```
    pub fn parts_mut(&mut self) -> (&mut Kernel, &mut W) {
        (&mut self.kernel, &mut self.world)
    }

    /// The world, once the run is over.
    pub fn into_world(self) -> W {
        self.world
    }

    pub fn next_event_time(&mut self) -> Option<SimTime> {
        self.kernel.next_event_time()
    }

    /// Processes one event. `Ok(None)` when nothing is pending.
    pub fn step(&mut self) -> Result<Option<SimTime>, CheckFailure> {
        let Some(event) = self.kernel.pop() else {
            return Ok(None);
        };
        self.world.handle(&mut self.kernel, event);
        if !self.checkers.is_empty() {
            self.run_checkers(false)?;
        }
        Ok(Some(self.kernel.now))
    }

    /// Processes every event at or before `until`, then sets the clock to `until`.
    pub fn run_until(&mut self, until: SimTime) -> Result<(), CheckFailure> {
        assert!(
            until >= self.kernel.now,
            "run_until({until:?}) is in the past"
        );
        while let Some(t) = self.kernel.next_event_time() {
            if t > until {
                break;
            }
            self.step()?;
        }
        self.kernel.now = until;
        Ok(())
    }

    /// Runs every checker now regardless of cadence (call at the end of a run).
    pub fn check_all(&mut self) -> Result<(), CheckFailure> {
        self.run_checkers(true)
    }

    fn run_checkers(&mut self, force: bool) -> Result<(), CheckFailure> {
        let now = self.kernel.now;
        for slot in &mut self.checkers {
            let due = match slot.cadence {
                Cadence::EveryEvent => true,
                Cadence::Every(_) => now >= slot.next_due,
            };
            if !(due || force) {
                continue;
            }
            if let Cadence::Every(interval) = slot.cadence {
                while slot.next_due <= now && !interval.is_zero() {
                    slot.next_due += interval;
                }
            }
            if let Err(detail) = slot.checker.check(now, &self.world) {
                return Err(CheckFailure {
                    checker: slot.checker.name().to_string(),
                    at: now,
                    seed: self.kernel.seed.0,
                    events: self.kernel.events_processed,
                    detail,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each entity re-arms a timer `period` ahead and counts its ticks.
    struct Ticker {
        ticks: Vec<u32>,
        period: SimDuration,
    }

    impl World for Ticker {
        fn handle(&mut self, k: &mut Kernel, ev: Event) {
            self.ticks[ev.target.0 as usize] += 1;
            k.schedule_in(self.period, ev);
        }
    }

    fn ticker(n: u32) -> Sim<Ticker> {
        let mut sim = Sim::new(
            Seed(1),
            Epoch::default(),
            Ticker {
                ticks: vec![0; n as usize],
                period: SimDuration::from_secs(10),
            },
        );
        for i in 0..n {
            sim.kernel.schedule(
                SimTime::from_secs(u64::from(i)),
                Event::new(EntityId(i), EventKind(0), 0),
            );
        }
        sim
    }

    #[test]
    fn run_until_processes_events_up_to_and_including_the_bound() {
        let mut sim = ticker(3);
        sim.run_until(SimTime::from_secs(20)).unwrap();
        // Entity 0 ticks at 0, 10, 20; entity 1 at 1, 11; entity 2 at 2, 12.
        assert_eq!(sim.world.ticks, vec![3, 2, 2]);
        assert_eq!(sim.now(), SimTime::from_secs(20));
        assert_eq!(sim.next_event_time(), Some(SimTime::from_secs(21)));
    }

    #[test]
    fn injected_events_run_at_the_current_instant_after_earlier_ones() {
        let mut sim = ticker(1);
        sim.run_until(SimTime::from_secs(5)).unwrap();
        sim.kernel.inject(Event::new(EntityId(0), EventKind(1), 7));
        assert_eq!(sim.next_event_time(), Some(SimTime::from_secs(5)));
        sim.step().unwrap();
        assert_eq!(sim.world.ticks[0], 2);
    }

    #[test]
    fn trace_hash_depends_on_order_and_payload() {
        let run = |payload: u64| {
            let mut sim = ticker(4);
            sim.kernel
                .inject(Event::new(EntityId(0), EventKind(9), payload));
            sim.run_until(SimTime::from_secs(100)).unwrap();
            sim.kernel.trace_hash()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        let h = run(1);
        assert_eq!(TraceHash::parse_hex(&h.to_string()), Some(h));
    }

    struct TickLimit(u32);
    impl Checker<Ticker> for TickLimit {
        fn name(&self) -> &str {
            "tick limit"
        }
        fn check(&mut self, _now: SimTime, w: &Ticker) -> Result<(), String> {
            match w.ticks.iter().position(|&t| t > self.0) {
                Some(i) => Err(format!("entity {i} ticked {} times", w.ticks[i])),
                None => Ok(()),
            }
        }
    }

    #[test]
    fn a_failing_checker_stops_the_run_with_time_and_seed() {
        let mut sim = ticker(2);
        sim.add_checker(TickLimit(3), Cadence::EveryEvent);
        let err = sim.run_until(SimTime::from_secs(1_000)).unwrap_err();
        assert_eq!(err.checker, "tick limit");
        assert_eq!(err.at, SimTime::from_secs(30));
        assert_eq!(err.seed, 1);
        assert!(err.to_string().contains("seed=1"), "{err}");
    }
}
