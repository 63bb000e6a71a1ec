//! The scenario file: one schema for every solution. What a file may say, with its defaults,
//! checked ([`check`]) and resolved into a world ([`resolve`]). The reference, field by
//! field, is `scenarios/REFERENCE.md`.
//!
//! Every table refuses unknown fields; units are in the names; every field but
//! `scenario.name`, at least one `[[classes]]` entry and each class's `kind` has a default,
//! so a minimal file is a few lines:
//!
//! ```toml
//! [scenario]
//! name = "tiny"
//! duration_h = 1.0
//!
//! [[classes]]
//! name = "collar"
//! kind = "collar/1"
//! count = 10
//! ```

pub mod check;
pub mod edge;
mod models;
pub mod resolve;

use analytics::AnalyticsConfig;
use serde::{Deserialize, Serialize};
use store::StoreConfig;

/// A whole scenario file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SolutionFile {
    pub scenario: ScenarioSection,
    #[serde(default)]
    pub network: NetworkSection,
    #[serde(default)]
    pub hub: HubSection,
    #[serde(default)]
    pub dps: DpsSection,
    #[serde(default)]
    pub classes: Vec<ClassEntry>,
    #[serde(default)]
    pub backend: BackendSection,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub analytics: AnalyticsConfig,
    #[serde(default)]
    pub apps: Vec<AppEntry>,
    #[serde(default)]
    pub commands: Vec<CommandEntry>,
    #[serde(default)]
    pub faults: FaultSection,
    #[serde(default)]
    pub scoring: ScoringSection,
    #[serde(default)]
    pub invariants: Vec<InvariantEntry>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScenarioSection {
    pub name: String,
    /// One line shown at the top of the report.
    pub description: String,
    pub seed: u64,
    pub duration_h: f64,
    /// The UTC instant of simulated time zero (daily quotas reset at UTC midnight).
    pub epoch: String,
}

impl Default for ScenarioSection {
    fn default() -> Self {
        ScenarioSection {
            name: String::new(),
            description: String::new(),
            seed: 1,
            duration_h: 24.0,
            epoch: "2026-01-01T00:00:00Z".into(),
        }
    }
}

/// What every link shares: cell towers (for outages) and the simplified TCP.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSection {
    /// Devices served by one cell tower, numbered across classes; an outage cuts off whole
    /// towers.
    pub devices_per_tower: u32,
    /// The first retransmission timeout; each retry doubles it.
    pub tcp_rto_ms: u64,
    /// Retransmissions before a connection breaks.
    pub tcp_max_retries: u8,
}

impl Default for NetworkSection {
    fn default() -> Self {
        NetworkSection {
            devices_per_tower: 2_000,
            tcp_rto_ms: 1_000,
            tcp_max_retries: 6,
        }
    }
}

/// The IoT Hub (or `count` linked hubs of the same configuration, `<name>-0`, `<name>-1`, …).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubSection {
    pub name: String,
    /// F1, B1, B2, B3, S1, S2 or S3 (reference §1.1).
    pub tier: String,
    pub units: u32,
    pub count: u32,
    /// Built-in endpoint partitions, 1 to 32 (reference §1.3).
    pub partitions: u8,
    /// Messages matching no route go to the built-in endpoint.
    pub fallback: bool,
    pub routes: Vec<RouteEntry>,
    pub endpoints: Vec<EndpointEntry>,
    pub enrichments: Vec<EnrichmentEntry>,
    /// Default C2D message time to live, 60 to 172,800 s (reference §1.8).
    pub c2d_ttl_s: u64,
    /// Deliveries of a C2D message before it is dead-lettered, 1 to 100 (reference §1.8).
    pub c2d_max_delivery_count: u8,
}

impl Default for HubSection {
    fn default() -> Self {
        HubSection {
            name: "hub".into(),
            tier: "S1".into(),
            units: 1,
            count: 1,
            partitions: 4,
            fallback: true,
            routes: Vec::new(),
            endpoints: Vec::new(),
            enrichments: Vec::new(),
            c2d_ttl_s: 3_600,
            c2d_max_delivery_count: 10,
        }
    }
}

/// A message route (reference §1.3): a condition in the routing query language and the
/// endpoints that receive what matches (`events` is the built-in one).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteEntry {
    pub name: String,
    #[serde(default = "always")]
    pub condition: String,
    pub endpoints: Vec<String>,
}

fn always() -> String {
    "true".into()
}

/// A custom endpoint (an in-simulation Event Hub).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointEntry {
    pub name: String,
    #[serde(default = "four")]
    pub partitions: u8,
}

fn four() -> u8 {
    4
}

/// A message enrichment (reference §1.10).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichmentEntry {
    pub key: String,
    pub value: String,
    pub endpoints: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DpsSection {
    pub id_scope: String,
    /// The instance default: `hashed` or `static:<hub index>` (reference §2.3).
    pub allocation: String,
    /// Service units: registrations per minute scale with them (reference §2.5).
    pub units: u32,
}

impl Default for DpsSection {
    fn default() -> Self {
        DpsSection {
            id_scope: "0ne00000001".into(),
            allocation: "hashed".into(),
            units: 1,
        }
    }
}

/// One class of devices: a registered kind, how many, their ids, telemetry, firmware
/// settings, link and enrollment, and the kind's own parameters.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassEntry {
    /// The class's name, unique in the file (`--set classes.<name>.count=…`).
    pub name: String,
    /// A registered class kind (`fleetsim list` shows them), e.g. `collar/1`.
    pub kind: String,
    pub count: u32,
    /// Device ids: `prefix{index}suffix` or `prefix{index:0W}suffix`; default `<name>-{index:07}`.
    pub ids: String,
    /// Devices power on uniformly over this window from time zero.
    pub boot_window_s: u64,
    /// The share already provisioned on an earlier day: their flash holds the hub DPS would
    /// assign, and they connect straight to it; the rest register through DPS at boot.
    pub provisioned_ratio: f64,
    /// Telemetry the kind's device model (DTDL) does not declare: `"refuse"` the file, or
    /// `"flag"`: send it, and the back end counts it as unmodeled (IoT Central, §6).
    pub unmodeled: String,
    pub telemetry: TelemetrySection,
    pub firmware: FirmwareSection,
    pub link: LinkSection,
    pub enrollment: EnrollmentSection,
    /// The kind's own parameters (see the kind's documentation).
    pub params: toml::Table,
    /// The class of IoT Edge gateways its devices reach IoT Hub through (each device
    /// through one, its parent; reference §3); empty: straight to the hub.
    pub gateway: String,
    /// Present: the class's devices are IoT Edge gateways, with this deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge: Option<edge::EdgeSection>,
}

impl Default for ClassEntry {
    fn default() -> Self {
        ClassEntry {
            name: String::new(),
            kind: String::new(),
            count: 1,
            ids: String::new(),
            boot_window_s: 60,
            provisioned_ratio: 0.0,
            unmodeled: "refuse".into(),
            telemetry: TelemetrySection::default(),
            firmware: FirmwareSection::default(),
            link: LinkSection::default(),
            enrollment: EnrollmentSection::default(),
            params: toml::Table::new(),
            gateway: String::new(),
            edge: None,
        }
    }
}

/// A class's periodic telemetry: what goes on the wire and into the store.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySection {
    /// Seconds between readings; 0 for a class that publishes only on events.
    pub interval_s: u64,
    /// A uniform extra delay below this added to every interval.
    pub jitter_s: u64,
    /// The field that carries the device's clock (Unix seconds); the store keys readings by it.
    pub timestamp: String,
    /// The fields in order (what the class's `sample` fills), each with the resolution the
    /// store keeps it at (absent: bit-exact). Default: the kind's own fields, exact.
    pub fields: Vec<FieldEntry>,
}

impl Default for TelemetrySection {
    fn default() -> Self {
        TelemetrySection {
            interval_s: 300,
            jitter_s: 5,
            timestamp: "ts".into(),
            fields: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FieldEntry {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<f64>,
}

/// Firmware settings of a class (defaults in the range of the Azure IoT SDKs).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FirmwareSection {
    /// Readings the store-and-forward buffer holds, 1 to 60.
    pub buffer_capacity: u16,
    /// `drop_oldest` or `drop_newest`, when the buffer is full.
    pub overflow: String,
    /// MQTT keep-alive, 1 to 1,177 s (reference §1.6).
    pub keep_alive_s: u16,
    /// SAS token lifetime; renewed a twelfth of it early.
    pub token_ttl_min: u64,
    /// Hub subscriptions: any of `c2d`, `twin`, `methods` (Basic tiers allow none, §1.1).
    pub subscriptions: Vec<String>,
}

impl Default for FirmwareSection {
    fn default() -> Self {
        FirmwareSection {
            buffer_capacity: 48,
            overflow: "drop_oldest".into(),
            keep_alive_s: 240,
            token_ttl_min: 60,
            subscriptions: vec!["c2d".into(), "twin".into(), "methods".into()],
        }
    }
}

/// A class's link to the cloud: its radio (one of `hardware::radio::RadioProfile::NAMES`)
/// sets latency, loss and each packet's airtime and energy; any field set here overrides the
/// radio's own figure.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkSection {
    pub radio: String,
    /// Distance to the gateway or cell, for the radio's loss from its link budget.
    pub distance_m: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms_min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms_median_extra: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms_p99_extra: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_ratio: Option<f64>,
    /// The radio's bitrate for each packet's serialisation behind a 64 KiB transmit FIFO;
    /// 0: no serialisation delay and no FIFO.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitrate_bps: Option<u64>,
}

impl Default for LinkSection {
    fn default() -> Self {
        LinkSection {
            radio: "lte-m".into(),
            distance_m: 1_000.0,
            latency_ms_min: None,
            latency_ms_median_extra: None,
            latency_ms_p99_extra: None,
            loss_ratio: None,
            bitrate_bps: None,
        }
    }
}

/// The class's DPS enrollment group (symmetric key, reference §2.2).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnrollmentSection {
    /// The group key (16 to 64 bytes of text); default `fleetsim <class> enrollment group key`.
    pub group_key: String,
    /// Overrides the instance's allocation: `hashed` or `static:<hub index>`.
    pub allocation: String,
    /// The twin a newly assigned device starts with (`{ tags = {…}, desired = {…} }`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_twin: Option<toml::Table>,
}

/// A back-end app: a registered kind (Rust code) and its parameters.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppEntry {
    /// Unique among the apps (`--set apps.<name>.params.…`).
    pub name: String,
    /// A registered app kind (`fleetsim list` shows them), e.g. `portal/1`.
    pub kind: String,
    pub params: toml::Table,
}

/// A scheduled command from the back end to a selection of devices: a direct method, a C2D
/// message or a desired-properties patch at a time.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommandEntry {
    pub at_h: f64,
    /// `method`, `c2d` or `desired`.
    pub kind: String,
    /// The class whose devices are selected.
    pub class: String,
    /// The share of the class's devices (exactly `round(ratio × count)` of them, picked from the
    /// seed), default all of them.
    #[serde(default = "all")]
    pub ratio: f64,
    /// Or these device indices (overrides `ratio`; each once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<u32>,
    /// The method's name (`kind = "method"`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The method's payload, the C2D body or the desired patch, as a TOML table (sent as
    /// JSON).
    #[serde(default)]
    pub payload: toml::Table,
    /// A method's response timeout, 5 to 300 s (reference §1.7).
    #[serde(default = "thirty")]
    pub timeout_s: u32,
}

fn all() -> f64 {
    1.0
}

fn thirty() -> u32 {
    30
}

/// A notification channel's delivery: latency and loss from the back end to the person.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotifierEntry {
    /// `email`, `sms` or `webhook`.
    pub channel: String,
    pub latency_ms_median: f64,
    pub latency_ms_p99: f64,
    pub loss_ratio: f64,
}

/// The back end's built-in apps: the store keeps every class's telemetry (one time-series
/// type per class); the rules run on one class's.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackendSection {
    /// The class the rules (`[[analytics.rules]]`) run on and are scored for; default the
    /// first class.
    pub class: String,
    /// How often the back end reads the hubs' built-in endpoints.
    pub poll_s: u64,
    /// How each channel delivers the rules' notifications; a channel not listed here uses
    /// its default (e-mail 30 s median, 10 min p99, 0.1 % lost; SMS 5 s, 60 s, 1 %;
    /// webhook 0.2 s, 2 s, none) **[assumed]**.
    pub notifiers: Vec<NotifierEntry>,
}

impl Default for BackendSection {
    fn default() -> Self {
        BackendSection {
            class: String::new(),
            poll_s: 5,
            notifiers: Vec::new(),
        }
    }
}

/// The timed fault plan.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultSection {
    pub outages: Vec<OutageEntry>,
    pub crashes: Vec<CrashEntry>,
    pub hardware: Vec<HardwareFaultEntry>,
    pub clock: Vec<ClockFaultEntry>,
    pub uplinks: Vec<edge::UplinkFaultEntry>,
}

/// At `at_h` the clocks of a share of a class's devices step by `step_s` and from then on run
/// fast (or slow, when negative) by `drift_ppm`: the timestamps the devices write follow them.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClockFaultEntry {
    pub at_h: f64,
    pub class: String,
    /// The share of the class's devices (exactly `round(ratio × count)`, picked from the
    /// seed), default all of them.
    #[serde(default = "all")]
    pub ratio: f64,
    /// Or these device indices (overrides `ratio`; each once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<u32>,
    /// Rate error from `at_h` on, in parts per million (a crystal: tens).
    #[serde(default)]
    pub drift_ppm: f64,
    /// A step of the clock at `at_h`, in seconds (negative: back).
    #[serde(default)]
    pub step_s: f64,
}

/// A hardware fault a class's kind declares (a probe stuck, a relay welded on) on a share of
/// its devices, from `at_h` for `duration_min`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HardwareFaultEntry {
    pub at_h: f64,
    pub duration_min: f64,
    pub class: String,
    /// One of the faults the class's kind declares (`fleetsim list` shows them).
    pub fault: String,
    /// The share of the class's devices (exactly `round(ratio × count)`, picked from the
    /// seed), default all of them.
    #[serde(default = "all")]
    pub ratio: f64,
    /// Or these device indices (overrides `ratio`; each once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<u32>,
}

/// Towers (picked from the seed) lose their backhaul: their devices are cut off.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutageEntry {
    pub start_h: f64,
    pub duration_min: f64,
    #[serde(default = "one")]
    pub towers: u32,
}

fn one() -> u32 {
    1
}

/// A share of a class's devices (or of the fleet) crash and restart after a downtime.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CrashEntry {
    pub at_h: f64,
    pub downtime_min: f64,
    /// The share of the selected devices that crash (picked from the seed).
    pub ratio: f64,
    /// Only this class's devices; default every class.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub class: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoringSection {
    /// An alert this long after an episode ends still counts as detecting it.
    pub grace_min: u64,
}

impl Default for ScoringSection {
    fn default() -> Self {
        ScoringSection { grace_min: 30 }
    }
}

/// An invariant the run is judged by (exit code 1 if it fails).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum InvariantEntry {
    /// The rule's recall is at least `min` over episodes that began at least `min_age_h`
    /// before the end.
    Recall {
        rule: String,
        min: f64,
        #[serde(default)]
        min_age_h: f64,
    },
    /// The rule raises no alert for a device that never had an episode of its truth.
    NoAlertWithoutEpisode { rule: String },
    /// Every episode of the rule's truth that ends within the run is flagged before it ends.
    FlaggedBeforeEnd { rule: String },
    /// The rule's alert latency (from episode onset) at the 99th percentile is at most this.
    AlertLatency { rule: String, p99_s_max: f64 },
    /// Readings reach the rules within this at the 99th percentile.
    TelemetryLatency { p99_ms_max: f64 },
    /// At least this share of direct-method calls were answered with status 200.
    MethodsAnswered { min: f64 },
    /// At the end, at least this share of the class's devices report every desired property
    /// the back end set (twin convergence, reference §1.9).
    TwinsConverged { class: String, min: f64 },
    /// Notifications reached their recipients: at least `min` of those sent were delivered.
    NotificationsDelivered { min: f64 },
    /// A figure a class or an app reports lies within `[min, max]`.
    Figure {
        /// A class's or an app's name.
        of: String,
        figure: String,
        #[serde(default = "neg_inf")]
        min: f64,
        #[serde(default = "pos_inf")]
        max: f64,
    },
    /// The app's belief about the class's device states matches their true states
    /// ([`crate::class::DeviceClass::states`], [`crate::app::App::believed_states`]) for at
    /// least `min` of the devices, `after_s` after each outage heals and each crash entry's
    /// devices restart, and at the end; a device whose true state changed within `window_s`
    /// before such a moment may be believed in any state it had in that window.
    StatesConverged {
        class: String,
        app: String,
        #[serde(default = "converged_after_s")]
        after_s: f64,
        #[serde(default = "converged_window_s")]
        window_s: f64,
        #[serde(default = "one_f64")]
        min: f64,
    },
}

fn converged_after_s() -> f64 {
    60.0
}

fn converged_window_s() -> f64 {
    30.0
}

fn one_f64() -> f64 {
    1.0
}

fn neg_inf() -> f64 {
    f64::NEG_INFINITY
}

fn pos_inf() -> f64 {
    f64::INFINITY
}

/// Short `--set` names every scenario has.
pub const ALIASES: &[(&str, &str)] = &[
    ("devices", "classes[0].count"),
    ("seed", "scenario.seed"),
    ("hours", "scenario.duration_h"),
];
