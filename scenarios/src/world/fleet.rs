//! The fleet: one slot per device (its firmware state and its armed wake-up), and one object
//! per device class holding its devices' hardware state. Device `g` is global; class `c`
//! holds devices `base(c)..base(c) + count(c)`, which its object sees as `0..count(c)`.

use super::{
    build_err, BuildError, ClassConfig, SolutionWorld, CLASS_WAKE, DEVICES_MAX, DEVICE_LINK_DOWN,
    DEVICE_RX, DEVICE_WAKE, POWER_ON,
};
use crate::class::{DeviceAction, DeviceClass};
use firmware::{
    Ctx, Device, DeviceLogic, DeviceOutput, FirmwareConfig, MethodCall, MethodReply, Peer,
};
use iot_messages::sas::derive_device_key_bytes;
use iot_messages::telemetry::FIELDS_MAX;
use serde_json::Value;
use sim::net::NodeId;
use sim::{EntityId, Epoch, Event, Kernel, Seed, SimTime, SkewedClock, StreamKey};
use std::sync::Arc;

/// A class in the fleet: its configuration, its object and its first global device.
struct ClassSlot {
    firmware: FirmwareConfig,
    logic: Box<dyn DeviceClass>,
    base: u32,
    count: u32,
    timestamp_field: usize,
    /// The class asks for hardware timers ([`DeviceClass::has_timers`]).
    timers: bool,
}

/// The class's logic as the firmware sees it: each reading the class samples gets the
/// device's clock (Unix seconds) in the timestamp field after the class's own fields.
struct Stamped<'a> {
    class: &'a mut dyn DeviceClass,
    timestamp_field: usize,
    epoch_unix_s: f64,
    clock: Option<SkewedClock>,
}

/// Device `g`'s clock, if a clock fault skewed it (`clocks` is empty until one does).
fn clock_of(clocks: &[Option<SkewedClock>], g: u32) -> Option<SkewedClock> {
    clocks.get(g as usize).copied().flatten()
}

/// The timestamp a device writes at `now`: Unix seconds by its clock, the simulated one
/// unless a clock fault skewed it.
fn stamp(epoch_unix_s: f64, clock: Option<SkewedClock>, now: SimTime) -> f64 {
    match clock {
        None => epoch_unix_s + now.as_secs_f64(),
        Some(c) => epoch_unix_s + c.local_nanos(now) as f64 * 1e-9,
    }
}

impl DeviceLogic for Stamped<'_> {
    fn sample(&mut self, device: u32, now: SimTime, out: &mut [f64; FIELDS_MAX]) -> usize {
        let ts = self.timestamp_field;
        let n = self.class.sample(device, now, out).min(ts);
        // Fields the class left out are absent.
        out[n..ts].fill(f64::NAN);
        out[ts] = stamp(self.epoch_unix_s, self.clock, now);
        ts + 1
    }
    fn on_desired(&mut self, device: u32, now: SimTime, desired: &Value) -> Option<Value> {
        self.class.on_desired(device, now, desired)
    }
    fn on_method(&mut self, device: u32, now: SimTime, call: MethodCall<'_>) -> MethodReply {
        self.class.on_method(device, now, call)
    }
    fn on_c2d(&mut self, device: u32, now: SimTime, bag: &str, body: &[u8]) {
        self.class.on_c2d(device, now, bag, body)
    }
    fn reported_on_connect(&mut self, device: u32, now: SimTime) -> Option<Value> {
        self.class.reported_on_connect(device, now)
    }
}

pub(crate) struct Fleet {
    classes: Vec<ClassSlot>,
    pub(crate) devices: Vec<Device>,
    /// Per device: the wake-up generation, and the armed wake-up time.
    wake_gen: Vec<u32>,
    wake_at: Vec<SimTime>,
    /// Per device of a class with timers: its armed hardware timer (empty if no class has
    /// timers).
    class_wake: Vec<SimTime>,
    /// Outputs of the device being handled (reused: no allocation per event).
    pub(crate) out: Vec<DeviceOutput>,
    epoch_unix_s: f64,
    /// Per device, its clock once a clock fault skewed it (empty until one does).
    clocks: Vec<Option<SkewedClock>>,
}

impl Fleet {
    pub(crate) fn new(
        seed: Seed,
        epoch: Epoch,
        configs: &[ClassConfig],
        objects: Vec<Box<dyn DeviceClass>>,
    ) -> Result<Fleet, BuildError> {
        if configs.len() != objects.len() {
            return Err(build_err(
                "classes",
                format!(
                    "{} class configurations but {} class objects",
                    configs.len(),
                    objects.len()
                ),
            ));
        }
        let total: u64 = configs.iter().map(|c| u64::from(c.count)).sum();
        if total > u64::from(DEVICES_MAX) {
            return Err(build_err(
                "classes",
                format!("{total} devices; expected at most {DEVICES_MAX}"),
            ));
        }
        let mut classes = Vec::with_capacity(configs.len());
        let mut devices = Vec::with_capacity(total as usize);
        let mut base = 0u32;
        for (c, (cfg, logic)) in configs.iter().zip(objects).enumerate() {
            let field = format!("classes[{c}]");
            let firmware_stream = format!("{}/firmware", cfg.stream);
            if logic.len() != cfg.count {
                return Err(build_err(
                    &field,
                    format!(
                        "the class object holds {} devices; the configuration says {}",
                        logic.len(),
                        cfg.count
                    ),
                ));
            }
            cfg.firmware
                .validate()
                .map_err(|e| build_err(&format!("{field}.firmware"), e))?;
            if cfg.timestamp_field >= FIELDS_MAX {
                return Err(build_err(
                    &format!("{field}.timestamp_field"),
                    format!("{}: expected below {FIELDS_MAX}", cfg.timestamp_field),
                ));
            }
            for i in 0..cfg.count {
                let reg: Arc<str> = Arc::from(cfg.ids.format(i));
                let key = derive_device_key_bytes(&cfg.group_key, &reg);
                let rng = seed.compact(StreamKey::new(&firmware_stream, u64::from(i), "run"));
                devices.push(Device::new(i, reg, Arc::from(&key[..]), rng));
            }
            classes.push(ClassSlot {
                firmware: cfg.firmware.clone(),
                logic,
                base,
                count: cfg.count,
                timestamp_field: cfg.timestamp_field,
                timers: false,
            });
            base += cfg.count;
        }
        let n = devices.len();
        for slot in &mut classes {
            slot.timers = slot.logic.has_timers();
        }
        let any_timers = classes.iter().any(|s| s.timers);
        Ok(Fleet {
            classes,
            devices,
            wake_gen: vec![0; n],
            wake_at: vec![SimTime::MAX; n],
            class_wake: if any_timers {
                vec![SimTime::MAX; n]
            } else {
                Vec::new()
            },
            out: Vec::new(),
            epoch_unix_s: epoch.unix_secs() as f64,
            clocks: Vec::new(),
        })
    }

    pub(crate) fn len(&self) -> u32 {
        self.devices.len() as u32
    }

    /// The first global device of class `c`.
    pub(crate) fn base(&self, c: usize) -> u32 {
        self.classes[c].base
    }

    pub(crate) fn class_len(&self, c: usize) -> u32 {
        self.classes.get(c).map_or(0, |s| s.count)
    }

    pub(crate) fn class_count(&self) -> usize {
        self.classes.len()
    }

    /// The class of global device `g` and its index within the class.
    pub(crate) fn locate(&self, g: u32) -> (usize, u32) {
        let c = if self.classes.len() == 1 {
            0
        } else {
            self.classes.partition_point(|s| s.base <= g) - 1
        };
        (c, g - self.classes[c].base)
    }

    pub(crate) fn firmware(&self, g: u32) -> &FirmwareConfig {
        &self.classes[self.locate(g).0].firmware
    }

    pub(crate) fn class(&self, c: usize) -> &dyn DeviceClass {
        &*self.classes[c].logic
    }

    pub(crate) fn class_mut(&mut self, c: usize) -> &mut dyn DeviceClass {
        &mut *self.classes[c].logic
    }

    /// Calls `f` with device `g`'s firmware and a context holding its class's configuration
    /// and object and the output queue.
    pub(crate) fn with_device<R>(
        &mut self,
        g: u32,
        f: impl FnOnce(&mut Device, &mut Ctx<'_>) -> R,
    ) -> R {
        let (c, _) = self.locate(g);
        let slot = &mut self.classes[c];
        let mut logic = Stamped {
            class: &mut *slot.logic,
            timestamp_field: slot.timestamp_field,
            epoch_unix_s: self.epoch_unix_s,
            clock: clock_of(&self.clocks, g),
        };
        let mut ctx = Ctx {
            cfg: &slot.firmware,
            logic: &mut logic,
            out: &mut self.out,
        };
        f(&mut self.devices[g as usize], &mut ctx)
    }

    /// Device `g`'s clock steps by `step_ns` now and drifts by `drift_ppm` from now on.
    pub(crate) fn skew_clock(&mut self, g: u32, now: SimTime, drift_ppm: f64, step_ns: i64) {
        if self.clocks.is_empty() {
            self.clocks = vec![None; self.devices.len()];
        }
        // A fresh clock reads the simulated time; `set_drift` starts its drift now.
        let clock = self.clocks[g as usize].get_or_insert_with(SkewedClock::default);
        clock.set_drift(now, drift_ppm);
        clock.step(step_ns);
    }

    /// The timestamp device `g` writes at `now`.
    pub(crate) fn stamp(&self, g: u32, now: SimTime) -> f64 {
        stamp(self.epoch_unix_s, clock_of(&self.clocks, g), now)
    }

    /// Arms device `g`'s wake-up at its firmware's `poll_timeout`, unless already armed there.
    pub(crate) fn arm(&mut self, k: &mut Kernel, g: u32) {
        let i = g as usize;
        let want = self.devices[i]
            .poll_timeout(self.firmware(g))
            .unwrap_or(SimTime::MAX);
        if want == self.wake_at[i] {
            return;
        }
        self.wake_gen[i] = self.wake_gen[i].wrapping_add(1);
        self.wake_at[i] = want;
        if want != SimTime::MAX {
            k.schedule(
                want.max(k.now()),
                Event::new(EntityId(g), DEVICE_WAKE, u64::from(self.wake_gen[i])),
            );
        }
    }

    /// Whether a wake-up event of generation `generation` is still the armed one; if so it
    /// is disarmed.
    fn take_wake(&mut self, g: u32, generation: u64) -> bool {
        let i = g as usize;
        if generation != u64::from(self.wake_gen[i]) {
            return false;
        }
        self.wake_at[i] = SimTime::MAX;
        true
    }

    /// Arms device `g`'s hardware timer at its class's `poll_timeout`, if the class has
    /// timers and it is not armed there already. The event's payload is the armed time, so a
    /// stale one is recognised.
    pub(crate) fn arm_class(&mut self, k: &mut Kernel, g: u32) {
        let (c, local) = self.locate(g);
        if !self.classes[c].timers {
            return;
        }
        let want = self.classes[c]
            .logic
            .poll_timeout(local)
            .map_or(SimTime::MAX, |t| t.max(k.now()));
        if want == self.class_wake[g as usize] {
            return;
        }
        self.class_wake[g as usize] = want;
        if want != SimTime::MAX {
            k.schedule(want, Event::new(EntityId(g), CLASS_WAKE, want.as_nanos()));
        }
    }

    /// Whether a class timer event (its payload the time it was armed for) is the armed one;
    /// if so it is disarmed.
    fn take_class_wake(&mut self, g: u32, now: SimTime, payload: u64) -> bool {
        let armed = self.class_wake.get(g as usize).copied();
        if armed != Some(now) || now.as_nanos() != payload {
            return false;
        }
        self.class_wake[g as usize] = SimTime::MAX;
        true
    }

    /// Readings still buffered on the devices.
    pub(crate) fn buffered(&self) -> u64 {
        self.devices.iter().map(|d| d.buffered() as u64).sum()
    }
}

impl SolutionWorld {
    pub(super) fn on_device_event(&mut self, k: &mut Kernel, ev: Event) {
        let g = ev.target.0;
        let now = k.now();
        match ev.kind {
            POWER_ON => {
                // A device whose node is down (crashed during the boot window) boots when
                // the fault plan restarts it, not before.
                if !self.fleet.devices[g as usize].is_off() || !self.transport.node_up(NodeId(g)) {
                    return;
                }
                self.acct.counts.boots += 1;
                if self.traced(g) {
                    self.note(now, g, "boot", None, "powers on".into());
                }
                self.fleet.with_device(g, |d, ctx| d.power_on(now, ctx));
            }
            DEVICE_WAKE => {
                if !self.fleet.take_wake(g, ev.payload) {
                    return;
                }
                self.fleet
                    .with_device(g, |d, ctx| d.handle_timeout(now, ctx));
            }
            DEVICE_RX => {
                let Some(p) = self.transport.arrive_down(ev.payload) else {
                    return;
                };
                if self.traced(g) {
                    self.note_packet(now, g, p.peer, &p.msg, false);
                }
                if self.gateway_ack(k, g, &p.msg) {
                    return;
                }
                self.fleet
                    .with_device(g, |d, ctx| d.handle_msg(now, p.peer, &p.msg, ctx));
            }
            CLASS_WAKE => {
                if !self.fleet.take_class_wake(g, now, ev.payload) {
                    return;
                }
                let (c, local) = self.fleet.locate(g);
                self.fleet.class_mut(c).handle_timeout(local, now);
            }
            DEVICE_LINK_DOWN => {
                let Some(reason) = self.transport.link_down_news(
                    g,
                    ev.payload,
                    self.fleet.devices[g as usize].connected_peer(),
                ) else {
                    return;
                };
                if self.traced(g) {
                    let why = match reason {
                        firmware::DisconnectReason::Network => {
                            "the network or the peer vanished".to_string()
                        }
                        firmware::DisconnectReason::Server(code) => {
                            format!("the service closed it with {code}")
                        }
                    };
                    self.note(
                        now,
                        g,
                        "disconnected",
                        None,
                        format!("connection lost: {why}"),
                    );
                }
                self.fleet
                    .with_device(g, |d, ctx| d.handle_disconnected(now, reason, ctx));
            }
            super::GW_RX | super::GW_WAKE => return self.on_gateway_event(k, ev),
            other => unreachable!("device event of kind {other:?}"),
        }
        self.settle(k, g);
    }

    /// After any call into device `g`'s firmware or class: its outputs, the actions its class
    /// queued (for any of its devices), and its timers.
    pub(super) fn settle(&mut self, k: &mut Kernel, g: u32) {
        self.drain_device(k, g);
        let (c, _) = self.fleet.locate(g);
        self.run_actions(k, c);
        self.fleet.arm_class(k, g);
        self.after_gateway_firmware(k, g);
    }

    /// Carries out the actions class `c` queued, through each device's firmware.
    fn run_actions(&mut self, k: &mut Kernel, c: usize) {
        let now = k.now();
        let base = self.fleet.base(c);
        let count = self.fleet.class_len(c);
        let ts = self.cfg.classes[c].timestamp_field;
        while let Some(action) = self.fleet.class_mut(c).poll_action() {
            let local = match &action {
                DeviceAction::Publish { device, .. }
                | DeviceAction::ReplyMethod { device, .. }
                | DeviceAction::Report { device, .. } => *device,
            };
            assert!(
                local < count,
                "class {} queued an action for device {local} of {count}",
                self.cfg.classes[c].name
            );
            let g = base + local;
            let stamp = self.fleet.stamp(g, now);
            self.fleet.with_device(g, |d, ctx| match &action {
                DeviceAction::Publish { values, len, .. } => {
                    let mut v = [f64::NAN; FIELDS_MAX];
                    let n = usize::from(*len).min(ts);
                    v[..n].copy_from_slice(&values[..n]);
                    v[ts] = stamp;
                    d.publish(now, c as u16, &v[..=ts], ctx);
                }
                DeviceAction::ReplyMethod {
                    rid, status, body, ..
                } => {
                    d.reply_method(now, *rid, *status, body, ctx);
                }
                DeviceAction::Report { patch, .. } => {
                    d.report(now, patch, ctx);
                }
            });
            self.drain_device(k, g);
            self.fleet.arm_class(k, g);
        }
    }

    /// Runs device `g`'s outputs: packets onto the network, closes, records; then re-arms
    /// its wake-up.
    pub(super) fn drain_device(&mut self, k: &mut Kernel, g: u32) {
        let mut out = std::mem::take(&mut self.fleet.out);
        if self.traced(g) {
            self.note_outputs(k.now(), g, &out);
        }
        for o in out.drain(..) {
            match o {
                DeviceOutput::Send { to, msg } => {
                    if let iot_messages::Msg::Telemetry { values, .. } = &msg {
                        let (c, _) = self.fleet.locate(g);
                        let ts = self.cfg.classes[c].timestamp_field;
                        let unix = values.v[ts] - self.cfg.epoch.unix_secs() as f64;
                        let sampled = SimTime::from_nanos((unix.max(0.0) * 1e9) as u64);
                        self.acct.on_publish(g, values.seq, sampled, k.now());
                    }
                    if let Some(p) = self.transport.open_or_current(g, to, msg) {
                        self.transmit(k, p);
                    }
                }
                DeviceOutput::Close { peer } => {
                    if let Some(conn) = self.transport.close(g, peer) {
                        self.close_service_side(k.now(), g, conn, peer);
                    }
                }
                DeviceOutput::Record(r) => self.acct.on_record(g, r),
            }
        }
        self.fleet.out = out;
        self.fleet.arm(k, g);
    }

    /// A crash from the fault plan: the firmware loses its RAM, the class its volatile
    /// hardware state, and both of the device's connections close on the service side.
    pub(super) fn crash_device(&mut self, k: &mut Kernel, g: u32) {
        let now = k.now();
        if self.traced(g) {
            let detail = "crashes (fault plan): RAM and unsent readings in RAM are lost".into();
            self.note(now, g, "crash", None, detail);
        }
        self.fleet.with_device(g, |d, ctx| d.crash(now, ctx));
        let (c, local) = self.fleet.locate(g);
        self.fleet.class_mut(c).on_crash(local, now);
        self.gateway_crashed(k, g);
        for peer in [Peer::Hub, Peer::Dps] {
            if let Some(conn) = self.transport.forget(g, peer) {
                self.close_service_side(now, g, conn, peer);
            }
        }
        self.settle(k, g);
    }
}
