//! `fleetsim compare`: two designs (two scenarios, or one with different settings) on the
//! same seeds, with paired differences. Random streams are keyed by entity and purpose, so
//! both sides draw the same cows' fevers, the same boot times and the same packet losses
//! where their configurations agree (common random numbers); the per-seed difference then
//! holds the design's effect with little of the seed's noise, and its interval is narrower
//! than two independent samples' would be. Both intervals are reported.

use crate::charts;
use crate::report;
use crate::run::RunArgs;
use crate::sweep::{self, num, t95, Seeds};
use anyhow::{Context, Result};
use scenarios::registry::Registry;
use scenarios::summary::Summary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct CompareArgs {
    /// Design A: a bundled scenario's name or a path to a scenario file.
    pub a: String,
    /// Design B (the same as A for a comparison of settings).
    pub b: String,
    /// The seeds both designs run, `A..B` (both included).
    #[arg(long, value_parser = sweep::parse_seeds)]
    pub seeds: Seeds,
    /// An override for both sides.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// An override for A only.
    #[arg(long = "a", value_name = "KEY=VALUE")]
    pub a_set: Vec<String>,
    /// An override for B only.
    #[arg(long = "b", value_name = "KEY=VALUE")]
    pub b_set: Vec<String>,
    /// Runs at once (default: the machine's cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: Option<u32>,
    /// Where to write a/seed-N/, b/seed-N/, compare.json, compare.md and compare.html.
    #[arg(long)]
    pub out: PathBuf,
}

/// Which way a field is better, where it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Lower,
    Higher,
}

/// The fields whose direction is declared: the first rule a path matches decides (`*`
/// stands for one path segment, such as a rule's or a channel's name).
const DIRECTIONS: &[(&str, Better)] = &[
    ("telemetry.lost", Better::Lower),
    ("telemetry.lost_by_reason.*.count", Better::Lower),
    ("telemetry.lost_at_gateways", Better::Lower),
    ("telemetry.throttled", Better::Lower),
    ("telemetry.acknowledged", Better::Higher),
    ("telemetry.stored", Better::Higher),
    ("latency_ms.*", Better::Lower),
    ("latency_stages.*.*", Better::Lower),
    ("hub.quota_used_ratio", Better::Lower),
    ("hub.throttled_requests", Better::Lower),
    ("hub.quota_rejections", Better::Lower),
    ("hubs.*.connects_throttled", Better::Lower),
    ("hubs.*.d2c_throttled", Better::Lower),
    ("dps.registrations_throttled", Better::Lower),
    ("dps.polls_throttled", Better::Lower),
    ("alerts.rules.*.precision", Better::Higher),
    ("alerts.rules.*.recall", Better::Higher),
    ("alerts.rules.*.latency_s_p50", Better::Lower),
    ("alerts.rules.*.latency_s_p99", Better::Lower),
    ("alerts.rules.*.latency_s_max", Better::Lower),
    ("battery.charge_ratio_min", Better::Higher),
    ("battery.charge_ratio_p50", Better::Higher),
    ("battery.projected_life_days_p50", Better::Higher),
    ("battery.energy_j_mean.*", Better::Lower),
    ("commands.methods.answered_ok", Better::Higher),
    ("commands.methods.latency_ms_p50", Better::Lower),
    ("commands.methods.latency_ms_p99", Better::Lower),
    ("commands.twins_converged_ratio", Better::Higher),
    ("notifications.*.delivered", Better::Higher),
    ("notifications.*.lost", Better::Lower),
    ("notifications.*.latency_ms_p50", Better::Lower),
    ("notifications.*.latency_ms_p99", Better::Lower),
    ("cost.*", Better::Lower),
];

/// The declared direction of field `path`, if any.
pub fn direction(path: &str) -> Option<Better> {
    let segs: Vec<&str> = path.split('.').collect();
    DIRECTIONS.iter().find_map(|(pattern, better)| {
        let pat: Vec<&str> = pattern.split('.').collect();
        let matches =
            pat.len() == segs.len() && pat.iter().zip(&segs).all(|(p, s)| *p == "*" || p == s);
        matches.then_some(*better)
    })
}

/// One field of the comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldDelta {
    pub a_mean: f64,
    pub b_mean: f64,
    /// The mean of B − A over the seeds.
    pub diff_mean: f64,
    /// The 95 % interval of the mean difference, paired by seed.
    pub paired_ci95: [f64; 2],
    /// The interval two independent samples of the same size would give (Welch).
    pub independent_ci95: [f64; 2],
    pub better: Option<Better>,
    /// `identical`, `B better`, `B worse`, `B higher`, `B lower` or `no detectable
    /// difference` (the paired interval holds zero).
    pub verdict: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Side {
    pub scenario: String,
    pub overrides: Vec<String>,
    pub failing_seeds: Vec<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub a: Side,
    pub b: Side,
    pub seeds: Seeds,
    pub fields: BTreeMap<String, FieldDelta>,
}

fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var)
}

/// The paired comparison of `a` and `b` (summaries in the same seed order).
pub fn compare(
    a_side: Side,
    b_side: Side,
    seeds: Seeds,
    a: &[Summary],
    b: &[Summary],
) -> Comparison {
    let values = |runs: &[Summary]| {
        let mut m: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for s in runs {
            for (k, v) in sweep::fields_of(s) {
                m.entry(k).or_default().push(v);
            }
        }
        m
    };
    let (va, vb) = (values(a), values(b));
    let n = a.len();
    let mut fields = BTreeMap::new();
    for (k, xa) in &va {
        // A field only one side has (a rule B lacks), or not in every run, is not paired.
        let Some(xb) = vb.get(k).filter(|xb| xb.len() == n && xa.len() == n) else {
            continue;
        };
        let d: Vec<f64> = xa.iter().zip(xb).map(|(x, y)| y - x).collect();
        let ((am, av), (bm, bv), (dm, dv)) = (mean_var(xa), mean_var(xb), mean_var(&d));
        let nf = n as f64;
        let (paired, independent) = if n > 1 {
            (
                t95(n - 1) * (dv / nf).sqrt(),
                t95(2 * n - 2) * (av / nf + bv / nf).sqrt(),
            )
        } else {
            (f64::NAN, f64::NAN)
        };
        let better = direction(k);
        let verdict = if d.iter().all(|x| *x == 0.0) {
            "identical".to_string()
        } else if !paired.is_finite() {
            "one seed: no interval".to_string()
        } else if dm - paired > 0.0 || dm + paired < 0.0 {
            let up = dm > 0.0;
            match better {
                Some(Better::Higher) if up => "B better".into(),
                Some(Better::Lower) if !up => "B better".into(),
                Some(_) => "B worse".into(),
                None if up => "B higher".into(),
                None => "B lower".into(),
            }
        } else {
            "no detectable difference".to_string()
        };
        fields.insert(
            k.clone(),
            FieldDelta {
                a_mean: am,
                b_mean: bm,
                diff_mean: dm,
                paired_ci95: [dm - paired, dm + paired],
                independent_ci95: [dm - independent, dm + independent],
                better,
                verdict,
            },
        );
    }
    Comparison {
        a: a_side,
        b: b_side,
        seeds,
        fields,
    }
}

fn side_runs(args: &CompareArgs, b: bool) -> Vec<(String, RunArgs)> {
    let (scenario, own, tag) = if b {
        (&args.b, &args.b_set, "b")
    } else {
        (&args.a, &args.a_set, "a")
    };
    let mut set = args.set.clone();
    set.extend(own.iter().cloned());
    args.seeds
        .iter()
        .map(|seed| {
            (
                format!("{} seed {seed}", tag.to_uppercase()),
                RunArgs {
                    scenario: scenario.clone(),
                    seed: Some(seed),
                    set: set.clone(),
                    out: Some(args.out.join(tag).join(format!("seed-{seed}"))),
                    quiet: true,
                },
            )
        })
        .collect()
}

pub fn run(registry: &Registry, args: &CompareArgs) -> Result<()> {
    let (ta, tb) = (side_runs(args, false), side_runs(args, true));
    // Both files and their overrides load before any run.
    for t in [&ta[0].1, &tb[0].1] {
        crate::run::load(registry, t)?;
    }
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );
    eprintln!(
        "fleetsim compare: {} seeds × 2 designs with {jobs} jobs",
        ta.len()
    );
    // A and B interleaved, so a cut-short comparison has both sides of its first seeds.
    let tasks: Vec<(String, RunArgs)> = ta
        .iter()
        .zip(&tb)
        .flat_map(|(x, y)| [x.clone(), y.clone()])
        .collect();
    sweep::run_pool(registry, &tasks, jobs)?;
    let read = |ts: &[(String, RunArgs)]| -> Result<Vec<Summary>> {
        ts.iter()
            .map(|(_, r)| {
                crate::run::read_summary(&r.out.as_ref().expect("set").join("summary.json"))
            })
            .collect()
    };
    let (ra, rb) = (read(&ta)?, read(&tb)?);
    let side = |scenario: &str, own: &[String], runs: &[Summary]| {
        let mut overrides = args.set.clone();
        overrides.extend(own.iter().cloned());
        Side {
            scenario: scenario.to_string(),
            overrides,
            failing_seeds: runs
                .iter()
                .filter(|s| !s.all_invariants_held())
                .map(|s| s.seed)
                .collect(),
        }
    };
    let c = compare(
        side(&args.a, &args.a_set, &ra),
        side(&args.b, &args.b_set, &rb),
        args.seeds,
        &ra,
        &rb,
    );
    let mut json = serde_json::to_string_pretty(&c).expect("plain data");
    json.push('\n');
    std::fs::write(args.out.join("compare.json"), json).context("writing compare.json")?;
    let md = markdown(&c);
    std::fs::write(args.out.join("compare.md"), &md).context("writing compare.md")?;
    std::fs::write(args.out.join("compare.html"), html(&c, &md, &ra, &rb))
        .context("writing compare.html")?;
    print!("{}", headline(&c));
    println!(
        "compare.json, compare.md, compare.html in {}",
        args.out.display()
    );
    Ok(())
}

fn describe(s: &Side) -> String {
    if s.overrides.is_empty() {
        s.scenario.clone()
    } else {
        format!("{} --set {}", s.scenario, s.overrides.join(" --set "))
    }
}

/// The fields with a detectable difference, first the ones with a direction.
fn differing(c: &Comparison) -> Vec<(&String, &FieldDelta)> {
    let mut v: Vec<(&String, &FieldDelta)> = c
        .fields
        .iter()
        .filter(|(_, d)| d.verdict.starts_with("B "))
        .collect();
    v.sort_by_key(|(_, d)| d.better.is_none());
    v
}

fn headline(c: &Comparison) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "A: {}\nB: {}", describe(&c.a), describe(&c.b));
    let count = |v: &str| c.fields.values().filter(|d| d.verdict == v).count();
    let _ = writeln!(
        o,
        "{} fields: {} B better, {} B worse, {} differ without a declared direction, {} no detectable difference, {} identical",
        c.fields.len(),
        count("B better"),
        count("B worse"),
        count("B higher") + count("B lower"),
        count("no detectable difference"),
        count("identical")
    );
    for (k, d) in differing(c)
        .into_iter()
        .filter(|(_, d)| d.better.is_some())
        .take(12)
    {
        let _ = writeln!(
            o,
            "  {k}: A {} → B {} ({}; B − A {} to {} paired, {} to {} independent)",
            num(d.a_mean),
            num(d.b_mean),
            d.verdict,
            num(d.paired_ci95[0]),
            num(d.paired_ci95[1]),
            num(d.independent_ci95[0]),
            num(d.independent_ci95[1])
        );
    }
    o
}

fn markdown(c: &Comparison) -> String {
    let mut m = String::new();
    let _ = writeln!(
        m,
        "# fleetsim compare (seeds {}..{})\n\n- **A**: `{}`\n- **B**: `{}`\n",
        c.seeds.first,
        c.seeds.last,
        describe(&c.a),
        describe(&c.b)
    );
    for (name, s) in [("A", &c.a), ("B", &c.b)] {
        if !s.failing_seeds.is_empty() {
            let _ = writeln!(
                m,
                "{name} failed an invariant on seeds {:?}.\n",
                s.failing_seeds
            );
        }
    }
    let _ = writeln!(
        m,
        "*Definitions.* Each seed runs both designs; random streams are keyed by entity and purpose, so where the designs agree they draw the same (common random numbers). **B − A** is the mean of the per-seed differences; its **paired** 95 % interval is Student's t over those differences; the **independent** interval is what two unpaired samples of the same size would give (Welch). A verdict needs the paired interval to exclude zero; better and worse follow the field's declared direction.\n"
    );
    let _ = writeln!(
        m,
        "## Fields that differ\n\n| field | A | B | B − A | paired 95 % | independent 95 % | verdict |\n|---|---:|---:|---:|---:|---:|---|"
    );
    let row = |m: &mut String, k: &str, d: &FieldDelta| {
        let _ = writeln!(
            m,
            "| {k} | {} | {} | {} | {} to {} | {} to {} | {} |",
            num(d.a_mean),
            num(d.b_mean),
            num(d.diff_mean),
            num(d.paired_ci95[0]),
            num(d.paired_ci95[1]),
            num(d.independent_ci95[0]),
            num(d.independent_ci95[1]),
            d.verdict
        );
    };
    for (k, d) in differing(c) {
        row(&mut m, k, d);
    }
    let _ = writeln!(
        m,
        "\n## Fields with a declared direction and no detectable difference\n\n| field | A | B | B − A | paired 95 % | independent 95 % | verdict |\n|---|---:|---:|---:|---:|---:|---|"
    );
    for (k, d) in c
        .fields
        .iter()
        .filter(|(_, d)| d.better.is_some() && !d.verdict.starts_with("B "))
    {
        row(&mut m, k, d);
    }
    m
}

fn html(c: &Comparison, md: &str, a: &[Summary], b: &[Summary]) -> String {
    let page = report::standalone_html("fleetsim compare", md);
    let (fa, fb): (Vec<_>, Vec<_>) = (
        a.iter().map(sweep::fields_of).collect(),
        b.iter().map(sweep::fields_of).collect(),
    );
    let mut svgs = String::new();
    for (k, _) in differing(c)
        .into_iter()
        .filter(|(_, d)| d.better.is_some())
        .take(8)
    {
        let series = [
            ("A", sweep::per_seed(a, &fa, k)),
            ("B", sweep::per_seed(b, &fb, k)),
        ];
        let svg = charts::lines(k, "seed", k, &series);
        let _ = writeln!(svgs, "<div>{svg}</div>");
    }
    sweep::with_charts(page, "Per seed, side by side", &svgs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_are_declared_by_pattern_and_the_rest_have_none() {
        assert_eq!(direction("telemetry.lost"), Some(Better::Lower));
        assert_eq!(direction("alerts.rules.fever.recall"), Some(Better::Higher));
        assert_eq!(direction("notifications.sms.lost"), Some(Better::Lower));
        assert_eq!(
            direction("battery.projected_life_days_p50"),
            Some(Better::Higher)
        );
        assert_eq!(direction("events"), None);
        assert_eq!(direction("alerts.rules.fever"), None);
    }

    fn run(seed: u64, lost: u64, life: f64) -> Summary {
        let mut s = Summary {
            seed,
            ..Summary::default()
        };
        s.telemetry.lost = lost;
        s.battery.projected_life_days_p50 = life;
        s
    }

    fn side() -> Side {
        Side {
            scenario: "herd".into(),
            overrides: vec![],
            failing_seeds: vec![],
        }
    }

    #[test]
    fn a_design_against_itself_is_identical_in_every_field() {
        let a = [run(1, 5, 400.0), run(2, 9, 380.0), run(3, 2, 420.0)];
        let c = compare(side(), side(), Seeds { first: 1, last: 3 }, &a, &a);
        assert!(!c.fields.is_empty());
        for (k, d) in &c.fields {
            assert_eq!(d.verdict, "identical", "{k}");
            assert_eq!((d.diff_mean, d.paired_ci95), (0.0, [0.0, 0.0]), "{k}");
        }
    }

    #[test]
    fn pairing_removes_the_seeds_noise_and_the_verdict_follows_the_direction() {
        // The seeds differ a lot; B loses 3 fewer readings than A on every seed.
        let a = [
            run(1, 100, 400.0),
            run(2, 10, 300.0),
            run(3, 55, 500.0),
            run(4, 70, 350.0),
        ];
        let b = [
            run(1, 97, 400.0),
            run(2, 7, 301.0),
            run(3, 52, 499.0),
            run(4, 67, 350.0),
        ];
        let c = compare(side(), side(), Seeds { first: 1, last: 4 }, &a, &b);
        let lost = &c.fields["telemetry.lost"];
        assert_eq!(lost.diff_mean, -3.0);
        assert_eq!(lost.paired_ci95, [-3.0, -3.0]);
        assert!(
            lost.independent_ci95[0] < -30.0 && lost.independent_ci95[1] > 20.0,
            "{lost:?}"
        );
        assert_eq!(lost.verdict, "B better");
        let life = &c.fields["battery.projected_life_days_p50"];
        assert_eq!(life.verdict, "no detectable difference");
    }
}
