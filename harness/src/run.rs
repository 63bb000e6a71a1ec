//! `fleetsim run`, `list` and `replay`: load a scenario, run it with progress, write reports.

use crate::{report, BadInput, RunFailed};
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use scenarios::bundled::{self, BUNDLED};
use scenarios::load::{Override, Source};
use scenarios::registry::Registry;
use scenarios::summary::Summary;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// A bundled scenario's name (see `fleetsim list`) or a path to a scenario file.
    pub scenario: String,
    /// Master seed (overrides the file's `scenario.seed`); 0 to 2^63-1, a TOML integer.
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
    pub seed: Option<u64>,
    /// Override a scenario value, e.g. `--set devices=1000000` or `--set network.loss_ratio=0.05`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Where to write summary.json, report.md and report.html (default
    /// reports/out/<scenario>-<seed>/, or reports/out/<scenario>-<seed>-<8 hex digits of the
    /// overrides>/ with --set, so runs with different overrides do not overwrite each other).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bar and no start line (a sweep's workers run many at once).
    #[arg(skip)]
    pub quiet: bool,
}

impl RunArgs {
    /// The README's main job: the default herd.
    pub fn main_job() -> RunArgs {
        RunArgs {
            scenario: "herd".into(),
            seed: None,
            set: Vec::new(),
            out: None,
            quiet: false,
        }
    }
}

pub fn list(registry: &Registry) {
    println!("scenarios:");
    for b in BUNDLED {
        println!("  {:<14} {}  ({})", b.name, b.summary, b.file);
    }
    println!("device classes (a [[classes]] entry's `kind`):");
    for k in registry.classes() {
        println!("  {:<14} {}", k.name(), k.summary());
        if let Some(id) = k.model_source().and_then(|(_, text)| model_id(text)) {
            println!("  {:<14}   device model {id}", "");
        }
        for (fault, what) in k.fault_list() {
            println!("  {:<14}   fault {fault}: {what}", "");
        }
    }
    println!("back-end apps (an [[apps]] entry's `kind`):");
    for k in registry.apps() {
        println!("  {:<14} {}", k.name(), k.summary());
    }
}

/// The `@id` of a DTDL document, for the listing (a load checks the whole model).
fn model_id(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get("@id")?.as_str().map(str::to_string)
}

fn source(name: &str) -> Result<Source> {
    if name.ends_with(".toml") || Path::new(name).exists() {
        let text = std::fs::read_to_string(name)
            .map_err(|e| BadInput(format!("{name}: cannot read: {e}")))?;
        Ok(Source {
            origin: name.to_string(),
            text,
        })
    } else {
        bundled::source(name).map_err(|e| BadInput(e.to_string()).into())
    }
}

/// The build, and the scenario's content hash and absolute path (a file's).
fn provenance(scenario: &str) -> Result<scenarios::summary::Provenance> {
    use sha2::Digest;
    let src = source(scenario)?;
    let digest = sha2::Sha256::digest(src.text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let is_file = scenario.ends_with(".toml") || Path::new(scenario).exists();
    Ok(scenarios::summary::Provenance {
        version: env!("CARGO_PKG_VERSION").to_string(),
        commit: env!("FLEETSIM_COMMIT").to_string(),
        scenario_sha256: hex,
        scenario_path: if is_file {
            std::fs::canonicalize(scenario)
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        } else {
            String::new()
        },
    })
}

/// Peak resident set size of this process, from /proc (Linux); 0 where unavailable.
fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// `reports/out/<scenario>-<seed>`, with a digest of the overrides when there are any.
fn default_out(name: &str, seed: u64, sets: &[String]) -> PathBuf {
    if sets.is_empty() {
        return PathBuf::from(format!("reports/out/{name}-{seed}"));
    }
    // The stable 64-bit id sim derives random streams from, of the overrides in order.
    let h = sim::StreamKey::new("overrides", seed, &sets.join("\n")).stream_id();
    PathBuf::from(format!("reports/out/{name}-{seed}-{:08x}", h >> 32))
}

/// Loads `args`' scenario with its overrides (the seed last, as `seed=N`).
pub(crate) fn load(
    registry: &Registry,
    args: &RunArgs,
) -> Result<(bundled::Loaded, Vec<Override>)> {
    let src = source(&args.scenario)?;
    let mut sets: Vec<Override> = Vec::new();
    for s in &args.set {
        sets.push(Override::parse(s).map_err(|e| BadInput(e.to_string()))?);
    }
    if let Some(seed) = args.seed {
        sets.push(Override {
            key: "seed".into(),
            value: seed.to_string(),
        });
    }
    let loaded = bundled::load(&src, &sets, registry).map_err(|e| BadInput(e.to_string()))?;
    Ok((loaded, sets))
}

/// Runs a scenario; returns its summary (already written to disk).
pub(crate) fn execute(registry: &Registry, args: &RunArgs) -> Result<(Summary, PathBuf)> {
    let (loaded, sets) = load(registry, args)?;
    let file = &loaded.file;
    let seed = file.scenario.seed;
    let name = file.scenario.name.clone();
    let devices = loaded.devices();
    let duration = loaded.resolved.world.duration;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&name, seed, &args.set));
    tracing::info!(sim = %sim::SimTime::ZERO, scenario = %name, seed, devices, "starting");
    if !args.quiet {
        eprintln!(
            "fleetsim: {} — {} devices, {:.1} simulated hours, seed {seed}",
            name,
            devices,
            duration.as_secs_f64() / 3_600.0
        );
    }

    let wall = Instant::now();
    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let b = ProgressBar::new(duration.as_secs());
        b.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} sim {msg}")
                .expect("valid template"),
        );
        b
    });
    let mut on_progress = |p: scenarios::world::Progress| {
        let secs = wall.elapsed().as_secs_f64().max(1e-9);
        if let Some(b) = &bar {
            b.set_position(p.now.as_secs());
            b.set_message(format!(
                "{:.1} h / {:.1} h · {:.1} M events · {:.2} M events/s",
                p.now.as_secs_f64() / 3_600.0,
                p.end.as_secs_f64() / 3_600.0,
                p.events as f64 / 1e6,
                p.events as f64 / secs / 1e6
            ));
        }
        tracing::debug!(sim = %p.now, events = p.events, "progress");
    };
    let description = file.scenario.description.clone();
    let resolved = loaded.resolved;
    let (outcome, _) = scenarios::world::run(
        resolved.world,
        resolved.classes,
        resolved.apps,
        &mut on_progress,
    )
    .map_err(|e| BadInput(e.to_string()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut summary = outcome.summary_core;
    summary.provenance = provenance(&args.scenario)?;
    summary.scenario = args.scenario.clone();
    summary.overrides = sets.iter().map(|o| o.to_string()).collect();
    summary.wall_seconds = wall.elapsed().as_secs_f64();
    summary.peak_rss_bytes = peak_rss_bytes();

    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(out.join("summary.json"), summary.to_json()).context("writing summary.json")?;
    std::fs::write(
        out.join("report.md"),
        report::markdown(&summary, &outcome.report, &description),
    )
    .context("writing report.md")?;
    std::fs::write(
        out.join("report.html"),
        report::html(&summary, &outcome.report, &description),
    )
    .context("writing report.html")?;
    Ok((summary, out))
}

fn print_summary(s: &Summary, out: &Path) {
    let t = &s.telemetry;
    println!(
        "{} devices · {:.1} h simulated · {} events · {:.1} s wall ({:.2} M events/s) · peak RSS {:.2} GiB",
        s.devices,
        s.simulated_seconds / 3_600.0,
        s.events,
        s.wall_seconds,
        s.events as f64 / s.wall_seconds.max(1e-9) / 1e6,
        s.peak_rss_bytes as f64 / (1u64 << 30) as f64
    );
    println!(
        "telemetry: sent {} · acknowledged {} · stored {} · lost {} · in flight {} · duplicates dropped {}",
        t.sent, t.acknowledged, t.stored, t.lost, t.in_flight_at_end, t.duplicates_dropped
    );
    println!(
        "latency (sample → stored): p50 {:.1} s · p99 {:.1} s · hub {} quota peak {:.1}% · throttled {}",
        s.latency_ms.p50 / 1e3,
        s.latency_ms.p99 / 1e3,
        s.hub.tier,
        100.0 * s.hub.quota_used_ratio,
        s.hub.throttled_requests
    );
    if !s.cost.prices_dated.is_empty() {
        println!(
            "cost: {:.2} USD a month ({:.4} a device) · the traffic needs {} hub unit(s), {:.2} USD",
            s.cost.total_usd_per_month,
            s.cost.usd_per_device_per_month,
            s.cost.hub_units_needed,
            s.cost.hub_usd_per_month_needed
        );
    }
    for r in &s.alerts.rules {
        println!(
            "rule {}: {} alerts · precision {} · recall {:.3} over {} episodes · latency p50 {}",
            r.rule,
            r.raised,
            r.precision.map_or("—".into(), |p| format!("{p:.3}")),
            r.recall,
            r.true_episodes,
            crate::report::minutes(r.latency_s_p50)
        );
    }
    let c = &s.commands;
    if c.methods.sent > 0 {
        let failed: Vec<String> = c
            .methods
            .failed_by_code
            .iter()
            .map(|f| format!("{} × {}", f.count, f.name))
            .collect();
        println!(
            "methods: {} called · {} answered 200 · failed {} · latency p50 {} · p99 {}",
            c.methods.sent,
            c.methods.answered_ok,
            if failed.is_empty() {
                "none".to_string()
            } else {
                failed.join(", ")
            },
            crate::report::ms_text(c.methods.latency_ms_p50),
            crate::report::ms_text(c.methods.latency_ms_p99)
        );
    }
    if c.c2d.sent > 0 {
        println!(
            "c2d: {} sent · {} completed · {} expired · {} accepted · {} refused",
            c.c2d.sent, c.c2d.completed, c.c2d.expired, c.c2d.accepted, c.c2d.failed
        );
    }
    if c.desired.sent > 0 {
        println!(
            "desired properties: {} patches · {} accepted · {} refused · twins converged {:.1}%",
            c.desired.sent,
            c.desired.accepted,
            c.desired.failed,
            100.0 * c.twins_converged_ratio
        );
    }
    for n in s.notifications.iter().filter(|n| n.sent > 0) {
        println!(
            "notifications {}: {} sent · {} delivered · {} lost · latency p50 {} · p99 {}",
            n.channel,
            n.sent,
            n.delivered,
            n.lost,
            crate::report::secs_text(n.latency_ms_p50),
            crate::report::secs_text(n.latency_ms_p99)
        );
    }
    for f in &s.figures {
        println!(
            "{} {}: {}",
            f.of,
            f.name,
            crate::report::figure_text(f.value)
        );
    }
    for i in &s.invariants {
        println!(
            "[{}] {}: {}",
            if i.passed { "ok" } else { "FAILED" },
            i.name,
            i.detail
        );
    }
    println!("trace hash {}", s.trace_hash);
    println!(
        "reports: {}/{{summary.json,report.md,report.html}}",
        out.display()
    );
}

/// The command that reruns `s`, ready to paste into a POSIX shell: its overrides, its seed
/// spelled out, and a folder of its own (named by the trace hash), so running it never
/// overwrites an earlier run's reports.
pub(crate) fn repro(s: &Summary) -> String {
    let sets: String = s
        .overrides
        .iter()
        .filter(|o| !o.starts_with("seed="))
        .map(|o| format!(" --set {}", shell_word(o)))
        .collect();
    let hash: String = s.trace_hash.chars().take(8).collect();
    format!(
        "{} run {}{sets} --seed {} --out reports/out/repro-{hash}",
        program(),
        shell_word(&s.scenario),
        s.seed
    )
}

/// How to run this binary again: `fleetsim` (or a user's own binary built with
/// [`crate::main_with`]) when it was started by name; `cargo run --release --` (with `--bin`
/// for a user's binary) when it runs from a cargo target folder, where it is not on PATH.
fn program() -> String {
    let name = std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "fleetsim".to_string());
    let from_target = std::env::current_exe().ok().is_some_and(|exe| {
        let parts: Vec<String> = exe
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        parts.len() >= 3
            && parts[parts.len() - 3] == "target"
            && matches!(parts[parts.len() - 2].as_str(), "release" | "debug")
    });
    match (from_target, name.as_str()) {
        (true, "fleetsim") => "cargo run --release --".to_string(),
        (true, other) => format!("cargo run --release --bin {other} --"),
        (false, _) => name,
    }
}

/// `w` as one shell word: as it is when it holds only characters no shell treats
/// specially, otherwise in single quotes (a quote inside becomes `'\''`).
fn shell_word(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-+=.,/:@%".contains(c));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// The names of the invariants that failed, `; `-separated.
fn failed_invariants(s: &Summary) -> String {
    let failed: Vec<&str> = s
        .invariants
        .iter()
        .filter(|i| !i.passed)
        .map(|i| i.name.as_str())
        .collect();
    failed.join("; ")
}

pub fn run(registry: &Registry, args: &RunArgs) -> Result<()> {
    let (s, out) = execute(registry, args)?;
    print_summary(&s, &out);
    if !s.all_invariants_held() {
        return Err(RunFailed(format!(
            "invariant failed: {}\n  repro: {}",
            failed_invariants(&s),
            repro(&s)
        ))
        .into());
    }
    Ok(())
}

/// A summary.json written by `fleetsim run`.
pub(crate) fn read_summary(path: &Path) -> Result<Summary> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| BadInput(format!("{}: cannot read: {e}", path.display())))?;
    Ok(Summary::from_json(&text)
        .map_err(|e| BadInput(format!("{}: not a fleetsim summary: {e}", path.display())))?)
}

/// What would make a replay of `recorded` not that run, found before spending a run: a
/// malformed hash, a scenario file that changed or moved, a seed or size edited by hand.
/// Returns the scenario to load (the recorded absolute path when the relative one does not
/// resolve from here) and the run loaded from it. Another build only warns: it may still
/// replay.
pub(crate) fn check_replayable(
    registry: &Registry,
    recorded: &Summary,
) -> Result<(String, bundled::Loaded)> {
    let h = &recorded.trace_hash;
    if h.len() != 16
        || !h
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    {
        return Err(BadInput(format!(
            "summary.json's trace_hash `{h}` is not 16 lowercase hex digits: the file was edited or damaged"
        ))
        .into());
    }
    let p = &recorded.provenance;
    let mut scenario = recorded.scenario.clone();
    let looks_like_file = scenario.ends_with(".toml");
    if looks_like_file
        && !Path::new(&scenario).exists()
        && !p.scenario_path.is_empty()
        && Path::new(&p.scenario_path).exists()
    {
        eprintln!(
            "fleetsim: {scenario} is not here; using the recorded path {}",
            p.scenario_path
        );
        scenario = p.scenario_path.clone();
    }
    if !p.scenario_sha256.is_empty() {
        let now = provenance(&scenario)?;
        if now.scenario_sha256 != p.scenario_sha256 {
            return Err(RunFailed(format!(
                "the scenario {scenario} changed since the run (its SHA-256 is {}…, the run's was {}…): a replay would not be that run; check out the file as it was",
                &now.scenario_sha256[..12],
                &p.scenario_sha256[..12.min(p.scenario_sha256.len())]
            ))
            .into());
        }
        if now.commit != p.commit || now.version != p.version {
            eprintln!(
                "fleetsim: warning: the run was recorded by fleetsim {} ({}), this is {} ({}); a different trace hash may be the build's",
                p.version, p.commit, now.version, now.commit
            );
        }
    }
    let (loaded, _) = load(
        registry,
        &RunArgs {
            scenario: scenario.clone(),
            seed: None,
            set: recorded.overrides.clone(),
            out: None,
            quiet: true,
        },
    )?;
    let (seed, devices) = (loaded.file.scenario.seed, loaded.devices());
    if seed != recorded.seed || devices != recorded.devices {
        return Err(BadInput(format!(
            "summary.json says seed {} and {} devices, but its scenario and overrides give seed {seed} and {devices} devices: was the summary edited by hand?",
            recorded.seed, recorded.devices
        ))
        .into());
    }
    Ok((scenario, loaded))
}

pub fn replay(registry: &Registry, path: &Path) -> Result<()> {
    let recorded = read_summary(path)?;
    let (scenario, _) = check_replayable(registry, &recorded)?;
    let args = RunArgs {
        scenario,
        seed: None,
        set: recorded.overrides.clone(),
        out: Some(path.parent().unwrap_or(Path::new(".")).join("replay")),
        quiet: false,
    };
    let (s, out) = execute(registry, &args)?;
    print_summary(&s, &out);
    if s.trace_hash != recorded.trace_hash {
        return Err(RunFailed(format!(
            "replay mismatch: trace hash {} != recorded {}\n  repro: {}",
            s.trace_hash,
            recorded.trace_hash,
            repro(&recorded)
        ))
        .into());
    }
    println!(
        "replay matches the recorded trace hash {}",
        recorded.trace_hash
    );
    if !s.all_invariants_held() {
        return Err(RunFailed(format!(
            "the replay reproduces the recorded run's failed invariants: {}\n  repro: {}",
            failed_invariants(&s),
            repro(&recorded)
        ))
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{default_out, shell_word};

    #[test]
    fn runs_with_different_overrides_get_different_default_directories() {
        let plain = default_out("herd", 1, &[]);
        assert_eq!(plain, std::path::Path::new("reports/out/herd-1"));
        let a = default_out("herd", 1, &["devices=2000".into()]);
        let b = default_out("herd", 1, &["devices=3000".into()]);
        let ab = default_out("herd", 1, &["hours=6".into(), "devices=2000".into()]);
        assert!(
            a.to_str().unwrap().starts_with("reports/out/herd-1-"),
            "{a:?}"
        );
        assert_eq!(a.to_str().unwrap().len(), "reports/out/herd-1-".len() + 8);
        assert!(a != b && a != ab && b != ab && a != plain);
        assert_eq!(
            a,
            default_out("herd", 1, &["devices=2000".into()]),
            "stable"
        );
    }

    #[test]
    fn a_repro_word_is_quoted_only_when_a_shell_would_split_or_expand_it() {
        assert_eq!(shell_word("devices=1000000"), "devices=1000000");
        assert_eq!(
            shell_word("scenarios/my herd.toml"),
            "'scenarios/my herd.toml'"
        );
        assert_eq!(shell_word("name=it's $HOME"), "'name=it'\\''s $HOME'");
        assert_eq!(shell_word(""), "''");
    }
}
