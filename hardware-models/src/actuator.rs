//! Actuators: the HVAC relay, the electronic door lock and the tank heater.
//!
//! **Relay** ([`Relay`]). Switches a load (heat pump heating or cooling stage, a fan). A
//! command takes effect at once unless the minimum on-time or off-time of the equipment has
//! not elapsed (compressor short-cycle protection); then it is held and applied when allowed
//! ([`Relay::poll_timeout`]). A newer command replaces a held one. The relay integrates the
//! electrical energy of the load. Figures (all **assumed**, the reference has none for HVAC):
//! small split heat pump 500 W electrical (1.5 kW heat at COP 3), 3 min minimum on and 5 min minimum off; tank
//! heater element 6 kW with no minimum times (solid-state relay).
//!
//! **Lock** ([`Lock`]). An electronic deadbolt: a command starts the motor; the bolt reaches
//! its new position after the actuation latency (uniform 0.4–1.2 s, **assumed**) and reports
//! it. With the `jam` fault on, an actuation stalls and the lock reports `Jammed` and stays in
//! its old position. A manual override (key or thumb-turn) changes the position at once, even
//! when the motor is jammed, and is reported as such so the back end can tell it from a
//! commanded change (seed: "an electronic door lock could be triggered from your mobile
//! phone"; the office building tracks door and lock state). The lock has a door-position
//! input ([`Lock::handle_door`], the reed switch's contact): the bolt cannot be thrown while
//! the door stands open, so a command to lock then, or a throw that would end with the door
//! open (it was forced during the motion), reports `Blocked` and leaves the bolt retracted.
//!
//! **Heater** ([`TankHeater`]). An immersion heater driven at a power level between 0 and 1
//! (burst-fired SSR), energy integrated.
//!
//! **Left out.** Relay contact wear and welding (schedule a stuck fault on the load instead),
//! lock battery, auto-relock timers (firmware logic), heater element ageing.

use rand_core::RngCore;
use sim::{SimDuration, SimTime};

/// A relay-switched load's figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RelaySpec {
    pub name: &'static str,
    /// Electrical power of the load when on, watts.
    pub power_w: f64,
    pub min_on: SimDuration,
    pub min_off: SimDuration,
}

impl RelaySpec {
    /// A residential heat pump stage (assumed figures, module docs).
    pub fn heat_pump() -> Self {
        RelaySpec {
            name: "heat pump",
            power_w: 500.0,
            min_on: SimDuration::from_mins(3),
            min_off: SimDuration::from_mins(5),
        }
    }
}

/// What happened to a relay command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayOutcome {
    /// Switched now (or already in that state).
    Applied,
    /// Held by a minimum on/off time; will switch at `at`.
    Held { at: SimTime },
}

/// A relay and its load. See the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct Relay {
    spec: RelaySpec,
    on: bool,
    last_switch: SimTime,
    pending: Option<bool>,
    energy_j: f64,
    accounted_to: SimTime,
    switches: u64,
}

impl Relay {
    /// An off relay whose last switch was long ago.
    pub fn new(spec: RelaySpec, now: SimTime) -> Self {
        Relay {
            spec,
            on: false,
            last_switch: SimTime::ZERO,
            pending: None,
            energy_j: 0.0,
            accounted_to: now,
            switches: 0,
        }
    }

    pub fn is_on(&self) -> bool {
        self.on
    }
    pub fn spec(&self) -> &RelaySpec {
        &self.spec
    }
    /// How many times the relay has switched.
    pub fn switches(&self) -> u64 {
        self.switches
    }

    /// Electrical energy used up to `now`, joules.
    pub fn energy_j(&mut self, now: SimTime) -> f64 {
        self.account(now);
        self.energy_j
    }

    fn account(&mut self, now: SimTime) {
        if now > self.accounted_to {
            if self.on {
                self.energy_j += self.spec.power_w * now.since(self.accounted_to).as_secs_f64();
            }
            self.accounted_to = now;
        }
    }

    fn earliest_switch(&self, to_on: bool) -> SimTime {
        let min = if to_on {
            self.spec.min_off
        } else {
            self.spec.min_on
        };
        if self.switches == 0 {
            // Never switched: the equipment has rested indefinitely.
            SimTime::ZERO
        } else {
            self.last_switch.saturating_add(min)
        }
    }

    /// Commands the relay on or off at `now`.
    pub fn handle_command(&mut self, now: SimTime, on: bool) -> RelayOutcome {
        self.handle_timeout(now);
        if on == self.on {
            self.pending = None;
            return RelayOutcome::Applied;
        }
        let at = self.earliest_switch(on);
        if at <= now {
            self.switch(now, on);
            RelayOutcome::Applied
        } else {
            self.pending = Some(on);
            RelayOutcome::Held { at }
        }
    }

    fn switch(&mut self, at: SimTime, on: bool) {
        self.account(at);
        self.on = on;
        self.last_switch = at;
        self.pending = None;
        self.switches += 1;
    }

    /// When a held command will be applied.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.pending.map(|on| self.earliest_switch(on))
    }

    /// Applies a held command whose time has come (at the instant it became allowed).
    pub fn handle_timeout(&mut self, now: SimTime) {
        if let Some(on) = self.pending {
            let at = self.earliest_switch(on);
            if at <= now {
                self.switch(at, on);
            }
        }
        self.account(now);
    }
}

/// Bolt position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockPosition {
    Locked,
    Unlocked,
}

/// What the lock reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockEvent {
    /// A commanded actuation completed.
    Reached { at: SimTime, position: LockPosition },
    /// A commanded actuation stalled; the bolt stayed where it was.
    Jammed { at: SimTime, position: LockPosition },
    /// Someone turned the key or thumb-turn.
    ManualOverride { at: SimTime, position: LockPosition },
    /// A throw refused because the door stands open; the bolt stayed where it was.
    Blocked { at: SimTime, position: LockPosition },
}

/// Assumed actuation latency bounds (module docs).
pub const LOCK_LATENCY_MIN: SimDuration = SimDuration::from_millis(400);
pub const LOCK_LATENCY_MAX: SimDuration = SimDuration::from_millis(1_200);

/// An electronic lock. See the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct Lock {
    position: LockPosition,
    moving: Option<(SimTime, LockPosition)>,
    jam_fault: bool,
    door_open: bool,
    events: std::collections::VecDeque<LockEvent>,
}

impl Lock {
    pub fn new(position: LockPosition) -> Self {
        Lock {
            position,
            moving: None,
            jam_fault: false,
            door_open: false,
            events: std::collections::VecDeque::new(),
        }
    }

    pub fn position(&self) -> LockPosition {
        self.position
    }
    pub fn is_moving(&self) -> bool {
        self.moving.is_some()
    }

    /// Switches the jam fault on or off (fault plan).
    pub fn set_jam_fault(&mut self, jammed: bool) {
        self.jam_fault = jammed;
    }

    /// The door-position input: the door is `open` (or shut) from `now`.
    pub fn handle_door(&mut self, now: SimTime, open: bool) {
        self.handle_timeout(now);
        self.door_open = open;
    }

    /// Commands the bolt to `target` at `now`. A command to the current position with no
    /// motion under way completes at once; a command to lock while the door is open is
    /// refused at once (`Blocked`).
    pub fn handle_command(&mut self, now: SimTime, target: LockPosition, rng: &mut impl RngCore) {
        self.handle_timeout(now);
        if target == LockPosition::Locked && self.door_open {
            self.moving = None;
            self.events.push_back(LockEvent::Blocked {
                at: now,
                position: self.position,
            });
            return;
        }
        if self.moving.is_none() && target == self.position {
            self.events.push_back(LockEvent::Reached {
                at: now,
                position: target,
            });
            return;
        }
        let span = (LOCK_LATENCY_MAX.as_nanos() - LOCK_LATENCY_MIN.as_nanos()) as f64;
        let latency = LOCK_LATENCY_MIN.as_nanos() + (span * sim::rng::unit_f64(rng)) as u64;
        self.moving = Some((now.saturating_add(SimDuration::from_nanos(latency)), target));
    }

    /// A person turns the key or thumb-turn at `now`: immediate, works when jammed, cancels a
    /// motion under way.
    pub fn handle_manual(&mut self, now: SimTime, position: LockPosition) {
        self.moving = None;
        self.position = position;
        self.events
            .push_back(LockEvent::ManualOverride { at: now, position });
    }

    /// When the current actuation ends.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.moving.map(|(t, _)| t)
    }

    /// Completes an actuation whose time has come.
    pub fn handle_timeout(&mut self, now: SimTime) {
        if let Some((at, target)) = self.moving {
            if at <= now {
                self.moving = None;
                if target == LockPosition::Locked && self.door_open {
                    self.events.push_back(LockEvent::Blocked {
                        at,
                        position: self.position,
                    });
                } else if self.jam_fault {
                    self.events.push_back(LockEvent::Jammed {
                        at,
                        position: self.position,
                    });
                } else {
                    self.position = target;
                    self.events.push_back(LockEvent::Reached {
                        at,
                        position: target,
                    });
                }
            }
        }
    }

    /// The next report, oldest first.
    pub fn poll_event(&mut self) -> Option<LockEvent> {
        self.events.pop_front()
    }
}

/// An immersion heater at a power level from 0 to 1. See the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct TankHeater {
    /// Full power, watts (assumed 6 kW).
    pub max_power_w: f64,
    level: f64,
    energy_j: f64,
    accounted_to: SimTime,
}

impl TankHeater {
    pub const DEFAULT_MAX_POWER_W: f64 = 6_000.0;

    pub fn new(max_power_w: f64, now: SimTime) -> Self {
        TankHeater {
            max_power_w,
            level: 0.0,
            energy_j: 0.0,
            accounted_to: now,
        }
    }

    fn account(&mut self, now: SimTime) {
        if now > self.accounted_to {
            self.energy_j += self.power_w() * now.since(self.accounted_to).as_secs_f64();
            self.accounted_to = now;
        }
    }

    /// Sets the power level at `now`, clamped to `[0, 1]` (NaN means off).
    pub fn handle_level(&mut self, now: SimTime, level: f64) {
        self.account(now);
        self.level = if level.is_nan() {
            0.0
        } else {
            level.clamp(0.0, 1.0)
        };
    }

    /// Present heat output, watts.
    pub fn power_w(&self) -> f64 {
        self.level * self.max_power_w
    }

    /// Energy delivered up to `now`, joules.
    pub fn energy_j(&mut self, now: SimTime) -> f64 {
        self.account(now);
        self.energy_j
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::CompactRng;

    #[test]
    fn a_relay_honours_minimum_on_and_off_times() {
        let mut r = Relay::new(RelaySpec::heat_pump(), SimTime::ZERO);
        let t = SimTime::from_secs(100);
        assert_eq!(r.handle_command(t, true), RelayOutcome::Applied);
        let off_at = t + SimDuration::from_mins(3);
        assert_eq!(
            r.handle_command(t + SimDuration::from_secs(60), false),
            RelayOutcome::Held { at: off_at }
        );
        assert_eq!(r.poll_timeout(), Some(off_at));
        r.handle_timeout(off_at);
        assert!(!r.is_on());
        // Exactly three minutes at 500 W.
        assert!((r.energy_j(off_at + SimDuration::from_hours(1)) - 90_000.0).abs() < 1e-6);
        let on_at = off_at + SimDuration::from_mins(5);
        assert_eq!(
            r.handle_command(off_at, true),
            RelayOutcome::Held { at: on_at }
        );
        // A newer command replaces the held one.
        assert_eq!(r.handle_command(off_at, false), RelayOutcome::Applied);
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn a_jammed_lock_stays_put_but_the_key_still_works() {
        let mut rng = CompactRng::from_seed_u64(9);
        let mut l = Lock::new(LockPosition::Locked);
        l.handle_command(SimTime::ZERO, LockPosition::Unlocked, &mut rng);
        let done = l.poll_timeout().unwrap();
        assert!(
            done >= SimTime::ZERO + LOCK_LATENCY_MIN && done <= SimTime::ZERO + LOCK_LATENCY_MAX
        );
        l.handle_timeout(done);
        assert_eq!(
            l.poll_event(),
            Some(LockEvent::Reached {
                at: done,
                position: LockPosition::Unlocked
            })
        );
        l.set_jam_fault(true);
        let t = SimTime::from_secs(10);
        l.handle_command(t, LockPosition::Locked, &mut rng);
        let done = l.poll_timeout().unwrap();
        l.handle_timeout(done);
        assert_eq!(
            l.poll_event(),
            Some(LockEvent::Jammed {
                at: done,
                position: LockPosition::Unlocked
            })
        );
        assert_eq!(l.position(), LockPosition::Unlocked);
        l.handle_manual(SimTime::from_secs(20), LockPosition::Locked);
        assert_eq!(l.position(), LockPosition::Locked);
        assert!(matches!(
            l.poll_event(),
            Some(LockEvent::ManualOverride { .. })
        ));
        assert_eq!(l.poll_event(), None);
    }

    #[test]
    fn the_bolt_is_not_thrown_while_the_door_stands_open() {
        let mut rng = CompactRng::from_seed_u64(2);
        let mut l = Lock::new(LockPosition::Unlocked);
        l.handle_door(SimTime::from_secs(1), true);
        l.handle_command(SimTime::from_secs(2), LockPosition::Locked, &mut rng);
        assert_eq!(
            l.poll_event(),
            Some(LockEvent::Blocked {
                at: SimTime::from_secs(2),
                position: LockPosition::Unlocked
            })
        );
        assert!(!l.is_moving());
        // The door shuts, a throw starts, and the door is forced open before it ends.
        l.handle_door(SimTime::from_secs(3), false);
        l.handle_command(SimTime::from_secs(4), LockPosition::Locked, &mut rng);
        let done = l.poll_timeout().unwrap();
        l.handle_door(SimTime::from_secs(4), true);
        l.handle_timeout(done);
        assert_eq!(
            l.poll_event(),
            Some(LockEvent::Blocked {
                at: done,
                position: LockPosition::Unlocked
            })
        );
        assert_eq!(l.position(), LockPosition::Unlocked);
        // Shut, it locks.
        l.handle_door(SimTime::from_secs(6), false);
        l.handle_command(SimTime::from_secs(6), LockPosition::Locked, &mut rng);
        let done = l.poll_timeout().unwrap();
        l.handle_timeout(done);
        assert_eq!(l.position(), LockPosition::Locked);
    }

    #[test]
    fn the_heater_integrates_its_power_level() {
        let mut h = TankHeater::new(TankHeater::DEFAULT_MAX_POWER_W, SimTime::ZERO);
        h.handle_level(SimTime::ZERO, 0.5);
        h.handle_level(SimTime::from_secs(100), 2.0);
        assert!((h.energy_j(SimTime::from_secs(110)) - (300_000.0 + 60_000.0)).abs() < 1e-6);
    }
}
