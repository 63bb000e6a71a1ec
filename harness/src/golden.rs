//! Golden reports (issue 19): every bundled solution at a small size, its `summary.json` and
//! `report.md` pinned under `reports/golden/`, so a change to what a user reads shows in
//! review. Wall time and memory are zeroed (they are the machine's, not the run's).
//! `INSTA_UPDATE=always cargo test -p fleetsim golden` rewrites them.

use crate::report;
use scenarios::bundled::{load, source};
use scenarios::load::Override;
use scenarios::registry::Registry;

/// The bundled solutions and the sizes their golden reports are taken at.
const GOLDEN: &[(&str, &[&str])] = &[
    ("herd", &["devices=2000", "hours=6"]),
    ("herd-lora", &["devices=2000", "hours=6"]),
    (
        "thermostat",
        &["devices=400", "hours=6", "network.devices_per_tower=50"],
    ),
    ("tank", &["hours=12"]),
    ("tank-edge", &["hours=12"]),
    ("doors", &["hours=12"]),
    ("facility", &["hours=4"]),
];

#[test]
fn every_bundled_solutions_summary_and_report_match_their_golden_copies() {
    for (name, sets) in GOLDEN {
        let sets: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
        let src = source(name).unwrap();
        let loaded = load(&src, &sets, &Registry::bundled()).unwrap();
        let description = loaded.file.scenario.description.clone();
        let r = loaded.resolved;
        let (outcome, _) = scenarios::world::run(r.world, r.classes, r.apps, &mut |_| {}).unwrap();
        let mut summary = outcome.summary_core;
        summary.scenario = name.to_string();
        summary.overrides = sets.iter().map(|o| o.to_string()).collect();
        insta::with_settings!({ snapshot_path => "../../reports/golden", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(format!("{name}.summary.json"), summary.to_json());
            insta::assert_snapshot!(
                format!("{name}.report.md"),
                report::markdown(&summary, &outcome.report, &description)
            );
        });
    }
}
