//! The thermostat solution end to end at a small size: rooms held near their setpoints,
//! setpoints applied through desired properties, temperatures read through direct methods.

use crate::common::figure;
use scenarios::bundled::{load, run_bundled};
use scenarios::load::Override;
use scenarios::registry::Registry;
use scenarios::summary::Summary;

fn thermostat(homes: u32, hours: f64, seed: u64, extra: &[&str]) -> Summary {
    let mut sets = vec![
        format!("devices={homes}"),
        format!("hours={hours}"),
        format!("seed={seed}"),
        // The bundled file's outage takes one 250-home neighbourhood; keep it at a tenth.
        "network.devices_per_tower=25".to_string(),
    ];
    sets.extend(extra.iter().map(|s| s.to_string()));
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    run_bundled("thermostat", &sets).summary_core
}

#[test]
fn a_day_of_two_hundred_homes_holds_every_invariant_and_is_pinned_for_two_seeds() {
    for seed in [1, 2] {
        let s = thermostat(200, 24.0, seed, &[]);
        for i in &s.invariants {
            assert!(i.passed, "seed {seed}: {}: {}", i.name, i.detail);
        }
        let c = &s.commands;
        // 200 homes × 2 setpoint changes and 4 queries a day, Poisson: about 400 and 800.
        assert!((300..500).contains(&c.desired.sent), "{c:?}");
        assert!((650..950).contains(&c.methods.sent), "{c:?}");
        assert_eq!(c.twins_converged_ratio, 1.0);
        assert_eq!(
            figure(&s, "thermostat", "setpoints_applied") as u64,
            c.desired.accepted,
            "every accepted patch reaches its thermostat by the end"
        );
        let cycles = figure(&s, "thermostat", "hvac_cycles_per_h");
        assert!(cycles > 0.2 && cycles < 3.0, "{cycles}");
        insta::assert_yaml_snapshot!(format!("thermostat_200_homes_seed_{seed}"), s);
    }
}

#[test]
fn the_same_seed_replays_the_same_trace_and_another_seed_does_not() {
    let a = thermostat(60, 4.0, 5, &[]);
    let b = thermostat(60, 4.0, 5, &[]);
    let c = thermostat(60, 4.0, 6, &[]);
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.figures, b.figures);
    assert_ne!(a.trace_hash, c.trace_hash);
}

#[test]
fn a_tighter_hysteresis_keeps_rooms_in_band_longer_at_the_cost_of_more_cycles() {
    let loose = thermostat(80, 12.0, 3, &["classes.thermostat.params.hysteresis_c=0.8"]);
    let tight = thermostat(80, 12.0, 3, &["classes.thermostat.params.hysteresis_c=0.2"]);
    let cycles = |s: &Summary| figure(s, "thermostat", "hvac_cycles_per_h");
    assert!(
        cycles(&tight) > 1.5 * cycles(&loose),
        "{} vs {}",
        cycles(&tight),
        cycles(&loose)
    );
    let comfort = |s: &Summary| figure(s, "thermostat", "comfort_ratio");
    assert!(
        comfort(&tight) >= comfort(&loose),
        "{} vs {}",
        comfort(&tight),
        comfort(&loose)
    );
}

#[test]
fn setpoints_patched_while_a_neighbourhood_is_offline_apply_when_it_reconnects() {
    // Every home offline from hour 1 to hour 3 (one neighbourhood holds them all): patches are
    // accepted by the hub, and each thermostat reads its desired properties on reconnecting.
    let s = thermostat(
        40,
        5.0,
        4,
        &[
            "network.devices_per_tower=40",
            "faults.outages[0].start_h=1",
            "faults.outages[0].duration_min=120",
            "faults.crashes[0].ratio=0",
            "apps.portal.params.setpoint_changes_per_home_day=24",
            "apps.portal.params.queries_per_home_day=0",
        ],
    );
    let p99 = figure(&s, "thermostat", "apply_latency_s_p99");
    assert!(
        p99 > 600.0,
        "patches waited for the outage to end: p99 {p99} s"
    );
    assert_eq!(s.commands.twins_converged_ratio, 1.0, "{:?}", s.commands);
}

#[test]
fn on_a_free_tier_hub_the_daily_quota_runs_out_and_the_portal_sees_it() {
    // 40 homes × 288 readings a day against F1's 8,000 messages (reference §1.1).
    let s = thermostat(
        40,
        24.0,
        1,
        &[
            "hub.tier=\"F1\"",
            "hub.units=1",
            "apps.portal.params.queries_per_home_day=24",
        ],
    );
    assert!(s.hub.quota_used_ratio >= 1.0, "{:?}", s.hub);
    let quota: u64 = s
        .commands
        .methods
        .failed_by_code
        .iter()
        .filter(|f| f.name == "403002")
        .map(|f| f.count)
        .sum();
    assert!(quota > 0, "{:?}", s.commands.methods);
    assert!(s.invariants.iter().any(|i| !i.passed));
}

#[test]
fn bad_thermostat_and_portal_parameters_name_the_key() {
    let src = scenarios::bundled::source("thermostat").unwrap();
    for (set, key) in [
        (
            "classes.thermostat.params.setpoint_c=45",
            "classes.thermostat.params.setpoint_c",
        ),
        (
            "classes.thermostat.params.control_s=0",
            "classes.thermostat.params.control_s",
        ),
        (
            "classes.thermostat.params.outdoor_peak_hour=25",
            "classes.thermostat.params.outdoor_peak_hour",
        ),
        (
            "classes.thermostat.params.fan_speed=3",
            "classes.thermostat.params",
        ),
        (
            "apps.portal.params.method_timeout_s=1",
            "apps.portal.params.method_timeout_s",
        ),
        (
            "apps.portal.params.setpoint_max_c=12",
            "apps.portal.params.setpoint_max_c",
        ),
        ("apps.portal.kind=\"nope/1\"", "apps"),
    ] {
        let e = load(&src, &[Override::parse(set).unwrap()], &Registry::bundled())
            .err()
            .unwrap_or_else(|| panic!("accepted {set}"))
            .to_string();
        assert!(e.contains(key), "{set}: {key} not named in: {e}");
    }
}

#[test]
fn hardware_faults_from_the_file_cost_comfort_and_energy() {
    let base = &["faults.crashes[0].ratio=0", "faults.outages=[]"];
    let healthy = thermostat(60, 12.0, 8, base);
    let with = |fault: &str| {
        let mut sets = base.to_vec();
        let f = format!(
            "faults.hardware=[{{ at_h = 2.0, duration_min = 600.0, class = \"thermostat\", fault = \"{fault}\", ratio = 0.5 }}]"
        );
        sets.push(&f);
        thermostat(60, 12.0, 8, &sets)
    };
    let welded = with("relay_stuck_on");
    let stuck = with("probe_stuck");
    let comfort = |s: &Summary| figure(s, "thermostat", "comfort_ratio");
    let kwh = |s: &Summary| figure(s, "thermostat", "hvac_kwh_per_home_day");
    // Half the homes heat from hour 2 to the end regardless: they overheat and draw more.
    assert!(
        comfort(&welded) < comfort(&healthy) - 0.05,
        "{} vs {}",
        comfort(&welded),
        comfort(&healthy)
    );
    assert!(
        kwh(&welded) > kwh(&healthy) * 1.1,
        "{} vs {}",
        kwh(&welded),
        kwh(&healthy)
    );
    // A probe frozen at one reading holds the loop in whatever it last decided.
    assert!(
        comfort(&stuck) < comfort(&healthy) - 0.02,
        "{} vs {}",
        comfort(&stuck),
        comfort(&healthy)
    );
}

#[test]
fn a_hardware_fault_the_class_does_not_model_is_refused_with_the_ones_it_does() {
    let src = scenarios::bundled::source("thermostat").unwrap();
    let set = Override::parse(
        "faults.hardware=[{ at_h = 1.0, duration_min = 10.0, class = \"thermostat\", fault = \"fan_seized\" }]",
    )
    .unwrap();
    let e = load(&src, &[set], &Registry::bundled())
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("faults.hardware[0].fault") && e.contains("only probe_stuck, relay_stuck_on"),
        "{e}"
    );
    let herd = scenarios::bundled::source("herd").unwrap();
    let set = Override::parse(
        "faults.hardware=[{ at_h = 1.0, duration_min = 10.0, class = \"collar\", fault = \"probe_stuck\" }]",
    )
    .unwrap();
    let e = load(&herd, &[set], &Registry::bundled())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("models no hardware faults"), "{e}");
}
