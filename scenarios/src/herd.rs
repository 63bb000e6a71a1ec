//! The herd world: cow collars, their firmware, the network, DPS, IoT Hub, the time-series
//! store and the analytics back end, wired on the kernel.
//!
//! ```text
//!  collar i ──(cellular uplink, loss/latency)──► cloud ─► DPS ─┐ assign
//!  (hardware:        firmware i (sans-IO)                      ▼
//!   cow, probe,  ◄──(downlink)── PUBACK / DPS / twin ◄──────── IoT Hub ──► built-in endpoint
//!   GNSS, battery)                                               │ partitions (by device)
//!                                                                ▼
//!                          back end, every poll: store (TSI Gen2) ──► rules ──► alerts
//! ```
//!
//! **Entities.** Device `i` is `EntityId(i)`; the hubs, DPS, back end, fault plan and metrics
//! sampler have fixed ids at the top of the `u32` range. Every model is sans-IO: the world
//! calls its `handle_*` verbs, drains its outputs and arms its `poll_timeout` as a kernel
//! event. Device wake-ups use lazy invalidation: the event carries a generation and a stale
//! one is ignored, so nothing is ever cancelled.
//!
//! **Transport.** MQTT runs over TCP, so a packet the network loses is not lost to MQTT: it
//! is retransmitted after a retransmission timeout (1 s, doubling) **[simplified TCP]**.
//! After `tcp_max_retries` failures (a partition, a crashed peer) the connection breaks and
//! both ends are told, the device after its keep-alive would notice at the latest. So network
//! loss shows as latency, and outages as reconnect storms, as on a real deployment. Left out:
//! head-of-line blocking. A segment sent after a lost one is delivered without waiting for the
//! retransmission, so publishes can reach the hub out of order and a close can overtake a
//! retransmitted publish; the store's de-duplication by sequence number keeps the accounting
//! exact, and latency after a loss is slightly optimistic.
//!
//! **Energy.** A collar's battery pays for its sleep, probe samples and GNSS fixes in its
//! sampling cycle, and for every packet it sends (retransmissions too) at the scenario's
//! radio profile (`network.radio`: airtime at the modem's TX current plus a per-message
//! session). Receiving is taken to fall inside the session's inactivity tail; back-to-back
//! packets each pay a session, which overstates bursts. The summary gives the mean energy
//! per collar by use.
//!
//! **Accounting.** The firmware reports every sample, acknowledgement and drop
//! ([`firmware::Record`]); the world counts them, and keeps per-device bitmaps of acknowledged
//! and stored sequence numbers so the end-of-run checker proves every acknowledged reading was
//! stored exactly once.

use crate::summary::{self, Count, Invariant, RuleScore, Summary};
use analytics::{AnalyticsConfig, RuleEngine, TruthEpisode};
use dps::{Dps, DpsConfig, DpsOutput, EnrollmentGroup, ReprovisionPolicy};
use firmware::{Ctx, Device, DeviceLogic, DeviceOutput, FirmwareConfig, Peer, Record};
use hardware::collar::{Collar, CollarConfig, CollarSpec};
use hardware::radio::RadioProfile;
use hardware::world::cow::{episodes, EpisodeKind};
use hardware::world::geometry::{LocalFrame, Point, Polygon};
use hub::{Consumer, Hub, HubConfig, HubOutput};
use iot_messages::sas::derive_device_key_bytes;
use iot_messages::telemetry::{SchemaSet, TelemetrySchema, FIELDS_MAX};
use iot_messages::{DeviceId, Msg};
use sim::fault::{FaultAction, FaultPlan, NodeFault, TimedFault};
use sim::metrics::{CounterId, GaugeId, HistogramId, Metrics};
use sim::net::{Direction, LinkId, LinkProfile, Network, NodeId, SendOutcome};
use sim::rng::below;
use sim::{
    EntityId, Epoch, Event, EventKind, Kernel, Ratio, Seed, SimDuration, SimTime, StreamKey, World,
};
use std::collections::BTreeSet;
use std::sync::Arc;
use store::{DeviceIndex, IngestEvent, Schema, StoreConfig, TimeSeriesStore};

/// Everything the herd world needs, already validated and resolved from the scenario file.
#[derive(Clone)]
pub struct HerdConfig {
    pub seed: u64,
    pub epoch: Epoch,
    pub duration: SimDuration,
    pub cows: u32,
    /// Devices power on uniformly over this window from time zero.
    pub boot_window: SimDuration,
    /// The share of collars provisioned before the run (see [`HerdWorld::new`]).
    pub provisioned_ratio: Ratio,
    pub collar: CollarConfig,
    pub pasture: Polygon,
    pub frame: LocalFrame,
    pub firmware: FirmwareConfig,
    pub hubs: Vec<HubConfig>,
    pub dps: DpsConfig,
    pub group_key: Vec<u8>,
    /// Device ↔ cloud link (radio and backhaul together).
    pub link: LinkProfile,
    /// The collars' modem: every packet a collar sends (retransmissions too) is debited from
    /// its battery as the radio's energy for that many bytes, session cost included.
    /// Receiving (acknowledgements, twin updates) falls inside the session's inactivity
    /// tail and costs nothing more; back-to-back packets each pay a session, which
    /// overstates bursts (a boot's connects, a retransmission within a second).
    pub radio: RadioProfile,
    /// Devices served by one cell tower; an outage partitions a tower's devices.
    pub devices_per_tower: u32,
    pub outages: Vec<Outage>,
    /// Share of devices that crash (and reboot after `crash_downtime`) at `crash_at`.
    pub crash: Option<(Ratio, SimTime, SimDuration)>,
    pub tcp_rto: SimDuration,
    pub tcp_max_retries: u8,
    pub store: StoreConfig,
    pub analytics: AnalyticsConfig,
    /// How often the back end reads the hub's built-in endpoint.
    pub backend_poll: SimDuration,
    /// Detection grace after an episode ends, for scoring.
    pub score_grace: SimDuration,
    pub thresholds: Thresholds,
    /// Metrics sampling interval for the report's time series.
    pub sample_interval: SimDuration,
}

/// Invariant thresholds from the scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    pub fever_recall_min: f64,
    /// Fever episodes that start less than this before the run ends are too young to be
    /// judged (the fever is still ramping up): the recall invariant leaves them out.
    pub fever_min_age: SimDuration,
    /// The analytics rule scored against fever episodes.
    pub fever_rule: String,
    /// The analytics rule scored against stuck episodes.
    pub stuck_rule: String,
}

/// A cell-tower outage: the devices of `towers` towers (picked from the seed) are cut off
/// from the cloud for a while.
#[derive(Clone, Debug, PartialEq)]
pub struct Outage {
    pub start: SimTime,
    pub duration: SimDuration,
    pub towers: u32,
}

/// The telemetry schema of a collar: `{"seq":N,"lat":…,"lon":…,"temp":…,"ts":…}`.
pub fn collar_schemas() -> SchemaSet {
    SchemaSet::new(vec![TelemetrySchema::new(
        "collar",
        &["lat", "lon", "temp", "ts"],
        &[],
    )
    .expect("four fields fit a schema")])
}

const FIELD_LAT: usize = 0;
const FIELD_LON: usize = 1;
const FIELD_TEMP: usize = 2;
const FIELD_TS: usize = 3;

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

const DPS_ENTITY: EntityId = EntityId(u32::MAX - 1);
const BACKEND: EntityId = EntityId(u32::MAX - 2);
const FAULTS: EntityId = EntityId(u32::MAX - 3);
const SAMPLER: EntityId = EntityId(u32::MAX - 4);
/// Marks a DPS connection in `conn_device`.
const DPS_CONN: u32 = 1 << 31;
/// Hub `h` is `EntityId(HUB_BASE - h)`.
const HUB_BASE: u32 = u32::MAX - 16;

/// What the scenario's devices do: sample their collar.
struct HerdLogic {
    collars: Vec<Collar>,
    spec: CollarSpec,
    frame: LocalFrame,
    epoch_unix_s: f64,
    /// Last reported fix per device, so a failed fix reports the last known position (as the
    /// livestock wearable of reference §7.3 does); NaN before the first fix.
    last_fix: Vec<(f32, f32)>,
    brownouts: u64,
}

impl HerdLogic {
    /// Debits a transmission from collar `device`'s battery; a brown-out is counted as the
    /// sampling cycle's are.
    fn handle_radio(&mut self, device: u32, now: SimTime, energy_uj: f64, load_ma: f64) {
        let power = self.collars[device as usize].handle_radio(now, &self.spec, energy_uj, load_ma);
        if !matches!(power, hardware::battery::PowerOutcome::Ok) {
            self.brownouts += 1;
        }
    }
}

impl DeviceLogic for HerdLogic {
    fn sample(&mut self, device: u32, now: SimTime, out: &mut [f64; FIELDS_MAX]) -> usize {
        let i = device as usize;
        let s = self.collars[i].update(now, &self.spec);
        if let hardware::gnss::GnssOutcome::Fix(f) = s.gnss {
            self.last_fix[i] = (f.east_m, f.north_m);
        }
        if !matches!(s.power, hardware::battery::PowerOutcome::Ok) {
            self.brownouts += 1;
        }
        let (east, north) = self.last_fix[i];
        let (lat, lon) = if east.is_nan() {
            (f64::NAN, f64::NAN)
        } else {
            self.frame.to_geo(Point {
                east_m: east,
                north_m: north,
            })
        };
        out[FIELD_LAT] = lat;
        out[FIELD_LON] = lon;
        out[FIELD_TEMP] = s.body_temp.value().unwrap_or(f64::NAN);
        out[FIELD_TS] = self.epoch_unix_s + now.as_secs_f64();
        4
    }
}

/// A packet in flight between a device and a cloud service.
#[derive(Clone, Debug)]
struct InFlight {
    device: u32,
    conn: u32,
    peer: Peer,
    up: bool,
    attempts: u8,
    msg: Msg,
}

/// A slab of in-flight packets; a kernel event's payload is the slot index.
#[derive(Default)]
struct Slab {
    slots: Vec<Option<InFlight>>,
    free: Vec<u32>,
}

impl Slab {
    fn insert(&mut self, p: InFlight) -> u64 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(p);
                u64::from(i)
            }
            None => {
                self.slots.push(Some(p));
                (self.slots.len() - 1) as u64
            }
        }
    }
    fn take(&mut self, i: u64) -> InFlight {
        let p = self.slots[i as usize].take().expect("live slab slot");
        self.free.push(i as u32);
        p
    }
}

/// A set of (device, sequence number): a fixed-width bitmap per device for the sequence
/// numbers a day normally uses, and an ordered set for the rare ones beyond it (a collar that
/// rebooted many times skips a block of numbers per boot), so every number is checked.
struct SeqBitmaps {
    words_per_device: usize,
    bits: Vec<u64>,
    /// Sequence numbers beyond the bitmap's width.
    beyond: BTreeSet<(u32, u32)>,
}

impl SeqBitmaps {
    fn new(devices: usize, width: u32) -> Self {
        let words_per_device = (width as usize).div_ceil(64).max(1);
        SeqBitmaps {
            words_per_device,
            bits: vec![0; devices * words_per_device],
            beyond: BTreeSet::new(),
        }
    }
    /// Adds the pair; `false` if it was there already.
    fn set(&mut self, device: u32, seq: u32) -> bool {
        let w = seq as usize / 64;
        if w >= self.words_per_device {
            return self.beyond.insert((device, seq));
        }
        let word = &mut self.bits[device as usize * self.words_per_device + w];
        let mask = 1u64 << (seq % 64);
        let fresh = *word & mask == 0;
        *word |= mask;
        fresh
    }
}

/// Counters the summary and the checkers read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HerdCounts {
    pub sampled: u64,
    pub acked: u64,
    pub dropped_overflow: u64,
    pub dropped_reboot: u64,
    pub delivered: u64,
    pub stored: u64,
    pub store_duplicates: u64,
    pub acked_twice: u64,
    pub tcp_retransmits: u64,
    pub connections_broken: u64,
    pub boots: u64,
}

struct Ids {
    sampled: CounterId,
    acked: CounterId,
    stored: CounterId,
    lost: CounterId,
    throttled: CounterId,
    quota_used: GaugeId,
    connected: GaugeId,
    e2e_ms: HistogramId,
}

/// The herd world. Build with [`HerdWorld::new`], run with [`run`].
pub struct HerdWorld {
    cfg: HerdConfig,
    logic: HerdLogic,
    devices: Vec<Device>,
    /// Per device: the wake-up generation, and the armed wake-up time.
    wake_gen: Vec<u32>,
    wake_at: Vec<SimTime>,
    /// Per device: its current hub and DPS connection ids (0 = none).
    hub_conn: Vec<u32>,
    dps_conn: Vec<u32>,
    /// Per device: the last connection id opened to each peer (never cleared).
    hub_latest: Vec<u32>,
    dps_latest: Vec<u32>,
    /// Per connection id: the device, with [`DPS_CONN`] set for a DPS connection
    /// (connection ids are never reused; 0 is "none").
    conn_device: Vec<u32>,
    /// Per device: the hub it is assigned to (index into `hubs`), or `u8::MAX`.
    device_hub: Vec<u8>,
    hubs: Vec<Hub>,
    /// Per hub: its registry index → the cow's index.
    hub_ix_cow: Vec<Vec<u32>>,
    hub_wake: Vec<Option<SimTime>>,
    dps: Dps,
    net: Network,
    uplinks_base: u32,
    slab: Slab,
    out: Vec<DeviceOutput>,
    consumers: Vec<Consumer>,
    pub store: TimeSeriesStore,
    pub engine: RuleEngine,
    plan: FaultPlan,
    acked_bits: SeqBitmaps,
    stored_bits: SeqBitmaps,
    pub counts: HerdCounts,
    pub metrics: Metrics,
    ids: Ids,
    /// The highest share of the daily quota used at any sample.
    peak_quota_ratio: f64,
}

/// A scenario that cannot be built into a world.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    #[error("{field}: {message}")]
    Config { field: String, message: String },
}

fn build_err(field: &str, message: impl std::fmt::Display) -> BuildError {
    BuildError::Config {
        field: field.to_string(),
        message: message.to_string(),
    }
}

impl HerdWorld {
    pub fn new(cfg: HerdConfig) -> Result<HerdWorld, BuildError> {
        let seed = Seed(cfg.seed);
        let n = cfg.cows as usize;
        let collar_spec = CollarSpec::new(cfg.collar.clone(), cfg.pasture.clone())
            .map_err(|e| build_err("collar", e))?;
        cfg.firmware
            .validate()
            .map_err(|e| build_err("firmware", e))?;
        let mut collars = Vec::with_capacity(n);
        for i in 0..cfg.cows {
            collars.push(
                Collar::new(seed, u64::from(i), &collar_spec, SimTime::ZERO)
                    .map_err(|e| build_err("collar", e))?,
            );
        }
        let mut hubs = Vec::with_capacity(cfg.hubs.len());
        for (h, hc) in cfg.hubs.iter().enumerate() {
            let hub = Hub::new(hc.clone(), cfg.firmware.schemas.clone())
                .map_err(|e| build_err(&format!("hubs[{h}]"), e))?;
            hubs.push(hub);
        }
        let mut dps = Dps::new(cfg.dps.clone()).map_err(|e| build_err("dps", e))?;
        dps.add_group(EnrollmentGroup {
            name: "herd".into(),
            group_key: cfg.group_key.clone(),
            policy: None,
            hubs: Vec::new(),
            reprovision: ReprovisionPolicy::MigrateData,
            initial_twin: None,
            enabled: true,
        })
        .map_err(|e| build_err("dps.enrollment", e))?;

        let mut net = Network::new(seed.derive(StreamKey::new("network", 0, "links")));
        let profile = net
            .add_profile(cfg.link.clone())
            .map_err(|e| build_err("network", e))?;
        net.add_nodes(cfg.cows);
        let cloud = net.add_node();
        let uplinks_base = net.link_count() as u32;
        for i in 0..cfg.cows {
            net.add_duplex(NodeId(i), cloud, profile)
                .map_err(|e| build_err("network", e))?;
        }

        let mut devices = Vec::with_capacity(n);
        for i in 0..cfg.cows {
            let reg: Arc<str> = Arc::from(format!("cow-{i:07}"));
            let key = derive_device_key_bytes(&cfg.group_key, &reg);
            let rng = seed.compact(StreamKey::new("firmware", u64::from(i), "run"));
            devices.push(Device::new(i, reg, Arc::from(&key[..]), rng));
        }

        let mut faults = Vec::new();
        let tower_count = cfg.cows.div_ceil(cfg.devices_per_tower);
        let mut tower_pick = seed.compact(StreamKey::new("fault", 0, "outage-towers"));
        for o in &cfg.outages {
            let mut nodes = Vec::new();
            // A partial Fisher-Yates shuffle: the first `k` of a seeded permutation.
            let mut all: Vec<u32> = (0..tower_count).collect();
            let k = o.towers.min(tower_count) as usize;
            for j in 0..k {
                let r = j + below(&mut tower_pick, (all.len() - j) as u64) as usize;
                all.swap(j, r);
            }
            let towers = &all[..k];
            for t in towers {
                let first = t.saturating_mul(cfg.devices_per_tower);
                let last = (first.saturating_add(cfg.devices_per_tower)).min(cfg.cows);
                nodes.extend((first..last).map(NodeId));
            }
            faults.push(TimedFault {
                at: o.start,
                action: FaultAction::Partition {
                    nodes,
                    direction: Direction::Both,
                },
            });
            faults.push(TimedFault {
                at: o.start + o.duration,
                action: FaultAction::Heal,
            });
        }
        if let Some((share, at, down)) = cfg.crash {
            let mut pick = seed.compact(StreamKey::new("fault", 0, "crash-pick"));
            let count = (share.get() * f64::from(cfg.cows)) as u64;
            let mut chosen = vec![false; n];
            let mut picked = 0;
            while picked < count {
                let d = below(&mut pick, u64::from(cfg.cows)) as usize;
                if !chosen[d] {
                    chosen[d] = true;
                    picked += 1;
                }
            }
            for (d, c) in chosen.iter().enumerate() {
                if *c {
                    faults.push(TimedFault {
                        at,
                        action: FaultAction::Crash {
                            node: NodeId(d as u32),
                        },
                    });
                    faults.push(TimedFault {
                        at: at + down,
                        action: FaultAction::Restart {
                            node: NodeId(d as u32),
                        },
                    });
                }
            }
        }
        let plan = FaultPlan::new(faults);

        let schema = Schema::collar();
        let store = TimeSeriesStore::new(cfg.store.clone(), schema.clone(), cfg.epoch)
            .map_err(|e| build_err("store", e))?;
        let mut engine = RuleEngine::new(&cfg.analytics, &schema, cfg.epoch)
            .map_err(|e| build_err("rules", e))?;
        engine.reserve_devices(n);
        let consumers = hubs
            .iter()
            .map(|h| Consumer::new(0, usize::from(h.config().partitions)))
            .collect();

        let mut metrics = Metrics::new(cfg.sample_interval);
        let mc = |m: &mut Metrics, name: &str| m.counter(name, true).expect("fresh registry");
        let ids = Ids {
            sampled: mc(&mut metrics, "telemetry.sampled"),
            acked: mc(&mut metrics, "telemetry.acknowledged"),
            stored: mc(&mut metrics, "telemetry.stored"),
            lost: mc(&mut metrics, "telemetry.lost"),
            throttled: mc(&mut metrics, "hub.throttled"),
            quota_used: metrics
                .gauge("hub.quota_used_ratio", true)
                .expect("fresh registry"),
            connected: metrics
                .gauge("hub.connected_devices", true)
                .expect("fresh registry"),
            e2e_ms: metrics
                .histogram("telemetry.e2e_latency_ms", 86_400_000)
                .expect("valid range"),
        };

        // Sequence numbers: one per sample, plus a block of 64 skipped per reboot.
        let per_day = cfg.duration.as_secs() / cfg.firmware.telemetry_interval.as_secs().max(1);
        // Bitmap width: a day's samples plus the blocks skipped by two boots; numbers beyond
        // it (more reboots) go to the ordered overflow set.
        let max_seq = (per_day as u32)
            .saturating_add(per_day as u32 / 8)
            .saturating_add(cfg.firmware.seq_block.saturating_mul(2));
        let epoch_unix_s = cfg.epoch.unix_secs() as f64;
        let mut world = HerdWorld {
            logic: HerdLogic {
                collars,
                spec: collar_spec,
                frame: cfg.frame,
                epoch_unix_s,
                last_fix: vec![(f32::NAN, f32::NAN); n],
                brownouts: 0,
            },
            devices,
            wake_gen: vec![0; n],
            wake_at: vec![SimTime::MAX; n],
            hub_conn: vec![0; n],
            dps_conn: vec![0; n],
            hub_latest: vec![0; n],
            dps_latest: vec![0; n],
            conn_device: vec![0],
            device_hub: vec![u8::MAX; n],
            hub_wake: vec![None; hubs.len()],
            hub_ix_cow: vec![Vec::new(); hubs.len()],
            hubs,
            dps,
            net,
            uplinks_base,
            slab: Slab::default(),
            out: Vec::new(),
            consumers,
            store,
            engine,
            plan,
            acked_bits: SeqBitmaps::new(n, max_seq),
            stored_bits: SeqBitmaps::new(n, max_seq),
            counts: HerdCounts::default(),
            metrics,
            ids,
            peak_quota_ratio: 0.0,
            cfg,
        };
        world.preprovision();
        Ok(world)
    }

    /// Whether `p`'s connection is still the device's current one for its peer. A segment of
    /// a connection that has since closed is dropped (as TCP does when its socket is gone).
    fn current(&self, p: &InFlight) -> bool {
        let current = match p.peer {
            Peer::Hub => self.hub_conn[p.device as usize],
            Peer::Dps => self.dps_conn[p.device as usize],
        };
        current == p.conn
    }

    fn uplink(&self, device: u32) -> LinkId {
        LinkId(self.uplinks_base + 2 * device)
    }

    fn downlink(&self, device: u32) -> LinkId {
        LinkId(self.uplinks_base + 2 * device + 1)
    }

    /// Schedules the initial events: power-ons over the boot window, the fault plan, the
    /// back-end poll and the metrics sampler.
    pub fn schedule_start(&mut self, k: &mut Kernel) {
        let seed = Seed(self.cfg.seed);
        let mut boot = seed.compact(StreamKey::new("herd", 0, "boot"));
        let window = self.cfg.boot_window.as_nanos().max(1);
        for i in 0..self.cfg.cows {
            let at = SimTime::from_nanos(below(&mut boot, window));
            k.schedule(at, Event::new(EntityId(i), POWER_ON, 0));
        }
        self.plan.schedule(k, FAULTS, FAULT);
        k.schedule(
            SimTime::ZERO + self.cfg.backend_poll,
            Event::new(BACKEND, BACKEND_POLL, 0),
        );
        k.schedule(SimTime::ZERO, Event::new(SAMPLER, SAMPLE, 0));
    }

    fn new_conn(&mut self, device: u32, peer: Peer) -> u32 {
        self.conn_device.push(match peer {
            Peer::Hub => device,
            Peer::Dps => device | DPS_CONN,
        });
        (self.conn_device.len() - 1) as u32
    }

    /// The device and peer of a connection id.
    fn conn_owner(&self, conn: u32) -> Option<(u32, Peer)> {
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

    /// Runs the device's outputs: packets onto the network, closes, records.
    fn drain_device(&mut self, k: &mut Kernel, d: u32) {
        let mut out = std::mem::take(&mut self.out);
        for o in out.drain(..) {
            match o {
                DeviceOutput::Send { to, msg } => {
                    let conn = match (&msg, to) {
                        (Msg::Connect { .. }, Peer::Hub) => {
                            let c = self.new_conn(d, Peer::Hub);
                            self.hub_conn[d as usize] = c;
                            self.hub_latest[d as usize] = c;
                            c
                        }
                        (Msg::Connect { .. }, Peer::Dps) => {
                            let c = self.new_conn(d, Peer::Dps);
                            self.dps_conn[d as usize] = c;
                            self.dps_latest[d as usize] = c;
                            c
                        }
                        (_, Peer::Hub) => self.hub_conn[d as usize],
                        (_, Peer::Dps) => self.dps_conn[d as usize],
                    };
                    if conn == 0 {
                        continue;
                    }
                    let p = InFlight {
                        device: d,
                        conn,
                        peer: to,
                        up: true,
                        attempts: 0,
                        msg,
                    };
                    self.transmit(k, p);
                }
                DeviceOutput::Close { peer } => {
                    let conn = match peer {
                        Peer::Hub => std::mem::take(&mut self.hub_conn[d as usize]),
                        Peer::Dps => std::mem::take(&mut self.dps_conn[d as usize]),
                    };
                    if conn != 0 {
                        self.close_service_side(k.now(), d, conn, peer);
                    }
                }
                DeviceOutput::Record(r) => self.on_record(d, r),
            }
        }
        self.out = out;
        self.arm_device(k, d);
    }

    fn close_service_side(&mut self, now: SimTime, d: u32, conn: u32, peer: Peer) {
        match peer {
            Peer::Hub => {
                let h = self.device_hub[d as usize];
                if let Some(hub) = self.hubs.get_mut(usize::from(h)) {
                    hub.handle_connection_lost(now, hub::ConnId(conn));
                }
            }
            Peer::Dps => self.dps.handle_connection_lost(dps::ConnId(conn)),
        }
    }

    fn on_record(&mut self, d: u32, r: Record) {
        match r {
            Record::Sampled { .. } => {
                self.counts.sampled += 1;
                self.metrics.inc(self.ids.sampled);
            }
            Record::Acked { seq } => {
                if self.acked_bits.set(d, seq) {
                    self.counts.acked += 1;
                    self.metrics.inc(self.ids.acked);
                } else {
                    self.counts.acked_twice += 1;
                }
            }
            Record::Dropped { reason, .. } => {
                match reason {
                    firmware::DropReason::Overflow => self.counts.dropped_overflow += 1,
                    firmware::DropReason::Reboot => self.counts.dropped_reboot += 1,
                }
                self.metrics.inc(self.ids.lost);
            }
        }
    }

    fn arm_device(&mut self, k: &mut Kernel, d: u32) {
        let i = d as usize;
        let want = self.devices[i]
            .poll_timeout(&self.cfg.firmware)
            .unwrap_or(SimTime::MAX);
        if want == self.wake_at[i] {
            return;
        }
        self.wake_gen[i] = self.wake_gen[i].wrapping_add(1);
        self.wake_at[i] = want;
        if want != SimTime::MAX {
            k.schedule(
                want.max(k.now()),
                Event::new(EntityId(d), DEVICE_WAKE, u64::from(self.wake_gen[i])),
            );
        }
    }

    /// Sends a packet over the device's link (up or down), retransmitting lost segments.
    fn transmit(&mut self, k: &mut Kernel, p: InFlight) {
        let link = if p.up {
            self.uplink(p.device)
        } else {
            self.downlink(p.device)
        };
        let size = p.msg.encoded_len(&self.cfg.firmware.schemas).unwrap_or(64) as u32;
        if p.up {
            let radio = &self.cfg.radio;
            self.logic.handle_radio(
                p.device,
                k.now(),
                radio.tx_energy_uj(size),
                radio.tx_current_ma,
            );
        }
        if p.up
            && p.peer == Peer::Hub
            && usize::from(self.device_hub[p.device as usize]) >= self.hubs.len()
        {
            // No hub has this device (its registration failed): nobody answers the SYN.
            self.break_connection(k, p.device, p.conn, p.peer);
            return;
        }
        let (target, kind) = if p.up {
            match p.peer {
                Peer::Hub => (
                    EntityId(HUB_BASE - u32::from(self.device_hub[p.device as usize])),
                    HUB_RX,
                ),
                Peer::Dps => (DPS_ENTITY, DPS_RX),
            }
        } else {
            (EntityId(p.device), DEVICE_RX)
        };
        match self.net.send(k.now(), link, size, 0) {
            SendOutcome::Delivered { at, .. } => {
                let slot = self.slab.insert(p);
                k.schedule(at, Event::new(target, kind, slot));
            }
            SendOutcome::Dropped(_) | SendOutcome::Held => {
                if p.attempts >= self.cfg.tcp_max_retries {
                    self.break_connection(k, p.device, p.conn, p.peer);
                } else {
                    self.counts.tcp_retransmits += 1;
                    let rto = self.cfg.tcp_rto * (1u64 << p.attempts.min(10));
                    let slot = self.slab.insert(InFlight {
                        attempts: p.attempts + 1,
                        ..p
                    });
                    k.schedule_in(rto, Event::new(EntityId(0), RETRANSMIT, slot));
                }
            }
        }
    }

    /// TCP gave up: both ends learn the connection is gone.
    fn break_connection(&mut self, k: &mut Kernel, d: u32, conn: u32, peer: Peer) {
        let current = match peer {
            Peer::Hub => self.hub_conn[d as usize],
            Peer::Dps => self.dps_conn[d as usize],
        };
        if current != conn {
            return;
        }
        self.counts.connections_broken += 1;
        self.close_service_side(k.now(), d, conn, peer);
        match peer {
            Peer::Hub => self.hub_conn[d as usize] = 0,
            Peer::Dps => self.dps_conn[d as usize] = 0,
        }
        k.schedule_in(
            SimDuration::ZERO,
            Event::new(EntityId(d), DEVICE_LINK_DOWN, u64::from(conn)),
        );
    }

    fn on_device_event(&mut self, k: &mut Kernel, ev: Event) {
        let d = ev.target.0;
        let i = d as usize;
        let now = k.now();
        match ev.kind {
            POWER_ON => {
                // A collar whose node is down (crashed during the boot window) boots when the
                // fault plan restarts it, not before.
                if !self.devices[i].is_off() || !self.net.is_up(NodeId(d)) {
                    return;
                }
                self.counts.boots += 1;
                let mut ctx = Ctx {
                    cfg: &self.cfg.firmware,
                    logic: &mut self.logic,
                    out: &mut self.out,
                };
                self.devices[i].power_on(now, &mut ctx);
            }
            DEVICE_WAKE => {
                if ev.payload != u64::from(self.wake_gen[i]) {
                    return;
                }
                self.wake_at[i] = SimTime::MAX;
                let mut ctx = Ctx {
                    cfg: &self.cfg.firmware,
                    logic: &mut self.logic,
                    out: &mut self.out,
                };
                self.devices[i].handle_timeout(now, &mut ctx);
            }
            DEVICE_RX => {
                let p = self.slab.take(ev.payload);
                if !self.net.arrive(self.downlink(d)) {
                    return;
                }
                let current = match p.peer {
                    Peer::Hub => self.hub_conn[i],
                    Peer::Dps => self.dps_conn[i],
                };
                if current != p.conn {
                    return;
                }
                let mut ctx = Ctx {
                    cfg: &self.cfg.firmware,
                    logic: &mut self.logic,
                    out: &mut self.out,
                };
                self.devices[i].handle_msg(now, p.peer, &p.msg, &mut ctx);
            }
            DEVICE_LINK_DOWN => {
                // The world cleared the device's connection when it broke; if the device has
                // opened another since, this news is stale.
                // The news must be about the device's latest connection to that peer, and the
                // device must still be talking to that peer.
                let conn = ev.payload as u32;
                let Some((_, peer)) = self.conn_owner(conn) else {
                    return;
                };
                let (current, latest) = match peer {
                    Peer::Hub => (self.hub_conn[i], self.hub_latest[i]),
                    Peer::Dps => (self.dps_conn[i], self.dps_latest[i]),
                };
                if current != 0 || latest != conn || self.devices[i].connected_peer() != Some(peer)
                {
                    return;
                }
                let code = (ev.payload >> 32) as u32;
                let reason = if code == 0 {
                    firmware::DisconnectReason::Network
                } else {
                    firmware::DisconnectReason::Server(code)
                };
                let mut ctx = Ctx {
                    cfg: &self.cfg.firmware,
                    logic: &mut self.logic,
                    out: &mut self.out,
                };
                self.devices[i].handle_disconnected(now, reason, &mut ctx);
            }
            _ => return,
        }
        self.drain_device(k, d);
    }

    fn on_hub_event(&mut self, k: &mut Kernel, h: usize, ev: Event) {
        let now = k.now();
        match ev.kind {
            HUB_RX => {
                let p = self.slab.take(ev.payload);
                if !self.net.arrive(self.uplink(p.device)) || !self.current(&p) {
                    return;
                }
                if let Msg::Telemetry { values, .. } = &p.msg {
                    // The reading's content enters the trace, so a replay that differs in any
                    // value differs in its hash.
                    k.trace_digest(values_digest(p.device, values));
                }
                self.hubs[h].handle_packet(now, hub::ConnId(p.conn), &p.msg);
            }
            HUB_WAKE => {
                if self.hub_wake[h] != Some(now) {
                    return;
                }
                self.hub_wake[h] = None;
                self.hubs[h].handle_timeout(now);
            }
            HUB_DEFERRED => {
                let p = self.slab.take(ev.payload);
                self.transmit(k, p);
                return;
            }
            _ => return,
        }
        self.drain_hub(k, h);
    }

    fn drain_hub(&mut self, k: &mut Kernel, h: usize) {
        let now = k.now();
        while let Some(o) = self.hubs[h].poll_output() {
            match o {
                HubOutput::ToDevice { at, conn, msg } => {
                    let Some((d, _)) = self.conn_owner(conn.0) else {
                        continue;
                    };
                    if self.hub_conn[d as usize] != conn.0 {
                        continue;
                    }
                    let p = InFlight {
                        device: d,
                        conn: conn.0,
                        peer: Peer::Hub,
                        up: false,
                        attempts: 0,
                        msg,
                    };
                    if at > now {
                        let slot = self.slab.insert(p);
                        k.schedule(
                            at,
                            Event::new(EntityId(HUB_BASE - h as u32), HUB_DEFERRED, slot),
                        );
                    } else {
                        self.transmit(k, p);
                    }
                }
                HubOutput::Disconnect { at, conn, reason } => {
                    let Some((d, _)) = self.conn_owner(conn.0) else {
                        continue;
                    };
                    if self.hub_conn[d as usize] != conn.0 {
                        continue;
                    }
                    if matches!(
                        reason,
                        hub::HubError::Throttled | hub::HubError::QuotaExceeded
                    ) {
                        self.metrics.inc(self.ids.throttled);
                    }
                    self.hub_conn[d as usize] = 0;
                    let code = reason.code();
                    let at = at.max(now) + self.cfg.link.latency.min;
                    k.schedule(
                        at,
                        Event::new(
                            EntityId(d),
                            DEVICE_LINK_DOWN,
                            u64::from(code) << 32 | u64::from(conn.0),
                        ),
                    );
                }
                HubOutput::MethodResult { .. } | HubOutput::Feedback { .. } => {}
            }
        }
        let want = self.hubs[h].poll_timeout();
        if want != self.hub_wake[h] {
            if let Some(t) = want {
                self.hub_wake[h] = Some(t.max(now));
                k.schedule(
                    t.max(now),
                    Event::new(EntityId(HUB_BASE - h as u32), HUB_WAKE, 0),
                );
            }
        }
    }

    fn on_dps_event(&mut self, k: &mut Kernel, ev: Event) {
        let now = k.now();
        match ev.kind {
            DPS_RX => {
                let p = self.slab.take(ev.payload);
                if !self.net.arrive(self.uplink(p.device)) || !self.current(&p) {
                    return;
                }
                self.dps.handle_packet(now, dps::ConnId(p.conn), 0, &p.msg);
            }
            DPS_DEFERRED => {
                let p = self.slab.take(ev.payload);
                self.transmit(k, p);
                return;
            }
            _ => return,
        }
        let mut touched: Vec<usize> = Vec::new();
        while let Some(o) = self.dps.poll_output() {
            match o {
                DpsOutput::ToDevice { at, conn, msg } => {
                    let Some((d, _)) = self.conn_owner(conn.0) else {
                        continue;
                    };
                    let p = InFlight {
                        device: d,
                        conn: conn.0,
                        peer: Peer::Dps,
                        up: false,
                        attempts: 0,
                        msg,
                    };
                    if at > now {
                        let slot = self.slab.insert(p);
                        k.schedule(at, Event::new(DPS_ENTITY, DPS_DEFERRED, slot));
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
                    ..
                } => {
                    touched.push(hub);
                    touched.extend(self.apply_assignment(
                        now,
                        hub,
                        &device_id,
                        &device_key,
                        previous_hub,
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

    /// Creates a DPS assignment's identity on its hub (deleting it from the previous hub when
    /// the device moved); returns the previous hub if it was touched.
    fn apply_assignment(
        &mut self,
        now: SimTime,
        hub: usize,
        device_id: &str,
        device_key: &[u8],
        previous_hub: Option<usize>,
    ) -> Option<usize> {
        let d = device_index(device_id);
        // The hub keeps the collar's own id string when it is the same id (it always is for
        // this enrollment): one copy per cow, and topics match by pointer.
        let own = d.and_then(|d| self.devices.get(d as usize));
        let id = match own.map(|dev| dev.registration_id()) {
            Some(reg) if **reg == *device_id => DeviceId::from_arc(reg.clone()),
            _ => DeviceId::new(device_id),
        }
        .ok()?;
        let mut touched = None;
        if let Some(prev) = previous_hub {
            if prev != hub {
                self.hubs[prev].delete_device(now, device_id);
                touched = Some(prev);
            }
        }
        if let (Ok(ix), Some(d)) = (
            self.hubs[hub].register_device(now, &id, device_key, None),
            d,
        ) {
            self.device_hub[d as usize] = hub as u8;
            let map = &mut self.hub_ix_cow[hub];
            let ix = ix.0 as usize;
            if map.len() <= ix {
                map.resize(ix + 1, u32::MAX);
            }
            map[ix] = d;
        }
        touched
    }

    /// Collars in service before the run: with probability `provisioned_ratio` a collar's
    /// flash already holds the hub DPS gave it on an earlier day (the same allocation the
    /// protocol would make), and its identity exists on that hub. The rest provision over
    /// the protocol when they boot.
    fn preprovision(&mut self) {
        if self.cfg.provisioned_ratio.is_zero() {
            return;
        }
        let mut pick = Seed(self.cfg.seed).compact(StreamKey::new("herd", 0, "provisioned"));
        for i in 0..self.devices.len() {
            if !self.cfg.provisioned_ratio.chance(&mut pick) {
                continue;
            }
            let reg = self.devices[i].registration_id().clone();
            let key = derive_device_key_bytes(&self.cfg.group_key, &reg);
            if let Some(host) = self.dps.preprovision(SimTime::ZERO, &reg, &key, 0) {
                self.devices[i].install_assignment(host, reg);
            }
            while let Some(o) = self.dps.poll_output() {
                if let DpsOutput::Assign {
                    hub,
                    device_id,
                    device_key,
                    previous_hub,
                    ..
                } = o
                {
                    self.apply_assignment(
                        SimTime::ZERO,
                        hub,
                        &device_id,
                        &device_key,
                        previous_hub,
                    );
                }
            }
        }
    }

    fn on_backend_poll(&mut self, k: &mut Kernel) {
        self.backend_read(k.now());
        // What the back end has stored and alerted on enters the trace too.
        k.trace_digest((self.counts.stored << 20) ^ self.engine.alerts().len() as u64);
        k.schedule_in(self.cfg.backend_poll, Event::new(BACKEND, BACKEND_POLL, 0));
    }

    /// The back end reads every partition of every hub's built-in endpoint into the store,
    /// checkpoints, and runs the store and the rules.
    fn backend_read(&mut self, now: SimTime) {
        let ts_origin_s = self.cfg.epoch.unix_secs() as f64;
        for h in 0..self.hubs.len() {
            let parts = usize::from(self.hubs[h].config().partitions);
            for part in 0..parts {
                let msgs = self.consumers[h].poll(&self.hubs[h].endpoints()[0], part, usize::MAX);
                for m in msgs {
                    let hub::Payload::Compact { values, .. } = m.payload else {
                        continue;
                    };
                    let Some(&d) = self.hub_ix_cow[h].get(m.device as usize) else {
                        continue;
                    };
                    self.counts.delivered += 1;
                    let event_time = SimTime::from_nanos(
                        ((values.v[FIELD_TS] - ts_origin_s).max(0.0) * 1e9) as u64,
                    );
                    let ev = IngestEvent::new(
                        DeviceIndex(d),
                        values.seq,
                        event_time,
                        m.enqueued,
                        &values.v[..FIELD_TS],
                    );
                    let size = self
                        .cfg
                        .firmware
                        .schemas
                        .get(0)
                        .map_or(0, |sc| sc.body_len(&values)) as u32;
                    let partition = (part % usize::from(self.cfg.store.partitions)) as u16;
                    self.store
                        .handle_ingest(now, partition, ev, size)
                        .expect("partition index within the store's partitions");
                }
                self.consumers[h].checkpoint(part);
            }
        }
        self.run_store(now);
    }

    /// Indexes what is due, running the rules on each new reading as it is indexed, then
    /// lets the store enforce retention.
    fn run_store(&mut self, now: SimTime) {
        loop {
            // Start loading the rule state of the device a few readings on, alongside
            // the store's own slot for it (a hint only; no result depends on it).
            if let Some(next) = self.store.upcoming_due(store::PREFETCH_AHEAD) {
                self.engine.prefetch(next);
            }
            let Some(ev) = self.store.index_next(now) else {
                break;
            };
            if self.stored_bits.set(ev.device.0, ev.seq) {
                self.counts.stored += 1;
                self.metrics.inc(self.ids.stored);
            } else {
                self.counts.store_duplicates += 1;
            }
            let latency = now.saturating_since(ev.event_time);
            self.metrics.record(self.ids.e2e_ms, latency.as_millis());
            self.engine.handle_event(now, ev);
        }
        if self.store.poll_timeout().is_some_and(|t| t <= now) {
            self.store.handle_timeout(now);
        }
    }

    fn on_fault(&mut self, k: &mut Kernel, index: u64) {
        let applied = self.plan.apply(index, k.now(), &mut self.net);
        match applied.node {
            Some(NodeFault::Crash(node)) => {
                let d = node.0;
                let mut ctx = Ctx {
                    cfg: &self.cfg.firmware,
                    logic: &mut self.logic,
                    out: &mut self.out,
                };
                self.devices[d as usize].crash(k.now(), &mut ctx);
                for (peer, conn) in [
                    (Peer::Hub, self.hub_conn[d as usize]),
                    (Peer::Dps, self.dps_conn[d as usize]),
                ] {
                    if conn != 0 {
                        self.close_service_side(k.now(), d, conn, peer);
                    }
                }
                self.hub_conn[d as usize] = 0;
                self.dps_conn[d as usize] = 0;
                self.drain_device(k, d);
            }
            Some(NodeFault::Restart(node)) => {
                k.schedule_in(SimDuration::ZERO, Event::new(EntityId(node.0), POWER_ON, 0));
            }
            Some(NodeFault::ClockSkew { .. }) | None => {}
        }
    }

    fn on_sample(&mut self, k: &mut Kernel) {
        let now = k.now();
        // The busiest hub's share of its own daily quota.
        let ratio = self
            .hubs
            .iter()
            .map(|h| {
                if h.quota_limit() == 0 {
                    0.0
                } else {
                    h.quota_used() as f64 / h.quota_limit() as f64
                }
            })
            .fold(0.0, f64::max);
        self.peak_quota_ratio = self.peak_quota_ratio.max(ratio);
        self.metrics.set(self.ids.quota_used, ratio);
        let connected: usize = self.hubs.iter().map(|h| h.connected_count()).sum();
        self.metrics.set(self.ids.connected, connected as f64);
        k.schedule(
            now + self.cfg.sample_interval,
            Event::new(SAMPLER, SAMPLE, 0),
        );
    }
}

/// A digest of a telemetry reading for the trace hash.
fn values_digest(device: u32, v: &iot_messages::Values) -> u64 {
    let mut h = (u64::from(device) << 32) | u64::from(v.seq);
    for x in &v.v[..usize::from(v.len)] {
        h = sim::rng::mix64(h ^ x.to_bits());
    }
    h
}

/// `cow-0000042` → 42.
fn device_index(id: &str) -> Option<u32> {
    id.strip_prefix("cow-")?.parse().ok()
}

impl World for HerdWorld {
    fn handle(&mut self, k: &mut Kernel, ev: Event) {
        if ev.target == SAMPLER {
            // Gauges first, so the sample taken at this instant holds this instant's values.
            self.on_sample(k);
            self.metrics.advance(k.now());
            return;
        }
        self.metrics.advance(k.now());
        match ev.target {
            DPS_ENTITY => self.on_dps_event(k, ev),
            BACKEND => self.on_backend_poll(k),
            FAULTS => self.on_fault(k, ev.payload),
            SAMPLER => self.on_sample(k),
            EntityId(t) if t > HUB_BASE - 16 && t <= HUB_BASE => {
                self.on_hub_event(k, (HUB_BASE - t) as usize, ev)
            }
            _ if ev.kind == RETRANSMIT => {
                let p = self.slab.take(ev.payload);
                if self.current(&p) {
                    self.transmit(k, p);
                }
            }
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

/// Data for the report's charts (the summary holds the figures).
#[derive(Clone, Debug, Default)]
pub struct ReportData {
    /// Seconds between samples of `series`.
    pub sample_interval_s: f64,
    /// Sampled metrics by name (cumulative counters, gauges).
    pub series: Vec<(String, Vec<f64>)>,
    /// End-to-end latency histogram: (upper bound in ms, readings).
    pub latency_buckets_ms: Vec<(f64, u64)>,
    /// Battery state of charge at the end, one value per device (a sample of at most 20,000).
    pub battery_soc: Vec<f64>,
    /// The pasture outline and the cows' true positions at the end (a sample), in metres.
    pub pasture: Vec<(f64, f64)>,
    pub cows: Vec<(f64, f64)>,
    /// Flagged cows at the end by rule: (rule, positions).
    pub flagged: Vec<(String, Vec<(f64, f64)>)>,
    /// Episodes and alerts of up to 40 devices, for the timeline.
    pub timeline: Vec<TimelineEntry>,
    /// The dashboard as text, first rows.
    pub dashboard: String,
}

/// One device's true episode and the alerts of the rule that should detect it.
#[derive(Clone, Debug)]
pub struct TimelineEntry {
    pub device: u32,
    pub kind: String,
    /// The episode, in hours from the start.
    pub episode_h: (f64, f64),
    /// Alert times in hours, and whether each fell within the episode (plus grace).
    pub alerts_h: Vec<(f64, bool)>,
}

/// The outcome of a herd run.
pub struct HerdOutcome {
    pub summary_core: Summary,
    pub report: ReportData,
}

impl HerdWorld {
    /// After the fleet's last event: the back end reads what is left and the store indexes
    /// its whole backlog (the liveness phase: nothing acknowledged may stay unstored).
    fn drain_back_end(&mut self, end: SimTime) {
        self.backend_read(end);
        while let Some(due) = self.store.poll_timeout() {
            if self.store.stats().backlog_depth == 0 {
                break;
            }
            self.run_store(due.max(end));
        }
    }

    fn in_flight_at_end(&self) -> u64 {
        self.devices.iter().map(|d| d.buffered() as u64).sum()
    }
}

/// Builds and runs a herd to its end, then checks the invariants and scores the analytics.
pub fn run(
    cfg: HerdConfig,
    progress: &mut dyn FnMut(Progress),
) -> Result<(HerdOutcome, String), BuildError> {
    let seed = Seed(cfg.seed);
    let epoch = cfg.epoch;
    let end = SimTime::ZERO + cfg.duration;
    let mut world = HerdWorld::new(cfg)?;
    let mut kernel = Kernel::new(seed, epoch);
    world.schedule_start(&mut kernel);
    let mut sim = sim::Sim::new(seed, epoch, world);
    sim.kernel = kernel;
    let step = SimDuration::from_mins(10);
    let mut t = SimTime::ZERO;
    while t < end {
        t = (t + step).min(end);
        sim.run_until(t)
            .expect("the herd installs no stepping checkers");
        progress(Progress {
            now: t,
            end,
            events: sim.kernel.events_processed(),
        });
    }
    let trace = sim.kernel.trace_hash().to_string();
    let events = sim.kernel.events_processed();
    let mut world = sim.world;
    world.drain_back_end(end);
    let outcome = finish(&mut world, end, events, trace.clone());
    Ok((outcome, trace))
}

/// Checks the invariants, scores the rules and gathers the report's data.
fn finish(w: &mut HerdWorld, end: SimTime, events: u64, trace: String) -> HerdOutcome {
    let seed = Seed(w.cfg.seed);
    let c = w.counts;
    let in_flight = w.in_flight_at_end();
    let lost = c.dropped_overflow + c.dropped_reboot;
    let mut invariants = Vec::new();

    // 1. Every acknowledged reading is stored, and stored once.
    let words = w.acked_bits.words_per_device;
    let mut acked_not_stored = 0u64;
    let mut example = None;
    for (i, (a, s)) in w
        .acked_bits
        .bits
        .iter()
        .zip(&w.stored_bits.bits)
        .enumerate()
    {
        let missing = a & !s;
        if missing != 0 {
            acked_not_stored += u64::from(missing.count_ones());
            example.get_or_insert((
                i / words,
                (i % words) * 64 + missing.trailing_zeros() as usize,
            ));
        }
    }
    for &(d, seq) in w.acked_bits.beyond.difference(&w.stored_bits.beyond) {
        acked_not_stored += 1;
        example.get_or_insert((d as usize, seq as usize));
    }
    invariants.push(Invariant {
        name: "every acknowledged reading is stored exactly once".into(),
        passed: acked_not_stored == 0 && c.store_duplicates == 0,
        detail: match example {
            Some((d, seq)) => format!(
                "{acked_not_stored} acknowledged readings not stored (first: cow-{d:07} seq {seq}); {} stored twice",
                c.store_duplicates
            ),
            None => format!(
                "{} acknowledged, {} stored, {} duplicates dropped by the store, {} stored twice",
                c.acked,
                c.stored,
                w.store.stats().duplicates_dropped,
                c.store_duplicates
            ),
        } + &{
            let st = w.store.stats();
            let missed: u64 = w.consumers.iter().map(|c| c.missed).sum();
            if missed + st.stale_dropped + st.aged_out_dropped > 0 {
                format!(
                    "; back-end losses: {missed} evicted from the hub endpoint before being read, {} too late for de-duplication, {} aged out",
                    st.stale_dropped, st.aged_out_dropped
                )
            } else {
                String::new()
            }
        },
    });

    // 2. sent = acknowledged + lost + in flight.
    let balanced = c.sampled == c.acked + lost + in_flight;
    invariants.push(Invariant {
        name: "sent = acknowledged + lost + in flight at the end".into(),
        passed: balanced,
        detail: format!(
            "sent {} = acknowledged {} + lost {} (buffer overflow {}, reboot {}) + in flight {}{}",
            c.sampled,
            c.acked,
            lost,
            c.dropped_overflow,
            c.dropped_reboot,
            in_flight,
            if balanced { "" } else { " does NOT balance" }
        ),
    });

    // 3. No device is registered on two hubs.
    let mut doubles = 0u64;
    for i in 0..w.cfg.cows {
        let id = format!("cow-{i:07}");
        let on = w.hubs.iter().filter(|h| h.device(&id).is_some()).count();
        if on > 1 {
            doubles += 1;
        }
    }
    invariants.push(Invariant {
        name: "no device is registered on two hubs".into(),
        passed: doubles == 0,
        detail: format!("{doubles} devices on more than one hub"),
    });

    // 4-5. Analytics against the ground truth.
    let cow_cfg = &w.cfg.collar.cow;
    let mut truth = Vec::new();
    let mut had_fever = vec![false; w.cfg.cows as usize];
    for i in 0..w.cfg.cows {
        for (kind, name) in [(EpisodeKind::Fever, "fever"), (EpisodeKind::Stuck, "stuck")] {
            for e in episodes(seed, u64::from(i), kind, cow_cfg, SimTime::ZERO, end) {
                if kind == EpisodeKind::Fever {
                    had_fever[i as usize] = true;
                }
                truth.push(TruthEpisode {
                    kind: name.into(),
                    device: DeviceIndex(i),
                    start: e.start,
                    end: e.end.min(end),
                });
            }
        }
    }
    let scores = w.engine.score(&truth, w.cfg.score_grace);
    let th = &w.cfg.thresholds;
    if let Some(f) = scores.iter().find(|s| s.rule == th.fever_rule) {
        let judged_until = end.saturating_since(SimTime::ZERO + th.fever_min_age);
        let old_enough = |e: &TruthEpisode| e.start.as_nanos() <= judged_until.as_nanos();
        let judged = truth
            .iter()
            .filter(|e| e.kind == "fever" && old_enough(e))
            .count();
        let missed: Vec<&TruthEpisode> = f.missed.iter().filter(|e| old_enough(e)).collect();
        let recall = if judged == 0 {
            1.0
        } else {
            1.0 - missed.len() as f64 / judged as f64
        };
        let healthy_alerts = f
            .false_alerts
            .iter()
            .filter(|(d, _)| !had_fever[d.0 as usize])
            .count();
        invariants.push(Invariant {
            name: format!("fever recall >= {}", th.fever_recall_min),
            passed: recall >= th.fever_recall_min,
            detail: format!(
                "recall {:.4} over {} episodes that began at least {:?} before the end ({} missed{}); {} younger episodes not judged",
                recall,
                judged,
                th.fever_min_age,
                missed.len(),
                missed
                    .first()
                    .map(|e| format!(", first cow-{:07} from {:?}", e.device.0, e.start))
                    .unwrap_or_default(),
                f.episodes.saturating_sub(judged)
            ),
        });
        invariants.push(Invariant {
            name: "no fever alert for a cow that never had one".into(),
            passed: healthy_alerts == 0,
            detail: match f
                .false_alerts
                .iter()
                .find(|(d, _)| !had_fever[d.0 as usize])
            {
                Some((d, t)) => format!("{healthy_alerts} alerts, first cow-{:07} at {t:?}", d.0),
                None => "none".into(),
            },
        });
    } else {
        invariants.push(Invariant {
            name: format!("fever recall >= {}", th.fever_recall_min),
            passed: false,
            detail: format!(
                "rule `{}` has no truth kind to be scored against",
                th.fever_rule
            ),
        });
    }
    if let Some(st) = scores.iter().find(|s| s.rule == th.stuck_rule) {
        // Episodes that end within the run must be flagged before they end.
        let ended: Vec<&TruthEpisode> = truth
            .iter()
            .filter(|e| e.kind == "stuck" && e.end < end)
            .collect();
        let stuck_id = w.engine.rule_id(&th.stuck_rule);
        let missed: Vec<&&TruthEpisode> = ended
            .iter()
            .filter(|e| {
                !w.engine.alerts().iter().any(|a| {
                    a.device == e.device
                        && stuck_id == Some(a.rule)
                        && a.raised_at >= e.start
                        && a.raised_at <= e.end
                })
            })
            .collect();
        let late_or_missed = missed.len();
        let first_missed = missed.first().map(|e| {
            let alerts: Vec<String> = w
                .engine
                .alerts()
                .iter()
                .filter(|a| a.device == e.device && stuck_id == Some(a.rule))
                .map(|a| format!("{:?}", a.raised_at))
                .collect();
            format!(
                "; first missed: cow-{:07} stuck {:?}..{:?}, its stuck alerts: [{}]",
                e.device.0,
                e.start,
                e.end,
                alerts.join(", ")
            )
        });
        invariants.push(Invariant {
            name: "every stuck episode is flagged before it ends".into(),
            passed: late_or_missed == 0,
            detail: format!(
                "{} of {} episodes that ended within the run flagged in time; {} episodes in all, recall {:.3}{}",
                ended.len() - late_or_missed,
                ended.len(),
                st.episodes,
                st.recall.unwrap_or(1.0),
                first_missed.unwrap_or_default()
            ),
        });
    } else {
        invariants.push(Invariant {
            name: "every stuck episode is flagged before it ends".into(),
            passed: false,
            detail: format!(
                "rule `{}` has no truth kind to be scored against",
                th.stuck_rule
            ),
        });
    }

    let e2e = w
        .metrics
        .histogram_by_name("telemetry.e2e_latency_ms")
        .expect("registered");
    let lat = sim::metrics::summarise(e2e);
    let mut hub_throttled = 0;
    let mut d2c_throttled = 0;
    let mut quota_rejections = 0;
    for h in &w.hubs {
        let c = h.counters();
        hub_throttled += c.d2c_throttled + c.connects_throttled + c.twin_throttled;
        d2c_throttled += c.d2c_throttled;
        quota_rejections += c.d2c_quota_exceeded;
    }
    let now = end;
    let mut socs: Vec<f64> = w
        .logic
        .collars
        .iter()
        .map(|col| col.battery().state_of_charge(&w.cfg.collar.battery, now))
        .collect();
    let mut lives: Vec<f64> = w
        .logic
        .collars
        .iter()
        .filter_map(|col| col.battery().projected_life_s(&w.cfg.collar.battery, now))
        .collect();
    socs.sort_by(f64::total_cmp);
    lives.sort_by(f64::total_cmp);
    let energy_j_mean = {
        use hardware::battery::EnergyUse;
        let collars = &w.logic.collars;
        let mean_j = |use_: EnergyUse| {
            let total_uj = collars
                .iter()
                .map(|c| c.battery().ledger().get(use_))
                .fold(0u64, u64::saturating_add);
            total_uj as f64 / 1e6 / collars.len().max(1) as f64
        };
        summary::EnergyByUse {
            sleep: mean_j(EnergyUse::Sleep),
            sample: mean_j(EnergyUse::Sample),
            fix: mean_j(EnergyUse::Fix),
            radio: mean_j(EnergyUse::Radio),
        }
    };
    let median = |v: &[f64]| if v.is_empty() { 0.0 } else { v[v.len() / 2] };

    let rules = scores
        .iter()
        .map(|s| RuleScore {
            rule: s.rule.clone(),
            raised: s.alerts as u64,
            true_episodes: s.episodes as u64,
            precision: s.precision.unwrap_or(1.0),
            recall: s.recall.unwrap_or(1.0),
            latency_s_p50: s.latency_p50.map_or(0.0, |d| d.as_secs_f64()),
            latency_s_p99: s.latency_p99.map_or(0.0, |d| d.as_secs_f64()),
            latency_s_max: s.latency_max.map_or(0.0, |d| d.as_secs_f64()),
        })
        .collect();
    let hub0 = &w.cfg.hubs[0];
    let summary_core = Summary {
        scenario: String::new(),
        seed: w.cfg.seed,
        overrides: Vec::new(),
        devices: u64::from(w.cfg.cows),
        simulated_seconds: end.as_secs_f64(),
        events,
        wall_seconds: 0.0,
        peak_rss_bytes: 0,
        trace_hash: trace,
        telemetry: summary::Telemetry {
            sent: c.sampled,
            acknowledged: c.acked,
            delivered: c.delivered,
            stored: c.stored,
            lost,
            lost_by_reason: vec![
                Count {
                    name: "buffer_overflow".into(),
                    count: c.dropped_overflow,
                },
                Count {
                    name: "reboot".into(),
                    count: c.dropped_reboot,
                },
            ],
            duplicates_dropped: w.store.stats().duplicates_dropped,
            throttled: d2c_throttled,
            in_flight_at_end: in_flight,
        },
        latency_ms: summary::Latency {
            p50: lat.p50 as f64,
            p99: lat.p99 as f64,
            max: lat.max as f64,
        },
        hub: summary::Hub {
            tier: format!("{:?}", hub0.tier),
            units: hub0.units,
            quota_used_ratio: w.peak_quota_ratio,
            throttled_requests: hub_throttled,
            quota_rejections,
        },
        alerts: summary::Alerts {
            raised: w.engine.alerts().len() as u64,
            raised_after_end: w
                .engine
                .alerts()
                .iter()
                .filter(|a| a.raised_at > end)
                .count() as u64,
            rules,
        },
        battery: summary::Battery {
            charge_ratio_min: socs.first().copied().unwrap_or(0.0),
            charge_ratio_p50: median(&socs),
            projected_life_days_p50: median(&lives) / 86_400.0,
            energy_j_mean,
        },
        invariants,
    };

    // Report data.
    let mut report = ReportData {
        sample_interval_s: w.cfg.sample_interval.as_secs_f64(),
        series: w
            .metrics
            .all_series()
            .iter()
            .map(|s| (s.name.clone(), s.values.clone()))
            .collect(),
        ..ReportData::default()
    };
    for v in e2e.iter_log(100, 2.0) {
        report
            .latency_buckets_ms
            .push((v.value_iterated_to() as f64, v.count_since_last_iteration()));
    }
    let stride = (w.cfg.cows as usize / 20_000).max(1);
    report.battery_soc = socs.iter().step_by(stride).copied().collect();
    report.pasture = w
        .cfg
        .pasture
        .vertices()
        .iter()
        .map(|p| (f64::from(p.east_m), f64::from(p.north_m)))
        .collect();
    let map_stride = (w.cfg.cows as usize / 5_000).max(1);
    report.cows = w
        .logic
        .collars
        .iter()
        .step_by(map_stride)
        .map(|col| {
            let p = col.cow().position();
            (f64::from(p.east_m), f64::from(p.north_m))
        })
        .collect();
    for rule in w.engine.rule_names() {
        let id = w.engine.rule_id(&rule);
        let pts: Vec<(f64, f64)> = w
            .engine
            .dashboard()
            .open_alerts()
            .filter(|a| Some(a.rule) == id)
            .map(|a| {
                let p = w.logic.collars[a.device.0 as usize].cow().position();
                (f64::from(p.east_m), f64::from(p.north_m))
            })
            .collect();
        report.flagged.push((rule, pts));
    }
    let hours = |t: SimTime| t.as_secs_f64() / 3_600.0;
    for e in truth
        .iter()
        .filter(|e| e.kind == "fever")
        .take(20)
        .chain(truth.iter().filter(|e| e.kind == "stuck").take(20))
    {
        let rule = if e.kind == "fever" {
            &th.fever_rule
        } else {
            &th.stuck_rule
        };
        let id = w.engine.rule_id(rule);
        let alerts = w
            .engine
            .alerts()
            .iter()
            .filter(|a| a.device == e.device && Some(a.rule) == id)
            .map(|a| {
                (
                    hours(a.raised_at),
                    a.raised_at >= e.start && a.raised_at <= e.end + w.cfg.score_grace,
                )
            })
            .collect();
        report.timeline.push(TimelineEntry {
            device: e.device.0,
            kind: e.kind.clone(),
            episode_h: (hours(e.start), hours(e.end)),
            alerts_h: alerts,
        });
    }
    report.dashboard = w.engine.render_dashboard(20);
    HerdOutcome {
        summary_core,
        report,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_set_checks_numbers_beyond_its_bitmap_too() {
        let mut s = SeqBitmaps::new(3, 100);
        assert_eq!(s.words_per_device, 2);
        assert!(s.set(1, 5));
        assert!(!s.set(1, 5), "a repeat is reported");
        assert!(s.set(2, 5), "another device's number is its own");
        assert!(s.set(1, 500), "beyond the bitmap");
        assert!(!s.set(1, 500), "a repeat beyond the bitmap is reported too");
        assert_eq!(s.beyond.len(), 1);
        assert_eq!(s.bits.iter().map(|w| w.count_ones()).sum::<u32>(), 2);
    }
}
