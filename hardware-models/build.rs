//! Writes the turn table `fastmath` reads: `(cos, sin)` of `i / TURN_STEPS` turns for `i` in
//! `0..=TURN_STEPS`, computed with `libm` (pure Rust, the same bits on every platform) and
//! emitted as `f32` bit patterns, so the table is a plain static: no lazy initialisation
//! check on the hot path. A unit test in `fastmath` recomputes it and compares every bit.

use std::fmt::Write;

/// Must equal `fastmath::TURN_STEPS` (the table's length is checked where it is included).
const TURN_STEPS: u32 = 1024;

fn main() {
    let mut table = String::from("[\n");
    for i in 0..=TURN_STEPS {
        let a = core::f64::consts::TAU * f64::from(i) / f64::from(TURN_STEPS);
        let (c, s) = (libm::cos(a) as f32, libm::sin(a) as f32);
        writeln!(
            table,
            "    (f32::from_bits({:#010x}), f32::from_bits({:#010x})),",
            c.to_bits(),
            s.to_bits()
        )
        .expect("writing to a String cannot fail");
    }
    table.push_str("]\n");
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    let path = std::path::Path::new(&out).join("turn_table.rs");
    std::fs::write(&path, table).expect("OUT_DIR is writable");
    println!("cargo::rerun-if-changed=build.rs");
}
