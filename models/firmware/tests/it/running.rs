//! Telemetry, buffering, backoff, keep-alive, twin, methods and C2D while running.

use crate::harness::*;
use firmware::{DisconnectReason, DropReason, OverflowPolicy, Peer, Record};
use iot_messages::Msg;
use serde_json::json;
use sim::{SimDuration, SimTime};

#[test]
fn telemetry_goes_out_every_interval_with_jitter_as_qos1_and_is_acknowledged() {
    let mut b = Bench::new(config());
    b.bring_up();
    let mut times = Vec::new();
    let mut acked = 0;
    while b.now < SimTime::from_secs(3_000) {
        let out = b.tick();
        for (pkid, _) in telemetry_pkids(&out) {
            times.push(b.now);
            let acks = b.deliver(Peer::Hub, Msg::PubAck { pkid });
            acked += records(&acks)
                .iter()
                .filter(|r| matches!(r, Record::Acked { .. }))
                .count();
        }
    }
    assert!(times.len() >= 9);
    for w in times.windows(2) {
        let gap = w[1].since(w[0]);
        assert!(
            gap >= SimDuration::from_secs(300) && gap < SimDuration::from_secs(305),
            "{gap:?}"
        );
    }
    assert_eq!(acked, times.len());
    assert_eq!(b.dev.buffered(), 0);
}

#[test]
fn a_full_buffer_drops_the_oldest_or_the_newest_and_records_why() {
    for policy in [OverflowPolicy::DropOldest, OverflowPolicy::DropNewest] {
        let mut cfg = config();
        cfg.buffer_capacity = 3;
        cfg.overflow = policy;
        let mut b = Bench::new(cfg);
        b.bring_up();
        b.disconnect(DisconnectReason::Network);
        // Offline for long enough to sample 5 times; the reconnect attempts go unanswered.
        let out = b.advance_to(SimTime::from_secs(1_600));
        let drops: Vec<u32> = records(&out)
            .iter()
            .filter_map(|r| match r {
                Record::Dropped {
                    seq,
                    reason: DropReason::Overflow,
                } => Some(*seq),
                _ => None,
            })
            .collect();
        let buffered: Vec<u32> = b.dev.buffered_seqs().collect();
        match policy {
            OverflowPolicy::DropOldest => {
                assert_eq!(drops, vec![0, 1]);
                assert_eq!(buffered, vec![2, 3, 4]);
            }
            OverflowPolicy::DropNewest => {
                assert_eq!(drops, vec![3, 4]);
                assert_eq!(buffered, vec![0, 1, 2]);
            }
        }
    }
}

#[test]
fn a_device_closed_with_429_backs_off_with_growing_full_jitter_and_resends_its_backlog() {
    let mut cfg = config();
    cfg.ack_timeout = SimDuration::from_hours(1);
    let mut b = Bench::new(cfg);
    b.bring_up();
    b.advance_to(SimTime::from_secs(400)); // one sample in flight, unacknowledged
    assert_eq!(b.dev.buffered(), 1);
    let mut delays = Vec::new();
    b.disconnect(DisconnectReason::Server(429_001));
    for attempt in 0..6u32 {
        let before = b.now;
        let out = b.tick();
        // Stop at the reconnect (samples may fire in between).
        if !sends(&out)
            .iter()
            .any(|(_, m)| matches!(m, Msg::Connect { .. }))
        {
            continue;
        }
        let d = b.now.since(before);
        assert!(
            d <= SimDuration::from_secs(1 << attempt.min(8)),
            "attempt {attempt}: {d:?}"
        );
        delays.push(d);
        if attempt < 5 {
            b.disconnect(DisconnectReason::Server(429_001));
        }
    }
    assert!(delays.len() >= 4);
    assert_eq!(b.dev.stats.throttled, 6);
    let out = b.connect_hub(1);
    let resent = telemetry_pkids(&out);
    assert_eq!(resent.len(), b.dev.buffered().min(4));
    assert_eq!(resent[0].1, 0, "the backlog goes first");
}

#[test]
fn an_idle_connection_sends_pingreq_each_keep_alive() {
    let mut cfg = config();
    cfg.telemetry_interval = SimDuration::from_hours(10);
    cfg.token_ttl = SimDuration::from_hours(20);
    let mut b = Bench::new(cfg);
    b.bring_up();
    let start = b.now;
    let out = b.tick();
    assert_eq!(sends(&out), vec![(Peer::Hub, Msg::PingReq)]);
    assert_eq!(b.now, start + SimDuration::from_secs(240));
}

#[test]
fn desired_patches_apply_in_version_order_and_stale_ones_after_the_get_are_ignored() {
    let mut b = Bench::new(config());
    b.bring_up(); // the GET returned desired $version 1
    let patch = |v: u64, body: serde_json::Value| Msg::TwinDesired {
        version: v,
        body: serde_json::to_vec(&body).unwrap().into(),
    };
    b.deliver(
        Peer::Hub,
        patch(1, json!({"telemetry_interval_s": 999, "$version": 1})),
    );
    assert_eq!(b.dev.stats.stale_desired_ignored, 1);
    let out = b.deliver(
        Peer::Hub,
        patch(2, json!({"telemetry_interval_s": 60, "$version": 2})),
    );
    assert_eq!(b.dev.desired_version(), 2);
    assert_eq!(b.dev.flash().interval_s, 60);
    assert!(sends(&out)
        .iter()
        .any(|(_, m)| matches!(m, Msg::TwinPatchReported { .. })));
    // A gap (4 after 2) fetches the whole twin instead of applying out of order.
    let out = b.deliver(Peer::Hub, patch(4, json!({"x": 1, "$version": 4})));
    assert!(matches!(
        &sends(&out)[..],
        [(Peer::Hub, Msg::TwinGet { .. })]
    ));
    assert_eq!(b.dev.desired_version(), 2);
    assert_eq!(b.logic.desired.len(), 2, "the GET document and version 2");
}

#[test]
fn methods_and_c2d_messages_reach_the_scenario_logic_and_are_answered() {
    let mut b = Bench::new(config());
    b.bring_up();
    let out = b.deliver(
        Peer::Hub,
        Msg::MethodPost {
            name: "locate".into(),
            rid: 77,
            body: b"{}".to_vec().into(),
        },
    );
    assert_eq!(
        sends(&out),
        vec![(
            Peer::Hub,
            Msg::MethodRes {
                status: 200,
                rid: 77,
                body: b"{\"ok\":true}".to_vec().into()
            }
        )]
    );
    let out = b.deliver(
        Peer::Hub,
        Msg::C2d {
            pkid: 9,
            device: "cow-1".into(),
            bag: "cmd=beep".into(),
            body: b"{}".to_vec().into(),
        },
    );
    assert_eq!(sends(&out), vec![(Peer::Hub, Msg::PubAck { pkid: 9 })]);
    assert_eq!(b.logic.methods, vec!["locate"]);
    assert_eq!(b.logic.c2d, vec!["cmd=beep"]);
}
