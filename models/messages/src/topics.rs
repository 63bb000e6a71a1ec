//! Every MQTT topic a device and IoT Hub or DPS exchange (reference §1.6, §2.1), as a typed
//! [`Topic`] that formats to the exact wire string and parses back.
//!
//! Request ids (`$rid`) are opaque strings on the real services; the simulated devices and
//! services use decimal `u32`s, and a non-numeric `$rid` is a parse error here
//! **[simplification]**.

use std::fmt::{self, Write};

/// Subscription filter for C2D messages is per device; these are the fixed ones (§1.6, §2.1).
pub const FILTER_TWIN_RES: &str = "$iothub/twin/res/#";
pub const FILTER_TWIN_DESIRED: &str = "$iothub/twin/PATCH/properties/desired/#";
pub const FILTER_METHODS: &str = "$iothub/methods/POST/#";
pub const FILTER_DPS_RES: &str = "$dps/registrations/res/#";

/// Writes the C2D subscription filter `devices/{id}/messages/devicebound/#`.
pub fn write_c2d_filter(out: &mut impl Write, device: &str) -> fmt::Result {
    write!(out, "devices/{device}/messages/devicebound/#")
}

/// A topic could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an IoT Hub or DPS topic this simulator knows: `{0}`")]
pub struct TopicError(pub String);

/// A typed IoT Hub / DPS topic. Strings borrow from the parsed topic; `bag` is the raw,
/// still URL-encoded property bag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic<'a> {
    /// `devices/{id}/messages/events/{bag}` (D2C telemetry).
    D2c { device: &'a str, bag: &'a str },
    /// `devices/{id}/messages/devicebound/{bag}` (C2D delivery).
    C2d { device: &'a str, bag: &'a str },
    /// `$iothub/twin/GET/?$rid={rid}`.
    TwinGet { rid: u32 },
    /// `$iothub/twin/PATCH/properties/reported/?$rid={rid}`.
    TwinPatchReported { rid: u32 },
    /// `$iothub/twin/res/{status}/?$rid={rid}[&$version={v}]`.
    TwinRes {
        status: u16,
        rid: u32,
        version: Option<u64>,
    },
    /// `$iothub/twin/PATCH/properties/desired/?$version={v}`.
    TwinDesired { version: u64 },
    /// `$iothub/methods/POST/{name}/?$rid={rid}`.
    MethodPost { name: &'a str, rid: u32 },
    /// `$iothub/methods/res/{status}/?$rid={rid}`.
    MethodRes { status: i32, rid: u32 },
    /// `$dps/registrations/PUT/iotdps-register/?$rid={rid}`.
    DpsRegister { rid: u32 },
    /// `$dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={op}`.
    DpsGetStatus { rid: u32, operation_id: &'a str },
    /// `$dps/registrations/res/{status}/?$rid={rid}[&retry-after={s}]`.
    DpsRes {
        status: u16,
        rid: u32,
        retry_after_s: Option<u32>,
    },
}

impl fmt::Display for Topic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Topic::D2c { device, bag } => write!(f, "devices/{device}/messages/events/{bag}"),
            Topic::C2d { device, bag } => write!(f, "devices/{device}/messages/devicebound/{bag}"),
            Topic::TwinGet { rid } => write!(f, "$iothub/twin/GET/?$rid={rid}"),
            Topic::TwinPatchReported { rid } => {
                write!(f, "$iothub/twin/PATCH/properties/reported/?$rid={rid}")
            }
            Topic::TwinRes {
                status,
                rid,
                version,
            } => {
                write!(f, "$iothub/twin/res/{status}/?$rid={rid}")?;
                match version {
                    Some(v) => write!(f, "&$version={v}"),
                    None => Ok(()),
                }
            }
            Topic::TwinDesired { version } => {
                write!(f, "$iothub/twin/PATCH/properties/desired/?$version={version}")
            }
            Topic::MethodPost { name, rid } => write!(f, "$iothub/methods/POST/{name}/?$rid={rid}"),
            Topic::MethodRes { status, rid } => write!(f, "$iothub/methods/res/{status}/?$rid={rid}"),
            Topic::DpsRegister { rid } => {
                write!(f, "$dps/registrations/PUT/iotdps-register/?$rid={rid}")
            }
            Topic::DpsGetStatus { rid, operation_id } => write!(
                f,
                "$dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={operation_id}"
            ),
            Topic::DpsRes {
                status,
                rid,
                retry_after_s,
            } => {
                write!(f, "$dps/registrations/res/{status}/?$rid={rid}")?;
                match retry_after_s {
                    Some(s) => write!(f, "&retry-after={s}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Parses `k=v&k=v` query parameters, calling `each` for every pair.
fn query<'a>(q: &'a str, mut each: impl FnMut(&'a str, &'a str) -> Option<()>) -> Option<()> {
    for part in q.split('&') {
        let (k, v) = part.split_once('=')?;
        each(k, v)?;
    }
    Some(())
}

impl<'a> Topic<'a> {
    /// The topic's byte length on the wire, without allocating it.
    pub fn wire_len(&self) -> usize {
        // The per-message topics by arithmetic (every telemetry message asks).
        match *self {
            Topic::D2c { device, bag } => {
                return "devices/".len() + device.len() + "/messages/events/".len() + bag.len()
            }
            Topic::C2d { device, bag } => {
                return "devices/".len() + device.len() + "/messages/devicebound/".len() + bag.len()
            }
            _ => {}
        }
        let mut c = crate::props::ByteCounter::default();
        write!(c, "{self}").expect("counting cannot fail");
        c.0
    }

    /// Parses a topic string.
    pub fn parse(t: &'a str) -> Result<Topic<'a>, TopicError> {
        Self::try_parse(t).ok_or_else(|| TopicError(t.to_string()))
    }

    fn try_parse(t: &'a str) -> Option<Topic<'a>> {
        if let Some(rest) = t.strip_prefix("devices/") {
            let (device, rest) = rest.split_once('/')?;
            if let Some(bag) = rest.strip_prefix("messages/events/") {
                return Some(Topic::D2c { device, bag });
            }
            if rest == "messages/events" {
                return Some(Topic::D2c { device, bag: "" });
            }
            let bag = rest.strip_prefix("messages/devicebound/")?;
            return Some(Topic::C2d { device, bag });
        }
        if let Some(rest) = t.strip_prefix("$iothub/twin/") {
            if let Some(q) = rest.strip_prefix("GET/?$rid=") {
                return Some(Topic::TwinGet {
                    rid: q.parse().ok()?,
                });
            }
            if let Some(q) = rest.strip_prefix("PATCH/properties/reported/?$rid=") {
                return Some(Topic::TwinPatchReported {
                    rid: q.parse().ok()?,
                });
            }
            if let Some(q) = rest.strip_prefix("PATCH/properties/desired/?$version=") {
                return Some(Topic::TwinDesired {
                    version: q.parse().ok()?,
                });
            }
            let rest = rest.strip_prefix("res/")?;
            let (status, q) = rest.split_once("/?")?;
            let (mut rid, mut version) = (None, None);
            query(q, |k, v| {
                match k {
                    "$rid" => rid = Some(v.parse().ok()?),
                    "$version" => version = Some(v.parse().ok()?),
                    _ => return None,
                }
                Some(())
            })?;
            return Some(Topic::TwinRes {
                status: status.parse().ok()?,
                rid: rid?,
                version,
            });
        }
        if let Some(rest) = t.strip_prefix("$iothub/methods/") {
            if let Some(rest) = rest.strip_prefix("POST/") {
                let (name, q) = rest.split_once("/?$rid=")?;
                return Some(Topic::MethodPost {
                    name,
                    rid: q.parse().ok()?,
                });
            }
            let rest = rest.strip_prefix("res/")?;
            let (status, q) = rest.split_once("/?$rid=")?;
            return Some(Topic::MethodRes {
                status: status.parse().ok()?,
                rid: q.parse().ok()?,
            });
        }
        let rest = t.strip_prefix("$dps/registrations/")?;
        if let Some(q) = rest.strip_prefix("PUT/iotdps-register/?$rid=") {
            return Some(Topic::DpsRegister {
                rid: q.parse().ok()?,
            });
        }
        if let Some(q) = rest.strip_prefix("GET/iotdps-get-operationstatus/?") {
            let (mut rid, mut op) = (None, None);
            query(q, |k, v| {
                match k {
                    "$rid" => rid = Some(v.parse().ok()?),
                    "operationId" => op = Some(v),
                    _ => return None,
                }
                Some(())
            })?;
            return Some(Topic::DpsGetStatus {
                rid: rid?,
                operation_id: op?,
            });
        }
        let rest = rest.strip_prefix("res/")?;
        let (status, q) = rest.split_once("/?")?;
        let (mut rid, mut retry) = (None, None);
        query(q, |k, v| {
            match k {
                "$rid" => rid = Some(v.parse().ok()?),
                "retry-after" => retry = Some(v.parse().ok()?),
                _ => return None,
            }
            Some(())
        })?;
        Some(Topic::DpsRes {
            status: status.parse().ok()?,
            rid: rid?,
            retry_after_s: retry,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_have_the_documented_forms_and_parse_back() {
        let cases = [
            (
                Topic::D2c {
                    device: "cow-1",
                    bag: "$.ct=application%2Fjson&$.ce=utf-8",
                },
                "devices/cow-1/messages/events/$.ct=application%2Fjson&$.ce=utf-8",
            ),
            (
                Topic::C2d {
                    device: "cow-1",
                    bag: "a=1",
                },
                "devices/cow-1/messages/devicebound/a=1",
            ),
            (Topic::TwinGet { rid: 7 }, "$iothub/twin/GET/?$rid=7"),
            (
                Topic::TwinPatchReported { rid: 8 },
                "$iothub/twin/PATCH/properties/reported/?$rid=8",
            ),
            (
                Topic::TwinRes {
                    status: 204,
                    rid: 8,
                    version: Some(5),
                },
                "$iothub/twin/res/204/?$rid=8&$version=5",
            ),
            (
                Topic::TwinDesired { version: 3 },
                "$iothub/twin/PATCH/properties/desired/?$version=3",
            ),
            (
                Topic::MethodPost {
                    name: "reboot",
                    rid: 1,
                },
                "$iothub/methods/POST/reboot/?$rid=1",
            ),
            (
                Topic::MethodRes {
                    status: 200,
                    rid: 1,
                },
                "$iothub/methods/res/200/?$rid=1",
            ),
            (
                Topic::DpsRegister { rid: 2 },
                "$dps/registrations/PUT/iotdps-register/?$rid=2",
            ),
            (
                Topic::DpsGetStatus {
                    rid: 3,
                    operation_id: "4.abc",
                },
                "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=3&operationId=4.abc",
            ),
            (
                Topic::DpsRes {
                    status: 202,
                    rid: 3,
                    retry_after_s: Some(3),
                },
                "$dps/registrations/res/202/?$rid=3&retry-after=3",
            ),
        ];
        for (topic, wire) in cases {
            assert_eq!(topic.to_string(), wire);
            assert_eq!(topic.wire_len(), wire.len());
            assert_eq!(Topic::parse(wire), Ok(topic));
        }
        assert!(Topic::parse("devices/x/other").is_err());
        assert!(Topic::parse("$iothub/twin/GET/?$rid=abc").is_err());
    }
}
