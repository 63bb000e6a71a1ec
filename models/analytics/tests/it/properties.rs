//! Properties of the rules against simple oracles, and determinism.

use analytics::{AnalyticsConfig, RuleEngine};
use proptest::prelude::*;
use sim::{Epoch, SimDuration, SimTime};
use store::{DeviceIndex, IngestEvent, Schema};

const M_PER_DEG: f64 = geometry::M_PER_DEG;

fn engine(rules: &str) -> RuleEngine {
    let config: AnalyticsConfig = toml::from_str(rules).unwrap();
    RuleEngine::new(&config, &Schema::collar(), Epoch::DEFAULT).unwrap()
}

/// The consecutive rule written the obvious way: alert times for a temperature series.
fn naive_fever(
    temps: &[f64],
    value: f64,
    clear: f64,
    readings: usize,
    cooldown_s: u64,
) -> Vec<u64> {
    let mut alerts = Vec::new();
    let mut active = false;
    let mut run = 0;
    let mut last_alert: Option<u64> = None;
    for (i, &t) in temps.iter().enumerate() {
        let now = i as u64 * 300;
        let was = active;
        if active {
            if t <= clear {
                active = false;
                run = 0;
            }
        } else if t > value {
            run += 1;
            active = run >= readings;
        } else {
            run = 0;
        }
        if active && !was && last_alert.is_none_or(|l| now >= l + cooldown_s) {
            alerts.push(now);
            last_alert = Some(now);
        }
    }
    alerts
}

proptest! {
    #[test]
    fn the_consecutive_rule_alerts_exactly_when_the_naive_state_machine_does(
        temps in proptest::collection::vec(38.0f64..41.0, 0..300),
        readings in 1usize..4,
        hysteresis in 0.0f64..0.8,
        cooldown_readings in 0u64..30,
    ) {
        let cooldown_s = cooldown_readings * 300;
        let mut e = engine(&format!(
            r#"
[[rules]]
name = "fever"
cooldown_s = {cooldown_s}
conditions = [{{ kind = "consecutive", column = "temp", op = "above", value = 39.5, clear = {}, readings = {readings} }}]
"#,
            39.5 - hysteresis
        ));
        for (i, &t) in temps.iter().enumerate() {
            let at = SimTime::from_secs(i as u64 * 300);
            e.handle_event(at, &IngestEvent::new(DeviceIndex(0), i as u32, at, at, &[46.9, 7.4, t]));
        }
        let got: Vec<u64> = e.alerts().iter().map(|a| a.raised_at.as_secs()).collect();
        prop_assert_eq!(got, naive_fever(&temps, 39.5, 39.5 - hysteresis, readings, cooldown_s));
    }

    #[test]
    fn a_cow_that_never_leaves_a_small_circle_is_flagged_once_after_the_window(
        offsets in proptest::collection::vec((-17.0f64..17.0, -17.0f64..17.0), 150..250),
    ) {
        // Every fix is within 25 m of the first, so within 50 m of the anchor.
        let mut e = engine(r#"
[[rules]]
name = "stuck"
conditions = [{ kind = "stuck", lat = "lat", lon = "lon", radius_m = 50.0, window_s = 43200 }]
"#);
        let cos = geometry::cos_deg(46.9);
        for (i, (n, east)) in offsets.iter().enumerate() {
            let at = SimTime::from_secs(i as u64 * 300);
            let lat = 46.9 + n / M_PER_DEG;
            let lon = 7.4 + east / (M_PER_DEG * cos);
            e.handle_event(at, &IngestEvent::new(DeviceIndex(0), i as u32, at, at, &[lat, lon, 38.6]));
        }
        let got: Vec<u64> = e.alerts().iter().map(|a| a.raised_at.as_secs()).collect();
        prop_assert_eq!(got, vec![43_200]);
    }

    #[test]
    fn a_cow_that_moves_more_than_the_radius_every_reading_is_never_stuck(
        headings in proptest::collection::vec(0u8..4, 0..400),
    ) {
        let mut e = engine(r#"
[[rules]]
name = "stuck"
conditions = [{ kind = "stuck", lat = "lat", lon = "lon", radius_m = 50.0, window_s = 3600 }]
"#);
        let cos = geometry::cos_deg(46.9);
        let (mut n, mut east) = (0.0, 0.0);
        for (i, h) in headings.iter().enumerate() {
            match h {
                0 => n += 60.0,
                1 => n -= 60.0,
                2 => east += 60.0,
                _ => east -= 60.0,
            }
            let at = SimTime::from_secs(i as u64 * 300);
            let reading = [46.9 + n / M_PER_DEG, 7.4 + east / (M_PER_DEG * cos), 38.6];
            e.handle_event(at, &IngestEvent::new(DeviceIndex(0), i as u32, at, at, &reading));
        }
        prop_assert!(e.alerts().is_empty());
    }
}

#[test]
fn the_same_readings_give_the_same_alerts_and_dashboard() {
    let rules = r#"
[[rules]]
name = "fever"
conditions = [{ kind = "consecutive", column = "temp", op = "above", value = 39.5, readings = 2 }]
[[rules]]
name = "stuck"
conditions = [{ kind = "stuck", lat = "lat", lon = "lon", radius_m = 50.0, window_s = 7200 }]
"#;
    let run = || {
        let mut e = engine(rules);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for i in 0..5_000u32 {
            // xorshift: a fixed pseudo-random herd, identical on every run.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = SimTime::ZERO + SimDuration::from_secs(u64::from(i) * 6);
            let temp = 38.0 + (x % 250) as f64 / 100.0;
            let north_m = if x % 3 == 0 { 100.0 } else { 0.0 };
            let reading = [46.9 + north_m / M_PER_DEG, 7.4, temp];
            e.handle_event(
                at,
                &IngestEvent::new(DeviceIndex(i % 50), i / 50, at, at, &reading),
            );
        }
        (e.alerts().to_vec(), e.render_dashboard(1_000), e.stats())
    };
    let (a, b) = (run(), run());
    assert!(!a.0.is_empty());
    assert_eq!(a, b);
}
