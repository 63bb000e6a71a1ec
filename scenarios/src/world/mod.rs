//! The solution world: every scenario runs on it. Device classes, their firmware, the
//! network, DPS, IoT Hub, the time-series store and the back end's rules, wired on the kernel.
//!
//! ```text
//!  class c, device i ──(uplink: loss, latency)──► cloud ─► DPS ─┐ assign
//!  (DeviceClass: hardware,   firmware (sans-IO)                 ▼
//!   sample, truth)   ◄──(downlink)── PUBACK / DPS / twin ◄──── IoT Hub ──► built-in endpoint
//!                                                                 │ partitions (by device)
//!                                                                 ▼
//!                           back end, every poll: store (TSI Gen2) ──► rules ──► alerts
//! ```
//!
//! The world is split by responsibility, one module each:
//!
//! | module | owns |
//! |---|---|
//! | [`fleet`] | the device slots: firmware state, wake-ups, the class objects |
//! | [`transport`] | links, connections, in-flight packets, the simplified TCP |
//! | [`cloud`] | hubs, DPS and its enrollment groups, the registry ↔ device maps |
//! | [`backend`] | endpoint consumers, the store, the rules |
//! | [`faults`] | the fault plan built from the scenario's selectors |
//! | [`accounting`] | counters, sequence bitmaps, metrics |
//! | [`scoring`] | invariants, scores against the classes' ground truth, report data |
//!
//! **Entities.** Device `g` (global: the classes' devices one after another) is
//! `EntityId(g)`; the hubs, DPS, back end, fault plan and metrics sampler have fixed ids at
//! the top of the `u32` range. Every model is sans-IO: the world calls its `handle_*` verbs,
//! drains its outputs and arms its `poll_timeout` as a kernel event. Device wake-ups use lazy
//! invalidation: the event carries a generation and a stale one is ignored, so nothing is
//! ever cancelled.
//!
//! **Transport.** MQTT runs over TCP, so a packet the network loses is not lost to MQTT: it
//! is retransmitted after a retransmission timeout (1 s, doubling) **[simplified TCP]**.
//! After `tcp_max_retries` failures (a partition, a crashed peer) the connection breaks and
//! both ends are told. So network loss shows as latency, and outages as reconnect storms, as
//! on a real deployment. Left out: head-of-line blocking. A segment sent after a lost one is
//! delivered without waiting for the retransmission, so publishes can reach the hub out of
//! order and a close can overtake a retransmitted publish; the store's de-duplication by
//! sequence number keeps the accounting exact, and latency after a loss is slightly
//! optimistic.
//!
//! **Accounting.** The firmware reports every sample, acknowledgement and drop
//! ([`firmware::Record`]); the world counts them, and keeps per-device bitmaps of acknowledged
//! and stored sequence numbers so the end-of-run checker proves every acknowledged reading was
//! stored exactly once.

pub mod accounting;
pub mod as_run;
pub mod backend;
pub mod cloud;
mod convergence;
pub mod edge;
pub mod faults;
pub mod fleet;
pub mod ids;
pub mod notify;
pub mod scoring;
pub mod service;
mod slab;
pub mod story;
mod templates;
pub mod transport;
mod verdicts;

use crate::app::{App, Directory};
use crate::class::DeviceClass;
use crate::summary::Summary;
use accounting::Accounting;
use analytics::AnalyticsConfig;
use backend::Backend;
use cloud::Cloud;
use dps::DpsConfig;
use firmware::FirmwareConfig;
use fleet::Fleet;
use hub::HubConfig;
pub use ids::IdPattern;
use sim::fault::FaultPlan;
use sim::net::LinkProfile;
use sim::{EntityId, Epoch, Event, EventKind, Kernel, Ratio, Seed, SimDuration, SimTime, World};
use store::{Schema, StoreConfig};
use transport::Transport;

/// Everything a world needs, validated and resolved from a scenario file.
#[derive(Clone)]
pub struct WorldConfig {
    pub seed: u64,
    pub epoch: Epoch,
    pub duration: SimDuration,
    /// The device classes, in order: class `c`'s devices follow class `c - 1`'s.
    pub classes: Vec<ClassConfig>,
    pub hubs: Vec<HubConfig>,
    pub dps: DpsConfig,
    pub network: NetworkConfig,
    /// Shares of the fleet (or of a class) that crash, and reboot after a downtime.
    pub crashes: Vec<CrashFault>,
    /// Faults the classes model in their hardware.
    pub hardware_faults: Vec<HardwareFault>,
    /// Device clocks stepped and drifting.
    pub clock_faults: Vec<ClockFault>,
    pub backend: BackendConfig,
    /// Detection grace after an episode ends, for scoring.
    pub score_grace: SimDuration,
    pub invariants: Vec<InvariantSpec>,
    /// Metrics sampling interval for the report's time series.
    pub sample_interval: SimDuration,
    /// The scenario's scheduled commands (run by a built-in app named `schedule`).
    pub schedule: Vec<service::Scheduled>,
    /// How the e-mail, SMS and webhook channels deliver (in [`notify::CHANNELS`] order).
    pub notifiers: [notify::ChannelDelivery; 3],
    /// The classes of IoT Edge gateways and the classes behind them.
    pub gateways: Vec<crate::file::edge::GatewaySpec>,
    /// Devices' own links to the cloud cut for a while (a gateway's: the site's uplink).
    pub uplink_faults: Vec<crate::file::edge::UplinkFault>,
}

/// One device class as the world runs it (its behaviour is the [`DeviceClass`] object).
#[derive(Clone)]
pub struct ClassConfig {
    /// The class's name: its DPS enrollment group is named after it.
    pub name: String,
    pub count: u32,
    pub ids: IdPattern,
    pub firmware: FirmwareConfig,
    /// Devices power on uniformly over this window from time zero.
    pub boot_window: SimDuration,
    /// The share of devices provisioned before the run: their flash holds the hub DPS would
    /// give them, and their identity exists on that hub.
    pub provisioned_ratio: Ratio,
    /// The class's DPS enrollment group key (symmetric-key attestation, reference §2.2).
    pub group_key: Vec<u8>,
    /// The enrollment group's allocation policy; `None` uses the instance's.
    pub allocation: Option<dps::AllocationPolicy>,
    /// The twin (`{"tags": …, "desired": …}`) a newly assigned device starts with.
    pub initial_twin: Option<serde_json::Value>,
    /// Device ↔ cloud link (radio and backhaul together).
    pub link: LinkProfile,
    /// The radio the link was made from: a LoRaWAN class behind an IoT Edge gateway sends
    /// LoRaWAN frames under the duty cycle (`transport.rs`).
    pub radio: hardware::radio::RadioProfile,
    /// The stream-key name of the class's boot and provisioning draws.
    pub stream: String,
    /// The class's telemetry fields, in order, without the timestamp.
    pub fields: Vec<String>,
    /// Where the world writes the device's clock (Unix seconds) into each reading: the
    /// field after the ones the class samples.
    pub timestamp_field: usize,
    /// The class's device model, if its kind has one.
    pub model: Option<DeviceModel>,
}

/// A class's device model (DTDL v2, reference §6) and the telemetry fields the class sends
/// that the model does not declare (a file with `unmodeled = "flag"`; otherwise refused).
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceModel {
    pub interface: std::sync::Arc<crate::dtdl::Interface>,
    pub unmodeled: Vec<String>,
}

/// The towers that outages take down, and the simplified TCP.
#[derive(Clone)]
pub struct NetworkConfig {
    /// Devices served by one cell tower; an outage partitions a tower's devices.
    pub devices_per_tower: u32,
    pub outages: Vec<Outage>,
    pub tcp_rto: SimDuration,
    pub tcp_max_retries: u8,
}

/// A cell-tower outage: the devices of `towers` towers (picked from the seed) are cut off
/// from the cloud for a while.
#[derive(Clone, Debug, PartialEq)]
pub struct Outage {
    pub start: SimTime,
    pub duration: SimDuration,
    pub towers: u32,
}

/// A share of the fleet (or of one class) crashes at `at` and restarts `downtime` later.
#[derive(Clone, Debug, PartialEq)]
pub struct CrashFault {
    pub ratio: Ratio,
    pub at: SimTime,
    pub downtime: SimDuration,
    /// Only this class's devices; `None`: every device.
    pub class: Option<usize>,
}

/// A hardware fault on some of a class's devices from `start` to `end` (the class models it,
/// [`DeviceClass::on_fault`]).
#[derive(Clone, Debug, PartialEq)]
pub struct HardwareFault {
    pub class: usize,
    pub fault: String,
    /// Class-local device indices, ascending.
    pub devices: Vec<u32>,
    pub start: SimTime,
    pub end: SimTime,
}

/// From `at`, the clocks of some of a class's devices are stepped by `step_ns` and drift by
/// `drift_ppm` (a [`sim::SkewedClock`] per device): the timestamp field they write follows
/// their clock. Their timers, and the expiry of the SAS tokens they sign, keep the simulated
/// clock (an assumption: the firmware model has one clock).
#[derive(Clone, Debug, PartialEq)]
pub struct ClockFault {
    pub class: usize,
    /// Class-local device indices, ascending.
    pub devices: Vec<u32>,
    pub at: SimTime,
    pub drift_ppm: f64,
    pub step_ns: i64,
}

/// The back end's built-in apps: a TSI-style store with one time-series type per class, and
/// the rules over one class's telemetry.
#[derive(Clone)]
pub struct BackendConfig {
    /// Per class, the store's columns: the class's telemetry fields without the timestamp.
    pub schemas: Vec<Schema>,
    /// The class the rules run on.
    pub rules_class: usize,
    pub store: StoreConfig,
    pub analytics: AnalyticsConfig,
    /// How often the back end reads the hubs' built-in endpoints.
    pub poll: SimDuration,
}

/// An invariant the run is judged by, over the back end's rules and the ground truth.
#[derive(Clone, Debug, PartialEq)]
pub enum InvariantSpec {
    /// The rule's recall is at least `min`, over episodes that began at least `min_age`
    /// before the end (younger ones are reported, not judged).
    Recall {
        rule: String,
        min: f64,
        min_age: SimDuration,
    },
    /// The rule raises no alert for a device that never had an episode of its truth kind.
    NoAlertWithoutEpisode { rule: String },
    /// Every episode of the rule's truth kind that ends within the run is flagged before it
    /// ends.
    FlaggedBeforeEnd { rule: String },
    /// The rule's alert latency (from episode onset) at the 99th percentile is at most this.
    AlertLatency { rule: String, p99_max: SimDuration },
    /// Readings reach the rules within this at the 99th percentile.
    TelemetryLatency { p99_ms_max: f64 },
    /// At least this share of direct-method calls were answered with status 200.
    MethodsAnswered { min: f64 },
    /// At the end, at least this share of the class's devices whose desired properties the
    /// back end set report every one of them.
    TwinsConverged { class: usize, min: f64 },
    /// At least this share of the notifications sent were delivered.
    NotificationsDelivered { min: f64 },
    /// A figure a class or an app reports lies within `[min, max]`.
    Figure {
        of: String,
        figure: String,
        min: f64,
        max: f64,
    },
    /// App `app`'s belief about class `class`'s device states matches their true states for
    /// at least `min` of the devices, `after` each heal and at the end ([`convergence`]).
    StatesConverged {
        class: usize,
        app: String,
        after: SimDuration,
        window: SimDuration,
        min: f64,
    },
}

/// A scenario that cannot be built into a world.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    #[error("{field}: {message}")]
    Config { field: String, message: String },
}

pub(crate) fn build_err(field: &str, message: impl std::fmt::Display) -> BuildError {
    BuildError::Config {
        field: field.to_string(),
        message: message.to_string(),
    }
}

// Kernel event kinds.
const DEVICE_WAKE: EventKind = EventKind(1);
const DEVICE_RX: EventKind = EventKind(2);
const DEVICE_LINK_DOWN: EventKind = EventKind(3);
const HUB_RX: EventKind = EventKind(4);
const HUB_WAKE: EventKind = EventKind(5);
const HUB_DEFERRED: EventKind = EventKind(6);
const DPS_RX: EventKind = EventKind(7);
const DPS_DEFERRED: EventKind = EventKind(8);
const BACKEND_POLL: EventKind = EventKind(9);
const FAULT: EventKind = EventKind(10);
const SAMPLE: EventKind = EventKind(11);
const POWER_ON: EventKind = EventKind(12);
const RETRANSMIT: EventKind = EventKind(13);
const CLASS_WAKE: EventKind = EventKind(14);
const APP_START: EventKind = EventKind(15);
const APP_WAKE: EventKind = EventKind(16);
const COMMAND_RESULT: EventKind = EventKind(17);
const HARDWARE_FAULT: EventKind = EventKind(18);
/// A packet for a gateway's edgeHub from a child (payload: the parked packet).
const GW_RX: EventKind = EventKind(19);
/// A gateway's store-and-forward expiry timer (payload: the time it was armed for).
const GW_WAKE: EventKind = EventKind(20);
const UPLINK_FAULT: EventKind = EventKind(21);

const DPS_ENTITY: EntityId = EntityId(u32::MAX - 1);
const BACKEND: EntityId = EntityId(u32::MAX - 2);
const FAULTS: EntityId = EntityId(u32::MAX - 3);
const SAMPLER: EntityId = EntityId(u32::MAX - 4);
const APPS: EntityId = EntityId(u32::MAX - 5);
/// Hub `h` is `EntityId(HUB_BASE - h)`.
const HUB_BASE: u32 = u32::MAX - 16;
/// At most this many hubs (entity ids below the fixed ones).
pub const HUBS_MAX: usize = 16;
/// Devices are entities `0..DEVICES_MAX`.
pub const DEVICES_MAX: u32 = HUB_BASE - HUBS_MAX as u32;

/// The world. Build with [`SolutionWorld::new`], run with [`run`].
pub struct SolutionWorld {
    cfg: WorldConfig,
    fleet: Fleet,
    transport: Transport,
    cloud: Cloud,
    backend: Backend,
    plan: FaultPlan,
    acct: Accounting,
    service: service::Service,
    notifier: notify::Notifier,
    edge: edge::Gateways,
    /// The watched devices' stories (`fleetsim explain`); `None` in an ordinary run.
    story: Option<story::Tracer>,
}

impl SolutionWorld {
    /// Builds the world from its configuration, one object per device class (in the order
    /// of `cfg.classes`) and the back-end apps by name.
    pub fn new(
        cfg: WorldConfig,
        classes: Vec<Box<dyn DeviceClass>>,
        apps: Vec<(String, Box<dyn App>)>,
    ) -> Result<SolutionWorld, BuildError> {
        let seed = Seed(cfg.seed);
        let fleet = Fleet::new(seed, cfg.epoch, &cfg.classes, classes)?;
        let n = fleet.len();
        let cloud = Cloud::new(&cfg)?;
        let bases: Vec<u32> = (0..cfg.classes.len()).map(|c| fleet.base(c)).collect();
        let edge = edge::Gateways::new(&cfg, &bases)?;
        let transport = Transport::new(seed, &cfg.network, &cfg.classes, &edge)?;
        let plan = faults::build(seed, &cfg, &fleet);
        let backend = Backend::new(&cfg, &cloud, &fleet)?;
        let acct = Accounting::new(&cfg, n);
        let directory = Directory {
            classes: cfg
                .classes
                .iter()
                .map(|c| (c.name.clone(), c.count))
                .collect(),
            fields: cfg.classes.iter().map(|c| c.fields.clone()).collect(),
        };
        let mut apps = apps;
        if !cfg.schedule.is_empty() {
            apps.insert(
                0,
                (
                    "schedule".into(),
                    Box::new(service::Schedule::new(cfg.schedule.clone())),
                ),
            );
        }
        let service = service::Service::new(apps, directory);
        let notifier = notify::Notifier::new(seed, cfg.notifiers.clone());
        let mut world = SolutionWorld {
            cfg,
            fleet,
            transport,
            cloud,
            backend,
            plan,
            acct,
            service,
            notifier,
            edge,
            story: None,
        };
        world.preprovision();
        world.adopt_children()?;
        Ok(world)
    }

    /// Schedules the initial events: power-ons over each class's boot window, the fault
    /// plan, the back-end poll and the metrics sampler.
    pub fn schedule_start(&mut self, k: &mut Kernel) {
        let seed = Seed(self.cfg.seed);
        for (c, class) in self.cfg.classes.iter().enumerate() {
            // Each device's boot time comes from its own stream, so adding a device or a
            // class moves no other device's boot.
            let window = class.boot_window.as_nanos().max(1);
            let base = self.fleet.base(c);
            for i in 0..class.count {
                let mut boot =
                    seed.compact(sim::StreamKey::new(&class.stream, u64::from(i), "boot"));
                let at = SimTime::from_nanos(sim::rng::below(&mut boot, window));
                k.schedule(at, Event::new(EntityId(base + i), POWER_ON, 0));
            }
        }
        self.plan.schedule(k, FAULTS, FAULT);
        for (i, f) in self.cfg.hardware_faults.iter().enumerate() {
            let i = i as u64;
            k.schedule(f.start, Event::new(FAULTS, HARDWARE_FAULT, i << 1 | 1));
            k.schedule(f.end, Event::new(FAULTS, HARDWARE_FAULT, i << 1));
        }
        for (i, f) in self.cfg.uplink_faults.iter().enumerate() {
            let i = i as u64;
            k.schedule(f.start, Event::new(FAULTS, UPLINK_FAULT, i << 1 | 1));
            k.schedule(f.end, Event::new(FAULTS, UPLINK_FAULT, i << 1));
        }
        k.schedule(
            SimTime::ZERO + self.cfg.backend.poll,
            Event::new(BACKEND, BACKEND_POLL, 0),
        );
        k.schedule(SimTime::ZERO, Event::new(SAMPLER, SAMPLE, 0));
        self.schedule_apps(k);
    }
}

impl World for SolutionWorld {
    fn handle(&mut self, k: &mut Kernel, ev: Event) {
        if ev.target == SAMPLER {
            // Gauges first, so the sample taken at this instant holds this instant's values.
            self.on_sample(k);
            self.acct.metrics.advance(k.now());
            return;
        }
        self.acct.metrics.advance(k.now());
        match ev.target {
            DPS_ENTITY => self.on_dps_event(k, ev),
            BACKEND => self.on_backend_poll(k),
            FAULTS if ev.kind == HARDWARE_FAULT => self.on_hardware_fault(k, ev.payload),
            FAULTS if ev.kind == UPLINK_FAULT => self.on_uplink_fault(ev.payload),
            FAULTS => self.on_fault(k, ev.payload),
            APPS => self.on_app_event(k, ev),
            EntityId(t) if t > HUB_BASE - HUBS_MAX as u32 && t <= HUB_BASE => {
                self.on_hub_event(k, (HUB_BASE - t) as usize, ev)
            }
            _ if ev.kind == RETRANSMIT => self.on_retransmit(k, ev.payload),
            _ => self.on_device_event(k, ev),
        }
    }
}

/// Progress of a run, for the harness's progress bar.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub now: SimTime,
    pub end: SimTime,
    pub events: u64,
}

/// The outcome of a run: its summary (without what only the harness knows: wall time, RSS,
/// the scenario's name and overrides) and its report's data.
pub struct Outcome {
    pub summary_core: Summary,
    pub report: scoring::ReportData,
    /// The watched devices' stories ([`run_watching`]); empty otherwise.
    pub story: story::Story,
}

/// The classes' id patterns and sizes, for an error about an unknown device.
fn known_ids(cfg: &WorldConfig) -> String {
    let classes: Vec<String> = cfg
        .classes
        .iter()
        .filter(|c| c.count > 0)
        .map(|c| {
            format!(
                "class {}: {} to {}",
                c.name,
                c.ids.format(0),
                c.ids.format(c.count - 1)
            )
        })
        .collect();
    classes.join("; ")
}

/// Builds and runs a world to its end, drains the back end, then checks the invariants and
/// scores the analytics. Returns the outcome and the trace hash.
pub fn run(
    cfg: WorldConfig,
    classes: Vec<Box<dyn DeviceClass>>,
    apps: Vec<(String, Box<dyn App>)>,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Outcome, String), BuildError> {
    run_watching(cfg, classes, apps, progress, &[])
}

/// [`run`], telling the stories of the devices named in `watch` (device ids, any class):
/// [`Outcome::story`]. The run is the same run: it has the same trace hash.
///
/// ```
/// # use scenarios::{bundled, load::Override, registry::Registry};
/// let registry = Registry::bundled();
/// let sets = [Override::parse("devices=200").unwrap(), Override::parse("hours=1").unwrap()];
/// let loaded = bundled::load(&bundled::source("herd").unwrap(), &sets, &registry).unwrap();
/// let r = loaded.resolved;
/// let (outcome, _hash) = scenarios::world::run_watching(
///     r.world, r.classes, r.apps, &mut |_| {}, &["cow-0000007".to_string()],
/// ).unwrap();
/// let cow = &outcome.story.devices[0];
/// assert_eq!(cow.id, "cow-0000007");
/// assert!(outcome.story.of(cow.device).any(|e| e.kind == "stored"));
/// ```
pub fn run_watching(
    cfg: WorldConfig,
    classes: Vec<Box<dyn DeviceClass>>,
    apps: Vec<(String, Box<dyn App>)>,
    progress: &mut dyn FnMut(Progress),
    watch: &[String],
) -> Result<(Outcome, String), BuildError> {
    let seed = Seed(cfg.seed);
    let epoch = cfg.epoch;
    let end = SimTime::ZERO + cfg.duration;
    let mut watched = Vec::with_capacity(watch.len());
    for id in watch {
        watched.push(story::device_index(&cfg, id).ok_or_else(|| {
            build_err(
                "--device",
                format!("no device `{id}` in this scenario ({})", known_ids(&cfg)),
            )
        })?);
    }
    let mut world = SolutionWorld::new(cfg, classes, apps)?;
    if !watched.is_empty() {
        world.story = Some(story::Tracer::new(watched));
    }
    let mut sim = sim::Sim::new(seed, epoch, world);
    let (kernel, world) = sim.parts_mut();
    world.schedule_start(kernel);
    let step = SimDuration::from_mins(10);
    let mut t = SimTime::ZERO;
    while t < end {
        t = (t + step).min(end);
        sim.run_until(t)
            .expect("the world installs no stepping checkers");
        progress(Progress {
            now: t,
            end,
            events: sim.kernel().events_processed(),
        });
    }
    let trace = sim.kernel().trace_hash().to_string();
    let events = sim.kernel().events_processed();
    let mut world = sim.into_world();
    world.drain_back_end(end);
    world.forgive_gateway_readings();
    let outcome = scoring::finish(&mut world, end, events, trace);
    let hash = outcome.summary_core.trace_hash.clone();
    Ok((outcome, hash))
}
