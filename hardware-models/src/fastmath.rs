//! Single-precision random variates for the million-collar hot path.
//!
//! The kernel's samplers ([`sim::Dist`]) work in `f64` with a fresh Box–Muller transform per
//! normal. The collar update draws several normals per call; here a Box–Muller transform
//! yields a *pair* of `f32` normals from one logarithm, one square root and one `sincosf`,
//! all from `libm` so that results are identical on every machine.

use rand_core::RngCore;

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
    let w = rng.next_u64();
    let sum = (w & 0xffff) + ((w >> 16) & 0xffff) + ((w >> 32) & 0xffff) + (w >> 48);
    // Each 16-bit uniform has mean 32767.5 and variance (65536² − 1)/12 ≈ 65536²/12, so the
    // sum has SD ≈ 65536/√3.
    const SQRT_3: f32 = 1.732_050_8;
    (sum as f32 - 4.0 * 32_767.5) * (SQRT_3 / 65_536.0)
}

/// A uniform `f32` in `[low, high)`.
#[inline]
pub fn uniform_f32(rng: &mut impl RngCore, low: f32, high: f32) -> f32 {
    low + (high - low) * unit_f32(rng.next_u32())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::CompactRng;

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
