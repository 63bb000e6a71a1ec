//! Message routing, enrichment and endpoint consumers (reference §1.10).

use crate::common::*;
use hub::endpoint::partition_of;
use hub::{
    ConfigError, ConnId, Consumer, EndpointConfig, EnrichmentConfig, HubConfig, RouteConfig,
};
use iot_messages::SubFilters;
use serde_json::json;
use sim::SimTime;

fn routed_hub() -> hub::Hub {
    let mut cfg = HubConfig::s1("hub-a");
    cfg.endpoints = vec![
        EndpointConfig {
            name: "alerts".into(),
            partitions: 1,
        },
        EndpointConfig {
            name: "archive".into(),
            partitions: 2,
        },
    ];
    cfg.routes = vec![
        RouteConfig {
            name: "fever".into(),
            condition: "$body.temp_c >= 39.5 AND kind = 'collar'".into(),
            endpoints: vec!["alerts".into()],
        },
        RouteConfig {
            name: "all-to-archive".into(),
            condition: "$contentType = 'application/json'".into(),
            endpoints: vec!["archive".into()],
        },
        RouteConfig {
            name: "cow-3-also-archive".into(),
            condition: "$connectionDeviceId = 'cow-3'".into(),
            endpoints: vec!["archive".into()],
        },
    ];
    cfg.enrichments = vec![
        EnrichmentConfig {
            key: "hub".into(),
            value: "$iothubname".into(),
            endpoints: vec!["alerts".into()],
        },
        EnrichmentConfig {
            key: "herd".into(),
            value: "$twin.tags.herd".into(),
            endpoints: vec!["alerts".into()],
        },
    ];
    hub_with(cfg, 8)
}

#[test]
fn a_message_goes_to_every_matching_endpoint_once_and_the_built_in_endpoint_only_by_fallback() {
    let mut h = routed_hub();
    let t = SimTime::from_secs(1);
    for i in 0..4 {
        online(&mut h, t, i, SubFilters::default());
    }
    h.handle_packet(t, ConnId(0), &telemetry(0, 1, 1, 40.1)); // fever + archive
    h.handle_packet(t, ConnId(3), &telemetry(3, 1, 1, 38.0)); // archive twice -> once
    let raw_text = iot_messages::Msg::D2c {
        pkid: 2,
        device: id(1).into(),
        bag: "$.ct=text%2Fplain".into(),
        body: b"hello".to_vec().into(),
    };
    h.handle_packet(t, ConnId(1), &raw_text); // matches nothing -> fallback to events
    let ep = |name: &str| &h.endpoints()[h.endpoint_index(name).unwrap()];
    assert_eq!(ep("alerts").received, 1);
    assert_eq!(ep("archive").received, 2);
    assert_eq!(ep("events").received, 1);
    assert_eq!(h.counters().endpoint_writes, 4);
}

#[test]
fn without_fallback_an_unmatched_message_is_acknowledged_and_counted_as_unrouted() {
    let mut cfg = HubConfig::s1("hub-a");
    cfg.fallback = false;
    cfg.routes = vec![RouteConfig {
        name: "hot".into(),
        condition: "$body.temp_c > 45".into(),
        endpoints: vec!["events".into()],
    }];
    let mut h = hub_with(cfg, 1);
    online(&mut h, SimTime::ZERO, 0, SubFilters::default());
    h.handle_packet(SimTime::ZERO, ConnId(0), &telemetry(0, 1, 1, 38.0));
    assert_eq!(drain(&mut h).len(), 1, "PUBACK");
    assert_eq!(h.counters().d2c_unrouted, 1);
    assert_eq!(h.endpoints()[0].received, 0);
}

#[test]
fn enrichments_stamp_the_hub_name_and_twin_tags_or_the_literal_path_when_missing() {
    let mut h = routed_hub();
    h.update_tags("cow-0", &json!({"herd": "north"})).unwrap();
    let t = SimTime::ZERO;
    online(&mut h, t, 0, SubFilters::default());
    online(&mut h, t, 1, SubFilters::default());
    h.handle_packet(t, ConnId(0), &telemetry(0, 1, 1, 40.0));
    h.handle_packet(t, ConnId(1), &telemetry(1, 1, 1, 40.0));
    let alerts = h.endpoint_index("alerts").unwrap();
    let msgs: Vec<_> = h.endpoints()[alerts].partitions[0]
        .read_from(0)
        .cloned()
        .collect();
    assert_eq!(msgs[0].enrichment("hub"), Some("hub-a"));
    assert_eq!(msgs[0].enrichment("herd"), Some("north"));
    assert_eq!(msgs[1].enrichment("herd"), Some("$twin.tags.herd"));
    // The archive endpoint has no enrichments.
    let archive = h.endpoint_index("archive").unwrap();
    assert!(h.endpoints()[archive]
        .partitions
        .iter()
        .flat_map(|p| p.read_from(0))
        .all(|m| m.enrichments.is_none()));
}

#[test]
fn the_built_in_endpoint_keeps_each_devices_messages_in_order_in_its_partition() {
    let mut h = hub_with(HubConfig::s1("hub-a"), 8);
    let t = SimTime::ZERO;
    for i in 0..8 {
        online(&mut h, t, i, SubFilters::default());
    }
    for seq in 0..5 {
        for i in 0..8 {
            h.handle_packet(t, ConnId(i), &telemetry(i, seq as u16 + 1, seq, 38.0));
        }
    }
    for i in 0..8 {
        let p = partition_of(&id(i), 4) as usize;
        let seqs: Vec<u32> = h.endpoints()[0].partitions[p]
            .read_from(0)
            .filter(|m| **h.device_id(m.device).unwrap() == *id(i))
            .map(|m| m.seq().unwrap())
            .collect();
        assert_eq!(seqs, vec![0, 1, 2, 3, 4]);
    }
}

#[test]
fn a_consumer_that_restarts_resumes_from_its_checkpoint() {
    let mut h = hub_with(HubConfig::s1("hub-a"), 1);
    online(&mut h, SimTime::ZERO, 0, SubFilters::default());
    for seq in 0..10 {
        h.handle_packet(
            SimTime::ZERO,
            ConnId(0),
            &telemetry(0, seq as u16 + 1, seq, 38.0),
        );
    }
    let p = partition_of("cow-0", 4) as usize;
    let mut c = Consumer::new(0, 4);
    let first: Vec<u32> = c
        .poll(&h.endpoints()[0], p, 4)
        .iter()
        .map(|m| m.seq().unwrap())
        .collect();
    assert_eq!(first, vec![0, 1, 2, 3]);
    c.checkpoint(p);
    let second = c.poll(&h.endpoints()[0], p, 4);
    assert_eq!(second.len(), 4);
    c.restart();
    let again: Vec<u32> = c
        .poll(&h.endpoints()[0], p, 100)
        .iter()
        .map(|m| m.seq().unwrap())
        .collect();
    assert_eq!(again, vec![4, 5, 6, 7, 8, 9]);
    assert_eq!(c.checkpoint_of(p), 4);
}

#[test]
fn bad_routing_configuration_names_the_route_and_the_problem() {
    let mut cfg = HubConfig::s1("hub-a");
    cfg.routes = vec![RouteConfig {
        name: "r1".into(),
        condition: "$body.x >".into(),
        endpoints: vec!["events".into()],
    }];
    assert!(matches!(
        hub::Hub::new(cfg.clone(), schemas()),
        Err(ConfigError::Condition { ref route, .. }) if route == "r1"
    ));
    cfg.routes[0].condition = "true".into();
    cfg.routes[0].endpoints = vec!["nowhere".into()];
    let e = hub::Hub::new(cfg, schemas()).err().unwrap();
    assert!(e.to_string().contains("nowhere"), "{e}");
}
