//! `fleetsim budget <budgets.toml>`: performance budgets for CI. A budget bounds a field of
//! the run's summary (exact: the run is deterministic, so a budget that held holds again
//! until the solution changes), or the run's wall time and peak memory against a committed
//! baseline with a tolerance (the machine decides those). Every budget is printed in a
//! table; a broken one fails the command (exit 1), and is written as a JUnit failure and,
//! under GitHub Actions, as an error annotation.
//!
//! ```toml
//! [run]
//! scenario = "herd"
//! set = ["devices=2000", "hours=6"]
//! seed = 1
//!
//! [[budget]]
//! field = "alerts.rules.fever.latency_s_p99"
//! max = 7200.0
//!
//! [[budget]]
//! field = "derived.loss_ratio"
//! max = 0.001
//!
//! [baseline]
//! file = "herd-small.baseline.json"   # relative to the budgets file
//! wall_tolerance = 2.0                # fail above the baseline × (1 + 2.0)
//! rss_tolerance = 0.5
//! ```

use crate::run::{self, RunArgs};
use crate::sweep;
use crate::{BadInput, RunFailed};
use anyhow::{Context, Result};
use scenarios::registry::Registry;
use scenarios::summary::Summary;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
pub struct BudgetArgs {
    /// The budgets file (see `fleetsim budget --help` and the README).
    pub file: PathBuf,
    /// Also write the budgets as JUnit XML (a test case each) to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Rewrite the baseline file from this run's wall time and peak memory.
    #[arg(long)]
    pub update_baseline: bool,
    /// Where the run writes its reports (default reports/out/budget-<file stem>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetFile {
    run: RunSpec,
    #[serde(default)]
    budget: Vec<Budget>,
    baseline: Option<BaselineSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunSpec {
    scenario: String,
    #[serde(default)]
    set: Vec<String>,
    seed: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Budget {
    field: String,
    min: Option<f64>,
    max: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineSpec {
    file: PathBuf,
    #[serde(default = "default_tolerance")]
    wall_tolerance: f64,
    #[serde(default = "default_tolerance")]
    rss_tolerance: f64,
}

fn default_tolerance() -> f64 {
    0.5
}

/// The committed baseline: what the machine measured for this run.
#[derive(Debug, Serialize, Deserialize)]
struct Baseline {
    scenario: String,
    overrides: Vec<String>,
    wall_seconds: f64,
    peak_rss_bytes: u64,
}

/// One budget's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub name: String,
    pub limit: String,
    pub value: String,
    /// `None`: held; otherwise why not.
    pub failure: Option<String>,
}

/// Fields derived from the summary for budgets: ratios a person states a budget in.
fn derived(s: &Summary) -> Vec<(String, f64)> {
    let t = &s.telemetry;
    let mut out = vec![
        (
            "derived.loss_ratio".to_string(),
            t.lost as f64 / t.sent.max(1) as f64,
        ),
        (
            "derived.quota_headroom".to_string(),
            1.0 - s.hub.quota_used_ratio,
        ),
    ];
    let m = &s.commands.methods;
    if m.sent > 0 {
        out.push((
            "derived.method_success_ratio".to_string(),
            m.answered_ok as f64 / m.sent as f64,
        ));
    }
    out
}

/// Fields that were not measured in this run, with why: a rule that raised no alert has no
/// alert latency (the summary writes 0), nor a precision; no method call, no method latency.
fn unmeasured(s: &Summary, field: &str) -> Option<String> {
    for r in &s.alerts.rules {
        let prefix = format!("alerts.rules.{}.", r.rule);
        if let Some(rest) = field.strip_prefix(&prefix) {
            let missing = match rest {
                "precision" => r.precision.is_none(),
                "latency_s_p50" => r.latency_s_p50.is_none(),
                "latency_s_p99" => r.latency_s_p99.is_none(),
                "latency_s_max" => r.latency_s_max.is_none(),
                _ => false,
            };
            if missing {
                let why = if r.raised == 0 {
                    "raised no alert"
                } else {
                    "detected no episode"
                };
                return Some(format!(
                    "rule `{}` {why}, so its {rest} was not measured",
                    r.rule
                ));
            }
        }
    }
    let m = &s.commands.methods;
    if field.starts_with("commands.methods.latency")
        && (m.latency_ms_p50.is_none() || m.latency_ms_p99.is_none())
    {
        return Some("no direct method had a result, so its latency was not measured".into());
    }
    for n in &s.notifications {
        if field.starts_with(&format!("notifications.{}.latency", n.channel))
            && n.latency_ms_p50.is_none()
        {
            return Some(format!(
                "no {} notification was delivered, so its latency was not measured",
                n.channel
            ));
        }
    }
    None
}

fn limit_text(b: &Budget) -> String {
    match (b.min, b.max) {
        (Some(lo), Some(hi)) => format!("{} to {}", sweep::num(lo), sweep::num(hi)),
        (Some(lo), None) => format!(">= {}", sweep::num(lo)),
        (None, Some(hi)) => format!("<= {}", sweep::num(hi)),
        (None, None) => String::new(),
    }
}

/// Checks `budgets` against summary `s`.
fn check(s: &Summary, budgets: &[Budget]) -> std::result::Result<Vec<Checked>, String> {
    let mut fields = sweep::fields_of(s);
    fields.extend(derived(s));
    let mut out = Vec::new();
    for b in budgets {
        if b.min.is_none() && b.max.is_none() {
            return Err(format!(
                "budget field `{}`: give `min`, `max` or both",
                b.field
            ));
        }
        // A figure the run did not measure (null in summary.json) breaks its budget.
        if let Some(why) = unmeasured(s, &b.field) {
            out.push(Checked {
                name: b.field.clone(),
                limit: limit_text(b),
                value: "not measured".into(),
                failure: Some(format!("not measured: {why}")),
            });
            continue;
        }
        let Some(&(_, value)) = fields.iter().find(|(k, _)| *k == b.field) else {
            let last = b.field.rsplit('.').next().unwrap_or(&b.field);
            let close: Vec<&str> = fields
                .iter()
                .map(|(k, _)| k.as_str())
                .filter(|k| k.rsplit('.').next() == Some(last))
                .take(6)
                .collect();
            return Err(format!(
                "budget field `{}`: the summary has no such number{}",
                b.field,
                if close.is_empty() {
                    " (fields are summary.json's paths, records keyed by their name, e.g. alerts.rules.fever.recall, or derived.loss_ratio, derived.quota_headroom, derived.method_success_ratio)".to_string()
                } else {
                    format!("; did you mean {}?", close.join(", "))
                }
            ));
        };
        let failure = match (b.min, b.max) {
            (Some(lo), _) if value < lo => {
                Some(format!("{} is below {}", sweep::num(value), sweep::num(lo)))
            }
            (_, Some(hi)) if value > hi => {
                Some(format!("{} is above {}", sweep::num(value), sweep::num(hi)))
            }
            _ => None,
        };
        out.push(Checked {
            name: b.field.clone(),
            limit: limit_text(b),
            value: sweep::num(value),
            failure,
        });
    }
    Ok(out)
}

/// The machine's budgets: wall time and peak memory against the baseline.
fn check_baseline(s: &Summary, base: &Baseline, spec: &BaselineSpec) -> Vec<Checked> {
    let mut out = Vec::new();
    let wall_limit = base.wall_seconds * (1.0 + spec.wall_tolerance);
    out.push(Checked {
        name: "wall_seconds (baseline)".into(),
        limit: format!(
            "<= {wall_limit:.1} s ({:.1} s + {:.0} %)",
            base.wall_seconds,
            100.0 * spec.wall_tolerance
        ),
        value: format!("{:.1} s", s.wall_seconds),
        failure: (s.wall_seconds > wall_limit)
            .then(|| format!("{:.1} s is above {wall_limit:.1} s", s.wall_seconds)),
    });
    let rss_limit = base.peak_rss_bytes as f64 * (1.0 + spec.rss_tolerance);
    let mib = |b: f64| b / (1u64 << 20) as f64;
    out.push(Checked {
        name: "peak_rss_bytes (baseline)".into(),
        limit: format!(
            "<= {:.0} MiB ({:.0} MiB + {:.0} %)",
            mib(rss_limit),
            mib(base.peak_rss_bytes as f64),
            100.0 * spec.rss_tolerance
        ),
        value: format!("{:.0} MiB", mib(s.peak_rss_bytes as f64)),
        failure: (s.peak_rss_bytes as f64 > rss_limit && s.peak_rss_bytes > 0).then(|| {
            format!(
                "{:.0} MiB is above {:.0} MiB",
                mib(s.peak_rss_bytes as f64),
                mib(rss_limit)
            )
        }),
    });
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The budgets as a JUnit XML document: one test case a budget.
pub fn junit(suite: &str, checked: &[Checked]) -> String {
    let failures = checked.iter().filter(|c| c.failure.is_some()).count();
    let mut o = String::new();
    let _ = writeln!(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(
        o,
        "<testsuites><testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">",
        xml(suite),
        checked.len()
    );
    for c in checked {
        let _ = write!(
            o,
            "<testcase classname=\"fleetsim.budget\" name=\"{}\">",
            xml(&c.name)
        );
        if let Some(f) = &c.failure {
            let _ = write!(
                o,
                "<failure message=\"{}\">limit {}, value {}</failure>",
                xml(f),
                xml(&c.limit),
                xml(&c.value)
            );
        }
        let _ = writeln!(o, "</testcase>");
    }
    let _ = writeln!(o, "</testsuite></testsuites>");
    o
}

fn table(checked: &[Checked]) -> String {
    let w = checked
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let lw = checked
        .iter()
        .map(|c| c.limit.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<w$}  {:<lw$}  {:>12}  result",
        "budget", "limit", "value"
    );
    for c in checked {
        let _ = writeln!(
            o,
            "{:<w$}  {:<lw$}  {:>12}  {}",
            c.name,
            c.limit,
            c.value,
            c.failure
                .as_deref()
                .map_or("ok".to_string(), |f| format!("BROKEN: {f}"))
        );
    }
    o
}

pub fn run(registry: &Registry, args: &BudgetArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| BadInput(format!("{}: cannot read: {e}", args.file.display())))?;
    let spec: BudgetFile =
        toml::from_str(&text).map_err(|e| BadInput(format!("{}: {e}", args.file.display())))?;
    let dir = args.file.parent().unwrap_or(Path::new("."));
    let stem = args
        .file
        .file_stem()
        .map_or("budgets".into(), |s| s.to_string_lossy().into_owned());
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("reports/out/budget-{stem}")));
    let (summary, _) = run::execute(
        registry,
        &RunArgs {
            scenario: spec.run.scenario.clone(),
            seed: spec.run.seed,
            set: spec.run.set.clone(),
            out: Some(out.clone()),
            quiet: false,
        },
    )?;
    let mut checked = check(&summary, &spec.budget)
        .map_err(|e| BadInput(format!("{}: {e}", args.file.display())))?;
    if let Some(b) = &spec.baseline {
        let path = dir.join(&b.file);
        if args.update_baseline {
            let base = Baseline {
                scenario: summary.scenario.clone(),
                overrides: summary.overrides.clone(),
                wall_seconds: summary.wall_seconds,
                peak_rss_bytes: summary.peak_rss_bytes,
            };
            let mut json = serde_json::to_string_pretty(&base).expect("plain data");
            json.push('\n');
            std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
            println!("baseline written to {}", path.display());
        }
        let base_text = std::fs::read_to_string(&path).map_err(|e| {
            BadInput(format!(
                "{}: cannot read the baseline ({e}); `fleetsim budget {} --update-baseline` writes it",
                path.display(),
                args.file.display()
            ))
        })?;
        let base: Baseline = serde_json::from_str(&base_text)
            .map_err(|e| BadInput(format!("{}: not a baseline: {e}", path.display())))?;
        if base.scenario != summary.scenario || base.overrides != summary.overrides {
            return Err(BadInput(format!(
                "{}: the baseline is of {} {:?}, but the budgets run {} {:?}; rewrite it with --update-baseline",
                path.display(),
                base.scenario,
                base.overrides,
                summary.scenario,
                summary.overrides
            ))
            .into());
        }
        checked.extend(check_baseline(&summary, &base, b));
    }
    print!("{}", table(&checked));
    if let Some(j) = &args.junit {
        std::fs::write(
            j,
            junit(
                &format!("fleetsim budgets: {}", args.file.display()),
                &checked,
            ),
        )
        .with_context(|| format!("writing {}", j.display()))?;
    }
    let broken: Vec<&Checked> = checked.iter().filter(|c| c.failure.is_some()).collect();
    if std::env::var_os("GITHUB_ACTIONS").is_some() {
        for c in &broken {
            println!(
                "::error file={},title=budget {}::{}",
                args.file.display(),
                c.name,
                c.failure.as_deref().unwrap_or_default()
            );
        }
    }
    if !broken.is_empty() {
        return Err(RunFailed(format!(
            "{} of {} budgets broken: {}",
            broken.len(),
            checked.len(),
            broken
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    println!("all {} budgets held", checked.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use scenarios::summary::RuleScore;

    fn summary() -> Summary {
        let mut s = Summary::default();
        s.telemetry.sent = 1_000;
        s.telemetry.lost = 2;
        s.hub.quota_used_ratio = 0.25;
        s.alerts.rules.push(RuleScore {
            rule: "fever".into(),
            raised: 0,
            ..RuleScore::default()
        });
        s
    }

    fn budget(field: &str, min: Option<f64>, max: Option<f64>) -> Budget {
        Budget {
            field: field.into(),
            min,
            max,
        }
    }

    #[test]
    fn budgets_hold_or_break_on_the_summary_and_its_derived_ratios() {
        let c = check(
            &summary(),
            &[
                budget("derived.loss_ratio", None, Some(0.001)),
                budget("derived.quota_headroom", Some(0.5), None),
                budget("telemetry.sent", Some(500.0), Some(2_000.0)),
            ],
        )
        .unwrap();
        assert_eq!(c[0].failure.as_deref(), Some("0.002 is above 0.001"));
        assert_eq!(c[1].failure, None);
        assert_eq!(
            (c[2].limit.as_str(), c[2].failure.clone()),
            ("500 to 2,000", None)
        );
    }

    #[test]
    fn a_latency_of_a_rule_that_never_alerted_is_not_measured_and_breaks_its_budget() {
        let c = check(
            &summary(),
            &[budget(
                "alerts.rules.fever.latency_s_p99",
                None,
                Some(3_600.0),
            )],
        )
        .unwrap();
        assert!(c[0]
            .failure
            .as_deref()
            .unwrap()
            .starts_with("not measured: rule `fever` raised no alert"));
    }

    #[test]
    fn an_unknown_field_or_a_budget_without_a_limit_is_bad_input() {
        let e = check(&summary(), &[budget("telemetry.lots", None, Some(1.0))]).unwrap_err();
        assert!(
            e.contains("`telemetry.lots`: the summary has no such number"),
            "{e}"
        );
        let e = check(&summary(), &[budget("hub.throttled", None, Some(1.0))]).unwrap_err();
        assert!(e.contains("did you mean telemetry.throttled"), "{e}");
        let e = check(&summary(), &[budget("telemetry.sent", None, None)]).unwrap_err();
        assert!(e.contains("give `min`, `max` or both"), "{e}");
    }

    #[test]
    fn junit_has_a_test_case_a_budget_and_a_failure_for_each_broken_one() {
        let c = vec![
            Checked {
                name: "a<b".into(),
                limit: "<= 1".into(),
                value: "2".into(),
                failure: Some("2 is above 1".into()),
            },
            Checked {
                name: "ok".into(),
                limit: ">= 0".into(),
                value: "1".into(),
                failure: None,
            },
        ];
        let x = junit("suite", &c);
        assert!(x.contains("tests=\"2\" failures=\"1\""), "{x}");
        assert!(
            x.contains("name=\"a&lt;b\"><failure message=\"2 is above 1\">"),
            "{x}"
        );
        assert!(x.contains("name=\"ok\"></testcase>"), "{x}");
    }
}
