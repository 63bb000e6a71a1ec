use hub::{ConnId, Hub, HubConfig, HubOutput};
use iot_messages::sas::{device_resource_uri, SasToken};
use iot_messages::telemetry::{SchemaSet, TelemetrySchema, Values};
use iot_messages::wire::hub_username;
use iot_messages::{ConnectCode, DeviceId, Msg, SubFilters};
use sim::{Epoch, SimTime};

pub const KEY: [u8; 32] = [7; 32];

pub fn schemas() -> SchemaSet {
    SchemaSet::new(vec![TelemetrySchema::new(
        "collar",
        &["lat", "lon", "temp_c"],
        &[("kind", Some("collar"))],
    )
    .unwrap()])
}

pub fn id(i: u32) -> String {
    format!("cow-{i}")
}

/// A hub with devices cow-0..cow-{n-1}, all with key `KEY`.
pub fn hub_with(cfg: HubConfig, n: u32) -> Hub {
    let mut h = Hub::new(cfg, schemas()).unwrap();
    for i in 0..n {
        h.register_device(SimTime::ZERO, &DeviceId::new(&id(i)).unwrap(), &KEY, None)
            .unwrap();
    }
    h
}

pub fn unix(t: SimTime) -> u64 {
    Epoch::DEFAULT.unix_secs() as u64 + t.as_secs()
}

pub fn connect_msg(h: &Hub, dev: &str, expiry_unix_s: u64) -> Msg {
    let uri = device_resource_uri(h.host(), dev);
    Msg::Connect {
        client_id: dev.into(),
        username: hub_username(h.host(), dev).into(),
        password: SasToken::sign(&uri, &KEY, expiry_unix_s, None).into(),
        keep_alive_s: 240,
    }
}

pub fn drain(h: &mut Hub) -> Vec<HubOutput> {
    std::iter::from_fn(|| h.poll_output()).collect()
}

/// Connects device `i` on connection `i` with a one-hour token and subscribes to `subs`.
pub fn online(h: &mut Hub, now: SimTime, i: u32, subs: SubFilters) {
    let m = connect_msg(h, &id(i), unix(now) + 3_600);
    h.handle_packet(now, ConnId(i), &m);
    let out = drain(h);
    assert!(
        out.iter().any(|o| matches!(
            o,
            HubOutput::ToDevice {
                msg: Msg::ConnAck {
                    code: ConnectCode::Accepted
                },
                ..
            }
        )),
        "{out:?}"
    );
    if subs.0 != 0 {
        h.handle_packet(
            now,
            ConnId(i),
            &Msg::Subscribe {
                pkid: 1,
                device: id(i).into(),
                filters: subs,
            },
        );
        drain(h);
    }
}

pub fn telemetry(i: u32, pkid: u16, seq: u32, temp_c: f64) -> Msg {
    Msg::telemetry(
        &schemas(),
        pkid,
        id(i).into(),
        0,
        Values::new(seq, &[47.0, 8.0, temp_c]),
    )
    .unwrap()
}
