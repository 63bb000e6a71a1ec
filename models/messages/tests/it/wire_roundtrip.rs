//! The MQTT packets devices and services emit parse back with the codec, and the compact
//! size equals the encoded size (acceptance 1).

use iot_messages::dps_body::{Assignment, DpsReply, Substatus};
use iot_messages::telemetry::{SchemaSet, TelemetrySchema, Values};
use iot_messages::topics::Topic;
use iot_messages::wire::{dps_username, hub_username};
use iot_messages::{ConnectCode, Msg, SubFilters};
use proptest::prelude::*;
use std::sync::Arc;

fn schemas() -> SchemaSet {
    SchemaSet::new(vec![TelemetrySchema::new(
        "collar",
        &["lat", "lon", "temp_c", "battery_v"],
        &[("kind", Some("collar"))],
    )
    .unwrap()])
}

fn sample_messages() -> Vec<Msg> {
    let b = |s: &str| -> Arc<[u8]> { Arc::from(s.as_bytes()) };
    vec![
        Msg::Connect {
            client_id: "cow-1".into(),
            username: hub_username("hub-a.azure-devices.net", "cow-1").into(),
            password: "SharedAccessSignature sr=x&sig=y&se=1".into(),
            keep_alive_s: 240,
        },
        Msg::ConnAck {
            code: ConnectCode::NotAuthorized,
        },
        Msg::Subscribe {
            pkid: 3,
            device: "cow-1".into(),
            filters: SubFilters::ALL_HUB,
        },
        Msg::SubAck {
            pkid: 3,
            count: 4,
            refused_mask: 0b0100,
        },
        Msg::PubAck { pkid: 9 },
        Msg::C2d {
            pkid: 4,
            device: "cow-1".into(),
            bag: "%24.mid=m1&cmd=beep".into(),
            body: b("hello"),
        },
        Msg::TwinGet { rid: 1 },
        Msg::TwinPatchReported {
            rid: 2,
            body: b(r#"{"fw":"1.2"}"#),
        },
        Msg::TwinRes {
            status: 204,
            rid: 2,
            version: Some(7),
            body: b(""),
        },
        Msg::TwinDesired {
            version: 8,
            body: b(r#"{"interval_s":300,"$version":8}"#),
        },
        Msg::MethodPost {
            name: "reboot".into(),
            rid: 5,
            body: b("{}"),
        },
        Msg::MethodRes {
            status: 200,
            rid: 5,
            body: b(r#"{"ok":true}"#),
        },
        Msg::DpsRegister {
            rid: 1,
            registration_id: "cow-1".into(),
        },
        Msg::DpsPoll {
            rid: 2,
            operation_id: "4.0001".into(),
        },
        Msg::DpsRes {
            status: 200,
            rid: 2,
            retry_after_s: None,
            reply: DpsReply::Done {
                operation_id: "4.0001".into(),
                status: iot_messages::dps_body::RegStatus::Assigned,
                assignment: Some(Assignment {
                    registration_id: "cow-1".into(),
                    assigned_hub: "hub-a.azure-devices.net".into(),
                    device_id: "cow-1".into(),
                    substatus: Substatus::InitialAssignment,
                }),
            },
        },
        Msg::Connect {
            client_id: "cow-1".into(),
            username: dps_username("0ne00000001", "cow-1").into(),
            password: "SharedAccessSignature sr=x&sig=y&se=1&skn=registration".into(),
            keep_alive_s: 60,
        },
        Msg::PingReq,
        Msg::PingResp,
        Msg::Disconnect,
    ]
}

#[test]
fn every_packet_kind_parses_back_to_the_same_message_with_the_computed_size() {
    let s = schemas();
    for m in sample_messages() {
        let bytes = s.clone();
        let mut enc = m.encode(&bytes).unwrap();
        assert_eq!(m.encoded_len(&s).unwrap(), enc.len(), "{m:?}");
        let back = Msg::decode(&mut enc).unwrap();
        assert_eq!(back, m);
        assert!(enc.is_empty());
    }
}

#[test]
fn a_telemetry_packet_has_the_exact_topic_and_body_a_device_sends() {
    let s = schemas();
    let m = Msg::telemetry(
        &s,
        17,
        "cow-1".into(),
        0,
        Values::new(5, &[47.5, 8.25, 38.625, 3.7]),
    )
    .unwrap();
    let mut enc = m.encode(&s).unwrap();
    assert_eq!(m.encoded_len(&s).unwrap(), enc.len());
    // Fixed header: PUBLISH, QoS 1 (0x32).
    assert_eq!(enc[0], 0x32);
    let Msg::D2c {
        pkid,
        device,
        bag,
        body,
    } = Msg::decode(&mut enc).unwrap()
    else {
        panic!("telemetry must decode as a D2C publish");
    };
    assert_eq!((pkid, &*device), (17, "cow-1"));
    assert_eq!(&*bag, "$.ct=application%2Fjson&$.ce=utf-8&kind=collar");
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        r#"{"seq":5,"lat":47.5,"lon":8.25,"temp_c":38.625,"battery_v":3.7}"#
    );
    let topic = format!(
        "{}",
        Topic::D2c {
            device: "cow-1",
            bag: &bag
        }
    );
    assert_eq!(
        topic,
        "devices/cow-1/messages/events/$.ct=application%2Fjson&$.ce=utf-8&kind=collar"
    );
}

#[test]
fn a_telemetry_message_with_a_wrong_body_length_is_not_encoded() {
    let s = schemas();
    let Msg::Telemetry {
        pkid,
        device,
        schema,
        values,
        body_len,
    } = Msg::telemetry(&s, 1, "x".into(), 0, Values::new(1, &[1.5])).unwrap()
    else {
        unreachable!()
    };
    let wrong = Msg::Telemetry {
        pkid,
        device,
        schema,
        values,
        body_len: body_len + 1,
    };
    assert!(matches!(
        wrong.encode(&s),
        Err(iot_messages::WireError::BodyLen { .. })
    ));
}

proptest! {
    #[test]
    fn telemetry_size_is_the_encoded_size_for_any_values(
        seq in any::<u32>(),
        pkid in 1u16..,
        vals in proptest::collection::vec(any::<f64>(), 0..=4),
        dev_len in 1usize..128,
    ) {
        let s = schemas();
        let device: Arc<str> = "d".repeat(dev_len).into();
        let m = Msg::telemetry(&s, pkid, device.clone(), 0, Values::new(seq, &vals)).unwrap();
        let enc = m.encode(&s).unwrap();
        prop_assert_eq!(m.encoded_len(&s).unwrap(), enc.len());
        prop_assert_eq!(iot_messages::wire::telemetry_len(&s, &device, 0, &Values::new(seq, &vals)), enc.len());
    }

    #[test]
    fn a_telemetry_body_is_json_whose_numbers_parse_back_exactly(
        seq in any::<u32>(),
        vals in proptest::collection::vec(any::<f64>(), 4),
    ) {
        let s = schemas();
        let v = Values::new(seq, &vals);
        let schema = s.get(0).unwrap();
        let body = schema.body(&v);
        prop_assert_eq!(schema.body_len(&v), body.len());
        prop_assert!(!body.contains('+'), "{}", body);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        prop_assert_eq!(json["seq"].as_u64(), Some(u64::from(seq)));
        // Each number's text parses back to the very same f64 (Rust's exact parser; serde_json
        // without `float_roundtrip` may be one ulp off).
        let fields: Vec<&str> = body.trim_matches(['{', '}']).split(',').skip(1).collect();
        prop_assert_eq!(fields.len(), vals.len());
        for (field, x) in fields.iter().zip(&vals) {
            let (_, text) = field.split_once(':').unwrap();
            match text {
                "null" => prop_assert!(!x.is_finite()),
                _ => prop_assert_eq!(text.parse::<f64>().unwrap().to_bits(), x.to_bits()),
            }
        }
    }

    #[test]
    fn d2c_bodies_of_any_size_round_trip(body in proptest::collection::vec(any::<u8>(), 0..70_000), pkid in 1u16..) {
        let s = schemas();
        let m = Msg::D2c { pkid, device: "x".into(), bag: "a=1".into(), body: body.into() };
        let mut enc = m.encode(&s).unwrap();
        prop_assert_eq!(m.encoded_len(&s).unwrap(), enc.len());
        prop_assert_eq!(Msg::decode(&mut enc).unwrap(), m);
    }
}
