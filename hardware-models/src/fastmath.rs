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
}
