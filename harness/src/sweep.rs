//! `fleetsim sweep` and `fleetsim merge`: one scenario over a range of seeds, run by a pool
//! of worker threads (each run single-threaded and deterministic), optionally one shard of
//! the seeds so a CI matrix or a Kubernetes Indexed Job runs the pieces; and the sweep's
//! statistics, computed from the runs' summaries in seed order, so a merge of shards writes
//! the same `sweep.json`, byte for byte, as one unsharded sweep.
//!
//! `sweep.json` holds what the simulation determines; wall time and memory, which the machine
//! decides, stay in each run's own `summary.json`.

use crate::report;
use crate::run::{self, RunArgs};
use crate::{BadInput, RunFailed};
use anyhow::{Context, Result};
use scenarios::registry::Registry;
use scenarios::summary::Summary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(clap::Args, Debug, Clone)]
pub struct SweepArgs {
    /// A bundled scenario's name or a path to a scenario file.
    pub scenario: String,
    /// The seeds, `A..B` (both included) or one seed, e.g. `--seeds 1..64`.
    #[arg(long, value_parser = parse_seeds)]
    pub seeds: Seeds,
    /// Override a scenario value for every run, as with `fleetsim run`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Runs at once (default: the machine's cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: Option<u32>,
    /// Run only the K-th of N slices of the seeds (1-based), e.g. `--shard 2/4`. Without it,
    /// `CI_NODE_INDEX`/`CI_NODE_TOTAL` (1-based) or `JOB_COMPLETION_INDEX` (0-based, a
    /// Kubernetes Indexed Job) with `FLEETSIM_SHARDS` choose the slice when set.
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// The sweep's folder: a `seed-N/` per run, `sweep.json`, `sweep.md`, `sweep.html`.
    #[arg(long)]
    pub out: PathBuf,
}

/// Seeds `first..=last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seeds {
    pub first: u64,
    pub last: u64,
}

impl Seeds {
    pub(crate) fn iter(self) -> impl Iterator<Item = u64> {
        self.first..=self.last
    }
}

/// Slice `index` (1-based) of `count`: the seeds at positions `index - 1`, `index - 1 +
/// count`, … of the range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

pub(crate) fn parse_seeds(s: &str) -> Result<Seeds, String> {
    let seed = |t: &str| {
        t.trim()
            .parse::<u64>()
            .ok()
            .filter(|v| *v <= i64::MAX as u64)
            .ok_or_else(|| format!("`{t}` is not a seed (0 to 2^63-1)"))
    };
    let (first, last) = match s.split_once("..") {
        Some((a, b)) => (seed(a)?, seed(b.strip_prefix('=').unwrap_or(b))?),
        None => {
            let v = seed(s)?;
            (v, v)
        }
    };
    if last < first {
        return Err(format!("`{s}`: the range ends before it starts"));
    }
    if last - first >= 1_000_000 {
        return Err(format!("`{s}`: at most a million seeds"));
    }
    Ok(Seeds { first, last })
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    let bad = || format!("`{s}`: expected K/N with 1 <= K <= N, e.g. 2/4");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (index, count) = (
        k.trim().parse::<u32>().map_err(|_| bad())?,
        n.trim().parse::<u32>().map_err(|_| bad())?,
    );
    if index == 0 || index > count {
        return Err(bad());
    }
    Ok(Shard { index, count })
}

/// The shard the environment asks for, if any: GitLab-style `CI_NODE_INDEX`/`CI_NODE_TOTAL`
/// (1-based), or a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX` (0-based) with
/// `FLEETSIM_SHARDS`.
fn shard_from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>, String> {
    if let (Some(i), Some(n)) = (var("CI_NODE_INDEX"), var("CI_NODE_TOTAL")) {
        return parse_shard(&format!("{i}/{n}"))
            .map(Some)
            .map_err(|e| format!("CI_NODE_INDEX/CI_NODE_TOTAL: {e}"));
    }
    if let Some(i) = var("JOB_COMPLETION_INDEX") {
        let n = var("FLEETSIM_SHARDS").ok_or(
            "JOB_COMPLETION_INDEX is set but FLEETSIM_SHARDS (the Job's completions) is not",
        )?;
        let i: u32 = i
            .trim()
            .parse()
            .map_err(|_| format!("JOB_COMPLETION_INDEX `{i}` is not an index"))?;
        return parse_shard(&format!("{}/{n}", i + 1))
            .map(Some)
            .map_err(|e| format!("JOB_COMPLETION_INDEX/FLEETSIM_SHARDS: {e}"));
    }
    Ok(None)
}

/// What one sweep (or shard) was asked to run, kept beside its runs for `merge`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Manifest {
    scenario: String,
    overrides: Vec<String>,
    seeds: Seeds,
    shard: Option<Shard>,
}

const MANIFEST: &str = "sweep-manifest.json";

/// The seeds of `seeds` that `shard` runs.
fn slice(seeds: Seeds, shard: Option<Shard>) -> Vec<u64> {
    seeds
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            shard.is_none_or(|s| *i as u64 % u64::from(s.count) == u64::from(s.index - 1))
        })
        .map(|(_, seed)| seed)
        .collect()
}

pub fn sweep(registry: &Registry, args: &SweepArgs) -> Result<()> {
    let shard = match args.shard {
        Some(s) => Some(s),
        None => shard_from_env(|k| std::env::var(k).ok()).map_err(BadInput)?,
    };
    // Load once up front, so a bad file or override fails before any work.
    run::load(
        registry,
        &RunArgs {
            scenario: args.scenario.clone(),
            seed: Some(args.seeds.first),
            set: args.set.clone(),
            out: None,
            quiet: true,
        },
    )?;
    let seeds = slice(args.seeds, shard);
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let manifest = Manifest {
        scenario: args.scenario.clone(),
        overrides: args.set.clone(),
        seeds: args.seeds,
        shard,
    };
    std::fs::write(
        args.out.join(MANIFEST),
        serde_json::to_string_pretty(&manifest).expect("plain data"),
    )
    .context("writing the sweep manifest")?;
    eprintln!(
        "fleetsim sweep: {} seeds of {}{} with {jobs} jobs",
        seeds.len(),
        args.scenario,
        shard.map_or(String::new(), |s| format!(
            ", shard {}/{}",
            s.index, s.count
        ))
    );
    let tasks: Vec<(String, RunArgs)> = seeds
        .iter()
        .map(|&seed| {
            (
                format!("seed {seed}"),
                RunArgs {
                    scenario: args.scenario.clone(),
                    seed: Some(seed),
                    set: args.set.clone(),
                    out: Some(args.out.join(format!("seed-{seed}"))),
                    quiet: true,
                },
            )
        })
        .collect();
    run_pool(registry, &tasks, jobs)?;
    if shard.is_some() {
        println!(
            "shard written to {}; `fleetsim merge` the shards' folders for sweep.json",
            args.out.display()
        );
        return Ok(());
    }
    let summaries = read_runs(std::slice::from_ref(&args.out), &manifest)?;
    finish(&manifest, &summaries, &args.out)
}

/// Runs `tasks` (a label and a run each) on `jobs` worker threads, each run on one thread;
/// the first failure in task order is the error.
pub(crate) fn run_pool(
    registry: &Registry,
    tasks: &[(String, RunArgs)],
    jobs: usize,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(tasks.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((label, one)) = tasks.get(i) else {
                    break;
                };
                match run::execute(registry, one) {
                    Ok((s, _)) => eprintln!(
                        "  {label}: {} · trace hash {}",
                        if s.all_invariants_held() {
                            "ok"
                        } else {
                            "FAILED"
                        },
                        s.trace_hash
                    ),
                    Err(e) => failures
                        .lock()
                        .expect("no worker panics holding it")
                        .push((i, format!("{label}: {e:#}"))),
                }
            });
        }
    });
    let failures = failures.into_inner().expect("workers joined");
    match failures.into_iter().min_by_key(|f| f.0) {
        Some((_, e)) => Err(anyhow::anyhow!(e)),
        None => Ok(()),
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct MergeArgs {
    /// The shards' folders (each written by `fleetsim sweep --shard K/N`).
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Where to write sweep.json, sweep.md and sweep.html.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn merge(args: &MergeArgs) -> Result<()> {
    let mut manifests = Vec::new();
    for d in &args.shards {
        let path = d.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            BadInput(format!(
                "{}: cannot read ({e}); is it a folder `fleetsim sweep --shard` wrote?",
                path.display()
            ))
        })?;
        let m: Manifest = serde_json::from_str(&text)
            .map_err(|e| BadInput(format!("{}: not a sweep manifest: {e}", path.display())))?;
        manifests.push((d.clone(), m));
    }
    let (first_dir, first) = &manifests[0];
    let whole = Manifest {
        shard: None,
        ..first.clone()
    };
    let mut seen = vec![false; first.shard.map_or(1, |s| s.count) as usize];
    for (d, m) in &manifests {
        if m.scenario != first.scenario || m.overrides != first.overrides || m.seeds != first.seeds
        {
            return Err(BadInput(format!(
                "{} is a sweep of {} {:?} seeds {}..{}, but {} is of {} {:?} seeds {}..{}",
                d.display(),
                m.scenario,
                m.overrides,
                m.seeds.first,
                m.seeds.last,
                first_dir.display(),
                first.scenario,
                first.overrides,
                first.seeds.first,
                first.seeds.last
            ))
            .into());
        }
        match (m.shard, first.shard) {
            (Some(s), Some(f)) if s.count == f.count => {
                if std::mem::replace(&mut seen[s.index as usize - 1], true) {
                    return Err(BadInput(format!(
                        "shard {}/{} is given twice ({})",
                        s.index,
                        s.count,
                        d.display()
                    ))
                    .into());
                }
            }
            _ => {
                return Err(BadInput(format!(
                    "{}: merge takes the shards of one sharded sweep (each from `--shard K/N` with the same N)",
                    d.display()
                ))
                .into())
            }
        }
    }
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| !**s)
        .map(|(i, _)| format!("{}/{}", i + 1, seen.len()))
        .collect();
    if !missing.is_empty() {
        return Err(BadInput(format!("missing shards: {}", missing.join(", "))).into());
    }
    let summaries = read_runs(&args.shards, &whole)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    finish(&whole, &summaries, &args.out)
}

/// Every seed's summary from `dirs`, in seed order; each must be there.
fn read_runs(dirs: &[PathBuf], m: &Manifest) -> Result<Vec<Summary>> {
    let mut out = Vec::new();
    for seed in m.seeds.iter() {
        let found = dirs
            .iter()
            .map(|d| d.join(format!("seed-{seed}")).join("summary.json"))
            .find(|p| p.exists())
            .ok_or_else(|| {
                BadInput(format!(
                    "seed {seed}: no seed-{seed}/summary.json in {}",
                    dirs.iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        out.push(run::read_summary(&found)?);
    }
    Ok(out)
}

/// One summary field over the sweep's seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub mean: f64,
    /// The 95 % confidence interval of the mean (Student's t over the seeds).
    pub ci95: [f64; 2],
    pub min: f64,
    pub max: f64,
    pub min_seed: u64,
    pub max_seed: u64,
}

/// The sweep: each numeric summary field's distribution over the seeds, and which seeds
/// failed which invariant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepSummary {
    pub scenario: String,
    pub overrides: Vec<String>,
    pub seeds: Seeds,
    pub runs: usize,
    pub failing_seeds: Vec<u64>,
    /// Invariant name → the seeds it failed on.
    pub invariants_failed: BTreeMap<String, Vec<u64>>,
    pub fields: BTreeMap<String, Distribution>,
    /// Seed → trace hash, to replay any one run.
    pub trace_hashes: BTreeMap<u64, String>,
}

/// Student's t quantile for a two-sided 95 % interval with `df` degrees of freedom.
pub fn t95(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        // The Cornish-Fisher expansion's first term beyond the table.
        _ => {
            let z = 1.959_964;
            z + (z * z * z + z) / (4.0 * df as f64)
        }
    }
}

/// The numeric leaves of a summary as dotted paths; an array of records is keyed by each
/// record's name (`alerts.rules.fever.recall`), otherwise by index. What the machine decides
/// (wall time, memory) and what the sweep sets (the seed) are left out.
fn leaves(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, f64)>) {
    use serde_json::Value;
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                out.push((prefix.to_string(), x));
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                if prefix.is_empty()
                    && matches!(k.as_str(), "seed" | "wall_seconds" | "peak_rss_bytes")
                {
                    continue;
                }
                leaves(&join(k), v, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let key = ["rule", "channel", "stage", "class", "name"]
                    .iter()
                    .find_map(|k| item.get(*k).and_then(Value::as_str))
                    .map(|name| match item.get("of").and_then(Value::as_str) {
                        Some(of) => format!("{of}.{name}"),
                        None => name.to_string(),
                    })
                    .unwrap_or_else(|| i.to_string());
                leaves(&join(&key), item, out);
            }
        }
        _ => {}
    }
}

/// A summary's numeric fields as dotted paths (records keyed by their name), what sweep,
/// compare and budget read.
pub(crate) fn fields_of(s: &Summary) -> Vec<(String, f64)> {
    let mut l = Vec::new();
    leaves("", &serde_json::to_value(s).expect("plain data"), &mut l);
    l
}

/// Field `k` of each run (`fields[i]` is `fields_of(&runs[i])`) against its seed, for a
/// chart over seeds.
pub(crate) fn per_seed(
    runs: &[Summary],
    fields: &[Vec<(String, f64)>],
    k: &str,
) -> Vec<(f64, f64)> {
    runs.iter()
        .zip(fields)
        .filter_map(|(r, l)| {
            l.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| (r.seed as f64, *v))
        })
        .collect()
}

/// `page` with the charts `svgs` under `heading`, at the end of its body.
pub(crate) fn with_charts(page: String, heading: &str, svgs: &str) -> String {
    if svgs.is_empty() {
        return page;
    }
    let charts = format!(
        "<h2>{heading}</h2>\n<div style=\"display:flex;flex-wrap:wrap;gap:12px\">\n{svgs}</div>\n</body>"
    );
    page.replace("</body>", &charts)
}

/// The sweep's statistics over `runs` (in seed order).
pub fn summarise(
    m_scenario: &str,
    overrides: &[String],
    seeds: Seeds,
    runs: &[Summary],
) -> SweepSummary {
    let mut values: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
    let mut invariants_failed: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut failing_seeds = Vec::new();
    let mut trace_hashes = BTreeMap::new();
    for s in runs {
        for (k, v) in fields_of(s) {
            values.entry(k).or_default().push((s.seed, v));
        }
        for i in s.invariants.iter().filter(|i| !i.passed) {
            invariants_failed
                .entry(i.name.clone())
                .or_default()
                .push(s.seed);
        }
        if !s.all_invariants_held() {
            failing_seeds.push(s.seed);
        }
        trace_hashes.insert(s.seed, s.trace_hash.clone());
    }
    let fields = values
        .into_iter()
        .map(|(k, xs)| {
            let n = xs.len() as f64;
            let mean = xs.iter().map(|x| x.1).sum::<f64>() / n;
            let var = if xs.len() > 1 {
                xs.iter().map(|x| (x.1 - mean) * (x.1 - mean)).sum::<f64>() / (n - 1.0)
            } else {
                0.0
            };
            let half = if xs.len() > 1 {
                t95(xs.len() - 1) * (var / n).sqrt()
            } else {
                0.0
            };
            let lo =
                xs.iter().copied().fold(
                    (u64::MAX, f64::INFINITY),
                    |a, b| if b.1 < a.1 { b } else { a },
                );
            let hi = xs
                .iter()
                .copied()
                .fold(
                    (u64::MAX, f64::NEG_INFINITY),
                    |a, b| if b.1 > a.1 { b } else { a },
                );
            (
                k,
                Distribution {
                    mean,
                    ci95: [mean - half, mean + half],
                    min: lo.1,
                    max: hi.1,
                    min_seed: lo.0,
                    max_seed: hi.0,
                },
            )
        })
        .collect();
    SweepSummary {
        scenario: m_scenario.to_string(),
        overrides: overrides.to_vec(),
        seeds,
        runs: runs.len(),
        failing_seeds,
        invariants_failed,
        fields,
        trace_hashes,
    }
}

/// Writes sweep.json, sweep.md and sweep.html; fails (exit 1) when a seed failed an
/// invariant.
fn finish(m: &Manifest, runs: &[Summary], out: &Path) -> Result<()> {
    let s = summarise(&m.scenario, &m.overrides, m.seeds, runs);
    let mut json = serde_json::to_string_pretty(&s).expect("plain data");
    json.push('\n');
    std::fs::write(out.join("sweep.json"), json).context("writing sweep.json")?;
    let md = markdown(&s);
    std::fs::write(out.join("sweep.md"), &md).context("writing sweep.md")?;
    std::fs::write(out.join("sweep.html"), html(&s, &md, runs)).context("writing sweep.html")?;
    println!(
        "{} runs of {} seeds {}..{}: {} failed an invariant · sweep.json, sweep.md, sweep.html in {}",
        s.runs,
        s.scenario,
        s.seeds.first,
        s.seeds.last,
        s.failing_seeds.len(),
        out.display()
    );
    for key in [
        "telemetry.lost",
        "latency_ms.p99",
        "hub.quota_used_ratio",
        "battery.projected_life_days_p50",
    ] {
        if let Some(d) = s.fields.get(key) {
            println!(
                "  {key}: mean {} (95 % CI {} to {}), min {} (seed {}), max {} (seed {})",
                num(d.mean),
                num(d.ci95[0]),
                num(d.ci95[1]),
                num(d.min),
                d.min_seed,
                num(d.max),
                d.max_seed
            );
        }
    }
    if !s.failing_seeds.is_empty() {
        let which: Vec<String> = s
            .invariants_failed
            .iter()
            .map(|(name, seeds)| format!("{name}: seeds {seeds:?}"))
            .collect();
        return Err(RunFailed(format!("invariants failed: {}", which.join("; "))).into());
    }
    Ok(())
}

/// The sweep's page: the tables, then, for the fields that vary most across the seeds
/// (relative to their mean), each seed's value with the mean and its interval.
fn html(s: &SweepSummary, md: &str, runs: &[Summary]) -> String {
    let page = report::standalone_html(&format!("fleetsim sweep: {}", s.scenario), md);
    let mut varied: Vec<(&String, f64)> = s
        .fields
        .iter()
        .filter(|(_, d)| d.max > d.min)
        .map(|(k, d)| (k, (d.max - d.min) / d.mean.abs().max(1e-12)))
        .collect();
    varied.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let values: Vec<Vec<(String, f64)>> = runs.iter().map(fields_of).collect();
    let mut svgs = String::new();
    for (k, _) in varied.into_iter().take(8) {
        let d = &s.fields[k];
        let flat = |y: f64| vec![(s.seeds.first as f64, y), (s.seeds.last as f64, y)];
        let svg = crate::charts::lines(
            k,
            "seed",
            k,
            &[
                ("per seed", per_seed(runs, &values, k)),
                ("mean", flat(d.mean)),
                ("95 % CI low", flat(d.ci95[0])),
                ("95 % CI high", flat(d.ci95[1])),
            ],
        );
        let _ = writeln!(svgs, "<div>{svg}</div>");
    }
    with_charts(page, "The fields that vary most across the seeds", &svgs)
}

pub(crate) fn num(v: f64) -> String {
    if v.abs() >= 1_000.0 || v == v.round() {
        crate::charts::tick(v)
    } else {
        format!("{v:.4}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

fn markdown(s: &SweepSummary) -> String {
    let mut m = String::new();
    let _ = writeln!(
        m,
        "# fleetsim sweep: {} (seeds {}..{})\n",
        s.scenario, s.seeds.first, s.seeds.last
    );
    if !s.overrides.is_empty() {
        let _ = writeln!(m, "Overrides: `{}`\n", s.overrides.join("` `"));
    }
    let _ = writeln!(
        m,
        "**{} runs**, {} failed an invariant{}.\n",
        s.runs,
        s.failing_seeds.len(),
        if s.failing_seeds.is_empty() {
            String::new()
        } else {
            format!(" (seeds {:?})", s.failing_seeds)
        }
    );
    for (name, seeds) in &s.invariants_failed {
        let _ = writeln!(m, "- `{name}` failed on seeds {seeds:?}");
    }
    let _ = writeln!(
        m,
        "\n## Fields\n\n| field | mean | 95 % CI of the mean | min (seed) | max (seed) |\n|---|---:|---:|---:|---:|"
    );
    for (k, d) in &s.fields {
        let _ = writeln!(
            m,
            "| {k} | {} | {} to {} | {} ({}) | {} ({}) |",
            num(d.mean),
            num(d.ci95[0]),
            num(d.ci95[1]),
            num(d.min),
            d.min_seed,
            num(d.max),
            d.max_seed
        );
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_and_shards_parse_and_refuse_what_is_not_one() {
        assert_eq!(parse_seeds("1..64"), Ok(Seeds { first: 1, last: 64 }));
        assert_eq!(parse_seeds("3..=5"), Ok(Seeds { first: 3, last: 5 }));
        assert_eq!(parse_seeds("7"), Ok(Seeds { first: 7, last: 7 }));
        assert!(parse_seeds("9..2")
            .unwrap_err()
            .contains("ends before it starts"));
        assert!(parse_seeds("a..2")
            .unwrap_err()
            .contains("`a` is not a seed"));
        assert_eq!(parse_shard("2/4"), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "2", "x/4"] {
            assert!(
                parse_shard(bad).unwrap_err().contains("expected K/N"),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_shards_slice_the_seeds_into_disjoint_pieces_that_cover_them() {
        let seeds = Seeds {
            first: 10,
            last: 20,
        };
        let mut all: Vec<u64> = (1..=4)
            .flat_map(|k| slice(seeds, Some(Shard { index: k, count: 4 })))
            .collect();
        assert_eq!(
            slice(seeds, Some(Shard { index: 1, count: 4 })),
            vec![10, 14, 18]
        );
        all.sort_unstable();
        assert_eq!(all, slice(seeds, None));
    }

    #[test]
    fn the_environment_picks_a_shard_like_a_ci_matrix_or_an_indexed_job_does() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(shard_from_env(env(&[])), Ok(None));
        assert_eq!(
            shard_from_env(env(&[("CI_NODE_INDEX", "3"), ("CI_NODE_TOTAL", "4")])),
            Ok(Some(Shard { index: 3, count: 4 }))
        );
        assert_eq!(
            shard_from_env(env(&[
                ("JOB_COMPLETION_INDEX", "0"),
                ("FLEETSIM_SHARDS", "8")
            ])),
            Ok(Some(Shard { index: 1, count: 8 }))
        );
        assert!(shard_from_env(env(&[("JOB_COMPLETION_INDEX", "0")]))
            .unwrap_err()
            .contains("FLEETSIM_SHARDS"));
    }

    #[test]
    fn the_interval_is_students_t_around_the_mean() {
        assert_eq!(t95(1), 12.706);
        assert!((t95(1000) - 1.9623).abs() < 0.0005);
        let mk = |seed: u64, lost: u64| {
            let mut s = Summary {
                seed,
                ..Summary::default()
            };
            s.telemetry.lost = lost;
            s
        };
        let s = summarise(
            "herd",
            &[],
            Seeds { first: 1, last: 4 },
            &[mk(1, 2), mk(2, 4), mk(3, 6), mk(4, 8)],
        );
        let d = &s.fields["telemetry.lost"];
        assert_eq!(
            (d.mean, d.min, d.min_seed, d.max, d.max_seed),
            (5.0, 2.0, 1, 8.0, 4)
        );
        // s = sqrt(20/3); half-width = t(3) * s / 2.
        let half = 3.182 * (20.0f64 / 3.0).sqrt() / 2.0;
        assert!((d.ci95[1] - 5.0 - half).abs() < 1e-12 && (5.0 - d.ci95[0] - half).abs() < 1e-12);
        assert!(!s.fields.contains_key("seed") && !s.fields.contains_key("wall_seconds"));
    }
}
