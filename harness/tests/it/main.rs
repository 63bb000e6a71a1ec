//! The `fleetsim` binary as a user runs it: exit codes, outputs, replay.

use std::process::Command;

fn fleetsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("fleetsim-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn a_run_whose_invariants_hold_exits_0_writes_its_reports_and_replays() {
    let out = tmp("ok");
    let o = out.to_str().unwrap();
    let (code, stdout, stderr) = fleetsim(&[
        "run",
        "herd",
        "--set",
        "devices=200",
        "--set",
        "hours=2",
        "--out",
        o,
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    for key in [
        "\"trace_hash\"",
        "\"telemetry\"",
        "\"latency_ms\"",
        "\"hub\"",
        "\"alerts\"",
        "\"invariants\"",
        "\"peak_rss_bytes\"",
    ] {
        assert!(summary.contains(key), "summary.json lacks {key}");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<svg")
            && html.contains("Messages per hour")
            && html.contains("flagged cows")
    );
    assert!(std::fs::read_to_string(out.join("report.md"))
        .unwrap()
        .contains("## Invariants"));
    let (code, stdout, stderr) = fleetsim(&["replay", out.join("summary.json").to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("replay matches the recorded trace hash"),
        "{stdout}"
    );
}

#[test]
fn a_replay_whose_hash_differs_exits_1() {
    let out = tmp("mismatch");
    let o = out.to_str().unwrap();
    let (code, _, _) = fleetsim(&[
        "run",
        "herd",
        "--set",
        "devices=100",
        "--set",
        "hours=1",
        "--out",
        o,
    ]);
    assert_eq!(code, 0);
    let path = out.join("summary.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let hash_at = text.find("\"trace_hash\": \"").unwrap() + 15;
    let mut forged = text.clone();
    forged.replace_range(hash_at..hash_at + 16, "0123456789abcdef");
    std::fs::write(&path, forged).unwrap();
    let (code, _, stderr) = fleetsim(&["replay", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("replay mismatch")
            && stderr.contains("repro: cargo run --release -- run herd"),
        "{stderr}"
    );
}

#[test]
fn a_failed_invariant_exits_1_and_prints_a_repro_command() {
    // Fevers too mild to cross the rule's threshold: recall collapses.
    let out = tmp("fail");
    let (code, stdout, stderr) = fleetsim(&[
        "run",
        "herd",
        "--set",
        "devices=1000",
        "--set",
        "hours=12",
        "--set",
        "classes.collar.params.fever_rise_c=0.3",
        "--set",
        "classes.collar.params.fever_per_cow_day=0.05",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("[FAILED] fever recall"), "{stdout}");
    assert!(
        stderr.contains("repro: cargo run --release -- run herd --set devices=1000 --set hours=12 --set classes.collar.params.fever_rise_c=0.3 --set classes.collar.params.fever_per_cow_day=0.05 --seed 1 --out reports/out/repro-"),
        "{stderr}"
    );
    // Its replay matches the hash, and fails the same way.
    let (code, stdout, stderr) = fleetsim(&["replay", out.join("summary.json").to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("replay matches the recorded trace hash"),
        "{stdout}"
    );
    assert!(
        stderr.contains("reproduces the recorded run's failed invariants: fever recall"),
        "{stderr}"
    );
    explain_names_the_missed_fever_and_why(&out.join("summary.json"));
}

/// `fleetsim explain` on the mild-fever run: the devices the recall invariant names, each
/// missed episode's cause (readings arrived, the rule never held), their timelines in
/// clock time; the same as JSON lines; bad selections exit 2 naming what is wrong.
fn explain_names_the_missed_fever_and_why(summary: &std::path::Path) {
    let s = summary.to_str().unwrap();
    let (code, stdout, stderr) = fleetsim(&["explain", s]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("matches the recorded run"), "{stdout}");
    assert!(stdout.contains("[FAILED] fever recall"), "{stdout}");
    let recorded = std::fs::read_to_string(summary).unwrap();
    let first = recorded
        .split("\"devices\": [")
        .nth(1)
        .and_then(|rest| rest.split('"').nth(1))
        .expect("the failed recall invariant names its devices");
    assert!(first.starts_with("cow-"), "{first}");
    let header = format!("\n{first} (class collar)\n  fever from day 1 ");
    assert!(stdout.contains(&header), "{stdout}");
    assert!(stdout.contains(": MISSED by `fever`"), "{stdout}");
    assert!(
        stdout.contains("rule `fever` never held on the "),
        "mild fevers reach the store but never cross the threshold: {stdout}"
    );
    for step in ["boot ", "sampled ", "publish ", "puback ", "stored "] {
        assert!(
            stdout.contains(&format!(" {step}")),
            "no {step}step: {stdout}"
        );
    }
    assert!(
        stdout.contains("── fever begins (ground truth) ──"),
        "{stdout}"
    );

    let (code, stdout, stderr) = fleetsim(&["explain", s, "--device", first, "--format", "json"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a JSON object"))
        .collect();
    assert_eq!(lines[0]["type"], "run");
    let episode = lines.iter().find(|l| l["type"] == "episode").unwrap();
    assert_eq!(episode["device"], first);
    assert_eq!(episode["detected"], false);
    assert!(episode["readings"]["stored_in_time"].as_u64().unwrap() > 0);
    let stored = lines
        .iter()
        .filter(|l| l["type"] == "event" && l["kind"] == "stored")
        .count();
    assert!(stored > 0, "{stdout}");

    let (code, _, stderr) = fleetsim(&["explain", s, "--device", "cow-9999999"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "no device `cow-9999999` in this scenario (class collar: cow-0000000 to cow-0000999)"
        ),
        "{stderr}"
    );
    let (code, _, stderr) = fleetsim(&["explain", s, "--invariant", "goats"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--invariant goats: this run has no such invariant; it has `"),
        "{stderr}"
    );
    let (code, _, stderr) = fleetsim(&["explain", s, "--invariant", "exactly once"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("held in this run"), "{stderr}");
}

#[test]
fn a_facility_planner_asking_pedestrian_routes_for_forklifts_exits_1_with_a_repro() {
    // The facility's broken variant: dispatch routes in pedestrian mode take the footpath
    // through the plaza, shorter than any road a forklift may drive.
    let out = tmp("facility-fail");
    let (code, stdout, stderr) = fleetsim(&[
        "run",
        "facility",
        "--set",
        "hours=2",
        "--set",
        "apps.ops.params.dispatch_travel_mode=\"pedestrian\"",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("[FAILED] ops dispatch_route_ratio_min"),
        "{stdout}"
    );
    assert!(
        stderr.contains("repro: cargo run --release -- run facility --set hours=2 --set 'apps.ops.params.dispatch_travel_mode=\"pedestrian\"'"),
        "{stderr}"
    );
}

#[test]
fn bad_input_exits_2_with_a_clear_error() {
    let (code, _, stderr) = fleetsim(&["run", "herd", "--set", "herd.goats=3"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--set herd.goats: no such key")
            && stderr.contains("devices (= classes[0].count)"),
        "{stderr}"
    );
    let (code, _, stderr) = fleetsim(&["run", "no-such-scenario"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no bundled scenario named `no-such-scenario`"),
        "{stderr}"
    );
    let (code, _, stderr) = fleetsim(&["run", "/nonexistent/x.toml"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("/nonexistent/x.toml: cannot read"),
        "{stderr}"
    );
    let (code, _, _) = fleetsim(&["run", "herd", "--seed", "minus-one"]);
    assert_eq!(code, 2);
    let (code, _, stderr) = fleetsim(&["replay", "/nonexistent/summary.json"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn list_names_the_bundled_scenarios() {
    let (code, stdout, _) = fleetsim(&["list"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("\n  herd "), "{stdout}");
    assert!(stdout.contains("\n  facility "), "{stdout}");
    assert!(
        stdout.contains("\n  collar/1 "),
        "the registered classes: {stdout}"
    );
    assert!(
        stdout.contains("device model dtmi:fleetsim:home:Thermostat;1"),
        "each kind's device model: {stdout}"
    );
}

#[test]
fn the_door_locks_without_idempotency_exit_1_with_a_repro_command() {
    let (code, stdout, _) = fleetsim(&["list"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("\n  doors "), "{stdout}");
    assert!(
        stdout.contains("device model dtmi:fleetsim:building:DoorLock;1"),
        "{stdout}"
    );
    let out = tmp("doors-broken");
    let (code, stdout, stderr) = fleetsim(&[
        "run",
        "doors",
        "--set",
        "classes.doors.params.idempotent=false",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("[FAILED] doors duplicate_actuations in [-inf, 0]"),
        "{stdout}"
    );
    assert!(
        stderr.contains(
            "repro: cargo run --release -- run doors --set classes.doors.params.idempotent=false"
        ),
        "{stderr}"
    );
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(summary.contains("\"duplicate_actuations\""), "{summary}");
}

/// Runs the binary with `RUST_LOG=debug`: its stderr.
fn logs(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args(args)
        .env("RUST_LOG", "debug")
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn logs_carry_the_simulated_time_without_colour_codes_in_a_pipe_and_as_json_lines() {
    let out = tmp("logs");
    let o = out.to_str().unwrap();
    let text = logs(&["run", "tank", "--set", "hours=1", "--out", o]);
    assert!(
        !text.contains('\u{1b}'),
        "no ANSI codes into a pipe: {text}"
    );
    assert!(text.contains("progress sim=day 1 00:10:00.000"), "{text}");
    let json = logs(&[
        "run",
        "tank",
        "--set",
        "hours=1",
        "--log-format",
        "json",
        "--out",
        o,
    ]);
    let records: Vec<serde_json::Value> = json
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let progress: Vec<&str> = records
        .iter()
        .filter(|r| r["fields"]["message"] == "progress")
        .map(|r| r["fields"]["sim"].as_str().unwrap())
        .collect();
    assert_eq!(progress.len(), 6, "{json}");
    assert_eq!(progress[5], "day 1 01:00:00.000");
}

#[test]
fn a_sharded_sweep_merged_in_any_order_is_byte_identical_to_the_unsharded_sweep() {
    let root = tmp("sweep");
    let dir = |name: &str| root.join(name).to_str().unwrap().to_string();
    let sweep = |extra: &[&str], out: &str| {
        let mut args = vec![
            "sweep",
            "herd",
            "--seeds",
            "1..6",
            "--set",
            "devices=60",
            "--set",
            "hours=1",
            "--jobs",
            "2",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        fleetsim(&args)
    };
    let (code, stdout, stderr) = sweep(&[], &dir("all"));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("6 runs of herd seeds 1..6: 0 failed an invariant"),
        "{stdout}"
    );
    for k in ["2/3", "3/3", "1/3"] {
        let (code, stdout, stderr) = sweep(&["--shard", k], &dir(&k.replace('/', "-")));
        assert_eq!(code, 0, "{stdout}\n{stderr}");
    }
    let (code, stdout, stderr) = fleetsim(&[
        "merge",
        &dir("3-3"),
        &dir("1-3"),
        &dir("2-3"),
        "--out",
        &dir("merged"),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let all = std::fs::read(root.join("all/sweep.json")).unwrap();
    assert_eq!(all, std::fs::read(root.join("merged/sweep.json")).unwrap());
    let json: serde_json::Value = serde_json::from_slice(&all).unwrap();
    assert_eq!(json["runs"], 6);
    let sent = &json["fields"]["telemetry.sent"];
    assert!(sent["min"].as_f64().unwrap() <= sent["mean"].as_f64().unwrap());
    assert!(sent["ci95"][0].as_f64().unwrap() <= sent["ci95"][1].as_f64().unwrap());
    assert_eq!(json["trace_hashes"].as_object().unwrap().len(), 6);
    assert!(json["fields"].get("wall_seconds").is_none());
    // A shard missing, or given twice: exit 2, naming it.
    let (code, _, stderr) = fleetsim(&["merge", &dir("3-3"), &dir("1-3"), "--out", &dir("m")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("missing shards: 2/3"), "{stderr}");
    let (code, _, stderr) = fleetsim(&["merge", &dir("1-3"), &dir("1-3"), "--out", &dir("m")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("shard 1/3 is given twice"), "{stderr}");
    let (code, _, stderr) = fleetsim(&["merge", &dir("nowhere"), "--out", &dir("m")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("sweep-manifest.json: cannot read"),
        "{stderr}"
    );
    let (code, _, stderr) = sweep(&["--shard", "4/3"], &dir("bad"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("expected K/N with 1 <= K <= N"), "{stderr}");
}

#[test]
fn compare_pairs_two_designs_by_seed_and_a_design_against_itself_is_identical() {
    let root = tmp("compare");
    let out = |n: &str| root.join(n).to_str().unwrap().to_string();
    let base = [
        "compare",
        "herd",
        "herd",
        "--seeds",
        "1..4",
        "--set",
        "devices=80",
        "--set",
        "hours=2",
        "--jobs",
        "2",
    ];
    let with = |extra: &[&str], dir: &str| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", dir]);
        fleetsim(&args)
    };
    let same = out("same");
    let (code, stdout, stderr) = with(&[], &same);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("same/compare.json")).unwrap())
            .unwrap();
    let fields = json["fields"].as_object().unwrap();
    assert!(fields.len() > 50, "{}", fields.len());
    for (k, f) in fields {
        assert_eq!(f["verdict"], "identical", "{k}: {f}");
    }
    // A flakier radio link on B: more readings retransmitted and later; paired by seed.
    let lossy = out("lossy");
    let (code, stdout, stderr) = with(&["--b", "classes.collar.link.loss_ratio=0.3"], &lossy);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "B: herd --set devices=80 --set hours=2 --set classes.collar.link.loss_ratio=0.3"
        ),
        "{stdout}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("lossy/compare.json")).unwrap())
            .unwrap();
    let p99 = &json["fields"]["latency_ms.p99"];
    assert_eq!(p99["verdict"], "B worse", "{p99}");
    let width = |ci: &serde_json::Value| ci[1].as_f64().unwrap() - ci[0].as_f64().unwrap();
    assert!(
        root.join("lossy/compare.html").exists()
            && root.join("lossy/b/seed-4/summary.json").exists()
    );
    let sent = &json["fields"]["telemetry.sent"];
    assert!(
        width(&sent["paired_ci95"]) <= width(&sent["independent_ci95"]),
        "common random numbers: {sent}"
    );
    let (code, _, stderr) = with(&["--b", "goats=1"], &out("bad"));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--set goats: no such key"), "{stderr}");
}

#[test]
fn budgets_pass_break_with_junit_and_annotations_and_refuse_bad_files() {
    let root = tmp("budget");
    std::fs::create_dir_all(&root).unwrap();
    let write = |name: &str, budgets: &str| {
        let p = root.join(name);
        std::fs::write(
            &p,
            format!(
                "[run]\nscenario = \"herd\"\nset = [\"devices=100\", \"hours=2\"]\n\n{budgets}"
            ),
        )
        .unwrap();
        p.to_str().unwrap().to_string()
    };
    let out = root.join("out").to_str().unwrap().to_string();
    let held = write(
        "held.toml",
        "[[budget]]\nfield = \"derived.loss_ratio\"\nmax = 0.01\n\n[[budget]]\nfield = \"telemetry.sent\"\nmin = 1000\n",
    );
    let (code, stdout, stderr) = fleetsim(&["budget", &held, "--out", &out]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("all 2 budgets held"), "{stdout}");
    let broken = write(
        "broken.toml",
        "[[budget]]\nfield = \"telemetry.sent\"\nmax = 10\n\n[[budget]]\nfield = \"alerts.rules.fever.latency_s_p99\"\nmax = 3600\n",
    );
    let junit = root.join("j.xml");
    let out2 = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args([
            "budget",
            &broken,
            "--out",
            &out,
            "--junit",
            junit.to_str().unwrap(),
        ])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out2.stdout);
    assert_eq!(out2.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("BROKEN: ") && stdout.contains("is above 10"),
        "{stdout}"
    );
    // Two hours of 100 cows raise no fever alert: its latency is not measured, not 0.
    assert!(
        stdout.contains("not measured: rule `fever` raised no alert"),
        "{stdout}"
    );
    assert!(stdout.contains("::error file="), "{stdout}");
    let x = std::fs::read_to_string(&junit).unwrap();
    assert!(x.contains("tests=\"2\" failures=\"2\""), "{x}");
    let unknown = write(
        "unknown.toml",
        "[[budget]]\nfield = \"telemetry.lots\"\nmax = 1\n",
    );
    let (code, _, stderr) = fleetsim(&["budget", &unknown, "--out", &out]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("budget field `telemetry.lots`: the summary has no such number"),
        "{stderr}"
    );
    let typo = write(
        "typo.toml",
        "[[budget]]\nfeild = \"telemetry.sent\"\nmax = 1\n",
    );
    let (code, _, stderr) = fleetsim(&["budget", &typo, "--out", &out]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("typo.toml") && stderr.contains("feild"),
        "{stderr}"
    );
}

#[test]
fn shrink_makes_a_20000_cow_day_that_fails_into_a_run_of_at_most_50_cows_for_2_hours() {
    // A fever threshold below a healthy cow's temperature: alerts for cows that never had a
    // fever. It fails at any size; shrink finds how small.
    let out = tmp("shrink");
    let (code, stdout, stderr) = fleetsim(&[
        "shrink",
        "herd",
        "--seed",
        "3",
        "--set",
        "devices=20000",
        "--set",
        "analytics.rules.fever.conditions[0].value=38.6",
        "--set",
        "analytics.rules.fever.conditions[0].clear=38.4",
        "--max-runs",
        "30",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let minimal: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("minimal/summary.json")).unwrap())
            .unwrap();
    let devices = minimal["devices"].as_u64().unwrap();
    let hours = minimal["simulated_seconds"].as_f64().unwrap() / 3_600.0;
    assert!(
        devices <= 50 && hours <= 2.0,
        "{devices} devices × {hours} h\n{stdout}"
    );
    let runs: u32 = stdout
        .split("shrunk in ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the run count");
    assert!(runs <= 30, "{stdout}");
    assert!(
        stdout.contains("[FAILED] no fever alert for a device that never had one"),
        "{stdout}"
    );
    // The printed repro, run as printed (without the shell quotes), fails the same way.
    let repro = stdout
        .lines()
        .find_map(|l| l.strip_prefix("minimal repro: cargo run --release -- "))
        .expect("a repro line");
    let mut args: Vec<String> = repro
        .split(' ')
        .map(|w| w.trim_matches('\'').to_string())
        .collect();
    // Its own folder, under the test's.
    let at = args
        .iter()
        .position(|a| a == "--out")
        .expect("the repro names its folder");
    assert!(args[at + 1].starts_with("reports/out/repro-"), "{repro}");
    args[at + 1] = out.join("repro").to_str().unwrap().to_string();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, _) = fleetsim(&args);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("[FAILED] no fever alert for a device that never had one"),
        "{stdout}"
    );
    // A run that holds has nothing to shrink.
    let held = tmp("shrink-held");
    let (code, _, stderr) = fleetsim(&[
        "shrink",
        "herd",
        "--seed",
        "1",
        "--set",
        "devices=50",
        "--set",
        "hours=1",
        "--out",
        held.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("every invariant held; there is no failure to shrink"),
        "{stderr}"
    );
}

#[test]
fn replay_says_what_differs_before_it_spends_a_run_and_finds_its_file_from_anywhere() {
    let root = tmp("provenance");
    std::fs::create_dir_all(&root).unwrap();
    let herd = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/herd.toml");
    std::fs::copy(&herd, root.join("my-herd.toml")).unwrap();
    let run_in = |dir: &std::path::Path, args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run_in(
        &root,
        &[
            "run",
            "my-herd.toml",
            "--set",
            "devices=60",
            "--set",
            "hours=1",
            "--out",
            "run",
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let summary = root.join("run/summary.json");
    let text = std::fs::read_to_string(&summary).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let p = &json["provenance"];
    assert_eq!(p["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(p["scenario_sha256"].as_str().unwrap().len(), 64);
    assert!(
        p["scenario_path"]
            .as_str()
            .unwrap()
            .ends_with("my-herd.toml"),
        "{p}"
    );
    // From another folder the relative path does not resolve: the recorded one does.
    let elsewhere = std::env::temp_dir();
    let (code, stdout, stderr) = run_in(&elsewhere, &["replay", summary.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("using the recorded path"), "{stderr}");
    assert!(
        stdout.contains("replay matches the recorded trace hash"),
        "{stdout}"
    );
    // A seed edited by hand, a damaged hash: exit 2 before any run.
    let edit = |from: &str, to: &str| {
        let forged = root.join("forged.json");
        std::fs::write(&forged, text.replacen(from, to, 1)).unwrap();
        forged
    };
    let forged = edit("\"seed\": 1,", "\"seed\": 7,");
    let (code, _, stderr) = run_in(&root, &["replay", forged.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "summary.json says seed 7 and 60 devices, but its scenario and overrides give seed 1"
        ),
        "{stderr}"
    );
    let hash = json["trace_hash"].as_str().unwrap();
    let forged = edit(hash, "not-a-hash");
    let (code, _, stderr) = run_in(&root, &["replay", forged.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("is not 16 lowercase hex digits"),
        "{stderr}"
    );
    // The scenario file edited since: exit 1, naming it, before any run.
    let mut file = std::fs::read_to_string(root.join("my-herd.toml")).unwrap();
    file.push_str("\n# edited\n");
    std::fs::write(root.join("my-herd.toml"), file).unwrap();
    let (code, _, stderr) = run_in(&root, &["replay", summary.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("my-herd.toml changed since the run"),
        "{stderr}"
    );
}
