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
    assert!(s.precision < h.precision, "{h:?} vs {s:?}");
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
