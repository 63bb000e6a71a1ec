//! Doors: openings by hour of day, how long they stay open, and forced-open events.
//!
//! **Model.** The seed's office building "keeps track of the current state of the doors for
//! the purpose of security". A [`Door`] is opened by people as a non-homogeneous Poisson process
//! whose rate follows a 24-entry table of openings per hour (UTC hour of day), sampled by
//! thinning against the table's peak rate; each opening lasts a uniformly drawn time. Forced-open
//! events (a door opened without a valid unlock: break-in, a door held or pried) arrive as a
//! separate Poisson process at `forced_per_day`, and are flagged so the scenario can score
//! alarms against them. While open, no new opening starts.
//!
//! The door is sans-IO: [`Door::poll_timeout`] gives the next change, [`Door::handle_timeout`]
//! performs it and returns a [`DoorEvent`].
//!
//! **Figures** (all **assumed**): an office entrance with a working-day profile peaking at 40
//! openings per hour at 08:00–09:00 and 17:00–18:00, 2 per hour at night; open for 3–15 s;
//! one forced opening per 30 days, held open 20–120 s.
//!
//! **Left out.** Weekdays versus weekends, holidays, correlated traffic between doors, and the
//! lock: whether a normal opening needed an unlock is the scenario's business (it drives the
//! [`crate::actuator::Lock`]).

use rand_core::RngCore;
use sim::{SimDuration, SimTime};

/// Door usage figures. See the module docs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DoorUsage {
    /// Openings per hour for each UTC hour of the day.
    pub openings_per_hour: [f64; 24],
    pub open_s_min: f64,
    pub open_s_max: f64,
    pub forced_per_day: f64,
    pub forced_open_s_min: f64,
    pub forced_open_s_max: f64,
}

impl DoorUsage {
    /// An office entrance (assumed figures, module docs).
    pub fn office_entrance() -> Self {
        let mut rate = [2.0; 24];
        let day = [
            (7, 15.0),
            (8, 40.0),
            (9, 25.0),
            (10, 12.0),
            (11, 12.0),
            (12, 30.0),
            (13, 25.0),
            (14, 12.0),
            (15, 12.0),
            (16, 15.0),
            (17, 40.0),
            (18, 20.0),
            (19, 6.0),
        ];
        for (h, r) in day {
            rate[h] = r;
        }
        DoorUsage {
            openings_per_hour: rate,
            open_s_min: 3.0,
            open_s_max: 15.0,
            forced_per_day: 1.0 / 30.0,
            forced_open_s_min: 20.0,
            forced_open_s_max: 120.0,
        }
    }

    pub fn validate(&self) -> Result<(), DoorUsageError> {
        for (hour, r) in self.openings_per_hour.iter().enumerate() {
            if !(r.is_finite() && *r >= 0.0) {
                return Err(DoorUsageError {
                    field: "openings_per_hour",
                    detail: format!("hour {hour} = {r}"),
                    expected: ">= 0",
                });
            }
        }
        let pairs = [
            ("open_s_max", self.open_s_min, self.open_s_max),
            (
                "forced_open_s_max",
                self.forced_open_s_min,
                self.forced_open_s_max,
            ),
        ];
        for (field, lo, hi) in pairs {
            if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && hi >= lo) {
                return Err(DoorUsageError {
                    field,
                    detail: format!("{hi} (minimum {lo})"),
                    expected: "a positive minimum and a maximum >= it",
                });
            }
        }
        if !(self.forced_per_day.is_finite() && self.forced_per_day >= 0.0) {
            return Err(DoorUsageError {
                field: "forced_per_day",
                detail: self.forced_per_day.to_string(),
                expected: ">= 0",
            });
        }
        Ok(())
    }
}

/// An impossible door usage figure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("door usage: field {field} = {detail} but expected {expected}")]
pub struct DoorUsageError {
    pub field: &'static str,
    pub detail: String,
    pub expected: &'static str,
}

/// A change of the door.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DoorEvent {
    Opened { at: SimTime, forced: bool },
    Closed { at: SimTime },
}

/// A door. See the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct Door {
    usage: DoorUsage,
    epoch: sim::Epoch,
    open: bool,
    forced: bool,
    close_at: SimTime,
    next_normal: Option<SimTime>,
    next_forced: Option<SimTime>,
}

fn exp_after(from: SimTime, per_s: f64, rng: &mut impl RngCore) -> Option<SimTime> {
    (per_s > 0.0).then(|| {
        from.saturating_add(SimDuration::from_secs_f64(
            -libm::log(sim::rng::open_unit_f64(rng)) / per_s,
        ))
    })
}

impl Door {
    /// A closed door at `now`.
    pub fn new(
        usage: DoorUsage,
        epoch: sim::Epoch,
        now: SimTime,
        rng: &mut impl RngCore,
    ) -> Result<Self, DoorUsageError> {
        usage.validate()?;
        let mut d = Door {
            usage,
            epoch,
            open: false,
            forced: false,
            close_at: SimTime::MAX,
            next_normal: None,
            next_forced: None,
        };
        d.next_normal = d.draw_normal(now, rng);
        d.next_forced = exp_after(now, usage.forced_per_day / 86_400.0, rng);
        Ok(d)
    }

    fn peak_per_s(&self) -> f64 {
        self.usage
            .openings_per_hour
            .iter()
            .copied()
            .fold(0.0, f64::max)
            / 3_600.0
    }

    /// The next normal opening after `from`, by thinning.
    fn draw_normal(&self, from: SimTime, rng: &mut impl RngCore) -> Option<SimTime> {
        let peak = self.peak_per_s();
        let mut t = from;
        // Bounded: at least one hour in 24 has the peak rate, so acceptance within a day of
        // candidates is near-certain; the bound only guards against pathological tables.
        for _ in 0..100_000 {
            t = exp_after(t, peak, rng)?;
            let rate =
                self.usage.openings_per_hour[usize::from(self.epoch.hour_of_day(t))] / 3_600.0;
            if sim::rng::unit_f64(rng) * peak < rate {
                return Some(t);
            }
        }
        None
    }

    pub fn is_open(&self) -> bool {
        self.open
    }
    /// Whether the present opening was forced.
    pub fn is_forced_open(&self) -> bool {
        self.open && self.forced
    }

    /// When the door next changes.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        if self.open {
            Some(self.close_at)
        } else {
            match (self.next_normal, self.next_forced) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
    }

    /// Performs the change due at or before `now`, if any.
    pub fn handle_timeout(&mut self, now: SimTime, rng: &mut impl RngCore) -> Option<DoorEvent> {
        let at = self.poll_timeout().filter(|t| *t <= now)?;
        if self.open {
            self.open = false;
            self.forced = false;
            self.close_at = SimTime::MAX;
            // Arrivals while the door was open are folded into that opening.
            if self.next_normal.is_some_and(|t| t <= at) {
                self.next_normal = self.draw_normal(at, rng);
            }
            if self.next_forced.is_some_and(|t| t <= at) {
                self.next_forced = exp_after(at, self.usage.forced_per_day / 86_400.0, rng);
            }
            return Some(DoorEvent::Closed { at });
        }
        let forced = self.next_forced == Some(at) && self.next_normal != Some(at);
        let (lo, hi) = if forced {
            self.next_forced = exp_after(at, self.usage.forced_per_day / 86_400.0, rng);
            (self.usage.forced_open_s_min, self.usage.forced_open_s_max)
        } else {
            self.next_normal = self.draw_normal(at, rng);
            (self.usage.open_s_min, self.usage.open_s_max)
        };
        let open_s = lo + (hi - lo) * sim::rng::unit_f64(rng);
        self.open = true;
        self.forced = forced;
        self.close_at = at.saturating_add(SimDuration::from_secs_f64(open_s));
        Some(DoorEvent::Opened { at, forced })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::{CompactRng, Epoch};

    #[test]
    fn openings_follow_the_hourly_profile_and_forced_events_are_rare() {
        let mut rng = CompactRng::from_seed_u64(4);
        let usage = DoorUsage {
            forced_per_day: 0.5,
            ..DoorUsage::office_entrance()
        };
        let mut door = Door::new(usage, Epoch::DEFAULT, SimTime::ZERO, &mut rng).unwrap();
        let days = 60;
        let end = SimTime::from_secs(days * 86_400);
        let mut per_hour = [0u32; 24];
        let mut forced = 0;
        while let Some(t) = door.poll_timeout().filter(|t| *t < end) {
            match door.handle_timeout(t, &mut rng) {
                Some(DoorEvent::Opened { at, forced: f }) => {
                    if f {
                        forced += 1;
                    } else {
                        per_hour[usize::from(Epoch::DEFAULT.hour_of_day(at))] += 1;
                    }
                }
                Some(DoorEvent::Closed { .. }) => {}
                None => panic!("poll_timeout promised a change at {t:?}"),
            }
        }
        let rate8 = f64::from(per_hour[8]) / days as f64;
        let rate3 = f64::from(per_hour[3]) / days as f64;
        // Slightly under 40/h: arrivals during an opening are folded into it.
        assert!((34.0..=41.0).contains(&rate8), "{rate8}");
        assert!((1.5..=2.5).contains(&rate3), "{rate3}");
        assert!((15..=45).contains(&forced), "{forced}");
    }
}
