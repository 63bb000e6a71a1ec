use iot_messages::dps_body::{DpsReply, RegStatus};
use iot_messages::sas::{device_resource_uri, dps_resource_uri, SasToken};
use iot_messages::telemetry::{SchemaSet, Values, FIELDS_MAX};
use iot_messages::wire::{dps_username, hub_username_with_model};
use iot_messages::{ConnectCode, Msg, SchemaId, SubFilters};
use serde_json::Value;
use sim::rng::below;
use sim::{CompactRng, Epoch, SimDuration, SimTime};
use std::collections::VecDeque;
use std::sync::Arc;

/// What the buffer does when a sample arrives and it is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverflowPolicy {
    /// Evict the oldest buffered message (fresh data matters more).
    DropOldest,
    /// Discard the new sample (the backlog matters more).
    DropNewest,
}

/// Firmware settings shared by every device of a kind.
#[derive(Debug, Clone)]
pub struct FirmwareConfig {
    pub id_scope: String,
    pub epoch: Epoch,
    pub schemas: SchemaSet,
    /// The schema of the periodic sample; [`Device::publish`] may name any of `schemas`.
    pub schema: SchemaId,
    /// Whether the device samples every `telemetry_interval` (default `true`). A class that
    /// only publishes on events (a door lock, [`Device::publish`]) sets `false`: the device
    /// then never calls [`DeviceLogic::sample`] and draws no sample-related randomness (no
    /// first-sample offset, no jitter), so its random stream serves backoff alone.
    /// `telemetry_interval` is still validated, and still the default a desired
    /// `telemetry_interval_s` overrides, in case the flag is set again.
    pub periodic: bool,
    pub telemetry_interval: SimDuration,
    /// A uniform extra delay in `[0, jitter)` added to every interval.
    pub telemetry_jitter: SimDuration,
    /// Hub subscriptions (at most 5, reference §1.3; `DPS_RES` is not a hub filter).
    pub subscriptions: SubFilters,
    /// MQTT keep-alive; the hub closes after 1.5× (reference §1.6), at most 1,177 s useful.
    pub keep_alive_s: u16,
    /// Lifetime of each SAS token the device signs.
    pub token_ttl: SimDuration,
    /// Reconnect with a fresh token this long before the current one expires.
    pub token_renew_before: SimDuration,
    pub buffer_capacity: u16,
    pub overflow: OverflowPolicy,
    /// Unacknowledged QoS 1 publishes at a time.
    pub inflight_max: u8,
    /// Wait for a CONNACK, SUBACK, twin or DPS response before giving up on the connection.
    pub request_timeout: SimDuration,
    /// Wait for a PUBACK before giving up on the connection (above the hub's 60 s throttle
    /// queue, see `hub::tier`).
    pub ack_timeout: SimDuration,
    pub backoff_base: SimDuration,
    pub backoff_max: SimDuration,
    /// Sequence numbers reserved per flash write.
    pub seq_block: u32,
    /// The device model's id (a DTMI) the device announces when it connects to its hub, as
    /// IoT Plug and Play devices do (reference §6); `None`: a device without a model.
    pub model_id: Option<String>,
}

impl FirmwareConfig {
    /// Defaults in the range of the Azure IoT SDKs: keep-alive 240 s (C SDK, §1.6), 1 h
    /// tokens renewed 5 min early, 30 s request timeout, 90 s PUBACK timeout, backoff from
    /// 1 s up to 5 min **[assumptions where the reference is silent]**.
    pub fn new(id_scope: &str, schemas: SchemaSet, interval: SimDuration) -> FirmwareConfig {
        FirmwareConfig {
            id_scope: id_scope.to_string(),
            epoch: Epoch::DEFAULT,
            schemas,
            schema: 0,
            periodic: true,
            telemetry_interval: interval,
            telemetry_jitter: SimDuration::from_secs(5),
            subscriptions: SubFilters::ALL_HUB,
            keep_alive_s: 240,
            token_ttl: SimDuration::from_hours(1),
            token_renew_before: SimDuration::from_mins(5),
            buffer_capacity: 64,
            overflow: OverflowPolicy::DropOldest,
            inflight_max: 4,
            request_timeout: SimDuration::from_secs(30),
            ack_timeout: SimDuration::from_secs(90),
            backoff_base: SimDuration::from_secs(1),
            backoff_max: SimDuration::from_mins(5),
            seq_block: 64,
            model_id: None,
        }
    }

    pub fn validate(&self) -> Result<(), FirmwareConfigError> {
        let bad = |field: &'static str, value: String, expected: &'static str| {
            Err(FirmwareConfigError {
                field,
                value,
                expected,
            })
        };
        if self.schemas.get(self.schema).is_none() {
            return bad("schema", self.schema.to_string(), "an index into schemas");
        }
        if self.telemetry_interval.is_zero() {
            return bad("telemetry_interval", "0s".into(), "a positive duration");
        }
        if self.subscriptions.count() > 5 || self.subscriptions.contains(SubFilters::DPS_RES) {
            return bad(
                "subscriptions",
                format!("{:?}", self.subscriptions),
                "at most 5 hub filters",
            );
        }
        if self.token_renew_before >= self.token_ttl {
            return bad(
                "token_renew_before",
                format!("{:?}", self.token_renew_before),
                "less than token_ttl",
            );
        }
        if self.buffer_capacity == 0 || self.inflight_max == 0 || self.seq_block == 0 {
            return bad(
                "buffer_capacity/inflight_max/seq_block",
                "0".into(),
                "at least 1",
            );
        }
        if self.backoff_base.is_zero() || self.backoff_max < self.backoff_base {
            return bad(
                "backoff_base/backoff_max",
                format!("{:?}/{:?}", self.backoff_base, self.backoff_max),
                "0 < base <= max",
            );
        }
        Ok(())
    }
}

/// A firmware configuration value is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("firmware config: {field} = {value}; expected {expected}")]
pub struct FirmwareConfigError {
    pub field: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// The scenario's device behaviour, one object for the whole fleet (`device` is the index).
pub trait DeviceLogic {
    /// Fills `out` with the telemetry fields of the device's schema from its hardware models
    /// and returns how many were written.
    fn sample(&mut self, device: u32, now: SimTime, out: &mut [f64; FIELDS_MAX]) -> usize;
    /// A desired-properties document or patch (without `$version`). Returns a reported
    /// patch to send, if any.
    fn on_desired(&mut self, _device: u32, _now: SimTime, _desired: &Value) -> Option<Value> {
        None
    }
    /// A direct method (reference §1.6, §1.7): answer at once with [`MethodReply::Now`], or
    /// return [`MethodReply::Later`], keep `call.rid` and answer through
    /// [`Device::reply_method`]. The default answers 404 `{"error":"unknown method"}`.
    fn on_method(&mut self, _device: u32, _now: SimTime, _call: MethodCall<'_>) -> MethodReply {
        MethodReply::Now {
            status: 404,
            body: b"{\"error\":\"unknown method\"}".to_vec(),
        }
    }
    /// A C2D message (the firmware acknowledges it).
    fn on_c2d(&mut self, _device: u32, _now: SimTime, _bag: &str, _body: &[u8]) {}
    /// A reported patch to send after each (re)connection, e.g. firmware version.
    fn reported_on_connect(&mut self, _device: u32, _now: SimTime) -> Option<Value> {
        None
    }
}

/// Names one direct-method request for a reply: the hub's `$rid` and the device's connection
/// it arrived on. It is `Copy` and packs into a `u64` ([`MethodRid::to_bits`]), so a world can
/// carry it in a kernel event's payload or in serialised per-class state; the device keeps no
/// table of open calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MethodRid {
    rid: u32,
    conn: u16,
}

impl MethodRid {
    /// The hub's request id, echoed in `$iothub/methods/res/{status}/?$rid={rid}` (§1.6).
    pub fn rid(self) -> u32 {
        self.rid
    }
    /// `conn << 32 | rid`; [`MethodRid::from_bits`] restores it.
    pub fn to_bits(self) -> u64 {
        u64::from(self.conn) << 32 | u64::from(self.rid)
    }
    /// The inverse of [`MethodRid::to_bits`] (bits above 48 are ignored).
    pub fn from_bits(bits: u64) -> MethodRid {
        MethodRid {
            rid: bits as u32,
            conn: (bits >> 32) as u16,
        }
    }
}

/// A direct-method request as the firmware hands it to [`DeviceLogic::on_method`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodCall<'a> {
    /// What [`Device::reply_method`] needs to answer this call later.
    pub rid: MethodRid,
    pub name: &'a str,
    /// The request's JSON payload (at most 128 KB, §1.3).
    pub payload: &'a [u8],
}

/// How the scenario answers a direct method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodReply {
    /// Reply at once with this status (any integer, §1.6) and JSON body.
    Now { status: i32, body: Vec<u8> },
    /// The logic replies later through [`Device::reply_method`] (a method that takes time:
    /// a firmware update, a valve that must close first). If it never does, the hub answers
    /// the caller 504101 at the call's response timeout (§1.7).
    Later,
}

/// Which service a packet goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Dps,
    /// The hub named in the device's flash ([`Device::assigned_hub`]).
    Hub,
}

/// Why a telemetry message was lost on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// The store-and-forward buffer was full.
    Overflow,
    /// The device rebooted with the message in RAM.
    Reboot,
}

/// The fate of telemetry messages, for checkers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    Sampled { seq: u32 },
    Acked { seq: u32 },
    Dropped { seq: u32, reason: DropReason },
}

/// What a device emits.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceOutput {
    /// Send a packet to `to`; a CONNECT opens a new connection.
    Send {
        to: Peer,
        msg: Msg,
    },
    /// The device closes its connection to `peer`.
    Close {
        peer: Peer,
    },
    Record(Record),
}

/// Why a connection ended, as the device's transport sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The network or the peer vanished.
    Network,
    /// The service closed it with this error code (e.g. 429001, 403002, 400027).
    Server(u32),
}

/// What the device is trying to reach after a backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Provision,
    Connect,
}

/// What the firmware keeps across reboots: bounded, a handful of fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flash {
    pub assigned_hub: Option<Arc<str>>,
    pub device_id: Option<Arc<str>>,
    /// The first sequence number not yet handed out.
    pub seq_reserved: u32,
    pub desired_version: u64,
    /// Telemetry interval set through the desired property `telemetry_interval_s`.
    pub interval_s: u32,
    /// Flash writes so far (wear).
    pub writes: u32,
}

/// The caller's side of a call: shared configuration, the scenario's logic, and the queue
/// the device pushes outputs into.
pub struct Ctx<'a> {
    pub cfg: &'a FirmwareConfig,
    pub logic: &'a mut dyn DeviceLogic,
    pub out: &'a mut Vec<DeviceOutput>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Off,
    Backoff(Phase),
    DpsConnecting,
    DpsSubscribing,
    DpsRegistering,
    DpsWaitPoll,
    DpsPolling,
    HubConnecting,
    HubSubscribing,
    TwinGetting,
    Running,
}

impl State {
    fn peer(self) -> Option<Peer> {
        match self {
            State::DpsConnecting
            | State::DpsSubscribing
            | State::DpsRegistering
            | State::DpsWaitPoll
            | State::DpsPolling => Some(Peer::Dps),
            State::HubConnecting | State::HubSubscribing | State::TwinGetting | State::Running => {
                Some(Peer::Hub)
            }
            State::Off | State::Backoff(_) => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    values: Values,
    /// 0 while not sent on the current connection.
    pkid: u16,
    /// The reading's schema (the periodic one or an event's). It sits in what was padding:
    /// a slot is 72 bytes with or without it.
    schema: SchemaId,
    sent_at: SimTime,
}

/// Per-device counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceStats {
    pub boots: u32,
    pub provisionings: u32,
    pub hub_connects: u32,
    pub disconnects: u32,
    pub throttled: u32,
    pub quota_exceeded: u32,
    pub refused_connects: u32,
    pub backoffs: u32,
    pub token_renewals: u32,
    pub stale_desired_ignored: u32,
    pub encode_errors: u32,
}

/// One device's firmware state.
pub struct Device {
    index: u32,
    registration_id: Arc<str>,
    key: Arc<[u8]>,
    flash: Flash,
    rng: CompactRng,
    state: State,
    wake: SimTime,
    next_sample: SimTime,
    last_tx: SimTime,
    renew_at: SimTime,
    seq: u32,
    rid: u32,
    twin_get_rid: u32,
    pkid: u16,
    attempt: u8,
    /// Consecutive throttled or failed twin reads while connected.
    twin_attempt: u8,
    auth_failures: u8,
    inflight: u8,
    /// Counts hub connections (wrapping), so a deferred method reply knows whether the
    /// connection its request came on is still the current one ([`MethodRid`]). It fits in
    /// padding: `Device` stays 256 bytes. A reply held across 65,536 reconnects would match
    /// again; no method call lives that long (at most 300 s, §1.7).
    conn: u16,
    desired_version: u64,
    op: Option<Arc<str>>,
    buffer: VecDeque<Slot>,
    pub stats: DeviceStats,
}

const NEVER: SimTime = SimTime::MAX;

impl Device {
    /// A powered-off device with its registration id and symmetric key (for a group
    /// enrollment, the key derived from the group key, reference §2.2), and its random stream.
    pub fn new(index: u32, registration_id: Arc<str>, key: Arc<[u8]>, rng: CompactRng) -> Device {
        Device {
            index,
            registration_id,
            key,
            flash: Flash::default(),
            rng,
            state: State::Off,
            wake: NEVER,
            next_sample: NEVER,
            last_tx: SimTime::ZERO,
            renew_at: NEVER,
            seq: 0,
            rid: 0,
            twin_get_rid: 0,
            pkid: 0,
            attempt: 0,
            twin_attempt: 0,
            auth_failures: 0,
            inflight: 0,
            conn: 0,
            desired_version: 0,
            op: None,
            buffer: VecDeque::new(),
            stats: DeviceStats::default(),
        }
    }

    /// Writes what an earlier provisioning left in flash (a device in service before the
    /// simulated run): the assigned hub and device id. It connects to that hub when powered
    /// on and provisions again only if the hub refuses it. Only a device that is off.
    pub fn install_assignment(&mut self, assigned_hub: Arc<str>, device_id: Arc<str>) {
        debug_assert!(self.is_off(), "flash is written before power-on");
        self.flash.assigned_hub = Some(assigned_hub);
        self.flash.device_id = Some(device_id);
        self.flash.writes += 1;
    }

    pub fn index(&self) -> u32 {
        self.index
    }
    pub fn registration_id(&self) -> &Arc<str> {
        &self.registration_id
    }
    pub fn flash(&self) -> &Flash {
        &self.flash
    }
    pub fn assigned_hub(&self) -> Option<&Arc<str>> {
        self.flash.assigned_hub.as_ref()
    }
    pub fn is_running(&self) -> bool {
        self.state == State::Running
    }
    pub fn is_off(&self) -> bool {
        self.state == State::Off
    }
    /// The peer the device currently holds a connection to (or is connecting to).
    pub fn connected_peer(&self) -> Option<Peer> {
        self.state.peer()
    }
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }
    /// Sequence numbers still in the buffer (sent or not).
    pub fn buffered_seqs(&self) -> impl Iterator<Item = u32> + '_ {
        self.buffer.iter().map(|s| s.values.seq)
    }
    pub fn desired_version(&self) -> u64 {
        self.desired_version
    }
    fn interval(&self, cfg: &FirmwareConfig) -> SimDuration {
        if self.flash.interval_s > 0 {
            SimDuration::from_secs(u64::from(self.flash.interval_s))
        } else {
            cfg.telemetry_interval
        }
    }

    /// The next instant the device needs [`Device::handle_timeout`].
    pub fn poll_timeout(&self, cfg: &FirmwareConfig) -> Option<SimTime> {
        if self.state == State::Off {
            return None;
        }
        let mut t = self.next_sample.min(self.wake);
        if self.state == State::Running {
            t = t.min(self.renew_at);
            t = t.min(
                self.last_tx
                    .saturating_add(SimDuration::from_secs(u64::from(cfg.keep_alive_s.max(1)))),
            );
            if let Some(oldest) = self
                .buffer
                .iter()
                .filter(|s| s.pkid != 0)
                .map(|s| s.sent_at)
                .min()
            {
                t = t.min(oldest.saturating_add(cfg.ack_timeout));
            }
        }
        (t != NEVER).then_some(t)
    }

    // ---- power ----

    /// Power on (first boot or after a crash): read flash, start provisioning or connecting.
    pub fn power_on(&mut self, now: SimTime, ctx: &mut Ctx<'_>) {
        if self.state != State::Off {
            return;
        }
        self.stats.boots += 1;
        // Skip the rest of the block reserved before the reboot, reserve the next one.
        self.seq = self.flash.seq_reserved;
        self.reserve_seq(ctx.cfg);
        self.desired_version = 0;
        self.next_sample = if ctx.cfg.periodic {
            let interval = self.interval(ctx.cfg);
            now + SimDuration::from_nanos(below(&mut self.rng, interval.as_nanos().max(1)))
        } else {
            NEVER
        };
        let phase = if self.flash.assigned_hub.is_some() {
            Phase::Connect
        } else {
            Phase::Provision
        };
        self.start(now, phase, ctx);
    }

    /// A crash or brown-out: RAM is lost, flash survives. The device stays off until
    /// [`Device::power_on`].
    pub fn crash(&mut self, _now: SimTime, ctx: &mut Ctx<'_>) {
        if let Some(peer) = self.state.peer() {
            ctx.out.push(DeviceOutput::Close { peer });
        }
        for s in self.buffer.drain(..) {
            ctx.out.push(DeviceOutput::Record(Record::Dropped {
                seq: s.values.seq,
                reason: DropReason::Reboot,
            }));
        }
        self.state = State::Off;
        self.wake = NEVER;
        self.next_sample = NEVER;
        self.renew_at = NEVER;
        self.inflight = 0;
        self.op = None;
        self.twin_get_rid = 0;
        self.attempt = 0;
        self.auth_failures = 0;
    }

    fn reserve_seq(&mut self, cfg: &FirmwareConfig) {
        if self.seq >= self.flash.seq_reserved {
            self.flash.seq_reserved = self.seq.saturating_add(cfg.seq_block);
            self.flash.writes += 1;
        }
    }

    // ---- connection management ----

    fn send(&mut self, now: SimTime, ctx: &mut Ctx<'_>, to: Peer, msg: Msg) {
        self.last_tx = now;
        ctx.out.push(DeviceOutput::Send { to, msg });
    }

    fn next_rid(&mut self) -> u32 {
        self.rid = self.rid.wrapping_add(1).max(1);
        self.rid
    }

    /// Packet ids run 1 to 0x7FFF: the upper half is left to an IoT Edge gateway's edgeHub,
    /// which sends its children's messages on the gateway's own connection.
    fn next_pkid(&mut self) -> u16 {
        self.pkid = if self.pkid >= 0x7FFF {
            1
        } else {
            self.pkid + 1
        };
        self.pkid
    }

    fn unix_s(cfg: &FirmwareConfig, t: SimTime) -> u64 {
        (cfg.epoch.unix_secs() + t.as_secs() as i64).max(0) as u64
    }

    fn start(&mut self, now: SimTime, phase: Phase, ctx: &mut Ctx<'_>) {
        let cfg = ctx.cfg;
        let expiry = Self::unix_s(cfg, now + cfg.token_ttl);
        match (phase, &self.flash.assigned_hub, &self.flash.device_id) {
            (Phase::Connect, Some(host), Some(device_id)) => {
                let (host, device_id) = (host.clone(), device_id.clone());
                let token = SasToken::sign(
                    &device_resource_uri(&host, &device_id),
                    &self.key,
                    expiry,
                    None,
                );
                self.state = State::HubConnecting;
                self.conn = self.conn.wrapping_add(1);
                self.renew_at = now + cfg.token_ttl - cfg.token_renew_before;
                self.wake = now + cfg.request_timeout;
                self.stats.hub_connects += 1;
                let msg = Msg::Connect {
                    client_id: device_id.clone(),
                    username: hub_username_with_model(&host, &device_id, cfg.model_id.as_deref())
                        .into(),
                    password: token.into(),
                    keep_alive_s: cfg.keep_alive_s,
                };
                self.send(now, ctx, Peer::Hub, msg);
            }
            _ => {
                let reg = self.registration_id.clone();
                let token = SasToken::sign(
                    &dps_resource_uri(&cfg.id_scope, &reg),
                    &self.key,
                    expiry,
                    Some("registration"),
                );
                self.state = State::DpsConnecting;
                self.wake = now + cfg.request_timeout;
                self.stats.provisionings += 1;
                let msg = Msg::Connect {
                    client_id: reg.clone(),
                    username: dps_username(&cfg.id_scope, &reg).into(),
                    password: token.into(),
                    keep_alive_s: cfg.keep_alive_s,
                };
                self.send(now, ctx, Peer::Dps, msg);
            }
        }
    }

    /// Leaves the current connection and retries after exponential backoff with full jitter,
    /// waiting at least `at_least`.
    fn backoff(&mut self, now: SimTime, ctx: &mut Ctx<'_>, close: bool, at_least: SimDuration) {
        if close {
            if let Some(peer) = self.state.peer() {
                ctx.out.push(DeviceOutput::Close { peer });
            }
        }
        let phase = match self.state.peer() {
            Some(Peer::Dps) => Phase::Provision,
            _ if self.flash.assigned_hub.is_some() => Phase::Connect,
            _ => Phase::Provision,
        };
        self.unsend_all();
        let delay = self.jittered_delay(ctx.cfg, self.attempt).max(at_least);
        self.attempt = self.attempt.saturating_add(1);
        self.stats.backoffs += 1;
        self.state = State::Backoff(phase);
        self.wake = now + delay;
        self.renew_at = NEVER;
        self.twin_get_rid = 0;
    }

    /// Exponential backoff with full jitter: uniform below `backoff_base × 2^attempt`,
    /// capped at `backoff_max`.
    fn jittered_delay(&mut self, cfg: &FirmwareConfig, attempt: u8) -> SimDuration {
        let cap = cfg
            .backoff_base
            .saturating_mul(1u64 << attempt.min(30))
            .min(cfg.backoff_max);
        SimDuration::from_nanos(below(&mut self.rng, cap.as_nanos().max(1)))
    }

    /// Every buffered message goes back to "not sent on this connection".
    fn unsend_all(&mut self) {
        for s in &mut self.buffer {
            s.pkid = 0;
        }
        self.inflight = 0;
    }

    /// The transport to the current peer closed.
    pub fn handle_disconnected(
        &mut self,
        now: SimTime,
        reason: DisconnectReason,
        ctx: &mut Ctx<'_>,
    ) {
        if self.state.peer().is_none() {
            return;
        }
        self.stats.disconnects += 1;
        match reason {
            DisconnectReason::Server(429_001) => self.stats.throttled += 1,
            DisconnectReason::Server(403_002) => self.stats.quota_exceeded += 1,
            _ => {}
        }
        self.backoff(now, ctx, false, SimDuration::ZERO);
    }

    // ---- timers ----

    pub fn handle_timeout(&mut self, now: SimTime, ctx: &mut Ctx<'_>) {
        if self.state == State::Off {
            return;
        }
        while self.next_sample <= now {
            self.sample(now, ctx);
        }
        if self.wake <= now {
            self.wake = NEVER;
            match self.state {
                State::Backoff(phase) => self.start(now, phase, ctx),
                State::DpsWaitPoll => {
                    let rid = self.next_rid();
                    match self.op.clone() {
                        Some(operation_id) => {
                            self.state = State::DpsPolling;
                            self.wake = now + ctx.cfg.request_timeout;
                            self.send(now, ctx, Peer::Dps, Msg::DpsPoll { rid, operation_id });
                        }
                        None => self.backoff(now, ctx, true, SimDuration::ZERO),
                    }
                }
                // The retry of a throttled twin read.
                State::Running => {
                    self.twin_get_rid = self.next_rid();
                    let rid = self.twin_get_rid;
                    self.send(now, ctx, Peer::Hub, Msg::TwinGet { rid });
                }
                // A request went unanswered.
                _ => self.backoff(now, ctx, true, SimDuration::ZERO),
            }
        }
        if self.state == State::Running {
            let cfg = ctx.cfg;
            if self
                .buffer
                .iter()
                .any(|s| s.pkid != 0 && s.sent_at.saturating_add(cfg.ack_timeout) <= now)
            {
                return self.backoff(now, ctx, true, SimDuration::ZERO);
            }
            if self.renew_at <= now {
                // Renew the token: close and reconnect at once with a fresh one.
                self.stats.token_renewals += 1;
                self.send(now, ctx, Peer::Hub, Msg::Disconnect);
                ctx.out.push(DeviceOutput::Close { peer: Peer::Hub });
                self.unsend_all();
                return self.start(now, Phase::Connect, ctx);
            }
            let ka = SimDuration::from_secs(u64::from(cfg.keep_alive_s.max(1)));
            if self.last_tx.saturating_add(ka) <= now {
                self.send(now, ctx, Peer::Hub, Msg::PingReq);
            }
        }
    }

    fn sample(&mut self, now: SimTime, ctx: &mut Ctx<'_>) {
        let mut v = [0.0; FIELDS_MAX];
        let n = ctx.logic.sample(self.index, now, &mut v).min(FIELDS_MAX);
        self.take_reading(ctx.cfg.schema, &v[..n], ctx);
        let cfg = ctx.cfg;
        let jitter = if cfg.telemetry_jitter.is_zero() {
            SimDuration::ZERO
        } else {
            SimDuration::from_nanos(below(&mut self.rng, cfg.telemetry_jitter.as_nanos()))
        };
        self.next_sample = self.next_sample + self.interval(cfg) + jitter;
        if self.next_sample <= now {
            self.next_sample = now + self.interval(cfg);
        }
        self.pump(now, ctx);
    }

    /// Gives a reading the next sequence number, records it as sampled and buffers it under
    /// the overflow policy. Returns `false` if the policy discarded this very reading.
    fn take_reading(&mut self, schema: SchemaId, values: &[f64], ctx: &mut Ctx<'_>) -> bool {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        self.reserve_seq(ctx.cfg);
        ctx.out.push(DeviceOutput::Record(Record::Sampled { seq }));
        let slot = Slot {
            values: Values::new(seq, values),
            pkid: 0,
            schema,
            sent_at: SimTime::ZERO,
        };
        if self.buffer.len() >= ctx.cfg.buffer_capacity as usize {
            let dropped = match ctx.cfg.overflow {
                OverflowPolicy::DropNewest => seq,
                OverflowPolicy::DropOldest => {
                    let old = self.buffer.pop_front().expect("full buffer is not empty");
                    if old.pkid != 0 {
                        self.inflight -= 1;
                    }
                    self.buffer.push_back(slot);
                    old.values.seq
                }
            };
            ctx.out.push(DeviceOutput::Record(Record::Dropped {
                seq: dropped,
                reason: DropReason::Overflow,
            }));
            dropped != seq
        } else {
            if self.buffer.capacity() == 0 {
                // Usually one reading waits at a time: room for one, not VecDeque's first
                // four (a million devices: 200 MB). A backlog grows it as usual.
                self.buffer.reserve_exact(1);
            }
            self.buffer.push_back(slot);
            true
        }
    }

    /// Sends buffered telemetry up to the in-flight window.
    fn pump(&mut self, now: SimTime, ctx: &mut Ctx<'_>) {
        if self.state != State::Running {
            return;
        }
        let Some(device) = self.flash.device_id.clone() else {
            return;
        };
        let mut i = 0;
        while self.inflight < ctx.cfg.inflight_max && i < self.buffer.len() {
            if self.buffer[i].pkid == 0 {
                let pkid = self.next_pkid();
                let Slot { values, schema, .. } = self.buffer[i];
                self.buffer[i].pkid = pkid;
                self.buffer[i].sent_at = now;
                self.inflight += 1;
                match Msg::telemetry(&ctx.cfg.schemas, pkid, device.clone(), schema, values) {
                    Ok(msg) => self.send(now, ctx, Peer::Hub, msg),
                    Err(_) => unreachable!(
                        "the schema was checked against the config when the reading was taken"
                    ),
                }
            }
            i += 1;
        }
    }

    // ---- the scenario's own actions ----
    //
    // Called by the world on behalf of its `DeviceLogic` (between the device's other verbs,
    // never from inside a `DeviceLogic` callback, which holds the device borrowed). Like every
    // verb they may send, so the world reads `poll_timeout` again afterwards.

    /// An event-driven reading, taken by the device's own logic outside the periodic cycle
    /// (a door opens, a tank alarm), in `schema`, any schema of `cfg.schemas` (an alarm
    /// schema beside the periodic one).
    ///
    /// It is accounted exactly as a periodic sample: the next sequence number, a
    /// [`Record::Sampled`], the same bounded buffer and overflow policy, QoS 1 with the same
    /// in-flight window, PUBACK and ack timeout, and later [`Record::Acked`] or
    /// [`Record::Dropped`]. It is sent at once when the device is running and the window has
    /// room; otherwise it waits in the buffer (store-and-forward) and goes out, in sequence
    /// order with the rest of the backlog, after the next connection. It draws no randomness
    /// and does not move the periodic schedule.
    ///
    /// Returns `true` if the reading was taken into the buffer (sent or waiting). Returns
    /// `false`, recording nothing, while the device is off (no firmware runs to take it), if
    /// `schema` is not in `cfg.schemas`, or if `values` does not have one value per field of
    /// the schema (use `NaN` for a missing value; it is sent as `null`). Also `false` when
    /// the buffer is full under [`OverflowPolicy::DropNewest`]: the reading is then recorded
    /// as sampled and dropped with [`DropReason::Overflow`], as a periodic sample would be.
    pub fn publish(
        &mut self,
        now: SimTime,
        schema: SchemaId,
        values: &[f64],
        ctx: &mut Ctx<'_>,
    ) -> bool {
        if self.state == State::Off {
            return false;
        }
        match ctx.cfg.schemas.get(schema) {
            Some(s) if s.fields.len() == values.len() => {}
            _ => return false,
        }
        let kept = self.take_reading(schema, values, ctx);
        self.pump(now, ctx);
        kept
    }

    /// Answers a direct method that [`DeviceLogic::on_method`] deferred with
    /// [`MethodReply::Later`]: sends `$iothub/methods/res/{status}/?$rid={rid}` with `body`
    /// (reference §1.6) and returns `true`, if the device is still connected to the hub
    /// (subscribed: asking for its twin or running) on the connection the request came on.
    ///
    /// Otherwise it sends nothing and returns `false`: a request does not survive its
    /// connection. The service side of a call to a device that went away is a 504101 at the
    /// call's response timeout (§1.7); that the device SDKs drop a pending request when their
    /// connection drops, rather than answering on the next one, is an **\[assumption\]** (the
    /// reference is silent; the `hub` model would still accept such a late answer within the
    /// deadline, so the firmware is the one that drops it). The device keeps no table of open
    /// calls: it does not know the response timeout, nor whether `rid` was already answered,
    /// so a reply on the same connection after the timeout is sent and the hub ignores it.
    pub fn reply_method(
        &mut self,
        now: SimTime,
        rid: MethodRid,
        status: i32,
        body: &[u8],
        ctx: &mut Ctx<'_>,
    ) -> bool {
        if !self.hub_session() || rid.conn != self.conn {
            return false;
        }
        self.send(
            now,
            ctx,
            Peer::Hub,
            Msg::MethodRes {
                status,
                rid: rid.rid,
                body: body.into(),
            },
        );
        true
    }

    /// Sends a reported-properties patch (`$iothub/twin/PATCH/properties/reported/`,
    /// reference §1.6, §1.9: keys merge, `null` deletes) and returns `true` if the device is
    /// connected to the hub (asking for its twin or running).
    ///
    /// Otherwise it sends nothing and returns `false`; the firmware does not queue patches.
    /// The caller retries after the device is running again, or lets the twin converge
    /// through [`DeviceLogic::reported_on_connect`], which runs after every connection. As
    /// with every reported patch the firmware sends, the hub's 204 (or 429) response is not
    /// tracked **\[simplification\]**.
    pub fn report(&mut self, now: SimTime, patch: &Value, ctx: &mut Ctx<'_>) -> bool {
        if !self.hub_session() {
            return false;
        }
        self.send_reported(now, patch, ctx);
        true
    }

    /// Connected to the hub and subscribed: a request came, or a reply can go, on this
    /// connection.
    fn hub_session(&self) -> bool {
        matches!(self.state, State::Running | State::TwinGetting)
    }

    // ---- packets ----

    /// A packet from `from`.
    pub fn handle_msg(&mut self, now: SimTime, from: Peer, msg: &Msg, ctx: &mut Ctx<'_>) {
        if self.state.peer() != Some(from) {
            return;
        }
        match (self.state, msg) {
            (State::DpsConnecting, Msg::ConnAck { code }) => {
                if *code == ConnectCode::Accepted {
                    self.state = State::DpsSubscribing;
                    self.wake = now + ctx.cfg.request_timeout;
                    let pkid = self.next_pkid();
                    let device = self.registration_id.clone();
                    self.send(
                        now,
                        ctx,
                        Peer::Dps,
                        Msg::Subscribe {
                            pkid,
                            device,
                            filters: SubFilters::DPS_RES,
                        },
                    );
                } else {
                    self.stats.refused_connects += 1;
                    self.backoff(now, ctx, true, SimDuration::ZERO);
                }
            }
            (State::DpsSubscribing, Msg::SubAck { refused_mask, .. }) => {
                if *refused_mask != 0 {
                    return self.backoff(now, ctx, true, SimDuration::ZERO);
                }
                self.state = State::DpsRegistering;
                self.wake = now + ctx.cfg.request_timeout;
                let rid = self.next_rid();
                let registration_id = self.registration_id.clone();
                self.send(
                    now,
                    ctx,
                    Peer::Dps,
                    Msg::DpsRegister {
                        rid,
                        registration_id,
                    },
                );
            }
            (
                State::DpsRegistering | State::DpsPolling,
                Msg::DpsRes {
                    status,
                    retry_after_s,
                    reply,
                    rid,
                },
            ) => {
                if *rid != self.rid {
                    return;
                }
                self.dps_response(now, *status, *retry_after_s, reply, ctx)
            }
            (State::HubConnecting, Msg::ConnAck { code }) => {
                if *code == ConnectCode::Accepted {
                    self.auth_failures = 0;
                    self.state = State::HubSubscribing;
                    self.wake = now + ctx.cfg.request_timeout;
                    let pkid = self.next_pkid();
                    let device = self
                        .flash
                        .device_id
                        .clone()
                        .unwrap_or_else(|| self.registration_id.clone());
                    let filters = ctx.cfg.subscriptions;
                    self.send(
                        now,
                        ctx,
                        Peer::Hub,
                        Msg::Subscribe {
                            pkid,
                            device,
                            filters,
                        },
                    );
                } else {
                    self.stats.refused_connects += 1;
                    if *code != ConnectCode::ServerUnavailable {
                        self.auth_failures += 1;
                    }
                    if self.auth_failures >= 3 {
                        // The hub no longer knows this device: provision again.
                        self.flash.assigned_hub = None;
                        self.flash.device_id = None;
                        self.flash.writes += 1;
                        self.auth_failures = 0;
                    }
                    self.backoff(now, ctx, true, SimDuration::ZERO);
                }
            }
            (State::HubSubscribing, Msg::SubAck { .. }) => {
                if ctx.cfg.subscriptions.contains(SubFilters::TWIN_RES) {
                    self.state = State::TwinGetting;
                    self.wake = now + ctx.cfg.request_timeout;
                    self.twin_get_rid = self.next_rid();
                    let rid = self.twin_get_rid;
                    self.send(now, ctx, Peer::Hub, Msg::TwinGet { rid });
                } else {
                    self.enter_running(now, ctx);
                }
            }
            (
                State::TwinGetting | State::Running,
                Msg::TwinRes {
                    status, rid, body, ..
                },
            ) if *rid == self.twin_get_rid => {
                self.twin_get_rid = 0;
                if *status == 429 || *status >= 500 {
                    // Throttled (twin reads are limited per unit, reference §1.2) or a
                    // transient error: stay connected, send telemetry, and ask again after
                    // a jittered, growing delay, as the device SDKs' retry policies do.
                    // Dropping the connection instead turns a throttle into a reconnect storm.
                    if self.state == State::TwinGetting {
                        self.enter_running(now, ctx);
                    }
                    self.wake = now + self.jittered_delay(ctx.cfg, self.twin_attempt);
                    self.twin_attempt = self.twin_attempt.saturating_add(1);
                    return;
                }
                if *status != 200 {
                    return self.backoff(now, ctx, true, SimDuration::ZERO);
                }
                self.twin_attempt = 0;
                let doc: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                let desired = doc.get("desired").cloned().unwrap_or(Value::Null);
                let version = desired.get("$version").and_then(Value::as_u64).unwrap_or(0);
                if version > self.desired_version {
                    self.apply_desired(now, version, &desired, ctx);
                }
                if self.state == State::TwinGetting {
                    self.enter_running(now, ctx);
                }
            }
            (State::TwinGetting | State::Running, Msg::TwinDesired { version, body }) => {
                if *version <= self.desired_version {
                    self.stats.stale_desired_ignored += 1;
                    return;
                }
                if self.desired_version != 0
                    && *version > self.desired_version + 1
                    && self.twin_get_rid == 0
                {
                    // A notification was missed: fetch the whole twin instead.
                    self.twin_get_rid = self.next_rid();
                    let rid = self.twin_get_rid;
                    return self.send(now, ctx, Peer::Hub, Msg::TwinGet { rid });
                }
                let patch: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                self.apply_desired(now, *version, &patch, ctx);
            }
            (State::Running, Msg::PubAck { pkid }) => {
                if let Some(i) = self
                    .buffer
                    .iter()
                    .position(|s| s.pkid == *pkid && s.pkid != 0)
                {
                    let s = self.buffer.remove(i).expect("index from position");
                    self.inflight -= 1;
                    ctx.out
                        .push(DeviceOutput::Record(Record::Acked { seq: s.values.seq }));
                    self.pump(now, ctx);
                }
            }
            (
                State::Running | State::TwinGetting,
                Msg::C2d {
                    pkid, bag, body, ..
                },
            ) => {
                ctx.logic.on_c2d(self.index, now, bag, body);
                self.send(now, ctx, Peer::Hub, Msg::PubAck { pkid: *pkid });
            }
            (State::Running | State::TwinGetting, Msg::MethodPost { name, rid, body }) => {
                let call = MethodCall {
                    rid: MethodRid {
                        rid: *rid,
                        conn: self.conn,
                    },
                    name,
                    payload: body,
                };
                match ctx.logic.on_method(self.index, now, call) {
                    MethodReply::Now { status, body } => self.send(
                        now,
                        ctx,
                        Peer::Hub,
                        Msg::MethodRes {
                            status,
                            rid: *rid,
                            body: body.into(),
                        },
                    ),
                    MethodReply::Later => {}
                }
            }
            _ => {}
        }
    }

    fn dps_response(
        &mut self,
        now: SimTime,
        status: u16,
        retry: Option<u32>,
        reply: &DpsReply,
        ctx: &mut Ctx<'_>,
    ) {
        let retry = SimDuration::from_secs(u64::from(retry.unwrap_or(3)));
        match (status, reply) {
            (202, DpsReply::Assigning { operation_id }) => {
                self.op = Some(operation_id.clone());
                self.state = State::DpsWaitPoll;
                self.wake = now + retry;
            }
            (
                200,
                DpsReply::Done {
                    status: RegStatus::Assigned,
                    assignment: Some(a),
                    ..
                },
            ) => {
                self.flash.assigned_hub = Some(a.assigned_hub.clone());
                self.flash.device_id = Some(a.device_id.clone());
                self.flash.writes += 1;
                self.op = None;
                ctx.out.push(DeviceOutput::Close { peer: Peer::Dps });
                self.attempt = 0;
                self.start(now, Phase::Connect, ctx);
            }
            (429, _) => self.backoff(now, ctx, true, retry),
            _ => {
                // Failed, disabled or refused: try again much later.
                let max = ctx.cfg.backoff_max;
                self.backoff(now, ctx, true, max);
            }
        }
    }

    fn enter_running(&mut self, now: SimTime, ctx: &mut Ctx<'_>) {
        self.state = State::Running;
        self.wake = NEVER;
        self.attempt = 0;
        if let Some(patch) = ctx.logic.reported_on_connect(self.index, now) {
            self.send_reported(now, &patch, ctx);
        }
        self.pump(now, ctx);
    }

    fn send_reported(&mut self, now: SimTime, patch: &Value, ctx: &mut Ctx<'_>) {
        let rid = self.next_rid();
        let body = serde_json::to_vec(patch).expect("JSON values serialize");
        self.send(
            now,
            ctx,
            Peer::Hub,
            Msg::TwinPatchReported {
                rid,
                body: body.into(),
            },
        );
    }

    /// Applies a desired document or patch of `version`.
    fn apply_desired(&mut self, now: SimTime, version: u64, desired: &Value, ctx: &mut Ctx<'_>) {
        let mut d = desired.clone();
        if let Value::Object(m) = &mut d {
            m.remove("$version");
        }
        if let Some(s) = d.get("telemetry_interval_s").and_then(Value::as_u64) {
            if s > 0 && s <= u64::from(u32::MAX) && s as u32 != self.flash.interval_s {
                self.flash.interval_s = s as u32;
                self.flash.writes += 1;
            }
        }
        self.desired_version = version;
        if self.flash.desired_version != version {
            self.flash.desired_version = version;
            self.flash.writes += 1;
        }
        if let Some(reported) = ctx.logic.on_desired(self.index, now, &d) {
            self.send_reported(now, &reported, ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_device_state_is_compact() {
        let size = std::mem::size_of::<Device>();
        assert!(size <= 256, "Device is {size} bytes");
        // A buffered reading remembers its schema in what was padding.
        let slot = std::mem::size_of::<Slot>();
        assert!(slot <= 72, "Slot is {slot} bytes");
    }

    #[test]
    fn a_method_rid_round_trips_through_its_bits() {
        let rid = MethodRid {
            rid: 0xdead_beef,
            conn: 0xfffe,
        };
        assert_eq!(rid.to_bits(), 0xfffe_dead_beef);
        assert_eq!(MethodRid::from_bits(rid.to_bits()), rid);
        assert_eq!(rid.rid(), 0xdead_beef);
    }
}
