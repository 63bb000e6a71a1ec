use firmware::{
    Ctx, Device, DeviceLogic, DeviceOutput, FirmwareConfig, MethodCall, MethodReply, MethodRid,
    Peer, Record,
};
use iot_messages::dps_body::{Assignment, DpsReply, RegStatus, Substatus};
use iot_messages::telemetry::{SchemaSet, TelemetrySchema, FIELDS_MAX};
use iot_messages::{ConnectCode, Msg};
use serde_json::Value;
use sim::{CompactRng, SimDuration, SimTime};
use std::sync::Arc;

pub const SCOPE: &str = "0ne00000001";
pub const HUB: &str = "hub-a.azure-devices.net";

#[derive(Default)]
pub struct Logic {
    pub samples: u32,
    pub desired: Vec<Value>,
    pub methods: Vec<String>,
    /// Answer methods with [`MethodReply::Later`] and keep their ids here.
    pub defer_methods: bool,
    pub deferred: Vec<MethodRid>,
    pub c2d: Vec<String>,
}

impl DeviceLogic for Logic {
    fn sample(&mut self, _device: u32, _now: SimTime, out: &mut [f64; FIELDS_MAX]) -> usize {
        self.samples += 1;
        out[0] = 47.0;
        out[1] = 8.0;
        out[2] = 38.5;
        3
    }
    fn on_desired(&mut self, _d: u32, _now: SimTime, desired: &Value) -> Option<Value> {
        self.desired.push(desired.clone());
        Some(serde_json::json!({"applied": true}))
    }
    fn on_method(&mut self, _d: u32, _now: SimTime, call: MethodCall<'_>) -> MethodReply {
        self.methods.push(call.name.to_string());
        if self.defer_methods {
            self.deferred.push(call.rid);
            return MethodReply::Later;
        }
        MethodReply::Now {
            status: 200,
            body: b"{\"ok\":true}".to_vec(),
        }
    }
    fn on_c2d(&mut self, _d: u32, _now: SimTime, bag: &str, _body: &[u8]) {
        self.c2d.push(bag.to_string());
    }
}

pub fn schemas() -> SchemaSet {
    SchemaSet::new(vec![TelemetrySchema::new(
        "collar",
        &["lat", "lon", "temp_c"],
        &[],
    )
    .unwrap()])
}

pub fn config() -> FirmwareConfig {
    let cfg = FirmwareConfig::new(SCOPE, schemas(), SimDuration::from_secs(300));
    cfg.validate().unwrap();
    cfg
}

pub struct Bench {
    pub dev: Device,
    pub cfg: FirmwareConfig,
    pub logic: Logic,
    pub now: SimTime,
}

impl Bench {
    pub fn new(cfg: FirmwareConfig) -> Bench {
        Bench {
            dev: Device::new(
                0,
                "cow-1".into(),
                Arc::from(&[7u8; 32][..]),
                CompactRng::from_seed_u64(42),
            ),
            cfg,
            logic: Logic::default(),
            now: SimTime::ZERO,
        }
    }

    fn run(&mut self, f: impl FnOnce(&mut Device, SimTime, &mut Ctx<'_>)) -> Vec<DeviceOutput> {
        let mut out = Vec::new();
        let mut ctx = Ctx {
            cfg: &self.cfg,
            logic: &mut self.logic,
            out: &mut out,
        };
        f(&mut self.dev, self.now, &mut ctx);
        // Every packet the firmware emits parses back with the MQTT codec (acceptance 1).
        for o in &out {
            if let DeviceOutput::Send { msg, .. } = o {
                let bytes = msg.encode(&self.cfg.schemas).expect("encodes");
                assert_eq!(bytes.len(), msg.encoded_len(&self.cfg.schemas).unwrap());
                let back = Msg::decode(&mut bytes.clone()).expect("parses back");
                // Parsed back, the packet encodes to the same bytes.
                assert_eq!(back.encode(&self.cfg.schemas).unwrap(), bytes);
            }
        }
        out
    }

    pub fn power_on(&mut self) -> Vec<DeviceOutput> {
        self.run(|d, now, ctx| d.power_on(now, ctx))
    }
    pub fn crash(&mut self) -> Vec<DeviceOutput> {
        self.run(|d, now, ctx| d.crash(now, ctx))
    }
    pub fn deliver(&mut self, from: Peer, msg: Msg) -> Vec<DeviceOutput> {
        self.run(|d, now, ctx| d.handle_msg(now, from, &msg, ctx))
    }
    pub fn publish(&mut self, schema: u16, values: &[f64]) -> (bool, Vec<DeviceOutput>) {
        let mut ok = false;
        let out = self.run(|d, now, ctx| ok = d.publish(now, schema, values, ctx));
        (ok, out)
    }
    pub fn reply_method(
        &mut self,
        rid: MethodRid,
        status: i32,
        body: &[u8],
    ) -> (bool, Vec<DeviceOutput>) {
        let mut ok = false;
        let out = self.run(|d, now, ctx| ok = d.reply_method(now, rid, status, body, ctx));
        (ok, out)
    }
    pub fn report(&mut self, patch: &Value) -> (bool, Vec<DeviceOutput>) {
        let mut ok = false;
        let out = self.run(|d, now, ctx| ok = d.report(now, patch, ctx));
        (ok, out)
    }
    pub fn disconnect(&mut self, reason: firmware::DisconnectReason) -> Vec<DeviceOutput> {
        self.run(|d, now, ctx| d.handle_disconnected(now, reason, ctx))
    }
    /// Advances to the device's next timer and runs it.
    pub fn tick(&mut self) -> Vec<DeviceOutput> {
        self.now = self.dev.poll_timeout(&self.cfg).expect("a timer is armed");
        self.run(|d, now, ctx| d.handle_timeout(now, ctx))
    }
    /// Advances to `t`, running every timer on the way.
    pub fn advance_to(&mut self, t: SimTime) -> Vec<DeviceOutput> {
        let mut all = Vec::new();
        while let Some(w) = self.dev.poll_timeout(&self.cfg) {
            if w > t {
                break;
            }
            all.extend(self.tick());
        }
        self.now = t;
        all
    }

    /// Provisions and connects through the whole happy path; returns every output.
    pub fn bring_up(&mut self) -> Vec<DeviceOutput> {
        let mut all = self.power_on();
        all.extend(self.deliver(
            Peer::Dps,
            Msg::ConnAck {
                code: ConnectCode::Accepted,
            },
        ));
        all.extend(self.deliver(
            Peer::Dps,
            Msg::SubAck {
                pkid: 1,
                count: 1,
                refused_mask: 0,
            },
        ));
        let rid = last_rid(&all);
        all.extend(self.deliver(
            Peer::Dps,
            Msg::DpsRes {
                status: 202,
                rid,
                retry_after_s: Some(3),
                reply: DpsReply::Assigning {
                    operation_id: "1.op".into(),
                },
            },
        ));
        self.now += SimDuration::from_secs(3);
        all.extend(self.run(|d, now, ctx| d.handle_timeout(now, ctx)));
        let rid = last_rid(&all);
        all.extend(self.deliver(
            Peer::Dps,
            Msg::DpsRes {
                status: 200,
                rid,
                retry_after_s: None,
                reply: DpsReply::Done {
                    operation_id: "1.op".into(),
                    status: RegStatus::Assigned,
                    assignment: Some(Assignment {
                        registration_id: "cow-1".into(),
                        assigned_hub: HUB.into(),
                        device_id: "cow-1".into(),
                        substatus: Substatus::InitialAssignment,
                    }),
                },
            },
        ));
        all.extend(self.connect_hub(1));
        all
    }

    /// From HubConnecting: CONNACK and SUBACK; the device then asks for its twin.
    pub fn accept_hub_connection(&mut self) -> Vec<DeviceOutput> {
        let mut all = self.deliver(
            Peer::Hub,
            Msg::ConnAck {
                code: ConnectCode::Accepted,
            },
        );
        all.extend(self.deliver(
            Peer::Hub,
            Msg::SubAck {
                pkid: 2,
                count: 4,
                refused_mask: 0,
            },
        ));
        all
    }

    /// From HubConnecting: CONNACK, SUBACK, twin GET answered with desired `$version`.
    pub fn connect_hub(&mut self, desired_version: u64) -> Vec<DeviceOutput> {
        let mut all = self.accept_hub_connection();
        let rid = last_rid(&all);
        let body = serde_json::json!({"desired": {"$version": desired_version}, "reported": {"$version": 1}});
        all.extend(self.deliver(
            Peer::Hub,
            Msg::TwinRes {
                status: 200,
                rid,
                version: None,
                body: serde_json::to_vec(&body).unwrap().into(),
            },
        ));
        assert!(self.dev.is_running());
        all
    }
}

pub fn sends(out: &[DeviceOutput]) -> Vec<(Peer, Msg)> {
    out.iter()
        .filter_map(|o| match o {
            DeviceOutput::Send { to, msg } => Some((*to, msg.clone())),
            _ => None,
        })
        .collect()
}

pub fn records(out: &[DeviceOutput]) -> Vec<Record> {
    out.iter()
        .filter_map(|o| match o {
            DeviceOutput::Record(r) => Some(*r),
            _ => None,
        })
        .collect()
}

pub fn last_rid(out: &[DeviceOutput]) -> u32 {
    sends(out)
        .iter()
        .rev()
        .find_map(|(_, m)| match m {
            Msg::DpsRegister { rid, .. } | Msg::DpsPoll { rid, .. } | Msg::TwinGet { rid } => {
                Some(*rid)
            }
            _ => None,
        })
        .expect("a request with a rid")
}

pub fn telemetry_pkids(out: &[DeviceOutput]) -> Vec<(u16, u32)> {
    sends(out)
        .iter()
        .filter_map(|(_, m)| match m {
            Msg::Telemetry { pkid, values, .. } => Some((*pkid, values.seq)),
            _ => None,
        })
        .collect()
}
