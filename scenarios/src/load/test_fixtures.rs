//! Fixtures the loader's unit tests share: a scenario file with named and unnamed array
//! entries (`FLEET`), its defaults document, the types it deserialises into, and helpers to
//! apply `--set` overrides and compare lines.

use crate::load::{
    apply_overrides, apply_overrides_with_defaults, FieldError, LoadError, Override, Source,
    Validate,
};
use serde::Deserialize;

pub(super) fn src(text: &str) -> Source {
    Source {
        origin: "t.toml".into(),
        text: text.into(),
    }
}

// A file with named array entries, an unnamed one, inline tables inside an array, and a
// blank line or a comment at the end of each table.
pub(super) const FLEET: &str = r#"# Two rules and an outage.
[[analytics.rules]]
name = "fever"
truth = "fever"
conditions = [{ kind = "consecutive", value = 39.6 }]
cooldown_s = 86400

[[analytics.rules]]
name = "stuck"
# A day's cool-down.
cooldown_s = 86400
# (end of the rules)

[network]
loss_ratio = 0.01

[[network.outages]]
start_h = 9.5
duration_min = 40.0
"#;

// What a caller generates from its typed config: every settable key with its default.
pub(super) const FLEET_DEFAULTS: &str = r#"
[[analytics.rules]]
name = ""
truth = ""
conditions = [{ kind = "", value = 0.0 }]
cooldown_s = 0

[network]
loss_ratio = 0.0
latency_ms = 0.0

[[network.outages]]
start_h = 0.0
duration_min = 0.0

[faults]
crash_ratio = 0.0
"#;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct Fleet {
    pub(super) analytics: Analytics,
    pub(super) network: Network,
    #[serde(default)]
    pub(super) faults: Faults,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct Analytics {
    pub(super) rules: Vec<Rule>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct Rule {
    pub(super) name: String,
    pub(super) truth: Option<String>,
    #[serde(default)]
    pub(super) conditions: Vec<Condition>,
    pub(super) cooldown_s: u32,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct Condition {
    pub(super) kind: String,
    pub(super) value: f64,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct Network {
    pub(super) loss_ratio: f64,
    #[serde(default)]
    pub(super) latency_ms: f64,
    pub(super) outages: Vec<Outage>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct Outage {
    pub(super) start_h: f64,
    pub(super) duration_min: f64,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct Faults {
    pub(super) crash_ratio: f64,
}

impl Validate for Fleet {
    fn validate(&self) -> Result<(), FieldError> {
        for (i, r) in self.analytics.rules.iter().enumerate() {
            if r.cooldown_s < 60 {
                return Err(FieldError::new(
                    format!("analytics.rules[{i}].cooldown_s"),
                    format!("{}: expected at least 60 s", r.cooldown_s),
                ));
            }
        }
        Ok(())
    }
}

pub(super) fn set(text: &str, sets: &[&str]) -> Result<String, LoadError> {
    let sets: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
    apply_overrides(&src(text), &sets, &[])
}

pub(super) fn set_with_defaults(text: &str, sets: &[&str]) -> Result<String, LoadError> {
    let sets: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
    apply_overrides_with_defaults(&src(text), &sets, &[], FLEET_DEFAULTS)
}

/// Asserts that `new` is `old` with only line `line` (from 1) changed, to `to`.
pub(super) fn assert_only_line_changed(old: &str, new: &str, line: usize, to: &str) {
    let (old, new): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    assert_eq!(
        old.len(),
        new.len(),
        "line count changed:\n{}",
        new.join("\n")
    );
    for (i, (o, n)) in old.iter().zip(&new).enumerate() {
        if i + 1 == line {
            assert_eq!(*n, to, "line {line}");
        } else {
            assert_eq!(o, n, "line {} moved or changed", i + 1);
        }
    }
}
