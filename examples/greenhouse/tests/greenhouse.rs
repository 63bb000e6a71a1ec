//! The greenhouse example end to end: it runs its scenario, replays it, and refuses bad input.

use fleetsim::scenarios::bundled::{load, run};
use fleetsim::scenarios::load::{Override, Source};
use std::process::Command;

fn source() -> Source {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/greenhouse.toml");
    Source { origin: "greenhouse.toml".into(), text: std::fs::read_to_string(path).unwrap() }
}

fn sets(s: &[&str]) -> Vec<Override> {
    s.iter().map(|s| Override::parse(s).unwrap()).collect()
}

#[test]
fn its_scenario_holds_its_invariants_and_is_pinned_for_two_seeds() {
    for seed in [1, 2] {
        let o = run(&source(), &sets(&[&format!("seed={seed}")]), &greenhouse::registry()).unwrap();
        let s = o.summary_core;
        for i in &s.invariants {
            assert!(i.passed, "seed {seed}: {}: {}", i.name, i.detail);
        }
        let rule = &s.alerts.rules[0];
        assert!(rule.true_episodes > 0 && rule.recall > 0.9, "{rule:?}");
        insta::assert_yaml_snapshot!(format!("greenhouse_seed_{seed}"), s);
    }
}

#[test]
fn without_the_outage_the_controller_keeps_every_bed_above_the_wilting_point() {
    let o = run(&source(), &sets(&["faults.outages=[]"]), &greenhouse::registry()).unwrap();
    let dry = o.summary_core.figures.iter().find(|f| f.name == "dry_bed_hours").unwrap();
    assert_eq!(dry.value, 0.0, "{:?}", o.summary_core.figures);
}

#[test]
fn bad_parameters_are_refused_with_the_key_named() {
    for (set, key) in [
        ("classes.beds.params.start_pct=150", "classes.beds.params.start_pct"),
        ("apps.irrigation.params.minutes=\"long\"", "apps.irrigation.params.minutes"),
        ("classes.beds.params.colour=1", "classes.beds.params"),
    ] {
        let e = load(&source(), &sets(&[set]), &greenhouse::registry()).err().unwrap().to_string();
        assert!(e.contains(key), "{set}: {e}");
    }
}

#[test]
fn the_binary_runs_the_file_and_replays_it() {
    let out = std::env::temp_dir().join(format!("greenhouse-it-{}", std::process::id()));
    let bin = env!("CARGO_BIN_EXE_greenhouse");
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/greenhouse.toml");
    let run = Command::new(bin)
        .args(["run", file, "--set", "hours=12", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let replay = Command::new(bin).arg("replay").arg(out.join("summary.json")).output().unwrap();
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    assert!(String::from_utf8_lossy(&replay.stdout).contains("replay matches"));
    let bad = Command::new(bin)
        .args(["run", file, "--set", "classes.beds.params.start_pct=-1"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("classes.beds.params.start_pct"));
    std::fs::remove_dir_all(&out).ok();
}
