//! Fault decorators: wrap any [`Sensor`] and make it misbehave without changing its code.
//!
//! **Model.** [`Faulty<S>`] holds the wrapped sensor and the set of faults currently active.
//! The scenario's fault plan switches faults on and off at given instants
//! ([`Faulty::handle_fault`] / [`Faulty::handle_clear`]); a [`RandomOnset`] makes one fault
//! start by itself after an exponentially distributed time (failure rate per day), reported by
//! [`Faulty::poll_timeout`]. Faults of different kinds combine; a fault of a kind that is
//! already active replaces it.
//!
//! Order of application for one measurement request:
//! 1. `Dead` → no reading;
//! 2. `Dropout{ratio}` → no reading with that probability;
//! 3. `OffsetStep{delta}` and `Drift{per_hour}` shift the value the part senses (so the part's
//!    own quantisation and range clamp still apply);
//! 4. `Spike{ratio, magnitude}` adds ±magnitude to the output with that probability
//!    (re-quantised and clamped: a digital part cannot report outside its range);
//! 5. `StuckAt` latches the first value produced after the fault starts and repeats it
//!    exactly until cleared.
//!
//! **Invariants.** A dead sensor never yields a value; a stuck sensor repeats one value; a
//! `Faulty` with no active fault behaves exactly like the wrapped sensor, draw for draw, as
//! long as no `Dropout` or `Spike` fault has been active (their draws are taken only while
//! they are on).
//!
//! **Left out.** Intermittent stuck bits, noise-level changes, and correlated faults across
//! sensors of one board (schedule those in the fault plan).

use crate::sensor::{NoReadingReason, Reading, Sensor, SensorSpec};
use rand_core::RngCore;
use sim::{Ratio, SimDuration, SimTime};

/// A fault the plan can switch on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SensorFault {
    /// Repeats the first value produced after the fault starts.
    StuckAt,
    /// Sensed value drifts linearly from the fault's start, in the part's unit per hour.
    Drift { per_hour: f64 },
    /// Each request yields no reading with this probability.
    Dropout { ratio: Ratio },
    /// Each reading is off by ±`magnitude` with this probability.
    Spike { ratio: Ratio, magnitude: f64 },
    /// A sudden constant offset (a knock, a recalibration gone wrong).
    OffsetStep { delta: f64 },
    /// No reading at all.
    Dead,
}

/// The kind of a fault, used to clear it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SensorFaultKind {
    StuckAt,
    Drift,
    Dropout,
    Spike,
    OffsetStep,
    Dead,
}

impl SensorFault {
    pub fn kind(&self) -> SensorFaultKind {
        match self {
            SensorFault::StuckAt => SensorFaultKind::StuckAt,
            SensorFault::Drift { .. } => SensorFaultKind::Drift,
            SensorFault::Dropout { .. } => SensorFaultKind::Dropout,
            SensorFault::Spike { .. } => SensorFaultKind::Spike,
            SensorFault::OffsetStep { .. } => SensorFaultKind::OffsetStep,
            SensorFault::Dead => SensorFaultKind::Dead,
        }
    }
}

/// A fault that starts by itself: after an exponential time with mean `1 / per_day` days.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomOnset {
    pub fault: SensorFault,
    /// Expected onsets per day of operation (a failure rate); must be > 0.
    pub per_day: f64,
}

/// The stuck fault's latch: waiting for the first value, or holding it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stuck {
    Off,
    Armed,
    Holding(f64),
}

/// A sensor wrapped with switchable faults. See the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct Faulty<S> {
    inner: S,
    dead: bool,
    stuck: Stuck,
    drift: Option<(SimTime, f64)>,
    dropout: Ratio,
    spike: Option<(Ratio, f64)>,
    offset: f64,
    onset: Option<(SimTime, SensorFault)>,
}

impl<S: Sensor> Faulty<S> {
    /// Wraps `inner` with no fault active.
    pub fn new(inner: S) -> Self {
        Faulty {
            inner,
            dead: false,
            stuck: Stuck::Off,
            drift: None,
            dropout: Ratio::ZERO,
            spike: None,
            offset: 0.0,
            onset: None,
        }
    }

    /// Schedules a fault to start by itself, drawing its onset time from `rng` starting at
    /// `now`. A rate that is not a positive finite number schedules nothing.
    pub fn with_random_onset(
        mut self,
        now: SimTime,
        onset: RandomOnset,
        rng: &mut impl RngCore,
    ) -> Self {
        if onset.per_day.is_finite() && onset.per_day > 0.0 {
            let mean_s = 86_400.0 / onset.per_day;
            let wait_s = -mean_s * libm::log(sim::rng::open_unit_f64(rng));
            let at = now.saturating_add(SimDuration::from_secs_f64(wait_s));
            self.onset = Some((at, onset.fault));
        }
        self
    }

    /// The wrapped sensor.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// When a scheduled random fault will start, if one is pending.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.onset.map(|(t, _)| t)
    }

    /// Applies a pending random onset whose time has come. Called by `measure`, and by the
    /// kernel at [`Faulty::poll_timeout`].
    pub fn handle_timeout(&mut self, now: SimTime) {
        if let Some((at, fault)) = self.onset {
            if at <= now {
                self.onset = None;
                self.handle_fault(at, fault);
            }
        }
    }

    /// Switches `fault` on at `now` (replacing an active fault of the same kind).
    pub fn handle_fault(&mut self, now: SimTime, fault: SensorFault) {
        match fault {
            SensorFault::StuckAt => {
                if self.stuck == Stuck::Off {
                    self.stuck = Stuck::Armed;
                }
            }
            SensorFault::Drift { per_hour } => self.drift = Some((now, per_hour)),
            SensorFault::Dropout { ratio } => self.dropout = ratio,
            SensorFault::Spike { ratio, magnitude } => self.spike = Some((ratio, magnitude)),
            SensorFault::OffsetStep { delta } => self.offset = delta,
            SensorFault::Dead => self.dead = true,
        }
    }

    /// Switches a fault kind off (a repair, or the end of a planned fault window).
    pub fn handle_clear(&mut self, kind: SensorFaultKind) {
        match kind {
            SensorFaultKind::StuckAt => self.stuck = Stuck::Off,
            SensorFaultKind::Drift => self.drift = None,
            SensorFaultKind::Dropout => self.dropout = Ratio::ZERO,
            SensorFaultKind::Spike => self.spike = None,
            SensorFaultKind::OffsetStep => self.offset = 0.0,
            SensorFaultKind::Dead => self.dead = false,
        }
    }

    /// Whether any fault is active.
    pub fn is_faulty(&self) -> bool {
        self.dead
            || self.stuck != Stuck::Off
            || self.drift.is_some()
            || !self.dropout.is_zero()
            || self.spike.is_some()
            || self.offset != 0.0
    }
}

impl<S: Sensor> Sensor for Faulty<S> {
    fn spec(&self) -> &SensorSpec {
        self.inner.spec()
    }

    fn measure(&mut self, now: SimTime, true_value: f64, rng: &mut impl RngCore) -> Reading {
        self.handle_timeout(now);
        if self.dead {
            return Reading::NoReading(NoReadingReason::Dead);
        }
        if self.dropout.chance(rng) {
            return Reading::NoReading(NoReadingReason::Dropout);
        }
        let drift = match self.drift {
            Some((since, per_hour)) => {
                per_hour * now.saturating_since(since).as_secs_f64() / 3_600.0
            }
            None => 0.0,
        };
        let sensed = true_value + self.offset + drift;
        let reading = self.inner.measure(now, sensed, rng);
        let reading = match (reading, self.spike) {
            (Reading::Value { value, ready_at }, Some((ratio, magnitude))) if ratio.chance(rng) => {
                let sign = if rng.next_u32() & 1 == 0 { 1.0 } else { -1.0 };
                Reading::Value {
                    value: self.inner.spec().quantise_clamp(value + sign * magnitude),
                    ready_at,
                }
            }
            (r, _) => r,
        };
        match (self.stuck, reading) {
            (Stuck::Armed, Reading::Value { value, .. }) => {
                self.stuck = Stuck::Holding(value);
                reading
            }
            (Stuck::Holding(v), Reading::Value { ready_at, .. }) => {
                Reading::Value { value: v, ready_at }
            }
            _ => reading,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parts;
    use crate::sensor::SensorUnit;
    use sim::CompactRng;

    fn unit() -> SensorUnit {
        SensorUnit::with_bias(parts::bme280_temperature(), 0.1).unwrap()
    }

    #[test]
    fn a_faulty_sensor_without_faults_matches_the_bare_sensor_draw_for_draw() {
        let mut bare = unit();
        let mut wrapped = Faulty::new(unit());
        let (mut r1, mut r2) = (CompactRng::from_seed_u64(3), CompactRng::from_seed_u64(3));
        for i in 0..100 {
            let t = SimTime::from_secs(i);
            assert_eq!(
                bare.measure(t, 20.0, &mut r1),
                wrapped.measure(t, 20.0, &mut r2)
            );
        }
    }

    #[test]
    fn drift_grows_with_time_since_onset() {
        let mut s = Faulty::new(unit());
        let mut rng = CompactRng::from_seed_u64(4);
        s.handle_fault(
            SimTime::from_secs(3_600),
            SensorFault::Drift { per_hour: 0.5 },
        );
        let v = s
            .measure(SimTime::from_secs(4 * 3_600), 20.0, &mut rng)
            .value()
            .unwrap();
        assert!((v - 21.6).abs() < 0.05, "{v}");
        s.handle_clear(SensorFaultKind::Drift);
        let v = s
            .measure(SimTime::from_secs(5 * 3_600), 20.0, &mut rng)
            .value()
            .unwrap();
        assert!((v - 20.1).abs() < 0.05, "{v}");
    }

    #[test]
    fn an_offset_step_shifts_and_spikes_stay_in_range() {
        let mut s = Faulty::new(unit());
        let mut rng = CompactRng::from_seed_u64(5);
        s.handle_fault(SimTime::ZERO, SensorFault::OffsetStep { delta: -3.0 });
        let v = s.measure(SimTime::ZERO, 20.0, &mut rng).value().unwrap();
        assert!((v - 17.1).abs() < 0.05, "{v}");
        s.handle_fault(
            SimTime::ZERO,
            SensorFault::Spike {
                ratio: Ratio::ONE,
                magnitude: 1_000.0,
            },
        );
        for _ in 0..50 {
            let v = s.measure(SimTime::ZERO, 20.0, &mut rng).value().unwrap();
            assert!(v == 85.0 || v == -40.0, "{v}");
        }
    }

    #[test]
    fn a_random_onset_starts_its_fault_at_the_polled_time() {
        let mut rng = CompactRng::from_seed_u64(6);
        let mut s = Faulty::new(unit()).with_random_onset(
            SimTime::ZERO,
            RandomOnset {
                fault: SensorFault::Dead,
                per_day: 1.0,
            },
            &mut rng,
        );
        let at = s.poll_timeout().expect("scheduled");
        assert!(at > SimTime::ZERO);
        let before = SimTime::from_nanos(at.as_nanos() - 1);
        assert!(s.measure(before, 20.0, &mut rng).value().is_some());
        assert_eq!(
            s.measure(at, 20.0, &mut rng),
            Reading::NoReading(NoReadingReason::Dead)
        );
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn dropout_rate_matches_its_ratio() {
        let mut s = Faulty::new(unit());
        let mut rng = CompactRng::from_seed_u64(7);
        s.handle_fault(
            SimTime::ZERO,
            SensorFault::Dropout {
                ratio: Ratio::new(0.25).unwrap(),
            },
        );
        let n = 20_000;
        let lost = (0..n)
            .filter(|_| s.measure(SimTime::ZERO, 20.0, &mut rng).value().is_none())
            .count();
        assert!((lost as f64 / n as f64 - 0.25).abs() < 0.015, "{lost}");
    }
}
