use dps::{
    AllocationPolicy, ConnId, Dps, DpsConfig, DpsOutput, EnrollmentGroup, LinkedHub,
    ReprovisionPolicy,
};
use iot_messages::dps_body::DpsReply;
use iot_messages::sas::{derive_device_key_bytes, dps_resource_uri, SasToken};
use iot_messages::wire::dps_username;
use iot_messages::{ConnectCode, Msg, SubFilters};
use sim::{Epoch, SimTime};

pub const SCOPE: &str = "0ne00000001";
pub const GROUP_KEY: [u8; 64] = [5; 64];

pub fn hubs(n: usize) -> Vec<LinkedHub> {
    (0..n)
        .map(|i| LinkedHub {
            host: format!("hub-{i}.azure-devices.net"),
            weight: 1,
            apply_allocation_policy: true,
            region: i as u16,
        })
        .collect()
}

pub fn group(name: &str, policy: Option<AllocationPolicy>) -> EnrollmentGroup {
    EnrollmentGroup {
        name: name.into(),
        group_key: GROUP_KEY.to_vec(),
        policy,
        hubs: Vec::new(),
        reprovision: ReprovisionPolicy::MigrateData,
        initial_twin: None,
        enabled: true,
    }
}

pub fn dps_with(cfg: DpsConfig, g: EnrollmentGroup) -> Dps {
    let mut d = Dps::new(cfg).unwrap();
    d.add_group(g).unwrap();
    d
}

pub fn unix(t: SimTime) -> u64 {
    Epoch::DEFAULT.unix_secs() as u64 + t.as_secs()
}

pub fn connect_with_key(reg: &str, key: &[u8], now: SimTime) -> Msg {
    Msg::Connect {
        client_id: reg.into(),
        username: dps_username(SCOPE, reg).into(),
        password: SasToken::sign(
            &dps_resource_uri(SCOPE, reg),
            key,
            unix(now) + 3_600,
            Some("registration"),
        )
        .into(),
        keep_alive_s: 60,
    }
}

pub fn drain(d: &mut Dps) -> Vec<DpsOutput> {
    std::iter::from_fn(|| d.poll_output()).collect()
}

pub fn replies(out: &[DpsOutput]) -> Vec<(u16, Option<u32>, DpsReply)> {
    out.iter()
        .filter_map(|o| match o {
            DpsOutput::ToDevice {
                msg:
                    Msg::DpsRes {
                        status,
                        retry_after_s,
                        reply,
                        ..
                    },
                ..
            } => Some((*status, *retry_after_s, reply.clone())),
            _ => None,
        })
        .collect()
}

/// Runs the whole device side of a registration: connect with the derived key, subscribe,
/// register, poll after each retry-after until 200. Returns the final reply and the outputs.
pub fn provision(
    d: &mut Dps,
    reg: &str,
    region: u16,
    mut now: SimTime,
) -> (DpsReply, Vec<DpsOutput>) {
    let conn = ConnId(fnv(reg));
    let key = derive_device_key_bytes(&GROUP_KEY, reg);
    let mut all = Vec::new();
    d.handle_packet(now, conn, region, &connect_with_key(reg, &key, now));
    let out = drain(d);
    assert!(
        out.iter().any(|o| matches!(
            o,
            DpsOutput::ToDevice {
                msg: Msg::ConnAck {
                    code: ConnectCode::Accepted
                },
                ..
            }
        )),
        "{out:?}"
    );
    d.handle_packet(
        now,
        conn,
        region,
        &Msg::Subscribe {
            pkid: 1,
            device: reg.into(),
            filters: SubFilters::DPS_RES,
        },
    );
    drain(d);
    d.handle_packet(
        now,
        conn,
        region,
        &Msg::DpsRegister {
            rid: 1,
            registration_id: reg.into(),
        },
    );
    let mut out = drain(d);
    let mut rid = 1;
    loop {
        let (status, retry, reply) = replies(&out).pop().expect("a response");
        all.extend(out);
        match (status, reply) {
            (200, reply) => return (reply, all),
            (202, DpsReply::Assigning { operation_id }) => {
                now += sim::SimDuration::from_secs(u64::from(retry.unwrap()));
                rid += 1;
                d.handle_packet(now, conn, region, &Msg::DpsPoll { rid, operation_id });
                out = drain(d);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

pub fn fnv(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}
