//! IoT Edge gateways end to end (reference §3): the mixing tanks behind a gateway per plant,
//! store and forward through uplink outages, the local alarm module, the loss reasons, and
//! the files a gateway refuses.

use crate::common::{self, failed};
use scenarios::bundled::{load, run_bundled, source};
use scenarios::load::Override;
use scenarios::registry::Registry;
use scenarios::summary::Summary;

/// A figure of the tank-edge gateways.
fn figure(s: &Summary, name: &str) -> f64 {
    common::figure(s, "plant_gw", name)
}

fn lost(s: &Summary, reason: &str) -> u64 {
    s.telemetry
        .lost_by_reason
        .iter()
        .find(|c| c.name == reason)
        .unwrap_or_else(|| panic!("no loss reason {reason}"))
        .count
}

#[test]
fn the_tanks_behind_plant_gateways_hold_every_invariant_for_two_seeds() {
    for seed in [1, 2] {
        let s = run_bundled("tank-edge", &[&format!("seed={seed}")]).summary_core;
        assert!(failed(&s).is_empty(), "seed {seed}: {:?}", failed(&s));
        // Plant 3's three-hour outage outlives the two-hour time-to-live.
        let expired = figure(&s, "edge_expired");
        assert!(expired > 2_000.0, "{expired}");
        // A reading that expired after the hub stored it (its acknowledgement cut off with
        // the uplink) is not lost.
        let ttl = lost(&s, "gateway_ttl");
        assert!(
            ttl as f64 <= expired && ttl as f64 > expired - 100.0,
            "{ttl} of {expired}"
        );
        assert_eq!(lost(&s, "gateway_overflow"), 0);
        assert_eq!(lost(&s, "gateway_unrouted"), 0);
        // Everything the tanks sent was acknowledged by edgeHub, and every acknowledged
        // reading is stored, lost at the gateway with its reason, or held there.
        let t = &s.telemetry;
        assert_eq!(t.sent, t.acknowledged + t.lost + t.in_flight_at_end);
        assert_eq!(t.lost_at_gateways, ttl);
        assert_eq!(
            t.acknowledged,
            t.stored + t.lost_at_gateways + t.held_at_gateways_at_end
        );
        // The alarm panel hears of an over-pressure in minutes; the cloud, for the tanks of
        // plant 0, only after its two-hour outage.
        let cloud = s
            .alerts
            .rules
            .iter()
            .find(|r| r.rule == "pressure_high")
            .unwrap();
        let local = figure(&s, "alarm.pressure_high.latency_s_p99");
        assert!(
            local < 1_800.0 && cloud.latency_s_p99.is_some_and(|c| c > local),
            "{local} vs {cloud:?}"
        );
        insta::assert_yaml_snapshot!(format!("tank_edge_seed_{seed}"), s);
    }
}

#[test]
fn an_alarm_panel_left_without_its_route_fails_its_recall_invariant() {
    let s = run_bundled(
        "tank-edge",
        &[r#"classes.plant_gw.edge.routes=[{ route = "FROM /messages/* INTO $upstream" }]"#],
    )
    .summary_core;
    let f = failed(&s);
    assert!(
        f.iter().any(|n| n.contains("alarm.pressure_high.recall")),
        "{f:?}"
    );
}

#[test]
fn forwarding_excursions_first_makes_the_store_drop_the_backlog_as_stale() {
    // The priority route edgeHub offers, against the store's 64-number de-duplication
    // window: after plant 0's outage the in-order backlog arrives behind the excursions.
    let s = run_bundled(
        "tank-edge",
        &[r#"classes.plant_gw.edge.routes=[{ route = "FROM /messages/* WHERE $body.temp_c > 65.5 OR $body.temp_c < 51.5 OR $body.pressure_kpa > 9.0 INTO $upstream", priority = 0 }, { route = "FROM /messages/* INTO $upstream", priority = 5 }, { route = "FROM /messages/* INTO BrokeredEndpoint(\"/modules/alarm/inputs/readings\")" }]"#],
    )
    .summary_core;
    let f = failed(&s);
    assert!(
        f.iter()
            .any(|n| n.starts_with("every acknowledged reading is stored")),
        "{f:?}"
    );
}

#[test]
fn a_small_store_overflows_and_counts_what_it_dropped() {
    let s = run_bundled(
        "tank-edge",
        &["hours=8", "classes.plant_gw.edge.capacity=500"],
    )
    .summary_core;
    let dropped = lost(&s, "gateway_overflow");
    assert!(dropped > 1_000, "{dropped}");
    assert_eq!(figure(&s, "edge_overflowed") as u64, dropped);
    assert!(figure(&s, "edge_peak_store_depth") <= 500.0);
    let exactly_once = s
        .invariants
        .iter()
        .find(|i| i.name.starts_with("every acknowledged reading is stored"))
        .unwrap();
    assert!(exactly_once.passed, "{}", exactly_once.detail);
}

#[test]
fn a_short_run_a_lossy_uplink_and_a_filtering_route_keep_the_books() {
    // Four hours: no over-pressure yet, which the alarm panel's recall does not count
    // against it.
    let s = run_bundled("tank-edge", &["hours=4"]).summary_core;
    assert!(failed(&s).is_empty(), "{:?}", failed(&s));
    // TCP giving up at the first loss on a lossy plant uplink breaks the gateway's
    // connection while edgeHub sends: it takes its messages back.
    let s = run_bundled(
        "tank-edge",
        &[
            "hours=8",
            "network.tcp_max_retries=0",
            "classes.plant_gw.link.loss_ratio=0.05",
        ],
    )
    .summary_core;
    assert!(figure(&s, "edge_forwarded") > 80_000.0);
    // A route that forwards only warm readings: the rest are acknowledged and dropped as
    // unrouted, and the books still balance.
    let s = run_bundled(
        "tank-edge",
        &["hours=4", r#"classes.plant_gw.edge.routes=[{ route = "FROM /messages/* WHERE $body.temp_c > 61 INTO $upstream" }]"#],
    )
    .summary_core;
    let unrouted = lost(&s, "gateway_unrouted");
    assert!(unrouted > 10_000, "{unrouted}");
    let t = &s.telemetry;
    assert_eq!(
        t.acknowledged,
        t.stored + t.lost_at_gateways + t.held_at_gateways_at_end
    );
    let exactly_once = s
        .invariants
        .iter()
        .find(|i| i.name.starts_with("every acknowledged reading is stored"))
        .unwrap();
    assert!(exactly_once.passed, "{}", exactly_once.detail);
}

#[test]
fn the_same_seed_replays_and_another_does_not() {
    let a = run_bundled("tank-edge", &["hours=8", "seed=3"]).summary_core;
    let b = run_bundled("tank-edge", &["hours=8", "seed=3"]).summary_core;
    let c = run_bundled("tank-edge", &["hours=8", "seed=4"]).summary_core;
    assert_eq!(a, b);
    assert_ne!(a.trace_hash, c.trace_hash);
}

fn error(sets: &[&str]) -> String {
    let sets: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
    match load(&source("tank-edge").unwrap(), &sets, &Registry::bundled()) {
        Ok(_) => panic!("loaded a bad scenario"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_gateway_refuses_what_it_cannot_run_with_the_field_named() {
    let e = error(&["classes.tank.provisioned_ratio=0.5"]);
    assert!(
        e.contains("classes.tank.provisioned_ratio") && e.contains("behind a gateway"),
        "{e}"
    );
    let e = error(&["classes.tank.gateway=\"tank\""]);
    assert!(
        e.contains("classes.tank.gateway") && e.contains("no `edge` table"),
        "{e}"
    );
    let e = error(&["classes.plant_gw.count=1"]);
    assert!(
        e.contains("classes.plant_gw.count") && e.contains("max_clients = 100"),
        "{e}"
    );
    let e =
        error(&[r#"classes.plant_gw.edge.routes=[{ route = "FROM /devices/* INTO $upstream" }]"#]);
    assert!(
        e.contains("classes.plant_gw.edge.routes[0].route") && e.contains("/devices/*"),
        "{e}"
    );
    let e = error(&[
        r#"classes.plant_gw.edge.routes=[{ route = "FROM /* INTO BrokeredEndpoint(\"/modules/siren/inputs/in\")" }]"#,
    ]);
    assert!(e.contains("siren") && e.contains("edge.modules"), "{e}");
    let e = error(&["classes.plant_gw.edge.modules=[{ name = \"alarm\", rules = [\"fire\"] }]"]);
    assert!(
        e.contains("classes.plant_gw.edge.modules[0].rules") && e.contains("fire"),
        "{e}"
    );
}

fn battery_life_days(s: &Summary) -> f64 {
    s.battery.projected_life_days_p50
}

#[test]
fn lorawan_collars_through_barn_gateways_outlast_lte_m_and_hold_the_herds_invariants() {
    for seed in [1, 2] {
        // A day of 1,000 cows: enough fever and stuck episodes to compare.
        let sets = [&format!("seed={seed}") as &str, "devices=1000"];
        let lora = run_bundled("herd-lora", &sets).summary_core;
        assert!(failed(&lora).is_empty(), "seed {seed}: {:?}", failed(&lora));
        let lte = run_bundled("herd", &sets).summary_core;
        // The same cows: the same ground truth and the same fever alerts.
        let fever = |s: &Summary| {
            s.alerts
                .rules
                .iter()
                .find(|r| r.rule == "fever")
                .unwrap()
                .clone()
        };
        assert!(fever(&lte).true_episodes > 0);
        assert_eq!(fever(&lora).true_episodes, fever(&lte).true_episodes);
        assert_eq!(fever(&lora).recall, fever(&lte).recall);
        // A LoRa frame costs a fraction of an LTE-M session: the collar lasts far longer.
        assert!(
            battery_life_days(&lora) > 2.0 * battery_life_days(&lte),
            "{} vs {} days",
            battery_life_days(&lora),
            battery_life_days(&lte)
        );
        // The duty cycle holds frames back: a retransmission waits for the sub-band.
        let deferred = lora
            .figures
            .iter()
            .find(|f| f.of == "collar" && f.name == "lora_duty_deferred")
            .unwrap()
            .value;
        assert!(deferred > 0.0);
        insta::assert_yaml_snapshot!(format!("herd_lora_1000_cows_seed_{seed}"), lora);
    }
}

#[test]
fn a_barn_store_that_forgets_faster_than_its_uplink_returns_fails_its_invariant() {
    // The broken variant: a 10-minute time-to-live against the barns' 40-minute outage.
    let s = run_bundled(
        "herd-lora",
        &["devices=2000", "hours=12", "classes.barn.edge.ttl_s=600"],
    )
    .summary_core;
    let f = failed(&s);
    assert!(f.iter().any(|n| n.contains("edge_expired")), "{f:?}");
    assert!(lost(&s, "gateway_ttl") > 0);
}
