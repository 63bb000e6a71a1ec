//! The one scenario schema: defaults, `--set` on any key, radios that set the link.

use scenarios::bundled::{load, run};
use scenarios::load::{Override, Source};
use scenarios::registry::Registry;

const MINIMAL: &str = r#"
[scenario]
name = "tiny"
duration_h = 1.0

[[classes]]
name = "collar"
kind = "collar/1"
count = 20
"#;

fn src(text: &str) -> Source {
    Source {
        origin: "tiny.toml".into(),
        text: text.into(),
    }
}

fn sets(s: &[&str]) -> Vec<Override> {
    s.iter().map(|s| Override::parse(s).unwrap()).collect()
}

#[test]
fn a_minimal_file_of_a_few_lines_runs_on_its_defaults() {
    let o = run(&src(MINIMAL), &[], &Registry::bundled()).unwrap();
    let s = &o.summary_core;
    assert_eq!(s.devices, 20);
    assert!(
        s.telemetry.sent > 0 && s.telemetry.stored > 0,
        "{:?}",
        s.telemetry
    );
    assert_eq!(s.hub.tier, "S1", "the default tier");
    for i in &s.invariants {
        assert!(i.passed, "{}: {}", i.name, i.detail);
    }
}

#[test]
fn set_reaches_keys_the_file_leaves_out_and_array_entries_by_name() {
    let r = Registry::bundled();
    let l = load(
        &src(MINIMAL),
        &sets(&[
            "classes.collar.telemetry.interval_s=60",
            "hub.partitions=8",
            "classes.collar.params.fever_rise_c=2.5",
        ]),
        &r,
    )
    .unwrap();
    assert_eq!(l.file.classes[0].telemetry.interval_s, 60);
    assert_eq!(l.file.hub.partitions, 8);
    assert_eq!(l.resolved.world.hubs[0].partitions, 8);
    assert_eq!(
        l.file.classes[0].params["fever_rise_c"].as_float(),
        Some(2.5)
    );
    // A bad value set on a key the file left out is reported against the --set.
    let e = load(&src(MINIMAL), &sets(&["hub.partitions=99"]), &r)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("`hub.partitions`") && e.contains("1 to 32"),
        "{e}"
    );
    let herd = scenarios::bundled::source("herd").unwrap();
    let l = load(&herd, &sets(&["analytics.rules.fever.cooldown_s=3600"]), &r).unwrap();
    assert_eq!(l.file.analytics.rules[0].cooldown_s, 3600);
    assert_eq!(
        l.file.analytics.rules[1].cooldown_s, 86_400,
        "the other rule keeps its own"
    );
}

#[test]
fn a_class_radio_sets_latency_and_loss_unless_the_file_overrides_them() {
    let r = Registry::bundled();
    let run_with = |radio: &str| {
        run(
            &src(MINIMAL),
            &sets(&[&format!("classes.collar.link.radio={radio}")]),
            &r,
        )
        .unwrap()
        .summary_core
    };
    let (lte, nb) = (run_with("lte-m"), run_with("nb-iot"));
    assert_ne!(lte.trace_hash, nb.trace_hash);
    assert!(
        nb.latency_ms.p50 > lte.latency_ms.p50,
        "NB-IoT is the slower radio: {} vs {} ms",
        nb.latency_ms.p50,
        lte.latency_ms.p50
    );
    // With every link figure given, the radio sets only the energy and the bitrate.
    let fixed = |radio: &str| {
        let l = load(
            &src(MINIMAL),
            &sets(&[
                &format!("classes.collar.link.radio={radio}"),
                "classes.collar.link.latency_ms_min=40",
                "classes.collar.link.latency_ms_median_extra=60",
                "classes.collar.link.latency_ms_p99_extra=400",
                "classes.collar.link.loss_ratio=0.01",
                "classes.collar.link.bitrate_bps=0",
            ]),
            &r,
        )
        .unwrap();
        l.resolved.world.classes[0].link.clone()
    };
    let (a, b) = (fixed("lte-m"), fixed("nb-iot"));
    assert_eq!(a.latency.min, b.latency.min);
    assert_eq!(a.loss, b.loss);
}

#[test]
fn several_hubs_hold_more_than_a_million_devices_between_them() {
    let r = Registry::bundled();
    let herd = scenarios::bundled::source("herd").unwrap();
    let one = load(&herd, &sets(&["devices=1500000"]), &r)
        .err()
        .unwrap()
        .to_string();
    assert!(one.contains("hold at most 1000000"), "{one}");
    // Checked and resolved, not run: a million and a half collars take a while to build.
    let text = herd.text.replace("count = 1\n", "count = 2\n");
    assert_ne!(text, herd.text);
    let file: scenarios::file::SolutionFile = toml::from_str(&text).unwrap();
    use scenarios::load::Validate;
    let mut file = file;
    file.classes[0].count = 1_500_000;
    file.validate().unwrap();
}

#[test]
fn two_classes_run_side_by_side_with_their_own_ids_links_and_streams() {
    let two = format!(
        "{MINIMAL}\n[[classes]]\nname = \"calf\"\nkind = \"collar/1\"\ncount = 5\nids = \"calf-{{index}}\"\nlink = {{ radio = \"nb-iot\" }}\n"
    );
    let r = Registry::bundled();
    let o = run(&src(&two), &[], &r).unwrap();
    assert_eq!(o.summary_core.devices, 25);
    for i in &o.summary_core.invariants {
        assert!(i.passed, "{}: {}", i.name, i.detail);
    }
    // The first class's devices do what they did alone: the second class draws from its own
    // streams. (Their hub traffic shares the hub, so compare what the store holds of them.)
    let alone = run(&src(MINIMAL), &[], &r).unwrap();
    assert!(o.summary_core.telemetry.sent > alone.summary_core.telemetry.sent);
    let clash = format!(
        "{MINIMAL}\n[[classes]]\nname = \"calf\"\nkind = \"collar/1\"\nids = \"collar-{{index:07}}\"\n"
    );
    let e = load(&src(&clash), &[], &r).err().unwrap().to_string();
    assert!(
        e.contains("`classes.calf.ids`") && e.contains("also an id of class \"collar\""),
        "{e}"
    );
}

#[test]
fn every_key_a_file_may_set_is_in_the_scenario_file_reference() {
    let reference = include_str!("../../REFERENCE.md");
    let defaults = scenarios::bundled::defaults_document(&Registry::bundled());
    let doc: toml::Table = toml::from_str(&defaults).unwrap();
    let mut missing = Vec::new();
    fn walk(prefix: &str, t: &toml::Table, reference: &str, missing: &mut Vec<String>) {
        for (k, v) in t {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(inner) if k != "params" => {
                    walk(&path, inner, reference, missing)
                }
                toml::Value::Array(a) if a.iter().all(|e| e.is_table()) && !a.is_empty() => {
                    for e in a {
                        walk(
                            &format!("{path}[]"),
                            e.as_table().unwrap(),
                            reference,
                            missing,
                        );
                    }
                }
                _ => {
                    if !reference.contains(&format!("`{path}`")) {
                        missing.push(path);
                    }
                }
            }
        }
    }
    walk("", &doc, reference, &mut missing);
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "REFERENCE.md does not document: {missing:?}"
    );
}
