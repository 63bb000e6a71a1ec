//! The `fleetsim` command line, for the bundled binary and for a user's own binary with its
//! own device classes registered ([`main_with`]).
//!
//! Subcommands:
//! - `fleetsim list`: the bundled scenarios and the registered device classes.
//! - `fleetsim defaults`: every key a scenario file may set, with its default.
//! - `fleetsim run <name|path.toml> [--seed N] [--set key=value]... [--out DIR]`: runs a
//!   scenario, shows progress on a terminal, writes `summary.json`, `report.md` and
//!   `report.html` to DIR (default `reports/out/<scenario>-<seed>/`).
//! - `fleetsim replay DIR/summary.json`: runs the same scenario, seed and overrides again and
//!   checks the trace hash matches.
//! - `fleetsim demo [--seed N] [--sensors N] [--minutes M] [--check-hash HEX]`: the kernel's
//!   small built-in sensors → gateway → server workload.
//!
//! With no subcommand, `fleetsim` runs its main job: `fleetsim run herd`.
//!
//! Exit codes: 0 all invariants held; 1 an invariant failed or a replay did not match;
//! 2 bad input.

use crate::run;
use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use scenarios::registry::Registry;
use sim::demo::{self, DemoConfig};
use sim::{Ratio, SimDuration};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "fleetsim",
    version,
    about = "Deterministic end-to-end simulation of IoT fleets and their cloud"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the bundled scenarios and the registered device classes.
    List,
    /// Print every key a scenario file may set, with its default (scenarios/REFERENCE.md
    /// describes them).
    Defaults,
    /// Run a scenario and write its reports.
    Run(run::RunArgs),
    /// Run the scenario of a summary.json again and check the trace hash matches.
    Replay {
        /// A summary.json written by `fleetsim run`.
        summary: std::path::PathBuf,
    },
    /// Run the built-in demo: sensors report through a gateway to a server over a lossy radio,
    /// through a gateway partition and sensor crashes.
    Demo(DemoArgs),
}

#[derive(clap::Args, Debug, Clone)]
struct DemoArgs {
    /// Master seed: the same seed replays the same run, bit for bit.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of sensors.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    sensors: u32,
    /// Simulated duration in minutes.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=525_600))]
    minutes: u64,
    /// Radio loss ratio, 0 to 1.
    #[arg(long, default_value_t = 0.02)]
    radio_loss: f64,
    /// Fail (exit 1) unless the run's trace hash equals this 16-digit hex value.
    #[arg(long)]
    check_hash: Option<String>,
}

impl Default for DemoArgs {
    fn default() -> Self {
        DemoArgs {
            seed: 1,
            sensors: 10_000,
            minutes: 120,
            radio_loss: 0.02,
            check_hash: None,
        }
    }
}

/// A failure that is the user's input, not the simulation: exit code 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Invariant failures and replay mismatches: exit code 1.
#[derive(Debug)]
pub struct RunFailed(pub String);

impl std::fmt::Display for RunFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunFailed {}

/// Runs the `fleetsim` command line with `registry`'s device classes: the whole of a
/// user's `main`.
///
/// ```no_run
/// use scenarios::registry::Registry;
///
/// fn main() -> std::process::ExitCode {
///     let registry = Registry::bundled();
///     // registry.add_class(my_class::kind());
///     fleetsim::main_with(registry)
/// }
/// ```
pub fn main_with(registry: Registry) -> ExitCode {
    crate::hugepages::reexec();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with exit 0, usage errors with exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Some(Command::Demo(args)) => run_demo(&args),
        Some(Command::List) => {
            run::list(&registry);
            Ok(())
        }
        Some(Command::Defaults) => {
            print!("{}", scenarios::bundled::defaults_document(&registry));
            Ok(())
        }
        Some(Command::Run(args)) => run::run(&registry, &args),
        Some(Command::Replay { summary }) => run::replay(&registry, &summary),
        None => run::run(&registry, &run::RunArgs::main_job()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<BadInput>().is_some() => {
            eprintln!("fleetsim: error: {e:#}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("fleetsim: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run_demo(args: &DemoArgs) -> Result<()> {
    let radio_loss = Ratio::new(args.radio_loss)
        .map_err(|e| BadInput(format!("--radio-loss {}: {e}", args.radio_loss)))?;
    if let Some(h) = &args.check_hash {
        if sim::TraceHash::parse_hex(h).is_none() {
            bail!(BadInput(format!(
                "--check-hash {h:?}: expected 16 hex digits, as the demo prints"
            )));
        }
    }
    let duration = SimDuration::from_mins(args.minutes);
    let cfg = DemoConfig {
        seed: args.seed,
        sensors: args.sensors,
        duration,
        radio_loss,
        ..DemoConfig::default()
    };
    println!(
        "fleetsim demo: {} sensors → gateway → server for {} simulated minutes, seed {}",
        args.sensors, args.minutes, args.seed
    );
    println!(
        "  faults: 2% radio loss, gateway partitioned 20:00–25:00, 5% of sensors crash 33:20–43:20"
    );
    let wall = Instant::now();
    let report = demo::run(cfg).map_err(|f| {
        RunFailed(format!(
            "{f}\n  repro: fleetsim demo --seed {} --sensors {} --minutes {}",
            args.seed, args.sensors, args.minutes
        ))
    })?;
    let wall_s = wall.elapsed().as_secs_f64();
    let c = report.counts;
    println!();
    println!("  readings sent        {:>12}", c.sent);
    println!(
        "  acknowledged         {:>12}  ({:.2}%)",
        c.acked,
        100.0 * c.acked as f64 / c.sent.max(1) as f64
    );
    println!(
        "  lost                 {:>12}  (retries exhausted {}, sensor crashed {}, superseded {})",
        report.lost, c.lost_retries, c.lost_crash, c.lost_superseded
    );
    println!("  outstanding at end   {:>12}", c.outstanding);
    println!(
        "  server received      {:>12}  (+{} duplicates dropped)",
        c.server_received, c.server_duplicates
    );
    println!("  retransmissions      {:>12}", c.retransmissions);
    println!(
        "  round trip (ms)      p50 {} · p99 {} · max {}",
        report.rtt_ms_p50, report.rtt_ms_p99, report.rtt_ms_max
    );
    let drops: Vec<String> = report
        .net_dropped
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    println!("  network drops        {}", drops.join(" · "));
    println!();
    println!(
        "  events {} in {:.2} s wall ({:.2} M events/s)",
        report.events,
        wall_s,
        report.events as f64 / wall_s / 1e6
    );
    println!("  invariants held: readings are accounted for");
    println!("  trace hash {}", report.trace_hash);
    if let Some(expected) = &args.check_hash {
        if !expected.eq_ignore_ascii_case(&report.trace_hash) {
            bail!(RunFailed(format!(
                "replay mismatch: trace hash {} != expected {expected}",
                report.trace_hash
            )));
        }
        println!("  replay matches {expected}");
    }
    Ok(())
}
