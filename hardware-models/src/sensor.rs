//! The measurement model every scalar sensor shares.
//!
//! **Model.** A reading is a pure function of the true value, the unit's state, its random
//! stream and `now`:
//!
//! ```text
//! reading = clamp_to_range( quantise( true + bias·band_scale(true) + noise ) )
//! ```
//!
//! - `bias` is drawn once when the unit is "manufactured" ([`SensorUnit::manufacture`]) from a
//!   normal distribution with standard deviation half the bias bound, truncated at the bound;
//! - `noise` is a fresh normal draw per sample with the part's RMS noise, truncated at ±4 σ;
//! - quantisation rounds to the nearest multiple of the part's resolution (one LSB);
//! - the range clamp saturates at the largest/smallest multiple of the resolution inside the
//!   part's output range, as a digital part's output register does;
//! - the value is available `conversion_time` after the request (`Reading::Value::ready_at`);
//! - each sample costs `energy_per_sample_uj` (the caller debits the battery ledger).
//!
//! **Invariants.** The datasheet accuracy is treated as a bound on the total error of every
//! unit of the population inside the accuracy band: the bias bound is chosen so that
//! `bias + 4σ noise + half an LSB ≤ accuracy` ([`SensorSpec::bias_bound`]). Outside the band the
//! bias is scaled by `accuracy_out_of_band / accuracy`. Readings are always multiples of the
//! resolution and never outside the output range.
//!
//! **Fault model.** None here: faults are decorators ([`crate::fault::Faulty`]) so that a
//! healthy part's code never changes.
//!
//! **Left out.** Temperature coefficients of the bias beyond the in/out-of-band step, ageing
//! (use the drift fault), self-heating (the BME280 "reads high", reference §7.2, is left to
//! the drift/offset faults), non-linearity, supply-voltage dependence, and bus (I²C/1-Wire)
//! errors.

use rand_core::RngCore;
use sim::SimDuration;
use sim::SimTime;

/// Why a sensor produced no value this time. A missing reading is a counted outcome, not an
/// error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoReadingReason {
    /// The part is dead (fault plan or battery).
    Dead,
    /// The sample was dropped (bus error, timeout, CRC failure).
    Dropout,
}

/// The outcome of one measurement request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reading {
    /// A value in the part's unit, available to the firmware at `ready_at`.
    Value { value: f64, ready_at: SimTime },
    /// No value.
    NoReading(NoReadingReason),
}

impl Reading {
    /// The value, if there is one.
    pub fn value(self) -> Option<f64> {
        match self {
            Reading::Value { value, .. } => Some(value),
            Reading::NoReading(_) => None,
        }
    }
}

/// A sensor channel's datasheet figures. See the module docs for how they are used.
#[derive(Clone, Debug, PartialEq)]
pub struct SensorSpec {
    /// Part and channel, e.g. `"HTS221 temperature"`.
    pub name: &'static str,
    /// Unit of the values, e.g. `"degC"`.
    pub unit: &'static str,
    /// Lowest value the part's output can represent.
    pub range_min: f64,
    /// Highest value the part's output can represent.
    pub range_max: f64,
    /// One LSB, in the part's unit.
    pub resolution: f64,
    /// Maximum total error of any unit inside the accuracy band, in the part's unit.
    pub accuracy: f64,
    /// The true-value band over which `accuracy` holds.
    pub accuracy_band_min: f64,
    pub accuracy_band_max: f64,
    /// Maximum total error outside the band.
    pub accuracy_out_of_band: f64,
    /// RMS noise per sample, in the part's unit.
    pub noise_sd: f64,
    /// Time from the request to the value being available.
    pub conversion_time: SimDuration,
    /// Energy one sample costs, in microjoules.
    pub energy_per_sample_uj: f64,
}

/// A spec whose figures cannot hold together.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("sensor spec {name}: field {field} = {value} but expected {expected}")]
    Field {
        name: &'static str,
        field: &'static str,
        value: f64,
        expected: &'static str,
    },
}

/// How far noise may stray, in standard deviations (the noise draw is truncated there).
pub const NOISE_TRUNCATION_SD: f64 = 4.0;

impl SensorSpec {
    /// Checks that the figures are finite and consistent: the range is ordered, resolution and
    /// noise are positive or zero as required, and the accuracy leaves room for a bias once noise
    /// and quantisation are accounted for.
    pub fn validate(&self) -> Result<(), SpecError> {
        let f = |field, value: f64, ok: bool, expected| {
            if ok && value.is_finite() {
                Ok(())
            } else {
                Err(SpecError::Field {
                    name: self.name,
                    field,
                    value,
                    expected,
                })
            }
        };
        f("range_min", self.range_min, true, "finite")?;
        f(
            "range_max",
            self.range_max,
            self.range_max > self.range_min,
            "> range_min",
        )?;
        f(
            "resolution",
            self.resolution,
            self.resolution > 0.0 && self.resolution <= self.range_max - self.range_min,
            "> 0 and at most the range width",
        )?;
        f("noise_sd", self.noise_sd, self.noise_sd >= 0.0, ">= 0")?;
        f(
            "accuracy",
            self.accuracy,
            self.bias_bound() >= 0.0,
            ">= 4·noise_sd + resolution/2 (room for the unit bias)",
        )?;
        f(
            "accuracy_out_of_band",
            self.accuracy_out_of_band,
            self.accuracy_out_of_band >= self.accuracy,
            ">= accuracy",
        )?;
        f(
            "accuracy_band_max",
            self.accuracy_band_max,
            self.accuracy_band_max >= self.accuracy_band_min,
            ">= accuracy_band_min",
        )?;
        f(
            "energy_per_sample_uj",
            self.energy_per_sample_uj,
            self.energy_per_sample_uj >= 0.0,
            ">= 0",
        )?;
        Ok(())
    }

    /// The largest in-band bias a unit may have so that its total error stays within
    /// `accuracy`: `accuracy − 4σ − LSB/2`.
    pub fn bias_bound(&self) -> f64 {
        self.accuracy - NOISE_TRUNCATION_SD * self.noise_sd - self.resolution / 2.0
    }

    /// The lowest output code (in LSBs).
    fn code_min(&self) -> f64 {
        libm::ceil(self.range_min / self.resolution)
    }
    /// The highest output code (in LSBs).
    fn code_max(&self) -> f64 {
        libm::floor(self.range_max / self.resolution)
    }

    /// Quantises to the nearest LSB and saturates at the output range.
    #[inline]
    pub fn quantise_clamp(&self, v: f64) -> f64 {
        // Inside the range by more than an LSB the code needs no clamp (the common case), and
        // it is far inside the i64 range, so rounding half away from zero by a truncating
        // cast gives exactly `libm::round`.
        if v > self.range_min + self.resolution && v < self.range_max - self.resolution {
            let x = v / self.resolution;
            let code = if x >= 0.0 {
                (x + 0.5) as i64
            } else {
                (x - 0.5) as i64
            };
            return code as f64 * self.resolution;
        }
        let code = if v.is_nan() {
            self.code_min()
        } else {
            libm::round(v / self.resolution).clamp(self.code_min(), self.code_max())
        };
        code * self.resolution
    }

    /// The lowest value the part can report.
    pub fn reportable_min(&self) -> f64 {
        self.code_min() * self.resolution
    }
    /// The highest value the part can report.
    pub fn reportable_max(&self) -> f64 {
        self.code_max() * self.resolution
    }

    /// The scale applied to the unit's in-band bias when the true value lies outside the band.
    #[inline]
    pub fn band_scale(&self, true_value: f64) -> f64 {
        if true_value < self.accuracy_band_min || true_value > self.accuracy_band_max {
            // Out of band the bias bound grows by the ratio of the two accuracies, keeping the
            // total error inside the out-of-band accuracy.
            let out = self.accuracy_out_of_band
                - NOISE_TRUNCATION_SD * self.noise_sd
                - self.resolution / 2.0;
            let bound = self.bias_bound();
            if bound > 0.0 {
                out / bound
            } else {
                1.0
            }
        } else {
            1.0
        }
    }

    /// Draws a unit's bias: normal with σ = bound/2, truncated at the bound.
    pub fn draw_bias(&self, rng: &mut impl RngCore) -> f64 {
        let bound = self.bias_bound().max(0.0);
        (sim::rng::standard_normal(rng) * bound / 2.0).clamp(-bound, bound)
    }

    /// One measurement by a unit with the given bias. Pure function of its inputs; consumes
    /// exactly two draws from `rng` when `noise_sd > 0`, none otherwise.
    pub fn measure_with_bias(
        &self,
        bias: f64,
        now: SimTime,
        true_value: f64,
        rng: &mut impl RngCore,
    ) -> Reading {
        let z = if self.noise_sd > 0.0 {
            sim::rng::standard_normal(rng)
        } else {
            0.0
        };
        self.measure_with_noise(bias, now, true_value, z)
    }

    /// One measurement given the unit's bias and a standard normal variate `z` for the noise
    /// (truncated here at ±4): the deterministic core of [`SensorSpec::measure_with_bias`], for
    /// callers that draw their normals in bulk.
    #[inline]
    pub fn measure_with_noise(&self, bias: f64, now: SimTime, true_value: f64, z: f64) -> Reading {
        let noise = z.clamp(-NOISE_TRUNCATION_SD, NOISE_TRUNCATION_SD) * self.noise_sd;
        let raw = true_value + bias * self.band_scale(true_value) + noise;
        Reading::Value {
            value: self.quantise_clamp(raw),
            ready_at: now.saturating_add(self.conversion_time),
        }
    }
}

/// Anything that turns a true value into a reading. Implemented by healthy parts and by the
/// fault decorator that wraps them.
pub trait Sensor {
    /// The part's figures.
    fn spec(&self) -> &SensorSpec;
    /// Requests one measurement at `now` of a world whose true value is `true_value`.
    fn measure(&mut self, now: SimTime, true_value: f64, rng: &mut impl RngCore) -> Reading;
}

/// One manufactured unit of a sensor part: the spec plus the unit's own bias.
#[derive(Clone, Debug, PartialEq)]
pub struct SensorUnit {
    spec: SensorSpec,
    bias: f64,
}

impl SensorUnit {
    /// Manufactures a unit: validates the spec and draws the unit's bias from `rng` (use a
    /// stream keyed by the device id and `"manufacture"` so each unit is reproducible).
    pub fn manufacture(spec: SensorSpec, rng: &mut impl RngCore) -> Result<Self, SpecError> {
        spec.validate()?;
        let bias = spec.draw_bias(rng);
        Ok(SensorUnit { spec, bias })
    }

    /// A unit with a known bias (for tests and calibrated parts); the bias is clamped to the
    /// spec's bound.
    pub fn with_bias(spec: SensorSpec, bias: f64) -> Result<Self, SpecError> {
        spec.validate()?;
        let bound = spec.bias_bound();
        Ok(SensorUnit {
            bias: bias.clamp(-bound, bound),
            spec,
        })
    }

    /// This unit's in-band bias.
    pub fn bias(&self) -> f64 {
        self.bias
    }
}

impl Sensor for SensorUnit {
    fn spec(&self) -> &SensorSpec {
        &self.spec
    }
    fn measure(&mut self, now: SimTime, true_value: f64, rng: &mut impl RngCore) -> Reading {
        self.spec.measure_with_bias(self.bias, now, true_value, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::CompactRng;

    fn spec() -> SensorSpec {
        SensorSpec {
            name: "test",
            unit: "u",
            range_min: -1.03,
            range_max: 2.07,
            resolution: 0.1,
            accuracy: 0.5,
            accuracy_band_min: 0.0,
            accuracy_band_max: 1.0,
            accuracy_out_of_band: 1.0,
            noise_sd: 0.02,
            conversion_time: SimDuration::from_millis(10),
            energy_per_sample_uj: 1.0,
        }
    }

    #[test]
    fn quantisation_saturates_on_whole_codes_inside_the_range() {
        let s = spec();
        assert!((s.quantise_clamp(100.0) - 2.0).abs() < 1e-12);
        assert!((s.quantise_clamp(-100.0) + 1.0).abs() < 1e-12);
        assert!((s.quantise_clamp(0.449) - 0.4).abs() < 1e-12);
        assert!((s.quantise_clamp(f64::NAN) + 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_spec_without_room_for_bias_is_rejected_naming_the_field() {
        let mut s = spec();
        s.noise_sd = 0.2;
        let e = s.validate().unwrap_err();
        assert!(e.to_string().contains("accuracy"), "{e}");
    }

    #[test]
    fn the_reading_is_ready_after_the_conversion_time() {
        let mut u = SensorUnit::with_bias(spec(), 0.0).unwrap();
        let mut rng = CompactRng::from_seed_u64(1);
        match u.measure(SimTime::from_secs(5), 0.5, &mut rng) {
            Reading::Value { ready_at, .. } => {
                assert_eq!(ready_at, SimTime::from_millis(5_010))
            }
            other => panic!("{other:?}"),
        }
    }
}
