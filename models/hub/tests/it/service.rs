//! C2D, direct methods and twins (reference §1.7-§1.9).

use crate::common::*;
use hub::{
    Ack, C2dRequest, ConnId, FeedbackStatus, HubConfig, HubError, HubOutput, MethodRequest,
    C2D_PENDING_MAX,
};
use iot_messages::{Msg, SubFilters};
use serde_json::{json, Value};
use sim::{SimDuration, SimTime};
use std::sync::Arc;

fn c2d(id: &str, ttl_s: u64, ack: Ack) -> C2dRequest {
    C2dRequest {
        message_id: id.into(),
        bag: "cmd=beep".into(),
        body: b"{}".to_vec().into(),
        ttl: Some(SimDuration::from_secs(ttl_s)),
        ack,
    }
}

#[test]
fn a_c2d_message_is_delivered_on_subscribe_completed_by_puback_and_reported_in_feedback() {
    let mut h = hub_with(HubConfig::s1("hub-a"), 1);
    h.send_c2d(SimTime::ZERO, "cow-0", c2d("m1", 600, Ack::Full))
        .unwrap();
    assert_eq!(h.c2d_pending("cow-0"), 1);
    online(&mut h, SimTime::from_secs(1), 0, SubFilters::default());
    h.handle_packet(
        SimTime::from_secs(1),
        ConnId(0),
        &Msg::Subscribe {
            pkid: 1,
            device: "cow-0".into(),
            filters: SubFilters::C2D,
        },
    );
    let out = drain(&mut h);
    let pkid = out
        .iter()
        .find_map(|o| match o {
            HubOutput::ToDevice {
                msg: Msg::C2d { pkid, bag, .. },
                ..
            } => {
                assert_eq!(&**bag, "cmd=beep");
                Some(*pkid)
            }
            _ => None,
        })
        .expect("delivered");
    h.handle_packet(SimTime::from_secs(2), ConnId(0), &Msg::PubAck { pkid });
    let fb = drain(&mut h);
    assert!(
        matches!(&fb[..], [HubOutput::Feedback { record, .. }] if record.status == FeedbackStatus::Success && &*record.original_message_id == "m1")
    );
    assert_eq!(h.c2d_pending("cow-0"), 0);
}

#[test]
fn a_c2d_message_expires_after_its_ttl_with_negative_feedback_and_the_queue_holds_at_most_50() {
    let mut h = hub_with(HubConfig::s1("hub-a"), 1);
    for k in 0..C2D_PENDING_MAX {
        h.send_c2d(
            SimTime::ZERO,
            "cow-0",
            c2d(&format!("m{k}"), 120, Ack::Negative),
        )
        .unwrap();
    }
    assert_eq!(
        h.send_c2d(
            SimTime::ZERO,
            "cow-0",
            c2d("one-too-many", 120, Ack::Negative)
        ),
        Err(HubError::C2dQueueFull)
    );
    // Keep one device online so the sweep runs, but not cow-0's queue consumer.
    let t = SimTime::from_secs(130);
    h.handle_timeout(t);
    let expired = drain(&mut h)
        .into_iter()
        .filter(|o| matches!(o, HubOutput::Feedback { record, .. } if record.status == FeedbackStatus::Expired))
        .count();
    assert_eq!(expired, 50);
    assert_eq!(h.c2d_pending("cow-0"), 0);
}

#[test]
fn an_unacknowledged_c2d_message_is_redelivered_after_the_lock_and_dead_lettered_past_the_delivery_count(
) {
    let mut cfg = HubConfig::s1("hub-a");
    cfg.c2d.max_delivery_count = 2;
    let mut h = hub_with(cfg, 1);
    online(&mut h, SimTime::ZERO, 0, SubFilters::C2D);
    h.send_c2d(SimTime::ZERO, "cow-0", c2d("m", 3_600, Ack::Full))
        .unwrap();
    let mut deliveries = 0;
    let mut dead = false;
    let mut now = SimTime::ZERO;
    for _ in 0..40 {
        now += SimDuration::from_secs(10);
        h.handle_packet(now, ConnId(0), &Msg::PingReq);
        h.handle_timeout(now);
        for o in drain(&mut h) {
            match o {
                HubOutput::ToDevice {
                    msg: Msg::C2d { .. },
                    ..
                } => deliveries += 1,
                HubOutput::Feedback { record, .. } => {
                    assert_eq!(record.status, FeedbackStatus::DeliveryCountExceeded);
                    dead = true;
                }
                _ => {}
            }
        }
    }
    assert_eq!(
        deliveries, 2,
        "max_delivery_count deliveries, then dead-lettered"
    );
    assert!(dead);
}

#[test]
fn a_method_to_an_offline_device_fails_with_404103_and_a_silent_device_with_504101() {
    let mut h = hub_with(HubConfig::s1("hub-a"), 2);
    let req = |connect_s: u64| MethodRequest {
        name: "reboot".into(),
        payload: b"{}".to_vec().into(),
        response_timeout: SimDuration::from_secs(30),
        connect_timeout: SimDuration::from_secs(connect_s),
    };
    let before = h.quota_used();
    let call = h.invoke_method(SimTime::ZERO, "cow-0", req(0)).unwrap();
    assert_eq!(
        drain(&mut h),
        vec![HubOutput::MethodResult {
            at: SimTime::ZERO,
            call,
            result: Err(HubError::MethodDeviceNotOnline)
        }]
    );
    assert_eq!(
        h.quota_used() - before,
        2,
        "request plus the not-online reply"
    );
    // With a connect timeout, the call waits for the device to subscribe.
    let call = h.invoke_method(SimTime::ZERO, "cow-1", req(60)).unwrap();
    online(&mut h, SimTime::from_secs(20), 1, SubFilters::default());
    h.handle_packet(
        SimTime::from_secs(20),
        ConnId(1),
        &Msg::Subscribe {
            pkid: 1,
            device: "cow-1".into(),
            filters: SubFilters::METHODS,
        },
    );
    assert!(drain(&mut h)
        .iter()
        .any(|o| matches!(o, HubOutput::ToDevice { msg: Msg::MethodPost { rid, .. }, .. } if *rid == call.0)));
    // The device never answers: 504101 after the response timeout.
    let deadline = h.poll_timeout().unwrap();
    assert!(deadline <= SimTime::from_secs(50));
    let mut now = deadline;
    loop {
        h.handle_timeout(now);
        let out = drain(&mut h);
        if let Some(r) = out.iter().find_map(|o| match o {
            HubOutput::MethodResult { result, .. } => Some(result.clone()),
            _ => None,
        }) {
            assert_eq!(r, Err(HubError::MethodResponseTimeout));
            assert_eq!(now, SimTime::from_secs(50));
            break;
        }
        now = h.poll_timeout().unwrap();
    }
}

#[test]
fn a_method_answered_in_time_returns_the_device_status_and_payload() {
    let mut h = hub_with(HubConfig::s1("hub-a"), 1);
    online(&mut h, SimTime::ZERO, 0, SubFilters::METHODS);
    let call = h
        .invoke_method(
            SimTime::ZERO,
            "cow-0",
            MethodRequest {
                name: "locate".into(),
                payload: b"{}".to_vec().into(),
                response_timeout: SimDuration::from_secs(30),
                connect_timeout: SimDuration::ZERO,
            },
        )
        .unwrap();
    drain(&mut h);
    let body: Arc<[u8]> = br#"{"lat":47}"#.to_vec().into();
    h.handle_packet(
        SimTime::from_secs(1),
        ConnId(0),
        &Msg::MethodRes {
            status: 200,
            rid: call.0,
            body: body.clone(),
        },
    );
    assert_eq!(
        drain(&mut h),
        vec![HubOutput::MethodResult {
            at: SimTime::from_secs(1),
            call,
            result: Ok((200, body))
        }]
    );
}

#[test]
fn desired_changes_reach_only_a_connected_subscriber_and_are_not_queued_while_offline() {
    let mut h = hub_with(HubConfig::s1("hub-a"), 1);
    assert_eq!(
        h.update_desired(SimTime::ZERO, "cow-0", &json!({"interval_s": 60})),
        Ok(1)
    );
    assert!(drain(&mut h).is_empty(), "offline: nothing queued");
    online(
        &mut h,
        SimTime::from_secs(1),
        0,
        SubFilters(SubFilters::TWIN_DESIRED.0 | SubFilters::TWIN_RES.0),
    );
    assert_eq!(
        h.update_desired(SimTime::from_secs(2), "cow-0", &json!({"interval_s": 300})),
        Ok(2)
    );
    let out = drain(&mut h);
    let [HubOutput::ToDevice {
        msg: Msg::TwinDesired { version, body },
        ..
    }] = &out[..]
    else {
        panic!("{out:?}");
    };
    assert_eq!(*version, 2);
    let v: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(v, json!({"interval_s": 300, "$version": 2}));
    // The reconnect GET shows the full desired state and its version.
    h.handle_packet(SimTime::from_secs(3), ConnId(0), &Msg::TwinGet { rid: 9 });
    let out = drain(&mut h);
    let [HubOutput::ToDevice {
        msg:
            Msg::TwinRes {
                status: 200,
                rid: 9,
                body,
                ..
            },
        ..
    }] = &out[..]
    else {
        panic!("{out:?}");
    };
    let v: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(v["desired"], json!({"interval_s": 300, "$version": 2}));
}

#[test]
fn a_reported_patch_with_null_deletes_and_answers_204_with_the_new_version() {
    let mut h = hub_with(HubConfig::s1("hub-a"), 1);
    online(&mut h, SimTime::ZERO, 0, SubFilters::TWIN_RES);
    let patch = |rid, v: Value| Msg::TwinPatchReported {
        rid,
        body: serde_json::to_vec(&v).unwrap().into(),
    };
    h.handle_packet(
        SimTime::ZERO,
        ConnId(0),
        &patch(1, json!({"fw": "1.0", "battery": 3.9})),
    );
    h.handle_packet(SimTime::ZERO, ConnId(0), &patch(2, json!({"fw": null})));
    h.handle_packet(
        SimTime::ZERO,
        ConnId(0),
        &Msg::TwinPatchReported {
            rid: 3,
            body: b"{not json".to_vec().into(),
        },
    );
    let statuses: Vec<(u16, u32, Option<u64>)> = drain(&mut h)
        .into_iter()
        .filter_map(|o| match o {
            HubOutput::ToDevice {
                msg:
                    Msg::TwinRes {
                        status,
                        rid,
                        version,
                        ..
                    },
                ..
            } => Some((status, rid, version)),
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        vec![(204, 1, Some(1)), (204, 2, Some(2)), (400, 3, None)]
    );
    assert_eq!(
        Value::Object(h.twin("cow-0").unwrap().reported.clone()),
        json!({"battery": 3.9})
    );
}
