//! The herd end to end at a small size.

use scenarios::bundled::{load_herd, source};
use scenarios::herd::run;
use scenarios::load::Override;

fn small(devices: u32, hours: f64, seed: u64) -> scenarios::herd::HerdOutcome {
    let src = source("herd").unwrap();
    let sets = [
        Override::parse(&format!("devices={devices}")).unwrap(),
        Override::parse(&format!("hours={hours}")).unwrap(),
        Override::parse(&format!("seed={seed}")).unwrap(),
    ];
    let (_, cfg) = load_herd(&src, &sets).unwrap();
    run(cfg, &mut |_| {}).unwrap().0
}

#[test]
fn a_small_herd_runs_end_to_end_and_its_invariants_hold() {
    let o = small(1_000, 6.0, 1);
    let s = &o.summary_core;
    println!("{}", serde_json::to_string_pretty(s).unwrap());
    for i in &s.invariants {
        assert!(i.passed, "{}: {}", i.name, i.detail);
    }
    assert!(s.telemetry.sent > 60_000, "{:?}", s.telemetry);
}
