//! Boot, provisioning, connection, token renewal, reboot (reference §2.1, §1.5, §1.6).

use crate::harness::*;
use firmware::{DeviceOutput, DisconnectReason, DropReason, Peer, Record};
use iot_messages::sas::{device_resource_uri, dps_resource_uri, SasToken};
use iot_messages::{ConnectCode, Msg, SubFilters};
use sim::{SimDuration, SimTime};

#[test]
fn a_device_provisions_through_dps_connects_with_a_sas_token_subscribes_and_gets_its_twin() {
    let mut b = Bench::new(config());
    let out = b.bring_up();
    let seq: Vec<(Peer, &'static str)> = sends(&out).iter().map(|(p, m)| (*p, m.kind())).collect();
    assert_eq!(
        seq,
        vec![
            (Peer::Dps, "connect"),
            (Peer::Dps, "subscribe"),
            (Peer::Dps, "dps_register"),
            (Peer::Dps, "dps_poll"),
            (Peer::Hub, "connect"),
            (Peer::Hub, "subscribe"),
            (Peer::Hub, "twin_get"),
            (Peer::Hub, "twin_patch"),
        ]
    );
    let s = sends(&out);
    let (
        Msg::Connect {
            password: dps_pw,
            username: dps_user,
            ..
        },
        Msg::Connect {
            password: hub_pw,
            username: hub_user,
            ..
        },
    ) = (&s[0].1, &s[4].1)
    else {
        panic!("connects");
    };
    assert_eq!(
        &**dps_user,
        "0ne00000001/registrations/cow-1/api-version=2019-03-31"
    );
    assert_eq!(
        &**hub_user,
        "hub-a.azure-devices.net/cow-1/?api-version=2021-04-12"
    );
    let now_unix = sim::Epoch::DEFAULT.unix_secs() as u64;
    let dps = SasToken::verify(
        dps_pw,
        &dps_resource_uri(SCOPE, "cow-1"),
        &[7; 32],
        now_unix,
    )
    .unwrap();
    assert_eq!(dps.policy.as_deref(), Some("registration"));
    let hub = SasToken::verify(
        hub_pw,
        &device_resource_uri(HUB, "cow-1"),
        &[7; 32],
        now_unix,
    )
    .unwrap();
    assert_eq!(hub.policy, None);
    assert_eq!(hub.expiry_unix_s, now_unix + 3 + 3_600);
    // The poll went out exactly after the 3 s retry-after; at most 5 subscriptions.
    assert!(
        matches!(&s[5].1, Msg::Subscribe { filters, .. } if *filters == SubFilters::ALL_HUB && filters.count() <= 5)
    );
    assert!(out
        .iter()
        .any(|o| matches!(o, DeviceOutput::Close { peer: Peer::Dps })));
    assert_eq!(b.dev.assigned_hub().map(|h| &**h), Some(HUB));
}

#[test]
fn the_token_is_renewed_by_reconnecting_before_it_expires() {
    let mut b = Bench::new(config());
    b.bring_up();
    let connected_at = b.now;
    // Keep acknowledging so nothing but the token forces a reconnect.
    let mut renewed_at = None;
    while renewed_at.is_none() {
        let out = b.tick();
        for (pkid, _) in telemetry_pkids(&out) {
            b.deliver(Peer::Hub, Msg::PubAck { pkid });
        }
        if sends(&out)
            .iter()
            .any(|(p, m)| *p == Peer::Hub && matches!(m, Msg::Connect { .. }))
        {
            renewed_at = Some(b.now);
        }
    }
    assert_eq!(
        renewed_at.unwrap(),
        connected_at + SimDuration::from_mins(55)
    );
    assert_eq!(b.dev.stats.token_renewals, 1);
}

#[test]
fn a_reboot_loses_ram_keeps_flash_and_never_reuses_a_sequence_number() {
    let mut cfg = config();
    cfg.ack_timeout = SimDuration::from_hours(1);
    let mut b = Bench::new(cfg);
    b.bring_up();
    // Two samples, unacknowledged.
    let mut out = b.advance_to(SimTime::from_secs(700));
    let sampled: Vec<u32> = records(&out)
        .iter()
        .filter_map(|r| match r {
            Record::Sampled { seq } => Some(*seq),
            _ => None,
        })
        .collect();
    assert_eq!(sampled.len(), 2);
    out = b.crash();
    let dropped: Vec<u32> = records(&out)
        .iter()
        .filter_map(|r| match r {
            Record::Dropped {
                seq,
                reason: DropReason::Reboot,
            } => Some(*seq),
            _ => None,
        })
        .collect();
    assert_eq!(dropped, sampled);
    assert!(out.contains(&DeviceOutput::Close { peer: Peer::Hub }));
    assert!(b.dev.is_off());
    // Power on: straight to the hub from flash, no DPS.
    let out = b.power_on();
    assert!(matches!(
        &sends(&out)[..],
        [(Peer::Hub, Msg::Connect { .. })]
    ));
    b.connect_hub(1);
    let out = b.advance_to(SimTime::from_secs(1_500));
    let after: Vec<u32> = records(&out)
        .iter()
        .filter_map(|r| match r {
            Record::Sampled { seq } => Some(*seq),
            _ => None,
        })
        .collect();
    assert!(!after.is_empty());
    assert!(
        after.iter().all(|s| *s >= 64),
        "the reserved block is skipped: {after:?}"
    );
    assert_eq!(b.dev.flash().assigned_hub.as_deref(), Some(HUB));
}

#[test]
fn three_refused_hub_connects_send_the_device_back_to_dps() {
    let mut b = Bench::new(config());
    b.bring_up();
    b.disconnect(DisconnectReason::Network);
    for _ in 0..3 {
        let out = b.tick();
        assert!(matches!(
            sends(&out).last(),
            Some((Peer::Hub, Msg::Connect { .. }))
        ));
        b.deliver(
            Peer::Hub,
            Msg::ConnAck {
                code: ConnectCode::NotAuthorized,
            },
        );
    }
    assert_eq!(b.dev.assigned_hub(), None);
    let out = b.tick();
    assert!(matches!(
        sends(&out).last(),
        Some((Peer::Dps, Msg::Connect { .. }))
    ));
}

#[test]
fn an_unanswered_dps_request_times_out_into_a_backoff() {
    let mut b = Bench::new(config());
    b.power_on();
    let out = b.tick(); // request timeout of the CONNECT
    assert_eq!(b.now, SimTime::from_secs(30));
    assert!(out.contains(&DeviceOutput::Close { peer: Peer::Dps }));
    assert_eq!(b.dev.stats.backoffs, 1);
}

#[test]
fn a_device_with_an_assignment_in_flash_from_an_earlier_day_connects_straight_to_its_hub() {
    let mut b = Bench::new(config());
    b.dev
        .install_assignment("hub-a.azure-devices.net".into(), "cow-1".into());
    let mut out = b.power_on();
    if sends(&out).is_empty() {
        out = b.tick();
    }
    let s = sends(&out);
    let Some((
        Peer::Hub,
        Msg::Connect {
            username, password, ..
        },
    )) = s.first()
    else {
        panic!("expected a hub connect first, got {s:?}");
    };
    assert_eq!(
        &**username,
        "hub-a.azure-devices.net/cow-1/?api-version=2021-04-12"
    );
    SasToken::verify(
        password,
        &device_resource_uri("hub-a.azure-devices.net", "cow-1"),
        &[7; 32],
        sim::Epoch::DEFAULT.unix_secs() as u64,
    )
    .expect("signed with the device key");
    assert!(s.iter().all(|(p, _)| *p == Peer::Hub), "no DPS traffic");
    assert_eq!(
        b.dev.assigned_hub().map(|h| &**h),
        Some("hub-a.azure-devices.net")
    );
}

#[test]
fn a_throttled_twin_read_keeps_the_connection_sends_telemetry_and_asks_again_later() {
    let mut b = Bench::new(config());
    b.dev
        .install_assignment("hub-a.azure-devices.net".into(), "cow-1".into());
    b.power_on();
    let out = b.accept_hub_connection();
    let first = last_rid(&out);
    let out = b.deliver(
        Peer::Hub,
        Msg::TwinRes {
            status: 429,
            rid: first,
            version: None,
            body: Vec::new().into(),
        },
    );
    assert!(
        !out.iter().any(|o| matches!(o, DeviceOutput::Close { .. })),
        "a throttled twin read does not close the connection: {out:?}"
    );
    assert!(b.dev.is_running(), "telemetry flows while the twin waits");
    // Within the first backoff cap (1 s) the device asks for the twin again, on the same
    // connection, with a new request id.
    let retry = b.advance_to(b.now + SimDuration::from_secs(1));
    let gets: Vec<u32> = sends(&retry)
        .iter()
        .filter_map(|(p, m)| match (p, m) {
            (Peer::Hub, Msg::TwinGet { rid }) => Some(*rid),
            _ => None,
        })
        .collect();
    assert_eq!(gets.len(), 1, "one retry: {retry:?}");
    assert_ne!(gets[0], first);
    assert!(!retry
        .iter()
        .any(|o| matches!(o, DeviceOutput::Close { .. })));
    // Telemetry goes out on the same connection meanwhile.
    let later = b.advance_to(b.now + SimDuration::from_secs(600));
    assert!(sends(&later)
        .iter()
        .any(|(p, m)| *p == Peer::Hub && m.kind() == "d2c"));
}

#[test]
fn a_device_with_a_model_announces_its_id_in_the_hub_username_only() {
    let mut cfg = config();
    cfg.model_id = Some("dtmi:fleetsim:herd:CattleCollar;1".into());
    let mut b = Bench::new(cfg);
    let s = sends(&b.bring_up());
    let users: Vec<(Peer, String)> = s
        .iter()
        .filter_map(|(p, m)| match m {
            Msg::Connect { username, .. } => Some((*p, username.to_string())),
            _ => None,
        })
        .collect();
    assert_eq!(
        users,
        [
            (
                Peer::Dps,
                "0ne00000001/registrations/cow-1/api-version=2019-03-31".to_string()
            ),
            (
                Peer::Hub,
                "hub-a.azure-devices.net/cow-1/?api-version=2021-04-12&model-id=dtmi:fleetsim:herd:CattleCollar;1"
                    .to_string()
            ),
        ]
    );
}
