//! The cloud: IoT Hubs, the Device Provisioning Service with one symmetric-key enrollment
//! group per device class (reference §2.2), and the maps between a hub's registry and the
//! fleet's devices.

use super::{
    build_err, BuildError, SolutionWorld, WorldConfig, DPS_DEFERRED, DPS_ENTITY, DPS_RX, HUBS_MAX,
    HUB_BASE, HUB_DEFERRED, HUB_RX, HUB_WAKE,
};
use crate::world::transport::InFlight;
use dps::{Dps, DpsOutput, EnrollmentGroup, ReprovisionPolicy};
use firmware::Peer;
use hub::{Hub, HubOutput};
use iot_messages::sas::derive_device_key_bytes;
use iot_messages::{DeviceId, Msg};
use sim::{EntityId, Event, Kernel, Seed, SimTime, StreamKey};

/// No hub: the device's registration has not happened or failed.
const NO_HUB: u8 = u8::MAX;

pub(crate) struct Cloud {
    pub(crate) hubs: Vec<Hub>,
    pub(crate) dps: Dps,
    /// Per hub: its registry index → the global device.
    hub_ix_device: Vec<Vec<u32>>,
    /// Per device: the hub it is assigned to (index into `hubs`), or [`NO_HUB`].
    device_hub: Vec<u8>,
    hub_wake: Vec<Option<SimTime>>,
}

impl Cloud {
    pub(crate) fn new(cfg: &WorldConfig) -> Result<Cloud, BuildError> {
        if cfg.hubs.is_empty() || cfg.hubs.len() > HUBS_MAX {
            return Err(build_err(
                "hubs",
                format!("{} hubs; expected 1 to {HUBS_MAX}", cfg.hubs.len()),
            ));
        }
        // One schema set for every hub: each class's firmware names its schema in it.
        let schemas = cfg
            .classes
            .first()
            .map(|c| c.firmware.schemas.clone())
            .unwrap_or_default();
        let mut hubs = Vec::with_capacity(cfg.hubs.len());
        for (h, hc) in cfg.hubs.iter().enumerate() {
            let hub = Hub::new(hc.clone(), schemas.clone())
                .map_err(|e| build_err(&format!("hubs[{h}]"), e))?;
            hubs.push(hub);
        }
        let mut dps = Dps::new(cfg.dps.clone()).map_err(|e| build_err("dps", e))?;
        for (c, class) in cfg.classes.iter().enumerate() {
            dps.add_group(EnrollmentGroup {
                name: class.name.clone(),
                group_key: class.group_key.clone(),
                policy: class.allocation.clone(),
                hubs: Vec::new(),
                reprovision: ReprovisionPolicy::MigrateData,
                initial_twin: class.initial_twin.clone(),
                enabled: true,
            })
            .map_err(|e| build_err(&format!("classes[{c}].enrollment"), e))?;
        }
        let n: usize = cfg.classes.iter().map(|c| c.count as usize).sum();
        Ok(Cloud {
            hub_wake: vec![None; hubs.len()],
            hub_ix_device: vec![Vec::new(); hubs.len()],
            hubs,
            dps,
            device_hub: vec![NO_HUB; n],
        })
    }

    /// The hub device `g` is registered on, if any.
    pub(crate) fn hub_of(&self, g: u32) -> Option<usize> {
        let h = usize::from(self.device_hub[g as usize]);
        (h < self.hubs.len()).then_some(h)
    }

    /// The global device of hub `h`'s registry index `ix`.
    pub(crate) fn device_of(&self, h: usize, ix: u32) -> Option<u32> {
        self.hub_ix_device[h]
            .get(ix as usize)
            .copied()
            .filter(|&g| g != u32::MAX)
    }
}

impl SolutionWorld {
    /// The service side of device `g`'s connection `conn` to `peer` is gone.
    pub(super) fn close_service_side(&mut self, now: SimTime, g: u32, conn: u32, peer: Peer) {
        match peer {
            Peer::Hub if self.child_session_lost(g) => {}
            Peer::Hub => {
                if let Some(h) = self.cloud.hub_of(g) {
                    self.cloud.hubs[h].handle_connection_lost(now, hub::ConnId(conn));
                }
            }
            Peer::Dps => self.cloud.dps.handle_connection_lost(dps::ConnId(conn)),
        }
    }

    pub(super) fn on_hub_event(&mut self, k: &mut Kernel, h: usize, ev: Event) {
        let now = k.now();
        match ev.kind {
            HUB_RX => {
                let Some(p) = self.transport.arrive_up(ev.payload) else {
                    return;
                };
                if let Msg::Telemetry { values, .. } = &p.msg {
                    // The reading's content enters the trace, so a replay that differs in any
                    // value differs in its hash.
                    k.trace_digest(values_digest(p.device, values));
                }
                if self.traced(p.device) {
                    self.note_arrival(now, &p, "hub");
                }
                self.cloud.hubs[h].handle_packet(now, hub::ConnId(p.conn), &p.msg);
            }
            HUB_WAKE => {
                if self.cloud.hub_wake[h] != Some(now) {
                    return;
                }
                self.cloud.hub_wake[h] = None;
                self.cloud.hubs[h].handle_timeout(now);
            }
            HUB_DEFERRED => {
                let p = self.transport.take(ev.payload);
                self.transmit(k, p);
                return;
            }
            _ => return,
        }
        self.drain_hub(k, h);
    }

    /// Runs hub `h`'s outputs, then re-arms its wake-up.
    pub(super) fn drain_hub(&mut self, k: &mut Kernel, h: usize) {
        let now = k.now();
        while let Some(o) = self.cloud.hubs[h].poll_output() {
            match o {
                HubOutput::ToDevice { at, conn, msg } => {
                    let Some((g, _)) = self.transport.conn_owner(conn.0) else {
                        continue;
                    };
                    if !self.transport.is_current_hub_conn(g, conn.0) {
                        continue;
                    }
                    let p = InFlight {
                        device: g,
                        conn: conn.0,
                        peer: Peer::Hub,
                        up: false,
                        attempts: 0,
                        msg,
                    };
                    if at > now && self.traced(g) {
                        self.note_held(now, &p, at);
                    }
                    if at > now {
                        let target = EntityId(HUB_BASE - h as u32);
                        self.transport.park(k, at, target, HUB_DEFERRED, p);
                    } else {
                        self.transmit(k, p);
                    }
                }
                HubOutput::Disconnect { at, conn, reason } => {
                    let Some((g, _)) = self.transport.conn_owner(conn.0) else {
                        continue;
                    };
                    if !self.transport.is_current_hub_conn(g, conn.0) {
                        continue;
                    }
                    if matches!(
                        reason,
                        hub::HubError::Throttled | hub::HubError::QuotaExceeded
                    ) {
                        self.acct.metrics.inc(self.acct.ids.throttled);
                    }
                    if self.traced(g) {
                        let detail = format!("the hub closes the connection: {reason}");
                        self.note(now, g, "refused", None, detail);
                    }
                    self.transport
                        .service_closed(k, g, conn.0, at, reason.code());
                }
                HubOutput::MethodResult { at, call, result } => {
                    self.on_method_result(k, h, at, call.0, result)
                }
                HubOutput::Feedback { at, record } => self.on_feedback(k, at, record),
            }
        }
        let want = self.cloud.hubs[h].poll_timeout();
        if want != self.cloud.hub_wake[h] {
            if let Some(t) = want {
                self.cloud.hub_wake[h] = Some(t.max(now));
                k.schedule(
                    t.max(now),
                    Event::new(EntityId(HUB_BASE - h as u32), HUB_WAKE, 0),
                );
            }
        }
    }

    pub(super) fn on_dps_event(&mut self, k: &mut Kernel, ev: Event) {
        let now = k.now();
        match ev.kind {
            DPS_RX => {
                let Some(p) = self.transport.arrive_up(ev.payload) else {
                    return;
                };
                if self.traced(p.device) {
                    self.note_arrival(now, &p, "DPS");
                }
                self.cloud
                    .dps
                    .handle_packet(now, dps::ConnId(p.conn), 0, &p.msg);
            }
            DPS_DEFERRED => {
                let p = self.transport.take(ev.payload);
                self.transmit(k, p);
                return;
            }
            _ => return,
        }
        let mut touched: Vec<usize> = Vec::new();
        while let Some(o) = self.cloud.dps.poll_output() {
            match o {
                DpsOutput::ToDevice { at, conn, msg } => {
                    let Some((g, _)) = self.transport.conn_owner(conn.0) else {
                        continue;
                    };
                    let p = InFlight {
                        device: g,
                        conn: conn.0,
                        peer: Peer::Dps,
                        up: false,
                        attempts: 0,
                        msg,
                    };
                    if at > now {
                        self.transport.park(k, at, DPS_ENTITY, DPS_DEFERRED, p);
                    } else {
                        self.transmit(k, p);
                    }
                }
                // DPS creates the identity now; the device hears of it at the output's `at`.
                DpsOutput::Assign {
                    hub,
                    device_id,
                    device_key,
                    previous_hub,
                    initial_twin,
                    migrate_twin,
                    ..
                } => {
                    touched.push(hub);
                    let twin = Assigned {
                        initial: initial_twin,
                        migrate: migrate_twin,
                    };
                    touched.extend(self.apply_assignment(
                        now,
                        hub,
                        &device_id,
                        &device_key,
                        previous_hub,
                        twin,
                    ));
                }
            }
        }
        // Registry changes may disconnect a device or move a hub's next wake-up.
        touched.sort_unstable();
        touched.dedup();
        for h in touched {
            self.drain_hub(k, h);
        }
    }

    /// The fleet device a DPS assignment's device id names.
    fn device_named(&self, id: &str) -> Option<u32> {
        (0..self.fleet.class_count()).find_map(|c| {
            let local = self.cfg.classes[c].ids.index_of(id)?;
            (local < self.fleet.class_len(c)).then(|| self.fleet.base(c) + local)
        })
    }

    /// Creates a DPS assignment's identity on its hub (deleting it from the previous hub when
    /// the device moved); returns the previous hub if it was touched.
    fn apply_assignment(
        &mut self,
        now: SimTime,
        hub: usize,
        device_id: &str,
        device_key: &[u8],
        previous_hub: Option<usize>,
        twin: Assigned,
    ) -> Option<usize> {
        let g = self.device_named(device_id);
        // The hub keeps the device's own id string when it is the same id (it always is for
        // a group enrollment): one copy per device, and topics match by pointer.
        let own = g.and_then(|g| self.fleet.devices.get(g as usize));
        let id = match own.map(|dev| dev.registration_id()) {
            Some(reg) if **reg == *device_id => DeviceId::from_arc(reg.clone()),
            _ => DeviceId::new(device_id),
        }
        .ok()?;
        let mut touched = None;
        // A device that moves takes its twin along when the group migrates data (reference
        // §2.4); otherwise it starts from the group's initial twin.
        let mut start = twin.initial.as_ref().map(twin_from_json);
        if let Some(prev) = previous_hub {
            if prev != hub {
                let old = self.cloud.hubs[prev].delete_device(now, device_id);
                if twin.migrate {
                    start = old.or(start);
                }
                touched = Some(prev);
            }
        }
        if let (Ok(ix), Some(g)) = (
            self.cloud.hubs[hub].register_device(now, &id, device_key, start),
            g,
        ) {
            self.cloud.device_hub[g as usize] = hub as u8;
            let map = &mut self.cloud.hub_ix_device[hub];
            let ix = ix.0 as usize;
            if map.len() <= ix {
                map.resize(ix + 1, u32::MAX);
            }
            map[ix] = g;
        }
        touched
    }

    /// Devices in service before the run: with probability `provisioned_ratio` a device's
    /// flash already holds the hub DPS gave it on an earlier day (the same allocation the
    /// protocol would make), and its identity exists on that hub. The rest provision over
    /// the protocol when they boot.
    pub(super) fn preprovision(&mut self) {
        let seed = Seed(self.cfg.seed);
        for c in 0..self.cfg.classes.len() {
            let class = &self.cfg.classes[c];
            if class.provisioned_ratio.is_zero() {
                continue;
            }
            let (ratio, group_key) = (class.provisioned_ratio, class.group_key.clone());
            let stream = class.stream.clone();
            let base = self.fleet.base(c);
            for g in base..base + self.fleet.class_len(c) {
                // A stream per device: whether device i was in service before does not
                // depend on how many devices the class has.
                let key = StreamKey::new(&stream, u64::from(g - base), "provisioned");
                if !ratio.chance(&mut seed.compact(key)) {
                    continue;
                }
                let reg = self.fleet.devices[g as usize].registration_id().clone();
                let key = derive_device_key_bytes(&group_key, &reg);
                if let Some(host) = self.cloud.dps.preprovision(SimTime::ZERO, &reg, &key, 0) {
                    self.fleet.devices[g as usize].install_assignment(host, reg);
                }
                while let Some(o) = self.cloud.dps.poll_output() {
                    // Preprovisioning queues only assignments; nothing goes to a device.
                    if let DpsOutput::Assign {
                        hub,
                        device_id,
                        device_key,
                        previous_hub,
                        initial_twin,
                        migrate_twin,
                        ..
                    } = o
                    {
                        let twin = Assigned {
                            initial: initial_twin,
                            migrate: migrate_twin,
                        };
                        self.apply_assignment(
                            SimTime::ZERO,
                            hub,
                            &device_id,
                            &device_key,
                            previous_hub,
                            twin,
                        );
                    }
                }
            }
        }
    }
}

/// What a DPS assignment says of the device's twin.
struct Assigned {
    initial: Option<serde_json::Value>,
    migrate: bool,
}

/// A twin from an enrollment's `initial_twin` (`{"tags": {…}, "desired": {…}}`, reference
/// §2.4): the desired properties start at version 1 when there are any.
fn twin_from_json(v: &serde_json::Value) -> hub::Twin {
    let section = |name: &str| {
        v.get(name)
            .and_then(serde_json::Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let desired = section("desired");
    hub::Twin {
        tags: section("tags"),
        desired_version: u64::from(!desired.is_empty()),
        desired,
        reported: serde_json::Map::new(),
        reported_version: 0,
    }
}

/// A digest of a telemetry reading for the trace hash.
pub(crate) fn values_digest(device: u32, v: &iot_messages::Values) -> u64 {
    let mut h = (u64::from(device) << 32) | u64::from(v.seq);
    for x in &v.v[..usize::from(v.len)] {
        h = sim::rng::mix64(h ^ x.to_bits());
    }
    h
}
