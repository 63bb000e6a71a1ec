use super::*;
use iot_messages::telemetry::TelemetrySchema;

fn schemas() -> SchemaSet {
    SchemaSet::new(vec![TelemetrySchema::new("tank", &["temp_c"], &[]).unwrap()])
}

fn reading(seq: u32, temp: f64) -> Msg {
    Msg::telemetry(&schemas(), 7, "tank-1".into(), 0, Values::new(seq, &[temp])).unwrap()
}

fn spec(route: &str, priority: u8, ttl_s: Option<u64>) -> RouteSpec {
    RouteSpec {
        route: route.into(),
        priority,
        ttl: ttl_s.map(SimDuration::from_secs),
    }
}

fn hubs(cfg: EdgeConfig) -> EdgeHubs {
    EdgeHubs::new(cfg, 2, schemas()).unwrap()
}

fn outputs(e: &mut EdgeHubs) -> Vec<EdgeOutput> {
    std::iter::from_fn(|| e.poll_output()).collect()
}

fn t(s: u64) -> SimTime {
    SimTime::from_secs(s)
}

/// The sequence numbers gateway `gw` sends upstream at `at`, as far as its window allows.
fn sent_seqs(e: &mut EdgeHubs, at: SimTime, gw: u32) -> Vec<u32> {
    std::iter::from_fn(|| e.poll_upstream(at, gw))
        .map(|m| match m {
            Msg::Telemetry { values, .. } => values.seq,
            m => panic!("{m:?}"),
        })
        .collect()
}

#[test]
fn a_child_is_acknowledged_locally_and_its_message_waits_for_the_uplink() {
    let mut e = hubs(EdgeConfig::default());
    e.handle_child(t(1), 0, 5, &reading(1, 60.0));
    assert_eq!(
        outputs(&mut e),
        vec![EdgeOutput::ToChild {
            gw: 0,
            child: 5,
            msg: Msg::PubAck { pkid: 7 }
        }]
    );
    assert_eq!(e.depth(0), 1);
    assert_eq!(e.poll_upstream(t(2), 0), None, "offline: nothing goes up");
    e.set_online(0, true);
    let up = e.poll_upstream(t(3), 0).unwrap();
    let Msg::Telemetry { pkid, values, .. } = up else {
        panic!("{up:?}")
    };
    assert!(pkid & UPSTREAM_PKID_BIT != 0);
    assert_eq!(values.seq, 1);
    assert!(
        !e.handle_upstream_ack(0, 7),
        "the child's own packet id is not edgeHub's"
    );
    assert!(e.handle_upstream_ack(0, pkid));
    assert_eq!(e.depth(0), 0);
    assert_eq!(e.counters(0).forwarded, 1);
}

#[test]
fn a_message_older_than_its_time_to_live_is_dropped_as_gateway_ttl() {
    let mut e = hubs(EdgeConfig {
        ttl: SimDuration::from_secs(100),
        ..EdgeConfig::default()
    });
    e.handle_child(t(0), 1, 3, &reading(1, 60.0));
    e.handle_child(t(50), 1, 3, &reading(2, 60.0));
    outputs(&mut e);
    assert_eq!(e.poll_timeout(1), Some(t(100)));
    e.handle_timeout(t(100), 1);
    assert_eq!(
        outputs(&mut e),
        vec![EdgeOutput::Lost {
            gw: 1,
            child: 3,
            seq: 1,
            reason: LossReason::Ttl
        }]
    );
    e.set_online(1, true);
    let Some(Msg::Telemetry { values, .. }) = e.poll_upstream(t(120), 1) else {
        panic!()
    };
    assert_eq!(values.seq, 2, "the younger one survives");
    assert_eq!(e.counters(1).expired, 1);
}

#[test]
fn a_full_store_drops_its_oldest_lowest_priority_message() {
    let mut e = hubs(EdgeConfig {
        capacity: 2,
        routes: vec![
            spec(
                "FROM /messages/* WHERE $body.temp_c > 65 INTO $upstream",
                0,
                None,
            ),
            spec(
                "FROM /messages/* WHERE $body.temp_c <= 65 INTO $upstream",
                5,
                None,
            ),
        ],
        ..EdgeConfig::default()
    });
    e.handle_child(t(0), 0, 1, &reading(1, 60.0));
    e.handle_child(t(1), 0, 1, &reading(2, 70.0));
    e.handle_child(t(2), 0, 1, &reading(3, 71.0));
    let lost: Vec<_> = outputs(&mut e)
        .into_iter()
        .filter(|o| matches!(o, EdgeOutput::Lost { .. }))
        .collect();
    assert_eq!(
        lost,
        vec![EdgeOutput::Lost {
            gw: 0,
            child: 1,
            seq: 1,
            reason: LossReason::Overflow
        }]
    );
    // Full of priority-0 messages, a priority-5 one is the one that goes.
    e.handle_child(t(3), 0, 1, &reading(4, 60.0));
    assert!(outputs(&mut e).contains(&EdgeOutput::Lost {
        gw: 0,
        child: 1,
        seq: 4,
        reason: LossReason::Overflow
    }));
    assert_eq!(e.counters(0).overflowed, 2);
    assert_eq!(e.depth(0), 2);
}

#[test]
fn higher_priority_goes_first_and_order_holds_within_a_priority() {
    let mut e = hubs(EdgeConfig {
        routes: vec![
            spec(
                "FROM /messages/* WHERE $body.temp_c > 65 INTO $upstream",
                0,
                None,
            ),
            spec(
                "FROM /messages/* WHERE $body.temp_c <= 65 INTO $upstream",
                3,
                None,
            ),
        ],
        ..EdgeConfig::default()
    });
    for (seq, temp) in [(1, 60.0), (2, 70.0), (3, 61.0), (4, 72.0)] {
        e.handle_child(t(seq.into()), 0, 1, &reading(seq, temp));
    }
    e.set_online(0, true);
    assert_eq!(sent_seqs(&mut e, t(10), 0), vec![2, 4, 1, 3]);
}

#[test]
fn a_lost_uplink_puts_the_messages_in_flight_back_in_order() {
    let mut e = hubs(EdgeConfig {
        window: 2,
        ..EdgeConfig::default()
    });
    for seq in 1..=3 {
        e.handle_child(t(0), 0, 1, &reading(seq, 60.0));
    }
    e.set_online(0, true);
    assert!(e.poll_upstream(t(1), 0).is_some());
    assert!(e.poll_upstream(t(1), 0).is_some());
    assert_eq!(e.poll_upstream(t(1), 0), None, "the window is full");
    e.set_online(0, false);
    assert_eq!(e.depth(0), 3);
    e.set_online(0, true);
    assert_eq!(sent_seqs(&mut e, t(2), 0), vec![1, 2]);
}

#[test]
fn two_inputs_of_one_module_are_one_module_fed_once() {
    let mut e = hubs(EdgeConfig {
        routes: vec![
            spec(
                r#"FROM /* INTO BrokeredEndpoint("/modules/alarm/inputs/a")"#,
                0,
                None,
            ),
            spec(
                r#"FROM /messages/* INTO BrokeredEndpoint("/modules/alarm/inputs/b")"#,
                0,
                None,
            ),
            spec("FROM /messages/* INTO $upstream", 0, None),
        ],
        ..EdgeConfig::default()
    });
    assert_eq!(e.modules().len(), 1);
    e.handle_child(t(0), 0, 1, &reading(1, 70.0));
    let fed = outputs(&mut e)
        .iter()
        .filter(|o| matches!(o, EdgeOutput::ToModule { .. }))
        .count();
    assert_eq!(fed, 1);
}

#[test]
fn a_module_route_feeds_the_module_and_not_the_store() {
    let mut e = hubs(EdgeConfig {
        routes: vec![spec(
            r#"FROM /messages/* WHERE $body.temp_c > 65 INTO BrokeredEndpoint("/modules/alarm/inputs/in")"#,
            0,
            None,
        )],
        ..EdgeConfig::default()
    });
    assert_eq!(e.modules(), &["alarm".to_string()]);
    e.handle_child(t(0), 0, 1, &reading(1, 60.0));
    e.handle_child(t(0), 0, 1, &reading(2, 70.0));
    let out = outputs(&mut e);
    let to_module = out
        .iter()
        .filter(|o| matches!(o, EdgeOutput::ToModule { .. }))
        .count();
    assert_eq!(to_module, 1);
    assert_eq!(e.depth(0), 0);
    // Neither went upstream: both are dropped as unrouted (the module's stays on site).
    let unrouted = out
        .iter()
        .filter(|o| {
            matches!(
                o,
                EdgeOutput::Lost {
                    reason: LossReason::Unrouted,
                    ..
                }
            )
        })
        .count();
    assert_eq!(unrouted, 2);
    assert_eq!(e.counters(0).unrouted, 2);
}

#[test]
fn the_client_limit_refuses_one_child_too_many() {
    let mut e = hubs(EdgeConfig {
        max_clients: 1,
        ..EdgeConfig::default()
    });
    let connect = Msg::Connect {
        client_id: "a".into(),
        username: "u".into(),
        password: "p".into(),
        keep_alive_s: 60,
    };
    // Before its first sync with IoT Hub the gateway refuses every child.
    e.handle_child(t(0), 0, 1, &connect);
    assert!(matches!(
        outputs(&mut e).as_slice(),
        [EdgeOutput::ToChild {
            msg: Msg::ConnAck {
                code: ConnectCode::ServerUnavailable
            },
            ..
        }]
    ));
    e.set_online(0, true);
    e.set_online(0, false);
    // Synced once, it authenticates children offline.
    e.handle_child(t(0), 0, 1, &connect);
    e.handle_child(t(0), 0, 2, &connect);
    let codes: Vec<_> = outputs(&mut e)
        .into_iter()
        .map(|o| match o {
            EdgeOutput::ToChild {
                msg: Msg::ConnAck { code },
                ..
            } => code,
            o => panic!("{o:?}"),
        })
        .collect();
    assert_eq!(
        codes,
        vec![ConnectCode::Accepted, ConnectCode::ServerUnavailable]
    );
    e.handle_child_lost(0, 1);
    e.handle_child(t(1), 0, 2, &connect);
    assert!(matches!(
        outputs(&mut e).as_slice(),
        [EdgeOutput::ToChild {
            msg: Msg::ConnAck {
                code: ConnectCode::Accepted
            },
            ..
        }]
    ));
}

#[test]
fn a_bad_deployment_is_refused_with_the_route_named() {
    let bad = |routes| {
        EdgeHubs::new(
            EdgeConfig {
                routes,
                ..EdgeConfig::default()
            },
            1,
            schemas(),
        )
    };
    assert!(matches!(
        bad(vec![spec("FROM /* INTO $upstream", 10, None)]),
        Err(EdgeConfigError::Priority {
            index: 0,
            priority: 10
        })
    ));
    assert!(matches!(
        bad(vec![
            spec("FROM /* INTO $upstream", 0, None),
            spec("INTO $upstream", 0, None)
        ]),
        Err(EdgeConfigError::Route { index: 1, .. })
    ));
    let wide = EdgeConfig {
        window: 0x8001,
        ..EdgeConfig::default()
    };
    assert!(matches!(
        EdgeHubs::new(wide, 1, schemas()),
        Err(EdgeConfigError::Window(0x8001))
    ));
}
