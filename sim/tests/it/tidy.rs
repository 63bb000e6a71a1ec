//! Tidy: the simulation crates never read the OS clock or ambient randomness, and never use
//! std's randomly seeded `HashMap`/`HashSet` (whose iteration order changes from run to run).
//! The harness and the benches are exempt: they do IO and measure wall time.

use std::path::{Path, PathBuf};

const BANNED: &[(&str, &str)] = &[
    ("Instant::now", "reads the OS clock"),
    ("SystemTime::now", "reads the OS clock"),
    ("thread_rng", "ambient randomness"),
    ("rand::random", "ambient randomness"),
    ("OsRng", "ambient randomness"),
    ("from_entropy", "ambient randomness"),
    (
        "std::collections::HashMap",
        "std HashMap iterates in a random order; use BTreeMap or rustc_hash",
    ),
    (
        "std::collections::HashSet",
        "std HashSet iterates in a random order; use BTreeSet or rustc_hash",
    ),
    (
        "collections::hash_map",
        "std HashMap iterates in a random order",
    ),
    ("RandomState", "randomly seeded hashing"),
];

/// Crates that make up simulated behaviour.
const SIM_PATHS: &[&str] = &["sim", "models", "hardware-models", "scenarios"];

/// Violations in one file's text: (line number, pattern, why).
fn violations(text: &str) -> Vec<(usize, &'static str, &'static str)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        // `use std::collections::{BTreeMap, HashMap}` names it without the full path.
        let grouped = code.contains("std::collections::{")
            && (code.contains("HashMap") || code.contains("HashSet"));
        for (pat, why) in BANNED {
            if code.contains(pat) {
                out.push((i + 1, *pat, *why));
            }
        }
        if grouped {
            out.push((
                i + 1,
                "std::collections::{…HashMap/HashSet…}",
                "std hash collections iterate in a random order",
            ));
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn simulation_crates_use_no_os_clock_ambient_randomness_or_std_hash_collections() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let this_file = Path::new(file!()).file_name().unwrap();
    let mut files = Vec::new();
    for p in SIM_PATHS {
        rust_files(&root.join(p), &mut files);
    }
    assert!(
        files.len() > 10,
        "tidy scanned only {} files under {root:?}",
        files.len()
    );
    let mut report = String::new();
    for f in files {
        if f.file_name() == Some(this_file)
            && f.parent().is_some_and(|d| d.ends_with("tests/it"))
            && f.starts_with(root.join("sim"))
        {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (line, pat, why) in violations(&text) {
            report.push_str(&format!(
                "{}:{line}: `{pat}`: {why}\n",
                f.strip_prefix(root).unwrap().display()
            ));
        }
    }
    assert!(report.is_empty(), "determinism violations:\n{report}");
}

#[test]
fn the_tidy_scanner_catches_each_banned_pattern_and_skips_comments() {
    let bad = "let t = std::time::Instant::now();\nuse std::collections::{BTreeMap, HashMap};\nlet r = rand::thread_rng();\n// Instant::now in a comment is fine\n";
    let v = violations(bad);
    let lines: Vec<usize> = v.iter().map(|x| x.0).collect();
    assert_eq!(lines, vec![1, 2, 3]);
    assert!(violations("let m: BTreeMap<u32, u32> = BTreeMap::new();").is_empty());
}
