//! Single-precision random variates and trigonometry for the million-collar hot path.
//!
//! The kernel's samplers ([`sim::Dist`]) work in `f64` with a fresh Box–Muller transform per
//! normal. Here:
//! - [`normal_pair_f32`]: a Box–Muller *pair* of `f32` normals from one logarithm, one square
//!   root and one `sincosf`;
//! - [`irwin_hall_normal_f32`]: an approximate normal with no transcendental function at all;
//! - [`turn_cos_sin`] / [`cos_turns`]: sine and cosine from a 1024-step table of one turn
//!   (0.35° steps, linear interpolation for `cos_turns`), computed with `libm` by the build
//!   script;
//! - [`f64_to_u64`] / [`u64_to_f64`]: conversions through the signed instructions, equal to
//!   the casts for every value below 2⁶³ (energies, durations) at a third of the cost.
//!
//! Everything is IEEE-754 arithmetic on values computed by `libm`, so results are identical on
//! every machine.

use rand_core::RngCore;

/// Steps per turn of the sine table.
pub const TURN_STEPS: u32 = 1024;

/// `(cos, sin)` of `i / TURN_STEPS` turns, for `i` in `0..=TURN_STEPS`: `libm::cos` and
/// `libm::sin` in `f64` rounded to `f32`, written by the crate's build script as bit
/// patterns (a test recomputes them), so reading it costs no initialisation check.
static TURN_TABLE: [(f32, f32); TURN_STEPS as usize + 1] =
    include!(concat!(env!("OUT_DIR"), "/turn_table.rs"));

/// `(cos, sin)` of step `i` of a turn (taken modulo [`TURN_STEPS`]).
#[inline]
pub fn turn_cos_sin(i: u32) -> (f32, f32) {
    TURN_TABLE[(i % TURN_STEPS) as usize]
}

/// `cos(2π·turns)`, linearly interpolated in the table (absolute error about 5·10⁻⁶).
#[inline]
pub fn cos_turns(turns: f32) -> f32 {
    // Inside one turn either way (a phase within the day, the common case) the truncation is
    // zero and the subtraction exact, so it is skipped: two conversions off a latency chain.
    // The general path is out of line, so the compiler branches instead of computing both
    // and selecting.
    if turns.abs() < 1.0 {
        cos_of_wrapped(turns)
    } else {
        cos_beyond_one_turn(turns)
    }
}

#[cold]
#[inline(never)]
fn cos_beyond_one_turn(turns: f32) -> f32 {
    cos_of_wrapped(without_whole_turns(turns))
}

/// `turns` less its whole turns: `as i32` truncates towards zero (turns of a day-scale phase
/// are far inside the i32 range), leaving a value in (-1, 1).
#[inline]
fn without_whole_turns(turns: f32) -> f32 {
    turns - (turns as i32) as f32
}

/// The table's cosine of a phase in (-1, 1) turns (a negative one wraps into [0, 1)).
#[inline]
fn cos_of_wrapped(mut frac_turn: f32) -> f32 {
    if frac_turn < 0.0 {
        frac_turn += 1.0;
    }
    let x = frac_turn * TURN_STEPS as f32;
    let i = (x as u32).min(TURN_STEPS - 1);
    let frac = x - i as f32;
    let t = &TURN_TABLE;
    let (a, b) = (t[i as usize].0, t[i as usize + 1].0);
    a + (b - a) * frac
}

/// `x as u64` for the values models produce (energies in µJ, durations in ns: far below
/// 2⁶³), in a third of the instructions. x86-64 has no unsigned conversion, so Rust's
/// saturating `f64 as u64` costs about fifteen instructions where the signed one costs five.
/// Equal to `x as u64` for every `x` below 2⁶³ (negative and NaN give 0, as the cast does);
/// from 2⁶³ up it saturates at `i64::MAX` instead of `u64::MAX`.
#[inline]
pub fn f64_to_u64(x: f64) -> u64 {
    x.max(0.0) as i64 as u64
}

/// `x as f64` through the signed conversion: the same value below 2⁶³ in fewer
/// instructions; from 2⁶³ up it gives 2⁶³.
#[inline]
pub fn u64_to_f64(x: u64) -> f64 {
    x.min(i64::MAX as u64) as i64 as f64
}

/// A uniform `f32` in `[0, 1)` from 24 random bits.
#[inline]
pub fn unit_f32(bits: u32) -> f32 {
    (bits >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// Two independent standard normal variates from one 64-bit draw.
#[inline]
pub fn normal_pair_f32(rng: &mut impl RngCore) -> (f32, f32) {
    let w = rng.next_u64();
    // (0, 1] so the logarithm is finite.
    let u1 = 1.0 - unit_f32(w as u32);
    let u2 = unit_f32((w >> 32) as u32);
    let r = libm::sqrtf(-2.0 * libm::logf(u1));
    let (s, c) = libm::sincosf(core::f32::consts::TAU * u2);
    (r * c, r * s)
}

/// An approximately standard normal `f32` from one 64-bit draw and no transcendental
/// function: the Irwin–Hall sum of four 16-bit uniforms, centred and scaled to unit variance.
/// Its support is ±2√3 ≈ ±3.46, so use it where the shape within three SDs matters and the
/// far tails do not (a grazing cow's turning angle and pace).
#[inline]
pub fn irwin_hall_normal_f32(rng: &mut impl RngCore) -> f32 {
    irwin_hall_to_normal(irwin_hall_sum(rng))
}

/// The integer Irwin–Hall sum behind [`irwin_hall_normal_f32`]: four 16-bit uniforms from one
/// 64-bit draw, in `0..=4·65535`.
#[inline]
pub fn irwin_hall_sum(rng: &mut impl RngCore) -> u32 {
    let w = rng.next_u64();
    ((w & 0xffff) + ((w >> 16) & 0xffff) + ((w >> 32) & 0xffff) + (w >> 48)) as u32
}

/// Centre of the Irwin–Hall sum.
pub const IRWIN_HALL_CENTRE: f32 = 4.0 * 32_767.5;
/// Scale from the sum to unit variance: each 16-bit uniform has variance (65536² − 1)/12 ≈
/// 65536²/12, so the sum has SD ≈ 65536/√3.
pub const IRWIN_HALL_SCALE: f32 = 1.732_050_8 / 65_536.0;

/// The standard-normal approximation of an Irwin–Hall sum.
#[inline]
pub fn irwin_hall_to_normal(sum: u32) -> f32 {
    (sum as f32 - IRWIN_HALL_CENTRE) * IRWIN_HALL_SCALE
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_core::RngCore;
    use sim::CompactRng;

    #[test]
    fn the_built_turn_table_holds_the_libm_values_bit_for_bit() {
        assert_eq!(TURN_TABLE.len(), TURN_STEPS as usize + 1);
        for (i, &(c, s)) in TURN_TABLE.iter().enumerate() {
            let a = core::f64::consts::TAU * i as f64 / f64::from(TURN_STEPS);
            assert_eq!(
                c.to_bits(),
                (libm::cos(a) as f32).to_bits(),
                "cos of step {i}"
            );
            assert_eq!(
                s.to_bits(),
                (libm::sin(a) as f32).to_bits(),
                "sin of step {i}"
            );
        }
    }

    proptest! {
        #[test]
        fn the_fast_float_to_integer_conversion_equals_the_cast_below_two_to_the_63(
            x in prop_oneof![-1e20f64..1e20, 0.0f64..1e12, any::<f64>()],
        ) {
            if x < 9_223_372_036_854_775_808.0 {
                prop_assert_eq!(f64_to_u64(x), x as u64);
            } else {
                prop_assert_eq!(f64_to_u64(x), i64::MAX as u64);
            }
        }

        #[test]
        fn the_fast_integer_to_float_conversion_equals_the_cast_below_two_to_the_63(
            x in prop_oneof![0u64..1 << 53, 0u64..i64::MAX as u64, any::<u64>()],
        ) {
            let expected = if x <= i64::MAX as u64 {
                x as f64
            } else {
                9_223_372_036_854_775_808.0
            };
            prop_assert_eq!(u64_to_f64(x).to_bits(), expected.to_bits());
        }
    }

    #[test]
    fn the_fast_conversions_map_nan_and_negatives_to_zero_as_the_cast_does() {
        assert_eq!(f64_to_u64(f64::NAN), 0);
        assert_eq!(f64_to_u64(-0.5), 0);
        assert_eq!(f64_to_u64(f64::NEG_INFINITY), 0);
        assert_eq!(f64_to_u64(0.999_999), 0);
        assert_eq!(f64_to_u64(2.5e9), 2_500_000_000);
    }

    #[test]
    fn normal_pairs_have_unit_variance_and_no_correlation() {
        let mut rng = CompactRng::from_seed_u64(12);
        let n = 100_000;
        let (mut s1, mut s2, mut sxy, mut sx) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for _ in 0..n {
            let (a, b) = normal_pair_f32(&mut rng);
            let (a, b) = (f64::from(a), f64::from(b));
            sx += a;
            s1 += a * a;
            s2 += b * b;
            sxy += a * b;
        }
        let n = n as f64;
        assert!((sx / n).abs() < 0.01);
        assert!((s1 / n - 1.0).abs() < 0.02 && (s2 / n - 1.0).abs() < 0.02);
        assert!((sxy / n).abs() < 0.01);
    }

    #[test]
    fn cos_turns_inside_one_turn_skips_the_truncation_without_changing_a_bit() {
        // The general path: always take the whole turns off.
        let general = |turns: f32| cos_of_wrapped(without_whole_turns(turns));
        let mut rng = CompactRng::from_seed_u64(5);
        let edges = [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            0.999_999_94,
            -0.999_999_94,
            1e-30,
            -1e-30,
        ];
        let random = (0..200_000).map(|_| (unit_f32(rng.next_u32()) - 0.5) * 2.2);
        for t in edges.into_iter().chain(random) {
            assert_eq!(cos_turns(t).to_bits(), general(t).to_bits(), "{t}");
        }
    }

    #[test]
    fn the_turn_table_matches_libm() {
        for i in 0..5_000 {
            let turns = i as f32 / 997.0 - 2.0;
            let exact = libm::cos(core::f64::consts::TAU * f64::from(turns));
            assert!(
                (f64::from(cos_turns(turns)) - exact).abs() < 6e-6,
                "{turns}"
            );
        }
        let (c, s) = turn_cos_sin(TURN_STEPS / 4);
        assert!(c.abs() < 1e-6 && (s - 1.0).abs() < 1e-6);
        assert_eq!(turn_cos_sin(TURN_STEPS + 3), turn_cos_sin(3));
    }

    #[test]
    fn the_irwin_hall_normal_has_unit_variance_and_bounded_support() {
        let mut rng = CompactRng::from_seed_u64(13);
        let n = 100_000;
        let (mut s, mut s2, mut max) = (0.0f64, 0.0f64, 0.0f32);
        for _ in 0..n {
            let z = irwin_hall_normal_f32(&mut rng);
            s += f64::from(z);
            s2 += f64::from(z) * f64::from(z);
            max = max.max(z.abs());
        }
        let n = f64::from(n);
        assert!((s / n).abs() < 0.01, "{}", s / n);
        assert!((s2 / n - 1.0).abs() < 0.02, "{}", s2 / n);
        assert!(max <= 2.0 * 3f32.sqrt() + 1e-4, "{max}");
    }
}
