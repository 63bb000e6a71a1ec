//! `summary.json`: the stable contract between a run and CI or scripts.
//!
//! Field names are part of the contract (README, "summary.json"): add fields, never rename or
//! remove them. Counts are integers; ratios are floats in [0, 1]; times carry their unit in
//! their name. `fleetsim replay` reads `scenario`, `seed`, `overrides` and `trace_hash` back.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The scenario's name (bundled) or path (a file).
    pub scenario: String,
    pub seed: u64,
    /// `--set` overrides as given, `key=value`.
    pub overrides: Vec<String>,
    pub devices: u64,
    pub simulated_seconds: f64,
    pub events: u64,
    pub wall_seconds: f64,
    pub peak_rss_bytes: u64,
    /// 16 hex digits.
    pub trace_hash: String,
    pub telemetry: Telemetry,
    pub latency_ms: Latency,
    /// Where the latency goes: sample → each milestone on a reading's way, cumulative.
    #[serde(default)]
    pub latency_stages: Vec<LatencyStage>,
    pub hub: Hub,
    pub alerts: Alerts,
    pub battery: Battery,
    /// Every hub: its devices and connections at the end, and what it throttled.
    #[serde(default)]
    pub hubs: Vec<HubRow>,
    /// The Device Provisioning Service: registrations and throttling.
    #[serde(default)]
    pub dps: Dps,
    /// What the back-end apps asked of the devices, and how it went.
    #[serde(default)]
    pub commands: Commands,
    /// The rules' notifications per channel.
    #[serde(default)]
    pub notifications: Vec<ChannelNotifications>,
    /// Figures the classes and apps report (a comfort ratio, cycles per hour).
    #[serde(default)]
    pub figures: Vec<Figure>,
    /// Per class: its device model and how its readings matched it in the back end.
    #[serde(default)]
    pub models: Vec<ModelRow>,
    pub invariants: Vec<Invariant>,
    /// What the solution would cost a month at list prices (`scenarios::cost`).
    #[serde(default)]
    pub cost: crate::cost::Cost,
    /// What made the run, for a replay to check before it spends a run: the build, and
    /// the scenario file's content and absolute path (filled by the harness).
    #[serde(default)]
    pub provenance: Provenance,
}

/// The build and the scenario file a run came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The `fleetsim` crate's version and the git commit it was built from (`-dirty` with
    /// uncommitted changes; `unknown` outside a checkout).
    pub version: String,
    pub commit: String,
    /// SHA-256 of the scenario file's text as read (before `--set`), hex.
    pub scenario_sha256: String,
    /// The scenario file's absolute path; empty for a bundled scenario.
    pub scenario_path: String,
}

/// One class's device model (DTDL v2) and its readings as IoT Central would see them
/// (reference §6).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRow {
    pub class: String,
    /// The DTMI its devices announce when they connect; `None` for a kind without a model.
    pub model_id: Option<String>,
    /// Readings the back end received from the class's devices.
    pub readings: u64,
    /// Of those, readings whose device announced no model, or one that is no template's.
    pub unassigned: u64,
    /// Of those, readings carrying telemetry their template does not declare.
    pub unmodeled_readings: u64,
    /// The class's telemetry fields its model does not declare (`unmodeled = "flag"`).
    pub unmodeled_fields: Vec<String>,
}

/// Direct methods, C2D messages and desired-property patches the back end issued.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Commands {
    pub methods: Methods,
    pub c2d: C2d,
    pub desired: Desired,
    /// Of the devices whose desired properties were set, the share whose twin reports every
    /// one of them at the end.
    pub twins_converged_ratio: f64,
    /// Commands whose result had not come back when the run ended.
    pub open_at_end: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Methods {
    pub sent: u64,
    /// Answered with status 200.
    pub answered_ok: u64,
    /// The rest by code: the device's status, or the hub's (404103 not online, 504101 timed
    /// out, 429001 throttled, …).
    pub failed_by_code: Vec<Count>,
    /// Issued → result, over every method with a result.
    /// `null` when nothing was measured (no reply, no delivery).
    pub latency_ms_p50: Option<f64>,
    pub latency_ms_p99: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct C2d {
    pub sent: u64,
    /// Feedback: the device completed it.
    pub completed: u64,
    /// Feedback: it expired or ran out of deliveries.
    pub expired: u64,
    /// Queued without feedback.
    pub accepted: u64,
    /// Refused by the hub (queue full, unknown device, tier).
    pub failed: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Desired {
    pub sent: u64,
    pub accepted: u64,
    pub failed: u64,
}

/// One notification channel: how many went out, arrived, were lost, and were repeats for an
/// episode already notified on that channel.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelNotifications {
    pub channel: String,
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicates: u64,
    /// Alert raised → delivered.
    /// `null` when nothing was measured (no reply, no delivery).
    pub latency_ms_p50: Option<f64>,
    pub latency_ms_p99: Option<f64>,
}

/// A figure a class or an app reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// The class's or app's name.
    pub of: String,
    pub name: String,
    pub value: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Telemetry {
    /// Readings the firmware produced and queued for sending.
    pub sent: u64,
    /// Readings the hub acknowledged (PUBACK) and the device saw acknowledged.
    pub acknowledged: u64,
    /// Readings the hub routed to the built-in endpoint.
    pub delivered: u64,
    /// Readings the store holds (after de-duplication).
    pub stored: u64,
    /// Readings given up by the device, with the reason for each.
    pub lost: u64,
    pub lost_by_reason: Vec<Count>,
    /// Redelivered readings the store dropped as duplicates.
    pub duplicates_dropped: u64,
    /// Publishes the hub refused with 429 (each retried or lost later).
    pub throttled: u64,
    /// Readings still buffered or unacknowledged when the run ended.
    pub in_flight_at_end: u64,
    /// Readings an IoT Edge gateway acknowledged and gave up (`gateway_ttl`,
    /// `gateway_overflow`, `gateway_unrouted` in `lost_by_reason`), never stored: after the
    /// acknowledgement, so not in `lost`. Absent in scenarios without gateways.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost_at_gateways: u64,
    /// Readings gateways acknowledged and still held, not stored, when the run ended.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub held_at_gateways_at_end: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub name: String,
    pub count: u64,
}

/// End-to-end latency from the sample being taken to the reading being stored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// Sample → one milestone on a reading's way to the store, in milliseconds: `published`
/// (the device's first publish of it), `enqueued` (at the hub), `read` (from the hub's
/// endpoint by the back end), `queryable` (in the store; the rules run on it then).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyStage {
    pub stage: String,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Hub {
    pub tier: String,
    pub units: u32,
    /// Daily quota used on the busiest UTC day, as a share of the quota.
    pub quota_used_ratio: f64,
    pub throttled_requests: u64,
    pub quota_rejections: u64,
}

/// One hub at the end of the run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubRow {
    pub name: String,
    /// Identities in its registry (DPS assignments and preprovisioned devices).
    pub devices: u64,
    /// Devices connected when the run ended.
    pub connected_at_end: u64,
    pub connects_accepted: u64,
    /// Connections the hub's connect throttle delayed or refused (reference §1.2).
    pub connects_delayed: u64,
    pub connects_throttled: u64,
    /// Telemetry publishes the D2C throttle delayed or refused with 429.
    pub d2c_delayed: u64,
    pub d2c_throttled: u64,
}

/// The Device Provisioning Service at the end of the run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dps {
    pub registrations_accepted: u64,
    /// Registrations refused with 429 (1,000 a minute per unit, reference §2.5).
    pub registrations_throttled: u64,
    pub polls: u64,
    pub polls_throttled: u64,
    /// Devices DPS gave a hub, the preprovisioned included.
    pub assigned: u64,
    /// Devices in service before the run, which never registered.
    pub preprovisioned: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Alerts {
    pub raised: u64,
    /// Of `raised`, those raised after the run's end while the back end drained what the
    /// hub and the store still held (they are scored like the others: the readings were
    /// taken within the run).
    #[serde(default)]
    pub raised_after_end: u64,
    pub rules: Vec<RuleScore>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleScore {
    pub rule: String,
    pub raised: u64,
    pub true_episodes: u64,
    /// `null` when the rule raised no alert: there is nothing to be precise about.
    pub precision: Option<f64>,
    pub recall: f64,
    /// From an episode's onset to its first detecting alert; `null` when no episode was
    /// detected (nothing was measured, so no budget on it can pass by a 0).
    pub latency_s_p50: Option<f64>,
    pub latency_s_p99: Option<f64>,
    pub latency_s_max: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Battery {
    /// Charge left at the end of the run, as a share of capacity, across devices.
    pub charge_ratio_min: f64,
    pub charge_ratio_p50: f64,
    /// Projected life at the run's average drain, in days (median device).
    pub projected_life_days_p50: f64,
    /// Energy one collar drew over the run, by use, joules (mean over collars).
    #[serde(default)]
    pub energy_j_mean: EnergyByUse,
}

/// Energy by what drew it, joules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EnergyByUse {
    pub sleep: f64,
    pub sample: f64,
    pub fix: f64,
    /// Transmissions (every packet sent, retransmissions too).
    pub radio: f64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invariant {
    pub name: String,
    pub passed: bool,
    pub detail: String,
    /// The devices a failed invariant names, first ones first (at most
    /// [`Invariant::DEVICES_NAMED`]): `fleetsim explain --invariant` tells their stories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
}

impl Invariant {
    /// How many devices a failed invariant names at most.
    pub const DEVICES_NAMED: usize = 5;
}

/// `n` with thousands separators, as the summary's texts and the reports write counts
/// (`1,386,650`).
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Summary {
    pub fn all_invariants_held(&self) -> bool {
        self.invariants.iter().all(|i| i.passed)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the summary is plain data")
    }

    pub fn from_json(text: &str) -> Result<Summary, serde_json::Error> {
        serde_json::from_str(text)
    }
}
