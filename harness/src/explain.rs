//! `fleetsim explain`: why did this run fail? Re-runs a recorded run with a few devices
//! watched (the same run: the trace hash is checked) and prints their stories in simulated
//! clock time, with each ground-truth episode's verdict and what became of its readings.

use crate::run;
use crate::{BadInput, RunFailed};
use anyhow::Result;
use scenarios::registry::Registry;
use scenarios::summary::{Invariant, Summary};
use scenarios::world::story::{Story, StoryDevice, StoryEpisode, StoryEvent};
use sim::{SimDuration, SimTime};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug, Clone)]
pub struct ExplainArgs {
    /// A summary.json written by `fleetsim run`.
    pub summary: PathBuf,
    /// A device to follow (repeatable), e.g. `--device cow-0000117`. Without it, the
    /// devices the failed invariant names.
    #[arg(long = "device", value_name = "ID")]
    pub devices: Vec<String>,
    /// The invariant whose devices to follow, by name or a unique part of it (default:
    /// the first failed invariant that names devices).
    #[arg(long, value_name = "NAME")]
    pub invariant: Option<String>,
    /// `text`: a timeline per device; `json`: one JSON object per line (`"type"`: `run`,
    /// `episode` or `event`), for tools.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// The invariant `name` picks: an exact name, or the one name containing it.
fn pick<'a>(s: &'a Summary, name: &str) -> Result<&'a Invariant> {
    if let Some(i) = s.invariants.iter().find(|i| i.name == name) {
        return Ok(i);
    }
    let needle = name.to_lowercase();
    let hits: Vec<&Invariant> = s
        .invariants
        .iter()
        .filter(|i| i.name.to_lowercase().contains(&needle))
        .collect();
    let names = || -> String {
        let all: Vec<String> = s
            .invariants
            .iter()
            .map(|i| format!("`{}`", i.name))
            .collect();
        all.join(", ")
    };
    match hits.as_slice() {
        [one] => Ok(one),
        [] => Err(BadInput(format!(
            "--invariant {name}: this run has no such invariant; it has {}",
            names()
        ))
        .into()),
        many => {
            let m: Vec<String> = many.iter().map(|i| format!("`{}`", i.name)).collect();
            Err(BadInput(format!(
                "--invariant {name}: matches {}; say which",
                m.join(", ")
            ))
            .into())
        }
    }
}

/// The devices to watch, and the invariant they came from.
fn chosen<'a>(s: &'a Summary, args: &ExplainArgs) -> Result<(Vec<String>, Option<&'a Invariant>)> {
    if !args.devices.is_empty() {
        let inv = args.invariant.as_deref().map(|n| pick(s, n)).transpose()?;
        return Ok((args.devices.clone(), inv));
    }
    let inv = match &args.invariant {
        Some(name) => {
            let i = pick(s, name)?;
            if i.passed {
                return Err(BadInput(format!(
                    "invariant `{}` held in this run ({}); name a device with --device ID",
                    i.name, i.detail
                ))
                .into());
            }
            if i.devices.is_empty() {
                return Err(BadInput(format!(
                    "invariant `{}` failed for the run as a whole and names no device ({}); \
                     name one with --device ID",
                    i.name, i.detail
                ))
                .into());
            }
            i
        }
        None => s
            .invariants
            .iter()
            .find(|i| !i.passed && !i.devices.is_empty())
            .ok_or_else(|| {
                BadInput(if s.all_invariants_held() {
                    "every invariant held in this run; name a device with --device ID".into()
                } else {
                    "the failed invariants name no device (they are about the run as a \
                     whole); name one with --device ID"
                        .to_string()
                })
            })?,
    };
    Ok((inv.devices.clone(), Some(inv)))
}

pub fn explain(registry: &Registry, args: &ExplainArgs) -> Result<()> {
    let recorded = run::read_summary(&args.summary)?;
    let (watch, invariant) = chosen(&recorded, args)?;
    let (_, loaded) = run::check_replayable(registry, &recorded)?;
    eprintln!(
        "fleetsim explain: re-running {} ({} devices, seed {}) with {} watched",
        recorded.scenario,
        loaded.devices(),
        loaded.file.scenario.seed,
        watch.join(", ")
    );
    let wall = Instant::now();
    let r = loaded.resolved;
    let (outcome, hash) =
        scenarios::world::run_watching(r.world, r.classes, r.apps, &mut |_| {}, &watch)
            .map_err(|e| BadInput(e.to_string()))?;
    let wall = wall.elapsed().as_secs_f64();
    if hash != recorded.trace_hash {
        return Err(RunFailed(format!(
            "the re-run's trace hash {hash} is not the recorded {}: the scenario file or \
             fleetsim changed since the run, so its story would not be this run's\n  repro: {}",
            recorded.trace_hash,
            run::repro(&recorded)
        ))
        .into());
    }
    let story = &outcome.story;
    match args.format {
        Format::Text => print!("{}", text(&recorded, invariant, story, wall)),
        Format::Json => print!("{}", json_lines(&recorded, invariant, story)),
    }
    Ok(())
}

/// Why an episode's verdict is what it is, one sentence per cause.
fn why(story: &Story, d: &StoryDevice, e: &StoryEpisode) -> Vec<String> {
    let deadline = e.end.saturating_add(story.grace);
    let f = story.fates(d.device, e.start, e.end);
    let mut out = Vec::new();
    if !e.ended_in_run {
        out.push("the episode was still under way when the run ended".to_string());
    }
    if let Some(first) = e.alerts.first() {
        out.push(format!(
            "alert raised at {first}, {} after the episode's onset",
            first.saturating_since(e.start).human()
        ));
        return out;
    }
    let window: Vec<&StoryEvent> = story
        .of(d.device)
        .filter(|ev| ev.at >= e.start && ev.at <= deadline)
        .collect();
    let count = |kind: &str| window.iter().filter(|ev| ev.kind == kind).count();
    if f.sampled == 0 {
        out.push("the device sampled no reading during the episode".into());
    } else {
        out.push(format!(
            "of the {} readings it sampled during the episode, {} reached the store by the \
             deadline ({} by the end of the run), {} were dropped on the device and {} were \
             never delivered",
            f.sampled, f.stored_in_time, f.stored, f.dropped, f.undelivered
        ));
    }
    let causes = [
        ("lost", "packets lost on the network"),
        ("disconnected", "connections lost"),
        ("refused", "requests the hub refused"),
        ("throttled", "answers the hub held back over a throttle"),
        ("deferred", "frames the duty cycle deferred"),
        ("dropped", "readings dropped on the device"),
        ("crash", "crashes"),
    ];
    let (up, attempts, accepted) = connection(story, d.device, e.start, deadline);
    let span = deadline.saturating_since(e.start);
    if attempts > 0 || up < span {
        out.push(format!(
            "it was connected to the hub for {} of the {} to the deadline ({:.0} %), with {} \
             connection attempts of which {} were accepted",
            up.human(),
            span.human(),
            100.0 * up.as_secs_f64() / span.as_secs_f64().max(1e-9),
            attempts,
            accepted
        ));
    }
    let seen: Vec<String> = causes
        .iter()
        .filter_map(|(k, what)| {
            let n = count(k);
            (n > 0).then(|| format!("{n} {what}"))
        })
        .collect();
    if !seen.is_empty() {
        out.push(format!("in the window: {}", seen.join(", ")));
    }
    if let Some(rule) = &e.rule {
        let tag = format!("`{rule}`");
        let held = window
            .iter()
            .any(|ev| ev.kind == "rule" && ev.detail.contains(&tag));
        if f.stored_in_time > 0 && held {
            out.push(format!(
                "rule {tag} held on a stored reading, but a cool-down after an earlier alert \
                 suppressed a new one"
            ));
        } else if f.stored_in_time > 0 {
            out.push(format!(
                "rule {tag} never held on the {} readings that were stored in time",
                f.stored_in_time
            ));
        } else {
            out.push(format!(
                "rule {tag} saw no reading from the episode in time, so it could not hold"
            ));
        }
    }
    out
}

/// How long `device` was connected to the hub within `[from, to]`, its connection attempts
/// there and how many the hub accepted.
fn connection(story: &Story, device: u32, from: SimTime, to: SimTime) -> (SimDuration, u32, u32) {
    let mut up = SimDuration::ZERO;
    let mut since: Option<SimTime> = None;
    let (mut attempts, mut accepted) = (0, 0);
    let clip = |a: SimTime, b: SimTime| {
        let (a, b) = (a.max(from), b.min(to));
        if b > a {
            b.saturating_since(a)
        } else {
            SimDuration::ZERO
        }
    };
    for ev in story.of(device) {
        let inside = ev.at >= from && ev.at <= to;
        match ev.kind {
            "connect" => attempts += u32::from(inside),
            "connack" if ev.detail.contains("accepted") => {
                accepted += u32::from(inside);
                since.get_or_insert(ev.at);
            }
            "close" | "disconnected" | "broken" | "crash" => {
                if let Some(s) = since.take() {
                    up += clip(s, ev.at);
                }
            }
            _ => {}
        }
    }
    if let Some(s) = since {
        up += clip(s, to);
    }
    (up, attempts, accepted)
}

/// A device's steps with each run of retransmissions of one lost packet folded into one
/// line: `(at, kind, detail)`.
fn folded<'a>(events: impl Iterator<Item = &'a StoryEvent>) -> Vec<(SimTime, String, String)> {
    let mut out: Vec<(SimTime, String, String)> = Vec::new();
    let mut run: Option<(SimTime, SimTime, &str, &str, u32)> = None;
    let flush = |out: &mut Vec<_>, run: Option<(SimTime, SimTime, &str, &str, u32)>| {
        if let Some((first, last, what, next, n)) = run {
            let detail = if n == 1 {
                format!("{what}; {next}")
            } else {
                format!(
                    "{what}, {n} times in {}; {next}",
                    last.saturating_since(first).human()
                )
            };
            out.push((first, "lost".to_string(), detail));
        }
    };
    for ev in events {
        if ev.kind == "lost" {
            let (what, next) = ev.detail.split_once("; ").unwrap_or((&ev.detail, ""));
            match &mut run {
                Some((_, last, w, n, count)) if *w == what => {
                    (*last, *n, *count) = (ev.at, next, *count + 1);
                }
                _ => {
                    flush(&mut out, run.take());
                    run = Some((ev.at, ev.at, what, next, 1));
                }
            }
            continue;
        }
        flush(&mut out, run.take());
        out.push((ev.at, ev.kind.to_string(), ev.detail.clone()));
    }
    flush(&mut out, run);
    out
}

fn verdict(e: &StoryEpisode) -> String {
    match (&e.rule, e.alerts.is_empty()) {
        (None, _) => "no rule is scored against it".into(),
        (Some(r), false) => format!("detected by `{r}`"),
        (Some(r), true) => format!("MISSED by `{r}`"),
    }
}

fn text(s: &Summary, inv: Option<&Invariant>, story: &Story, wall: f64) -> String {
    let mut o = String::new();
    let sets: String = s.overrides.iter().map(|x| format!(" --set {x}")).collect();
    let _ = writeln!(
        o,
        "{}{sets}: re-run in {wall:.1} s; trace hash {} matches the recorded run",
        s.scenario, s.trace_hash
    );
    if let Some(i) = inv {
        let state = if i.passed { "ok" } else { "FAILED" };
        let _ = writeln!(o, "[{state}] {}: {}", i.name, i.detail);
    }
    for d in &story.devices {
        let _ = writeln!(o, "\n{} (class {})", d.id, d.class);
        if d.episodes.is_empty() {
            let _ = writeln!(o, "  no ground-truth episode");
        }
        for e in &d.episodes {
            let _ = writeln!(
                o,
                "  {} from {} to {}: {}",
                e.kind,
                e.start,
                e.end,
                verdict(e)
            );
            for line in why(story, d, e) {
                let _ = writeln!(o, "    {line}");
            }
        }
        let _ = writeln!(o, "  timeline:");
        let mut marks: Vec<(SimTime, String)> = Vec::new();
        for e in &d.episodes {
            marks.push((e.start, format!("── {} begins (ground truth) ──", e.kind)));
            marks.push((e.end, format!("── {} ends ──", e.kind)));
            if e.rule.is_some() {
                let deadline = e.end.saturating_add(story.grace);
                marks.push((deadline, "── the scoring deadline (end + grace) ──".into()));
            }
        }
        marks.sort_by_key(|m| m.0);
        let mut marks = marks.into_iter().peekable();
        for (at, kind, detail) in folded(story.of(d.device)) {
            while let Some((m_at, m)) = marks.next_if(|m| m.0 <= at) {
                let _ = writeln!(o, "  {m_at}  {m}");
            }
            let _ = writeln!(o, "  {at}  {kind:<12} {detail}");
        }
        for (at, m) in marks {
            let _ = writeln!(o, "  {at}  {m}");
        }
    }
    o
}

fn json_lines(s: &Summary, inv: Option<&Invariant>, story: &Story) -> String {
    let mut o = String::new();
    let run = serde_json::json!({
        "type": "run",
        "scenario": s.scenario,
        "overrides": s.overrides,
        "trace_hash": s.trace_hash,
        "invariant": inv.map(|i| serde_json::json!({
            "name": i.name, "passed": i.passed, "detail": i.detail, "devices": i.devices,
        })),
    });
    let _ = writeln!(o, "{run}");
    for d in &story.devices {
        for e in &d.episodes {
            let f = story.fates(d.device, e.start, e.end);
            let line = serde_json::json!({
                "type": "episode",
                "device": d.id,
                "kind": e.kind,
                "start": e.start.to_string(),
                "start_s": e.start.as_secs_f64(),
                "end": e.end.to_string(),
                "end_s": e.end.as_secs_f64(),
                "rule": e.rule,
                "detected": !e.alerts.is_empty(),
                "alerts_s": e.alerts.iter().map(|a| a.as_secs_f64()).collect::<Vec<_>>(),
                "readings": {
                    "sampled": f.sampled, "stored": f.stored, "stored_in_time": f.stored_in_time,
                    "dropped": f.dropped, "undelivered": f.undelivered,
                },
                "why": why(story, d, e),
            });
            let _ = writeln!(o, "{line}");
        }
        for ev in story.of(d.device) {
            let line = serde_json::json!({
                "type": "event",
                "device": d.id,
                "at": ev.at.to_string(),
                "at_s": ev.at.as_secs_f64(),
                "kind": ev.kind,
                "seq": ev.seq,
                "detail": ev.detail,
            });
            let _ = writeln!(o, "{line}");
        }
    }
    o
}
