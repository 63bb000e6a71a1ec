//! The scenario's own actions: event-driven publishes, event-only classes, deferred method
//! replies and reported properties on demand.

use crate::harness::*;
use firmware::{
    DeviceLogic, DeviceOutput, DisconnectReason, MethodCall, MethodReply, MethodRid, Peer, Record,
};
use iot_messages::telemetry::{SchemaSet, TelemetrySchema, FIELDS_MAX};
use iot_messages::Msg;
use serde_json::json;
use sim::rng::below;
use sim::{CompactRng, SimDuration, SimTime};

fn sampled(out: &[DeviceOutput]) -> Vec<u32> {
    records(out)
        .iter()
        .filter_map(|r| match r {
            Record::Sampled { seq } => Some(*seq),
            _ => None,
        })
        .collect()
}

fn acked(out: &[DeviceOutput]) -> Vec<u32> {
    records(out)
        .iter()
        .filter_map(|r| match r {
            Record::Acked { seq } => Some(*seq),
            _ => None,
        })
        .collect()
}

/// Every telemetry message in `out`: (pkid, schema, seq, values).
fn telemetry(out: &[DeviceOutput]) -> Vec<(u16, u16, u32, Vec<f64>)> {
    sends(out)
        .into_iter()
        .filter_map(|(_, m)| match m {
            Msg::Telemetry {
                pkid,
                schema,
                values,
                ..
            } => Some((pkid, schema, values.seq, values.as_slice().to_vec())),
            _ => None,
        })
        .collect()
}

/// Acknowledges every telemetry message in `out`; returns the acknowledgements' outputs.
fn ack_all(b: &mut Bench, out: &[DeviceOutput]) -> Vec<DeviceOutput> {
    let mut all = Vec::new();
    for (pkid, ..) in telemetry(out) {
        all.extend(b.deliver(Peer::Hub, Msg::PubAck { pkid }));
    }
    all
}

/// Runs every timer up to `t`, acknowledging each telemetry message as it goes out.
fn run_acking(b: &mut Bench, t: SimTime) -> Vec<DeviceOutput> {
    let mut all = Vec::new();
    while b.dev.poll_timeout(&b.cfg).is_some_and(|w| w <= t) {
        let out = b.tick();
        let acks = ack_all(b, &out);
        all.extend(out);
        all.extend(acks);
    }
    b.now = t;
    all
}

/// Runs timers until the device sends a hub CONNECT (a reconnect after backoff).
fn until_reconnect(b: &mut Bench) {
    for _ in 0..20 {
        let out = b.tick();
        if sends(&out)
            .iter()
            .any(|(p, m)| *p == Peer::Hub && matches!(m, Msg::Connect { .. }))
        {
            return;
        }
    }
    panic!("no reconnect within 20 timers");
}

/// The collar's periodic schema 0 and an alarm schema 1 with one field.
fn two_schemas() -> SchemaSet {
    SchemaSet::new(vec![
        TelemetrySchema::new("collar", &["lat", "lon", "temp_c"], &[]).unwrap(),
        TelemetrySchema::new("alarm", &["level"], &[("kind", Some("alarm"))]).unwrap(),
    ])
}

#[test]
fn a_published_event_takes_the_next_sequence_number_and_is_acknowledged_like_a_sample() {
    let mut b = Bench::new(config());
    let out = b.bring_up();
    let mut all = ack_all(&mut b, &out);
    all.extend(out);
    all.extend(run_acking(&mut b, SimTime::from_secs(400)));
    let before = sampled(&all);
    assert!(!before.is_empty(), "periodic samples went out first");
    let next = before.iter().max().unwrap() + 1;
    assert_eq!(b.dev.buffered(), 0);

    let (ok, out) = b.publish(0, &[46.5, 7.5, 41.0]);
    assert!(ok);
    assert_eq!(sampled(&out), vec![next]);
    let sent = telemetry(&out);
    assert_eq!(sent.len(), 1, "sent at once while running");
    let (pkid, schema, seq, values) = sent[0].clone();
    assert_eq!((schema, seq), (0, next));
    assert_eq!(values, vec![46.5, 7.5, 41.0]);
    assert_eq!(b.dev.buffered_seqs().collect::<Vec<_>>(), vec![next]);

    let out = b.deliver(Peer::Hub, Msg::PubAck { pkid });
    assert_eq!(acked(&out), vec![next]);
    assert_eq!(b.dev.buffered(), 0);

    // The periodic cycle continues after it, with the following number.
    let out = run_acking(&mut b, SimTime::from_secs(800));
    assert_eq!(sampled(&out).first(), Some(&(next + 1)));
}

#[test]
fn an_event_published_while_disconnected_is_sent_after_the_reconnect() {
    let mut b = Bench::new(config());
    // Off: no firmware runs to take the reading.
    let (ok, out) = b.publish(0, &[1.0, 2.0, 3.0]);
    assert!(!ok);
    assert!(out.is_empty());

    let out = b.bring_up();
    ack_all(&mut b, &out);
    b.disconnect(DisconnectReason::Network);
    let (ok, out) = b.publish(0, &[1.0, 2.0, 3.0]);
    assert!(ok);
    let seq = sampled(&out)[0];
    assert!(
        sends(&out).is_empty(),
        "nothing goes out while disconnected"
    );
    assert!(b.dev.buffered_seqs().any(|s| s == seq));

    until_reconnect(&mut b);
    let out = b.connect_hub(1);
    let sent = telemetry(&out);
    let event = sent
        .iter()
        .find(|(_, _, s, _)| *s == seq)
        .expect("the buffered event goes out after the reconnect");
    assert_eq!(event.3, vec![1.0, 2.0, 3.0]);
    let out = b.deliver(Peer::Hub, Msg::PubAck { pkid: event.0 });
    assert_eq!(acked(&out), vec![seq]);
}

#[test]
fn an_alarm_schema_event_goes_out_in_that_schema_even_from_the_buffer() {
    let mut cfg = config();
    cfg.schemas = two_schemas();
    cfg.validate().unwrap();
    let mut b = Bench::new(cfg);
    let out = b.bring_up();
    ack_all(&mut b, &out);

    let (ok, out) = b.publish(1, &[7.0]);
    assert!(ok);
    let sent = telemetry(&out);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].1, sent[0].3.clone()), (1, vec![7.0]));
    let (_, msg) = &sends(&out)[0];
    let bytes = msg.encode(&b.cfg.schemas).unwrap();
    let wire = String::from_utf8_lossy(&bytes);
    assert!(
        wire.contains("kind=alarm"),
        "the alarm schema's topic: {wire}"
    );
    assert!(
        wire.contains("\"level\":7.0"),
        "the alarm schema's body: {wire}"
    );
    b.deliver(Peer::Hub, Msg::PubAck { pkid: sent[0].0 });

    // Unknown schemas and the wrong number of values are refused and leave no record.
    for (schema, values) in [(2u16, &[7.0][..]), (1, &[7.0, 8.0][..]), (0, &[1.0][..])] {
        let (ok, out) = b.publish(schema, values);
        assert!(!ok, "schema {schema} with {values:?}");
        assert!(out.is_empty());
    }

    // Buffered while offline, the slot keeps its schema beside periodic readings.
    b.disconnect(DisconnectReason::Network);
    let (ok, out) = b.publish(1, &[9.0]);
    assert!(ok);
    let seq = sampled(&out)[0];
    until_reconnect(&mut b);
    let out = b.connect_hub(1);
    let sent = telemetry(&out);
    let event = sent.iter().find(|(_, _, s, _)| *s == seq).unwrap();
    assert_eq!((event.1, event.3.clone()), (1, vec![9.0]));
    assert!(sent
        .iter()
        .all(|(_, schema, s, _)| *s == seq || *schema == 0));
}

#[test]
fn a_device_without_periodic_telemetry_never_samples_nor_draws_for_it() {
    let mut cfg = config();
    cfg.periodic = false;
    cfg.token_ttl = SimDuration::from_hours(48);
    cfg.validate().unwrap();
    let mut b = Bench::new(cfg);
    let mut all = b.bring_up();
    all.extend(b.advance_to(SimTime::from_secs(24 * 3_600)));
    assert_eq!(b.logic.samples, 0);
    assert!(sampled(&all).is_empty());
    assert!(telemetry(&all).is_empty());
    let pings = sends(&all)
        .iter()
        .filter(|(_, m)| *m == Msg::PingReq)
        .count();
    assert!(pings >= 300, "only keep-alives while idle: {pings}");

    // No first-sample offset was drawn at power-on: the first draw of the device's stream
    // is the backoff of the first reconnect.
    b.disconnect(DisconnectReason::Network);
    let at = b.now;
    let out = b.tick();
    assert!(matches!(
        &sends(&out)[..],
        [(Peer::Hub, Msg::Connect { .. })]
    ));
    let first = below(&mut CompactRng::from_seed_u64(42), 1_000_000_000);
    assert_eq!(b.now.since(at), SimDuration::from_nanos(first));

    // Events still go out.
    b.connect_hub(1);
    let (ok, out) = b.publish(0, &[1.0, 2.0, 3.0]);
    assert!(ok);
    assert_eq!(telemetry(&out).len(), 1);
    assert_eq!(b.logic.samples, 0);
}

#[test]
fn a_deferred_method_reply_goes_out_on_the_same_connection_with_its_rid_and_status() {
    let mut b = Bench::new(config());
    b.logic.defer_methods = true;
    let out = b.bring_up();
    ack_all(&mut b, &out);
    let post = |rid: u32| Msg::MethodPost {
        name: "unlock".into(),
        rid,
        body: b"{}".to_vec().into(),
    };
    let out = b.deliver(Peer::Hub, post(77));
    assert!(sends(&out).is_empty(), "Later sends nothing yet");
    let rid = b.logic.deferred[0];
    assert_eq!(rid.rid(), 77);

    b.now += SimDuration::from_secs(2);
    let (ok, out) = b.reply_method(rid, 202, b"{\"unlocked\":true}");
    assert!(ok);
    assert_eq!(
        sends(&out),
        vec![(
            Peer::Hub,
            Msg::MethodRes {
                status: 202,
                rid: 77,
                body: b"{\"unlocked\":true}".to_vec().into()
            }
        )]
    );
}

#[test]
fn a_deferred_method_reply_after_a_reconnect_is_dropped() {
    let mut b = Bench::new(config());
    b.logic.defer_methods = true;
    let out = b.bring_up();
    ack_all(&mut b, &out);
    b.deliver(
        Peer::Hub,
        Msg::MethodPost {
            name: "unlock".into(),
            rid: 78,
            body: b"{}".to_vec().into(),
        },
    );
    let old = b.logic.deferred[0];

    b.disconnect(DisconnectReason::Network);
    let (ok, out) = b.reply_method(old, 200, b"{}");
    assert!(!ok, "disconnected");
    assert!(out.is_empty());

    until_reconnect(&mut b);
    let out = b.connect_hub(1);
    ack_all(&mut b, &out);
    let (ok, out) = b.reply_method(old, 200, b"{}");
    assert!(!ok, "the request came on the previous connection");
    assert!(out.is_empty());

    // A request on the new connection can still be answered later.
    b.deliver(
        Peer::Hub,
        Msg::MethodPost {
            name: "unlock".into(),
            rid: 79,
            body: b"{}".to_vec().into(),
        },
    );
    let new = b.logic.deferred[1];
    assert_eq!(new.rid(), 79);
    assert_ne!(new.to_bits() >> 32, old.to_bits() >> 32, "a new connection");
    let (ok, out) = b.reply_method(new, 200, b"{}");
    assert!(ok);
    assert!(matches!(
        &sends(&out)[..],
        [(
            Peer::Hub,
            Msg::MethodRes {
                status: 200,
                rid: 79,
                ..
            }
        )]
    ));
}

/// A logic with nothing but `sample`, for the trait's defaults.
struct Bare;

impl DeviceLogic for Bare {
    fn sample(&mut self, _device: u32, _now: SimTime, _out: &mut [f64; FIELDS_MAX]) -> usize {
        0
    }
}

#[test]
fn an_unknown_method_is_answered_404_by_default() {
    let call = MethodCall {
        rid: MethodRid::from_bits(5),
        name: "reboot",
        payload: b"{}",
    };
    assert_eq!(
        Bare.on_method(0, SimTime::ZERO, call),
        MethodReply::Now {
            status: 404,
            body: b"{\"error\":\"unknown method\"}".to_vec()
        }
    );
}

#[test]
fn report_sends_a_patch_while_connected_and_returns_false_while_offline() {
    let mut b = Bench::new(config());
    let patch = json!({"door": "open"});
    let (ok, out) = b.report(&patch);
    assert!(!ok, "off");
    assert!(out.is_empty());

    let out = b.bring_up();
    ack_all(&mut b, &out);
    let (ok, out) = b.report(&patch);
    assert!(ok);
    match &sends(&out)[..] {
        [(Peer::Hub, Msg::TwinPatchReported { body, .. })] => {
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(body).unwrap(),
                patch
            );
        }
        other => panic!("expected one reported patch, got {other:?}"),
    }

    b.disconnect(DisconnectReason::Network);
    let (ok, out) = b.report(&patch);
    assert!(!ok, "disconnected");
    assert!(out.is_empty());
    until_reconnect(&mut b);
    let (ok, out) = b.report(&patch);
    assert!(!ok, "connecting, not yet connected");
    assert!(out.is_empty());
}

#[test]
fn an_event_that_finds_the_buffer_full_under_drop_newest_is_refused_and_recorded_as_dropped() {
    let mut cfg = config();
    cfg.buffer_capacity = 1;
    cfg.overflow = firmware::OverflowPolicy::DropNewest;
    let mut b = Bench::new(cfg);
    let out = b.bring_up();
    ack_all(&mut b, &out);
    assert_eq!(b.dev.buffered(), 0);
    b.disconnect(DisconnectReason::Network);
    let (ok, _) = b.publish(0, &[1.0, 2.0, 3.0]);
    assert!(ok);
    let (ok, out) = b.publish(0, &[4.0, 5.0, 6.0]);
    assert!(!ok);
    let seq = sampled(&out)[0];
    assert_eq!(
        records(&out),
        vec![
            Record::Sampled { seq },
            Record::Dropped {
                seq,
                reason: firmware::DropReason::Overflow
            }
        ]
    );
    assert_eq!(b.dev.buffered_seqs().collect::<Vec<_>>(), vec![seq - 1]);
}
