//! Bad scenario files and overrides give errors that name the file, line, column, field,
//! the value and what was expected; nothing panics.

use scenarios::bundled::{load, source};
use scenarios::load::{Override, Source};
use scenarios::registry::Registry;

/// The bundled herd file with one line replaced.
fn with(old: &str, new: &str) -> Source {
    let mut src = source("herd").unwrap();
    assert!(src.text.contains(old), "the herd file has no `{old}`");
    src.text = src.text.replacen(old, new, 1);
    src.origin = "bad.toml".into();
    src
}

fn error(src: &Source, sets: &[&str]) -> String {
    let sets: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
    match load(src, &sets, &Registry::bundled()) {
        Ok(_) => panic!("loaded a bad scenario"),
        Err(e) => e.to_string(),
    }
}

fn line_of(src: &Source, needle: &str) -> usize {
    src.text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn a_dozen_kinds_of_mistake_are_each_named_and_located() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // (replace, with, expected field, expected words)
        (
            "count = 100000",
            "count = \"lots\"",
            "classes[0].count",
            "invalid type",
        ),
        (
            "count = 100000",
            "count = 0",
            "classes.collar.count",
            "expected at least 1 device",
        ),
        (
            "count = 100000",
            "count = 2000000",
            "classes.collar.count",
            "1 hub(s) hold at most 1000000",
        ),
        (
            "loss_ratio = 0.01",
            "loss_ratio = 1.5",
            "classes.collar.link.loss_ratio",
            "expected a ratio from 0 to 1",
        ),
        (
            "provisioned_ratio = 0.98",
            "provisioned_ratio = -0.1",
            "classes.collar.provisioned_ratio",
            "expected a ratio from 0 to 1",
        ),
        (
            "tier = \"S3\"",
            "tier = \"S9\"",
            "hub.tier",
            "expected one of F1, B1, B2, B3, S1, S2, S3",
        ),
        (
            "interval_s = 300",
            "interval_s = 100000",
            "classes.collar.telemetry.interval_s",
            "expected 0 to 86400 s",
        ),
        (
            "jitter_s = 10",
            "jitter_s = 400",
            "classes.collar.telemetry.jitter_s",
            "less than interval_s",
        ),
        (
            "overflow = \"drop_oldest\"",
            "overflow = \"drop_random\"",
            "classes.collar.firmware.overflow",
            "drop_oldest",
        ),
        (
            "keep_alive_s = 900",
            "keep_alive_s = 3000",
            "classes.collar.firmware.keep_alive_s",
            "1 to 1177",
        ),
        (
            "stuck_duration_h_min = 13.0",
            "stuck_duration_h_min = 6.0",
            "classes.collar.params.stuck_duration_h_min",
            "more than 12 h",
        ),
        (
            "epoch = \"2026-01-01T00:00:00Z\"",
            "epoch = \"yesterday\"",
            "scenario.epoch",
            "YYYY-MM-DDTHH:MM:SSZ",
        ),
        (
            "rule = \"stuck\"",
            "rule = \"stuk\"",
            "invariants[2].rule",
            "expected the name of a rule",
        ),
        (
            "allocation = \"hashed\"",
            "allocation = \"static:4\"",
            "dps.allocation",
            "static:<hub index below 1>",
        ),
        (
            "towers = 1",
            "towers = 0",
            "faults.outages[0].towers",
            "at least 1 tower",
        ),
        (
            "at_h = 14.0",
            "at_h = 1e12",
            "faults.crashes[0].at_h",
            "expected 0 to 8784 (a year)",
        ),
        (
            "tier = \"S3\"",
            "tier = \"B2\"",
            "hub.tier",
            "Basic tiers have no C2D, twins or direct methods",
        ),
        (
            "radio = \"lte-m\"",
            "radio = \"5g\"",
            "classes.collar.link.radio",
            "\"5g\": expected one of lorawan-sf7",
        ),
        (
            "tcp_rto_ms = 1000",
            "tcp_rto_ms = 100000000000",
            "network.tcp_rto_ms",
            "expected 1 to 60000 ms",
        ),
        (
            "buffer_capacity = 48",
            "buffer_capacity = 200",
            "classes.collar.firmware.buffer_capacity",
            "expected 1 to 60 messages",
        ),
        (
            "kind = \"collar/1\"",
            "kind = \"colar/1\"",
            "classes.collar.kind",
            "no such class kind; registered: collar/1",
        ),
        (
            "{ name = \"temp\", resolution = 0.01 }",
            "{ name = \"tmp\", resolution = 0.01 }",
            "classes.collar.telemetry.fields[2].name",
            "kind \"collar/1\" samples lat, lon, temp",
        ),
        (
            "ids = \"cow-{index:07}\"",
            "ids = \"cow-{index:07\"",
            "classes.collar.ids",
            "unclosed",
        ),
        (
            "fever_rise_c = 1.6",
            "fever_rise_c = \"hot\"",
            "classes.collar.params.fever_rise_c",
            "invalid type",
        ),
    ];
    for (old, new, field, words) in cases {
        let src = with(old, new);
        let e = error(&src, &[]);
        let line = line_of(&src, new);
        assert!(e.starts_with(&format!("bad.toml:{line}:")), "{new}: {e}");
        assert!(e.contains(&format!("`{field}`")), "{new}: {e}");
        assert!(e.contains(words), "{new}: {e}");
    }
}

#[test]
fn an_unknown_field_lists_the_expected_ones() {
    let src = with("count = 100000", "count = 100000\ncolour = \"brown\"");
    let e = error(&src, &[]);
    assert!(
        e.starts_with(&format!("bad.toml:{}:", line_of(&src, "colour"))),
        "{e}"
    );
    assert!(
        e.contains("colour") && e.contains("provisioned_ratio"),
        "{e}"
    );
    // A class kind's own parameters are checked by the kind, and located too.
    let src = with("origin_lon = 146.90", "origin_lon = 146.90\nhorns = 2");
    let e = error(&src, &[]);
    assert!(
        e.starts_with(&format!("bad.toml:{}:", line_of(&src, "horns"))),
        "{e}"
    );
    assert!(
        e.contains("classes.collar.params") && e.contains("horns"),
        "{e}"
    );
}

#[test]
fn broken_toml_syntax_is_located() {
    let src = with("seed = 1", "seed = = 1");
    let e = error(&src, &[]);
    assert!(
        e.starts_with(&format!("bad.toml:{}:", line_of(&src, "seed = = 1"))),
        "{e}"
    );
    assert!(
        !e.contains("``"),
        "a syntax error names no empty field: {e}"
    );
    // A table written twice is named by its line.
    let src = with("[classes.link]", "[classes.link]\n[classes.link]");
    let e = error(&src, &[]);
    assert!(
        e.starts_with(&format!(
            "bad.toml:{}:",
            line_of(&src, "[classes.link]") + 1
        )) && e.contains("duplicate key")
            && !e.contains("``"),
        "{e}"
    );
}

#[test]
fn an_unknown_set_key_lists_the_valid_ones_and_a_bad_set_value_is_located() {
    let src = source("herd").unwrap();
    let e = error(&src, &["herd.goats=3"]);
    assert!(e.starts_with("--set herd.goats: no such key"), "{e}");
    assert!(
        e.contains("devices (= classes[0].count)") && e.contains("classes.collar.link.loss_ratio"),
        "{e}"
    );
    let e = error(&src, &["devices=many"]);
    assert!(
        e.contains("`classes[0].count`") && e.contains("scenarios/herd.toml:"),
        "{e}"
    );
    let e = error(&src, &["classes.colar.count=3"]);
    assert!(
        e.contains("no class entry named \"colar\"") && e.contains("collar"),
        "{e}"
    );
    assert!(Override::parse("devices").is_err());
}

#[test]
fn a_bad_set_value_is_located_on_its_own_line_below_a_comment() {
    let src = source("herd").unwrap();
    let line = src
        .text
        .lines()
        .position(|l| l.starts_with("latency_ms_min"))
        .unwrap()
        + 1;
    assert!(src.text.lines().nth(line - 2).unwrap().starts_with('#'));
    let e = error(&src, &["classes.collar.link.latency_ms_min=-5"]);
    assert!(
        e.contains(&format!("scenarios/herd.toml:{line}:")),
        "line {line}: {e}"
    );
}

#[test]
fn an_unknown_bundled_scenario_lists_the_bundled_ones() {
    let e = source("hurd").err().unwrap().to_string();
    assert_eq!(
        e,
        "no bundled scenario named `hurd`; bundled: doors, facility, herd, herd-lora, tank, tank-edge, thermostat"
    );
}

#[test]
fn a_bad_clock_fault_names_its_field() {
    let src = source("herd").unwrap();
    let cases = [
        (
            "faults.clock=[{ at_h = 1.0, class = \"collar\" }]",
            "faults.clock[0]",
            "sets neither drift_ppm nor step_s",
        ),
        (
            "faults.clock=[{ at_h = 1.0, class = \"collar\", drift_ppm = -2000000.0 }]",
            "faults.clock[0].drift_ppm",
            "expected -100000..=100000 ppm",
        ),
        (
            "faults.clock=[{ at_h = 1.0, class = \"cow\", step_s = 5.0 }]",
            "faults.clock[0].class",
            "expected the name of a class",
        ),
        (
            "faults.clock=[{ at_h = 1.0, class = \"collar\", step_s = 5.0, devices = [100000] }]",
            "faults.clock[0].devices",
            "100000",
        ),
        (
            "faults.clock=[{ at_h = 1.0, class = \"collar\", step_s = 5.0, skew = 1 }]",
            "skew",
            "unknown field",
        ),
    ];
    for (set, field, words) in cases {
        let e = error(&src, &[set]);
        assert!(e.contains(field) && e.contains(words), "{set}: {e}");
    }
}
