//! Tiers, quota, throttles and size limits (reference §1.1-§1.3).

use crate::common::*;
use hub::{ConnId, HubConfig, HubError, HubOutput, Tier};
use iot_messages::{ConnectCode, Msg, SubFilters};
use sim::{SimDuration, SimTime};
use std::sync::Arc;

#[test]
fn a_hub_over_the_s1_d2c_throttle_first_accepts_then_delays_then_refuses_with_429() {
    // 200 msg/s into an S1 hub (100/s): the reference's own example (§1.2).
    let devices = 20;
    let mut h = hub_with(HubConfig::s1("hub-a"), devices);
    for i in 0..devices {
        online(&mut h, SimTime::ZERO, i, SubFilters::default());
    }
    let mut first_delay_s = None;
    let mut first_429_s = None;
    let mut latency_at = Vec::new();
    let mut seq = 0u32;
    for k in 0..(200 * 150u64) {
        let now = SimTime::from_millis(k * 5);
        let i = (k % u64::from(devices)) as u32;
        seq += 1;
        h.handle_packet(
            now,
            ConnId(i),
            &telemetry(i, (seq % 60_000 + 1) as u16, seq, 38.0),
        );
        for o in drain(&mut h) {
            match o {
                HubOutput::ToDevice {
                    at,
                    msg: Msg::PubAck { .. },
                    ..
                } => {
                    let lat = at.since(now);
                    if !lat.is_zero() && first_delay_s.is_none() {
                        first_delay_s = Some(now.as_secs());
                    }
                    latency_at.push((now.as_secs(), lat));
                }
                HubOutput::Disconnect {
                    reason: HubError::Throttled,
                    ..
                } => {
                    first_429_s.get_or_insert(now.as_secs());
                    // The device reconnects at once (the firmware would back off first).
                    let m = connect_msg(&h, &id(i), unix(now) + 3_600);
                    h.handle_packet(now, ConnId(i), &m);
                    drain(&mut h);
                }
                _ => {}
            }
        }
    }
    let first_delay_s = first_delay_s.expect("latency must rise");
    let first_429_s = first_429_s.expect("429 must come");
    assert!(
        (59..=61).contains(&first_delay_s),
        "burst lasts a minute: {first_delay_s}"
    );
    assert!(
        (119..=121).contains(&first_429_s),
        "queue fills after another minute: {first_429_s}"
    );
    let max_latency = latency_at.iter().map(|(_, l)| *l).max().unwrap();
    assert!(max_latency <= SimDuration::from_secs(60));
    assert!(max_latency >= SimDuration::from_secs(59));
    // Accepted throughput after the burst equals the throttle rate.
    let accepted_late = latency_at.iter().filter(|(s, _)| *s >= 130).count();
    assert!(
        (1_950..=2_050).contains(&accepted_late),
        "{accepted_late} in 20 s at 100/s"
    );
    assert!(h.counters().d2c_throttled > 0);
}

#[test]
fn the_free_tier_quota_is_metered_in_half_kilobyte_chunks_and_refuses_with_403002_until_the_next_utc_day(
) {
    let mut cfg = HubConfig::s1("hub-f");
    cfg.tier = Tier::F1;
    let mut h = hub_with(cfg, 1);
    online(&mut h, SimTime::ZERO, 0, SubFilters::default());
    let body: Arc<[u8]> = vec![b'x'; 1_000].into(); // 2 chunks of 0.5 KB
    let mut now = SimTime::ZERO;
    let mut accepted = 0;
    let mut refused_at = None;
    for k in 0..5_000u32 {
        now = SimTime::from_millis(u64::from(k) * 100);
        let m = Msg::D2c {
            pkid: (k % 60_000 + 1) as u16,
            device: id(0).into(),
            bag: "".into(),
            body: body.clone(),
        };
        h.handle_packet(now, ConnId(0), &m);
        if h.poll_timeout().is_some_and(|t| t <= now) {
            h.handle_timeout(now);
        }
        for o in drain(&mut h) {
            match o {
                HubOutput::ToDevice {
                    msg: Msg::PubAck { .. },
                    ..
                } => accepted += 1,
                HubOutput::Disconnect { reason, .. } => {
                    assert_eq!(reason, HubError::QuotaExceeded);
                    refused_at.get_or_insert(now);
                    online(&mut h, now, 0, SubFilters::default());
                }
                _ => {}
            }
        }
    }
    assert_eq!(accepted, 4_000, "8,000 chunks / 2 per message");
    assert_eq!(h.quota_used(), 8_000);
    assert!(refused_at.is_some());
    // Still refused later the same day, accepted after UTC midnight.
    let late = SimTime::from_secs(86_399);
    online(&mut h, late, 0, SubFilters::default());
    h.handle_packet(late, ConnId(0), &telemetry(0, 1, 1, 38.0));
    assert!(matches!(
        drain(&mut h)[..],
        [HubOutput::Disconnect {
            reason: HubError::QuotaExceeded,
            ..
        }]
    ));
    let midnight = sim::Epoch::DEFAULT.next_utc_midnight(late);
    online(&mut h, midnight, 0, SubFilters::default());
    h.handle_packet(midnight, ConnId(0), &telemetry(0, 2, 2, 38.0));
    assert!(matches!(
        drain(&mut h)[..],
        [HubOutput::ToDevice {
            msg: Msg::PubAck { pkid: 2 },
            ..
        }]
    ));
    assert_eq!(h.quota_used(), 1);
    let _ = now;
}

#[test]
fn a_paid_hub_meters_a_six_kilobyte_message_as_two() {
    let mut h = hub_with(HubConfig::s1("hub-a"), 1);
    online(&mut h, SimTime::ZERO, 0, SubFilters::default());
    let m = Msg::D2c {
        pkid: 1,
        device: id(0).into(),
        bag: "".into(),
        body: vec![0u8; 6 * 1024].into(),
    };
    h.handle_packet(SimTime::ZERO, ConnId(0), &m);
    h.handle_packet(SimTime::ZERO, ConnId(0), &telemetry(0, 2, 1, 38.0));
    assert_eq!(h.quota_used(), 3);
}

#[test]
fn a_d2c_message_over_256_kilobytes_is_refused() {
    let mut h = hub_with(HubConfig::s1("hub-a"), 1);
    online(&mut h, SimTime::ZERO, 0, SubFilters::default());
    let m = Msg::D2c {
        pkid: 1,
        device: id(0).into(),
        bag: "".into(),
        body: vec![0u8; 256 * 1024 + 1].into(),
    };
    h.handle_packet(SimTime::ZERO, ConnId(0), &m);
    assert!(matches!(
        drain(&mut h)[..],
        [HubOutput::Disconnect {
            reason: HubError::MessageTooLarge,
            ..
        }]
    ));
    assert_eq!(h.counters().d2c_too_large, 1);
}

#[test]
fn new_connections_beyond_the_burst_are_queued_at_100_per_second_then_refused() {
    let n = 15_000;
    let mut h = hub_with(HubConfig::s1("hub-a"), n);
    let now = SimTime::from_secs(10);
    let mut codes = Vec::new();
    for i in 0..n {
        let m = connect_msg(&h, &id(i), unix(now) + 3_600);
        h.handle_packet(now, ConnId(i), &m);
        for o in drain(&mut h) {
            if let HubOutput::ToDevice {
                at,
                msg: Msg::ConnAck { code },
                ..
            } = o
            {
                codes.push((code, at));
            }
        }
    }
    let accepted_now = codes
        .iter()
        .filter(|(c, at)| *c == ConnectCode::Accepted && *at == now)
        .count();
    let queued = codes
        .iter()
        .filter(|(c, at)| *c == ConnectCode::Accepted && *at > now)
        .count();
    let refused = codes
        .iter()
        .filter(|(c, _)| *c == ConnectCode::ServerUnavailable)
        .count();
    // 60 s of burst and 60 s of queue at 100/s (plus the one at backlog 0).
    assert_eq!(accepted_now, 6_001);
    assert_eq!(queued, 6_000);
    assert_eq!(refused, 15_000 - 12_001);
    let last = codes.iter().map(|(_, at)| *at).max().unwrap();
    assert_eq!(last, now + SimDuration::from_secs(60));
}

#[test]
fn a_device_may_hold_at_most_five_subscriptions_and_basic_tiers_refuse_twin_and_methods() {
    let mut cfg = HubConfig::s1("hub-b");
    cfg.tier = Tier::B1;
    let mut h = hub_with(cfg, 1);
    online(&mut h, SimTime::ZERO, 0, SubFilters::default());
    h.handle_packet(
        SimTime::ZERO,
        ConnId(0),
        &Msg::Subscribe {
            pkid: 4,
            device: id(0).into(),
            filters: SubFilters::ALL_HUB.union(SubFilters::DPS_RES),
        },
    );
    let out = drain(&mut h);
    // On Basic: C2D is refused too (Standard only), as are twin, methods and the DPS filter.
    assert_eq!(
        out,
        vec![HubOutput::ToDevice {
            at: SimTime::ZERO,
            conn: ConnId(0),
            msg: Msg::SubAck {
                pkid: 4,
                count: 5,
                refused_mask: 0b11111
            }
        }]
    );
}
