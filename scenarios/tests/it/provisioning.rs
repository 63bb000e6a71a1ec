//! Provisioning and hub limits end to end on the solution world (these were the dps crate's
//! own test world, a second copy of the device ↔ cloud plumbing): a flaky fleet provisioned
//! across two hubs, a provisioning storm against the hub's connect throttle, and a fleet over
//! the S1 D2C throttle.

use scenarios::bundled::run;
use scenarios::load::Source;
use scenarios::registry::Registry;
use scenarios::summary::Summary;

fn summary(text: &str) -> Summary {
    let src = Source {
        origin: "provisioning.toml".into(),
        text: text.into(),
    };
    run(&src, &[], &Registry::bundled()).unwrap().summary_core
}

fn assert_invariants(s: &Summary) {
    for i in &s.invariants {
        assert!(i.passed, "{}: {}", i.name, i.detail);
    }
}

#[test]
fn a_thousand_devices_provision_across_two_hubs_through_loss_an_outage_and_crashes() {
    let s = summary(
        r#"
[scenario]
name = "flaky-fleet"
seed = 20261128
duration_h = 2.0

[[classes]]
name = "collar"
kind = "collar/1"
count = 1000
boot_window_s = 60
provisioned_ratio = 0.0
telemetry = { interval_s = 60, jitter_s = 5 }
link = { loss_ratio = 0.01, latency_ms_min = 40.0, latency_ms_median_extra = 20.0, latency_ms_p99_extra = 90.0 }

[network]
devices_per_tower = 100

[hub]
tier = "S1"
count = 2

# A tenth of the fleet is cut off for ten minutes; 5 % crash during it, for ten minutes (those
# behind the cut-off tower lose what they had buffered in RAM).
[[faults.outages]]
start_h = 0.5
duration_min = 10.0

[[faults.crashes]]
at_h = 0.6
downtime_min = 10.0
ratio = 0.05
"#,
    );
    // Acknowledged ⇒ stored exactly once; sent = acknowledged + lost + in flight; no device
    // on two hubs.
    assert_invariants(&s);
    assert_eq!(s.hubs.len(), 2);
    let (a, b) = (&s.hubs[0], &s.hubs[1]);
    assert_eq!(a.devices + b.devices, 1_000, "{:?}", s.hubs);
    assert!(
        a.devices > 400 && b.devices > 400,
        "hashed allocation spreads the group: {} / {}",
        a.devices,
        b.devices
    );
    assert_eq!(
        a.connected_at_end + b.connected_at_end,
        1_000,
        "every device is back after the faults heal"
    );
    assert_eq!(s.dps.assigned, 1_000, "{:?}", s.dps);
    assert_eq!(s.dps.preprovisioned, 0);
    let reboot = s
        .telemetry
        .lost_by_reason
        .iter()
        .find(|c| c.name == "reboot")
        .unwrap()
        .count;
    assert!(reboot > 0, "crashed devices lose what was in RAM");
    assert!(s.telemetry.sent > 100_000, "{:?}", s.telemetry);
}

#[test]
fn a_provisioning_storm_of_20000_devices_is_held_back_by_the_hub_connect_throttle() {
    let s = summary(
        r#"
[scenario]
name = "storm"
seed = 7
duration_h = 0.5

[[classes]]
name = "collar"
kind = "collar/1"
count = 20000
boot_window_s = 1
provisioned_ratio = 0.0
telemetry = { interval_s = 3600, jitter_s = 5 }
firmware = { token_ttl_min = 1440 }
link = { loss_ratio = 0.0 }

[hub]
tier = "S1"

[dps]
units = 20
"#,
    );
    assert_invariants(&s);
    let h = &s.hubs[0];
    assert_eq!(s.dps.assigned, 20_000, "{:?}", s.dps);
    assert_eq!(h.connected_at_end, 20_000, "{h:?}");
    // 20,000 devices through DPS in about a minute against a connect throttle of 100 a
    // second on one S1 unit (reference §1.2): DPS hands out assignments faster than the hub
    // admits connections, so a large share of them wait (about 9,000 here).
    assert!(h.connects_delayed > 5_000, "{h:?}");
}

#[test]
fn a_fleet_over_the_s1_d2c_throttle_sees_its_publishes_delayed_and_refused_and_loses_nothing() {
    // 200 devices sampling every second: 200 messages a second into one S1 unit, whose D2C
    // throttle is 100 a second (reference §1.2).
    let s = summary(
        r#"
[scenario]
name = "d2c-throttle"
seed = 11
duration_h = 0.25

[[classes]]
name = "collar"
kind = "collar/1"
count = 200
boot_window_s = 10
provisioned_ratio = 1.0
telemetry = { interval_s = 1, jitter_s = 0 }
link = { loss_ratio = 0.0 }

[hub]
tier = "S1"
"#,
    );
    assert_invariants(&s);
    let h = &s.hubs[0];
    assert!(h.d2c_delayed > 0 && h.d2c_throttled > 0, "{h:?}");
    assert_eq!(s.telemetry.throttled, h.d2c_throttled);
    assert!(
        s.latency_ms.p99 > 10.0 * s.latency_ms.p50.max(1.0) || s.latency_ms.p99 > 60_000.0,
        "{:?}",
        s.latency_ms
    );
}
