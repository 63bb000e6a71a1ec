//! A heated mixing tank whose temperature the plant controls and the IoT device watches.
//!
//! **Model.** The seed's plant watches "the temperature of a mix batch tank" and alerts when it
//! leaves an allowable range. The tank is well mixed: `m·c·dT/dt = P_heater − UA·(T − T_amb)`.
//! The plant's own controller (not the IoT device) switches the immersion heater fully on below
//! `setpoint − hysteresis` and off above `setpoint + hysteresis`. Disturbances cause
//! excursions:
//! - cold additions arrive as a Poisson process (`additions_per_hour`); each mixes a fraction of
//!   the tank volume (uniform in `[addition_fraction_min, addition_fraction_max]`) of feed at
//!   `feed_temp_c` into the batch: `T ← (1 − f)·T + f·T_feed`;
//! - the fault plan can fail the heater ([`Tank::set_heater_failed`]): the batch then cools
//!   towards ambient until repaired; or weld its contactor shut
//!   ([`Tank::set_heater_stuck_on`]): it heats whatever the controller asks.
//!
//! **Pressure.** The vessel is closed: above the batch a headspace of `headspace_l` holds air
//! and water vapour, `P = n_air·R·T/V + P_sat(T)`, with the vapour saturated at the batch
//! temperature (Antoine's equation for water, valid from 1 to 100 °C:
//! `log10(P/mmHg) = 8.07131 − 1730.63/(233.426 + T)`). A breather vent keeps the gauge pressure
//! within `[−vent_vacuum_kpa, vent_relief_kpa]` by letting air out or in; the fault plan can
//! block it ([`Tank::set_vent_blocked`]), and then heating raises the pressure with nothing
//! to relieve it. The batch boils at 100 °C: the temperature holds there and further heat
//! leaves as steam (boiling above 100 °C under pressure is left out). [`Tank::pressure_kpa`]
//! is the gauge pressure a transducer on the headspace reads.
//!
//! [`Tank::poll_timeout`] gives the next addition; [`Tank::handle_timeout`] applies it.
//! [`Tank::advance`] integrates exactly over sub-steps of at most 10 s (the controller acts at
//! sub-step boundaries).
//!
//! **Figures** (all **assumed**; the seed gives none): 1000 L of a water-like batch
//! (c = 4186 J/(kg·K), 1 kg/L), UA 20 W/K to a 20 °C hall, 6 kW heater, setpoint 60 °C with
//! ±1 °C hysteresis, two cold additions per hour of 2–10 % of the volume at 15 °C, a 200 L
//! headspace at sea-level pressure (101.325 kPa), a breather vent relieving at +5 kPa and
//! breaking vacuum at −2 kPa.
//!
//! **Left out.** Level changes (the volume is constant: an addition replaces batch drawn off,
//! so the headspace keeps its volume), stratification, viscosity, the vapour's lag behind
//! saturation, and the agitator's heat.

use crate::actuator::TankHeater;
use rand_core::RngCore;
use sim::{SimDuration, SimTime};

/// Tank figures. See the module docs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TankSpec {
    pub volume_l: f64,
    pub specific_heat_j_per_kg_k: f64,
    pub ua_w_per_k: f64,
    pub ambient_c: f64,
    pub heater_max_w: f64,
    pub setpoint_c: f64,
    pub hysteresis_c: f64,
    pub additions_per_hour: f64,
    pub addition_fraction_min: f64,
    pub addition_fraction_max: f64,
    pub feed_temp_c: f64,
    pub headspace_l: f64,
    /// Absolute pressure outside the vessel.
    pub atmosphere_kpa: f64,
    /// The breather vent lets air out above this gauge pressure…
    pub vent_relief_kpa: f64,
    /// …and in below minus this one.
    pub vent_vacuum_kpa: f64,
}

impl Default for TankSpec {
    fn default() -> Self {
        TankSpec {
            volume_l: 1_000.0,
            specific_heat_j_per_kg_k: 4_186.0,
            ua_w_per_k: 20.0,
            ambient_c: 20.0,
            heater_max_w: TankHeater::DEFAULT_MAX_POWER_W,
            setpoint_c: 60.0,
            hysteresis_c: 1.0,
            additions_per_hour: 2.0,
            addition_fraction_min: 0.02,
            addition_fraction_max: 0.10,
            feed_temp_c: 15.0,
            headspace_l: 200.0,
            atmosphere_kpa: 101.325,
            vent_relief_kpa: 5.0,
            vent_vacuum_kpa: 2.0,
        }
    }
}

/// An impossible tank figure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("tank spec: field {field} = {value} but expected {expected}")]
pub struct TankSpecError {
    pub field: &'static str,
    pub value: f64,
    pub expected: &'static str,
}

impl TankSpec {
    pub fn validate(&self) -> Result<(), TankSpecError> {
        let f = |field, value: f64, ok: bool, expected| {
            if ok && value.is_finite() {
                Ok(())
            } else {
                Err(TankSpecError {
                    field,
                    value,
                    expected,
                })
            }
        };
        f("volume_l", self.volume_l, self.volume_l > 0.0, "> 0")?;
        f(
            "specific_heat_j_per_kg_k",
            self.specific_heat_j_per_kg_k,
            self.specific_heat_j_per_kg_k > 0.0,
            "> 0",
        )?;
        f(
            "ua_w_per_k",
            self.ua_w_per_k,
            self.ua_w_per_k >= 0.0,
            ">= 0",
        )?;
        f("ambient_c", self.ambient_c, true, "finite")?;
        f(
            "heater_max_w",
            self.heater_max_w,
            self.heater_max_w >= 0.0,
            ">= 0",
        )?;
        f("setpoint_c", self.setpoint_c, true, "finite")?;
        f(
            "hysteresis_c",
            self.hysteresis_c,
            self.hysteresis_c >= 0.0,
            ">= 0",
        )?;
        f(
            "additions_per_hour",
            self.additions_per_hour,
            self.additions_per_hour >= 0.0,
            ">= 0",
        )?;
        f(
            "addition_fraction_min",
            self.addition_fraction_min,
            (0.0..=1.0).contains(&self.addition_fraction_min),
            "a fraction from 0 to 1",
        )?;
        f(
            "addition_fraction_max",
            self.addition_fraction_max,
            self.addition_fraction_max >= self.addition_fraction_min
                && self.addition_fraction_max <= 1.0,
            ">= addition_fraction_min and <= 1",
        )?;
        f("feed_temp_c", self.feed_temp_c, true, "finite")?;
        f(
            "headspace_l",
            self.headspace_l,
            self.headspace_l > 0.0,
            "> 0",
        )?;
        f(
            "atmosphere_kpa",
            self.atmosphere_kpa,
            self.atmosphere_kpa > 0.0,
            "> 0",
        )?;
        f(
            "vent_relief_kpa",
            self.vent_relief_kpa,
            self.vent_relief_kpa >= 0.0,
            ">= 0",
        )?;
        f(
            "vent_vacuum_kpa",
            self.vent_vacuum_kpa,
            (0.0..self.atmosphere_kpa).contains(&self.vent_vacuum_kpa),
            ">= 0 and below the atmosphere",
        )?;
        Ok(())
    }
}

/// A mixing tank. See the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct Tank {
    spec: TankSpec,
    temp_c: f64,
    at: SimTime,
    heater: TankHeater,
    heater_failed: bool,
    heater_stuck_on: bool,
    vent_blocked: bool,
    /// Air in the headspace, in kPa·L/K (moles × R: the ideal gas law without the constant).
    air: f64,
    next_addition: Option<SimTime>,
    additions: u64,
}

const TANK_STEP: SimDuration = SimDuration::from_secs(10);

/// Water boils at this temperature (at the atmosphere's pressure; see the module docs).
const BOILING_C: f64 = 100.0;

/// The saturation pressure of water vapour at `t_c`, kPa (Antoine, 1–100 °C; clamped there).
pub fn water_vapour_kpa(t_c: f64) -> f64 {
    let t = t_c.clamp(1.0, BOILING_C);
    let mmhg = libm::pow(10.0, 8.07131 - 1730.63 / (233.426 + t));
    mmhg * 0.133_322_387
}

fn kelvin(t_c: f64) -> f64 {
    t_c + 273.15
}

impl Tank {
    /// A tank at `temp_c` at `now`; the first addition is drawn from `rng`.
    pub fn new(
        spec: TankSpec,
        temp_c: f64,
        now: SimTime,
        rng: &mut impl RngCore,
    ) -> Result<Self, TankSpecError> {
        spec.validate()?;
        let mut tank = Tank {
            heater: TankHeater::new(spec.heater_max_w, now),
            spec,
            temp_c: temp_c.min(BOILING_C),
            at: now,
            heater_failed: false,
            heater_stuck_on: false,
            vent_blocked: false,
            air: 0.0,
            next_addition: None,
            additions: 0,
        };
        // The headspace was filled at atmospheric pressure at the batch's temperature.
        tank.air = tank.air_for(0.0, water_vapour_kpa(tank.temp_c));
        tank.schedule_addition(now, rng);
        Ok(tank)
    }

    fn schedule_addition(&mut self, from: SimTime, rng: &mut impl RngCore) {
        self.next_addition = (self.spec.additions_per_hour > 0.0).then(|| {
            let mean_s = 3_600.0 / self.spec.additions_per_hour;
            from.saturating_add(SimDuration::from_secs_f64(
                -mean_s * libm::log(sim::rng::open_unit_f64(rng)),
            ))
        });
    }

    pub fn temperature_c(&self) -> f64 {
        self.temp_c
    }
    pub fn heater_on(&self) -> bool {
        self.heater.power_w() > 0.0
    }
    /// Cold additions so far.
    pub fn additions(&self) -> u64 {
        self.additions
    }
    /// Heater energy used up to `now`, joules.
    pub fn heater_energy_j(&mut self, now: SimTime) -> f64 {
        self.heater.energy_j(now)
    }

    /// Gauge pressure in the headspace, kPa (module docs).
    pub fn pressure_kpa(&self) -> f64 {
        self.gauge_kpa(water_vapour_kpa(self.temp_c))
    }

    /// Gauge pressure with the vapour at `vapour_kpa`.
    fn gauge_kpa(&self, vapour_kpa: f64) -> f64 {
        self.air * kelvin(self.temp_c) / self.spec.headspace_l + vapour_kpa
            - self.spec.atmosphere_kpa
    }

    /// The air that gives gauge pressure `gauge_kpa` beside vapour at `vapour_kpa`.
    fn air_for(&self, gauge_kpa: f64, vapour_kpa: f64) -> f64 {
        ((self.spec.atmosphere_kpa + gauge_kpa - vapour_kpa) * self.spec.headspace_l
            / kelvin(self.temp_c))
        .max(0.0)
    }

    /// The vent lets air out or in to keep the gauge pressure within its limits.
    fn breathe(&mut self) {
        if self.vent_blocked {
            return;
        }
        let vapour = water_vapour_kpa(self.temp_c);
        let gauge = self.gauge_kpa(vapour);
        let target = if gauge > self.spec.vent_relief_kpa {
            self.spec.vent_relief_kpa
        } else if gauge < -self.spec.vent_vacuum_kpa {
            -self.spec.vent_vacuum_kpa
        } else {
            return;
        };
        self.air = self.air_for(target, vapour);
    }

    /// Blocks or clears the breather vent at `now` (fault plan).
    pub fn set_vent_blocked(&mut self, now: SimTime, blocked: bool) {
        self.advance(now);
        self.vent_blocked = blocked;
        self.breathe();
    }

    /// Welds the heater's contactor shut (or frees it) at `now` (fault plan): it then heats at
    /// full power whatever the controller asks.
    pub fn set_heater_stuck_on(&mut self, now: SimTime, stuck: bool) {
        self.advance(now);
        self.heater_stuck_on = stuck;
    }

    /// Fails or repairs the heater at `now` (fault plan).
    pub fn set_heater_failed(&mut self, now: SimTime, failed: bool) {
        self.advance(now);
        self.heater_failed = failed;
        if failed {
            self.heater.handle_level(now, 0.0);
        }
    }

    /// When the next cold addition arrives.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.next_addition
    }

    /// Advances to `now`, applying any cold addition due by then.
    pub fn handle_timeout(&mut self, now: SimTime, rng: &mut impl RngCore) {
        while let Some(at) = self.next_addition.filter(|at| *at <= now) {
            self.advance(at);
            let u = sim::rng::unit_f64(rng);
            let f = self.spec.addition_fraction_min
                + u * (self.spec.addition_fraction_max - self.spec.addition_fraction_min);
            self.temp_c = (1.0 - f) * self.temp_c + f * self.spec.feed_temp_c;
            self.breathe();
            self.additions += 1;
            self.schedule_addition(at, rng);
        }
        self.advance(now);
    }

    /// Integrates heat flows to `now` (does not apply additions; see `handle_timeout`).
    pub fn advance(&mut self, now: SimTime) {
        let heat_capacity = self.spec.volume_l * self.spec.specific_heat_j_per_kg_k;
        while self.at < now {
            let dt = now.since(self.at).min(TANK_STEP);
            // The plant controller acts at each sub-step boundary.
            let level = if self.heater_stuck_on {
                1.0
            } else if self.heater_failed {
                0.0
            } else if self.temp_c < self.spec.setpoint_c - self.spec.hysteresis_c {
                1.0
            } else if self.temp_c > self.spec.setpoint_c + self.spec.hysteresis_c {
                0.0
            } else if self.heater_on() {
                1.0
            } else {
                0.0
            };
            self.heater.handle_level(self.at, level);
            let p = self.heater.power_w();
            let dt_s = dt.as_secs_f64();
            self.temp_c = if self.spec.ua_w_per_k > 0.0 {
                let t_eq = self.spec.ambient_c + p / self.spec.ua_w_per_k;
                let decay = libm::exp(-self.spec.ua_w_per_k * dt_s / heat_capacity);
                t_eq + (self.temp_c - t_eq) * decay
            } else {
                self.temp_c + p * dt_s / heat_capacity
            }
            .min(BOILING_C);
            self.breathe();
            self.at += dt;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::CompactRng;

    #[test]
    fn the_controller_holds_the_setpoint_between_additions() {
        let spec = TankSpec {
            additions_per_hour: 0.0,
            ..TankSpec::default()
        };
        let mut rng = CompactRng::from_seed_u64(1);
        let mut tank = Tank::new(spec, 55.0, SimTime::ZERO, &mut rng).unwrap();
        tank.handle_timeout(SimTime::from_secs(4 * 3_600), &mut rng);
        let t = tank.temperature_c();
        assert!((58.9..=61.1).contains(&t), "{t}");
        assert_eq!(tank.poll_timeout(), None);
    }

    #[test]
    fn cold_additions_and_a_failed_heater_cause_excursions() {
        let mut rng = CompactRng::from_seed_u64(2);
        let mut tank = Tank::new(TankSpec::default(), 60.0, SimTime::ZERO, &mut rng).unwrap();
        let mut low = f64::INFINITY;
        for m in 1..=(6 * 60) {
            tank.handle_timeout(SimTime::from_secs(m * 60), &mut rng);
            low = low.min(tank.temperature_c());
        }
        assert!(tank.additions() >= 5, "{}", tank.additions());
        assert!(low < 58.0, "{low}");
        let now = SimTime::from_secs(6 * 3_600);
        tank.set_heater_failed(now, true);
        tank.advance(now + SimDuration::from_hours(48));
        assert!(tank.temperature_c() < 50.0);
    }

    #[test]
    fn water_vapour_follows_antoine_at_its_reference_points() {
        // Steam tables: 3.17 kPa at 25 °C, 19.9 kPa at 60 °C, 101.3 kPa at 100 °C.
        for (t, p) in [(25.0, 3.17), (60.0, 19.9), (100.0, 101.3)] {
            let got = water_vapour_kpa(t);
            assert!((got - p).abs() < 0.02 * p, "{t} °C: {got} kPa");
        }
    }

    #[test]
    fn the_vent_holds_the_headspace_near_atmospheric_and_a_blocked_one_lets_it_build() {
        let spec = TankSpec {
            additions_per_hour: 0.0,
            ..TankSpec::default()
        };
        let mut rng = CompactRng::from_seed_u64(3);
        let mut tank = Tank::new(spec, 20.0, SimTime::ZERO, &mut rng).unwrap();
        assert!(tank.pressure_kpa().abs() < 1e-9, "filled at atmospheric");
        // Heating to the 60 °C setpoint raises the vapour and the air's pressure: the vent
        // relieves at +5 kPa.
        tank.handle_timeout(SimTime::from_secs(12 * 3_600), &mut rng);
        assert!((58.9..=61.1).contains(&tank.temperature_c()));
        let vented = tank.pressure_kpa();
        assert!((4.0..=5.0 + 1e-9).contains(&vented), "{vented}");
        // The contactor welds and the vent is blocked: the batch heats to boiling and the
        // sealed headspace's pressure climbs far beyond the relief setting.
        let t = SimTime::from_secs(12 * 3_600);
        tank.set_vent_blocked(t, true);
        tank.set_heater_stuck_on(t, true);
        tank.advance(t + SimDuration::from_hours(12));
        assert_eq!(tank.temperature_c(), BOILING_C);
        assert!(tank.pressure_kpa() > 80.0, "{}", tank.pressure_kpa());
        // Cleared, the vent relieves at once; the heater freed, the controller cools it back.
        let t = t + SimDuration::from_hours(12);
        tank.set_vent_blocked(t, false);
        assert!(tank.pressure_kpa() <= 5.0 + 1e-9);
        tank.set_heater_stuck_on(t, false);
        tank.advance(t + SimDuration::from_hours(48));
        assert!(tank.temperature_c() < 62.0, "{}", tank.temperature_c());
        // Cooling under a clear vent draws air in rather than a deep vacuum.
        assert!(
            tank.pressure_kpa() >= -2.0 - 1e-9,
            "{}",
            tank.pressure_kpa()
        );
    }
}
