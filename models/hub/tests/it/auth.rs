//! Registry and authentication rules (reference §1.4, §1.5).

use crate::common::*;
use hub::{ConnId, HubConfig, HubError, HubOutput};
use iot_messages::sas::{device_resource_uri, SasRefusal, SasToken};
use iot_messages::wire::hub_username;
use iot_messages::{ConnectCode, Msg, SubFilters};
use sim::{SimDuration, SimTime};

fn connack(out: &[HubOutput]) -> Option<ConnectCode> {
    out.iter().find_map(|o| match o {
        HubOutput::ToDevice {
            msg: Msg::ConnAck { code },
            ..
        } => Some(*code),
        _ => None,
    })
}

#[test]
fn a_bad_signature_an_expired_token_a_disabled_device_and_an_unknown_device_are_refused_and_counted(
) {
    let mut h = hub_with(HubConfig::s1("hub-a"), 2);
    let t = SimTime::from_secs(100);
    let uri = device_resource_uri(h.host(), "cow-0");
    let bad_sig = Msg::Connect {
        client_id: "cow-0".into(),
        username: hub_username(h.host(), "cow-0").into(),
        password: SasToken::sign(&uri, &[8; 32], unix(t) + 60, None).into(),
        keep_alive_s: 60,
    };
    h.handle_packet(t, ConnId(0), &bad_sig);
    assert_eq!(connack(&drain(&mut h)), Some(ConnectCode::NotAuthorized));
    let expired = connect_msg(&h, "cow-0", unix(t));
    h.handle_packet(t, ConnId(0), &expired);
    assert_eq!(connack(&drain(&mut h)), Some(ConnectCode::NotAuthorized));
    // cow-0's token presented by cow-1 covers the wrong resource.
    let mut stolen = connect_msg(&h, "cow-0", unix(t) + 60);
    if let Msg::Connect {
        client_id,
        username,
        ..
    } = &mut stolen
    {
        *client_id = "cow-1".into();
        *username = hub_username(h.host(), "cow-1").into();
    }
    h.handle_packet(t, ConnId(1), &stolen);
    assert_eq!(connack(&drain(&mut h)), Some(ConnectCode::NotAuthorized));
    h.set_enabled(t, "cow-1", false);
    let disabled = connect_msg(&h, "cow-1", unix(t) + 60);
    h.handle_packet(t, ConnId(1), &disabled);
    assert_eq!(connack(&drain(&mut h)), Some(ConnectCode::NotAuthorized));
    let unknown = connect_msg(&h, "cow-9", unix(t) + 60);
    h.handle_packet(t, ConnId(9), &unknown);
    assert_eq!(connack(&drain(&mut h)), Some(ConnectCode::NotAuthorized));
    let c = h.counters();
    assert_eq!(c.auth_refused(SasRefusal::BadSignature), 1);
    assert_eq!(c.auth_refused(SasRefusal::Expired), 1);
    assert_eq!(c.auth_refused(SasRefusal::WrongResource), 1);
    assert_eq!(c.auth_disabled_device, 1);
    assert_eq!(c.auth_unknown_device, 1);
    assert_eq!(c.connects_accepted, 0);
}

#[test]
fn a_device_publishing_on_another_devices_topic_is_disconnected_and_counted() {
    let mut h = hub_with(HubConfig::s1("hub-a"), 2);
    let t = SimTime::from_secs(1);
    online(&mut h, t, 0, SubFilters::default());
    h.handle_packet(t, ConnId(0), &telemetry(1, 1, 0, 38.0));
    let out = drain(&mut h);
    assert_eq!(
        out,
        vec![HubOutput::Disconnect {
            at: t,
            conn: ConnId(0),
            reason: HubError::UnauthorizedTopic
        }]
    );
    assert_eq!(h.counters().unauthorized_topic, 1);
    assert_eq!(h.counters().d2c_accepted, 0);
}

#[test]
fn a_new_connection_drops_the_old_one_with_400027() {
    let mut h = hub_with(HubConfig::s1("hub-a"), 1);
    online(&mut h, SimTime::from_secs(1), 0, SubFilters::default());
    let m = connect_msg(&h, "cow-0", unix(SimTime::from_secs(2)) + 600);
    h.handle_packet(SimTime::from_secs(2), ConnId(7), &m);
    let out = drain(&mut h);
    assert!(out.contains(&HubOutput::Disconnect {
        at: SimTime::from_secs(2),
        conn: ConnId(0),
        reason: HubError::ReplacedByNewConnection
    }));
    assert_eq!(h.device_on(ConnId(7)).map(|d| d.0), Some(0));
    assert_eq!(h.device_on(ConnId(0)), None);
    assert_eq!(h.connected_count(), 1);
}

#[test]
fn an_expiring_token_disconnects_the_device_at_the_next_sweep() {
    let mut h = hub_with(HubConfig::s1("hub-a"), 1);
    let t = SimTime::from_secs(5);
    let m = connect_msg(&h, "cow-0", unix(t) + 30);
    h.handle_packet(t, ConnId(0), &m);
    drain(&mut h);
    // Keep the connection alive with pings so only the token can end it.
    let mut now = t;
    let mut reason = None;
    while reason.is_none() && now < SimTime::from_secs(120) {
        now += SimDuration::from_secs(5);
        h.handle_packet(now, ConnId(0), &Msg::PingReq);
        if h.poll_timeout().is_some_and(|w| w <= now) {
            h.handle_timeout(now);
        }
        reason = drain(&mut h).into_iter().find_map(|o| match o {
            HubOutput::Disconnect { reason, .. } => Some(reason),
            _ => None,
        });
    }
    assert_eq!(reason, Some(HubError::TokenExpired));
    assert!(now >= t + SimDuration::from_secs(30) && now <= t + SimDuration::from_secs(45));
}

#[test]
fn a_silent_device_is_closed_after_one_and_a_half_keep_alives() {
    let mut h = hub_with(HubConfig::s1("hub-a"), 1);
    online(&mut h, SimTime::ZERO, 0, SubFilters::default()); // keep-alive 240 s
    let mut closed_at = None;
    while closed_at.is_none() {
        let now = h.poll_timeout().expect("a connected device arms the sweep");
        h.handle_timeout(now);
        if drain(&mut h).iter().any(|o| {
            matches!(
                o,
                HubOutput::Disconnect {
                    reason: HubError::KeepAliveTimeout,
                    ..
                }
            )
        }) {
            closed_at = Some(now);
        }
    }
    let closed_at = closed_at.unwrap();
    assert!(
        closed_at >= SimTime::from_secs(360) && closed_at < SimTime::from_secs(370),
        "{closed_at:?}"
    );
    assert!(!h.device_info("cow-0").unwrap().connected);
}

#[test]
fn disabling_or_re_creating_a_connected_device_closes_its_connection_and_re_creation_bumps_the_generation(
) {
    let mut h = hub_with(HubConfig::s1("hub-a"), 1);
    online(&mut h, SimTime::from_secs(1), 0, SubFilters::default());
    assert_eq!(h.device_info("cow-0").unwrap().generation, 1);
    assert!(h.set_enabled(SimTime::from_secs(2), "cow-0", false));
    assert!(matches!(
        drain(&mut h)[..],
        [HubOutput::Disconnect {
            reason: HubError::DeviceNotFound,
            ..
        }]
    ));
    assert!(!h.device_info("cow-0").unwrap().connected);
    h.set_enabled(SimTime::from_secs(3), "cow-0", true);
    online(&mut h, SimTime::from_secs(3), 0, SubFilters::default());
    let id = iot_messages::DeviceId::new("cow-0").unwrap();
    h.register_device(SimTime::from_secs(4), &id, &KEY, None)
        .unwrap();
    assert_eq!(
        drain(&mut h).len(),
        1,
        "the old identity's connection is closed"
    );
    assert_eq!(h.device_info("cow-0").unwrap().generation, 2);
}

#[test]
fn a_plug_and_play_device_announces_its_model_id_and_its_messages_carry_it() {
    use iot_messages::wire::{hub_username_with_model, username_model_id};
    let mut h = hub_with(HubConfig::s1("hub-a"), 3);
    let t = SimTime::from_secs(10);
    let model = "dtmi:com:example:Thermostat;1";
    assert_eq!(
        username_model_id(&hub_username_with_model(h.host(), "cow-0", Some(model))),
        Some(model)
    );
    assert_eq!(username_model_id(&hub_username(h.host(), "cow-0")), None);
    for (i, m) in [(0, Some(model)), (1, None), (2, Some(model))] {
        let mut c = connect_msg(&h, &id(i), unix(t) + 3_600);
        if let Msg::Connect { username, .. } = &mut c {
            *username = hub_username_with_model(h.host(), &id(i), m).into();
        }
        h.handle_packet(t, ConnId(i), &c);
        assert_eq!(connack(&drain(&mut h)), Some(ConnectCode::Accepted));
        h.handle_packet(t, ConnId(i), &telemetry(i, 1, 1, 38.5));
        drain(&mut h);
    }
    let ix = |i: u32| h.device(&id(i)).unwrap().0;
    assert_eq!(h.device_model(ix(0)).map(|m| &**m), Some(model));
    assert_eq!(h.device_model(ix(1)), None);
    let mut stamped: Vec<(u32, Option<String>)> = h.endpoints()[0]
        .partitions
        .iter()
        .flat_map(|p| p.read_from(0))
        .map(|m| (m.device, h.model_id(m.model).map(|s| s.to_string())))
        .collect();
    stamped.sort();
    assert_eq!(
        stamped,
        [
            (ix(0), Some(model.to_string())),
            (ix(1), None),
            (ix(2), Some(model.to_string()))
        ]
    );
}

#[test]
fn a_gateway_publishes_for_its_children_only_and_their_messages_are_theirs() {
    let mut h = hub_with(HubConfig::s1("hub-a"), 3);
    let t = SimTime::from_secs(1);
    online(&mut h, t, 0, SubFilters::default());
    assert!(h.set_parent(&id(1), &id(0)));
    assert!(!h.set_parent("cow-99", &id(0)), "an unknown child");
    assert_eq!(h.parent_of(1), Some(0));
    h.handle_child_session(
        &id(1),
        "hub-a.azure-devices.net/cow-1/?api-version=2021-04-12&model-id=dtmi:x:Collar;1",
    );
    // The gateway (cow-0) publishes cow-1's reading on its own connection.
    h.handle_packet(t, ConnId(0), &telemetry(1, 0x8001, 5, 38.0));
    let out = drain(&mut h);
    assert!(out.contains(&HubOutput::ToDevice {
        at: t,
        conn: ConnId(0),
        msg: Msg::PubAck { pkid: 0x8001 }
    }));
    let e = &h.endpoints()[0];
    let m = e
        .partitions
        .iter()
        .flat_map(|p| p.read_from(0))
        .next()
        .expect("routed");
    assert_eq!(
        h.device_id(m.device).map(|d| &**d),
        Some("cow-1"),
        "the child's message"
    );
    assert_eq!(h.model_id(m.model).map(|d| &**d), Some("dtmi:x:Collar;1"));
    // cow-2 is no child of cow-0: its reading on cow-0's connection is refused.
    h.handle_packet(t, ConnId(0), &telemetry(2, 0x8002, 1, 38.0));
    assert!(drain(&mut h).contains(&HubOutput::Disconnect {
        at: t,
        conn: ConnId(0),
        reason: HubError::UnauthorizedTopic
    }));
    assert_eq!(h.counters().unauthorized_topic, 1);
}
