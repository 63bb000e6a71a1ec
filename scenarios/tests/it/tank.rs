//! The mixing-tank solution end to end: temperature and pressure excursions from welded
//! heaters, burnt-out elements and clogged vents are alerted by SMS and e-mail and scored
//! against the tanks' true state.

use scenarios::bundled::run_bundled;

#[test]
fn a_day_of_four_plants_holds_every_invariant_and_is_pinned_for_two_seeds() {
    for seed in [1, 2] {
        let o = run_bundled("tank", &[&format!("seed={seed}")]);
        let s = &o.summary_core;
        for i in &s.invariants {
            assert!(i.passed, "seed {seed}: {}: {}", i.name, i.detail);
        }
        let rule = |n: &str| s.alerts.rules.iter().find(|r| r.rule == n).unwrap();
        // Five tanks with a welded heater behind a clogged vent.
        assert!(rule("pressure_high").true_episodes >= 4, "{:?}", s.alerts);
        // The drifting probes raise alerts for batches that were in range.
        assert!(
            rule("temp_range").precision.is_some_and(|p| p < 1.0),
            "{:?}",
            s.alerts
        );
        assert!(s.models[0].model_id.as_deref() == Some("dtmi:fleetsim:plant:MixingTank;1"));
        insta::assert_yaml_snapshot!(format!("tank_seed_{seed}"), s);
    }
}

#[test]
fn a_pressure_rule_watching_the_wrong_column_fails_its_recall_invariant() {
    // The broken variant: the over-pressure rule reads the temperature column.
    let o = run_bundled(
        "tank",
        &[
            r#"analytics.rules.pressure_high.conditions=[{ kind = "consecutive", column = "temp_c", op = "above", value = 95.0, readings = 2 }]"#,
        ],
    );
    let failed: Vec<&str> = o
        .summary_core
        .invariants
        .iter()
        .filter(|i| !i.passed)
        .map(|i| i.name.as_str())
        .collect();
    assert!(
        failed.iter().any(|n| n.starts_with("pressure_high recall")),
        "{failed:?}"
    );
}

#[test]
fn the_same_seed_replays_and_another_does_not() {
    let a = run_bundled("tank", &["hours=8", "seed=3"]).summary_core;
    let b = run_bundled("tank", &["hours=8", "seed=3"]).summary_core;
    let c = run_bundled("tank", &["hours=8", "seed=4"]).summary_core;
    assert_eq!(a, b);
    assert_ne!(a.trace_hash, c.trace_hash);
}
