//! `fleetsim shrink`: a failing run made small. Deterministic and bounded: with the seed
//! kept, it tries fewer devices, a shorter horizon and a fault plan without each kind of
//! fault in turn, keeping a change when the run still fails one of the invariants the
//! original failed, and prints the smallest run's repro command.
//!
//! The horizon is shrunk first, then the devices, then the horizon again. For a number it
//! tries, smallest first, the floor, v/64, v/16, v/4 and
//! v/2, takes the first that still fails and starts again from there; when none does, that
//! dimension is done. A kind of fault the failure needs keeps its entries, each narrowed the
//! same way (a crash's share of devices, an outage's towers and minutes). A run that does not
//! load (a fault after a shortened horizon, say)
//! counts as not failing.

use crate::run::{self, RunArgs};
use crate::BadInput;
use anyhow::Result;
use scenarios::registry::Registry;
use scenarios::summary::Summary;
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct ShrinkArgs {
    /// A bundled scenario's name or a path to a scenario file.
    pub scenario: String,
    /// The failing run's seed (kept while shrinking).
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
    pub seed: u64,
    /// The failing run's overrides.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// At most this many runs, the original included.
    #[arg(long, default_value_t = 48, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_runs: u32,
    /// Where the trials and the minimal run go (default reports/out/shrink-<scenario>-<seed>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

struct Search<'a> {
    registry: &'a Registry,
    scenario: String,
    seed: u64,
    out: PathBuf,
    target: Vec<String>,
    runs: u32,
    max_runs: u32,
}

impl Search<'_> {
    /// Runs `sets`; `Some(summary)` when it still fails one of the target invariants.
    fn fails(&mut self, sets: &[String]) -> Option<Summary> {
        if self.runs >= self.max_runs {
            return None;
        }
        self.runs += 1;
        let args = RunArgs {
            scenario: self.scenario.clone(),
            seed: Some(self.seed),
            set: sets.to_vec(),
            out: Some(self.out.join(format!("trial-{}", self.runs))),
            quiet: true,
        };
        match run::execute(self.registry, &args) {
            Ok((s, _)) => {
                let still = s
                    .invariants
                    .iter()
                    .any(|i| !i.passed && self.target.contains(&i.name));
                eprintln!(
                    "  run {}: {} → {}",
                    self.runs,
                    sets.join(" "),
                    if still { "fails" } else { "holds" }
                );
                still.then_some(s)
            }
            Err(e) => {
                eprintln!(
                    "  run {}: {} → does not run: {e:#}",
                    self.runs,
                    sets.join(" ")
                );
                None
            }
        }
    }
}

/// `sets` with `key` set to `value` (replacing an earlier setting of it).
fn with(sets: &[String], key: &str, value: &str) -> Vec<String> {
    let mut out: Vec<String> = sets
        .iter()
        .filter(|s| s.split_once('=').map(|(k, _)| k) != Some(key))
        .cloned()
        .collect();
    out.push(format!("{key}={value}"));
    out
}

/// The candidates below `v`, smallest first: `floor`, v/64, v/16, v/4, v/2.
fn candidates(v: f64, floor: f64, integer: bool) -> Vec<f64> {
    let mut c: Vec<f64> = [floor, v / 64.0, v / 16.0, v / 4.0, v / 2.0]
        .into_iter()
        .map(|x| if integer { x.floor() } else { x })
        .filter(|x| *x >= floor && *x < v)
        .collect();
    c.dedup();
    c
}

pub fn run(registry: &Registry, args: &ShrinkArgs) -> Result<()> {
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "reports/out/shrink-{}-{}",
            args.scenario, args.seed
        ))
    });
    let (loaded, _) = run::load(
        registry,
        &RunArgs {
            scenario: args.scenario.clone(),
            seed: Some(args.seed),
            set: args.set.clone(),
            out: None,
            quiet: true,
        },
    )?;
    let world = &loaded.resolved.world;
    let mut devices = f64::from(world.classes.first().map_or(0, |c| c.count));
    let mut hours = world.duration.as_secs_f64() / 3_600.0;
    let fault_lists: Vec<&str> = [
        ("faults.outages", !world.network.outages.is_empty()),
        ("faults.crashes", !world.crashes.is_empty()),
        ("faults.clock", !world.clock_faults.is_empty()),
        ("faults.hardware", !world.hardware_faults.is_empty()),
        ("faults.uplinks", !world.uplink_faults.is_empty()),
    ]
    .into_iter()
    .filter_map(|(k, present)| present.then_some(k))
    .collect();
    let mut search = Search {
        registry,
        scenario: args.scenario.clone(),
        seed: args.seed,
        out: out.clone(),
        target: Vec::new(),
        runs: 0,
        max_runs: args.max_runs,
    };
    eprintln!(
        "fleetsim shrink: {} seed {} ({} devices of the first class, {} h)",
        args.scenario, args.seed, devices, hours
    );
    // The original: which invariants it fails is what the smaller runs must still fail.
    search.runs += 1;
    let (original, _) = run::execute(
        registry,
        &RunArgs {
            scenario: args.scenario.clone(),
            seed: Some(args.seed),
            set: args.set.clone(),
            out: Some(out.join("original")),
            quiet: true,
        },
    )?;
    search.target = original
        .invariants
        .iter()
        .filter(|i| !i.passed)
        .map(|i| i.name.clone())
        .collect();
    if search.target.is_empty() {
        return Err(BadInput(format!(
            "{} seed {}: every invariant held; there is no failure to shrink",
            args.scenario, args.seed
        ))
        .into());
    }
    eprintln!("  run 1: the original fails {}", search.target.join("; "));
    let mut sets = args.set.clone();
    let mut best = original;
    // The horizon first (a run's cost is devices × hours, and fewer hours keep the devices
    // a failure needs), then the devices, then the horizon again for what the fewer devices
    // allow.
    for (key, floor, integer) in [
        ("hours", 0.25, false),
        ("devices", 1.0, true),
        ("hours", 0.25, false),
    ] {
        'dimension: loop {
            let v = if key == "devices" { devices } else { hours };
            for c in candidates(v, floor, integer) {
                let value = if integer {
                    format!("{c:.0}")
                } else {
                    format!("{c}")
                };
                let trial = with(&sets, key, &value);
                if let Some(s) = search.fails(&trial) {
                    sets = trial;
                    best = s;
                    if key == "devices" {
                        devices = c;
                    } else {
                        hours = c;
                    }
                    continue 'dimension;
                }
            }
            break;
        }
    }
    let mut kept = Vec::new();
    for list in fault_lists {
        let trial = with(&sets, list, "[]");
        if let Some(s) = search.fails(&trial) {
            sets = trial;
            best = s;
        } else {
            kept.push(list);
        }
    }
    // A kind of fault the failure needs: narrow each entry's selection (how many devices a
    // crash takes, how many towers an outage cuts, for how long).
    let mut knobs: Vec<(String, f64, f64, bool)> = Vec::new();
    if kept.contains(&"faults.crashes") {
        for (i, c) in world.crashes.iter().enumerate() {
            knobs.push((
                format!("faults.crashes[{i}].ratio"),
                c.ratio.get(),
                0.0001,
                false,
            ));
        }
    }
    if kept.contains(&"faults.outages") {
        for (i, o) in world.network.outages.iter().enumerate() {
            knobs.push((
                format!("faults.outages[{i}].towers"),
                f64::from(o.towers),
                1.0,
                true,
            ));
            let min = o.duration.as_secs_f64() / 60.0;
            knobs.push((format!("faults.outages[{i}].duration_min"), min, 1.0, true));
        }
    }
    for (key, mut v, floor, integer) in knobs {
        'knob: loop {
            for c in candidates(v, floor, integer) {
                let value = if integer {
                    format!("{c:.0}")
                } else {
                    format!("{c}")
                };
                let trial = with(&sets, &key, &value);
                if let Some(s) = search.fails(&trial) {
                    sets = trial;
                    best = s;
                    v = c;
                    continue 'knob;
                }
            }
            break;
        }
    }
    // The smallest failing run, in its own folder.
    let minimal = out.join("minimal");
    let (s, _) = run::execute(
        registry,
        &RunArgs {
            scenario: args.scenario.clone(),
            seed: Some(args.seed),
            set: sets.clone(),
            out: Some(minimal.clone()),
            quiet: true,
        },
    )?;
    if s.trace_hash != best.trace_hash {
        return Err(anyhow::anyhow!(
            "the minimal run's trace hash {} is not its trial's {}: a run is not deterministic",
            s.trace_hash,
            best.trace_hash
        ));
    }
    let repro = run::repro(&s);
    let emptied: Vec<&str> = sets.iter().filter_map(|s| s.strip_suffix("=[]")).collect();
    println!(
        "shrunk in {} runs to {} devices × {} h{}",
        search.runs + 1,
        devices,
        hours,
        if emptied.is_empty() {
            String::new()
        } else {
            format!(", without {}", emptied.join(", "))
        }
    );
    for i in s.invariants.iter().filter(|i| !i.passed) {
        println!("[FAILED] {}: {}", i.name, i.detail);
    }
    println!("minimal repro: {repro}");
    println!(
        "its reports: {}/{{summary.json,report.md,report.html}}",
        minimal.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_go_smallest_first_and_stay_below_the_value() {
        assert_eq!(
            candidates(20_000.0, 1.0, true),
            vec![1.0, 312.0, 1_250.0, 5_000.0, 10_000.0]
        );
        assert_eq!(candidates(2.0, 1.0, true), vec![1.0]);
        assert!(candidates(1.0, 1.0, true).is_empty());
        assert_eq!(
            candidates(24.0, 0.25, false),
            vec![0.25, 0.375, 1.5, 6.0, 12.0]
        );
    }

    #[test]
    fn a_setting_replaces_an_earlier_one_of_the_same_key() {
        let s = with(
            &["devices=20000".into(), "hours=24".into()],
            "devices",
            "50",
        );
        assert_eq!(s, vec!["hours=24".to_string(), "devices=50".to_string()]);
    }
}
