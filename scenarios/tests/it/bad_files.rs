//! Bad scenario files and overrides give errors that name the file, line, column, field,
//! the value and what was expected; nothing panics.

use scenarios::bundled::{load_herd, source};
use scenarios::load::{Override, Source};

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
    match load_herd(src, &sets) {
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
            "cows = 100000",
            "cows = \"lots\"",
            "herd.cows",
            "invalid type",
        ),
        (
            "cows = 100000",
            "cows = 0",
            "herd.cows",
            "expected 1 to 1,000,000",
        ),
        (
            "cows = 100000",
            "cows = 2000000",
            "herd.cows",
            "expected 1 to 1,000,000",
        ),
        (
            "loss_ratio = 0.01",
            "loss_ratio = 1.5",
            "network.loss_ratio",
            "expected a ratio from 0 to 1",
        ),
        (
            "provisioned_ratio = 0.98",
            "provisioned_ratio = -0.1",
            "collar.provisioned_ratio",
            "expected a ratio from 0 to 1",
        ),
        (
            "tier = \"S3\"",
            "tier = \"S9\"",
            "hub.tier",
            "expected one of F1, B1, B2, B3, S1, S2, S3",
        ),
        (
            "report_interval_s = 300",
            "report_interval_s = 0",
            "collar.report_interval_s",
            "expected 1 second to 1 day",
        ),
        (
            "report_jitter_s = 10",
            "report_jitter_s = 400",
            "collar.report_jitter_s",
            "less than report_interval_s",
        ),
        (
            "overflow = \"drop_oldest\"",
            "overflow = \"drop_random\"",
            "collar.overflow",
            "drop_oldest",
        ),
        (
            "keep_alive_s = 900",
            "keep_alive_s = 3000",
            "collar.keep_alive_s",
            "1 to 1177",
        ),
        (
            "stuck_duration_h_min = 13.0",
            "stuck_duration_h_min = 6.0",
            "herd.stuck_duration_h_min",
            "more than 12 h",
        ),
        (
            "epoch = \"2026-01-01T00:00:00Z\"",
            "epoch = \"yesterday\"",
            "scenario.epoch",
            "YYYY-MM-DDTHH:MM:SSZ",
        ),
        (
            "fever_rule = \"fever\"",
            "fever_rule = \"fevr\"",
            "invariants.fever_rule",
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
            "network.outages[0].towers",
            "at least 1 tower",
        ),
        (
            "crash_at_h = 14.0",
            "crash_at_h = 1e12",
            "faults.crash_at_h",
            "expected 0 to 8784 (a year)",
        ),
        (
            "tier = \"S3\"",
            "tier = \"B2\"",
            "hub.tier",
            "Basic tiers lack",
        ),
        (
            "radio = \"lte-m\"",
            "radio = \"5g\"",
            "network.radio",
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
            "collar.buffer_capacity",
            "expected 1 to 60 messages",
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
    let src = with("cows = 100000", "cows = 100000\ncolour = \"brown\"");
    let e = error(&src, &[]);
    assert!(
        e.starts_with(&format!("bad.toml:{}:", line_of(&src, "colour"))),
        "{e}"
    );
    assert!(e.contains("colour") && e.contains("pasture_width_m"), "{e}");
}

#[test]
fn broken_toml_syntax_is_located() {
    let src = with("seed = 1", "seed = = 1");
    let e = error(&src, &[]);
    assert!(
        e.starts_with(&format!("bad.toml:{}:", line_of(&src, "seed = = 1"))),
        "{e}"
    );
}

#[test]
fn an_unknown_set_key_lists_the_valid_ones_and_a_bad_set_value_is_located() {
    let src = source("herd").unwrap();
    let e = error(&src, &["herd.goats=3"]);
    assert!(e.starts_with("--set herd.goats: no such key"), "{e}");
    assert!(
        e.contains("devices (= herd.cows)") && e.contains("network.loss_ratio"),
        "{e}"
    );
    let e = error(&src, &["devices=many"]);
    assert!(
        e.contains("`herd.cows`") && e.contains("scenarios/herd.toml:"),
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
    let e = error(&src, &["network.latency_ms_min=-5"]);
    assert!(
        e.contains(&format!("scenarios/herd.toml:{line}:")),
        "line {line}: {e}"
    );
}

#[test]
fn an_unknown_bundled_scenario_lists_the_bundled_ones() {
    let e = source("hurd").err().unwrap().to_string();
    assert_eq!(e, "no bundled scenario named `hurd`; bundled: herd");
}
