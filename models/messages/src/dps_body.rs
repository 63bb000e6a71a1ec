//! JSON bodies of the DPS MQTT registration flow (reference §2.1).
//!
//! - register request: `{"registrationId":"..."}`;
//! - 202 (keep polling): `{"operationId":"...","status":"assigning"}`;
//! - 200 (done): `{"operationId":"...","status":"assigned","registrationState":
//!   {"registrationId":"...","assignedHub":"...","deviceId":"...","status":"assigned",
//!   "substatus":"initialAssignment"}}`;
//! - errors: `{"errorCode":N,"message":"..."}`. The DPS error codes are not in the reference;
//!   we use 401002 for a refused attestation and 429001 for throttling, mirroring IoT Hub's
//!   numbering **[assumption]**. Substatus names are **[UNCONFIRMED]** in the reference (§2.1).

use serde_json::{json, Value};
use std::sync::Arc;

/// Registration status values (reference §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegStatus {
    Unassigned,
    Assigning,
    Assigned,
    Failed,
    Disabled,
}

impl RegStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RegStatus::Unassigned => "unassigned",
            RegStatus::Assigning => "assigning",
            RegStatus::Assigned => "assigned",
            RegStatus::Failed => "failed",
            RegStatus::Disabled => "disabled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "unassigned" => RegStatus::Unassigned,
            "assigning" => RegStatus::Assigning,
            "assigned" => RegStatus::Assigned,
            "failed" => RegStatus::Failed,
            "disabled" => RegStatus::Disabled,
            _ => return None,
        })
    }
}

/// Why an assignment happened (reference §2.1, §2.4; names **[UNCONFIRMED]**).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Substatus {
    InitialAssignment,
    DeviceDataMigrated,
    DeviceDataReset,
    ReprovisionedToInitialAssignment,
}

impl Substatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Substatus::InitialAssignment => "initialAssignment",
            Substatus::DeviceDataMigrated => "deviceDataMigrated",
            Substatus::DeviceDataReset => "deviceDataReset",
            Substatus::ReprovisionedToInitialAssignment => "reprovisionedToInitialAssignment",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "initialAssignment" => Substatus::InitialAssignment,
            "deviceDataMigrated" => Substatus::DeviceDataMigrated,
            "deviceDataReset" => Substatus::DeviceDataReset,
            "reprovisionedToInitialAssignment" => Substatus::ReprovisionedToInitialAssignment,
            _ => return None,
        })
    }
}

/// The device's assignment, once DPS is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub registration_id: Arc<str>,
    pub assigned_hub: Arc<str>,
    pub device_id: Arc<str>,
    pub substatus: Substatus,
}

/// A DPS response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpsReply {
    /// 202: still assigning; poll `operation_id` after `retry-after`.
    Assigning { operation_id: Arc<str> },
    /// 200: assigned (or another terminal status, e.g. `disabled`, with no assignment).
    Done {
        operation_id: Arc<str>,
        status: RegStatus,
        assignment: Option<Assignment>,
    },
    /// 4xx: refused.
    Error { error_code: u32, message: Arc<str> },
}

impl DpsReply {
    pub fn to_json(&self) -> Value {
        match self {
            DpsReply::Assigning { operation_id } => {
                json!({"operationId": &**operation_id, "status": "assigning"})
            }
            DpsReply::Done {
                operation_id,
                status,
                assignment,
            } => {
                let mut v = json!({"operationId": &**operation_id, "status": status.as_str()});
                if let Some(a) = assignment {
                    v["registrationState"] = json!({
                        "registrationId": &*a.registration_id,
                        "assignedHub": &*a.assigned_hub,
                        "deviceId": &*a.device_id,
                        "status": status.as_str(),
                        "substatus": a.substatus.as_str(),
                    });
                }
                v
            }
            DpsReply::Error {
                error_code,
                message,
            } => json!({"errorCode": error_code, "message": &**message}),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_json()).expect("JSON values serialize")
    }

    /// Parses a response body given its MQTT status.
    pub fn parse(status: u16, body: &[u8]) -> Option<DpsReply> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let s = |v: &Value, k: &str| v.get(k)?.as_str().map(Arc::from);
        if status >= 400 {
            return Some(DpsReply::Error {
                error_code: u32::try_from(v.get("errorCode")?.as_u64()?).ok()?,
                message: s(&v, "message")?,
            });
        }
        let operation_id = s(&v, "operationId")?;
        let st = RegStatus::parse(v.get("status")?.as_str()?)?;
        if status == 202 {
            return (st == RegStatus::Assigning).then_some(DpsReply::Assigning { operation_id });
        }
        let assignment = match v.get("registrationState") {
            Some(r) => Some(Assignment {
                registration_id: s(r, "registrationId")?,
                assigned_hub: s(r, "assignedHub")?,
                device_id: s(r, "deviceId")?,
                substatus: Substatus::parse(r.get("substatus")?.as_str()?)?,
            }),
            None => None,
        };
        Some(DpsReply::Done {
            operation_id,
            status: st,
            assignment,
        })
    }
}

/// The register request body `{"registrationId":"..."}`.
pub fn register_body(registration_id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({ "registrationId": registration_id })).expect("JSON")
}

/// The registration id in a register request body.
pub fn parse_register_body(body: &[u8]) -> Option<Arc<str>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("registrationId")?.as_str().map(Arc::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip_through_json() {
        let replies = [
            DpsReply::Assigning {
                operation_id: "4.00a1".into(),
            },
            DpsReply::Done {
                operation_id: "4.00a1".into(),
                status: RegStatus::Assigned,
                assignment: Some(Assignment {
                    registration_id: "cow-1".into(),
                    assigned_hub: "hub-a.azure-devices.net".into(),
                    device_id: "cow-1".into(),
                    substatus: Substatus::InitialAssignment,
                }),
            },
            DpsReply::Error {
                error_code: 401002,
                message: "unauthorized".into(),
            },
        ];
        for (status, r) in [202, 200, 401].into_iter().zip(replies) {
            assert_eq!(DpsReply::parse(status, &r.to_bytes()), Some(r));
        }
        assert_eq!(
            String::from_utf8(register_body("cow-1")).unwrap(),
            r#"{"registrationId":"cow-1"}"#
        );
    }
}
