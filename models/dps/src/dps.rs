use iot_messages::dps_body::{Assignment, DpsReply, RegStatus, Substatus};
use iot_messages::sas::{self, derive_device_key_bytes, SasRefusal, SasToken};
use iot_messages::{ConnectCode, Msg, RegistrationId, SubFilters};
use rustc_hash::FxHashMap;
use serde_json::Value;
use sim::{Epoch, SimDuration, SimTime};
use std::collections::VecDeque;
use std::sync::Arc;

/// A connection handle: the world's id for the device's transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u32);

/// How an enrollment picks a hub (reference §2.3).
#[derive(Clone)]
pub enum AllocationPolicy {
    /// Evenly weighted distribution (`hashed`).
    Hashed,
    /// Lowest latency from the device's region; ties by weighted hash (`geolatency`).
    GeoLatency,
    /// Exactly one named linked hub (`static`).
    Static { hub: String },
    /// A scenario-supplied function (`custom`); never the instance default.
    Custom(Arc<dyn Allocator>),
}

impl std::fmt::Debug for AllocationPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AllocationPolicy::Hashed => write!(f, "Hashed"),
            AllocationPolicy::GeoLatency => write!(f, "GeoLatency"),
            AllocationPolicy::Static { hub } => write!(f, "Static({hub})"),
            AllocationPolicy::Custom(_) => write!(f, "Custom"),
        }
    }
}

/// A custom allocation function (the Azure Function webhook of reference §2.3): given the
/// registration id, the enrollment name and the candidate hub hosts, return the index of the
/// chosen candidate and optionally an initial twin, or `None` to fail the registration.
pub trait Allocator {
    fn allocate(
        &self,
        registration_id: &str,
        enrollment: &str,
        candidates: &[&str],
    ) -> Option<(usize, Option<Value>)>;
}

/// What happens when an assigned device registers again (reference §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReprovisionPolicy {
    #[default]
    MigrateData,
    ResetToInitial,
    Never,
}

/// A hub linked to the DPS instance.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkedHub {
    /// `{name}.azure-devices.net`.
    pub host: String,
    /// Allocation weight 1..=1000, default 1.
    pub weight: u32,
    /// "Apply allocation policy" (default true); false removes the hub from allocation.
    pub apply_allocation_policy: bool,
    pub region: u16,
}

/// One device's enrollment.
#[derive(Debug, Clone)]
pub struct IndividualEnrollment {
    pub registration_id: RegistrationId,
    /// The device's symmetric key (16..=64 bytes).
    pub key: Vec<u8>,
    /// `None`: the instance default.
    pub policy: Option<AllocationPolicy>,
    /// Hub hosts this enrollment may use; empty = all linked hubs.
    pub hubs: Vec<String>,
    pub reprovision: ReprovisionPolicy,
    pub initial_twin: Option<Value>,
    pub enabled: bool,
}

/// A symmetric-key enrollment group.
#[derive(Debug, Clone)]
pub struct EnrollmentGroup {
    pub name: String,
    /// The group key (16..=64 bytes); devices sign with keys derived from it.
    pub group_key: Vec<u8>,
    pub policy: Option<AllocationPolicy>,
    pub hubs: Vec<String>,
    pub reprovision: ReprovisionPolicy,
    pub initial_twin: Option<Value>,
    pub enabled: bool,
}

/// The instance configuration.
#[derive(Debug, Clone)]
pub struct DpsConfig {
    pub id_scope: String,
    /// Service units: the registration rate scales with them.
    pub units: u32,
    pub epoch: Epoch,
    pub hubs: Vec<LinkedHub>,
    /// The instance default: `Hashed`, `GeoLatency` or `Static` (not `Custom`, §2.3).
    pub default_policy: AllocationPolicy,
    /// Latency in ms from a device region (row) to a hub region (column); a missing entry
    /// is 0 within a region and 100 across regions **[assumption]**.
    pub region_latency_ms: Vec<Vec<u32>>,
    /// Time from an accepted register call to the assignment **[assumption]**: the reference
    /// gives none; 2 s.
    pub assignment_latency: SimDuration,
    /// The `retry-after` DPS sends with a 202 (3 s, the value the SDK samples see
    /// **[assumption]**).
    pub retry_after_s: u32,
}

impl DpsConfig {
    pub fn new(id_scope: &str, hubs: Vec<LinkedHub>) -> DpsConfig {
        DpsConfig {
            id_scope: id_scope.to_string(),
            units: 1,
            epoch: Epoch::DEFAULT,
            hubs,
            default_policy: AllocationPolicy::Hashed,
            region_latency_ms: Vec::new(),
            assignment_latency: SimDuration::from_secs(2),
            retry_after_s: 3,
        }
    }
}

/// Bad DPS configuration or enrollment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpsConfigError {
    #[error("dps `{scope}`: {field} = {value}; expected {expected}")]
    Field {
        scope: String,
        field: &'static str,
        value: String,
        expected: String,
    },
}

/// Something DPS emits.
#[derive(Debug, Clone, PartialEq)]
pub enum DpsOutput {
    /// A packet for the device on `conn`.
    ToDevice { at: SimTime, conn: ConnId, msg: Msg },
    /// Create the device identity on `hub` (index into the linked hubs) at `at`. If
    /// `previous_hub` is set the device moves: delete it there, and carry its twin over when
    /// `migrate_twin` (otherwise use `initial_twin`).
    Assign {
        at: SimTime,
        hub: usize,
        device_id: Arc<str>,
        device_key: Arc<[u8]>,
        initial_twin: Option<Value>,
        previous_hub: Option<usize>,
        migrate_twin: bool,
    },
}

/// Counters of DPS outcomes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DpsCounters {
    pub connects_accepted: u64,
    /// Refused tokens by [`SasRefusal`] (index = `SasRefusal as usize`).
    pub auth_refused: [u64; 4],
    pub auth_no_enrollment: u64,
    pub auth_bad_username: u64,
    pub registrations_accepted: u64,
    pub registrations_throttled: u64,
    pub polls: u64,
    pub polls_throttled: u64,
    pub assigned: u64,
    pub reprovisioned_migrated: u64,
    pub reprovisioned_reset: u64,
    pub kept_by_never_policy: u64,
    pub failed: u64,
    pub disabled: u64,
    pub protocol_errors: u64,
    /// Registrations made by [`Dps::preprovision`] (before the simulated run).
    pub preprovisioned: u64,
}

impl DpsCounters {
    pub fn auth_refused(&self, r: SasRefusal) -> u64 {
        self.auth_refused[r as usize]
    }
}

/// A device's current registration.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub hub: usize,
    pub device_id: Arc<str>,
    pub substatus: Substatus,
    pub assigned_at: SimTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EnrollmentRef {
    Individual(u32),
    Group(u32),
}

#[derive(Debug, Clone)]
struct Conn {
    registration_id: Arc<str>,
    enrollment: EnrollmentRef,
    device_key: Arc<[u8]>,
    region: u16,
}

#[derive(Debug, Clone)]
struct Operation {
    id: Arc<str>,
    done_at: SimTime,
    reply: DpsReply,
    poll_window: SimTime,
    polls_in_window: u8,
}

/// Device polling limit: 5 per 10 s per device (reference §2.5).
const POLLS_PER_WINDOW: u8 = 5;
const POLL_WINDOW: SimDuration = SimDuration::from_secs(10);

/// The simulated DPS instance.
pub struct Dps {
    cfg: DpsConfig,
    /// The linked hubs' hosts, one shared string each: every assignment hands out a clone.
    hosts: Vec<Arc<str>>,
    individual: Vec<IndividualEnrollment>,
    individual_by_id: FxHashMap<Arc<str>, u32>,
    groups: Vec<EnrollmentGroup>,
    conns: FxHashMap<u32, Conn>,
    operations: FxHashMap<Arc<str>, Operation>,
    registrations: FxHashMap<Arc<str>, Registration>,
    /// GCRA state of the registration rate: theoretical arrival time and interval.
    reg_tat: SimTime,
    reg_interval: SimDuration,
    next_op: u64,
    out: VecDeque<DpsOutput>,
    counters: DpsCounters,
}

fn err(scope: &str, field: &'static str, value: impl ToString, expected: &str) -> DpsConfigError {
    DpsConfigError::Field {
        scope: scope.to_string(),
        field,
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    sim::rng::mix64(h)
}

impl Dps {
    pub fn new(cfg: DpsConfig) -> Result<Dps, DpsConfigError> {
        let s = cfg.id_scope.clone();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(err(&s, "id_scope", &s, "a non-empty alphanumeric scope id"));
        }
        if cfg.units == 0 {
            return Err(err(&s, "units", 0, "at least 1"));
        }
        if cfg.hubs.is_empty() || cfg.hubs.len() > 50 {
            return Err(err(
                &s,
                "hubs",
                cfg.hubs.len(),
                "1..=50 linked hubs (reference §2.5)",
            ));
        }
        for h in &cfg.hubs {
            if !(1..=1000).contains(&h.weight) {
                return Err(err(
                    &s,
                    "hubs.weight",
                    h.weight,
                    "1..=1000 (reference §2.3)",
                ));
            }
        }
        if matches!(cfg.default_policy, AllocationPolicy::Custom(_)) {
            return Err(err(
                &s,
                "default_policy",
                "custom",
                "hashed, geolatency or static (§2.3)",
            ));
        }
        Self::check_policy(&cfg, &cfg.default_policy, &[])?;
        // 1,000 registrations per minute per unit (reference §2.5).
        let reg_interval = SimDuration::from_nanos(60_000_000_000 / (1_000 * u64::from(cfg.units)));
        Ok(Dps {
            hosts: cfg
                .hubs
                .iter()
                .map(|l| Arc::from(l.host.as_str()))
                .collect(),
            cfg,
            individual: Vec::new(),
            individual_by_id: FxHashMap::default(),
            groups: Vec::new(),
            conns: FxHashMap::default(),
            operations: FxHashMap::default(),
            registrations: FxHashMap::default(),
            reg_tat: SimTime::ZERO,
            reg_interval,
            next_op: 1,
            out: VecDeque::new(),
            counters: DpsCounters::default(),
        })
    }

    fn check_policy(
        cfg: &DpsConfig,
        p: &AllocationPolicy,
        hubs: &[String],
    ) -> Result<(), DpsConfigError> {
        let s = &cfg.id_scope;
        for h in hubs {
            if !cfg.hubs.iter().any(|l| &l.host == h) {
                return Err(err(s, "enrollment.hubs", h, "a linked hub host"));
            }
        }
        if let AllocationPolicy::Static { hub } = p {
            let ok =
                cfg.hubs.iter().any(|l| &l.host == hub) && (hubs.is_empty() || hubs.contains(hub));
            if !ok {
                return Err(err(
                    s,
                    "policy.static.hub",
                    hub,
                    "exactly one linked hub the enrollment allows",
                ));
            }
        }
        Ok(())
    }

    fn check_key(&self, key: &[u8]) -> Result<(), DpsConfigError> {
        if !(sas::KEY_LEN_MIN..=sas::KEY_LEN_MAX).contains(&key.len()) {
            return Err(err(
                &self.cfg.id_scope,
                "key",
                format!("{} bytes", key.len()),
                "16..=64 bytes (§2.2)",
            ));
        }
        Ok(())
    }

    pub fn add_individual(&mut self, e: IndividualEnrollment) -> Result<(), DpsConfigError> {
        self.check_key(&e.key)?;
        Self::check_policy(
            &self.cfg,
            e.policy.as_ref().unwrap_or(&AllocationPolicy::Hashed),
            &e.hubs,
        )?;
        let id = e.registration_id.as_arc().clone();
        self.individual_by_id
            .insert(id, self.individual.len() as u32);
        self.individual.push(e);
        Ok(())
    }

    pub fn add_group(&mut self, g: EnrollmentGroup) -> Result<(), DpsConfigError> {
        self.check_key(&g.group_key)?;
        if self.groups.len() >= 100 {
            return Err(err(
                &self.cfg.id_scope,
                "groups",
                101,
                "at most 100 symmetric-key groups (§2.5)",
            ));
        }
        Self::check_policy(
            &self.cfg,
            g.policy.as_ref().unwrap_or(&AllocationPolicy::Hashed),
            &g.hubs,
        )?;
        self.groups.push(g);
        Ok(())
    }

    /// Replaces the group of the same name (a policy change affects only later registrations,
    /// reference §2.3). Returns false if no such group exists.
    pub fn update_group(&mut self, g: EnrollmentGroup) -> Result<bool, DpsConfigError> {
        self.check_key(&g.group_key)?;
        Self::check_policy(
            &self.cfg,
            g.policy.as_ref().unwrap_or(&AllocationPolicy::Hashed),
            &g.hubs,
        )?;
        match self.groups.iter_mut().find(|x| x.name == g.name) {
            Some(slot) => {
                *slot = g;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    pub fn set_group_enabled(&mut self, name: &str, enabled: bool) -> bool {
        match self.groups.iter_mut().find(|g| g.name == name) {
            Some(g) => {
                g.enabled = enabled;
                true
            }
            None => false,
        }
    }

    pub fn config(&self) -> &DpsConfig {
        &self.cfg
    }
    pub fn counters(&self) -> &DpsCounters {
        &self.counters
    }
    pub fn registration(&self, registration_id: &str) -> Option<&Registration> {
        self.registrations.get(registration_id)
    }
    pub fn registration_count(&self) -> usize {
        self.registrations.len()
    }
    /// The DPS host devices connect to (reference §2.1).
    pub fn host(&self) -> &'static str {
        "global.azure-devices-provisioning.net"
    }

    /// Registers a device as if it had provisioned before the simulated run began (a collar
    /// in service since an earlier day): the device's enrollment is found as `connect` finds
    /// it (an individual enrollment with this key, else the first group whose derived key
    /// equals `device_key`, reference §2.2), the allocation policy runs, the registration is
    /// recorded and [`DpsOutput::Assign`] is queued so the hub creates the identity. The
    /// registration rate limit does not apply: it was spent on the earlier day.
    /// Returns the assigned hub's host, or `None` when no enrollment matches or the
    /// allocation fails (the device then provisions over the protocol when it boots).
    pub fn preprovision(
        &mut self,
        now: SimTime,
        registration_id: &Arc<str>,
        device_key: &[u8],
        region: u16,
    ) -> Option<Arc<str>> {
        RegistrationId::new(registration_id).ok()?;
        let individual = self
            .individual_by_id
            .get(registration_id)
            .copied()
            .filter(|&i| self.individual[i as usize].key == device_key)
            .map(EnrollmentRef::Individual);
        let enrollment = individual.or_else(|| {
            self.groups
                .iter()
                .position(|g| derive_device_key_bytes(&g.group_key, registration_id) == device_key)
                .map(|gi| EnrollmentRef::Group(gi as u32))
        })?;
        let conn = Conn {
            // The caller's string, shared: the registration and its device id keep it.
            registration_id: registration_id.clone(),
            enrollment,
            device_key: Arc::from(device_key),
            region,
        };
        let op_id: Arc<str> = Arc::from("preprovisioned");
        match self.allocate(now, &conn, &op_id) {
            DpsReply::Done {
                status: RegStatus::Assigned,
                assignment: Some(a),
                ..
            } => {
                self.counters.preprovisioned += 1;
                Some(a.assigned_hub)
            }
            _ => None,
        }
    }

    pub fn poll_output(&mut self) -> Option<DpsOutput> {
        self.out.pop_front()
    }

    pub fn handle_connection_lost(&mut self, conn: ConnId) {
        self.conns.remove(&conn.0);
    }

    fn send(&mut self, at: SimTime, conn: ConnId, msg: Msg) {
        self.out.push_back(DpsOutput::ToDevice { at, conn, msg });
    }

    fn unix_s(&self, now: SimTime) -> u64 {
        (self.cfg.epoch.unix_secs() + now.as_secs() as i64).max(0) as u64
    }

    /// A packet from a device on `conn`, which connects from `region`.
    pub fn handle_packet(&mut self, now: SimTime, conn: ConnId, region: u16, msg: &Msg) {
        match msg {
            Msg::Connect {
                client_id,
                username,
                password,
                ..
            } => self.connect(now, conn, region, client_id, username, password),
            Msg::Subscribe { pkid, filters, .. } if self.conns.contains_key(&conn.0) => {
                let count = filters.count() as u8;
                let refused_mask = filters
                    .filters()
                    .enumerate()
                    .filter(|(_, f)| *f != SubFilters::DPS_RES)
                    .fold(0u8, |m, (i, _)| m | (1 << i));
                self.send(
                    now,
                    conn,
                    Msg::SubAck {
                        pkid: *pkid,
                        count,
                        refused_mask,
                    },
                );
            }
            Msg::DpsRegister {
                rid,
                registration_id,
            } if self.conns.contains_key(&conn.0) => {
                self.register(now, conn, *rid, registration_id)
            }
            Msg::DpsPoll { rid, operation_id } if self.conns.contains_key(&conn.0) => {
                self.poll(now, conn, *rid, operation_id)
            }
            Msg::PingReq => self.send(now, conn, Msg::PingResp),
            Msg::Disconnect => self.handle_connection_lost(conn),
            _ => self.counters.protocol_errors += 1,
        }
    }

    fn connect(
        &mut self,
        now: SimTime,
        conn: ConnId,
        region: u16,
        client_id: &str,
        username: &str,
        password: &str,
    ) {
        let refuse = |d: &mut Dps| {
            d.send(
                now,
                conn,
                Msg::ConnAck {
                    code: ConnectCode::NotAuthorized,
                },
            )
        };
        let expected = format!("{}/registrations/{client_id}/", self.cfg.id_scope);
        if !username.starts_with(&expected) {
            self.counters.auth_bad_username += 1;
            return refuse(self);
        }
        let resource = sas::dps_resource_uri(&self.cfg.id_scope, client_id);
        let unix = self.unix_s(now);
        let mut last_refusal = None;
        let mut found = None;
        if let Some(&i) = self.individual_by_id.get(client_id) {
            match SasToken::verify(password, &resource, &self.individual[i as usize].key, unix) {
                Ok(_) => {
                    found = Some((
                        EnrollmentRef::Individual(i),
                        Arc::from(&self.individual[i as usize].key[..]),
                    ))
                }
                Err(r) => last_refusal = Some(r),
            }
        }
        if found.is_none() {
            // A group is found by the derived key the device signed with (§2.2).
            for (gi, g) in self.groups.iter().enumerate() {
                let key = derive_device_key_bytes(&g.group_key, client_id);
                match SasToken::verify(password, &resource, &key, unix) {
                    Ok(_) => {
                        found = Some((EnrollmentRef::Group(gi as u32), Arc::from(&key[..])));
                        break;
                    }
                    // A signature that fails for one group may belong to another; remember the
                    // most telling refusal.
                    Err(r) => last_refusal = Some(last_refusal.map_or(r, |l: SasRefusal| l.min(r))),
                }
            }
        }
        let Some((enrollment, device_key)) = found else {
            match last_refusal {
                Some(r) => self.counters.auth_refused[r as usize] += 1,
                None => self.counters.auth_no_enrollment += 1,
            }
            return refuse(self);
        };
        if RegistrationId::new(client_id).is_err() {
            self.counters.auth_bad_username += 1;
            return refuse(self);
        }
        self.counters.connects_accepted += 1;
        self.conns.insert(
            conn.0,
            Conn {
                registration_id: client_id.into(),
                enrollment,
                device_key,
                region,
            },
        );
        self.send(
            now,
            conn,
            Msg::ConnAck {
                code: ConnectCode::Accepted,
            },
        );
    }

    fn respond(
        &mut self,
        now: SimTime,
        conn: ConnId,
        rid: u32,
        status: u16,
        retry: Option<u32>,
        reply: DpsReply,
    ) {
        self.send(
            now,
            conn,
            Msg::DpsRes {
                status,
                rid,
                retry_after_s: retry,
                reply,
            },
        );
    }

    fn throttled(&mut self, now: SimTime, conn: ConnId, rid: u32, retry_s: u32) {
        self.respond(
            now,
            conn,
            rid,
            429,
            Some(retry_s.max(1)),
            DpsReply::Error {
                error_code: 429_001,
                message: "throttled".into(),
            },
        );
    }

    fn register(&mut self, now: SimTime, conn: ConnId, rid: u32, registration_id: &str) {
        let c = self.conns[&conn.0].clone();
        if *c.registration_id != *registration_id {
            self.counters.protocol_errors += 1;
            return self.respond(
                now,
                conn,
                rid,
                401,
                None,
                DpsReply::Error {
                    error_code: 401_002,
                    message: "registration id does not match the connection".into(),
                },
            );
        }
        // Registration rate: GCRA without burst or queue; over it, 429 with the wait.
        let tat = self.reg_tat.max(now);
        if tat > now {
            self.counters.registrations_throttled += 1;
            let wait_s = tat.since(now).as_secs() as u32 + 1;
            return self.throttled(now, conn, rid, wait_s);
        }
        self.reg_tat = tat + self.reg_interval;
        self.counters.registrations_accepted += 1;
        let op_id: Arc<str> = format!("{}.{:016x}", self.next_op, fnv(registration_id)).into();
        self.next_op += 1;
        let done_at = now + self.cfg.assignment_latency;
        let reply = self.allocate(done_at, &c, &op_id);
        self.operations.insert(
            c.registration_id.clone(),
            Operation {
                id: op_id.clone(),
                done_at,
                reply,
                poll_window: now,
                polls_in_window: 0,
            },
        );
        let retry = self.cfg.retry_after_s;
        self.respond(
            now,
            conn,
            rid,
            202,
            Some(retry),
            DpsReply::Assigning {
                operation_id: op_id,
            },
        );
    }

    fn poll(&mut self, now: SimTime, conn: ConnId, rid: u32, operation_id: &str) {
        let reg = self.conns[&conn.0].registration_id.clone();
        self.counters.polls += 1;
        let retry = self.cfg.retry_after_s;
        let Some(op) = self
            .operations
            .get_mut(&reg)
            .filter(|o| &*o.id == operation_id)
        else {
            self.counters.protocol_errors += 1;
            return self.respond(
                now,
                conn,
                rid,
                404,
                None,
                DpsReply::Error {
                    error_code: 404_002,
                    message: "unknown operation".into(),
                },
            );
        };
        if now >= op.poll_window + POLL_WINDOW {
            op.poll_window = now;
            op.polls_in_window = 0;
        }
        if op.polls_in_window >= POLLS_PER_WINDOW {
            let wait = (op.poll_window + POLL_WINDOW).since(now).as_secs() as u32 + 1;
            self.counters.polls_throttled += 1;
            return self.throttled(now, conn, rid, wait);
        }
        op.polls_in_window += 1;
        if now < op.done_at {
            let id = op.id.clone();
            return self.respond(
                now,
                conn,
                rid,
                202,
                Some(retry),
                DpsReply::Assigning { operation_id: id },
            );
        }
        let reply = op.reply.clone();
        self.respond(now, conn, rid, 200, None, reply);
    }

    fn enrollment_parts(
        &self,
        e: EnrollmentRef,
    ) -> (
        String,
        AllocationPolicy,
        Vec<String>,
        ReprovisionPolicy,
        Option<Value>,
        bool,
    ) {
        match e {
            EnrollmentRef::Individual(i) => {
                let e = &self.individual[i as usize];
                (
                    e.registration_id.to_string(),
                    e.policy
                        .clone()
                        .unwrap_or_else(|| self.cfg.default_policy.clone()),
                    e.hubs.clone(),
                    e.reprovision,
                    e.initial_twin.clone(),
                    e.enabled,
                )
            }
            EnrollmentRef::Group(g) => {
                let g = &self.groups[g as usize];
                (
                    g.name.clone(),
                    g.policy
                        .clone()
                        .unwrap_or_else(|| self.cfg.default_policy.clone()),
                    g.hubs.clone(),
                    g.reprovision,
                    g.initial_twin.clone(),
                    g.enabled,
                )
            }
        }
    }

    fn latency_ms(&self, from: u16, to: u16) -> u32 {
        self.cfg
            .region_latency_ms
            .get(from as usize)
            .and_then(|row| row.get(to as usize))
            .copied()
            .unwrap_or(if from == to { 0 } else { 100 })
    }

    /// Weighted hash over `candidates` (indices into linked hubs).
    fn weighted_hash(&self, registration_id: &str, candidates: &[usize]) -> usize {
        let total: u64 = candidates
            .iter()
            .map(|&h| u64::from(self.cfg.hubs[h].weight))
            .sum();
        let mut pick = fnv(registration_id) % total;
        for &h in candidates {
            let w = u64::from(self.cfg.hubs[h].weight);
            if pick < w {
                return h;
            }
            pick -= w;
        }
        candidates[candidates.len() - 1]
    }

    /// Decides the assignment of a registration and emits the `Assign` output.
    fn allocate(&mut self, done_at: SimTime, c: &Conn, op_id: &Arc<str>) -> DpsReply {
        let (enrollment_name, policy, allowed, reprovision, initial_twin, enabled) =
            self.enrollment_parts(c.enrollment);
        let reg = c.registration_id.clone();
        if !enabled {
            self.counters.disabled += 1;
            return DpsReply::Done {
                operation_id: op_id.clone(),
                status: RegStatus::Disabled,
                assignment: None,
            };
        }
        let candidates: Vec<usize> = (0..self.cfg.hubs.len())
            .filter(|&h| {
                let l = &self.cfg.hubs[h];
                l.apply_allocation_policy && (allowed.is_empty() || allowed.contains(&l.host))
            })
            .collect();
        let failed = |d: &mut Dps| {
            d.counters.failed += 1;
            DpsReply::Done {
                operation_id: op_id.clone(),
                status: RegStatus::Failed,
                assignment: None,
            }
        };
        let previous = self.registrations.get(&reg).cloned();
        if let (Some(prev), ReprovisionPolicy::Never) = (&previous, reprovision) {
            self.counters.kept_by_never_policy += 1;
            return self.assigned_reply(
                op_id,
                &reg,
                prev.hub,
                &prev.device_id,
                Substatus::InitialAssignment,
            );
        }
        let mut twin = initial_twin;
        let hub = match &policy {
            _ if candidates.is_empty() => None,
            AllocationPolicy::Hashed => Some(self.weighted_hash(&reg, &candidates)),
            AllocationPolicy::GeoLatency => {
                let best = candidates
                    .iter()
                    .map(|&h| self.latency_ms(c.region, self.cfg.hubs[h].region))
                    .min();
                let nearest: Vec<usize> = candidates
                    .iter()
                    .copied()
                    .filter(|&h| Some(self.latency_ms(c.region, self.cfg.hubs[h].region)) == best)
                    .collect();
                Some(self.weighted_hash(&reg, &nearest))
            }
            AllocationPolicy::Static { hub } => self.cfg.hubs.iter().position(|l| &l.host == hub),
            AllocationPolicy::Custom(f) => {
                let hosts: Vec<&str> = candidates
                    .iter()
                    .map(|&h| self.cfg.hubs[h].host.as_str())
                    .collect();
                match f.allocate(&reg, &enrollment_name, &hosts) {
                    Some((i, t)) if i < candidates.len() => {
                        if t.is_some() {
                            twin = t;
                        }
                        Some(candidates[i])
                    }
                    _ => None,
                }
            }
        };
        let Some(hub) = hub else {
            return failed(self);
        };
        let device_id: Arc<str> = reg.clone();
        let (substatus, previous_hub, migrate) = match previous {
            None => (Substatus::InitialAssignment, None, false),
            Some(p) if p.hub == hub => (Substatus::InitialAssignment, None, false),
            Some(p) => match reprovision {
                ReprovisionPolicy::MigrateData => {
                    self.counters.reprovisioned_migrated += 1;
                    (Substatus::DeviceDataMigrated, Some(p.hub), true)
                }
                _ => {
                    self.counters.reprovisioned_reset += 1;
                    (Substatus::DeviceDataReset, Some(p.hub), false)
                }
            },
        };
        let unchanged =
            previous_hub.is_none() && self.registrations.get(&reg).is_some_and(|p| p.hub == hub);
        self.counters.assigned += 1;
        self.registrations.insert(
            reg.clone(),
            Registration {
                hub,
                device_id: device_id.clone(),
                substatus,
                assigned_at: done_at,
            },
        );
        if !unchanged {
            self.out.push_back(DpsOutput::Assign {
                at: done_at,
                hub,
                device_id: device_id.clone(),
                device_key: c.device_key.clone(),
                initial_twin: twin,
                previous_hub,
                migrate_twin: migrate,
            });
        }
        self.assigned_reply(op_id, &reg, hub, &device_id, substatus)
    }

    fn assigned_reply(
        &self,
        op_id: &Arc<str>,
        reg: &Arc<str>,
        hub: usize,
        device_id: &Arc<str>,
        substatus: Substatus,
    ) -> DpsReply {
        DpsReply::Done {
            operation_id: op_id.clone(),
            status: RegStatus::Assigned,
            assignment: Some(Assignment {
                registration_id: reg.clone(),
                assigned_hub: self.hosts[hub].clone(),
                device_id: device_id.clone(),
                substatus,
            }),
        }
    }
}
