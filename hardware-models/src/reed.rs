//! Door reed switch with contact bounce.
//!
//! **Model.** A magnet on the door holds a reed contact closed while the door is shut. The
//! switch reports 1.0 for "open" (contact open, door away) and 0.0 for "closed". When the true
//! door state changes, the contact chatters for a bounce time drawn per transition; a sample
//! taken during the bounce reads either state with equal probability, after it the true state.
//! It implements [`Sensor`] so the fault decorators (stuck contact, dead wiring) apply.
//!
//! **Figures.** The reference has no door-sensor figures (§7 covers the DevKit, the Pi sensors
//! and the cattle tracker), so all are **assumed**: bounce 0.5–5 ms per transition (glass
//! reed contacts bounce for well under a millisecond; a door swinging shut slowly drags the
//! magnet edge past the reed and stretches the chatter), sampling one GPIO costs 0.1 µJ, and
//! the reading is available immediately.
//!
//! **Left out.** The magnet's gap tolerance, tamper by an external magnet (model it as a
//! stuck fault), and debouncing, which is the firmware's job.

use crate::sensor::{Reading, Sensor, SensorSpec};
use rand_core::RngCore;
use sim::{SimDuration, SimTime};

/// The reed switch's spec: a 1-bit output.
pub fn reed_switch_spec() -> SensorSpec {
    SensorSpec {
        name: "door reed switch",
        unit: "open",
        range_min: 0.0,
        range_max: 1.0,
        resolution: 1.0,
        accuracy: 0.5,
        accuracy_band_min: 0.0,
        accuracy_band_max: 1.0,
        accuracy_out_of_band: 0.5,
        noise_sd: 0.0,
        conversion_time: SimDuration::ZERO,
        energy_per_sample_uj: 0.1,
    }
}

/// Shortest and longest bounce after a transition (assumed, see module docs).
pub const BOUNCE_MIN: SimDuration = SimDuration::from_micros(500);
pub const BOUNCE_MAX: SimDuration = SimDuration::from_millis(5);

/// A reed switch's state: the door state it last saw and when its bounce ends.
#[derive(Clone, Debug, PartialEq)]
pub struct ReedSwitch {
    spec: SensorSpec,
    open: bool,
    bounce_until: SimTime,
}

impl ReedSwitch {
    /// A switch on a door that is `open` (or shut) at the start, settled.
    pub fn new(open: bool) -> Self {
        ReedSwitch {
            spec: reed_switch_spec(),
            open,
            bounce_until: SimTime::ZERO,
        }
    }

    /// The door moved to `open` at `now`: the contact starts to bounce.
    pub fn handle_door(&mut self, now: SimTime, open: bool, rng: &mut impl RngCore) {
        if open != self.open {
            self.open = open;
            let span = (BOUNCE_MAX.as_nanos() - BOUNCE_MIN.as_nanos()) as f64;
            let bounce = BOUNCE_MIN.as_nanos() + (span * sim::rng::unit_f64(rng)) as u64;
            self.bounce_until = now.saturating_add(SimDuration::from_nanos(bounce));
        }
    }

    /// When the contact stops bouncing (a firmware debounce timer can wake then).
    pub fn poll_timeout(&self) -> Option<SimTime> {
        Some(self.bounce_until)
    }

    /// Whether the contact is still bouncing at `now`.
    pub fn is_bouncing(&self, now: SimTime) -> bool {
        now < self.bounce_until
    }
}

impl Sensor for ReedSwitch {
    fn spec(&self) -> &SensorSpec {
        &self.spec
    }

    /// `true_value` ≥ 0.5 means the door is open. A change the switch was not told about
    /// through [`ReedSwitch::handle_door`] is taken to happen at `now`.
    fn measure(&mut self, now: SimTime, true_value: f64, rng: &mut impl RngCore) -> Reading {
        self.handle_door(now, true_value >= 0.5, rng);
        let open = if self.is_bouncing(now) {
            rng.next_u32() & 1 == 1
        } else {
            self.open
        };
        Reading::Value {
            value: if open { 1.0 } else { 0.0 },
            ready_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::CompactRng;

    #[test]
    fn the_contact_chatters_after_a_transition_then_settles() {
        let mut s = ReedSwitch::new(false);
        let mut rng = CompactRng::from_seed_u64(8);
        let t0 = SimTime::from_secs(10);
        s.handle_door(t0, true, &mut rng);
        let until = s.poll_timeout().unwrap();
        assert!(until >= t0 + BOUNCE_MIN && until <= t0 + BOUNCE_MAX);
        let during: Vec<f64> = (0..64)
            .map(|_| s.measure(t0, 1.0, &mut rng).value().unwrap())
            .collect();
        assert!(during.contains(&0.0) && during.contains(&1.0), "{during:?}");
        for _ in 0..64 {
            assert_eq!(s.measure(until, 1.0, &mut rng).value(), Some(1.0));
        }
    }
}
