//! IoT Edge gateways in the world (reference §3): a class with an `edge` table is a class of
//! gateways, each running the `models/edge` edgeHub for its children.
//!
//! - **Children.** A child's link (its radio) ends at its gateway's node, not at the cloud;
//!   its packets for "the hub" reach the gateway's edgeHub ([`GW_RX`] on the gateway's
//!   entity), which answers them over the same link. Its connection closing reaches edgeHub.
//! - **Upstream.** The gateway is a device of its own class, with firmware that provisions,
//!   connects and reconnects like any device. While that firmware is running on a hub
//!   connection, edgeHub sends its children's messages on it (packet ids with
//!   [`edge::UPSTREAM_PKID_BIT`]), and the hub's PUBACKs for them go back to edgeHub instead of
//!   the firmware. A new or lost connection puts the unacknowledged ones back in the store.
//! - **Local modules.** A route into `BrokeredEndpoint("/modules/<m>/inputs/<i>")` feeds
//!   module `m`: a rule engine running the named `[[analytics.rules]]` on the gateway, whose
//!   alerts are raised locally, uplink or not, and scored against the same ground truth as
//!   the back end's.
//! - **Accounting.** A reading edgeHub acknowledged and later gave up (`gateway_ttl`,
//!   `gateway_overflow`) is lost, with its reason, not missing: the end-of-run check that
//!   every acknowledged reading was stored forgives exactly those.
//! - **Crash.** A gateway that crashes loses its child sessions; its store is on disk and
//!   survives **[assumption]**.

use super::{SolutionWorld, WorldConfig, GW_RX, GW_WAKE};
use crate::file::edge::{parent_of, GatewaySpec};
use crate::world::transport::InFlight;
use analytics::RuleEngine;
use edge::{EdgeHubs, EdgeOutput, LossReason};
use firmware::Peer;
use iot_messages::telemetry::FIELDS_MAX;
use iot_messages::Msg;
use sim::{EntityId, Event, Kernel, SimTime};
use store::{DeviceIndex, IngestEvent};

/// No parent / not a gateway.
const NONE: u32 = u32::MAX;

/// A local rule module of one gateway class.
pub(crate) struct Module {
    pub(crate) name: String,
    pub(crate) engine: RuleEngine,
}

/// One class of gateways.
pub(crate) struct GatewayClass {
    pub(crate) class: usize,
    pub(crate) base: u32,
    pub(crate) hubs: EdgeHubs,
    /// Per gateway, the hub connection edgeHub is sending on (0: offline).
    online_conn: Vec<u32>,
    /// Per gateway, the expiry timer armed.
    wake: Vec<SimTime>,
    pub(crate) modules: Vec<Module>,
    /// Per module, whether the module runs the back end's rules class (else it ignores).
    rules_class: usize,

    /// Per metrics sample: (hours, held, forwarded, expired or dropped, online).
    series: Vec<(f64, f64, f64, f64, f64)>,
}

pub(crate) struct Gateways {
    pub(crate) classes: Vec<GatewayClass>,
    /// Per device: its gateway (a global device), or [`NONE`]; empty without gateways.
    parent: Vec<u32>,
    /// Per device: `class << 24 | local` of the gateway it is, or [`NONE`].
    gateway: Vec<u32>,
    /// Readings a gateway gave up, as (device, seq, reason): at the end, those the store
    /// does not hold are lost after acknowledgement.
    forgiven: Vec<(u32, u32, LossReason)>,
    /// At the end: readings acknowledged by a gateway and lost there, by reason (in
    /// [`LOSS_REASONS`] order), never stored.
    pub(crate) lost: [u64; 3],
    /// At the end: readings acknowledged by a gateway, held there and not stored.
    pub(crate) held_at_end: u64,
    /// Per device link, how many uplink faults cut it now (empty without uplink faults).
    cuts: Vec<u16>,
}

/// The reasons a gateway gives a reading up, in the summary's order.
pub(crate) const LOSS_REASONS: [LossReason; 3] =
    [LossReason::Ttl, LossReason::Overflow, LossReason::Unrouted];

impl Gateways {
    /// The gateway classes of `cfg`, whose classes start at `bases` in the fleet.
    pub(crate) fn new(cfg: &WorldConfig, bases: &[u32]) -> Result<Gateways, super::BuildError> {
        let specs: &[GatewaySpec] = &cfg.gateways;
        let counts: Vec<u32> = cfg.classes.iter().map(|c| c.count).collect();
        let schemas = &cfg.classes[0].firmware.schemas;
        let b = &cfg.backend;
        let (analytics, rules_class) = (&b.analytics, b.rules_class);
        let rules_schema = &b.schemas[rules_class];
        let cfg_epoch = cfg.epoch;
        let n: u32 = counts.iter().sum();
        let mut g = Gateways {
            classes: Vec::new(),
            parent: Vec::new(),
            gateway: Vec::new(),
            forgiven: Vec::new(),
            lost: [0; 3],
            held_at_end: 0,
            cuts: if cfg.uplink_faults.is_empty() {
                Vec::new()
            } else {
                vec![0; n as usize]
            },
        };
        if specs.is_empty() {
            return Ok(g);
        }
        g.parent = vec![NONE; n as usize];
        g.gateway = vec![NONE; n as usize];
        for (k, spec) in specs.iter().enumerate() {
            let gws = counts[spec.class];
            let base = bases[spec.class];
            for local in 0..gws {
                g.gateway[(base + local) as usize] = (k as u32) << 24 | local;
            }
            for &c in &spec.children {
                for i in 0..counts[c] {
                    g.parent[(bases[c] + i) as usize] = base + parent_of(i, counts[c], gws);
                }
            }
            let hubs = EdgeHubs::new(spec.edge.clone(), gws, schemas.clone())
                .map_err(|e| super::build_err("edge", e))?;
            let mut modules = Vec::new();
            for (name, rules) in &spec.modules {
                let cfg = analytics::AnalyticsConfig {
                    rules: rules.iter().map(|&r| analytics.rules[r].clone()).collect(),
                };
                let engine = RuleEngine::new(&cfg, rules_schema, cfg_epoch)
                    .map_err(|e| super::build_err(&format!("edge.modules.{name}"), e))?;
                modules.push(Module {
                    name: name.clone(),
                    engine,
                });
            }
            g.classes.push(GatewayClass {
                class: spec.class,
                base,
                hubs,
                online_conn: vec![0; gws as usize],
                wake: vec![SimTime::MAX; gws as usize],
                modules,
                rules_class,
                series: Vec::new(),
            });
        }
        Ok(g)
    }

    /// Device `g`'s gateway (a global device), if it is behind one.
    pub(crate) fn parent(&self, g: u32) -> Option<u32> {
        self.parent.get(g as usize).copied().filter(|&p| p != NONE)
    }

    /// Which gateway device `g` is: (gateway class, local index).
    pub(crate) fn gateway(&self, g: u32) -> Option<(usize, u32)> {
        let v = *self.gateway.get(g as usize)?;
        (v != NONE).then_some(((v >> 24) as usize, v & 0xFF_FFFF))
    }
}

impl SolutionWorld {
    /// A packet from a child for its gateway's edgeHub, or its expiry timer.
    pub(super) fn on_gateway_event(&mut self, k: &mut Kernel, ev: Event) {
        let g = ev.target.0;
        let Some((kc, gw)) = self.edge.gateway(g) else {
            return;
        };
        let now = k.now();
        if ev.kind == GW_WAKE {
            let w = &mut self.edge.classes[kc].wake[gw as usize];
            if *w != now || ev.payload != now.as_nanos() {
                return;
            }
            *w = SimTime::MAX;
            self.edge.classes[kc].hubs.handle_timeout(now, gw);
        } else {
            debug_assert_eq!(ev.kind, GW_RX);
            let Some(p) = self.transport.arrive_up(ev.payload) else {
                return;
            };
            // A gateway that is off (not yet booted, or crashed) answers nothing.
            if self.fleet.devices[g as usize].is_off() {
                return;
            }
            if let Msg::Connect { username, .. } = &p.msg {
                // edgeHub carries the child's session, and its model id, upstream.
                if let Some(h) = self.cloud.hub_of(p.device) {
                    let (c, i) = self.fleet.locate(p.device);
                    let id = self.cfg.classes[c].ids.format(i);
                    self.cloud.hubs[h].handle_child_session(&id, username);
                }
            }
            if let Msg::Telemetry { values, .. } = &p.msg {
                k.trace_digest(super::cloud::values_digest(p.device, values));
            }
            self.edge.classes[kc]
                .hubs
                .handle_child(now, gw, p.device, &p.msg);
        }
        self.drain_gateway(k, kc, gw);
    }

    /// Runs gateway class `kc`'s outputs, sends what gateway `gw` may send upstream, and
    /// re-arms its expiry timer.
    pub(super) fn drain_gateway(&mut self, k: &mut Kernel, kc: usize, gw: u32) {
        let now = k.now();
        self.sync_uplink(kc, gw);
        loop {
            while let Some(o) = self.edge.classes[kc].hubs.poll_output() {
                self.on_edge_output(k, kc, o);
            }
            let g = self.edge.classes[kc].base + gw;
            let Some(msg) = self.edge.classes[kc].hubs.poll_upstream(now, gw) else {
                break;
            };
            match self.transport.open_or_current(g, Peer::Hub, msg) {
                Some(p) => self.transmit(k, p),
                // A send just now broke the connection (TCP gave up): edgeHub goes offline
                // and takes the message back.
                None => {
                    self.sync_uplink(kc, gw);
                    break;
                }
            }
        }
        while let Some(o) = self.edge.classes[kc].hubs.poll_output() {
            self.on_edge_output(k, kc, o);
        }
        let want = self.edge.classes[kc]
            .hubs
            .poll_timeout(gw)
            .unwrap_or(SimTime::MAX);
        let w = &mut self.edge.classes[kc].wake[gw as usize];
        if want != *w {
            *w = want;
            if want != SimTime::MAX {
                let at = want.max(now);
                *w = at;
                let g = self.edge.classes[kc].base + gw;
                k.schedule(at, Event::new(EntityId(g), GW_WAKE, at.as_nanos()));
            }
        }
    }

    /// Tells edgeHub whether gateway `gw`'s firmware is running on a hub connection, and a
    /// new connection from an old one.
    fn sync_uplink(&mut self, kc: usize, gw: u32) {
        let class = &mut self.edge.classes[kc];
        let g = class.base + gw;
        let conn = if self.fleet.devices[g as usize].is_running() {
            self.transport.current_hub_conn(g)
        } else {
            0
        };
        let was = class.online_conn[gw as usize];
        if conn != was {
            if was != 0 {
                class.hubs.set_online(gw, false);
            }
            if conn != 0 {
                class.hubs.set_online(gw, true);
            }
            class.online_conn[gw as usize] = conn;
        }
    }

    fn on_edge_output(&mut self, k: &mut Kernel, kc: usize, o: EdgeOutput) {
        match o {
            EdgeOutput::ToChild { child, msg, .. } => {
                let conn = self.transport.current_hub_conn(child);
                if conn == 0 {
                    return;
                }
                self.transmit(
                    k,
                    InFlight {
                        device: child,
                        conn,
                        peer: Peer::Hub,
                        up: false,
                        attempts: 0,
                        msg,
                    },
                );
            }
            EdgeOutput::Lost {
                child, seq, reason, ..
            } => {
                self.edge.forgiven.push((child, seq, reason));
                self.acct.metrics.inc(self.acct.ids.lost);
            }
            EdgeOutput::ToModule {
                module,
                child,
                values,
                ..
            } => self.run_module(k.now(), kc, module, child, &values),
        }
    }

    /// A child's reading reaches local module `module` of gateway class `kc`.
    fn run_module(
        &mut self,
        now: SimTime,
        kc: usize,
        module: u16,
        child: u32,
        values: &iot_messages::Values,
    ) {
        let (c, local) = self.fleet.locate(child);
        let class = &mut self.edge.classes[kc];
        if c != class.rules_class {
            return;
        }
        let ts = self.cfg.classes[c].timestamp_field;
        let origin = self.cfg.epoch.unix_secs() as f64;
        let event_time = SimTime::from_nanos(((values.v[ts] - origin).max(0.0) * 1e9) as u64);
        let n = usize::from(values.len);
        let mut columns = [0.0; FIELDS_MAX];
        let mut j = 0;
        for (f, v) in values.v[..n].iter().enumerate() {
            if f != ts {
                columns[j] = *v;
                j += 1;
            }
        }
        let ev = IngestEvent::new(
            DeviceIndex(local),
            values.seq,
            event_time,
            now,
            &columns[..j],
        );
        let m = &mut class.modules[usize::from(module)];
        m.engine.handle_event(now, &ev);
        // A local alert sounds on site; it sends no notification upstream.
        while m.engine.poll_notification().is_some() {}
    }

    /// A PUBACK for gateway `g` from the hub: edgeHub's, if its packet id says so (then the
    /// firmware does not see it).
    pub(super) fn gateway_ack(&mut self, k: &mut Kernel, g: u32, msg: &Msg) -> bool {
        let Msg::PubAck { pkid } = msg else {
            return false;
        };
        if pkid & edge::UPSTREAM_PKID_BIT == 0 {
            return false;
        }
        let Some((kc, gw)) = self.edge.gateway(g) else {
            return false;
        };
        self.edge.classes[kc].hubs.handle_upstream_ack(gw, *pkid);
        self.drain_gateway(k, kc, gw);
        true
    }

    /// After gateway `g`'s firmware ran: its uplink may have come up or gone.
    pub(super) fn after_gateway_firmware(&mut self, k: &mut Kernel, g: u32) {
        if let Some((kc, gw)) = self.edge.gateway(g) {
            self.drain_gateway(k, kc, gw);
        }
    }

    /// Gateway `g` crashed: its children's sessions are gone with its RAM.
    pub(super) fn gateway_crashed(&mut self, k: &mut Kernel, g: u32) {
        let Some((kc, gw)) = self.edge.gateway(g) else {
            return;
        };
        self.edge.classes[kc].hubs.handle_crash(gw);
        // Each child hears its connection is gone, as from a hub that dropped it.
        let now = k.now();
        for child in 0..self.fleet.len() {
            if self.edge.parent(child) != Some(g) {
                continue;
            }
            let conn = self.transport.current_hub_conn(child);
            if conn != 0 {
                self.transport.service_closed(k, child, conn, now, 0);
            }
        }
    }

    /// Child `g`'s session with its gateway closed.
    pub(super) fn child_session_lost(&mut self, g: u32) -> bool {
        let Some(parent) = self.edge.parent(g) else {
            return false;
        };
        let (kc, gw) = self.edge.gateway(parent).expect("a parent is a gateway");
        self.edge.classes[kc].hubs.handle_child_lost(gw, g);
        true
    }
}

impl SolutionWorld {
    /// After preprovisioning: every child's identity gets its gateway as parent on their
    /// hub. A child and its gateway on different hubs (or either without an identity) cannot
    /// be wired, and the scenario is refused.
    pub(super) fn adopt_children(&mut self) -> Result<(), super::BuildError> {
        for g in 0..self.fleet.len() {
            let Some(parent) = self.edge.parent(g) else {
                continue;
            };
            let (cc, ci) = self.fleet.locate(g);
            let (pc, pi) = self.fleet.locate(parent);
            let child_id = self.cfg.classes[cc].ids.format(ci);
            let parent_id = self.cfg.classes[pc].ids.format(pi);
            let (Some(h), Some(hp)) = (self.cloud.hub_of(g), self.cloud.hub_of(parent)) else {
                return Err(super::build_err(
                    &format!("classes.{}.gateway", self.cfg.classes[cc].name),
                    format!("{child_id} or its gateway {parent_id} has no hub identity before the run: both classes need provisioned_ratio = 1"),
                ));
            };
            if h != hp || !self.cloud.hubs[h].set_parent(&child_id, &parent_id) {
                return Err(super::build_err(
                    &format!("classes.{}.gateway", self.cfg.classes[cc].name),
                    format!("{child_id} and its gateway {parent_id} were assigned different hubs: a child must be on its parent's hub"),
                ));
            }
        }
        Ok(())
    }

    /// Uplink fault `payload >> 1` begins (`payload & 1`) or ends: the selected devices' own
    /// links to the cloud are cut or restored.
    pub(super) fn on_uplink_fault(&mut self, payload: u64) {
        let f = &self.cfg.uplink_faults[(payload >> 1) as usize];
        let cut = payload & 1 == 1;
        let base = self.fleet.base(f.class);
        for &d in &f.devices {
            // Overlapping faults on one device: its link is restored when the last ends.
            let n = &mut self.edge.cuts[(base + d) as usize];
            let act = if cut {
                *n += 1;
                *n == 1
            } else {
                *n -= 1;
                *n == 0
            };
            if !act {
                continue;
            }
            for link in self.transport.links_of(base + d) {
                if cut {
                    self.transport.net_mut().cut(link);
                } else {
                    self.transport.net_mut().restore(link);
                }
            }
        }
    }

    /// Before the end-of-run check: the readings the gateways gave up, and those they still
    /// hold, were acknowledged to their devices by edgeHub and are accounted for as lost or
    /// in flight, not as missing.
    /// A reading given up that the store holds anyway (sent before an uplink cut, its
    /// acknowledgement lost, then expired) was not lost.
    pub(super) fn forgive_gateway_readings(&mut self) {
        let forgiven = std::mem::take(&mut self.edge.forgiven);
        for (g, seq, reason) in forgiven {
            if self.acct.stored_bits.contains(g, seq) || !self.acct.acked_bits.contains(g, seq) {
                continue;
            }
            let r = LOSS_REASONS
                .iter()
                .position(|x| *x == reason)
                .expect("listed");
            self.edge.lost[r] += 1;
            self.acct.acked_bits.unset(g, seq);
        }
        let mut held = Vec::new();
        for class in &self.edge.classes {
            for gw in 0..class.hubs.len() {
                held.extend(class.hubs.held(gw));
            }
        }
        for (g, seq) in held {
            if self.acct.stored_bits.contains(g, seq) || !self.acct.acked_bits.contains(g, seq) {
                continue;
            }
            self.edge.held_at_end += 1;
            self.acct.acked_bits.unset(g, seq);
        }
    }

    /// The metrics sampler's point for each gateway class: messages held, forwarded and
    /// expired so far, gateways online.
    pub(super) fn sample_gateways(&mut self, now: SimTime) {
        let h = now.as_secs_f64() / 3_600.0;
        for class in &mut self.edge.classes {
            let t = class.hubs.totals();
            let held: u32 = (0..class.hubs.len()).map(|gw| class.hubs.depth(gw)).sum();
            let online = (0..class.hubs.len())
                .filter(|&gw| class.hubs.is_online(gw))
                .count();
            class.series.push((
                h,
                f64::from(held),
                t.forwarded as f64,
                (t.expired + t.overflowed) as f64,
                online as f64,
            ));
        }
    }

    /// Gateway class figures and charts, added to the class's own report: what edgeHub
    /// forwarded, expired and dropped, its deepest store, and each local module's alerts
    /// scored against the ground truth.
    pub(super) fn gateway_report(
        &self,
        truth: &[analytics::TruthEpisode],
        report: &mut crate::class::ClassReport,
        c: usize,
    ) {
        use crate::app::figure;
        use crate::class::Chart;
        let Some(class) = self.edge.classes.iter().find(|k| k.class == c) else {
            return;
        };
        let t = class.hubs.totals();
        report.figures.extend([
            figure("edge_received", t.received as f64),
            figure("edge_forwarded", t.forwarded as f64),
            figure("edge_expired", t.expired as f64),
            figure("edge_overflowed", t.overflowed as f64),
            figure("edge_unrouted", t.unrouted as f64),
            figure("edge_peak_store_depth", t.peak_depth as f64),
            figure("edge_refused_clients", t.refused_clients as f64),
        ]);
        for m in &class.modules {
            for s in m.engine.score(truth, self.cfg.score_grace) {
                let name = |k: &str| format!("{}.{}.{k}", m.name, s.rule);
                report.figures.push((name("alerts"), s.alerts as f64));
                report
                    .figures
                    .push((name("recall"), s.recall.unwrap_or(1.0)));
                report
                    .figures
                    .push((name("precision"), s.precision.unwrap_or(1.0)));
                let secs = |d: Option<sim::SimDuration>| d.map_or(0.0, |d| d.as_secs_f64());
                report
                    .figures
                    .push((name("latency_s_p50"), secs(s.latency_p50)));
                report
                    .figures
                    .push((name("latency_s_p99"), secs(s.latency_p99)));
            }
        }
        let line = |i: usize| -> Vec<(f64, f64)> {
            class
                .series
                .iter()
                .map(|p| (p.0, [p.1, p.2, p.3, p.4][i]))
                .collect()
        };
        report.charts.push(Chart::lines(
            "edgeHub store: messages held for IoT Hub",
            "hours",
            "messages",
            vec![("held".into(), line(0))],
        ));
        report.charts.push(Chart::lines(
            "edgeHub: forwarded and given up (cumulative)",
            "hours",
            "messages",
            vec![
                ("forwarded".into(), line(1)),
                ("expired or dropped".into(), line(2)),
            ],
        ));
        report.charts.push(Chart::lines(
            "Gateways online to IoT Hub",
            "hours",
            "gateways",
            vec![("online".into(), line(3))],
        ));
    }
}
