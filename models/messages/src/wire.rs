//! The compact in-simulation message and its real MQTT 3.1.1 encoding.
//!
//! [`Msg`] is what the kernel carries between a device and IoT Hub or DPS: the fields of the
//! MQTT packet, strings shared by `Arc`, telemetry as numbers plus a [`SchemaId`].
//! [`Msg::encode`] produces the exact packet bytes through the `mqttbytes` codec (v4 =
//! MQTT 3.1.1, reference §1.6), [`Msg::decode`] parses bytes back, and [`Msg::encoded_len`]
//! is the packet size in bytes, computed without allocating for the hot packets (telemetry,
//! PUBACK, pings). Metering and link bandwidth use `encoded_len`.
//!
//! Decoding a telemetry packet yields the general [`Msg::D2c`] form (topic property bag and
//! body bytes), not [`Msg::Telemetry`]: the hub handles both and a test shows that both give
//! the same outcome.
//!
//! QoS choices: D2C and C2D publishes use QoS 1 with a packet id (SDK default, §1.6);
//! subscriptions ask for QoS 1; twin, method and DPS request/response publishes use QoS 0
//! (method requests arrive QoS 0 per §1.6; for twin and DPS the choice is ours
//! **[simplification]**). CONNECT uses CleanSession = 0 (SDK default, §1.6).

use crate::dps_body::{self, DpsReply};
use crate::props::ByteCounter;
use crate::telemetry::{SchemaId, SchemaSet, Values};
use crate::topics::{self, Topic};
use bytes::{Bytes, BytesMut};
use mqttbytes::v4::{
    self, ConnAck, Connect, ConnectReturnCode, Packet, PubAck, Publish, SubAck, Subscribe,
    SubscribeReasonCode,
};
use mqttbytes::QoS;
use std::fmt::Write;
use std::sync::Arc;

/// Largest packet [`Msg::decode`] accepts: a 256 KB D2C message plus headers (reference §1.3).
pub const DECODE_BYTES_MAX: usize = 300 * 1024;

/// An MQTT 3.1.1 CONNACK return code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectCode {
    Accepted,
    ServerUnavailable,
    BadUsernameOrPassword,
    NotAuthorized,
}

/// A set of the subscription filters a device uses, in this fixed order on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubFilters(pub u8);

impl SubFilters {
    pub const C2D: SubFilters = SubFilters(1);
    pub const TWIN_RES: SubFilters = SubFilters(2);
    pub const TWIN_DESIRED: SubFilters = SubFilters(4);
    pub const METHODS: SubFilters = SubFilters(8);
    pub const DPS_RES: SubFilters = SubFilters(16);
    pub const ALL_HUB: SubFilters = SubFilters(1 | 2 | 4 | 8);

    pub fn contains(self, o: SubFilters) -> bool {
        self.0 & o.0 == o.0
    }
    pub fn union(self, o: SubFilters) -> SubFilters {
        SubFilters(self.0 | o.0)
    }
    pub fn count(self) -> u32 {
        self.0.count_ones()
    }
    /// The filters of the set, in wire order.
    pub fn filters(self) -> impl Iterator<Item = SubFilters> {
        (0..5)
            .map(|b| SubFilters(1 << b))
            .filter(move |f| self.contains(*f))
    }
    fn write_filter(self, out: &mut String, device: &str) {
        match self {
            SubFilters::C2D => topics::write_c2d_filter(out, device).expect("String write"),
            SubFilters::TWIN_RES => out.push_str(topics::FILTER_TWIN_RES),
            SubFilters::TWIN_DESIRED => out.push_str(topics::FILTER_TWIN_DESIRED),
            SubFilters::METHODS => out.push_str(topics::FILTER_METHODS),
            _ => out.push_str(topics::FILTER_DPS_RES),
        }
    }
    fn parse_filter(f: &str) -> Option<(SubFilters, Option<&str>)> {
        Some(match f {
            topics::FILTER_TWIN_RES => (SubFilters::TWIN_RES, None),
            topics::FILTER_TWIN_DESIRED => (SubFilters::TWIN_DESIRED, None),
            topics::FILTER_METHODS => (SubFilters::METHODS, None),
            topics::FILTER_DPS_RES => (SubFilters::DPS_RES, None),
            _ => {
                let d = f
                    .strip_prefix("devices/")?
                    .strip_suffix("/messages/devicebound/#")?;
                (SubFilters::C2D, Some(d))
            }
        })
    }
}

/// A message between a device and IoT Hub or DPS.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Connect {
        client_id: Arc<str>,
        username: Arc<str>,
        password: Arc<str>,
        keep_alive_s: u16,
    },
    ConnAck {
        code: ConnectCode,
    },
    /// `device` is needed only to spell the C2D filter.
    Subscribe {
        pkid: u16,
        device: Arc<str>,
        filters: SubFilters,
    },
    /// One return code per requested filter, in request order: bit `i` of `refused_mask`
    /// set means the `i`-th filter was refused (0x80), clear means granted at QoS 1.
    SubAck {
        pkid: u16,
        count: u8,
        refused_mask: u8,
    },
    /// Compact D2C telemetry of a shared schema. `body_len` is the byte length of the JSON
    /// body, computed once by [`Msg::telemetry`] where the message is made (metering and
    /// bandwidth need it for every message; rendering floats each time would dominate the
    /// hub's ingest cost). [`Msg::encode`] refuses a message whose `body_len` is wrong.
    Telemetry {
        pkid: u16,
        device: Arc<str>,
        schema: SchemaId,
        values: Values,
        body_len: u32,
    },
    /// General D2C message: the encoded property bag and the body bytes.
    D2c {
        pkid: u16,
        device: Arc<str>,
        bag: Arc<str>,
        body: Arc<[u8]>,
    },
    PubAck {
        pkid: u16,
    },
    C2d {
        pkid: u16,
        device: Arc<str>,
        bag: Arc<str>,
        body: Arc<[u8]>,
    },
    TwinGet {
        rid: u32,
    },
    TwinPatchReported {
        rid: u32,
        body: Arc<[u8]>,
    },
    TwinRes {
        status: u16,
        rid: u32,
        version: Option<u64>,
        body: Arc<[u8]>,
    },
    TwinDesired {
        version: u64,
        body: Arc<[u8]>,
    },
    MethodPost {
        name: Arc<str>,
        rid: u32,
        body: Arc<[u8]>,
    },
    MethodRes {
        status: i32,
        rid: u32,
        body: Arc<[u8]>,
    },
    DpsRegister {
        rid: u32,
        registration_id: Arc<str>,
    },
    DpsPoll {
        rid: u32,
        operation_id: Arc<str>,
    },
    DpsRes {
        status: u16,
        rid: u32,
        retry_after_s: Option<u32>,
        reply: DpsReply,
    },
    PingReq,
    PingResp,
    Disconnect,
}

/// A message could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("MQTT codec: {0}")]
    Codec(String),
    #[error("telemetry schema {0} is not in the scenario's schema set")]
    UnknownSchema(SchemaId),
    #[error(transparent)]
    Topic(#[from] topics::TopicError),
    #[error("unexpected packet: {0}")]
    Unexpected(String),
    #[error("telemetry body_len {stated} does not match the rendered body of {actual} bytes")]
    BodyLen { stated: u32, actual: usize },
    #[error("body of `{topic}` is not what that topic carries")]
    Body { topic: String },
}

fn codec(e: mqttbytes::Error) -> WireError {
    WireError::Codec(format!("{e:?}"))
}

/// Bytes of the MQTT "remaining length" varint for `n`.
fn varint_len(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

fn publish_len(topic_len: usize, qos1: bool, payload_len: usize) -> usize {
    let rem = 2 + topic_len + if qos1 { 2 } else { 0 } + payload_len;
    1 + varint_len(rem) + rem
}

fn topic_string(t: Topic<'_>) -> String {
    t.to_string()
}

impl Msg {
    /// A compact telemetry message with its body length computed.
    pub fn telemetry(
        schemas: &SchemaSet,
        pkid: u16,
        device: Arc<str>,
        schema: SchemaId,
        values: Values,
    ) -> Result<Msg, WireError> {
        let s = schemas
            .get(schema)
            .ok_or(WireError::UnknownSchema(schema))?;
        Ok(Msg::Telemetry {
            pkid,
            device,
            schema,
            body_len: s.body_len(&values) as u32,
            values,
        })
    }

    /// The size of the encoded MQTT packet in bytes.
    pub fn encoded_len(&self, schemas: &SchemaSet) -> Result<usize, WireError> {
        Ok(match self {
            Msg::Telemetry {
                device,
                schema,
                body_len,
                ..
            } => {
                // `body_len` was measured when the message was built (`Msg::telemetry`).
                let s = schemas
                    .get(*schema)
                    .ok_or(WireError::UnknownSchema(*schema))?;
                let topic = Topic::D2c {
                    device,
                    bag: s.bag(),
                }
                .wire_len();
                publish_len(topic, true, *body_len as usize)
            }
            Msg::D2c {
                device, bag, body, ..
            } => publish_len(Topic::D2c { device, bag }.wire_len(), true, body.len()),
            Msg::C2d {
                device, bag, body, ..
            } => publish_len(Topic::C2d { device, bag }.wire_len(), true, body.len()),
            Msg::PubAck { .. } => 4,
            Msg::PingReq | Msg::PingResp | Msg::Disconnect => 2,
            Msg::ConnAck { .. } => 4,
            Msg::TwinGet { rid } => publish_len(Topic::TwinGet { rid: *rid }.wire_len(), false, 0),
            _ => self.encode(schemas)?.len(),
        })
    }

    /// The payload size that IoT Hub meters: the body only, framing excluded (reference §1.1).
    pub fn body_len(&self) -> usize {
        match self {
            Msg::Telemetry { body_len, .. } => *body_len as usize,
            Msg::D2c { body, .. }
            | Msg::C2d { body, .. }
            | Msg::TwinPatchReported { body, .. }
            | Msg::TwinRes { body, .. }
            | Msg::TwinDesired { body, .. }
            | Msg::MethodPost { body, .. }
            | Msg::MethodRes { body, .. } => body.len(),
            _ => 0,
        }
    }

    /// The packet as the `mqttbytes` codec's type.
    pub fn to_packet(&self, schemas: &SchemaSet) -> Result<Packet, WireError> {
        let publish = |topic: Topic<'_>, qos: QoS, pkid: u16, body: &[u8]| {
            let mut p = Publish::new(topic_string(topic), qos, body.to_vec());
            p.pkid = pkid;
            Packet::Publish(p)
        };
        Ok(match self {
            Msg::Connect {
                client_id,
                username,
                password,
                keep_alive_s,
            } => {
                let mut c = Connect::new(&**client_id);
                c.keep_alive = *keep_alive_s;
                c.clean_session = false;
                c.set_login(&**username, &**password);
                Packet::Connect(c)
            }
            Msg::ConnAck { code } => Packet::ConnAck(ConnAck::new(
                match code {
                    ConnectCode::Accepted => ConnectReturnCode::Success,
                    ConnectCode::ServerUnavailable => ConnectReturnCode::ServiceUnavailable,
                    ConnectCode::BadUsernameOrPassword => ConnectReturnCode::BadUserNamePassword,
                    ConnectCode::NotAuthorized => ConnectReturnCode::NotAuthorized,
                },
                false,
            )),
            Msg::Subscribe {
                pkid,
                device,
                filters,
            } => {
                let mut s = Subscribe::empty_subscribe();
                s.pkid = *pkid;
                for f in filters.filters() {
                    let mut path = String::new();
                    f.write_filter(&mut path, device);
                    s.add(path, QoS::AtLeastOnce);
                }
                Packet::Subscribe(s)
            }
            Msg::SubAck {
                pkid,
                count,
                refused_mask,
            } => Packet::SubAck(SubAck::new(
                *pkid,
                (0..*count)
                    .map(|i| {
                        if refused_mask & (1 << i) != 0 {
                            SubscribeReasonCode::Failure
                        } else {
                            SubscribeReasonCode::Success(QoS::AtLeastOnce)
                        }
                    })
                    .collect(),
            )),
            Msg::Telemetry {
                pkid,
                device,
                schema,
                values,
                body_len,
            } => {
                let s = schemas
                    .get(*schema)
                    .ok_or(WireError::UnknownSchema(*schema))?;
                let topic = Topic::D2c {
                    device,
                    bag: s.bag(),
                };
                let body = s.body(values);
                if body.len() != *body_len as usize {
                    return Err(WireError::BodyLen {
                        stated: *body_len,
                        actual: body.len(),
                    });
                }
                publish(topic, QoS::AtLeastOnce, *pkid, body.as_bytes())
            }
            Msg::D2c {
                pkid,
                device,
                bag,
                body,
            } => publish(Topic::D2c { device, bag }, QoS::AtLeastOnce, *pkid, body),
            Msg::C2d {
                pkid,
                device,
                bag,
                body,
            } => publish(Topic::C2d { device, bag }, QoS::AtLeastOnce, *pkid, body),
            Msg::PubAck { pkid } => Packet::PubAck(PubAck::new(*pkid)),
            Msg::TwinGet { rid } => publish(Topic::TwinGet { rid: *rid }, QoS::AtMostOnce, 0, &[]),
            Msg::TwinPatchReported { rid, body } => publish(
                Topic::TwinPatchReported { rid: *rid },
                QoS::AtMostOnce,
                0,
                body,
            ),
            Msg::TwinRes {
                status,
                rid,
                version,
                body,
            } => publish(
                Topic::TwinRes {
                    status: *status,
                    rid: *rid,
                    version: *version,
                },
                QoS::AtMostOnce,
                0,
                body,
            ),
            Msg::TwinDesired { version, body } => publish(
                Topic::TwinDesired { version: *version },
                QoS::AtMostOnce,
                0,
                body,
            ),
            Msg::MethodPost { name, rid, body } => publish(
                Topic::MethodPost { name, rid: *rid },
                QoS::AtMostOnce,
                0,
                body,
            ),
            Msg::MethodRes { status, rid, body } => publish(
                Topic::MethodRes {
                    status: *status,
                    rid: *rid,
                },
                QoS::AtMostOnce,
                0,
                body,
            ),
            Msg::DpsRegister {
                rid,
                registration_id,
            } => publish(
                Topic::DpsRegister { rid: *rid },
                QoS::AtMostOnce,
                0,
                &dps_body::register_body(registration_id),
            ),
            Msg::DpsPoll { rid, operation_id } => publish(
                Topic::DpsGetStatus {
                    rid: *rid,
                    operation_id,
                },
                QoS::AtMostOnce,
                0,
                &[],
            ),
            Msg::DpsRes {
                status,
                rid,
                retry_after_s,
                reply,
            } => publish(
                Topic::DpsRes {
                    status: *status,
                    rid: *rid,
                    retry_after_s: *retry_after_s,
                },
                QoS::AtMostOnce,
                0,
                &reply.to_bytes(),
            ),
            Msg::PingReq => Packet::PingReq,
            Msg::PingResp => Packet::PingResp,
            Msg::Disconnect => Packet::Disconnect,
        })
    }

    /// The MQTT 3.1.1 packet bytes.
    pub fn encode(&self, schemas: &SchemaSet) -> Result<BytesMut, WireError> {
        let mut buf = BytesMut::new();
        match self.to_packet(schemas)? {
            Packet::Connect(p) => p.write(&mut buf),
            Packet::ConnAck(p) => p.write(&mut buf),
            Packet::Publish(p) => p.write(&mut buf),
            Packet::PubAck(p) => p.write(&mut buf),
            Packet::Subscribe(p) => p.write(&mut buf),
            Packet::SubAck(p) => p.write(&mut buf),
            Packet::PingReq => v4::PingReq.write(&mut buf),
            Packet::PingResp => v4::PingResp.write(&mut buf),
            Packet::Disconnect => v4::Disconnect.write(&mut buf),
            other => return Err(WireError::Unexpected(format!("{other:?}"))),
        }
        .map_err(codec)?;
        Ok(buf)
    }

    /// Parses one packet from `bytes` (consuming it).
    pub fn decode(bytes: &mut BytesMut) -> Result<Msg, WireError> {
        let packet = v4::read(bytes, DECODE_BYTES_MAX).map_err(codec)?;
        Msg::from_packet(packet)
    }

    /// Converts a codec packet into a message.
    pub fn from_packet(packet: Packet) -> Result<Msg, WireError> {
        Ok(match packet {
            Packet::Connect(c) => {
                let login = c
                    .login
                    .ok_or_else(|| WireError::Unexpected("CONNECT without credentials".into()))?;
                Msg::Connect {
                    client_id: c.client_id.into(),
                    username: login.username.into(),
                    password: login.password.into(),
                    keep_alive_s: c.keep_alive,
                }
            }
            Packet::ConnAck(a) => Msg::ConnAck {
                code: match a.code {
                    ConnectReturnCode::Success => ConnectCode::Accepted,
                    ConnectReturnCode::BadUserNamePassword => ConnectCode::BadUsernameOrPassword,
                    ConnectReturnCode::NotAuthorized => ConnectCode::NotAuthorized,
                    _ => ConnectCode::ServerUnavailable,
                },
            },
            Packet::Subscribe(s) => {
                let mut filters = SubFilters::default();
                let mut device: Arc<str> = Arc::from("");
                for f in &s.filters {
                    let (bit, d) = SubFilters::parse_filter(&f.path)
                        .ok_or_else(|| WireError::Unexpected(format!("filter {}", f.path)))?;
                    filters = filters.union(bit);
                    if let Some(d) = d {
                        device = Arc::from(d);
                    }
                }
                Msg::Subscribe {
                    pkid: s.pkid,
                    device,
                    filters,
                }
            }
            Packet::SubAck(a) => Msg::SubAck {
                pkid: a.pkid,
                count: a.return_codes.len() as u8,
                refused_mask: a
                    .return_codes
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| matches!(c, SubscribeReasonCode::Failure))
                    .fold(0u8, |m, (i, _)| m | (1 << i)),
            },
            Packet::PubAck(a) => Msg::PubAck { pkid: a.pkid },
            Packet::PingReq => Msg::PingReq,
            Packet::PingResp => Msg::PingResp,
            Packet::Disconnect => Msg::Disconnect,
            Packet::Publish(p) => Msg::from_publish(&p.topic, p.pkid, p.payload)?,
            other => return Err(WireError::Unexpected(format!("{other:?}"))),
        })
    }

    fn from_publish(topic: &str, pkid: u16, payload: Bytes) -> Result<Msg, WireError> {
        let body: Arc<[u8]> = Arc::from(&payload[..]);
        let bad = || WireError::Body {
            topic: topic.to_string(),
        };
        Ok(match Topic::parse(topic)? {
            Topic::D2c { device, bag } => Msg::D2c {
                pkid,
                device: device.into(),
                bag: bag.into(),
                body,
            },
            Topic::C2d { device, bag } => Msg::C2d {
                pkid,
                device: device.into(),
                bag: bag.into(),
                body,
            },
            Topic::TwinGet { rid } => Msg::TwinGet { rid },
            Topic::TwinPatchReported { rid } => Msg::TwinPatchReported { rid, body },
            Topic::TwinRes {
                status,
                rid,
                version,
            } => Msg::TwinRes {
                status,
                rid,
                version,
                body,
            },
            Topic::TwinDesired { version } => Msg::TwinDesired { version, body },
            Topic::MethodPost { name, rid } => Msg::MethodPost {
                name: name.into(),
                rid,
                body,
            },
            Topic::MethodRes { status, rid } => Msg::MethodRes { status, rid, body },
            Topic::DpsRegister { rid } => Msg::DpsRegister {
                rid,
                registration_id: dps_body::parse_register_body(&payload).ok_or_else(bad)?,
            },
            Topic::DpsGetStatus { rid, operation_id } => Msg::DpsPoll {
                rid,
                operation_id: operation_id.into(),
            },
            Topic::DpsRes {
                status,
                rid,
                retry_after_s,
            } => Msg::DpsRes {
                status,
                rid,
                retry_after_s,
                reply: DpsReply::parse(status, &payload).ok_or_else(bad)?,
            },
        })
    }

    /// A short name of the packet kind, for counters and traces.
    pub fn kind(&self) -> &'static str {
        match self {
            Msg::Connect { .. } => "connect",
            Msg::ConnAck { .. } => "connack",
            Msg::Subscribe { .. } => "subscribe",
            Msg::SubAck { .. } => "suback",
            Msg::Telemetry { .. } | Msg::D2c { .. } => "d2c",
            Msg::PubAck { .. } => "puback",
            Msg::C2d { .. } => "c2d",
            Msg::TwinGet { .. } => "twin_get",
            Msg::TwinPatchReported { .. } => "twin_patch",
            Msg::TwinRes { .. } => "twin_res",
            Msg::TwinDesired { .. } => "twin_desired",
            Msg::MethodPost { .. } => "method_post",
            Msg::MethodRes { .. } => "method_res",
            Msg::DpsRegister { .. } => "dps_register",
            Msg::DpsPoll { .. } => "dps_poll",
            Msg::DpsRes { .. } => "dps_res",
            Msg::PingReq => "pingreq",
            Msg::PingResp => "pingresp",
            Msg::Disconnect => "disconnect",
        }
    }
}

/// The MQTT username a device presents to IoT Hub (reference §1.6).
pub fn hub_username(host: &str, device_id: &str) -> String {
    hub_username_with_model(host, device_id, None)
}

/// The MQTT username of an IoT Plug and Play device: the plain one with its device model's id
/// appended as `&model-id={dtmi}` (reference §6: devices announce their model id on
/// connect). The DTMI is written as is (its `:` and `;` unescaped), as the Plug and Play
/// samples send it **[assumption: the reference gives no username example]**.
pub fn hub_username_with_model(host: &str, device_id: &str, model_id: Option<&str>) -> String {
    match model_id {
        None => format!("{host}/{device_id}/?api-version=2021-04-12"),
        Some(m) => format!("{host}/{device_id}/?api-version=2021-04-12&model-id={m}"),
    }
}

/// The model id a hub username announces (`model-id=` in its query), if any.
pub fn username_model_id(username: &str) -> Option<&str> {
    let (_, query) = username.split_once('?')?;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("model-id="))
        .filter(|m| !m.is_empty())
}

/// The MQTT username a device presents to DPS (reference §2.1).
pub fn dps_username(id_scope: &str, registration_id: &str) -> String {
    format!("{id_scope}/registrations/{registration_id}/api-version=2019-03-31")
}

/// The byte length of a telemetry message's encoded form, for callers that want it without
/// building a [`Msg`].
pub fn telemetry_len(
    schemas: &SchemaSet,
    device: &str,
    schema: SchemaId,
    values: &Values,
) -> usize {
    match schemas.get(schema) {
        Some(s) => {
            let mut c = ByteCounter::default();
            write!(
                c,
                "{}",
                Topic::D2c {
                    device,
                    bag: s.bag()
                }
            )
            .expect("counting");
            publish_len(c.0, true, s.body_len(values))
        }
        None => 0,
    }
}
