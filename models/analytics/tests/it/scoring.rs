//! Ground-truth scoring with planted episodes: exact precision, recall and latency.

use analytics::{score_rule, Alert, AnalyticsConfig, RuleEngine, RuleId, TruthEpisode};
use sim::{Epoch, SimDuration, SimTime};
use store::{DeviceIndex, IngestEvent, Schema};

fn hm(h: u64, m: u64) -> SimTime {
    SimTime::from_secs(h * 3_600 + m * 60)
}

fn episode(kind: &str, device: u32, start: SimTime, end: SimTime) -> TruthEpisode {
    TruthEpisode {
        kind: kind.to_owned(),
        device: DeviceIndex(device),
        start,
        end,
    }
}

fn alert(device: u32, at: SimTime) -> Alert {
    Alert {
        rule: RuleId(0),
        device: DeviceIndex(device),
        raised_at: at,
        reading_time: at,
    }
}

#[test]
fn planted_episodes_give_exact_precision_recall_and_latency() {
    let truth = vec![
        episode("fever", 1, hm(10, 0), hm(14, 0)),
        episode("fever", 2, hm(0, 0), hm(2, 0)),
        episode("fever", 3, hm(5, 0), hm(6, 0)),
        episode("fever", 1, hm(20, 0), hm(22, 0)),
        episode("fever", 4, hm(1, 0), hm(3, 0)),
        episode("stuck", 1, hm(0, 0), hm(23, 0)),
    ];
    let alerts = vec![
        alert(1, hm(10, 30)),
        alert(2, hm(2, 45)),
        alert(3, hm(7, 30)),
        alert(1, hm(20, 10)),
        alert(1, hm(20, 20)),
        alert(4, hm(0, 30)),
    ];
    let s = score_rule(
        "fever",
        "fever",
        &alerts,
        &truth,
        SimDuration::from_hours(1),
    );
    assert_eq!(s.episodes, 5);
    assert_eq!(s.detected, 3);
    assert_eq!(s.alerts, 6);
    assert_eq!(s.true_alerts, 3);
    assert_eq!(s.duplicate_alerts, 1);
    assert_eq!(
        s.false_alerts,
        vec![(DeviceIndex(4), hm(0, 30)), (DeviceIndex(3), hm(7, 30))]
    );
    assert_eq!(
        s.missed,
        vec![
            episode("fever", 3, hm(5, 0), hm(6, 0)),
            episode("fever", 4, hm(1, 0), hm(3, 0))
        ]
    );
    assert_eq!(s.precision, Some(0.6));
    assert_eq!(s.recall, Some(0.6));
    assert_eq!(s.latency_p50, Some(SimDuration::from_mins(30)));
    assert_eq!(s.latency_p99, Some(SimDuration::from_mins(165)));
    assert_eq!(s.latency_max, Some(SimDuration::from_mins(165)));
}

#[test]
fn the_engine_scores_its_fever_rule_against_the_herds_true_fevers() {
    let config: AnalyticsConfig = toml::from_str(
        r#"
[[rules]]
name = "fever"
truth = "fever"
conditions = [{ kind = "consecutive", column = "temp", op = "above", value = 39.5, clear = 39.2, readings = 2 }]
"#,
    )
    .unwrap();
    let mut e = RuleEngine::new(&config, &Schema::collar(), Epoch::DEFAULT).unwrap();
    // Cow 1 is febrile 06:00-12:00, cow 3 15:00-16:00; cow 2 is febrile 08:00-09:00 but
    // its loose collar reads normal; cow 4 has a one-reading spike that is no fever.
    let truth = vec![
        episode("fever", 1, hm(6, 0), hm(12, 0)),
        episode("fever", 3, hm(15, 0), hm(16, 0)),
        episode("fever", 2, hm(8, 0), hm(9, 0)),
    ];
    for i in 0..288u64 {
        let t = SimTime::from_secs(i * 300);
        for cow in 0..5u32 {
            let febrile = truth
                .iter()
                .any(|ep| ep.device.0 == cow && cow != 2 && t >= ep.start && t < ep.end);
            let spike = cow == 4 && i == 100;
            let temp = if febrile {
                40.1
            } else if spike {
                39.8
            } else {
                38.6
            };
            let reading = IngestEvent::new(DeviceIndex(cow), i as u32, t, t, &[46.9, 7.4, temp]);
            // The back end processes each reading 90 s after it was taken.
            e.handle_event(t + SimDuration::from_secs(90), &reading);
        }
    }
    let scores = e.score(&truth, SimDuration::from_mins(30));
    assert_eq!(scores.len(), 1);
    let s = &scores[0];
    assert_eq!((s.episodes, s.detected, s.alerts), (3, 2, 2));
    assert_eq!(s.precision, Some(1.0));
    assert_eq!(s.recall, Some(2.0 / 3.0));
    // Two readings 5 minutes apart, then 90 s of processing.
    let latency = SimDuration::from_secs(390);
    assert_eq!(s.latency_p50, Some(latency));
    assert_eq!(s.latency_max, Some(latency));
    assert_eq!(s.missed.len(), 1);
    assert_eq!(s.missed[0].device, DeviceIndex(2));
    assert!(s.false_alerts.is_empty());
}
