//! The compact message and its MQTT bytes give the same outcome (acceptance: "both forms").

use crate::common::*;
use hub::{ConnId, EndpointConfig, HubConfig, HubOutput, RouteConfig};
use iot_messages::{Msg, SubFilters};
use sim::SimTime;

fn hub() -> hub::Hub {
    let mut cfg = HubConfig::s1("hub-a");
    cfg.endpoints = vec![EndpointConfig {
        name: "alerts".into(),
        partitions: 1,
    }];
    cfg.routes = vec![RouteConfig {
        name: "fever".into(),
        condition: "$body.temp_c > 39.5 AND kind = 'collar'".into(),
        endpoints: vec!["alerts".into()],
    }];
    hub_with(cfg, 4)
}

#[test]
fn compact_telemetry_and_its_decoded_mqtt_bytes_give_the_same_acks_routes_and_quota() {
    let s = schemas();
    let run = |through_bytes: bool| {
        let mut h = hub();
        for i in 0..4 {
            online(&mut h, SimTime::ZERO, i, SubFilters::default());
        }
        let mut outs = Vec::new();
        for k in 0..200u32 {
            let i = k % 4;
            let now = SimTime::from_millis(u64::from(k) * 10);
            let m = telemetry(i, (k + 1) as u16, k, 37.0 + f64::from(k % 7));
            let m = if through_bytes {
                let mut bytes = m.encode(&s).unwrap();
                Msg::decode(&mut bytes).unwrap()
            } else {
                m
            };
            h.handle_packet(now, ConnId(i), &m);
            outs.extend(std::iter::from_fn(|| h.poll_output()));
        }
        let alerts: Vec<(String, Option<u32>, String)> = h.endpoints()[1].partitions[0]
            .read_from(0)
            .map(|m| {
                (
                    h.device_id(m.device).unwrap().to_string(),
                    m.seq(),
                    m.body_text(&s).unwrap(),
                )
            })
            .collect();
        let events = h.endpoints()[0].received;
        (outs, alerts, events, h.quota_used(), h.counters().clone())
    };
    let compact = run(false);
    let wire = run(true);
    assert!(compact.0.iter().all(|o| matches!(
        o,
        HubOutput::ToDevice {
            msg: Msg::PubAck { .. },
            ..
        }
    )));
    assert_eq!(compact.0, wire.0);
    assert_eq!(compact.1, wire.1);
    assert!(!compact.1.is_empty());
    assert_eq!(compact.2, wire.2);
    assert_eq!(compact.3, wire.3);
    assert_eq!(compact.4, wire.4);
}
