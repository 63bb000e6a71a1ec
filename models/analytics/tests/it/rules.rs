//! Rules, driven through `handle_event`, named for what the rancher or operator sees.

use analytics::{AnalyticsConfig, Channel, NotificationSinks, RuleEngine};
use sim::{Epoch, SimTime};
use store::{ColumnSpec, DeviceIndex, IngestEvent, Schema};

const LAT0: f64 = 46.95;
const LON0: f64 = 7.45;
/// Metres per degree of latitude (mean sphere), as the engine uses.
const M_PER_DEG: f64 = geometry::M_PER_DEG;

fn engine(toml_rules: &str) -> RuleEngine {
    let config: AnalyticsConfig = toml::from_str(toml_rules).expect("valid rules");
    RuleEngine::new(&config, &Schema::collar(), Epoch::DEFAULT).expect("rules compile")
}

fn at_min(m: u64) -> SimTime {
    SimTime::from_secs(m * 60)
}

/// A collar reading `north_m` metres north of the herd centre.
fn collar(device: u32, seq: u32, t: SimTime, north_m: f64, temp: f64) -> IngestEvent {
    IngestEvent::new(
        DeviceIndex(device),
        seq,
        t,
        t,
        &[LAT0 + north_m / M_PER_DEG, LON0, temp],
    )
}

const FEVER: &str = r#"
[[rules]]
name = "fever"
truth = "fever"
conditions = [{ kind = "consecutive", column = "temp", op = "above", value = 39.5, clear = 39.2, readings = 2 }]
cooldown_s = 21600
actions = [{ channel = "sms", to = "+41790000000" }, { channel = "email", to = "vet@example.org" }]
"#;

/// Feeds temperatures every 5 minutes from minute 0 and returns the alert times in minutes.
fn temperatures(engine: &mut RuleEngine, temps: &[f64]) -> Vec<u64> {
    for (i, &temp) in temps.iter().enumerate() {
        let t = at_min(5 * i as u64);
        engine.handle_event(t, &collar(0, i as u32, t, 0.0, temp));
    }
    engine
        .alerts()
        .iter()
        .map(|a| a.raised_at.as_secs() / 60)
        .collect()
}

#[test]
fn a_fever_of_two_consecutive_readings_above_the_threshold_raises_one_alert_not_one_per_reading() {
    let mut e = engine(FEVER);
    let alerts = temperatures(&mut e, &[38.6, 39.7, 38.9, 39.8, 39.9, 40.1, 40.2, 39.9]);
    // The single reading at minute 5 is not a fever; minutes 15 and 20 are.
    assert_eq!(alerts, vec![20]);
    assert_eq!(e.stats().alerts_raised, 1);
    let open: Vec<_> = e.dashboard().open_alerts().collect();
    assert_eq!(open.len(), 1);
    assert_eq!(e.device_status(DeviceIndex(0)).open_alerts, 1);
}

#[test]
fn a_temperature_hovering_around_the_threshold_is_one_episode_thanks_to_hysteresis() {
    let mut e = engine(FEVER);
    let alerts = temperatures(
        &mut e,
        &[39.6, 39.7, 39.4, 39.6, 39.3, 39.7, 39.6, 39.1, 38.8],
    );
    assert_eq!(alerts, vec![5]);
    // It cleared at 39.1 (at or below 39.2): the dashboard no longer shows it.
    assert_eq!(e.dashboard().open_alerts().count(), 0);
    assert_eq!(e.device_status(DeviceIndex(0)).open_alerts, 0);
}

#[test]
fn a_relapse_within_the_cooldown_raises_no_alert_and_one_after_it_does() {
    let mut e = engine(FEVER);
    let mut temps = vec![39.8, 39.9, 38.5, 38.5, 39.8, 39.9, 38.5];
    // Six hours of normal readings, then another fever.
    temps.extend(std::iter::repeat_n(38.5, 72));
    temps.extend([39.8, 39.9]);
    let alerts = temperatures(&mut e, &temps);
    assert_eq!(alerts, vec![5, 5 * 80]);
    assert_eq!(e.stats().alerts_suppressed_by_cooldown, 1);
}

#[test]
fn every_alert_is_sent_on_each_of_the_rules_channels_with_its_content() {
    let mut e = engine(FEVER);
    temperatures(&mut e, &[39.8, 39.9]);
    let mut sinks = NotificationSinks::default();
    while let Some(n) = e.poll_notification() {
        sinks.handle_notification(n.raised_at, n);
    }
    assert_eq!(sinks.sent(Channel::Webhook).len(), 0);
    let sms = &sinks.sent(Channel::Sms)[0];
    assert_eq!(sms.sent_at, at_min(5));
    assert_eq!(sms.notification.to, "+41790000000");
    insta::assert_yaml_snapshot!(
        "fever_email",
        (
            &sinks.sent(Channel::Email)[0].notification.subject,
            &sinks.sent(Channel::Email)[0].notification.body
        )
    );
}

const STUCK: &str = r#"
[[rules]]
name = "stuck"
truth = "stuck"
conditions = [{ kind = "stuck", lat = "lat", lon = "lon", radius_m = 50.0, window_s = 43200 }]
"#;

#[test]
fn a_cow_that_walks_less_than_50_m_in_12_h_is_flagged_stuck_once() {
    let mut e = engine(STUCK);
    // Grazing for 2 h (60 m per reading), then 16 h pacing within ±20 m, then walking off.
    let mut seq = 0;
    let mut north_m = 0.0;
    let mut feed = |e: &mut RuleEngine, minute: u64, north_m: f64| {
        let t = at_min(minute);
        e.handle_event(t, &collar(3, seq, t, north_m, 38.6));
        seq += 1;
    };
    for i in 0..24 {
        north_m = 60.0 * i as f64;
        feed(&mut e, 5 * i, north_m);
    }
    let stuck_from = 5 * 23;
    for i in 1..=192u64 {
        let wobble = if i % 2 == 0 { 20.0 } else { -20.0 };
        feed(&mut e, stuck_from + 5 * i, north_m + wobble);
    }
    for i in 1..=10u64 {
        feed(
            &mut e,
            stuck_from + 5 * 192 + 5 * i,
            north_m + 60.0 * i as f64,
        );
    }
    let alerts: Vec<u64> = e
        .alerts()
        .iter()
        .map(|a| a.raised_at.as_secs() / 60)
        .collect();
    // The last fix before standing still anchors; 12 h later is the first alert.
    assert_eq!(alerts, vec![stuck_from + 12 * 60]);
    assert_eq!(e.alerts()[0].device, DeviceIndex(3));
    assert_eq!(
        e.dashboard().open_alerts().count(),
        0,
        "walking off clears it"
    );
}

#[test]
fn a_corrupt_fix_far_off_the_globe_does_not_stop_the_stuck_rule() {
    let mut e = engine(STUCK);
    let corrupt = [1e300, -1e300, f64::INFINITY, f64::NEG_INFINITY, 1e12, -1e12];
    // A still cow, with a corrupt fix (both coordinates) every few readings: the anchor
    // may jump to an extreme and back, but every reading is evaluated.
    for i in 0..288u32 {
        let t = at_min(5 * u64::from(i));
        let mut reading = collar(4, i, t, 0.0, 38.6);
        if i % 5 == 2 {
            let bad = corrupt[(i / 5) as usize % corrupt.len()];
            reading.values[0] = bad;
            reading.values[1] = -bad;
        }
        e.handle_event(t, &reading);
    }
    assert_eq!(e.stats().readings, 288);
}

#[test]
fn a_grazing_cow_is_never_flagged_stuck() {
    let mut e = engine(STUCK);
    // 24 h walking a 200 m square at 30 m per reading.
    for i in 0..288u32 {
        let t = at_min(5 * u64::from(i));
        let north_m = 30.0 * f64::from(i % 14);
        e.handle_event(t, &collar(0, i, t, north_m, 38.6));
    }
    assert!(e.alerts().is_empty());
}

#[test]
fn a_tank_leaving_its_range_either_way_alerts() {
    let schema = Schema::new(&[ColumnSpec::quantised("tank_c", 0.1)]).unwrap();
    let config: AnalyticsConfig = toml::from_str(
        r#"
[[rules]]
name = "tank-range"
truth = "tank-excursion"
combine = "any"
conditions = [
  { kind = "consecutive", column = "tank_c", op = "above", value = 80.0, clear = 78.0 },
  { kind = "consecutive", column = "tank_c", op = "below", value = 60.0, clear = 62.0 },
]
actions = [{ channel = "webhook", to = "https://ops.example.org/hook" }]
"#,
    )
    .unwrap();
    let mut e = RuleEngine::new(&config, &schema, Epoch::DEFAULT).unwrap();
    let temps = [70.0, 81.0, 79.0, 77.0, 70.0, 59.0, 61.0, 63.0, 70.0];
    for (i, &c) in temps.iter().enumerate() {
        let t = at_min(i as u64);
        e.handle_event(t, &IngestEvent::new(DeviceIndex(0), i as u32, t, t, &[c]));
    }
    let alerts: Vec<u64> = e
        .alerts()
        .iter()
        .map(|a| a.raised_at.as_secs() / 60)
        .collect();
    assert_eq!(alerts, vec![1, 5]);
    assert_eq!(e.dashboard().open_alerts().count(), 0);
}

#[test]
fn a_door_left_open_for_a_whole_window_alerts_when_the_window_closes() {
    let schema = Schema::new(&[ColumnSpec::quantised("door_open", 1.0)]).unwrap();
    let config: AnalyticsConfig = toml::from_str(
        r#"
[[rules]]
name = "door-left-open"
conditions = [{ kind = "window", column = "door_open", aggregate = "min", window_s = 600, op = "above", value = 0.5 }]
"#,
    )
    .unwrap();
    let mut e = RuleEngine::new(&config, &schema, Epoch::DEFAULT).unwrap();
    // One reading a minute; open from minute 12 to minute 35. Windows are 10-minute,
    // Unix-aligned (the default epoch is midnight): [10, 20) is not wholly open, [20, 30)
    // is, and is evaluated by the first reading of [30, 40).
    for m in 0..50u64 {
        let open = if (12..36).contains(&m) { 1.0 } else { 0.0 };
        let t = at_min(m);
        e.handle_event(
            t,
            &IngestEvent::new(DeviceIndex(0), m as u32, t, t, &[open]),
        );
    }
    let alerts: Vec<u64> = e
        .alerts()
        .iter()
        .map(|a| a.raised_at.as_secs() / 60)
        .collect();
    assert_eq!(alerts, vec![30]);
    assert_eq!(
        e.dashboard().open_alerts().count(),
        0,
        "[30, 40) cleared it"
    );
}

#[test]
fn leaving_the_pasture_alerts_on_exit_and_clears_on_return() {
    let mut e = engine(
        r#"
[[rules]]
name = "escaped"
conditions = [{ kind = "geofence", lat = "lat", lon = "lon", trigger = "exit", polygon = [[46.949, 7.449], [46.949, 7.451], [46.951, 7.451], [46.951, 7.449]] }]
"#,
    );
    // The fence reaches about 111 m north of the centre.
    let path = [0.0, 50.0, 100.0, 150.0, 200.0, 90.0, 150.0];
    for (i, &north_m) in path.iter().enumerate() {
        let t = at_min(5 * i as u64);
        e.handle_event(t, &collar(0, i as u32, t, north_m, 38.6));
    }
    let alerts: Vec<u64> = e
        .alerts()
        .iter()
        .map(|a| a.raised_at.as_secs() / 60)
        .collect();
    assert_eq!(alerts, vec![15, 30]);
    assert_eq!(e.dashboard().open_alerts().count(), 1);
}

#[test]
fn an_all_rule_needs_every_condition_and_an_any_rule_one() {
    let rules = |combine: &str| {
        format!(
            r#"
[[rules]]
name = "sick-and-still"
combine = "{combine}"
conditions = [
  {{ kind = "consecutive", column = "temp", op = "above", value = 39.5 }},
  {{ kind = "stuck", lat = "lat", lon = "lon", radius_m = 50.0, window_s = 1800 }},
]
"#
        )
    };
    let run = |combine: &str| {
        let mut e = engine(&rules(combine));
        // Still the whole time; a fever only at minutes 10-15, before 30 min have passed.
        for i in 0..12u32 {
            let t = at_min(5 * u64::from(i));
            let temp = if (2..4).contains(&i) { 39.8 } else { 38.6 };
            e.handle_event(t, &collar(0, i, t, 0.0, temp));
        }
        e.alerts()
            .iter()
            .map(|a| a.raised_at.as_secs() / 60)
            .collect::<Vec<_>>()
    };
    assert_eq!(run("all"), Vec::<u64>::new());
    assert_eq!(run("any"), vec![10, 30]);
}

#[test]
fn a_rule_with_an_unknown_column_or_field_is_refused_with_its_path() {
    let config: AnalyticsConfig = toml::from_str(
        r#"
[[rules]]
name = "fever"
conditions = [{ kind = "consecutive", column = "temperature", op = "above", value = 39.5 }]
"#,
    )
    .unwrap();
    let err = RuleEngine::new(&config, &Schema::collar(), Epoch::DEFAULT)
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "rules[0].conditions[0].column: \"temperature\", expected one of the schema's columns [\"lat\", \"lon\", \"temp\"]"
    );
    let bad_clear: AnalyticsConfig = toml::from_str(
        r#"
[[rules]]
name = "fever"
conditions = [{ kind = "consecutive", column = "temp", op = "above", value = 39.5, clear = 40.0 }]
"#,
    )
    .unwrap();
    let err = RuleEngine::new(&bad_clear, &Schema::collar(), Epoch::DEFAULT)
        .err()
        .unwrap();
    assert!(err
        .to_string()
        .starts_with("rules[0].conditions[0].clear: 40.0"));
    let unknown = toml::from_str::<AnalyticsConfig>(
        r#"
[[rules]]
name = "fever"
conditions = [{ kind = "consecutive", column = "temp", op = "above", value = 39.5, hysteresis = 0.3 }]
"#,
    );
    assert!(unknown.unwrap_err().to_string().contains("hysteresis"));
}

#[test]
fn the_dashboard_lists_open_alerts_per_rule() {
    let mut e = engine(&format!("{FEVER}{STUCK}"));
    for d in 0..4u32 {
        for i in 0..3u32 {
            let t = at_min(5 * u64::from(i));
            let temp = if d % 2 == 1 { 40.0 } else { 38.5 };
            e.handle_event(t, &collar(d, i, t, 0.0, temp));
        }
    }
    insta::assert_snapshot!("dashboard", e.render_dashboard(10));
    assert_eq!(e.dashboard().devices_seen(), 4);
    assert_eq!(e.dashboard().devices_alerting(), 2);
}

#[test]
fn rules_holding_tracks_the_fever_rule_from_its_second_hot_reading_until_it_clears() {
    let mut e = engine(FEVER);
    let mut holding = Vec::new();
    for (i, &temp) in [38.6, 39.7, 39.8, 39.4, 39.1, 39.8].iter().enumerate() {
        let t = at_min(5 * i as u64);
        e.handle_event(t, &collar(0, i as u32, t, 0.0, temp));
        holding.push(e.rules_holding(DeviceIndex(0)));
    }
    // Two readings above 39.5 make it hold; 39.4 is within the hysteresis; 39.1 clears it;
    // a single hot reading after that is not yet a fever.
    assert_eq!(holding, vec![0, 0, 1, 1, 0, 0]);
    // A device the engine has not seen holds nothing.
    assert_eq!(e.rules_holding(DeviceIndex(7)), 0);
}
