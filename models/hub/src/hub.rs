//! The hub core: registry, authentication, connections, D2C ingest with quota, throttles and
//! routing, C2D, direct methods and twins. See the crate docs for the call order.

use crate::config::{Compiled, ConfigError, EnrichValue, HubConfig};
use crate::endpoint::{Endpoint, EndpointMessage, Enrichments, Payload};
use crate::route::{json_path, MessageView, SystemProp, Val};
use crate::tier::{Admit, OpClass, Shaper};
use crate::twin::{Section, Twin};
use iot_messages::props::PropertyBag;
use iot_messages::sas::{self, SasRefusal, SasToken};
use iot_messages::telemetry::{SchemaSet, Values};
use iot_messages::{ConnectCode, DeviceId, Msg, SchemaId, SubFilters};
use rustc_hash::FxHashMap;
use serde_json::Value;
use sim::{SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// Largest D2C message body: 256 KB (reference §1.3).
pub const D2C_BYTES_MAX: usize = 256 * 1024;
/// Largest C2D message body: 64 KB (reference §1.3).
pub const C2D_BYTES_MAX: usize = 64 * 1024;
/// Largest direct-method payload, request or response: 128 KB (reference §1.3).
pub const METHOD_BYTES_MAX: usize = 128 * 1024;
/// Pending C2D messages per device (reference §1.3).
pub const C2D_PENDING_MAX: usize = 50;
/// Devices per hub (reference §1.3).
pub const DEVICES_MAX: usize = 1_000_000;
/// Subscriptions per device (reference §1.3).
pub const SUBSCRIPTIONS_MAX: u32 = 5;
/// Keep-alive timeout cap: 1,767 s (reference §1.6).
pub const KEEPALIVE_TIMEOUT_MAX: SimDuration = SimDuration::from_secs(1_767);

/// A connection handle: the world's id for the device's transport (e.g. its network node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u32);

/// A device's index in the hub registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceIx(pub u32);

/// A direct-method call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MethodCallId(pub u32);

/// Errors the hub reports, with the documented codes where the reference has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, thiserror::Error)]
pub enum HubError {
    /// 403002 IoTHubQuotaExceeded (reference §1.1).
    #[error("403002 IoTHubQuotaExceeded")]
    QuotaExceeded,
    /// 429001 ThrottlingException (reference §1.2).
    #[error("429001 ThrottlingException")]
    Throttled,
    /// 400027 ConnectionForcefullyClosedOnNewConnection (reference §1.4).
    #[error("400027 ConnectionForcefullyClosedOnNewConnection")]
    ReplacedByNewConnection,
    /// 404104 DeviceConnectionClosedRemotely (keep-alive timeout, reference §1.6).
    #[error("404104 DeviceConnectionClosedRemotely")]
    KeepAliveTimeout,
    /// 404103 timed out waiting for the device to connect (reference §1.7).
    #[error("404103 Timed out waiting for device to connect")]
    MethodDeviceNotOnline,
    /// 504101 timed out waiting for the response from the device (reference §1.7).
    #[error("504101 Timed out waiting for the response from device")]
    MethodResponseTimeout,
    /// The SAS token expired while connected. Code 401003 IotHubUnauthorizedAccess
    /// **[UNCONFIRMED]**: the reference documents the disconnect (§1.5), not the code.
    #[error("401003 token expired")]
    TokenExpired,
    /// The device published on another device's topic or an unknown topic (refused, §1.6).
    #[error("401003 unauthorized topic")]
    UnauthorizedTopic,
    /// A message above the size limit (§1.3). Code 413 **[UNCONFIRMED]**.
    #[error("413 message too large")]
    MessageTooLarge,
    /// 50 pending C2D messages (§1.3). Code 403004 **[UNCONFIRMED]**.
    #[error("403004 DeviceMaximumQueueDepthExceeded")]
    C2dQueueFull,
    /// The device is not in the registry. Code 404001 **[UNCONFIRMED]**.
    #[error("404001 DeviceNotFound")]
    DeviceNotFound,
    /// The operation is not offered on this tier (C2D, methods and twins are Standard only).
    #[error("403 operation not available on this tier")]
    NotOnTier,
    /// A bad request: malformed JSON, a twin limit, an out-of-range timeout.
    #[error("400 bad request")]
    BadRequest,
    /// The registry holds 1,000,000 devices (§1.3).
    #[error("403 device registry full")]
    RegistryFull,
}

impl HubError {
    /// The numeric error code (the 6-digit IoT Hub code where there is one).
    pub fn code(self) -> u32 {
        match self {
            HubError::QuotaExceeded => 403_002,
            HubError::Throttled => 429_001,
            HubError::ReplacedByNewConnection => 400_027,
            HubError::KeepAliveTimeout => 404_104,
            HubError::MethodDeviceNotOnline => 404_103,
            HubError::MethodResponseTimeout => 504_101,
            HubError::TokenExpired | HubError::UnauthorizedTopic => 401_003,
            HubError::MessageTooLarge => 413,
            HubError::C2dQueueFull => 403_004,
            HubError::DeviceNotFound => 404_001,
            HubError::NotOnTier => 403,
            HubError::BadRequest => 400,
            HubError::RegistryFull => 403,
        }
    }
}

/// Something the hub emits. `at` ≥ the `now` of the call that produced it: throttled
/// requests are served late (traffic shaping, reference §1.2).
#[derive(Debug, Clone, PartialEq)]
pub enum HubOutput {
    /// A packet for the device on `conn`.
    ToDevice { at: SimTime, conn: ConnId, msg: Msg },
    /// The hub closes `conn`.
    Disconnect {
        at: SimTime,
        conn: ConnId,
        reason: HubError,
    },
    /// The outcome of a direct-method call.
    MethodResult {
        at: SimTime,
        call: MethodCallId,
        result: Result<(i32, Arc<[u8]>), HubError>,
    },
    /// C2D feedback (reference §1.8). Emitted per record **[simplification]**: the real hub
    /// batches records (64 or 15 s).
    Feedback { at: SimTime, record: FeedbackRecord },
}

/// C2D feedback request of a message (`iothub-ack`, reference §1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    None,
    Positive,
    Negative,
    Full,
}

/// The outcome a feedback record reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackStatus {
    Success,
    Expired,
    DeliveryCountExceeded,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackRecord {
    pub original_message_id: Arc<str>,
    pub device_id: Arc<str>,
    pub device_generation_id: u32,
    pub status: FeedbackStatus,
}

/// A C2D send from the back end.
#[derive(Debug, Clone, PartialEq)]
pub struct C2dRequest {
    pub message_id: Arc<str>,
    /// Encoded application-property bag.
    pub bag: Arc<str>,
    pub body: Arc<[u8]>,
    /// Per-message expiry; `None` uses the hub's default TTL.
    pub ttl: Option<SimDuration>,
    pub ack: Ack,
}

/// A direct-method invocation from the back end (reference §1.7).
#[derive(Debug, Clone, PartialEq)]
pub struct MethodRequest {
    pub name: Arc<str>,
    pub payload: Arc<[u8]>,
    /// 5..=300 s, default 30.
    pub response_timeout: SimDuration,
    /// 0..=300 s, default 0.
    pub connect_timeout: SimDuration,
}

/// Counters of everything the hub accepted and refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubCounters {
    pub connects_accepted: u64,
    pub connects_delayed: u64,
    pub connects_throttled: u64,
    /// Refused tokens by [`SasRefusal`] (index = `SasRefusal as usize`).
    pub auth_refused: [u64; 4],
    pub auth_unknown_device: u64,
    pub auth_disabled_device: u64,
    pub auth_bad_username: u64,
    /// Model ids not recorded because the hub's table of distinct ids was full.
    pub model_ids_dropped: u64,
    pub unauthorized_topic: u64,
    pub replaced_connections: u64,
    pub keepalive_timeouts: u64,
    pub token_expiry_disconnects: u64,
    pub d2c_accepted: u64,
    pub d2c_delayed: u64,
    pub d2c_throttled: u64,
    pub d2c_quota_exceeded: u64,
    pub d2c_too_large: u64,
    pub d2c_unrouted: u64,
    /// Messages written to endpoints (one per endpoint a message reached).
    pub endpoint_writes: u64,
    pub messages_metered: u64,
    pub subscriptions_refused: u64,
    pub c2d_sent: u64,
    pub c2d_delivered: u64,
    pub c2d_completed: u64,
    pub c2d_expired: u64,
    pub c2d_dead_lettered: u64,
    pub c2d_refused: u64,
    pub methods_invoked: u64,
    pub methods_answered: u64,
    pub methods_not_online: u64,
    pub methods_timed_out: u64,
    pub twin_gets: u64,
    pub twin_reported_patches: u64,
    pub twin_desired_patches: u64,
    pub twin_desired_sent: u64,
    pub twin_throttled: u64,
    pub twin_rejected: u64,
    pub protocol_errors: u64,
}

impl HubCounters {
    pub fn auth_refused(&self, r: SasRefusal) -> u64 {
        self.auth_refused[r as usize]
    }
}

const NO: u32 = u32::MAX;

/// Per-device hub state, kept compact for a million devices (see the size test).
#[derive(Debug, Clone, Copy)]
struct Dev {
    last_activity: SimTime,
    token_expiry: SimTime,
    state_since: SimTime,
    conn: u32,
    /// Which entry of `sweep_due` is this connection's live one: the connects counter at
    /// filing time (older entries for the device are stale).
    filed: u32,
    generation: u32,
    keep_alive_s: u16,
    /// FNV-1a of the device id: the partition on every endpoint is this modulo its count.
    id_hash: u32,
    subs: SubFilters,
    enabled: bool,
    exists: bool,
    /// The model id the device announced at its last connection: 0 for none, else
    /// `Hub::models[model - 1]`.
    model: u16,
}

/// Connection state of a device (reference §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceInfo {
    pub enabled: bool,
    pub generation: u32,
    pub connected: bool,
    pub state_since: SimTime,
    pub last_activity: SimTime,
    pub subscriptions: SubFilters,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum C2dState {
    Enqueued,
    Invisible { pkid: u16, lock_until: SimTime },
}

#[derive(Debug, Clone)]
struct C2dMsg {
    req: C2dRequest,
    /// When the send leaves the C2D throttle queue; delivery happens no earlier.
    visible_at: SimTime,
    expiry: SimTime,
    deliveries: u8,
    state: C2dState,
}

#[derive(Debug, Clone)]
enum CallState {
    WaitingConnect,
    WaitingResponse,
}

#[derive(Debug, Clone)]
struct Call {
    dev: u32,
    req: MethodRequest,
    state: CallState,
    deadline: SimTime,
}

/// The simulated IoT Hub.
pub struct Hub {
    name: String,
    host: String,
    cfg: HubConfig,
    compiled: Compiled,
    route_reads_body: bool,
    /// Every route specialised for every schema: `[schema][route]`.
    schema_routes: Vec<Vec<crate::route::SchemaCondition>>,
    schemas: SchemaSet,
    static_enrichments: Vec<Option<Enrichments>>,
    twin_enrich_mask: u32,
    devs: Vec<Dev>,
    /// The distinct model ids devices announced (IoT Plug and Play, reference §6).
    models: Vec<Arc<str>>,
    ids: Vec<Arc<str>>,
    keys: Vec<Box<[u8]>>,
    by_id: FxHashMap<Arc<str>, u32>,
    /// Connection → device. A map, not a vector: worlds encode a connection epoch in the id.
    conn_dev: FxHashMap<u32, u32>,
    /// Child device → its parent (an IoT Edge gateway, reference §3); looked up, never
    /// iterated.
    parents: FxHashMap<u32, u32>,
    /// Devices with a connection.
    connected: usize,
    /// Connections to check at each sweep time, as (device index, `Dev::filed`): each
    /// connected device has one live entry, at the first sweep at or after its earliest
    /// deadline (token expiry or keep-alive). A sweep looks only at its own entries and
    /// re-files those whose deadline moved (activity since): not every connection every
    /// sweep, which at a million devices would read them all every 10 s.
    sweep_due: BTreeMap<SimTime, Vec<(u32, u32)>>,
    filings: u32,
    twins: FxHashMap<u32, Twin>,
    shapers: [Option<Shaper>; 7],
    /// The first instant of the next UTC day: the quota resets then.
    quota_day_end: SimTime,
    quota_used: u64,
    quota_limit: u64,
    chunk_bytes: u64,
    endpoints: Vec<Endpoint>,
    c2d: BTreeMap<u32, VecDeque<C2dMsg>>,
    calls: BTreeMap<u32, Call>,
    call_deadlines: BTreeSet<(SimTime, u32)>,
    next_call: u32,
    next_pkid: u16,
    next_sweep: SimTime,
    out: VecDeque<HubOutput>,
    counters: HubCounters,
}

/// A raw D2C message as a condition sees it while routing (compact telemetry is routed with
/// conditions specialised per schema instead, see [`crate::route::SchemaCondition`]).
struct View<'a> {
    device: &'a str,
    bag: PropertyBag,
    json: Option<Value>,
}

impl MessageView for View<'_> {
    fn system(&self, p: SystemProp) -> Option<&str> {
        match p {
            SystemProp::ConnectionDeviceId => Some(self.device),
            SystemProp::ConnectionModuleId => None,
            SystemProp::ContentType => self.bag.get("$.ct").flatten(),
            SystemProp::ContentEncoding => self.bag.get("$.ce").flatten(),
        }
    }
    fn app_prop(&self, name: &str) -> Option<Option<&str>> {
        self.bag
            .0
            .iter()
            .find(|(k, _)| !k.starts_with("$.") && k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }
    fn body(&self, path: &[String]) -> Option<Val<'_>> {
        let ct = self.system(SystemProp::ContentType)?;
        let ce = self.system(SystemProp::ContentEncoding)?;
        if !ct.eq_ignore_ascii_case("application/json")
            || !["utf-8", "utf-16", "utf-32"]
                .iter()
                .any(|e| ce.eq_ignore_ascii_case(e))
        {
            return None;
        }
        json_path(self.json.as_ref()?, path)
    }
}

impl Hub {
    pub fn new(cfg: HubConfig, schemas: SchemaSet) -> Result<Hub, ConfigError> {
        let compiled = cfg.compile()?;
        let mut shapers = [None; 7];
        for (i, op) in OpClass::ALL.iter().enumerate() {
            shapers[i] = cfg
                .tier
                .rate_per_min(*op, cfg.units)
                .map(|r| Shaper::new(r, cfg.shaping));
        }
        let mut endpoints = vec![Endpoint::new(
            "events",
            cfg.partitions,
            cfg.partition_capacity,
            cfg.retention,
        )];
        for e in &cfg.endpoints {
            endpoints.push(Endpoint::new(
                &e.name,
                e.partitions,
                cfg.partition_capacity,
                cfg.retention,
            ));
        }
        let mut static_enrichments = Vec::new();
        let mut twin_enrich_mask = 0;
        for i in 0..endpoints.len() {
            let bit = 1u32 << i;
            let mut pairs = Vec::new();
            for e in compiled
                .enrichments
                .iter()
                .filter(|e| e.endpoint_mask & bit != 0)
            {
                match &e.value {
                    EnrichValue::Static(v) => pairs.push((e.key.clone(), v.clone())),
                    EnrichValue::Twin(_) => twin_enrich_mask |= bit,
                }
            }
            static_enrichments.push((!pairs.is_empty()).then(|| Arc::new(pairs)));
        }
        let route_reads_body = compiled.routes.iter().any(|r| r.condition.reads_body());
        let schema_routes = (0..schemas.len())
            .map(|i| {
                let s = schemas.get(i as SchemaId).expect("index in range");
                compiled
                    .routes
                    .iter()
                    .map(|r| r.condition.specialize(s))
                    .collect()
            })
            .collect();
        Ok(Hub {
            name: cfg.name.clone(),
            host: format!("{}.azure-devices.net", cfg.name),
            quota_limit: cfg.tier.daily_messages(cfg.units),
            chunk_bytes: u64::from(cfg.tier.chunk_bytes()),
            quota_day_end: SimTime::ZERO,
            quota_used: 0,
            compiled,
            route_reads_body,
            schema_routes,
            schemas,
            static_enrichments,
            twin_enrich_mask,
            devs: Vec::new(),
            models: Vec::new(),
            ids: Vec::new(),
            keys: Vec::new(),
            by_id: FxHashMap::default(),
            conn_dev: FxHashMap::default(),
            parents: FxHashMap::default(),
            connected: 0,
            sweep_due: BTreeMap::new(),
            filings: 0,
            twins: FxHashMap::default(),
            shapers,
            endpoints,
            c2d: BTreeMap::new(),
            calls: BTreeMap::new(),
            call_deadlines: BTreeSet::new(),
            next_call: 1,
            next_pkid: 1,
            next_sweep: SimTime::ZERO,
            out: VecDeque::new(),
            counters: HubCounters::default(),
            cfg,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    /// `{name}.azure-devices.net`.
    pub fn host(&self) -> &str {
        &self.host
    }
    pub fn config(&self) -> &HubConfig {
        &self.cfg
    }
    pub fn counters(&self) -> &HubCounters {
        &self.counters
    }
    pub fn schemas(&self) -> &SchemaSet {
        &self.schemas
    }
    /// Metered messages of the current UTC day.
    pub fn quota_used(&self) -> u64 {
        self.quota_used
    }
    pub fn quota_limit(&self) -> u64 {
        self.quota_limit
    }
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }
    pub fn endpoint_index(&self, name: &str) -> Option<usize> {
        self.compiled.endpoint_names.iter().position(|n| n == name)
    }
    pub fn connected_count(&self) -> usize {
        self.connected
    }
    pub fn device_count(&self) -> usize {
        self.by_id.len()
    }

    // ---- registry (reference §1.4) ----

    /// Creates (or re-creates, with a new generation) a device identity with its symmetric
    /// key. Identities created by DPS are not subject to the registry-operations throttle
    /// **[assumption]**.
    pub fn register_device(
        &mut self,
        now: SimTime,
        id: &DeviceId,
        key: &[u8],
        initial_twin: Option<Twin>,
    ) -> Result<DeviceIx, HubError> {
        if let Some(&ix) = self.by_id.get(id.as_str()) {
            self.drop_connection(now, ix, Some(HubError::DeviceNotFound));
            let d = &mut self.devs[ix as usize];
            d.generation += 1;
            d.exists = true;
            d.enabled = true;
            d.subs = SubFilters::default();
            self.keys[ix as usize] = key.into();
            match initial_twin {
                Some(t) => {
                    self.twins.insert(ix, t);
                }
                None => {
                    self.twins.remove(&ix);
                }
            }
            return Ok(DeviceIx(ix));
        }
        if self.by_id.len() >= DEVICES_MAX {
            return Err(HubError::RegistryFull);
        }
        let ix = self.devs.len() as u32;
        self.devs.push(Dev {
            last_activity: SimTime::ZERO,
            token_expiry: SimTime::ZERO,
            state_since: now,
            conn: NO,
            filed: 0,
            generation: 1,
            keep_alive_s: 0,
            id_hash: crate::endpoint::id_hash(id.as_str()),
            subs: SubFilters::default(),
            enabled: true,
            exists: true,
            model: 0,
        });
        self.ids.push(id.as_arc().clone());
        self.keys.push(key.into());
        self.by_id.insert(id.as_arc().clone(), ix);
        if let Some(t) = initial_twin {
            self.twins.insert(ix, t);
        }
        Ok(DeviceIx(ix))
    }

    /// Deletes a device identity (disconnecting it); returns its twin for migration.
    pub fn delete_device(&mut self, now: SimTime, id: &str) -> Option<Twin> {
        let ix = *self.by_id.get(id)?;
        self.drop_connection(now, ix, Some(HubError::DeviceNotFound));
        self.by_id.remove(id);
        let d = &mut self.devs[ix as usize];
        d.exists = false;
        d.enabled = false;
        d.subs = SubFilters::default();
        self.c2d.remove(&ix);
        Some(self.twins.remove(&ix).unwrap_or_default())
    }

    /// Enables or disables a device; a disabled device is disconnected and refused.
    pub fn set_enabled(&mut self, now: SimTime, id: &str, enabled: bool) -> bool {
        let Some(&ix) = self.by_id.get(id) else {
            return false;
        };
        self.devs[ix as usize].enabled = enabled;
        if !enabled {
            self.drop_connection(now, ix, Some(HubError::DeviceNotFound));
        }
        true
    }

    /// The model id device `ix` announced when it last connected (`model-id` in its CONNECT
    /// username, reference §6), as the twin's `modelId` shows it.
    pub fn device_model(&self, ix: u32) -> Option<&Arc<str>> {
        self.model_id(self.devs.get(ix as usize)?.model)
    }

    /// Makes `child` a child device of `parent`, an IoT Edge gateway (reference §3: a child
    /// has one parent, so this replaces any earlier one): the hub then accepts the child's
    /// messages on the parent's connection. False if either is not registered.
    pub fn set_parent(&mut self, child: &str, parent: &str) -> bool {
        let (Some(&c), Some(&p)) = (self.by_id.get(child), self.by_id.get(parent)) else {
            return false;
        };
        self.parents.insert(c, p);
        true
    }

    /// The parent of device `ix`, if it is a child device.
    pub fn parent_of(&self, ix: u32) -> Option<u32> {
        self.parents.get(&ix).copied()
    }

    /// A gateway's edgeHub opened child `child`'s session with the CONNECT `username` the
    /// child gave it: the model id it announces (IoT Plug and Play, reference §6) is the one
    /// the hub stamps on the child's messages, as on a direct connection. IoT Edge carries
    /// the child's identity upstream on the parent's connection; the call stands for that
    /// part of the upstream protocol **[simplification]**.
    pub fn handle_child_session(&mut self, child: &str, username: &str) {
        let Some(&c) = self.by_id.get(child) else {
            return;
        };
        let model = self.model_index(username);
        self.devs[c as usize].model = model;
    }

    /// The model id of index `model` ([`EndpointMessage::model`]; 0: none).
    pub fn model_id(&self, model: u16) -> Option<&Arc<str>> {
        self.models.get(usize::from(model).checked_sub(1)?)
    }

    /// The id of a registry index (e.g. [`EndpointMessage::device`]).
    pub fn device_id(&self, ix: u32) -> Option<&Arc<str>> {
        self.ids.get(ix as usize)
    }

    pub fn device(&self, id: &str) -> Option<DeviceIx> {
        self.by_id.get(id).map(|&i| DeviceIx(i))
    }

    pub fn device_info(&self, id: &str) -> Option<DeviceInfo> {
        let d = &self.devs[*self.by_id.get(id)? as usize];
        Some(DeviceInfo {
            enabled: d.enabled,
            generation: d.generation,
            connected: d.conn != NO,
            state_since: d.state_since,
            last_activity: d.last_activity,
            subscriptions: d.subs,
        })
    }

    pub fn twin(&self, id: &str) -> Option<&Twin> {
        self.twins.get(self.by_id.get(id)?)
    }

    // ---- sans-IO plumbing ----

    pub fn poll_output(&mut self) -> Option<HubOutput> {
        self.out.pop_front()
    }

    /// The next instant the hub needs [`Hub::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<SimTime> {
        let sweep = (self.connected > 0 || !self.c2d.is_empty()).then_some(self.next_sweep);
        let call = self.call_deadlines.first().map(|(t, _)| *t);
        match (sweep, call) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn handle_timeout(&mut self, now: SimTime) {
        while let Some(&(t, id)) = self.call_deadlines.first() {
            if t > now {
                break;
            }
            self.call_deadlines.pop_first();
            if let Some(call) = self.calls.remove(&id) {
                let err = match call.state {
                    CallState::WaitingConnect => {
                        self.counters.methods_not_online += 1;
                        self.meter(now, 1);
                        HubError::MethodDeviceNotOnline
                    }
                    CallState::WaitingResponse => {
                        self.counters.methods_timed_out += 1;
                        HubError::MethodResponseTimeout
                    }
                };
                self.out.push_back(HubOutput::MethodResult {
                    at: now,
                    call: MethodCallId(id),
                    result: Err(err),
                });
            }
        }
        if now >= self.next_sweep {
            self.sweep(now);
            while self.next_sweep <= now {
                self.next_sweep += self.cfg.sweep_interval;
            }
        }
    }

    /// The earliest instant the connection must be dropped unless it is active again: token
    /// expiry, or 1.5 × its keep-alive after the last activity.
    fn connection_deadline(d: &Dev) -> SimTime {
        let ka = if d.keep_alive_s == 0 {
            KEEPALIVE_TIMEOUT_MAX
        } else {
            (SimDuration::from_secs(u64::from(d.keep_alive_s)) * 3 / 2).min(KEEPALIVE_TIMEOUT_MAX)
        };
        d.token_expiry.min(d.last_activity.saturating_add(ka))
    }

    /// Files the device's connection under the first sweep at or after its deadline.
    fn file_connection(&mut self, ix: u32) {
        let deadline = Self::connection_deadline(&self.devs[ix as usize]);
        let first = self.next_sweep;
        let at = if deadline <= first {
            first
        } else {
            let step = self.cfg.sweep_interval.as_nanos();
            let k = deadline.since(first).as_nanos().div_ceil(step);
            first + SimDuration::from_nanos(k.saturating_mul(step))
        };
        self.filings = self.filings.wrapping_add(1);
        self.devs[ix as usize].filed = self.filings;
        self.sweep_due
            .entry(at)
            .or_default()
            .push((ix, self.filings));
    }

    fn sweep(&mut self, now: SimTime) {
        while let Some(entry) = self.sweep_due.first_entry() {
            if *entry.key() > now {
                break;
            }
            for (ix, filed) in entry.remove() {
                let d = self.devs[ix as usize];
                if d.conn == NO || d.filed != filed {
                    continue;
                }
                let reason = if d.token_expiry <= now {
                    self.counters.token_expiry_disconnects += 1;
                    Some(HubError::TokenExpired)
                } else if Self::connection_deadline(&d) <= now {
                    self.counters.keepalive_timeouts += 1;
                    Some(HubError::KeepAliveTimeout)
                } else {
                    None
                };
                match reason {
                    Some(r) => self.drop_connection(now, ix, Some(r)),
                    None => self.file_connection(ix),
                }
            }
        }
        let devs: Vec<u32> = self.c2d.keys().copied().collect();
        for ix in devs {
            self.c2d_maintain(now, ix);
        }
        for e in &mut self.endpoints {
            e.expire(now);
        }
    }

    fn unix_s(&self, now: SimTime) -> u64 {
        (self.cfg.epoch.unix_secs() + now.as_secs() as i64).max(0) as u64
    }

    fn pkid(&mut self) -> u16 {
        let p = self.next_pkid;
        self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
        p
    }

    #[inline]
    fn admit(&mut self, op: OpClass, now: SimTime, cost: u64) -> Option<Admit> {
        Some(self.shapers[op as usize].as_mut()?.admit(now, cost))
    }

    /// Resets the quota at the UTC day boundary (reference §1.1: 403002 until the next UTC
    /// day) and reports whether `chunks` more fit.
    #[inline]
    fn quota_fits(&mut self, now: SimTime, chunks: u64) -> bool {
        if now >= self.quota_day_end {
            self.quota_day_end = self.cfg.epoch.next_utc_midnight(now);
            self.quota_used = 0;
        }
        self.quota_used + chunks <= self.quota_limit
    }

    #[inline]
    fn chunks(&self, bytes: usize) -> u64 {
        (bytes as u64).div_ceil(self.chunk_bytes).max(1)
    }

    fn meter(&mut self, now: SimTime, chunks: u64) {
        self.quota_fits(now, 0);
        self.quota_used += chunks;
        self.counters.messages_metered += chunks;
    }

    /// The instant the next sweep is due (for tests and worlds that inspect it).
    pub fn next_sweep(&self) -> SimTime {
        self.next_sweep
    }

    fn send_to(&mut self, at: SimTime, ix: u32, msg: Msg) {
        let conn = self.devs[ix as usize].conn;
        if conn != NO {
            self.out.push_back(HubOutput::ToDevice {
                at,
                conn: ConnId(conn),
                msg,
            });
        }
    }

    fn drop_connection(&mut self, now: SimTime, ix: u32, reason: Option<HubError>) {
        let d = &mut self.devs[ix as usize];
        if d.conn == NO {
            return;
        }
        let conn = d.conn;
        d.conn = NO;
        d.state_since = now;
        self.conn_dev.remove(&conn);
        self.connected -= 1;
        if let Some(reason) = reason {
            self.out.push_back(HubOutput::Disconnect {
                at: now,
                conn: ConnId(conn),
                reason,
            });
        }
    }

    /// The transport of `conn` closed without an MQTT DISCONNECT (network loss, crash).
    pub fn handle_connection_lost(&mut self, now: SimTime, conn: ConnId) {
        if let Some(&ix) = self.conn_dev.get(&conn.0) {
            self.drop_connection(now, ix, None);
        }
    }

    /// The device on `conn`, if that connection is authenticated.
    pub fn device_on(&self, conn: ConnId) -> Option<DeviceIx> {
        self.conn_dev.get(&conn.0).map(|&ix| DeviceIx(ix))
    }

    /// A packet from the device side of connection `conn`.
    pub fn handle_packet(&mut self, now: SimTime, conn: ConnId, msg: &Msg) {
        if let Msg::Connect {
            client_id,
            username,
            password,
            keep_alive_s,
        } = msg
        {
            self.handle_connect(now, conn, client_id, username, password, *keep_alive_s);
            return;
        }
        let Some(DeviceIx(ix)) = self.device_on(conn) else {
            // Not connected: the transport would not carry this; count and close.
            self.counters.protocol_errors += 1;
            self.out.push_back(HubOutput::Disconnect {
                at: now,
                conn,
                reason: HubError::UnauthorizedTopic,
            });
            return;
        };
        self.devs[ix as usize].last_activity = now;
        match msg {
            Msg::Telemetry {
                pkid,
                device,
                schema,
                values,
                body_len,
            } => self.ingest_compact(now, ix, *pkid, device, *schema, values, *body_len),
            Msg::D2c {
                pkid,
                device,
                bag,
                body,
            } => self.ingest_raw(now, ix, *pkid, device, bag, body),
            Msg::Subscribe { pkid, filters, .. } => self.subscribe(now, ix, *pkid, *filters),
            Msg::PubAck { pkid } => self.c2d_complete(now, ix, *pkid),
            Msg::TwinGet { rid } => self.twin_get(now, ix, *rid),
            Msg::TwinPatchReported { rid, body } => self.twin_patch_reported(now, ix, *rid, body),
            Msg::MethodRes { status, rid, body } => self.method_response(now, *status, *rid, body),
            Msg::PingReq => self.send_to(now, ix, Msg::PingResp),
            Msg::Disconnect => self.drop_connection(now, ix, None),
            _ => {
                self.counters.protocol_errors += 1;
                self.drop_connection(now, ix, Some(HubError::UnauthorizedTopic));
            }
        }
    }

    fn handle_connect(
        &mut self,
        now: SimTime,
        conn: ConnId,
        client_id: &str,
        username: &str,
        password: &str,
        keep_alive_s: u16,
    ) {
        let refuse = |hub: &mut Hub, code| {
            hub.out.push_back(HubOutput::ToDevice {
                at: now,
                conn,
                msg: Msg::ConnAck { code },
            });
        };
        let expected_user = format!("{}/{client_id}/", self.host);
        if !username.starts_with(&expected_user) {
            self.counters.auth_bad_username += 1;
            return refuse(self, ConnectCode::BadUsernameOrPassword);
        }
        let Some(&ix) = self.by_id.get(client_id) else {
            self.counters.auth_unknown_device += 1;
            return refuse(self, ConnectCode::NotAuthorized);
        };
        if !self.devs[ix as usize].enabled {
            self.counters.auth_disabled_device += 1;
            return refuse(self, ConnectCode::NotAuthorized);
        }
        let resource = sas::device_resource_uri(&self.host, client_id);
        let token = match SasToken::verify(
            password,
            &resource,
            &self.keys[ix as usize],
            self.unix_s(now),
        ) {
            Ok(t) => t,
            Err(r) => {
                self.counters.auth_refused[r as usize] += 1;
                return refuse(self, ConnectCode::NotAuthorized);
            }
        };
        let at = match self.admit(OpClass::Connections, now, 1) {
            Some(Admit::Refused) | None => {
                self.counters.connects_throttled += 1;
                return refuse(self, ConnectCode::ServerUnavailable);
            }
            Some(Admit::Now) => now,
            Some(Admit::Delayed(d)) => {
                self.counters.connects_delayed += 1;
                now + d
            }
        };
        // One connection per device: the new one drops the old (reference §1.4).
        if self.devs[ix as usize].conn != NO {
            self.counters.replaced_connections += 1;
            self.drop_connection(now, ix, Some(HubError::ReplacedByNewConnection));
        }
        // A connection id reused by another device means that device's transport is gone.
        if let Some(&other) = self.conn_dev.get(&conn.0) {
            self.drop_connection(now, other, None);
        }
        self.conn_dev.insert(conn.0, ix);
        let expiry_offset = token.expiry_unix_s.saturating_sub(self.unix_s(now));
        let model = self.model_index(username);
        let d = &mut self.devs[ix as usize];
        d.model = model;
        d.conn = conn.0;
        d.keep_alive_s = keep_alive_s;
        d.last_activity = at;
        d.state_since = at;
        d.token_expiry = now + SimDuration::from_secs(expiry_offset);
        self.connected += 1;
        if self.connected == 1 && self.next_sweep < now {
            self.next_sweep = now + self.cfg.sweep_interval;
        }
        self.file_connection(ix);
        self.counters.connects_accepted += 1;
        self.out.push_back(HubOutput::ToDevice {
            at,
            conn,
            msg: Msg::ConnAck {
                code: ConnectCode::Accepted,
            },
        });
    }

    /// The index (from 1) of the model id `username` announces, adding it to the table;
    /// 0 if it announces none, or if the table is full (65,535 distinct models, counted).
    fn model_index(&mut self, username: &str) -> u16 {
        let Some(m) = iot_messages::wire::username_model_id(username) else {
            return 0;
        };
        if let Some(i) = self.models.iter().position(|k| &**k == m) {
            return i as u16 + 1;
        }
        if self.models.len() >= usize::from(u16::MAX) {
            self.counters.model_ids_dropped += 1;
            return 0;
        }
        self.models.push(m.into());
        self.models.len() as u16
    }

    fn subscribe(&mut self, now: SimTime, ix: u32, pkid: u16, filters: SubFilters) {
        let tier_basic = self.cfg.tier.is_basic();
        let mut subs = self.devs[ix as usize].subs;
        let mut refused_mask = 0u8;
        let mut count = 0u8;
        for (i, f) in filters.filters().enumerate() {
            count += 1;
            let std_only = f != SubFilters::C2D || tier_basic;
            let allowed = f != SubFilters::DPS_RES
                && !(tier_basic && std_only)
                && (subs.contains(f) || subs.count() < SUBSCRIPTIONS_MAX);
            if allowed {
                subs = subs.union(f);
            } else {
                refused_mask |= 1 << i;
                self.counters.subscriptions_refused += 1;
            }
        }
        self.devs[ix as usize].subs = subs;
        self.send_to(
            now,
            ix,
            Msg::SubAck {
                pkid,
                count,
                refused_mask,
            },
        );
        if subs.contains(SubFilters::C2D) {
            self.c2d_maintain(now, ix);
        }
        if subs.contains(SubFilters::METHODS) {
            let waiting: Vec<u32> = self
                .calls
                .iter()
                .filter(|(_, c)| c.dev == ix && matches!(c.state, CallState::WaitingConnect))
                .map(|(id, _)| *id)
                .collect();
            for id in waiting {
                self.send_method(now, id);
            }
        }
    }

    // ---- D2C (reference §1.1-§1.3, §1.10) ----

    #[inline]
    fn d2c_gate(
        &mut self,
        now: SimTime,
        ix: u32,
        topic_device: &str,
        body_len: usize,
    ) -> Option<(SimTime, u32)> {
        let id = &self.ids[ix as usize];
        let sender =
            if Arc::as_ptr(id) as *const u8 == topic_device.as_ptr() || **id == *topic_device {
                ix
            } else {
                // A parent may publish on its children's topics (reference §3).
                match self.by_id.get(topic_device) {
                    Some(&child) if self.parents.get(&child) == Some(&ix) => child,
                    _ => {
                        self.counters.unauthorized_topic += 1;
                        self.drop_connection(now, ix, Some(HubError::UnauthorizedTopic));
                        return None;
                    }
                }
            };
        if body_len > D2C_BYTES_MAX {
            self.counters.d2c_too_large += 1;
            self.drop_connection(now, ix, Some(HubError::MessageTooLarge));
            return None;
        }
        let chunks = self.chunks(body_len);
        if !self.quota_fits(now, chunks) {
            self.counters.d2c_quota_exceeded += 1;
            self.drop_connection(now, ix, Some(HubError::QuotaExceeded));
            return None;
        }
        let at = match self.admit(OpClass::DeviceToCloud, now, 1) {
            Some(Admit::Now) => now,
            Some(Admit::Delayed(d)) => {
                self.counters.d2c_delayed += 1;
                now + d
            }
            Some(Admit::Refused) | None => {
                self.counters.d2c_throttled += 1;
                self.drop_connection(now, ix, Some(HubError::Throttled));
                return None;
            }
        };
        self.quota_used += chunks;
        self.counters.messages_metered += chunks;
        self.counters.d2c_accepted += 1;
        Some((at, sender))
    }

    #[allow(clippy::too_many_arguments)]
    fn ingest_compact(
        &mut self,
        now: SimTime,
        ix: u32,
        pkid: u16,
        device: &str,
        schema: SchemaId,
        values: &Values,
        body_len: u32,
    ) {
        let body_len = body_len as usize;
        debug_assert_eq!(
            self.schemas.get(schema).map(|s| s.body_len(values)),
            Some(body_len),
            "Msg::Telemetry carries a wrong body_len; build it with Msg::telemetry"
        );
        let Some(_) = self.schemas.get(schema) else {
            self.counters.protocol_errors += 1;
            self.drop_connection(now, ix, Some(HubError::BadRequest));
            return;
        };
        let Some((at, sender)) = self.d2c_gate(now, ix, device, body_len) else {
            return;
        };
        let mask = {
            let mut mask = 0u32;
            for (r, c) in self
                .compiled
                .routes
                .iter()
                .zip(&self.schema_routes[schema as usize])
            {
                if mask & r.endpoint_mask != r.endpoint_mask && c.eval(device, values) {
                    mask |= r.endpoint_mask;
                }
            }
            if mask == 0 && self.cfg.fallback {
                mask = 1;
            }
            mask
        };
        self.deliver(
            at,
            sender,
            mask,
            Payload::Compact {
                schema,
                values: *values,
                body_len: body_len as u32,
            },
        );
        self.send_to(at, ix, Msg::PubAck { pkid });
    }

    fn ingest_raw(
        &mut self,
        now: SimTime,
        ix: u32,
        pkid: u16,
        device: &str,
        bag: &Arc<str>,
        body: &Arc<[u8]>,
    ) {
        let Some((at, sender)) = self.d2c_gate(now, ix, device, body.len()) else {
            return;
        };
        let mask = {
            let parsed = PropertyBag::parse(bag).unwrap_or_default();
            let json = if self.route_reads_body {
                serde_json::from_slice(body).ok()
            } else {
                None
            };
            let view = View {
                device,
                bag: parsed,
                json,
            };
            self.route_mask(&view)
        };
        self.deliver(
            at,
            sender,
            mask,
            Payload::Raw {
                bag: bag.clone(),
                body: body.clone(),
            },
        );
        self.send_to(at, ix, Msg::PubAck { pkid });
    }

    #[inline]
    fn route_mask(&self, view: &View<'_>) -> u32 {
        let mut mask = 0u32;
        for r in &self.compiled.routes {
            if mask & r.endpoint_mask != r.endpoint_mask && r.condition.eval(view) {
                mask |= r.endpoint_mask;
            }
        }
        if mask == 0 && self.cfg.fallback {
            mask = 1;
        }
        mask
    }

    fn deliver(&mut self, at: SimTime, ix: u32, mut mask: u32, payload: Payload) {
        if mask == 0 {
            self.counters.d2c_unrouted += 1;
            return;
        }
        let (id_hash, model) = {
            let d = &self.devs[ix as usize];
            (d.id_hash, d.model)
        };
        while mask != 0 {
            let e = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let enrichments = if self.twin_enrich_mask & (1 << e) != 0 {
                Some(Arc::new(self.enrich(ix, e)))
            } else {
                self.static_enrichments[e].clone()
            };
            let part = (id_hash % self.endpoints[e].partitions.len() as u32) as usize;
            self.endpoints[e].append(
                part,
                EndpointMessage {
                    offset: 0,
                    enqueued: at,
                    device: ix,
                    model,
                    payload: payload.clone(),
                    enrichments,
                },
            );
            self.counters.endpoint_writes += 1;
        }
    }

    /// Enrichments for endpoint `e`, resolving twin paths; a missing path stamps the literal
    /// text (reference §1.10).
    fn enrich(&self, ix: u32, e: usize) -> Vec<(Arc<str>, Arc<str>)> {
        let twin = self.twins.get(&ix);
        self.compiled
            .enrichments
            .iter()
            .filter(|en| en.endpoint_mask & (1 << e) != 0)
            .map(|en| {
                let v: Arc<str> = match &en.value {
                    EnrichValue::Static(s) => s.clone(),
                    EnrichValue::Twin(path) => match twin.and_then(|t| t.lookup(path)) {
                        Some(Value::String(s)) => s.as_str().into(),
                        Some(v) if !v.is_null() => v.to_string().into(),
                        _ => format!("$twin.{path}").into(),
                    },
                };
                (en.key.clone(), v)
            })
            .collect()
    }

    // ---- C2D (reference §1.8) ----

    /// Enqueues a C2D message for `device`.
    pub fn send_c2d(
        &mut self,
        now: SimTime,
        device: &str,
        req: C2dRequest,
    ) -> Result<(), HubError> {
        let ix = *self.by_id.get(device).ok_or(HubError::DeviceNotFound)?;
        if req.body.len() > C2D_BYTES_MAX {
            self.counters.c2d_refused += 1;
            return Err(HubError::MessageTooLarge);
        }
        if self
            .c2d
            .get(&ix)
            .is_some_and(|q| q.len() >= C2D_PENDING_MAX)
        {
            self.counters.c2d_refused += 1;
            return Err(HubError::C2dQueueFull);
        }
        let chunks = self.chunks(req.body.len());
        if !self.quota_fits(now, chunks) {
            self.counters.c2d_refused += 1;
            return Err(HubError::QuotaExceeded);
        }
        let at = match self.admit(OpClass::CloudToDeviceSends, now, 1) {
            None => return Err(HubError::NotOnTier),
            Some(Admit::Refused) => {
                self.counters.c2d_refused += 1;
                return Err(HubError::Throttled);
            }
            Some(Admit::Now) => now,
            Some(Admit::Delayed(d)) => now + d,
        };
        self.meter(now, chunks);
        self.counters.c2d_sent += 1;
        let ttl = req.ttl.unwrap_or(self.cfg.c2d.default_ttl);
        self.c2d.entry(ix).or_default().push_back(C2dMsg {
            expiry: now.saturating_add(ttl),
            visible_at: at,
            req,
            deliveries: 0,
            state: C2dState::Enqueued,
        });
        self.c2d_maintain(now, ix);
        Ok(())
    }

    /// Expires, unlocks and delivers the device's C2D queue.
    fn c2d_maintain(&mut self, now: SimTime, ix: u32) {
        let Some(mut q) = self.c2d.remove(&ix) else {
            return;
        };
        let online = self.devs[ix as usize].conn != NO
            && self.devs[ix as usize].subs.contains(SubFilters::C2D);
        let max_deliveries = self.cfg.c2d.max_delivery_count;
        let lock = self.cfg.c2d.lock_timeout;
        let generation = self.devs[ix as usize].generation;
        let mut keep = VecDeque::with_capacity(q.len());
        while let Some(mut m) = q.pop_front() {
            if m.expiry <= now {
                self.counters.c2d_expired += 1;
                self.feedback(now, ix, generation, &m, FeedbackStatus::Expired);
                continue;
            }
            if let C2dState::Invisible { lock_until, .. } = m.state {
                if lock_until <= now {
                    m.state = C2dState::Enqueued;
                }
            }
            if m.state == C2dState::Enqueued && online {
                if m.deliveries >= max_deliveries {
                    self.counters.c2d_dead_lettered += 1;
                    self.feedback(
                        now,
                        ix,
                        generation,
                        &m,
                        FeedbackStatus::DeliveryCountExceeded,
                    );
                    continue;
                }
                let pkid = self.pkid();
                let at = now.max(m.visible_at);
                m.deliveries += 1;
                m.state = C2dState::Invisible {
                    pkid,
                    lock_until: at + lock,
                };
                self.counters.c2d_delivered += 1;
                self.send_to(
                    at,
                    ix,
                    Msg::C2d {
                        pkid,
                        device: self.ids[ix as usize].clone(),
                        bag: m.req.bag.clone(),
                        body: m.req.body.clone(),
                    },
                );
            }
            keep.push_back(m);
        }
        if !keep.is_empty() {
            self.c2d.insert(ix, keep);
        }
    }

    fn feedback(
        &mut self,
        now: SimTime,
        ix: u32,
        generation: u32,
        m: &C2dMsg,
        status: FeedbackStatus,
    ) {
        let wanted = match status {
            FeedbackStatus::Success => matches!(m.req.ack, Ack::Positive | Ack::Full),
            _ => matches!(m.req.ack, Ack::Negative | Ack::Full),
        };
        if wanted {
            self.out.push_back(HubOutput::Feedback {
                at: now,
                record: FeedbackRecord {
                    original_message_id: m.req.message_id.clone(),
                    device_id: self.ids[ix as usize].clone(),
                    device_generation_id: generation,
                    status,
                },
            });
        }
    }

    fn c2d_complete(&mut self, now: SimTime, ix: u32, pkid: u16) {
        let Some(q) = self.c2d.get_mut(&ix) else {
            return;
        };
        let Some(i) = q
            .iter()
            .position(|m| matches!(m.state, C2dState::Invisible { pkid: p, .. } if p == pkid))
        else {
            return;
        };
        let m = q.remove(i).expect("position is in range");
        if q.is_empty() {
            self.c2d.remove(&ix);
        }
        self.counters.c2d_completed += 1;
        let generation = self.devs[ix as usize].generation;
        self.feedback(now, ix, generation, &m, FeedbackStatus::Success);
    }

    /// Pending (not yet completed) C2D messages of a device.
    pub fn c2d_pending(&self, device: &str) -> usize {
        self.by_id
            .get(device)
            .and_then(|ix| self.c2d.get(ix))
            .map_or(0, VecDeque::len)
    }

    // ---- direct methods (reference §1.7) ----

    /// Invokes a direct method; the result comes as [`HubOutput::MethodResult`].
    pub fn invoke_method(
        &mut self,
        now: SimTime,
        device: &str,
        req: MethodRequest,
    ) -> Result<MethodCallId, HubError> {
        let ix = *self.by_id.get(device).ok_or(HubError::DeviceNotFound)?;
        if req.payload.len() > METHOD_BYTES_MAX {
            return Err(HubError::MessageTooLarge);
        }
        let rt = req.response_timeout;
        if rt < SimDuration::from_secs(5)
            || rt > SimDuration::from_secs(300)
            || req.connect_timeout > SimDuration::from_secs(300)
        {
            return Err(HubError::BadRequest);
        }
        let units = (req.payload.len() as u64).div_ceil(4_096).max(1);
        match self.admit(OpClass::DirectMethods, now, units) {
            None => return Err(HubError::NotOnTier),
            Some(Admit::Refused) => return Err(HubError::Throttled),
            Some(_) => {}
        }
        let chunks = self.chunks(req.payload.len());
        if !self.quota_fits(now, chunks + 1) {
            return Err(HubError::QuotaExceeded);
        }
        self.meter(now, chunks);
        self.counters.methods_invoked += 1;
        let id = self.next_call;
        self.next_call = self.next_call.wrapping_add(1).max(1);
        let online = self.devs[ix as usize].conn != NO
            && self.devs[ix as usize].subs.contains(SubFilters::METHODS);
        if !online && req.connect_timeout.is_zero() {
            // Offline: charged for the request plus one for the reply (reference §1.1).
            self.meter(now, 1);
            self.counters.methods_not_online += 1;
            self.out.push_back(HubOutput::MethodResult {
                at: now,
                call: MethodCallId(id),
                result: Err(HubError::MethodDeviceNotOnline),
            });
            return Ok(MethodCallId(id));
        }
        let deadline = now + req.connect_timeout;
        self.calls.insert(
            id,
            Call {
                dev: ix,
                req,
                state: CallState::WaitingConnect,
                deadline,
            },
        );
        self.call_deadlines.insert((deadline, id));
        if online {
            self.send_method(now, id);
        }
        Ok(MethodCallId(id))
    }

    fn send_method(&mut self, now: SimTime, id: u32) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        self.call_deadlines.remove(&(call.deadline, id));
        call.state = CallState::WaitingResponse;
        call.deadline = now + call.req.response_timeout;
        self.call_deadlines.insert((call.deadline, id));
        let (dev, name, body) = (call.dev, call.req.name.clone(), call.req.payload.clone());
        self.send_to(
            now,
            dev,
            Msg::MethodPost {
                name,
                rid: id,
                body,
            },
        );
    }

    fn method_response(&mut self, now: SimTime, status: i32, rid: u32, body: &Arc<[u8]>) {
        let Some(call) = self.calls.remove(&rid) else {
            return;
        };
        self.call_deadlines.remove(&(call.deadline, rid));
        let chunks = self.chunks(body.len());
        self.meter(now, chunks);
        self.counters.methods_answered += 1;
        self.out.push_back(HubOutput::MethodResult {
            at: now,
            call: MethodCallId(rid),
            result: if body.len() > METHOD_BYTES_MAX {
                Err(HubError::MessageTooLarge)
            } else {
                Ok((status, body.clone()))
            },
        });
    }

    // ---- twins (reference §1.9) ----

    fn twin_get(&mut self, now: SimTime, ix: u32, rid: u32) {
        let res = |status: u16, body: &[u8]| Msg::TwinRes {
            status,
            rid,
            version: None,
            body: Arc::from(body),
        };
        let at = match self.admit(OpClass::TwinReads, now, 1) {
            None => return self.send_to(now, ix, res(403, b"")),
            Some(Admit::Refused) => {
                self.counters.twin_throttled += 1;
                return self.send_to(now, ix, res(429, b""));
            }
            Some(Admit::Now) => now,
            Some(Admit::Delayed(d)) => now + d,
        };
        let view = match self.twins.get(&ix) {
            Some(t) => t.device_view(),
            None => Twin::default().device_view(),
        };
        let body = serde_json::to_vec(&view).expect("JSON serializes");
        let chunks = self.chunks(body.len());
        if !self.quota_fits(now, chunks) {
            return self.send_to(now, ix, res(403, b""));
        }
        self.meter(now, chunks);
        self.counters.twin_gets += 1;
        self.send_to(at, ix, res(200, &body));
    }

    fn twin_patch_reported(&mut self, now: SimTime, ix: u32, rid: u32, body: &[u8]) {
        let res = |status: u16, version: Option<u64>| Msg::TwinRes {
            status,
            rid,
            version,
            body: Arc::from(&b""[..]),
        };
        let at = match self.admit(OpClass::TwinUpdates, now, 1) {
            None => return self.send_to(now, ix, res(403, None)),
            Some(Admit::Refused) => {
                self.counters.twin_throttled += 1;
                return self.send_to(now, ix, res(429, None));
            }
            Some(Admit::Now) => now,
            Some(Admit::Delayed(d)) => now + d,
        };
        let chunks = self.chunks(body.len());
        if !self.quota_fits(now, chunks) {
            return self.send_to(now, ix, res(403, None));
        }
        let Ok(patch) = serde_json::from_slice::<Value>(body) else {
            self.counters.twin_rejected += 1;
            return self.send_to(at, ix, res(400, None));
        };
        match self
            .twins
            .entry(ix)
            .or_default()
            .patch(Section::Reported, &patch)
        {
            Ok(v) => {
                self.meter(now, chunks);
                self.counters.twin_reported_patches += 1;
                self.send_to(at, ix, res(204, Some(v)));
            }
            Err(_) => {
                self.counters.twin_rejected += 1;
                self.send_to(at, ix, res(400, None));
            }
        }
    }

    /// A back-end desired-properties patch. Sent to the device only if it is connected and
    /// subscribed; never queued for an offline device (reference §1.9).
    pub fn update_desired(
        &mut self,
        now: SimTime,
        device: &str,
        patch: &Value,
    ) -> Result<u64, HubError> {
        let ix = *self.by_id.get(device).ok_or(HubError::DeviceNotFound)?;
        let at = match self.admit(OpClass::TwinUpdates, now, 1) {
            None => return Err(HubError::NotOnTier),
            Some(Admit::Refused) => {
                self.counters.twin_throttled += 1;
                return Err(HubError::Throttled);
            }
            Some(Admit::Now) => now,
            Some(Admit::Delayed(d)) => now + d,
        };
        let chunks = self.chunks(patch.to_string().len());
        if !self.quota_fits(now, chunks) {
            return Err(HubError::QuotaExceeded);
        }
        let version = self
            .twins
            .entry(ix)
            .or_default()
            .patch(Section::Desired, patch)
            .map_err(|_| HubError::BadRequest)?;
        self.meter(now, chunks);
        self.counters.twin_desired_patches += 1;
        let d = self.devs[ix as usize];
        if d.conn != NO && d.subs.contains(SubFilters::TWIN_DESIRED) {
            let mut body = patch.clone();
            if let Value::Object(m) = &mut body {
                m.insert("$version".into(), version.into());
            }
            self.counters.twin_desired_sent += 1;
            self.send_to(
                at,
                ix,
                Msg::TwinDesired {
                    version,
                    body: serde_json::to_vec(&body).expect("JSON").into(),
                },
            );
        }
        Ok(version)
    }

    /// Replaces tags with a merge patch (back-end only; tags are invisible to devices).
    pub fn update_tags(&mut self, device: &str, patch: &Value) -> Result<(), HubError> {
        let ix = *self.by_id.get(device).ok_or(HubError::DeviceNotFound)?;
        self.twins
            .entry(ix)
            .or_default()
            .patch(Section::Tags, patch)
            .map(|_| ())
            .map_err(|_| HubError::BadRequest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_device_state_is_compact() {
        // A million devices: 48 bytes of hot state each, plus the id and key tables.
        assert!(
            std::mem::size_of::<Dev>() <= 48,
            "{}",
            std::mem::size_of::<Dev>()
        );
    }
}
