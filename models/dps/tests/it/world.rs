//! A fleet world: devices running the firmware, one DPS instance and several hubs, joined by
//! `sim::net` links, on the `sim` kernel.
//!
//! ```text
//!   device 0 ─┐  duplex link each (loss, latency; partitions and crashes from the plan)
//!   device 1 ─┼──────────────────────────► cloud node ── DPS
//!   device n ─┘ ◄──────────────────────────            ├─ hub 0
//!                                                      └─ hub 1 …
//! ```
//!
//! Packets travel as compact [`Msg`]s sized by their encoded MQTT length. A connection is
//! named by the device index and a per-device epoch (`epoch << 20 | index`), so packets of a
//! closed connection that are still in flight are dropped at arrival, as a closed socket
//! would. DPS assignments create identities on hubs at the instant DPS completes them.

use dps::{Dps, DpsOutput};
use firmware::{
    Ctx, Device, DeviceLogic, DeviceOutput, DisconnectReason, FirmwareConfig, Peer, Record,
};
use hub::{Hub, HubOutput};
use iot_messages::telemetry::FIELDS_MAX;
use iot_messages::{DeviceId, Msg};
use sim::net::{Direction, LinkId, Network, NodeId, SendOutcome};
use sim::{Checker, EntityId, Event, EventKind, Kernel, SimDuration, SimTime, World};
use std::collections::BTreeMap;
use std::sync::Arc;

const DEVICE_TIMER: EventKind = EventKind(1);
const ARRIVE_UP: EventKind = EventKind(2);
const ARRIVE_DOWN: EventKind = EventKind(3);
const HUB_TIMER: EventKind = EventKind(4);
const ASSIGN: EventKind = EventKind(5);
const CRASH: EventKind = EventKind(6);
const RESTART: EventKind = EventKind(7);
const PARTITION: EventKind = EventKind(8);
const HEAL: EventKind = EventKind(9);
const POWER_ON: EventKind = EventKind(10);

const CLOUD: EntityId = EntityId(u32::MAX);
const INDEX_BITS: u32 = 20;

/// Where a packet goes or comes from on the cloud side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Dps,
    Hub(u8),
}

#[derive(Debug, Clone)]
enum Payload {
    Msg(Msg),
    /// The sender closed the connection (with a server error code when the server closed it).
    Close(Option<u32>),
}

#[derive(Debug, Clone)]
struct Flight {
    dev: u32,
    epoch: u16,
    service: Service,
    payload: Payload,
}

/// Samples from a fictitious collar: position and a body temperature.
pub struct CollarLogic;

impl DeviceLogic for CollarLogic {
    fn sample(&mut self, device: u32, now: SimTime, out: &mut [f64; FIELDS_MAX]) -> usize {
        let t = now.as_secs() as f64;
        out[0] = 47.0 + f64::from(device % 1_000) * 1e-4;
        out[1] = 8.0 + (t / 86_400.0);
        out[2] = 38.5 + f64::from((device + now.as_secs() as u32 / 300) % 10) * 0.1;
        3
    }
}

/// The fate of each device's telemetry, from the firmware's records.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    pub sampled: u64,
    pub acked: BTreeMap<(u32, u32), ()>,
    pub dropped: BTreeMap<(u32, u32), firmware::DropReason>,
    pub sampled_seqs: Vec<Vec<u32>>,
    /// When each outstanding message was sampled.
    pub sampled_at: BTreeMap<(u32, u32), SimTime>,
    /// (ack time, sample-to-PUBACK latency) of every acknowledged message.
    pub ack_latency: Vec<(SimTime, SimDuration)>,
}

/// Scenario knobs.
pub struct WorldConfig {
    pub devices: u32,
    pub hubs: Vec<hub::HubConfig>,
    pub dps: dps::DpsConfig,
    pub firmware: FirmwareConfig,
    pub link: sim::net::LinkProfile,
    /// Devices power on uniformly in `[0, boot_spread)`.
    pub boot_spread: SimDuration,
}

pub struct FleetWorld {
    seed: sim::Seed,
    boot_spread: SimDuration,
    pub devices: Vec<Device>,
    pub dps: Dps,
    pub hubs: Vec<Hub>,
    pub net: Network,
    pub fw: FirmwareConfig,
    logic: CollarLogic,
    uplink: Vec<LinkId>,
    downlink: Vec<LinkId>,
    epoch: Vec<u16>,
    conn_service: Vec<Option<Service>>,
    dev_wake: Vec<SimTime>,
    hub_wake: Vec<SimTime>,
    hub_by_host: BTreeMap<Arc<str>, u8>,
    flights: Vec<Option<Flight>>,
    free: Vec<u32>,
    assigns: Vec<Option<DpsOutput>>,
    out: Vec<DeviceOutput>,
    pub ledger: Ledger,
    /// (time, queueing delay) of every PUBACK the hubs sent: the throttle's added latency.
    pub puback_delay: Vec<(SimTime, SimDuration)>,
    /// When the hubs closed a device's connection with 429001.
    pub throttle_closes: Vec<SimTime>,
    /// Accepted hub connections per simulated second (CONNACK time).
    pub hub_connects_per_s: Vec<u32>,
    pub partitioned: Vec<NodeId>,
    pub crashed: Vec<u32>,
    pub double_registrations: u64,
    pub stale_packets: u64,
}

fn conn_of(dev: u32, epoch: u16) -> u32 {
    (u32::from(epoch) << INDEX_BITS) | dev
}

fn split(conn: u32) -> (u32, u16) {
    (conn & ((1 << INDEX_BITS) - 1), (conn >> INDEX_BITS) as u16)
}

impl FleetWorld {
    pub fn new(cfg: WorldConfig, seed: sim::Seed, group_key: &[u8]) -> FleetWorld {
        assert!(cfg.devices < (1 << INDEX_BITS));
        let mut net = Network::new(seed);
        let profile = net.add_profile(cfg.link.clone()).unwrap();
        let dev_nodes = net.add_nodes(cfg.devices);
        let cloud = net.add_node();
        let mut uplink = Vec::new();
        let mut downlink = Vec::new();
        for n in dev_nodes {
            let (u, d) = net.add_duplex(NodeId(n), cloud, profile).unwrap();
            uplink.push(u);
            downlink.push(d);
        }
        let mut devices = Vec::new();
        for i in 0..cfg.devices {
            let reg = format!("cow-{i:06}");
            let key = iot_messages::sas::derive_device_key_bytes(group_key, &reg);
            devices.push(Device::new(
                i,
                reg.into(),
                Arc::from(&key[..]),
                seed.compact(sim::StreamKey::new("device", u64::from(i), "firmware")),
            ));
        }
        let mut hubs = Vec::new();
        let mut hub_by_host = BTreeMap::new();
        for (h, hc) in cfg.hubs.into_iter().enumerate() {
            let hub = Hub::new(hc, cfg.firmware.schemas.clone()).unwrap();
            hub_by_host.insert(Arc::from(hub.host()), h as u8);
            hubs.push(hub);
        }
        let n = cfg.devices as usize;
        FleetWorld {
            seed,
            boot_spread: cfg.boot_spread,
            devices,
            dps: Dps::new(cfg.dps).unwrap(),
            hub_wake: vec![SimTime::MAX; hubs.len()],
            hubs,
            net,
            fw: cfg.firmware,
            logic: CollarLogic,
            uplink,
            downlink,
            epoch: vec![0; n],
            conn_service: vec![None; n],
            dev_wake: vec![SimTime::MAX; n],
            hub_by_host,
            flights: Vec::new(),
            free: Vec::new(),
            assigns: Vec::new(),
            out: Vec::new(),
            ledger: Ledger {
                sampled_seqs: vec![Vec::new(); n],
                ..Ledger::default()
            },
            hub_connects_per_s: Vec::new(),
            puback_delay: Vec::new(),
            throttle_closes: Vec::new(),
            partitioned: Vec::new(),
            crashed: Vec::new(),
            double_registrations: 0,
            stale_packets: 0,
        }
    }

    /// Schedules every device's power-on, uniformly within the boot spread.
    pub fn boot(&mut self, k: &mut Kernel) {
        for i in 0..self.devices.len() as u32 {
            let boot = SimDuration::from_nanos(sim::rng::below(
                &mut self
                    .seed
                    .compact(sim::StreamKey::new("device", u64::from(i), "boot")),
                self.boot_spread.as_nanos().max(1),
            ));
            k.schedule(SimTime::ZERO + boot, Event::new(EntityId(i), POWER_ON, 0));
        }
    }

    fn park(&mut self, f: Flight) -> u64 {
        match self.free.pop() {
            Some(i) => {
                self.flights[i as usize] = Some(f);
                u64::from(i)
            }
            None => {
                self.flights.push(Some(f));
                (self.flights.len() - 1) as u64
            }
        }
    }

    fn take(&mut self, i: u64) -> Flight {
        self.free.push(i as u32);
        self.flights[i as usize].take().expect("a parked flight")
    }

    fn transmit(&mut self, k: &mut Kernel, at: SimTime, up: bool, f: Flight) {
        let size = match &f.payload {
            Payload::Msg(m) => m.encoded_len(&self.fw.schemas).unwrap_or(64) as u32,
            Payload::Close(_) => 40,
        };
        let link = if up {
            self.uplink[f.dev as usize]
        } else {
            self.downlink[f.dev as usize]
        };
        let kind = if up { ARRIVE_UP } else { ARRIVE_DOWN };
        let target = if up { CLOUD } else { EntityId(f.dev) };
        match self.net.send(at, link, size, 0) {
            SendOutcome::Delivered { at, duplicate_at } => {
                if let Some(d) = duplicate_at {
                    let p = self.park(f.clone());
                    k.schedule(d, Event::new(target, kind, p));
                }
                let p = self.park(f);
                k.schedule(at, Event::new(target, kind, p));
            }
            // Clogging is not used by these scenarios; a dropped packet is simply lost.
            SendOutcome::Dropped(_) | SendOutcome::Held => {}
        }
    }

    fn with_device(
        &mut self,
        k: &mut Kernel,
        i: u32,
        f: impl FnOnce(&mut Device, SimTime, &mut Ctx<'_>),
    ) {
        let now = k.now();
        let mut out = std::mem::take(&mut self.out);
        {
            let mut ctx = Ctx {
                cfg: &self.fw,
                logic: &mut self.logic,
                out: &mut out,
            };
            f(&mut self.devices[i as usize], now, &mut ctx);
        }
        for o in out.drain(..) {
            self.device_output(k, i, o);
        }
        self.out = out;
        self.arm_device(k, i);
    }

    fn arm_device(&mut self, k: &mut Kernel, i: u32) {
        if let Some(t) = self.devices[i as usize].poll_timeout(&self.fw) {
            let w = &mut self.dev_wake[i as usize];
            if t < *w || *w <= k.now() {
                *w = t.max(k.now());
                k.schedule(*w, Event::new(EntityId(i), DEVICE_TIMER, w.as_nanos()));
            }
        }
    }

    fn service_of(&self, i: u32, peer: Peer) -> Option<Service> {
        match peer {
            Peer::Dps => Some(Service::Dps),
            Peer::Hub => {
                let host = self.devices[i as usize].assigned_hub()?;
                self.hub_by_host.get(host).map(|&h| Service::Hub(h))
            }
        }
    }

    fn device_output(&mut self, k: &mut Kernel, i: u32, o: DeviceOutput) {
        let now = k.now();
        match o {
            DeviceOutput::Send { to, msg } => {
                let Some(service) = self.service_of(i, to) else {
                    return;
                };
                if matches!(msg, Msg::Connect { .. }) {
                    self.epoch[i as usize] = (self.epoch[i as usize] + 1) % 4_096;
                    self.conn_service[i as usize] = Some(service);
                }
                let f = Flight {
                    dev: i,
                    epoch: self.epoch[i as usize],
                    service,
                    payload: Payload::Msg(msg),
                };
                self.transmit(k, now, true, f);
            }
            DeviceOutput::Close { .. } => {
                if let Some(service) = self.conn_service[i as usize].take() {
                    let f = Flight {
                        dev: i,
                        epoch: self.epoch[i as usize],
                        service,
                        payload: Payload::Close(None),
                    };
                    self.transmit(k, now, true, f);
                }
            }
            DeviceOutput::Record(r) => match r {
                Record::Sampled { seq } => {
                    self.ledger.sampled += 1;
                    self.ledger.sampled_seqs[i as usize].push(seq);
                    self.ledger.sampled_at.insert((i, seq), now);
                }
                Record::Acked { seq } => {
                    self.ledger.acked.insert((i, seq), ());
                    if let Some(t) = self.ledger.sampled_at.remove(&(i, seq)) {
                        self.ledger.ack_latency.push((now, now.since(t)));
                    }
                }
                Record::Dropped { seq, reason } => {
                    self.ledger.dropped.insert((i, seq), reason);
                    self.ledger.sampled_at.remove(&(i, seq));
                }
            },
        }
    }

    fn arm_hub(&mut self, k: &mut Kernel, h: usize) {
        if let Some(t) = self.hubs[h].poll_timeout() {
            let w = &mut self.hub_wake[h];
            if t < *w || *w <= k.now() {
                *w = t.max(k.now());
                k.schedule(
                    *w,
                    Event::new(EntityId(u32::MAX - 1 - h as u32), HUB_TIMER, w.as_nanos()),
                );
            }
        }
    }

    fn drain_hub(&mut self, k: &mut Kernel, h: usize) {
        while let Some(o) = self.hubs[h].poll_output() {
            match o {
                HubOutput::ToDevice { at, conn, msg } => {
                    if matches!(msg, Msg::PubAck { .. }) {
                        self.puback_delay.push((k.now(), at.since(k.now())));
                    }
                    if matches!(
                        msg,
                        Msg::ConnAck {
                            code: iot_messages::ConnectCode::Accepted
                        }
                    ) {
                        let s = at.as_secs() as usize;
                        if self.hub_connects_per_s.len() <= s {
                            self.hub_connects_per_s.resize(s + 1, 0);
                        }
                        self.hub_connects_per_s[s] += 1;
                    }
                    let (dev, epoch) = split(conn.0);
                    let f = Flight {
                        dev,
                        epoch,
                        service: Service::Hub(h as u8),
                        payload: Payload::Msg(msg),
                    };
                    self.transmit(k, at, false, f);
                }
                HubOutput::Disconnect { at, conn, reason } => {
                    if reason == hub::HubError::Throttled {
                        self.throttle_closes.push(at);
                    }
                    let (dev, epoch) = split(conn.0);
                    let f = Flight {
                        dev,
                        epoch,
                        service: Service::Hub(h as u8),
                        payload: Payload::Close(Some(reason.code())),
                    };
                    self.transmit(k, at, false, f);
                }
                HubOutput::MethodResult { .. } | HubOutput::Feedback { .. } => {}
            }
        }
        self.arm_hub(k, h);
    }

    fn drain_dps(&mut self, k: &mut Kernel) {
        while let Some(o) = self.dps.poll_output() {
            match o {
                DpsOutput::ToDevice { at, conn, msg } => {
                    let (dev, epoch) = split(conn.0);
                    let f = Flight {
                        dev,
                        epoch,
                        service: Service::Dps,
                        payload: Payload::Msg(msg),
                    };
                    self.transmit(k, at, false, f);
                }
                a @ DpsOutput::Assign { .. } => {
                    let at = match &a {
                        DpsOutput::Assign { at, .. } => *at,
                        DpsOutput::ToDevice { .. } => unreachable!(),
                    };
                    self.assigns.push(Some(a));
                    k.schedule(
                        at,
                        Event::new(CLOUD, ASSIGN, (self.assigns.len() - 1) as u64),
                    );
                }
            }
        }
    }

    fn apply_assign(&mut self, k: &mut Kernel, i: u64) {
        let Some(DpsOutput::Assign {
            hub,
            device_id,
            device_key,
            initial_twin,
            previous_hub,
            migrate_twin,
            ..
        }) = self.assigns[i as usize].take()
        else {
            return;
        };
        let now = k.now();
        let mut twin = initial_twin.and_then(|v| {
            let mut t = hub::Twin::default();
            if let Some(tags) = v.get("tags") {
                t.patch(hub::twin::Section::Tags, tags).ok()?;
            }
            Some(t)
        });
        if let Some(p) = previous_hub {
            let old = self.hubs[p].delete_device(now, &device_id);
            if migrate_twin {
                twin = old;
            }
            self.drain_hub(k, p);
        }
        let id = DeviceId::new(&device_id).expect("registration ids are device ids");
        self.hubs[hub]
            .register_device(now, &id, &device_key, twin)
            .expect("registry has room");
        let homes = self
            .hubs
            .iter()
            .filter(|h| h.device(&device_id).is_some())
            .count();
        if homes > 1 {
            self.double_registrations += 1;
        }
        self.drain_hub(k, hub);
    }

    fn arrive_up(&mut self, k: &mut Kernel, p: u64) {
        let f = self.take(p);
        if !self.net.arrive(self.uplink[f.dev as usize]) {
            return;
        }
        let now = k.now();
        let conn = conn_of(f.dev, f.epoch);
        match (f.service, f.payload) {
            (Service::Dps, Payload::Msg(m)) => {
                // Devices connect from region 0 in these scenarios.
                self.dps.handle_packet(now, dps::ConnId(conn), 0, &m);
                self.drain_dps(k);
            }
            (Service::Dps, Payload::Close(_)) => self.dps.handle_connection_lost(dps::ConnId(conn)),
            (Service::Hub(h), Payload::Msg(m)) => {
                self.hubs[h as usize].handle_packet(now, hub::ConnId(conn), &m);
                self.drain_hub(k, h as usize);
            }
            (Service::Hub(h), Payload::Close(_)) => {
                self.hubs[h as usize].handle_connection_lost(now, hub::ConnId(conn));
                self.drain_hub(k, h as usize);
            }
        }
    }

    fn arrive_down(&mut self, k: &mut Kernel, i: u32, p: u64) {
        let f = self.take(p);
        if !self.net.arrive(self.downlink[f.dev as usize]) {
            return;
        }
        // A packet for a connection the device has since replaced or closed.
        if f.epoch != self.epoch[i as usize] || self.conn_service[i as usize] != Some(f.service) {
            self.stale_packets += 1;
            return;
        }
        let peer = match f.service {
            Service::Dps => Peer::Dps,
            Service::Hub(_) => Peer::Hub,
        };
        match f.payload {
            Payload::Msg(m) => {
                self.with_device(k, i, |d, now, ctx| d.handle_msg(now, peer, &m, ctx))
            }
            Payload::Close(code) => {
                self.conn_service[i as usize] = None;
                let reason = code.map_or(DisconnectReason::Network, DisconnectReason::Server);
                self.with_device(k, i, |d, now, ctx| d.handle_disconnected(now, reason, ctx));
            }
        }
    }

    /// Schedules a partition of `nodes` during `[start, start + len)`.
    pub fn plan_partition(
        &mut self,
        k: &mut Kernel,
        devices: Vec<u32>,
        start: SimTime,
        len: SimDuration,
    ) {
        self.partitioned = devices.iter().map(|&d| NodeId(d)).collect();
        k.schedule(start, Event::new(CLOUD, PARTITION, 0));
        k.schedule(start + len, Event::new(CLOUD, HEAL, 0));
    }

    /// Schedules a crash of `devices` at `at` and their restart `down` later.
    pub fn plan_crash(
        &mut self,
        k: &mut Kernel,
        devices: Vec<u32>,
        at: SimTime,
        down: SimDuration,
    ) {
        for &d in &devices {
            k.schedule(at, Event::new(EntityId(d), CRASH, 0));
            k.schedule(at + down, Event::new(EntityId(d), RESTART, 0));
        }
        self.crashed = devices;
    }
}

impl World for FleetWorld {
    fn handle(&mut self, k: &mut Kernel, ev: Event) {
        match ev.kind {
            DEVICE_TIMER => {
                let i = ev.target.0;
                if self.dev_wake[i as usize].as_nanos() != ev.payload {
                    return;
                }
                self.dev_wake[i as usize] = SimTime::MAX;
                self.with_device(k, i, |d, now, ctx| d.handle_timeout(now, ctx));
            }
            POWER_ON => self.with_device(k, ev.target.0, |d, now, ctx| d.power_on(now, ctx)),
            ARRIVE_UP => self.arrive_up(k, ev.payload),
            ARRIVE_DOWN => self.arrive_down(k, ev.target.0, ev.payload),
            HUB_TIMER => {
                let h = (u32::MAX - 1 - ev.target.0) as usize;
                if self.hub_wake[h].as_nanos() != ev.payload {
                    return;
                }
                self.hub_wake[h] = SimTime::MAX;
                self.hubs[h].handle_timeout(k.now());
                self.drain_hub(k, h);
            }
            ASSIGN => self.apply_assign(k, ev.payload),
            CRASH => {
                let i = ev.target.0;
                self.net.crash(NodeId(i));
                // The transport dies with the device; the services notice through keep-alive
                // (no close packet can leave a crashed node).
                self.with_device(k, i, |d, now, ctx| d.crash(now, ctx));
                self.conn_service[i as usize] = None;
            }
            RESTART => {
                let i = ev.target.0;
                self.net.restart(NodeId(i));
                self.with_device(k, i, |d, now, ctx| d.power_on(now, ctx));
            }
            PARTITION => {
                let nodes = self.partitioned.clone();
                self.net.partition(&nodes, Direction::Both);
            }
            HEAL => self.net.heal(),
            _ => unreachable!("unknown event {ev:?}"),
        }
    }
}

/// No device identity exists on two hubs at once (checked while the simulation runs).
pub struct NoDoubleRegistration;

impl Checker<FleetWorld> for NoDoubleRegistration {
    fn name(&self) -> &str {
        "no device registered on two hubs"
    }
    fn check(&mut self, _now: SimTime, w: &FleetWorld) -> Result<(), String> {
        if w.double_registrations > 0 {
            return Err(format!(
                "{} assignments left a device on two hubs",
                w.double_registrations
            ));
        }
        for d in &w.devices {
            let id = d.registration_id();
            let homes = w.hubs.iter().filter(|h| h.device(id).is_some()).count();
            if homes > 1 {
                return Err(format!("{id} is registered on {homes} hubs"));
            }
        }
        Ok(())
    }
}
