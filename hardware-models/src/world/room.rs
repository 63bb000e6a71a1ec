//! A room's air temperature: a first-order RC thermal model driven by the outdoor day cycle
//! and the HVAC.
//!
//! **Model.** `C·dT/dt = (T_out(t) − T)/R + P_hvac + P_internal`, where `T_out` is a cosine day
//! cycle (`outdoor_mean_c ± outdoor_amplitude_c`, warmest at `outdoor_peak_hour` UTC),
//! `P_hvac` is the thermal power the HVAC delivers (positive heating, negative cooling; a heat
//! pump delivers `COP ×` its electrical power, [`HvacMode::thermal_w`]), and `P_internal` the
//! heat of people and appliances. [`Room::advance`] integrates exactly over sub-steps of at
//! most 60 s, holding the outdoor temperature at each sub-step's midpoint:
//! `T ← T_eq + (T − T_eq)·exp(−dt/RC)` with `T_eq = T_out + R·(P_hvac + P_internal)`.
//!
//! **Figures** (all **assumed**; the seed's thermostat example has none): a 30 m² room with
//! UA = 50 W/K (R = 0.02 K/W) and an effective heat capacity of 2 MJ/K (air, furniture, inner
//! wall surfaces; time constant 11 h), 150 W internal gains, outdoor 5 ± 5 °C peaking at
//! 15:00, heat pump COP 3 heating and 2.5 cooling.
//!
//! **Invariants.** With no HVAC and no gains, the room temperature stays between its start
//! value and the outdoor extremes.
//!
//! **Left out.** Humidity, solar gains through windows, multiple zones, ventilation, wall mass
//! as a second time constant, and weather other than the day cycle.

use sim::{Epoch, SimDuration, SimTime};

/// Room and climate figures. See the module docs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoomSpec {
    pub epoch: Epoch,
    /// Thermal resistance to outdoors, K/W (1/UA).
    pub resistance_k_per_w: f64,
    pub capacitance_j_per_k: f64,
    pub internal_gain_w: f64,
    pub outdoor_mean_c: f64,
    pub outdoor_amplitude_c: f64,
    /// UTC hour of the warmest outdoor temperature.
    pub outdoor_peak_hour: f64,
}

impl Default for RoomSpec {
    fn default() -> Self {
        RoomSpec {
            epoch: Epoch::DEFAULT,
            resistance_k_per_w: 0.02,
            capacitance_j_per_k: 2.0e6,
            internal_gain_w: 150.0,
            outdoor_mean_c: 5.0,
            outdoor_amplitude_c: 5.0,
            outdoor_peak_hour: 15.0,
        }
    }
}

/// An impossible room figure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("room spec: field {field} = {value} but expected {expected}")]
pub struct RoomSpecError {
    pub field: &'static str,
    pub value: f64,
    pub expected: &'static str,
}

impl RoomSpec {
    pub fn validate(&self) -> Result<(), RoomSpecError> {
        let f = |field, value: f64, ok: bool, expected| {
            if ok && value.is_finite() {
                Ok(())
            } else {
                Err(RoomSpecError {
                    field,
                    value,
                    expected,
                })
            }
        };
        f(
            "resistance_k_per_w",
            self.resistance_k_per_w,
            self.resistance_k_per_w > 0.0,
            "> 0",
        )?;
        f(
            "capacitance_j_per_k",
            self.capacitance_j_per_k,
            self.capacitance_j_per_k > 0.0,
            "> 0",
        )?;
        f("internal_gain_w", self.internal_gain_w, true, "finite")?;
        f(
            "outdoor_mean_c",
            self.outdoor_mean_c,
            (-60.0..=60.0).contains(&self.outdoor_mean_c),
            "from -60 to 60 °C",
        )?;
        f(
            "outdoor_amplitude_c",
            self.outdoor_amplitude_c,
            (0.0..=30.0).contains(&self.outdoor_amplitude_c),
            "from 0 to 30 °C",
        )?;
        f(
            "outdoor_peak_hour",
            self.outdoor_peak_hour,
            (0.0..24.0).contains(&self.outdoor_peak_hour),
            "an hour in [0, 24)",
        )?;
        Ok(())
    }

    /// Outdoor temperature at `t`, °C.
    pub fn outdoor_c(&self, t: SimTime) -> f64 {
        let sod = self.epoch.seconds_of_day(t);
        let phase = core::f64::consts::TAU * (sod - self.outdoor_peak_hour * 3_600.0) / 86_400.0;
        self.outdoor_mean_c + self.outdoor_amplitude_c * libm::cos(phase)
    }
}

/// What the HVAC is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HvacMode {
    Off,
    Heating,
    Cooling,
}

/// Heat pump coefficients of performance (assumed, module docs).
pub const HEATING_COP: f64 = 3.0;
pub const COOLING_COP: f64 = 2.5;

impl HvacMode {
    /// Thermal power into the room for an electrical power `electrical_w`, watts.
    pub fn thermal_w(self, electrical_w: f64) -> f64 {
        match self {
            HvacMode::Off => 0.0,
            HvacMode::Heating => HEATING_COP * electrical_w,
            HvacMode::Cooling => -COOLING_COP * electrical_w,
        }
    }
}

/// A room's thermal state. See the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct Room {
    spec: RoomSpec,
    temp_c: f64,
    at: SimTime,
}

const ROOM_STEP: SimDuration = SimDuration::from_secs(60);

impl Room {
    pub fn new(spec: RoomSpec, temp_c: f64, now: SimTime) -> Result<Self, RoomSpecError> {
        spec.validate()?;
        if !temp_c.is_finite() {
            return Err(RoomSpecError {
                field: "initial temperature",
                value: temp_c,
                expected: "finite",
            });
        }
        Ok(Room {
            spec,
            temp_c,
            at: now,
        })
    }

    pub fn spec(&self) -> &RoomSpec {
        &self.spec
    }
    /// Air temperature at the last advance, °C.
    pub fn temperature_c(&self) -> f64 {
        self.temp_c
    }

    /// Advances to `now` with the HVAC delivering `hvac_thermal_w` throughout.
    pub fn advance(&mut self, now: SimTime, hvac_thermal_w: f64) {
        let rc = self.spec.resistance_k_per_w * self.spec.capacitance_j_per_k;
        let p = if hvac_thermal_w.is_finite() {
            hvac_thermal_w
        } else {
            0.0
        };
        while self.at < now {
            let dt = now.since(self.at).min(ROOM_STEP);
            let mid = self.at + SimDuration::from_nanos(dt.as_nanos() / 2);
            let t_eq = self.spec.outdoor_c(mid)
                + self.spec.resistance_k_per_w * (p + self.spec.internal_gain_w);
            let decay = libm::exp(-dt.as_secs_f64() / rc);
            self.temp_c = t_eq + (self.temp_c - t_eq) * decay;
            self.at += dt;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heated_room_settles_at_the_rc_equilibrium() {
        let spec = RoomSpec {
            outdoor_amplitude_c: 0.0,
            ..RoomSpec::default()
        };
        let mut room = Room::new(spec, 5.0, SimTime::ZERO).unwrap();
        // 1 kW thermal + 150 W gains over R = 0.02 K/W: 23 K above outdoors.
        room.advance(SimTime::from_secs(10 * 86_400), 1_000.0);
        assert!(
            (room.temperature_c() - 28.0).abs() < 0.01,
            "{}",
            room.temperature_c()
        );
    }

    #[test]
    fn an_unheated_room_stays_between_start_and_outdoor_extremes() {
        let spec = RoomSpec {
            internal_gain_w: 0.0,
            ..RoomSpec::default()
        };
        let mut room = Room::new(spec, 20.0, SimTime::ZERO).unwrap();
        for h in 1..=72 {
            room.advance(SimTime::from_secs(h * 3_600), 0.0);
            assert!((0.0..=20.0).contains(&room.temperature_c()));
        }
        assert!(room.temperature_c() < 12.0);
    }
}
