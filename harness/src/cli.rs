//! The `fleetsim` command line, for the bundled binary and for a user's own binary with its
//! own device classes registered ([`main_with`]).
//!
//! Subcommands:
//! - `fleetsim list`: the bundled scenarios and the registered device classes.
//! - `fleetsim defaults`: every key a scenario file may set, with its default.
//! - `fleetsim run <name|path.toml> [--seed N] [--set key=value]... [--out DIR]`: runs a
//!   scenario, shows progress on a terminal, writes `summary.json`, `report.md` and
//!   `report.html` to DIR (default `reports/out/<scenario>-<seed>/`, with a digest of the
//!   overrides appended when there are any).
//! - `fleetsim replay DIR/summary.json`: runs the same scenario, seed and overrides again and
//!   checks the trace hash matches; a replay of a run whose invariants failed fails too.
//! - `fleetsim explain DIR/summary.json [--device ID]... [--invariant NAME] [--format json]`:
//!   re-runs it (checking the trace hash) with the named devices watched, or those the
//!   failed invariant names, and prints each one's episodes with why they were detected or
//!   missed, then its timeline in simulated clock time (`day 1 17:24:11.120`).
//! - `fleetsim sweep <name|path> --seeds A..B [--set k=v]... [--jobs N] [--shard K/N] --out DIR`:
//!   runs every seed (a worker pool; each run single-threaded), writes `seed-N/` per run and
//!   `sweep.json` (each numeric field's mean, 95 % interval, min and max with their seeds,
//!   failing seeds); with a shard, only its slice, for `fleetsim merge DIR... --out DIR`.
//! - `fleetsim compare <A> <B> --seeds A..B [--set k=v]... [--a k=v]... [--b k=v]... --out DIR`:
//!   both designs on each seed; every field's paired B − A with its 95 % interval (and the
//!   independent one), a verdict by the field's declared direction, compare.json/md/html.
//! - `fleetsim budget budgets.toml [--junit FILE] [--update-baseline]`: runs the file's
//!   scenario and checks its budgets on summary fields (exact) and on wall time and memory
//!   against a committed baseline (tolerant); a table, JUnit XML, GitHub annotations.
//! - `fleetsim shrink <name|path> --seed N [--set k=v]... [--max-runs N] [--out DIR]`: a
//!   failing run made small (devices, hours, kinds of fault), its minimal repro printed.
//!
//! With no subcommand, `fleetsim` runs its main job: `fleetsim run herd`.
//!
//! Logs: `RUST_LOG=info` (or `debug` for progress every 10 simulated minutes) writes records
//! to stderr, each with its simulated time; `--log-format json` writes them as JSON lines.
//!
//! Exit codes: 0 all invariants held; 1 an invariant failed or a replay did not match;
//! 2 bad input.

use crate::run;
use clap::{Parser, Subcommand};
use scenarios::registry::Registry;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "fleetsim",
    version,
    about = "Deterministic end-to-end simulation of IoT fleets and their cloud"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// How log records (`RUST_LOG=info`, `debug`) are written to stderr: `text` (coloured
    /// only on a terminal) or `json`, one object per line. Each record of a run carries
    /// its simulated time (`sim`, e.g. `day 1 17:24:11.120`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
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
    /// Re-run a summary.json's run with a few devices watched and print their stories:
    /// why a failed invariant failed.
    Explain(crate::explain::ExplainArgs),
    /// Run a scenario over a range of seeds (in parallel, optionally one shard of them) and
    /// write each field's distribution to sweep.json.
    Sweep(crate::sweep::SweepArgs),
    /// Merge the folders of a sharded sweep into the sweep.json one unsharded sweep writes.
    Merge(crate::sweep::MergeArgs),
    /// Run two designs on the same seeds and compare every summary field, paired by seed.
    Compare(crate::compare::CompareArgs),
    /// Run a budgets file's scenario and check its budgets (exit 1 if one breaks).
    Budget(crate::budget::BudgetArgs),
    /// Make a failing run small: fewer devices, a shorter horizon, fewer kinds of fault.
    Shrink(crate::shrink::ShrinkArgs),
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
    let logs = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr);
    match cli.log_format {
        // No colour codes in a file or a pipe.
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => logs.json().init(),
    }
    let result = match cli.command {
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
        Some(Command::Explain(args)) => crate::explain::explain(&registry, &args),
        Some(Command::Sweep(args)) => crate::sweep::sweep(&registry, &args),
        Some(Command::Merge(args)) => crate::sweep::merge(&args),
        Some(Command::Compare(args)) => crate::compare::run(&registry, &args),
        Some(Command::Budget(args)) => crate::budget::run(&registry, &args),
        Some(Command::Shrink(args)) => crate::shrink::run(&registry, &args),
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
