//! The herd end to end at a small size.

use scenarios::bundled::run_bundled;
use scenarios::world::Outcome;

fn herd(devices: u32, hours: f64, seed: u64) -> Outcome {
    run_bundled(
        "herd",
        &[
            &format!("devices={devices}"),
            &format!("hours={hours}"),
            &format!("seed={seed}"),
        ],
    )
}

#[test]
fn a_thousand_cow_day_holds_every_invariant_and_its_summary_is_pinned_for_two_seeds() {
    for seed in [1, 2] {
        let o = herd(1_000, 24.0, seed);
        let s = &o.summary_core;
        for i in &s.invariants {
            assert!(i.passed, "seed {seed}: {}: {}", i.name, i.detail);
        }
        // 1,000 collars × 288 readings a day, less the boot hour (6 readings a collar on
        // average) and the crashed collars' half hour.
        assert!(s.telemetry.sent > 275_000, "{:?}", s.telemetry);
        insta::assert_yaml_snapshot!(format!("herd_1000_cows_seed_{seed}"), s);
    }
}

#[test]
fn the_same_seed_replays_the_same_trace_and_another_seed_does_not() {
    let a = herd(300, 3.0, 5).summary_core;
    let b = herd(300, 3.0, 5).summary_core;
    let c = herd(300, 3.0, 6).summary_core;
    assert_eq!(a, b);
    assert_ne!(a.trace_hash, c.trace_hash);
}

#[test]
fn the_report_data_covers_every_chart() {
    let o = herd(500, 6.0, 3);
    let r = &o.report;
    for name in [
        "telemetry.sampled",
        "telemetry.stored",
        "hub.quota_used_ratio",
        "hub.connected_devices",
    ] {
        assert!(
            r.series.iter().any(|(n, v)| n == name && !v.is_empty()),
            "no series {name}"
        );
    }
    assert!(r.latency_buckets_ms.iter().map(|b| b.1).sum::<u64>() > 0);
    assert_eq!(r.map_outline.len(), 4);
    assert_eq!(r.positions.len(), 500);
    assert!(!r.battery_soc.is_empty());
}

#[test]
fn every_packet_a_collar_sends_is_debited_from_its_battery_as_radio_energy() {
    let s = herd(300, 3.0, 7).summary_core;
    let e = s.battery.energy_j_mean;
    // Each telemetry publish alone costs an LTE-M session (1.2 J) plus its airtime.
    let publishes_per_collar = s.telemetry.sent as f64 / 300.0;
    let session_j = hardware::radio::RadioProfile::lte_m().session_energy_uj / 1e6;
    assert!(e.radio >= publishes_per_collar * session_j, "{e:?} {s:?}");
    // Connects, subscriptions and retransmissions add a few per cent, not multiples.
    assert!(e.radio < publishes_per_collar * session_j * 1.5, "{e:?}");
    assert!(e.fix > 0.0 && e.sleep > 0.0 && e.sample > 0.0, "{e:?}");
}

#[test]
fn a_device_boots_at_the_same_time_whatever_the_size_of_its_class() {
    // Streams are keyed by (class, device, purpose): growing the herd changes nothing the
    // first cows do before the first shared event (their boot and first readings).
    let small = herd(200, 0.5, 9).summary_core;
    let large = herd(400, 0.5, 9).summary_core;
    assert!(large.telemetry.sent > small.telemetry.sent);
    assert_ne!(small.trace_hash, large.trace_hash);
}

#[test]
fn collar_clocks_stepped_ahead_make_resting_cows_look_stuck() {
    let rule = |o: &Outcome, name: &str| {
        let r = o.summary_core.alerts.rules.iter().find(|r| r.rule == name);
        r.cloned().unwrap()
    };
    let run = |extra: &[&str]| {
        let mut sets = vec!["devices=600", "hours=8", "seed=4", "faults.crashes=[]"];
        sets.extend_from_slice(extra);
        run_bundled("herd", &sets)
    };
    let healthy = run(&[]);
    // At hour 2, half the collars' clocks jump twelve hours ahead: the stuck rule measures
    // stillness by the readings' own timestamps, so a cow resting at that moment looks as
    // if it had not moved for the rule's 12 h window.
    let stepped =
        run(&["faults.clock=[{ at_h = 2.0, class = \"collar\", ratio = 0.5, step_s = 43200.0 }]"]);
    let (h, s) = (rule(&healthy, "stuck"), rule(&stepped, "stuck"));
    assert!(s.raised > h.raised + 10, "{h:?} vs {s:?}");
    // A healthy herd's stuck rule may raise no alert (no precision); the stepped one's
    // alerts are mostly false.
    assert!(
        s.precision.is_some_and(|p| p < h.precision.unwrap_or(1.0)),
        "{h:?} vs {s:?}"
    );
    // A crystal's drift on three collars: their timestamps, and with them the sizes of
    // the messages they send, change the run.
    let drifting = run(&[
        "faults.clock=[{ at_h = 0.0, class = \"collar\", devices = [0, 1, 2], drift_ppm = 50.0 }]",
    ]);
    assert_ne!(
        drifting.summary_core.trace_hash,
        healthy.summary_core.trace_hash
    );
}

/// Watching a few cows tells their stories without changing the run: the same summary and
/// trace hash, and each stored reading's steps in order of time.
#[test]
fn a_watched_run_is_the_same_run_and_tells_each_stored_readings_story_in_order() {
    use scenarios::{bundled, load::Override, registry::Registry};
    let sets: Vec<Override> = [
        "devices=300",
        "hours=3",
        "seed=5",
        "classes.collar.link.loss_ratio=0.3",
    ]
    .iter()
    .map(|s| Override::parse(s).unwrap())
    .collect();
    let watched = |watch: &[String]| {
        let loaded = bundled::load(
            &bundled::source("herd").unwrap(),
            &sets,
            &Registry::bundled(),
        )
        .unwrap();
        let r = loaded.resolved;
        scenarios::world::run_watching(r.world, r.classes, r.apps, &mut |_| {}, watch).unwrap()
    };
    let (plain, plain_hash) = watched(&[]);
    let ids = ["cow-0000042".to_string(), "cow-0000007".to_string()];
    let (told, told_hash) = watched(&ids);
    assert_eq!(plain_hash, told_hash);
    assert_eq!(plain.summary_core, told.summary_core);
    assert!(plain.story.events.is_empty());
    let story = &told.story;
    // Devices in index order, whatever order they were named in.
    let names: Vec<&str> = story.devices.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(names, ["cow-0000007", "cow-0000042"]);
    assert!(story.events.windows(2).all(|w| w[0].at <= w[1].at));
    for d in &story.devices {
        let steps: Vec<_> = story.of(d.device).collect();
        assert_eq!(steps[0].kind, "boot", "{}: {:?}", d.id, steps[0]);
        let stored: Vec<u32> = steps
            .iter()
            .filter(|e| e.kind == "stored")
            .filter_map(|e| e.seq)
            .collect();
        assert!(stored.len() > 20, "{}: {stored:?}", d.id);
        for seq in &stored {
            let at = |kind: &str| {
                steps
                    .iter()
                    .find(|e| e.kind == kind && e.seq == Some(*seq))
                    .unwrap_or_else(|| panic!("{} reading {seq}: no {kind}", d.id))
                    .at
            };
            let order = [
                at("sampled"),
                at("publish"),
                at("arrived"),
                at("read"),
                at("stored"),
            ];
            assert!(
                order.windows(2).all(|w| w[0] <= w[1]),
                "{} reading {seq}: {order:?}",
                d.id
            );
        }
        // With 30 % loss, some of its packets were lost and retransmitted.
        assert!(steps
            .iter()
            .any(|e| e.kind == "lost" && e.detail.contains("random loss")));
        let f = story.fates(
            d.device,
            sim::SimTime::ZERO,
            sim::SimTime::from_secs(3 * 3_600),
        );
        assert_eq!(f.sampled, f.stored + f.dropped + f.undelivered, "{f:?}");
        assert_eq!(f.stored as usize, stored.len());
    }
}

/// Two designs whose event traces agree but whose figures differ (the radio's energy per
/// packet: battery life) have different trace hashes: the hash covers the summary's figures.
#[test]
fn the_trace_hash_covers_every_figure_the_summary_reports() {
    let run = |radio: &str| {
        run_bundled(
            "herd",
            &[
                "devices=100",
                "hours=2",
                &format!("classes.collar.link.radio={radio}"),
            ],
        )
        .summary_core
    };
    let (lte, nb) = (run("lte-m"), run("nb-iot"));
    assert_ne!(
        lte.battery.projected_life_days_p50,
        nb.battery.projected_life_days_p50
    );
    assert_ne!(lte.trace_hash, nb.trace_hash);
    assert_eq!(lte.trace_hash, run("lte-m").trace_hash);
}
