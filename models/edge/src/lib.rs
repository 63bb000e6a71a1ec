//! # edge: the simulated Azure IoT Edge runtime's `$edgeHub`
//!
//! A sans-IO model of the local broker an IoT Edge gateway runs for its child devices
//! (reference §3 of `shared/reference/azure-iot-facts.md`), one object for every gateway of
//! a kind, with each gateway's state in a vector:
//!
//! - **Child sessions.** A child device speaks MQTT to its parent's edgeHub as it would to
//!   IoT Hub: CONNECT (authenticated locally after the gateway's initial sync, so it works
//!   offline), SUBSCRIBE, twin GET (answered from the gateway's local copy: an empty twin, as
//!   the children modelled here have no desired properties **[simplification]**), reported
//!   patches (acknowledged locally, not forwarded **[simplification]**), PINGREQ, telemetry.
//!   At most `max_clients` children are connected at once (`MaxConnectedClients`, default
//!   100); a further CONNECT is refused with "server unavailable".
//! - **Routes** ([`route`]): each message is matched against every route; a `$upstream`
//!   route stores it for IoT Hub with the route's priority and time-to-live (several: once,
//!   with the highest priority and the longest life **[assumption]**), a module route hands it
//!   to a local module once ([`EdgeOutput::ToModule`]), and a message no `$upstream` route
//!   takes is acknowledged and dropped ([`LossReason::Unrouted`]).
//! - **Store and forward.** edgeHub acknowledges the child once it has the message
//!   (at-least-once), keeps it until IoT Hub acknowledges it upstream or its time-to-live
//!   (`storeAndForwardConfiguration.timeToLiveSecs`, default 7,200 s) passes, and forwards
//!   the highest priority first (0 is highest), in original order within a priority. The store
//!   is bounded by `capacity` messages per gateway (the reference bounds it by disk); when it is
//!   full the oldest message of the lowest priority is dropped **[assumption]**. Every message
//!   dropped is an [`EdgeOutput::Lost`] with its reason ([`LossReason::Ttl`],
//!   [`LossReason::Overflow`]).
//! - **Upstream.** The gateway's own connection to IoT Hub carries its children's messages
//!   ("the hub accepts a child's messages on its parent's connection"): the world tells the
//!   model when that connection is up ([`EdgeHubs::set_online`]), takes the next message to
//!   send ([`EdgeHubs::poll_upstream`], at most `window` unacknowledged, with packet ids in
//!   `0x8000..=0xFFFF` so they never meet the gateway firmware's own) and returns IoT Hub's
//!   PUBACK ([`EdgeHubs::handle_upstream_ack`]). A connection lost with messages in flight puts
//!   them back at the head of their queues.
//!
//! Time-to-live is checked at the head of each queue when a timer is due and before each
//! message is sent, so a message behind an unexpired one of a longer-lived route expires
//! when it reaches the head **[simplification]**.

pub mod route;

use iot_messages::telemetry::{SchemaId, SchemaSet, Values};
use iot_messages::{ConnectCode, Msg};
use route::{Route, RouteError, Sink};
use sim::{SimDuration, SimTime};
use std::collections::VecDeque;
use std::sync::Arc;

/// Priorities 0 (highest) to 9 (reference §3, schema 1.1).
pub const PRIORITIES: usize = 10;
/// The default store-and-forward time-to-live (reference §3).
pub const DEFAULT_TTL: SimDuration = SimDuration::from_secs(7_200);
/// The default most children connected at once (`MaxConnectedClients`, reference §3).
pub const DEFAULT_MAX_CLIENTS: u32 = 100;
/// Upstream packet ids carry this bit; a device firmware's own stay below it.
pub const UPSTREAM_PKID_BIT: u16 = 0x8000;

/// One route of the deployment manifest's `$edgeHub` desired properties.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteSpec {
    pub route: String,
    /// 0 (highest) to 9.
    pub priority: u8,
    /// The route's `timeToLiveSecs`; `None` takes the store's.
    pub ttl: Option<SimDuration>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EdgeConfig {
    pub routes: Vec<RouteSpec>,
    pub ttl: SimDuration,
    /// Messages each gateway's store holds at most.
    pub capacity: u32,
    pub max_clients: u32,
    /// Messages in flight upstream, unacknowledged, at most.
    pub window: u16,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        EdgeConfig {
            routes: vec![RouteSpec {
                route: "FROM /messages/* INTO $upstream".into(),
                priority: 0,
                ttl: None,
            }],
            ttl: DEFAULT_TTL,
            capacity: 100_000,
            max_clients: DEFAULT_MAX_CLIENTS,
            window: 16,
        }
    }
}

/// A configuration edgeHub refuses.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EdgeConfigError {
    #[error("routes[{index}]: {error}")]
    Route { index: usize, error: RouteError },
    #[error("routes[{index}].priority: {priority} is not 0 (highest) to 9")]
    Priority { index: usize, priority: u8 },
    #[error("{field}: must be at least 1")]
    Zero { field: &'static str },
    #[error("routes: {0} local modules; at most 64")]
    Modules(usize),
    #[error("window: {0} is more than the 32,768 upstream packet ids edgeHub has")]
    Window(u16),
}

/// Why edgeHub gave a message up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossReason {
    /// Its time-to-live passed before IoT Hub acknowledged it (`gateway_ttl`).
    Ttl,
    /// The store was full (`gateway_overflow`).
    Overflow,
    /// No `$upstream` route took it (`gateway_unrouted`): edgeHub acknowledges a message no
    /// route matches and drops it; one only a local module takes stays on site.
    Unrouted,
}

impl LossReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LossReason::Ttl => "gateway_ttl",
            LossReason::Overflow => "gateway_overflow",
            LossReason::Unrouted => "gateway_unrouted",
        }
    }
}

/// What edgeHub does.
#[derive(Clone, Debug, PartialEq)]
pub enum EdgeOutput {
    /// A packet to child `child` of gateway `gw`.
    ToChild { gw: u32, child: u32, msg: Msg },
    /// A child's telemetry for local module `module` (an index into
    /// [`EdgeHubs::modules`]), once however many of its routes take it.
    ToModule {
        gw: u32,
        module: u16,
        child: u32,
        schema: SchemaId,
        values: Values,
    },
    /// A child's message edgeHub gave up.
    Lost {
        gw: u32,
        child: u32,
        seq: u32,
        reason: LossReason,
    },
}

/// A message held for IoT Hub.
#[derive(Clone, Debug, PartialEq)]
struct Held {
    child: u32,
    expires: SimTime,
    priority: u8,
    msg: Msg,
}

fn seq_of(msg: &Msg) -> u32 {
    match msg {
        Msg::Telemetry { values, .. } => values.seq,
        _ => 0,
    }
}

/// Counters of one gateway (or, summed, of all).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EdgeCounters {
    pub received: u64,
    pub forwarded: u64,
    pub expired: u64,
    pub overflowed: u64,
    pub to_modules: u64,
    pub unrouted: u64,
    pub refused_clients: u64,
    /// The most messages the store held at once.
    pub peak_depth: u64,
}

impl EdgeCounters {
    fn add(&mut self, o: &EdgeCounters) {
        self.received += o.received;
        self.forwarded += o.forwarded;
        self.expired += o.expired;
        self.overflowed += o.overflowed;
        self.to_modules += o.to_modules;
        self.unrouted += o.unrouted;
        self.refused_clients += o.refused_clients;
        self.peak_depth = self.peak_depth.max(o.peak_depth);
    }
}

#[derive(Clone, Debug, Default)]
struct Gateway {
    online: bool,
    /// Whether the gateway has reached IoT Hub once (its initial sync): only then does it
    /// authenticate children locally.
    synced: bool,
    /// The children connected, ascending.
    sessions: Vec<u32>,
    queues: [VecDeque<Held>; PRIORITIES],
    depth: u32,
    inflight: Vec<(u16, Held)>,
    next_pkid: u16,
    counters: EdgeCounters,
}

struct Compiled {
    /// Per schema, the route's condition specialised (`None`: no WHERE).
    conditions: Vec<Option<hub::route::SchemaCondition>>,
    leaf: bool,
    sink: Option<u16>,
    priority: u8,
    ttl: SimDuration,
}

/// Every gateway of one kind. See the crate documentation.
pub struct EdgeHubs {
    cfg: EdgeConfig,
    routes: Vec<Compiled>,
    modules: Vec<String>,
    gws: Vec<Gateway>,
    out: VecDeque<EdgeOutput>,
    schemas: SchemaSet,
}

impl EdgeHubs {
    /// `gateways` gateways with the same deployment; `schemas` are the children's.
    pub fn new(
        cfg: EdgeConfig,
        gateways: u32,
        schemas: SchemaSet,
    ) -> Result<EdgeHubs, EdgeConfigError> {
        for (field, v) in [
            ("capacity", cfg.capacity),
            ("max_clients", cfg.max_clients),
            ("window", u32::from(cfg.window)),
        ] {
            if v == 0 {
                return Err(EdgeConfigError::Zero { field });
            }
        }
        if u32::from(cfg.window) > u32::from(UPSTREAM_PKID_BIT) {
            return Err(EdgeConfigError::Window(cfg.window));
        }
        let mut modules: Vec<String> = Vec::new();
        let mut routes = Vec::with_capacity(cfg.routes.len());
        for (index, spec) in cfg.routes.iter().enumerate() {
            let r = Route::parse(&spec.route)
                .map_err(|error| EdgeConfigError::Route { index, error })?;
            if usize::from(spec.priority) >= PRIORITIES {
                return Err(EdgeConfigError::Priority {
                    index,
                    priority: spec.priority,
                });
            }
            let sink = match &r.sink {
                Sink::Upstream => None,
                // A module is one, whatever input a route feeds.
                Sink::Module { module, .. } => {
                    Some(match modules.iter().position(|m| m == module) {
                        Some(i) => i as u16,
                        None => {
                            modules.push(module.clone());
                            (modules.len() - 1) as u16
                        }
                    })
                }
            };
            let conditions = (0..schemas.len())
                .map(|s| {
                    let schema = schemas.get(s as SchemaId).expect("in range");
                    r.condition.as_ref().map(|c| c.specialize(schema))
                })
                .collect();
            routes.push(Compiled {
                conditions,
                leaf: r.matches_leaf(),
                sink,
                priority: spec.priority,
                ttl: spec.ttl.unwrap_or(cfg.ttl),
            });
        }
        if modules.len() > 64 {
            return Err(EdgeConfigError::Modules(modules.len()));
        }
        Ok(EdgeHubs {
            gws: (0..gateways)
                .map(|_| Gateway {
                    next_pkid: UPSTREAM_PKID_BIT,
                    ..Gateway::default()
                })
                .collect(),
            cfg,
            routes,
            modules,
            out: VecDeque::new(),
            schemas,
        })
    }

    /// The local modules the routes feed, in the order [`EdgeOutput::ToModule`] numbers
    /// them.
    pub fn modules(&self) -> &[String] {
        &self.modules
    }

    pub fn len(&self) -> u32 {
        self.gws.len() as u32
    }

    pub fn is_empty(&self) -> bool {
        self.gws.is_empty()
    }

    /// Messages gateway `gw` holds for IoT Hub (stored and in flight).
    pub fn depth(&self, gw: u32) -> u32 {
        let g = &self.gws[gw as usize];
        g.depth + g.inflight.len() as u32
    }

    /// The children's sequence numbers gateway `gw` still holds, for end-of-run accounting.
    pub fn held(&self, gw: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        let g = &self.gws[gw as usize];
        g.queues
            .iter()
            .flatten()
            .chain(g.inflight.iter().map(|(_, h)| h))
            .map(|h| (h.child, seq_of(&h.msg)))
    }

    pub fn counters(&self, gw: u32) -> EdgeCounters {
        self.gws[gw as usize].counters
    }

    /// Every gateway's counters summed (the peak depth is the largest).
    pub fn totals(&self) -> EdgeCounters {
        let mut t = EdgeCounters::default();
        for g in &self.gws {
            t.add(&g.counters);
        }
        t
    }

    pub fn is_online(&self, gw: u32) -> bool {
        self.gws[gw as usize].online
    }

    pub fn poll_output(&mut self) -> Option<EdgeOutput> {
        self.out.pop_front()
    }

    fn reply(&mut self, gw: u32, child: u32, msg: Msg) {
        self.out.push_back(EdgeOutput::ToChild { gw, child, msg });
    }

    /// A packet from child `child` (the world's device number) of gateway `gw`.
    pub fn handle_child(&mut self, now: SimTime, gw: u32, child: u32, msg: &Msg) {
        match msg {
            Msg::Connect { .. } => {
                let g = &mut self.gws[gw as usize];
                let code = match g.sessions.binary_search(&child) {
                    // Before its first sync with IoT Hub a gateway knows no children.
                    _ if !g.synced => {
                        g.counters.refused_clients += 1;
                        ConnectCode::ServerUnavailable
                    }
                    // A child reconnecting replaces its own session.
                    Ok(_) => ConnectCode::Accepted,
                    Err(at) if (g.sessions.len() as u32) < self.cfg.max_clients => {
                        g.sessions.insert(at, child);
                        ConnectCode::Accepted
                    }
                    Err(_) => {
                        g.counters.refused_clients += 1;
                        ConnectCode::ServerUnavailable
                    }
                };
                self.reply(gw, child, Msg::ConnAck { code });
            }
            Msg::Subscribe { pkid, filters, .. } => {
                let count = filters.0.count_ones() as u8;
                self.reply(
                    gw,
                    child,
                    Msg::SubAck {
                        pkid: *pkid,
                        count,
                        refused_mask: 0,
                    },
                );
            }
            Msg::TwinGet { rid } => self.reply(
                gw,
                child,
                Msg::TwinRes {
                    status: 200,
                    rid: *rid,
                    version: None,
                    body: Arc::from(
                        &br#"{"desired":{"$version":1},"reported":{"$version":1}}"#[..],
                    ),
                },
            ),
            Msg::TwinPatchReported { rid, .. } => self.reply(
                gw,
                child,
                Msg::TwinRes {
                    status: 204,
                    rid: *rid,
                    version: Some(1),
                    body: Arc::from(&b""[..]),
                },
            ),
            Msg::PingReq => self.reply(gw, child, Msg::PingResp),
            Msg::Disconnect => self.handle_child_lost(gw, child),
            Msg::Telemetry {
                pkid,
                schema,
                values,
                ..
            } => {
                let (pkid, schema, values) = (*pkid, *schema, *values);
                self.route(now, gw, child, schema, values, msg);
                self.reply(gw, child, Msg::PubAck { pkid });
            }
            // Anything else a child sends is acknowledged if it needs it and not routed.
            Msg::D2c { pkid, .. } => self.reply(gw, child, Msg::PubAck { pkid: *pkid }),
            _ => {}
        }
    }

    /// Child `child`'s session with gateway `gw` is gone (closed or lost).
    pub fn handle_child_lost(&mut self, gw: u32, child: u32) {
        let g = &mut self.gws[gw as usize];
        if let Ok(i) = g.sessions.binary_search(&child) {
            g.sessions.remove(i);
        }
    }

    /// Children connected to gateway `gw`.
    pub fn sessions(&self, gw: u32) -> usize {
        self.gws[gw as usize].sessions.len()
    }

    /// Gateway `gw` crashed: its child sessions and its upstream connection are gone; its
    /// store, on disk, is kept **[assumption]**.
    pub fn handle_crash(&mut self, gw: u32) {
        self.gws[gw as usize].sessions.clear();
        self.set_online(gw, false);
    }

    fn route(
        &mut self,
        now: SimTime,
        gw: u32,
        child: u32,
        schema: SchemaId,
        values: Values,
        msg: &Msg,
    ) {
        self.gws[gw as usize].counters.received += 1;
        let device = match msg {
            Msg::Telemetry { device, .. } => device.clone(),
            _ => return,
        };
        // Each upstream message is stored once, at the highest priority (and longest life)
        // of the upstream routes that take it.
        let mut upstream: Option<(u8, SimDuration)> = None;
        let mut fed = 0u64;
        for i in 0..self.routes.len() {
            let r = &self.routes[i];
            if !r.leaf {
                continue;
            }
            let taken = match r.conditions.get(usize::from(schema)) {
                Some(Some(c)) => c.eval(&device, &values),
                Some(None) => true,
                None => false,
            };
            if !taken {
                continue;
            }
            match r.sink {
                None => {
                    upstream = Some(match upstream {
                        Some((p, t)) => (p.min(r.priority), t.max(r.ttl)),
                        None => (r.priority, r.ttl),
                    })
                }
                Some(module) if module < 64 && fed & (1 << module) == 0 => {
                    fed |= 1 << module;
                    self.gws[gw as usize].counters.to_modules += 1;
                    self.out.push_back(EdgeOutput::ToModule {
                        gw,
                        module,
                        child,
                        schema,
                        values,
                    });
                }
                Some(_) => {}
            }
        }
        match upstream {
            Some((priority, ttl)) => self.store(now, gw, child, priority, ttl, msg.clone()),
            None => {
                self.gws[gw as usize].counters.unrouted += 1;
                self.out.push_back(EdgeOutput::Lost {
                    gw,
                    child,
                    seq: values.seq,
                    reason: LossReason::Unrouted,
                });
            }
        }
    }

    fn store(
        &mut self,
        now: SimTime,
        gw: u32,
        child: u32,
        priority: u8,
        ttl: SimDuration,
        msg: Msg,
    ) {
        let capacity = self.cfg.capacity;
        let g = &mut self.gws[gw as usize];
        if g.depth + g.inflight.len() as u32 >= capacity {
            // Full: the oldest of the lowest priority goes (possibly this one's queue).
            let lowest = (0..PRIORITIES)
                .rev()
                .find(|&p| !g.queues[p].is_empty())
                .filter(|&p| p >= usize::from(priority));
            match lowest {
                Some(p) => {
                    let h = g.queues[p].pop_front().expect("not empty");
                    g.depth -= 1;
                    g.counters.overflowed += 1;
                    let seq = seq_of(&h.msg);
                    self.out.push_back(EdgeOutput::Lost {
                        gw,
                        child: h.child,
                        seq,
                        reason: LossReason::Overflow,
                    });
                }
                None => {
                    // Everything held outranks this message: it is the one dropped.
                    g.counters.overflowed += 1;
                    let seq = seq_of(&msg);
                    self.out.push_back(EdgeOutput::Lost {
                        gw,
                        child,
                        seq,
                        reason: LossReason::Overflow,
                    });
                    return;
                }
            }
        }
        let g = &mut self.gws[gw as usize];
        g.queues[usize::from(priority)].push_back(Held {
            child,
            expires: now + ttl,
            priority,
            msg,
        });
        g.depth += 1;
        let held = u64::from(g.depth) + g.inflight.len() as u64;
        g.counters.peak_depth = g.counters.peak_depth.max(held);
    }

    /// Gateway `gw`'s connection to IoT Hub came up or went down. Going down, the messages
    /// in flight go back to the head of their queues, in the order they were sent.
    pub fn set_online(&mut self, gw: u32, online: bool) {
        let g = &mut self.gws[gw as usize];
        g.online = online;
        g.synced |= online;
        if !online {
            for (_, h) in g.inflight.drain(..).rev() {
                g.queues[usize::from(h.priority)].push_front(h);
                g.depth += 1;
            }
        }
    }

    /// Drops expired messages at the head of gateway `gw`'s queues.
    fn expire(&mut self, now: SimTime, gw: u32) {
        let g = &mut self.gws[gw as usize];
        for q in &mut g.queues {
            while q.front().is_some_and(|h| h.expires <= now) {
                let h = q.pop_front().expect("checked");
                g.depth -= 1;
                g.counters.expired += 1;
                self.out.push_back(EdgeOutput::Lost {
                    gw,
                    child: h.child,
                    seq: seq_of(&h.msg),
                    reason: LossReason::Ttl,
                });
            }
        }
    }

    /// The next message gateway `gw` sends IoT Hub, if it is online, has one, and has room
    /// in its window. Its packet id has [`UPSTREAM_PKID_BIT`] set.
    pub fn poll_upstream(&mut self, now: SimTime, gw: u32) -> Option<Msg> {
        self.expire(now, gw);
        let window = usize::from(self.cfg.window);
        let g = &mut self.gws[gw as usize];
        if !g.online || g.inflight.len() >= window {
            return None;
        }
        let p = (0..PRIORITIES).find(|&p| !g.queues[p].is_empty())?;
        let h = g.queues[p].pop_front().expect("not empty");
        g.depth -= 1;
        let pkid = g.next_pkid;
        g.next_pkid = if g.next_pkid == u16::MAX {
            UPSTREAM_PKID_BIT
        } else {
            g.next_pkid + 1
        };
        let mut msg = h.msg.clone();
        if let Msg::Telemetry { pkid: p, .. } = &mut msg {
            *p = pkid;
        }
        g.inflight.push((pkid, h));
        Some(msg)
    }

    /// IoT Hub acknowledged upstream packet `pkid` of gateway `gw`: true if it was one of
    /// edgeHub's.
    pub fn handle_upstream_ack(&mut self, gw: u32, pkid: u16) -> bool {
        let g = &mut self.gws[gw as usize];
        match g.inflight.iter().position(|(p, _)| *p == pkid) {
            Some(i) => {
                g.inflight.remove(i);
                g.counters.forwarded += 1;
                true
            }
            None => false,
        }
    }

    /// When gateway `gw` next needs [`EdgeHubs::handle_timeout`]: its earliest expiry.
    pub fn poll_timeout(&self, gw: u32) -> Option<SimTime> {
        self.gws[gw as usize]
            .queues
            .iter()
            .filter_map(|q| q.front().map(|h| h.expires))
            .min()
    }

    pub fn handle_timeout(&mut self, now: SimTime, gw: u32) {
        self.expire(now, gw);
    }

    /// The children's telemetry schemas.
    pub fn schemas(&self) -> &SchemaSet {
        &self.schemas
    }
}

#[cfg(test)]
mod tests;
