//! The transport between devices and the cloud: one duplex link per device to the cloud
//! node, the devices' connections to the hub and to DPS, in-flight packets, and a simplified
//! TCP that retransmits lost segments after a doubling timeout and breaks the connection
//! after `tcp_max_retries` failures (see the world's module documentation).

use super::slab::Slab;
use super::{
    build_err, BuildError, ClassConfig, NetworkConfig, SolutionWorld, DEVICE_LINK_DOWN, DEVICE_RX,
    DPS_ENTITY, DPS_RX, GW_RX, HUB_BASE, HUB_RX, RETRANSMIT,
};
use firmware::{DisconnectReason, Peer};
use hardware::radio::{DutyCycle, RadioProfile, RadioTech, TxDecision, EU868_DUTY_CYCLE};
use iot_messages::Msg;
use sim::net::{LinkId, Network, NodeId, SendOutcome};
use sim::{EntityId, Event, Kernel, Seed, SimDuration, SimTime, StreamKey};

/// Marks a DPS connection in `conn_device`.
const DPS_CONN: u32 = 1 << 31;

/// A packet in flight between a device and a cloud service.
#[derive(Clone, Debug)]
pub(crate) struct InFlight {
    pub(crate) device: u32,
    pub(crate) conn: u32,
    pub(crate) peer: Peer,
    pub(crate) up: bool,
    pub(crate) attempts: u8,
    pub(crate) msg: Msg,
}

/// Per device, the current connection to each peer (0 = none) and the last one opened.
#[derive(Clone, Copy, Default)]
struct Conns {
    hub: u32,
    dps: u32,
    hub_latest: u32,
    dps_latest: u32,
}

impl Conns {
    fn current(&self, peer: Peer) -> u32 {
        match peer {
            Peer::Hub => self.hub,
            Peer::Dps => self.dps,
        }
    }
    fn current_mut(&mut self, peer: Peer) -> &mut u32 {
        match peer {
            Peer::Hub => &mut self.hub,
            Peer::Dps => &mut self.dps,
        }
    }
    fn latest(&self, peer: Peer) -> u32 {
        match peer {
            Peer::Hub => self.hub_latest,
            Peer::Dps => self.dps_latest,
        }
    }
}

pub(crate) struct Transport {
    net: Network,
    uplinks_base: u32,
    slab: Slab<InFlight>,
    conns: Vec<Conns>,
    /// Per connection id: the device, with [`DPS_CONN`] set for a DPS connection
    /// (connection ids are never reused; 0 is "none").
    conn_device: Vec<u32>,
    pub(super) rto: SimDuration,
    pub(super) max_retries: u8,
    /// Per class, its first device and its link's minimum latency (how long a service's close
    /// takes to reach the device).
    min_latency: Vec<(u32, SimDuration)>,
    pub(crate) retransmits: u64,
    pub(crate) broken: u64,
    /// Per class: its radio, if it is a LoRaWAN class behind an IoT Edge gateway.
    lora: Vec<Option<RadioProfile>>,
    /// Per device (empty without LoRaWAN children): its sub-band's duty cycle.
    duty: Vec<DutyCycle>,
    /// Per class: uplinks its LoRaWAN devices held back for their duty cycle.
    pub(crate) duty_deferred: Vec<u64>,
}

/// The LoRaWAN application payload standing for an MQTT packet of a device behind a
/// gateway: the LoRaWAN network server on the gateway turns frames into the device's edgeHub
/// session (as the Azure IoT Edge LoRaWAN starter kit does), so on air a reading is its
/// values as 4-byte integers and an acknowledgement is the ACK bit of an empty downlink; the
/// session's other packets stand for the join and MAC exchanges, a join request's 10 bytes
/// **[simplification]**.
fn lora_payload_bytes(msg: &Msg) -> u32 {
    match msg {
        Msg::Telemetry { values, .. } => 4 * u32::from(values.len),
        Msg::PubAck { .. } => 0,
        _ => 10,
    }
}

impl Transport {
    /// One duplex link per device, with its class's profile: to the cloud node, or for a
    /// device behind an IoT Edge gateway to its gateway's node.
    pub(crate) fn new(
        seed: Seed,
        cfg: &NetworkConfig,
        classes: &[ClassConfig],
        edge: &super::edge::Gateways,
    ) -> Result<Transport, BuildError> {
        let mut net = Network::new(seed.derive(StreamKey::new("network", 0, "links")));
        let devices: u32 = classes.iter().map(|c| c.count).sum();
        net.add_nodes(devices);
        let cloud = net.add_node();
        let uplinks_base = net.link_count() as u32;
        let mut min_latency = Vec::with_capacity(classes.len());
        let mut lora = Vec::with_capacity(classes.len());
        let mut g = 0;
        for (c, class) in classes.iter().enumerate() {
            let profile = net
                .add_profile(class.link.clone())
                .map_err(|e| build_err(&format!("classes[{c}].link"), e))?;
            min_latency.push((g, class.link.latency.min));
            let behind = class.count > 0 && edge.parent(g).is_some();
            lora.push(
                (behind && matches!(class.radio.tech, RadioTech::LoRaWan(_)))
                    .then(|| class.radio.clone()),
            );
            for _ in 0..class.count {
                let far = edge.parent(g).map_or(cloud, NodeId);
                net.add_duplex(NodeId(g), far, profile)
                    .map_err(|e| build_err("network", e))?;
                g += 1;
            }
        }
        Ok(Transport {
            net,
            uplinks_base,
            slab: Slab::default(),
            conns: vec![Conns::default(); devices as usize],
            conn_device: vec![0],
            rto: cfg.tcp_rto,
            max_retries: cfg.tcp_max_retries,
            min_latency,
            retransmits: 0,
            broken: 0,
            duty: if lora.iter().any(Option::is_some) {
                vec![DutyCycle::default(); devices as usize]
            } else {
                Vec::new()
            },
            duty_deferred: vec![0; lora.len()],
            lora,
        })
    }

    pub(crate) fn net_mut(&mut self) -> &mut Network {
        &mut self.net
    }

    pub(crate) fn node_up(&self, node: NodeId) -> bool {
        self.net.is_up(node)
    }

    fn uplink(&self, device: u32) -> LinkId {
        LinkId(self.uplinks_base + 2 * device)
    }

    fn downlink(&self, device: u32) -> LinkId {
        LinkId(self.uplinks_base + 2 * device + 1)
    }

    /// Whether `p`'s connection is still the device's current one for its peer. A segment of
    /// a connection that has since closed is dropped (as TCP does when its socket is gone).
    fn current(&self, p: &InFlight) -> bool {
        self.conns[p.device as usize].current(p.peer) == p.conn
    }

    /// The device and peer of a connection id.
    pub(crate) fn conn_owner(&self, conn: u32) -> Option<(u32, Peer)> {
        let v = *self.conn_device.get(conn as usize)?;
        if conn == 0 {
            return None;
        }
        Some(if v & DPS_CONN != 0 {
            (v & !DPS_CONN, Peer::Dps)
        } else {
            (v, Peer::Hub)
        })
    }

    /// Device `g`'s current connection to the hub (or, behind a gateway, to its edgeHub);
    /// 0 for none.
    pub(crate) fn current_hub_conn(&self, g: u32) -> u32 {
        self.conns[g as usize].hub
    }

    /// Whether class `c` sends LoRaWAN frames under the duty cycle.
    pub(crate) fn is_lora(&self, c: usize) -> bool {
        self.lora[c].is_some()
    }

    /// Device `g`'s own link to the cloud, both ways (for an uplink fault).
    pub(crate) fn links_of(&self, g: u32) -> [LinkId; 2] {
        [self.uplink(g), self.downlink(g)]
    }

    /// Whether `conn` is device `device`'s current connection to the hub.
    pub(crate) fn is_current_hub_conn(&self, device: u32, conn: u32) -> bool {
        self.conns[device as usize].hub == conn
    }

    /// A packet device `g` sends to `to`: a CONNECT opens a new connection; anything else
    /// rides the current one (`None` if there is none).
    pub(crate) fn open_or_current(&mut self, g: u32, to: Peer, msg: Msg) -> Option<InFlight> {
        let conn = if matches!(msg, Msg::Connect { .. }) {
            self.conn_device.push(match to {
                Peer::Hub => g,
                Peer::Dps => g | DPS_CONN,
            });
            let c = (self.conn_device.len() - 1) as u32;
            let conns = &mut self.conns[g as usize];
            match to {
                Peer::Hub => {
                    conns.hub = c;
                    conns.hub_latest = c;
                }
                Peer::Dps => {
                    conns.dps = c;
                    conns.dps_latest = c;
                }
            }
            c
        } else {
            self.conns[g as usize].current(to)
        };
        (conn != 0).then_some(InFlight {
            device: g,
            conn,
            peer: to,
            up: true,
            attempts: 0,
            msg,
        })
    }

    /// Device `g` closes its connection to `peer`: its id, if it had one.
    pub(crate) fn close(&mut self, g: u32, peer: Peer) -> Option<u32> {
        let conn = std::mem::take(self.conns[g as usize].current_mut(peer));
        (conn != 0).then_some(conn)
    }

    /// Device `g` lost its connection to `peer` without closing it (a crash): its id, if any.
    pub(crate) fn forget(&mut self, g: u32, peer: Peer) -> Option<u32> {
        self.close(g, peer)
    }

    /// The service side closed `conn` (device `g`'s current hub connection): the device
    /// hears of it one minimum link latency after `at`, with the service's error code.
    pub(crate) fn service_closed(
        &mut self,
        k: &mut Kernel,
        g: u32,
        conn: u32,
        at: SimTime,
        code: u32,
    ) {
        self.conns[g as usize].hub = 0;
        let c = self.min_latency.partition_point(|&(base, _)| base <= g) - 1;
        let at = at.max(k.now()) + self.min_latency[c].1;
        k.schedule(
            at,
            Event::new(
                EntityId(g),
                DEVICE_LINK_DOWN,
                u64::from(code) << 32 | u64::from(conn),
            ),
        );
    }

    /// A packet for device `g` arrived (the payload of a `DEVICE_RX` event): the packet, if
    /// the network delivered it and its connection is still the device's current one.
    pub(crate) fn arrive_down(&mut self, slot: u64) -> Option<InFlight> {
        let p = self.slab.take(slot);
        if !self.net.arrive(self.downlink(p.device)) || !self.current(&p) {
            return None;
        }
        Some(p)
    }

    /// A packet for a service arrived: the packet, if the network delivered it and its
    /// connection is still current.
    pub(crate) fn arrive_up(&mut self, slot: u64) -> Option<InFlight> {
        let p = self.slab.take(slot);
        if !self.net.arrive(self.uplink(p.device)) || !self.current(&p) {
            return None;
        }
        Some(p)
    }

    /// Takes a parked packet (deferred by a service, or waiting for a retransmission).
    pub(crate) fn take(&mut self, slot: u64) -> InFlight {
        self.slab.take(slot)
    }

    /// Parks a packet until `at` as `kind` on `target`.
    pub(crate) fn park(
        &mut self,
        k: &mut Kernel,
        at: SimTime,
        target: EntityId,
        kind: sim::EventKind,
        p: InFlight,
    ) {
        let slot = self.slab.insert(p);
        k.schedule(at, Event::new(target, kind, slot));
    }

    /// A `DEVICE_LINK_DOWN` event's news for device `g`, as a reason to give its firmware:
    /// `None` if the news is stale (the device has opened another connection since, or is no
    /// longer talking to that peer).
    pub(crate) fn link_down_news(
        &self,
        g: u32,
        payload: u64,
        connected_peer: Option<Peer>,
    ) -> Option<DisconnectReason> {
        let conn = payload as u32;
        let (_, peer) = self.conn_owner(conn)?;
        let conns = &self.conns[g as usize];
        if conns.current(peer) != 0 || conns.latest(peer) != conn || connected_peer != Some(peer) {
            return None;
        }
        let code = (payload >> 32) as u32;
        Some(if code == 0 {
            DisconnectReason::Network
        } else {
            DisconnectReason::Server(code)
        })
    }
}

impl SolutionWorld {
    /// Sends a packet over the device's link (up or down), retransmitting lost segments.
    pub(super) fn transmit(&mut self, k: &mut Kernel, p: InFlight) {
        let link = if p.up {
            self.transport.uplink(p.device)
        } else {
            self.transport.downlink(p.device)
        };
        // Only LoRaWAN children need their class looked up before the packet is sized.
        let lora_class = if self.transport.duty.is_empty() {
            None
        } else {
            Some(self.fleet.locate(p.device).0)
        };
        let size = match lora_class.and_then(|c| self.transport.lora[c].as_ref()) {
            Some(radio) => {
                let bytes = lora_payload_bytes(&p.msg);
                if p.up {
                    // A LoRaWAN device may not transmit before its sub-band's off-time has
                    // passed (EU868 1 %): the frame waits, it is not lost.
                    let airtime = radio.airtime(bytes);
                    let duty = &mut self.transport.duty[p.device as usize];
                    if let TxDecision::Deferred { until } =
                        duty.handle_transmit(k.now(), airtime, EU868_DUTY_CYCLE)
                    {
                        self.transport.duty_deferred[lora_class.expect("a LoRaWAN class")] += 1;
                        if self.traced(p.device) {
                            self.note_deferred(k.now(), &p, until);
                        }
                        let slot = self.transport.slab.insert(p);
                        k.schedule(until, Event::new(EntityId(0), RETRANSMIT, slot));
                        return;
                    }
                }
                bytes
            }
            None => p
                .msg
                .encoded_len(&self.fleet.firmware(p.device).schemas)
                .unwrap_or(64) as u32,
        };
        if p.up {
            let (c, local) = self.fleet.locate(p.device);
            self.fleet.class_mut(c).on_transmit(local, k.now(), size);
        }
        let hub = self.cloud.hub_of(p.device);
        if p.up && p.peer == Peer::Hub && hub.is_none() {
            // No hub has this device (its registration failed): nobody answers the SYN.
            self.break_connection(k, p.device, p.conn, p.peer);
            return;
        }
        let parent = self.edge.parent(p.device);
        let (target, kind) = match (p.up, p.peer) {
            (true, Peer::Hub) if parent.is_some() => (EntityId(parent.expect("checked")), GW_RX),
            (true, Peer::Hub) => (
                EntityId(HUB_BASE - hub.expect("checked above") as u32),
                HUB_RX,
            ),
            (true, Peer::Dps) => (DPS_ENTITY, DPS_RX),
            (false, _) => (EntityId(p.device), DEVICE_RX),
        };
        let outcome = self.transport.net.send(k.now(), link, size, 0);
        match outcome {
            // A duplicated segment is discarded by the receiving TCP: only the first copy is
            // delivered (the schema sets no link duplication yet; the seam is here).
            SendOutcome::Delivered {
                at,
                duplicate_at: _,
            } => self.transport.park(k, at, target, kind, p),
            // Lost, or held by a clogged link: TCP retransmits after its timeout. A held
            // packet an unclog releases later would be a duplicate of the retransmission,
            // which TCP discards, so `Applied::released` is not scheduled (see faults.rs).
            SendOutcome::Dropped(_) | SendOutcome::Held => {
                if self.traced(p.device) {
                    self.note_lost(k.now(), &p, outcome);
                }
                if p.attempts >= self.transport.max_retries {
                    self.break_connection(k, p.device, p.conn, p.peer);
                } else {
                    self.transport.retransmits += 1;
                    let rto = self.transport.rto * (1u64 << p.attempts.min(10));
                    let slot = self.transport.slab.insert(InFlight {
                        attempts: p.attempts + 1,
                        ..p
                    });
                    k.schedule_in(rto, Event::new(EntityId(0), RETRANSMIT, slot));
                }
            }
        }
    }

    /// A retransmission timeout fired: send again if the connection still stands.
    pub(super) fn on_retransmit(&mut self, k: &mut Kernel, slot: u64) {
        let p = self.transport.take(slot);
        if self.transport.current(&p) {
            self.transmit(k, p);
        }
    }

    /// TCP gave up: both ends learn the connection is gone.
    fn break_connection(&mut self, k: &mut Kernel, g: u32, conn: u32, peer: Peer) {
        if self.transport.conns[g as usize].current(peer) != conn {
            return;
        }
        self.transport.broken += 1;
        if self.traced(g) {
            let detail = format!(
                "TCP gives up on its connection to the {} after {} retransmissions",
                if peer == Peer::Hub { "hub" } else { "DPS" },
                self.transport.max_retries
            );
            self.note(k.now(), g, "broken", None, detail);
        }
        self.close_service_side(k.now(), g, conn, peer);
        *self.transport.conns[g as usize].current_mut(peer) = 0;
        k.schedule_in(
            SimDuration::ZERO,
            Event::new(EntityId(g), DEVICE_LINK_DOWN, u64::from(conn)),
        );
    }
}
