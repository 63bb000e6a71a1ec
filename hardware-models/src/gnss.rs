//! GNSS receiver: horizontal error, time to fix, fix failure under cover, energy per fix.
//!
//! **Model.** A fix request at `now` for a receiver whose antenna is at true local position
//! (east, north) metres:
//! - fails with probability `fix_failure_open` under open sky or `fix_failure_covered` under
//!   cover (trees, a barn); a failed attempt keeps the receiver on until `timeout` and the
//!   firmware gets no fix (reference §7.3: "last-known position sent if no fix before
//!   timeout");
//! - otherwise takes a time to first fix (TTFF) that depends on how fresh the ephemeris is:
//!   a *hot* start if the last fix is younger than `ephemeris_valid`, a *cold* start otherwise;
//! - the horizontal error has a lognormal-shaped magnitude `exp(μ + σ·Z)` whose mean and SD
//!   match the LoRaWAN GNSS cattle-tag field test at 1-min fixes, 4.71 m mean, SD 3.9 m
//!   (reference §7.3), and a uniform direction. `Z` is the transcendental-free Irwin–Hall
//!   normal approximation (the collar update is on the million-device hot path); `μ` and `σ`
//!   are solved from its exact moment generating function so the mean and SD still match, and
//!   `exp` is two table lookups; the direction is one of 1024 (0.35° apart). Its
//!   bounded support caps the error at about 9× the median (about 45 m for the §7.3 figures),
//!   where a true lognormal has a thin tail beyond. "Accuracy degrades on longer fix cycles" (§7.3) is modelled by scaling
//!   the error of cold starts by `cold_error_scale`;
//! - energy = active current × supply voltage × time on (TTFF, or the timeout on failure).
//!
//! **Assumed figures** (none in the reference beyond §7.3's generic "GNSS fix ~20-30 mA for
//! 5-30 s"): active current 25 mA at 3.3 V; hot TTFF uniform 1–5 s; cold TTFF uniform 26–40 s;
//! ephemeris valid 4 h; timeout 90 s; cold-start error scale 1.3; fix failure 1 % under open
//! sky and 40 % under cover.
//!
//! **State.** [`GnssState`] is 4 bytes: the second of the last successful fix.
//!
//! **Left out.** Vertical error (§7.3 gives 5 m bias, SD 7.7 m; the herd is on a plane), error
//! correlation between consecutive fixes, satellite geometry (HDOP), multipath near buildings,
//! and almanac/assisted-GNSS modes.

use crate::fastmath::{
    f64_to_u64, irwin_hall_sum, turn_cos_sin, IRWIN_HALL_CENTRE, IRWIN_HALL_SCALE, TURN_STEPS,
};
use rand_core::RngCore;
use sim::{Ratio, SimDuration, SimTime};

/// The 22 bits of a fix's second draw that place its time to fix in the TTFF range.
const TTFF_MASK: u64 = (1 << 22) - 1;

/// Whether the antenna sees open sky.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SkyView {
    Open,
    /// Under trees, in a barn, or against a wall: most fixes fail.
    Covered,
}

/// A GNSS receiver's figures. See the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct GnssSpec {
    /// Mean of the horizontal error magnitude, metres (§7.3: 4.71 m).
    pub horizontal_error_mean_m: f32,
    /// SD of the horizontal error magnitude, metres (§7.3: 3.9 m).
    pub horizontal_error_sd_m: f32,
    /// Error multiplier for cold starts (assumed).
    pub cold_error_scale: f32,
    pub hot_ttff_s_min: f32,
    pub hot_ttff_s_max: f32,
    pub cold_ttff_s_min: f32,
    pub cold_ttff_s_max: f32,
    /// A fix younger than this allows a hot start.
    pub ephemeris_valid: SimDuration,
    /// How long a failing attempt keeps the receiver on.
    pub timeout: SimDuration,
    pub fix_failure_open: Ratio,
    pub fix_failure_covered: Ratio,
    pub active_current_ma: f32,
    pub supply_v: f32,
    // exp(μ + σ·Z) for the Irwin–Hall sum k = hi·512 + lo is error_hi[hi]·error_lo[lo]; two
    // 512-entry tables replace an `expf` per fix.
    error_hi: Box<[f32; 512]>,
    error_lo: Box<[f32; 512]>,
}

/// A GNSS spec whose figures cannot hold together.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("GNSS spec: field {field} = {value} but expected {expected}")]
pub struct GnssSpecError {
    pub field: &'static str,
    pub value: f64,
    pub expected: &'static str,
}

impl GnssSpec {
    /// The cattle-tag receiver of reference §7.3 with the assumed figures of the module docs.
    pub fn cattle_tag() -> GnssSpec {
        GnssSpec::new(GnssFigures {
            horizontal_error_mean_m: 4.71,
            horizontal_error_sd_m: 3.9,
            cold_error_scale: 1.3,
            hot_ttff_s_min: 1.0,
            hot_ttff_s_max: 5.0,
            cold_ttff_s_min: 26.0,
            cold_ttff_s_max: 40.0,
            ephemeris_valid: SimDuration::from_hours(4),
            timeout: SimDuration::from_secs(90),
            fix_failure_open: Ratio::new(0.01).expect("constant ratio"),
            fix_failure_covered: Ratio::new(0.40).expect("constant ratio"),
            active_current_ma: 25.0,
            supply_v: 3.3,
        })
        .expect("the built-in figures are consistent")
    }

    /// Builds a spec from figures, deriving the lognormal error parameters.
    pub fn new(f: GnssFigures) -> Result<GnssSpec, GnssSpecError> {
        let check = |field, value: f32, ok: bool, expected| {
            if ok && value.is_finite() {
                Ok(())
            } else {
                Err(GnssSpecError {
                    field,
                    value: f64::from(value),
                    expected,
                })
            }
        };
        check(
            "horizontal_error_mean_m",
            f.horizontal_error_mean_m,
            f.horizontal_error_mean_m > 0.0,
            "> 0",
        )?;
        check(
            "horizontal_error_sd_m",
            f.horizontal_error_sd_m,
            f.horizontal_error_sd_m >= 0.0,
            ">= 0",
        )?;
        check(
            "cold_error_scale",
            f.cold_error_scale,
            f.cold_error_scale >= 1.0,
            ">= 1",
        )?;
        check(
            "hot_ttff_s_min",
            f.hot_ttff_s_min,
            f.hot_ttff_s_min >= 0.0,
            ">= 0",
        )?;
        check(
            "hot_ttff_s_max",
            f.hot_ttff_s_max,
            f.hot_ttff_s_max >= f.hot_ttff_s_min,
            ">= hot_ttff_s_min",
        )?;
        check(
            "cold_ttff_s_min",
            f.cold_ttff_s_min,
            f.cold_ttff_s_min >= f.hot_ttff_s_min,
            ">= hot_ttff_s_min",
        )?;
        check(
            "cold_ttff_s_max",
            f.cold_ttff_s_max,
            f.cold_ttff_s_max >= f.cold_ttff_s_min,
            ">= cold_ttff_s_min",
        )?;
        check(
            "timeout",
            f.timeout.as_secs_f64() as f32,
            f.timeout.as_secs_f64() >= f64::from(f.cold_ttff_s_max),
            ">= cold_ttff_s_max",
        )?;
        check(
            "active_current_ma",
            f.active_current_ma,
            f.active_current_ma >= 0.0,
            ">= 0",
        )?;
        check("supply_v", f.supply_v, f.supply_v > 0.0, "> 0")?;
        let cv = f64::from(f.horizontal_error_sd_m) / f64::from(f.horizontal_error_mean_m);
        let sigma = irwin_hall_sigma_for_cv(cv);
        let mu = libm::log(f64::from(f.horizontal_error_mean_m) / irwin_hall_mgf(sigma));
        Ok(GnssSpec {
            horizontal_error_mean_m: f.horizontal_error_mean_m,
            horizontal_error_sd_m: f.horizontal_error_sd_m,
            cold_error_scale: f.cold_error_scale,
            hot_ttff_s_min: f.hot_ttff_s_min,
            hot_ttff_s_max: f.hot_ttff_s_max,
            cold_ttff_s_min: f.cold_ttff_s_min,
            cold_ttff_s_max: f.cold_ttff_s_max,
            ephemeris_valid: f.ephemeris_valid,
            timeout: f.timeout,
            fix_failure_open: f.fix_failure_open,
            fix_failure_covered: f.fix_failure_covered,
            active_current_ma: f.active_current_ma,
            supply_v: f.supply_v,
            error_hi: Box::new(std::array::from_fn(|hi| {
                let z = (f64::from(hi as u32 * 512) - f64::from(IRWIN_HALL_CENTRE))
                    * f64::from(IRWIN_HALL_SCALE);
                libm::exp(mu + sigma * z) as f32
            })),
            error_lo: Box::new(std::array::from_fn(|lo| {
                libm::exp(sigma * f64::from(lo as u32) * f64::from(IRWIN_HALL_SCALE)) as f32
            })),
        })
    }

    /// Energy of keeping the receiver on for `seconds`, µJ.
    pub fn energy_uj(&self, seconds: f32) -> f32 {
        self.active_current_ma * 1_000.0 * self.supply_v * seconds
    }

    /// One fix attempt at `now`. Consumes two 64-bit draws whatever the outcome, so a change
    /// of sky view never shifts later draws: the error magnitude's Irwin–Hall sum takes the
    /// first; the second is split into the failure trial (its low 32 bits), the time to fix
    /// (the next 22: steps of a four-millionth of the TTFF range) and the direction (the top
    /// 10, one of the 1024 steps of the turn table).
    #[inline]
    pub fn fix(
        &self,
        state: &mut GnssState,
        now: SimTime,
        true_east_m: f32,
        true_north_m: f32,
        sky: SkyView,
        rng: &mut impl RngCore,
    ) -> GnssOutcome {
        let k = irwin_hall_sum(rng);
        let w = rng.next_u64();
        let failure = match sky {
            SkyView::Open => self.fix_failure_open,
            SkyView::Covered => self.fix_failure_covered,
        };
        // A uniform in [0, 1) from 32 bits, exact in f64: a probability of 1 always fails
        // and 0 never does.
        let failed = f64::from(w as u32) * (1.0 / 4_294_967_296.0) < failure.get();
        let hot = state.is_hot(now, self.ephemeris_valid);
        // 22 bits convert to f32 exactly.
        let u_ttff = ((w >> 32) & TTFF_MASK) as f32 * (1.0 / (TTFF_MASK + 1) as f32);
        let ttff_s = if hot {
            self.hot_ttff_s_min + (self.hot_ttff_s_max - self.hot_ttff_s_min) * u_ttff
        } else {
            self.cold_ttff_s_min + (self.cold_ttff_s_max - self.cold_ttff_s_min) * u_ttff
        };
        let direction = (w >> (64 - TURN_STEPS.trailing_zeros())) as u32;
        if failed {
            let on_s = self.timeout.as_secs_f64() as f32;
            return GnssOutcome::NoFix {
                time_on: self.timeout,
                energy_uj: self.energy_uj(on_s),
            };
        }
        let scale = if hot { 1.0 } else { self.cold_error_scale };
        // The sum is at most 4·65535, so `k >> 9` is below 512 already; the mask only lets
        // the compiler drop the bounds check.
        let error_m =
            self.error_hi[(k >> 9) as usize & 511] * self.error_lo[(k & 511) as usize] * scale;
        let (c, s) = turn_cos_sin(direction);
        // ttff_s is finite and non-negative (validated bounds), so the cast cannot saturate.
        let ttff = SimDuration::from_nanos(f64_to_u64(f64::from(ttff_s) * 1e9));
        state.last_fix_s = (now.saturating_add(ttff).as_secs()).min(u64::from(u32::MAX - 1)) as u32;
        GnssOutcome::Fix(GnssFix {
            east_m: true_east_m + error_m * c,
            north_m: true_north_m + error_m * s,
            error_m,
            ttff,
            energy_uj: self.energy_uj(ttff_s),
        })
    }
}

/// `E[exp(a·Z)]` for `Z` the standardised Irwin–Hall sum of four uniforms
/// ([`crate::fastmath::irwin_hall_normal_f32`]): `Z = (S − 2)·√3` with `S` the sum, and the
/// moment generating function of a uniform on [0, 1) is `(eᵗ − 1)/t`.
fn irwin_hall_mgf(a: f64) -> f64 {
    let t = a * SQRT_3;
    if t.abs() < 1e-12 {
        return 1.0;
    }
    let u = libm::expm1(t) / t;
    libm::exp(-2.0 * t) * u * u * u * u
}

const SQRT_3: f64 = 1.732_050_807_568_877_2;

/// The `σ` for which `exp(σ·Z)` (Z Irwin–Hall as above) has coefficient of variation `cv`,
/// by bisection: the CV grows monotonically with `σ`.
fn irwin_hall_sigma_for_cv(cv: f64) -> f64 {
    let cv_of = |s: f64| {
        libm::sqrt(
            (irwin_hall_mgf(2.0 * s) / (irwin_hall_mgf(s) * irwin_hall_mgf(s)) - 1.0).max(0.0),
        )
    };
    let (mut lo, mut hi) = (0.0f64, 8.0f64);
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if cv_of(mid) < cv {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// The plain figures a [`GnssSpec`] is built from.
#[derive(Clone, Debug, PartialEq)]
pub struct GnssFigures {
    pub horizontal_error_mean_m: f32,
    pub horizontal_error_sd_m: f32,
    pub cold_error_scale: f32,
    pub hot_ttff_s_min: f32,
    pub hot_ttff_s_max: f32,
    pub cold_ttff_s_min: f32,
    pub cold_ttff_s_max: f32,
    pub ephemeris_valid: SimDuration,
    pub timeout: SimDuration,
    pub fix_failure_open: Ratio,
    pub fix_failure_covered: Ratio,
    pub active_current_ma: f32,
    pub supply_v: f32,
}

/// A receiver's state: when it last had a fix (whole seconds; `u32::MAX` = never).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GnssState {
    pub last_fix_s: u32,
}

impl Default for GnssState {
    fn default() -> Self {
        GnssState {
            last_fix_s: u32::MAX,
        }
    }
}

impl GnssState {
    /// Whether a fix at `now` is a hot start.
    #[inline]
    pub fn is_hot(&self, now: SimTime, ephemeris_valid: SimDuration) -> bool {
        self.last_fix_s != u32::MAX
            && now.as_secs().saturating_sub(u64::from(self.last_fix_s)) < ephemeris_valid.as_secs()
    }
}

/// A successful fix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GnssFix {
    /// Reported position, local metres east/north of the pasture origin.
    pub east_m: f32,
    pub north_m: f32,
    /// Distance between the reported and the true position (ground truth for analytics).
    pub error_m: f32,
    /// Time to fix: the position is available at request time + `ttff`.
    pub ttff: SimDuration,
    pub energy_uj: f32,
}

/// The outcome of one fix attempt. No fix is a counted outcome, not an error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GnssOutcome {
    Fix(GnssFix),
    NoFix {
        time_on: SimDuration,
        energy_uj: f32,
    },
}

impl GnssOutcome {
    pub fn energy_uj(&self) -> f32 {
        match self {
            GnssOutcome::Fix(f) => f.energy_uj,
            GnssOutcome::NoFix { energy_uj, .. } => *energy_uj,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::CompactRng;

    #[test]
    fn horizontal_error_matches_the_cattle_tag_field_test() {
        let spec = GnssSpec::cattle_tag();
        let mut rng = CompactRng::from_seed_u64(21);
        let mut state = GnssState::default();
        let mut errors = Vec::new();
        let (mut mean_e, mut mean_n) = (0.0f64, 0.0f64);
        for i in 0..20_000u64 {
            let now = SimTime::from_secs(60 * (i + 1));
            if let GnssOutcome::Fix(f) =
                spec.fix(&mut state, now, 0.0, 0.0, SkyView::Open, &mut rng)
            {
                if i > 0 {
                    errors.push(f64::from(f.error_m));
                    mean_e += f64::from(f.east_m);
                    mean_n += f64::from(f.north_m);
                }
            }
        }
        let n = errors.len() as f64;
        let mean = errors.iter().sum::<f64>() / n;
        let sd = libm::sqrt(errors.iter().map(|e| (e - mean) * (e - mean)).sum::<f64>() / n);
        assert!((mean - 4.71).abs() < 0.15, "mean {mean}");
        assert!((sd - 3.9).abs() < 0.3, "sd {sd}");
        // Direction is uniform: the errors average out.
        assert!((mean_e / n).abs() < 0.15 && (mean_n / n).abs() < 0.15);
        // Failure rate under open sky.
        assert!((1.0 - n / 19_999.0 - 0.01).abs() < 0.004, "{n}");
    }

    #[test]
    fn cold_starts_are_slower_and_covered_skies_fail_more() {
        let spec = GnssSpec::cattle_tag();
        let mut rng = CompactRng::from_seed_u64(22);
        let mut state = GnssState::default();
        let first = spec.fix(
            &mut state,
            SimTime::from_secs(10),
            0.0,
            0.0,
            SkyView::Open,
            &mut rng,
        );
        let second = spec.fix(
            &mut state,
            SimTime::from_secs(400),
            0.0,
            0.0,
            SkyView::Open,
            &mut rng,
        );
        match (first, second) {
            (GnssOutcome::Fix(a), GnssOutcome::Fix(b)) => {
                assert!(a.ttff.as_secs() >= 26 && b.ttff.as_secs() <= 5);
                assert!(a.energy_uj > b.energy_uj);
            }
            other => panic!("{other:?}"),
        }
        let failed = (0..10_000)
            .filter(|i| {
                let now = SimTime::from_secs(500 + 60 * i);
                matches!(
                    spec.fix(&mut state, now, 0.0, 0.0, SkyView::Covered, &mut rng),
                    GnssOutcome::NoFix { .. }
                )
            })
            .count();
        assert!((failed as f64 / 10_000.0 - 0.40).abs() < 0.02, "{failed}");
    }

    #[test]
    fn a_fix_takes_two_draws_whatever_the_sky_or_the_outcome_and_a_uniform_time_to_fix() {
        let spec = GnssSpec::cattle_tag();
        let always_fails = GnssSpec {
            fix_failure_open: Ratio::ONE,
            ..GnssSpec::cattle_tag()
        };
        let mut rng = CompactRng::from_seed_u64(23);
        let mut state = GnssState::default();
        let (mut hot_ttff_sum_s, mut hot) = (0.0f64, 0u32);
        for i in 0..20_000u64 {
            let now = SimTime::from_secs(60 * (i + 1));
            let mut reference = rng;
            reference.next_u64();
            reference.next_u64();
            let mut covered = rng;
            let mut failing = rng;
            let mut state_covered = state;
            let mut state_failing = state;
            spec.fix(
                &mut state_covered,
                now,
                0.0,
                0.0,
                SkyView::Covered,
                &mut covered,
            );
            let failed = always_fails.fix(
                &mut state_failing,
                now,
                0.0,
                0.0,
                SkyView::Open,
                &mut failing,
            );
            assert!(matches!(failed, GnssOutcome::NoFix { .. }));
            if let GnssOutcome::Fix(f) =
                spec.fix(&mut state, now, 0.0, 0.0, SkyView::Open, &mut rng)
            {
                let ttff_s = f.ttff.as_secs_f64();
                if i > 0 {
                    assert!((1.0..5.0).contains(&ttff_s), "{ttff_s}");
                    hot_ttff_sum_s += ttff_s;
                    hot += 1;
                }
            }
            let next = reference.next_u64();
            assert_eq!(rng.next_u64(), next);
            assert_eq!(covered.next_u64(), next);
            assert_eq!(failing.next_u64(), next);
        }
        // Uniform on [1, 5) s: mean 3 s, SD 1.15 s, so the mean of ~19,800 is within 0.03 s.
        let mean_s = hot_ttff_sum_s / f64::from(hot);
        assert!((mean_s - 3.0).abs() < 0.03, "{mean_s}");
    }
}
