//! The herd scenario file: what `scenarios/herd.toml` may say, checked, and turned into a
//! [`HerdConfig`].
//!
//! Every table refuses unknown fields. Units are in the names. Semantic checks name the dotted
//! field, the value, and what was expected; the loader turns the field into a line and column.

use crate::herd::{collar_schemas, HerdConfig, Outage, Thresholds};
use crate::load::{FieldError, Validate};
use analytics::AnalyticsConfig;
use dps::{AllocationPolicy, DpsConfig, LinkedHub};
use firmware::{FirmwareConfig, OverflowPolicy};
use hardware::collar::CollarConfig;
use hardware::radio::RadioProfile;
use hardware::world::geometry::{LocalFrame, Polygon};
use hub::{HubConfig, Tier};
use serde::Deserialize;
use sim::net::{Latency, LinkProfile};
use sim::{Dist, Epoch, Ratio, SimDuration, SimTime};
use store::StoreConfig;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HerdFile {
    pub scenario: ScenarioSection,
    pub herd: HerdSection,
    pub collar: CollarSection,
    pub network: NetworkSection,
    #[serde(default)]
    pub faults: FaultSection,
    pub hub: HubSection,
    #[serde(default)]
    pub dps: DpsSection,
    #[serde(default)]
    pub store: StoreConfig,
    pub analytics: AnalyticsConfig,
    pub invariants: InvariantSection,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSection {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub duration_h: f64,
    #[serde(default = "default_epoch")]
    pub epoch: String,
}

fn default_epoch() -> String {
    "2026-01-01T00:00:00Z".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HerdSection {
    pub cows: u32,
    pub pasture_width_m: f32,
    pub pasture_height_m: f32,
    pub origin_lat: f64,
    pub origin_lon: f64,
    pub fever_per_cow_day: f64,
    pub fever_duration_h_min: f64,
    pub fever_duration_h_max: f64,
    pub fever_rise_c: f32,
    pub stuck_per_cow_day: f64,
    pub stuck_duration_h_min: f64,
    pub stuck_duration_h_max: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollarSection {
    pub report_interval_s: u64,
    pub report_jitter_s: u64,
    pub boot_window_s: u64,
    /// The share of collars already provisioned on an earlier day (their flash holds the hub
    /// DPS assigned); the rest provision through DPS when they boot. Default 0: every
    /// collar is new.
    #[serde(default)]
    pub provisioned_ratio: f64,
    pub buffer_capacity: u16,
    /// `drop_oldest` or `drop_newest`.
    pub overflow: String,
    pub keep_alive_s: u16,
    pub token_ttl_min: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    /// The collar's modem (one of `hardware::radio::RadioProfile::NAMES`): the energy of
    /// each transmission. Latency and loss are the fields below.
    pub radio: String,
    pub latency_ms_min: f64,
    pub latency_ms_median_extra: f64,
    pub latency_ms_p99_extra: f64,
    pub loss_ratio: f64,
    pub devices_per_tower: u32,
    #[serde(default)]
    pub outages: Vec<OutageSection>,
    pub tcp_rto_ms: u64,
    pub tcp_max_retries: u8,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutageSection {
    pub start_h: f64,
    pub duration_min: f64,
    /// How many towers fail (picked from the seed; capped at the herd's tower count).
    pub towers: u32,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSection {
    #[serde(default)]
    pub crash_ratio: f64,
    #[serde(default)]
    pub crash_at_h: f64,
    #[serde(default)]
    pub crash_downtime_min: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSection {
    pub tier: String,
    pub units: u32,
    #[serde(default = "one")]
    pub hubs: u32,
    #[serde(default = "four")]
    pub partitions: u8,
}

fn one() -> u32 {
    1
}

fn four() -> u8 {
    4
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpsSection {
    /// `hashed` (evenly weighted) or `static:<hub index>`.
    pub allocation: String,
    pub id_scope: String,
}

impl Default for DpsSection {
    fn default() -> Self {
        DpsSection {
            allocation: "hashed".into(),
            id_scope: "0ne00000001".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvariantSection {
    pub fever_recall_min: f64,
    /// Fever episodes younger than this at the end are not judged for recall.
    pub fever_min_age_h: f64,
    pub fever_rule: String,
    pub stuck_rule: String,
    pub score_grace_min: u64,
}

fn positive(field: &str, v: f64) -> Result<(), FieldError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("{v}: expected a number greater than 0"),
        ))
    }
}

fn ratio(field: &str, v: f64) -> Result<Ratio, FieldError> {
    Ratio::new(v).map_err(|_| FieldError::new(field, format!("{v}: expected a ratio from 0 to 1")))
}

fn hours(h: f64) -> SimDuration {
    SimDuration::from_secs_f64(h * 3_600.0)
}

impl Validate for HerdFile {
    fn validate(&self) -> Result<(), FieldError> {
        let s = &self.scenario;
        positive("scenario.duration_h", s.duration_h)?;
        if s.duration_h > 24.0 * 366.0 {
            return Err(FieldError::new(
                "scenario.duration_h",
                format!("{}: expected at most a year (8784 h)", s.duration_h),
            ));
        }
        if Epoch::parse_rfc3339(&s.epoch).is_none() {
            return Err(FieldError::new(
                "scenario.epoch",
                format!("{:?}: expected YYYY-MM-DDTHH:MM:SSZ", s.epoch),
            ));
        }
        let run_h = s.duration_h;
        // Times in the fault plan may lie past the end (a shortened run never reaches them),
        // but within a year, so that no arithmetic on them can overflow.
        let within_run = |field: String, v: f64, unit_per_h: f64| -> Result<(), FieldError> {
            let max = 24.0 * 366.0 * unit_per_h;
            if v.is_finite() && (0.0..=max).contains(&v) {
                Ok(())
            } else {
                Err(FieldError::new(
                    field,
                    format!("{v}: expected 0 to {max} (a year)"),
                ))
            }
        };
        let h = &self.herd;
        if h.cows == 0 || h.cows > 1_000_000 {
            return Err(FieldError::new(
                "herd.cows",
                format!("{}: expected 1 to 1,000,000 (an IoT hub holds at most 1,000,000 devices, reference §1.3)", h.cows),
            ));
        }
        positive("herd.pasture_width_m", f64::from(h.pasture_width_m))?;
        positive("herd.pasture_height_m", f64::from(h.pasture_height_m))?;
        if !(-80.0..=80.0).contains(&h.origin_lat) {
            return Err(FieldError::new(
                "herd.origin_lat",
                format!("{}: expected a latitude from -80 to 80", h.origin_lat),
            ));
        }
        if !(-180.0..=180.0).contains(&h.origin_lon) {
            return Err(FieldError::new(
                "herd.origin_lon",
                format!("{}: expected a longitude from -180 to 180", h.origin_lon),
            ));
        }
        for (f, v) in [
            ("herd.fever_per_cow_day", h.fever_per_cow_day),
            ("herd.stuck_per_cow_day", h.stuck_per_cow_day),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(FieldError::new(
                    f,
                    format!("{v}: expected episodes per cow-day from 0 to 1"),
                ));
            }
        }
        positive("herd.fever_duration_h_min", h.fever_duration_h_min)?;
        if h.fever_duration_h_max < h.fever_duration_h_min || h.fever_duration_h_max > 24.0 * 366.0
        {
            return Err(FieldError::new(
                "herd.fever_duration_h_max",
                format!(
                    "{}: expected fever_duration_h_min ({}) to 8784 h",
                    h.fever_duration_h_max, h.fever_duration_h_min
                ),
            ));
        }
        if h.stuck_duration_h_min.is_nan() || h.stuck_duration_h_min <= 12.0 {
            return Err(FieldError::new(
                "herd.stuck_duration_h_min",
                format!("{}: expected more than 12 h (stuck means in one place for longer than half a day)", h.stuck_duration_h_min),
            ));
        }
        if h.stuck_duration_h_max < h.stuck_duration_h_min || h.stuck_duration_h_max > 24.0 * 366.0
        {
            return Err(FieldError::new(
                "herd.stuck_duration_h_max",
                format!(
                    "{}: expected stuck_duration_h_min ({}) to 8784 h",
                    h.stuck_duration_h_max, h.stuck_duration_h_min
                ),
            ));
        }
        if !(h.fever_rise_c.is_finite() && (0.0..=5.0).contains(&h.fever_rise_c)) {
            return Err(FieldError::new(
                "herd.fever_rise_c",
                format!("{}: expected 0 to 5 °C", h.fever_rise_c),
            ));
        }
        let c = &self.collar;
        if c.report_interval_s == 0 || c.report_interval_s > 86_400 {
            return Err(FieldError::new(
                "collar.report_interval_s",
                format!(
                    "{}: expected 1 second to 1 day (86400)",
                    c.report_interval_s
                ),
            ));
        }
        // The accounting keeps two bits per reading per device; bound what a run may ask for.
        let readings = f64::from(h.cows) * run_h * 3_600.0 / c.report_interval_s as f64;
        if readings > 2e9 {
            return Err(FieldError::new(
                "scenario.duration_h",
                format!(
                    "{}: {} cows reporting every {} s for that long is {:.2e} readings; expected at most 2e9",
                    run_h, h.cows, c.report_interval_s, readings
                ),
            ));
        }
        if c.report_jitter_s >= c.report_interval_s {
            return Err(FieldError::new(
                "collar.report_jitter_s",
                format!(
                    "{}: expected less than report_interval_s ({})",
                    c.report_jitter_s, c.report_interval_s
                ),
            ));
        }
        within_run(
            "collar.boot_window_s".into(),
            c.boot_window_s as f64,
            3_600.0,
        )?;
        ratio("collar.provisioned_ratio", c.provisioned_ratio)?;
        if c.buffer_capacity == 0 || c.buffer_capacity > 60 {
            return Err(FieldError::new(
                "collar.buffer_capacity",
                format!("{}: expected 1 to 60 messages (the store de-duplicates within 64 sequence numbers)", c.buffer_capacity),
            ));
        }
        if !matches!(c.overflow.as_str(), "drop_oldest" | "drop_newest") {
            return Err(FieldError::new(
                "collar.overflow",
                format!(
                    "{:?}: expected \"drop_oldest\" or \"drop_newest\"",
                    c.overflow
                ),
            ));
        }
        if c.keep_alive_s == 0 || c.keep_alive_s > 1_177 {
            return Err(FieldError::new(
                "collar.keep_alive_s",
                format!(
                    "{}: expected 1 to 1177 s (the hub's limit, reference §1.6)",
                    c.keep_alive_s
                ),
            ));
        }
        if !(10..=10_080).contains(&c.token_ttl_min) {
            return Err(FieldError::new(
                "collar.token_ttl_min",
                format!("{}: expected 10 minutes to 7 days (10080)", c.token_ttl_min),
            ));
        }
        let n = &self.network;
        if RadioProfile::named(&n.radio).is_none() {
            return Err(FieldError::new(
                "network.radio",
                format!(
                    "{:?}: expected one of {}",
                    n.radio,
                    RadioProfile::NAMES.join(", ")
                ),
            ));
        }
        for (f, v) in [
            ("network.latency_ms_min", n.latency_ms_min),
            ("network.latency_ms_median_extra", n.latency_ms_median_extra),
            ("network.latency_ms_p99_extra", n.latency_ms_p99_extra),
        ] {
            if !(v.is_finite() && (0.0..=600_000.0).contains(&v)) {
                return Err(FieldError::new(
                    f,
                    format!("{v}: expected 0 to 600000 ms (10 minutes)"),
                ));
            }
        }
        positive("network.latency_ms_median_extra", n.latency_ms_median_extra)?;
        if n.latency_ms_p99_extra < n.latency_ms_median_extra {
            return Err(FieldError::new(
                "network.latency_ms_p99_extra",
                format!(
                    "{}: expected at least latency_ms_median_extra ({})",
                    n.latency_ms_p99_extra, n.latency_ms_median_extra
                ),
            ));
        }
        ratio("network.loss_ratio", n.loss_ratio)?;
        if n.devices_per_tower == 0 {
            return Err(FieldError::new(
                "network.devices_per_tower",
                "0: expected at least 1",
            ));
        }
        if !(1..=60_000).contains(&n.tcp_rto_ms) {
            return Err(FieldError::new(
                "network.tcp_rto_ms",
                format!("{}: expected 1 to 60000 ms", n.tcp_rto_ms),
            ));
        }
        if n.tcp_max_retries > 16 {
            return Err(FieldError::new(
                "network.tcp_max_retries",
                format!("{}: expected 0 to 16", n.tcp_max_retries),
            ));
        }
        for (i, o) in n.outages.iter().enumerate() {
            within_run(format!("network.outages[{i}].start_h"), o.start_h, 1.0)?;
            positive(
                &format!("network.outages[{i}].duration_min"),
                o.duration_min,
            )?;
            within_run(
                format!("network.outages[{i}].duration_min"),
                o.duration_min,
                60.0,
            )?;
            if o.towers == 0 {
                return Err(FieldError::new(
                    format!("network.outages[{i}].towers"),
                    "0: expected at least 1 tower",
                ));
            }
            // A heal ends every partition, so outages must come in order and not overlap.
            if let Some(prev) = i.checked_sub(1).map(|p| &n.outages[p]) {
                let prev_end_h = prev.start_h + prev.duration_min / 60.0;
                if o.start_h < prev_end_h {
                    return Err(FieldError::new(
                        format!("network.outages[{i}].start_h"),
                        format!("{}: expected outages in time order, not overlapping (the previous one ends at {prev_end_h} h)", o.start_h),
                    ));
                }
            }
        }
        let f = &self.faults;
        ratio("faults.crash_ratio", f.crash_ratio)?;
        within_run("faults.crash_at_h".into(), f.crash_at_h, 1.0)?;
        within_run(
            "faults.crash_downtime_min".into(),
            f.crash_downtime_min,
            60.0,
        )?;
        let hb = &self.hub;
        match Tier::parse(&hb.tier) {
            None => {
                return Err(FieldError::new(
                    "hub.tier",
                    format!("{:?}: expected one of F1, B1, B2, B3, S1, S2, S3", hb.tier),
                ));
            }
            Some(Tier::B1 | Tier::B2 | Tier::B3) => {
                return Err(FieldError::new(
                    "hub.tier",
                    format!(
                        "{:?}: the collar firmware uses device twins, which Basic tiers lack (reference §1.1); expected F1, S1, S2 or S3",
                        hb.tier
                    ),
                ));
            }
            Some(_) => {}
        }
        if hb.units == 0 || hb.units > 200 {
            return Err(FieldError::new(
                "hub.units",
                format!("{}: expected 1 to 200 units (reference §1.1)", hb.units),
            ));
        }
        if hb.hubs == 0 || hb.hubs > 16 {
            return Err(FieldError::new(
                "hub.hubs",
                format!("{}: expected 1 to 16 linked hubs", hb.hubs),
            ));
        }
        let d = &self.dps;
        if d.allocation != "hashed" {
            let ok = d
                .allocation
                .strip_prefix("static:")
                .and_then(|i| i.parse::<u32>().ok())
                .is_some_and(|i| i < hb.hubs);
            if !ok {
                return Err(FieldError::new(
                    "dps.allocation",
                    format!(
                        "{:?}: expected \"hashed\" or \"static:<hub index below {}>\"",
                        d.allocation, hb.hubs
                    ),
                ));
            }
        }
        let inv = &self.invariants;
        ratio("invariants.fever_recall_min", inv.fever_recall_min)?;
        if !(inv.fever_min_age_h.is_finite() && inv.fever_min_age_h >= 0.0) {
            return Err(FieldError::new(
                "invariants.fever_min_age_h",
                format!("{}: expected 0 or more hours", inv.fever_min_age_h),
            ));
        }
        if inv.score_grace_min > 10_080 {
            return Err(FieldError::new(
                "invariants.score_grace_min",
                format!(
                    "{}: expected at most a week (10080 minutes)",
                    inv.score_grace_min
                ),
            ));
        }
        for (f, name, truth) in [
            ("invariants.fever_rule", &inv.fever_rule, "fever"),
            ("invariants.stuck_rule", &inv.stuck_rule, "stuck"),
        ] {
            match self.analytics.rules.iter().find(|r| &r.name == name) {
                None => {
                    let names: Vec<&str> = self
                        .analytics
                        .rules
                        .iter()
                        .map(|r| r.name.as_str())
                        .collect();
                    return Err(FieldError::new(
                        f,
                        format!(
                            "{name:?}: expected the name of a rule in analytics.rules ({})",
                            names.join(", ")
                        ),
                    ));
                }
                Some(r) if r.truth.as_deref() != Some(truth) => {
                    return Err(FieldError::new(
                        f,
                        format!("{name:?}: that rule's truth is {:?}; expected a rule with truth = \"{truth}\"", r.truth),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

impl HerdFile {
    /// The world's configuration. Call after [`Validate::validate`] succeeded; errors that
    /// only the model crates can find (a hub setting, say) come back as a [`FieldError`].
    pub fn to_config(&self) -> Result<HerdConfig, FieldError> {
        let epoch = Epoch::parse_rfc3339(&self.scenario.epoch)
            .ok_or_else(|| FieldError::new("scenario.epoch", "unparsable"))?;
        let h = &self.herd;
        let mut collar = CollarConfig::default();
        collar.cow.epoch = epoch;
        collar.cow.fever_per_cow_day = h.fever_per_cow_day;
        collar.cow.fever_duration_s = Dist::uniform(
            h.fever_duration_h_min * 3_600.0,
            h.fever_duration_h_max * 3_600.0,
        )
        .map_err(|e| FieldError::new("herd.fever_duration_h_min", e.to_string()))?;
        collar.cow.fever_rise_c = h.fever_rise_c;
        collar.cow.stuck_per_cow_day = h.stuck_per_cow_day;
        collar.cow.stuck_duration_s = Dist::uniform(
            h.stuck_duration_h_min * 3_600.0,
            h.stuck_duration_h_max * 3_600.0,
        )
        .map_err(|e| FieldError::new("herd.stuck_duration_h_min", e.to_string()))?;
        collar
            .validate()
            .map_err(|e| FieldError::new("herd", e.to_string()))?;
        let pasture = Polygon::rectangle("pasture", h.pasture_width_m, h.pasture_height_m)
            .map_err(|e| FieldError::new("herd.pasture_width_m", e.to_string()))?;

        let c = &self.collar;
        let mut fw = FirmwareConfig::new(
            &self.dps.id_scope,
            collar_schemas(),
            SimDuration::from_secs(c.report_interval_s),
        );
        fw.epoch = epoch;
        fw.telemetry_jitter = SimDuration::from_secs(c.report_jitter_s);
        fw.buffer_capacity = c.buffer_capacity;
        fw.overflow = if c.overflow == "drop_newest" {
            OverflowPolicy::DropNewest
        } else {
            OverflowPolicy::DropOldest
        };
        fw.keep_alive_s = c.keep_alive_s;
        fw.token_ttl = SimDuration::from_mins(c.token_ttl_min);
        fw.token_renew_before = SimDuration::from_mins((c.token_ttl_min / 12).max(1));
        fw.validate()
            .map_err(|e| FieldError::new("collar", e.to_string()))?;

        let tier = Tier::parse(&self.hub.tier)
            .ok_or_else(|| FieldError::new("hub.tier", "unknown tier"))?;
        let mut hubs = Vec::new();
        let mut linked = Vec::new();
        for i in 0..self.hub.hubs {
            let mut hc = HubConfig::s1(&format!("herd-hub-{i}"));
            hc.tier = tier;
            hc.units = self.hub.units;
            hc.partitions = self.hub.partitions;
            hc.epoch = epoch;
            // The back end reads every few seconds; a minute or so of messages per partition
            // is plenty of replay buffer and bounds memory at a million devices.
            hc.partition_capacity = 1 << 16;
            linked.push(LinkedHub {
                host: format!("herd-hub-{i}.azure-devices.net"),
                weight: 1,
                apply_allocation_policy: true,
                region: 0,
            });
            hubs.push(hc);
        }
        let mut dps = DpsConfig::new(&self.dps.id_scope, linked);
        dps.epoch = epoch;
        dps.default_policy = match self.dps.allocation.strip_prefix("static:") {
            Some(i) => AllocationPolicy::Static {
                hub: format!("herd-hub-{i}.azure-devices.net"),
            },
            None => AllocationPolicy::Hashed,
        };

        let n = &self.network;
        let link = LinkProfile {
            latency: Latency {
                min: SimDuration::from_secs_f64(n.latency_ms_min / 1_000.0),
                jitter_ms: Dist::lognormal_median_p99(
                    n.latency_ms_median_extra,
                    n.latency_ms_p99_extra,
                )
                .map_err(|e| FieldError::new("network.latency_ms_median_extra", e.to_string()))?,
            },
            loss: ratio("network.loss_ratio", n.loss_ratio)?,
            duplicate: Ratio::ZERO,
            bandwidth_bps: None,
            queue_capacity_bytes: 0,
        };
        let outages = n
            .outages
            .iter()
            .map(|o| Outage {
                start: SimTime::ZERO + hours(o.start_h),
                duration: SimDuration::from_secs_f64(o.duration_min * 60.0),
                towers: o.towers,
            })
            .collect();
        let f = &self.faults;
        let crash = (f.crash_ratio > 0.0).then(|| {
            (
                Ratio::new(f.crash_ratio).expect("validated"),
                SimTime::ZERO + hours(f.crash_at_h),
                SimDuration::from_secs_f64(f.crash_downtime_min * 60.0),
            )
        });
        let mut store = self.store.clone();
        // The back end takes each reading as it is indexed (`index_next`), not from
        // the change feed.
        store.change_feed = false;
        store.partitions = store.partitions.max(u16::from(self.hub.partitions));
        Ok(HerdConfig {
            seed: self.scenario.seed,
            epoch,
            duration: hours(self.scenario.duration_h),
            cows: h.cows,
            boot_window: SimDuration::from_secs(c.boot_window_s),
            provisioned_ratio: Ratio::new(c.provisioned_ratio).expect("validated"),
            collar,
            pasture,
            frame: LocalFrame {
                origin_lat_deg: h.origin_lat,
                origin_lon_deg: h.origin_lon,
            },
            firmware: fw,
            hubs,
            dps,
            group_key: b"fleetsim herd enrollment group key".to_vec(),
            link,
            radio: RadioProfile::named(&n.radio).ok_or_else(|| {
                FieldError::new("network.radio", format!("{:?}: not a known radio", n.radio))
            })?,
            devices_per_tower: n.devices_per_tower,
            outages,
            crash,
            tcp_rto: SimDuration::from_millis(n.tcp_rto_ms),
            tcp_max_retries: n.tcp_max_retries,
            store,
            analytics: self.analytics.clone(),
            backend_poll: SimDuration::from_secs(5),
            score_grace: SimDuration::from_mins(self.invariants.score_grace_min),
            thresholds: Thresholds {
                fever_recall_min: self.invariants.fever_recall_min,
                fever_min_age: hours(self.invariants.fever_min_age_h),
                fever_rule: self.invariants.fever_rule.clone(),
                stuck_rule: self.invariants.stuck_rule.clone(),
            },
            sample_interval: SimDuration::from_mins(15),
        })
    }
}
