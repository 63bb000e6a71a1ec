use crate::common::*;
use dps::{AllocationPolicy, Allocator, ConnId, DpsConfig, DpsOutput, ReprovisionPolicy};
use iot_messages::dps_body::{DpsReply, RegStatus, Substatus};
use iot_messages::sas::{derive_device_key_bytes, SasRefusal};
use iot_messages::{ConnectCode, Msg};
use sim::{SimDuration, SimTime};
use std::sync::Arc;

fn assigned_hub(reply: &DpsReply) -> (String, Substatus) {
    match reply {
        DpsReply::Done {
            status: RegStatus::Assigned,
            assignment: Some(a),
            ..
        } => (a.assigned_hub.to_string(), a.substatus),
        other => panic!("not assigned: {other:?}"),
    }
}

#[test]
fn a_group_device_registers_with_its_derived_key_polls_after_retry_after_and_is_assigned() {
    let mut d = dps_with(DpsConfig::new(SCOPE, hubs(2)), group("herd", None));
    let (reply, outs) = provision(&mut d, "cow-17", 0, SimTime::from_secs(5));
    let (hub, sub) = assigned_hub(&reply);
    assert!(hub.ends_with(".azure-devices.net"));
    assert_eq!(sub, Substatus::InitialAssignment);
    // The 202 carried retry-after 3 and the assignment completes 2 s after the register call.
    let statuses: Vec<(u16, Option<u32>)> =
        replies(&outs).iter().map(|(s, r, _)| (*s, *r)).collect();
    assert_eq!(statuses, vec![(202, Some(3)), (200, None)]);
    let assign = outs.iter().find_map(|o| match o {
        DpsOutput::Assign {
            at,
            device_key,
            device_id,
            previous_hub,
            ..
        } => Some((*at, device_key.clone(), device_id.clone(), *previous_hub)),
        _ => None,
    });
    let (at, key, id, prev) = assign.expect("an Assign output");
    assert_eq!(at, SimTime::from_secs(7));
    assert_eq!(&*id, "cow-17");
    assert_eq!(&*key, &derive_device_key_bytes(&GROUP_KEY, "cow-17")[..]);
    assert_eq!(prev, None);
    assert_eq!(
        d.registration("cow-17").unwrap().hub,
        if hub.starts_with("hub-0") { 0 } else { 1 }
    );
}

#[test]
fn a_device_signing_with_the_group_key_itself_or_a_wrong_key_is_refused_and_counted() {
    let mut d = dps_with(DpsConfig::new(SCOPE, hubs(1)), group("herd", None));
    let t = SimTime::from_secs(1);
    d.handle_packet(t, ConnId(1), 0, &connect_with_key("cow-1", &GROUP_KEY, t));
    d.handle_packet(t, ConnId(2), 0, &connect_with_key("cow-2", &[9; 32], t));
    let codes: Vec<ConnectCode> = drain(&mut d)
        .into_iter()
        .filter_map(|o| match o {
            DpsOutput::ToDevice {
                msg: Msg::ConnAck { code },
                ..
            } => Some(code),
            _ => None,
        })
        .collect();
    assert_eq!(codes, vec![ConnectCode::NotAuthorized; 2]);
    assert_eq!(d.counters().auth_refused(SasRefusal::BadSignature), 2);
    assert_eq!(d.counters().connects_accepted, 0);
}

#[test]
fn the_evenly_weighted_hash_spreads_devices_by_hub_weight() {
    let mut linked = hubs(2);
    linked[1].weight = 3;
    let mut cfg = DpsConfig::new(SCOPE, linked);
    cfg.units = 10;
    let mut d = dps_with(cfg, group("herd", None));
    let mut on_hub1 = 0;
    for i in 0..2_000 {
        let (reply, _) = provision(&mut d, &format!("cow-{i}"), 0, SimTime::from_millis(i * 10));
        if assigned_hub(&reply).0.starts_with("hub-1") {
            on_hub1 += 1;
        }
    }
    assert!(
        (1_400..=1_600).contains(&on_hub1),
        "weight 3 of 4 -> ~1,500 of 2,000: {on_hub1}"
    );
}

#[test]
fn static_geolatency_and_custom_policies_pick_the_hub_they_promise() {
    let t = SimTime::from_secs(1);
    let mut d = dps_with(
        DpsConfig::new(SCOPE, hubs(3)),
        group(
            "herd",
            Some(AllocationPolicy::Static {
                hub: "hub-2.azure-devices.net".into(),
            }),
        ),
    );
    assert_eq!(
        assigned_hub(&provision(&mut d, "cow-1", 0, t).0).0,
        "hub-2.azure-devices.net"
    );

    let mut d = dps_with(
        DpsConfig::new(SCOPE, hubs(3)),
        group("herd", Some(AllocationPolicy::GeoLatency)),
    );
    for region in 0..3u16 {
        let reg = format!("cow-r{region}");
        assert_eq!(
            assigned_hub(
                &provision(
                    &mut d,
                    &reg,
                    region,
                    t + SimDuration::from_secs(u64::from(region))
                )
                .0
            )
            .0,
            format!("hub-{region}.azure-devices.net")
        );
    }

    struct ByParity;
    impl Allocator for ByParity {
        fn allocate(
            &self,
            reg: &str,
            enrollment: &str,
            candidates: &[&str],
        ) -> Option<(usize, Option<serde_json::Value>)> {
            assert_eq!(enrollment, "herd");
            let n: usize = reg.trim_start_matches("cow-").parse().ok()?;
            Some((
                n % candidates.len(),
                Some(serde_json::json!({"tags": {"parity": n % 2}})),
            ))
        }
    }
    let mut d = dps_with(
        DpsConfig::new(SCOPE, hubs(2)),
        group("herd", Some(AllocationPolicy::Custom(Arc::new(ByParity)))),
    );
    let (reply, outs) = provision(&mut d, "cow-5", 0, t);
    assert_eq!(assigned_hub(&reply).0, "hub-1.azure-devices.net");
    assert!(outs.iter().any(|o| matches!(
        o,
        DpsOutput::Assign {
            initial_twin: Some(_),
            ..
        }
    )));
    // A custom function that declines fails the registration.
    let (reply, _) = provision(&mut d, "cow-x", 0, t + SimDuration::from_secs(1));
    assert!(matches!(
        reply,
        DpsReply::Done {
            status: RegStatus::Failed,
            ..
        }
    ));
}

#[test]
fn reprovisioning_migrates_resets_or_keeps_the_hub_per_policy() {
    let t = SimTime::from_secs(1);
    for (policy, expect_sub, expect_move) in [
        (
            ReprovisionPolicy::MigrateData,
            Substatus::DeviceDataMigrated,
            Some(true),
        ),
        (
            ReprovisionPolicy::ResetToInitial,
            Substatus::DeviceDataReset,
            Some(false),
        ),
        (ReprovisionPolicy::Never, Substatus::InitialAssignment, None),
    ] {
        let mut g = group(
            "herd",
            Some(AllocationPolicy::Static {
                hub: "hub-0.azure-devices.net".into(),
            }),
        );
        g.reprovision = policy;
        let mut d = dps_with(DpsConfig::new(SCOPE, hubs(2)), g.clone());
        provision(&mut d, "cow-1", 0, t);
        g.policy = Some(AllocationPolicy::Static {
            hub: "hub-1.azure-devices.net".into(),
        });
        assert!(d.update_group(g).unwrap());
        let (reply, outs) = provision(&mut d, "cow-1", 0, t + SimDuration::from_secs(60));
        let (hub, sub) = assigned_hub(&reply);
        assert_eq!(sub, expect_sub, "{policy:?}");
        let moved = outs.iter().find_map(|o| match o {
            DpsOutput::Assign {
                previous_hub: Some(0),
                hub: 1,
                migrate_twin,
                ..
            } => Some(*migrate_twin),
            _ => None,
        });
        assert_eq!(moved, expect_move, "{policy:?}");
        assert_eq!(
            hub.starts_with("hub-1"),
            expect_move.is_some(),
            "{policy:?}"
        );
    }
}

#[test]
fn registrations_above_a_thousand_per_minute_per_unit_get_429_with_retry_after() {
    let mut d = dps_with(DpsConfig::new(SCOPE, hubs(1)), group("herd", None));
    let t = SimTime::from_secs(1);
    let mut accepted = 0;
    let mut throttled = Vec::new();
    for i in 0..50u32 {
        let reg = format!("cow-{i}");
        let conn = ConnId(i);
        let key = derive_device_key_bytes(&GROUP_KEY, &reg);
        d.handle_packet(t, conn, 0, &connect_with_key(&reg, &key, t));
        d.handle_packet(
            t,
            conn,
            0,
            &Msg::DpsRegister {
                rid: 1,
                registration_id: reg.as_str().into(),
            },
        );
        for (status, retry, _) in replies(&drain(&mut d)) {
            match status {
                202 => accepted += 1,
                429 => throttled.push(retry.unwrap()),
                s => panic!("{s}"),
            }
        }
    }
    // 1,000/min = one per 60 ms; all 50 arrive at the same instant.
    assert_eq!(accepted, 1);
    assert_eq!(throttled.len(), 49);
    assert!(throttled.iter().all(|&r| r >= 1));
    assert_eq!(d.counters().registrations_throttled, 49);
}

#[test]
fn a_device_polling_more_than_five_times_in_ten_seconds_is_throttled() {
    let mut d = dps_with(DpsConfig::new(SCOPE, hubs(1)), group("herd", None));
    let t = SimTime::from_secs(1);
    let reg = "cow-1";
    let key = derive_device_key_bytes(&GROUP_KEY, reg);
    d.handle_packet(t, ConnId(1), 0, &connect_with_key(reg, &key, t));
    d.handle_packet(
        t,
        ConnId(1),
        0,
        &Msg::DpsRegister {
            rid: 1,
            registration_id: reg.into(),
        },
    );
    let op = match replies(&drain(&mut d)).pop().unwrap().2 {
        DpsReply::Assigning { operation_id } => operation_id,
        r => panic!("{r:?}"),
    };
    let mut statuses = Vec::new();
    for k in 0..7u64 {
        let now = t + SimDuration::from_millis(100 * k);
        d.handle_packet(
            now,
            ConnId(1),
            0,
            &Msg::DpsPoll {
                rid: 2 + k as u32,
                operation_id: op.clone(),
            },
        );
        statuses.extend(replies(&drain(&mut d)).into_iter().map(|(s, _, _)| s));
    }
    assert_eq!(statuses, vec![202, 202, 202, 202, 202, 429, 429]);
    assert_eq!(d.counters().polls_throttled, 2);
}

#[test]
fn a_preprovisioned_device_gets_the_hub_the_protocol_would_give_it_and_skips_the_rate_limit() {
    let mut by_protocol = dps_with(DpsConfig::new(SCOPE, hubs(3)), group("herd", None));
    let mut pre = dps_with(DpsConfig::new(SCOPE, hubs(3)), group("herd", None));
    let mut hosts: Vec<Arc<str>> = Vec::new();
    for i in 0..50 {
        let t = SimTime::from_secs(1 + 10 * i);
        let reg: Arc<str> = Arc::from(format!("cow-{i}"));
        let key = derive_device_key_bytes(&GROUP_KEY, &reg);
        let host = pre
            .preprovision(SimTime::ZERO, &reg, &key, 0)
            .expect("the group enrols it");
        let (reply, _) = provision(&mut by_protocol, &reg, 0, t);
        assert_eq!(&*host, assigned_hub(&reply).0, "{reg}");
        // One string per linked hub, shared by its assignments.
        match hosts.iter().find(|h| **h == host) {
            Some(seen) => assert!(Arc::ptr_eq(seen, &host), "{host} copied"),
            None => hosts.push(host),
        }
        let r = pre.registration(&reg).expect("registered");
        assert_eq!(r.device_id, reg);
        assert_eq!(r.substatus, Substatus::InitialAssignment);
    }
    // Every registration queued the identity for the hub, none counted against the rate.
    let assigns = drain(&mut pre)
        .iter()
        .filter(|o| matches!(o, DpsOutput::Assign { .. }))
        .count();
    assert_eq!(assigns, 50);
    assert_eq!(pre.counters().preprovisioned, 50);
    assert_eq!(pre.counters().registrations_accepted, 0);
    // A key that belongs to no enrollment registers nothing.
    assert_eq!(
        pre.preprovision(SimTime::ZERO, &Arc::from("cow-x"), &[9; 32], 0),
        None
    );
    assert_eq!(pre.registration_count(), 50);
}
