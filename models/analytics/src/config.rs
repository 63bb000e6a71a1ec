//! Rule configuration as scenario files write it (deserialised by the scenario loader).
//!
//! Modelled on IoT Central rules (reference §6): conditions on telemetry, combined with
//! All (AND) or Any (OR), optionally aggregated over tumbling windows, with e-mail, SMS
//! and webhook actions. Consecutive-reading conditions, hysteresis (a separate clear
//! threshold), the cool-down, stuck detection and geofences are fleetsim's additions for
//! the seed's scenarios (a cow with a fever, a cow stuck for half a day, a tank out of
//! range); IoT Central's own re-fire behaviour is unconfirmed (§6, §8).
//!
//! ```toml
//! [[rules]]
//! name = "fever"
//! truth = "fever"
//! cooldown_s = 21600
//! conditions = [{ kind = "consecutive", column = "temp", op = "above", value = 39.5, clear = 39.2, readings = 2 }]
//! actions = [{ channel = "sms", to = "+41 79 000 00 00" }]
//! ```

use serde::{Deserialize, Serialize};

/// All rules of a back end.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsConfig {
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
}

/// One rule: conditions, how they combine, what to do when it fires.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Unique name, used in notifications, the dashboard and scores.
    pub name: String,
    /// The ground-truth kind this rule detects (e.g. "fever"), for scoring.
    #[serde(default)]
    pub truth: Option<String>,
    #[serde(default)]
    pub combine: Combine,
    pub conditions: Vec<ConditionConfig>,
    /// After an alert, a new episode of the same rule and device within this many
    /// seconds raises no new alert.
    #[serde(default)]
    pub cooldown_s: u64,
    #[serde(default)]
    pub actions: Vec<ActionConfig>,
}

/// How a rule's conditions combine (IoT Central's All / Any, §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    #[default]
    All,
    Any,
}

/// Which side of the threshold is the alarming one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// Strictly greater than `value`; clears below `clear`.
    Above,
    /// Strictly less than `value`; clears above `clear`.
    Below,
}

/// The aggregate of a tumbling window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowAggregate {
    Avg,
    Min,
    Max,
    Count,
    Sum,
}

/// Which geofence transition alerts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GeofenceTrigger {
    /// The device was outside and is now inside.
    Enter,
    /// The device was inside and is now outside.
    Exit,
}

/// One condition of a rule.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConditionConfig {
    /// `readings` consecutive readings of `column` beyond `value` make it true; one
    /// reading beyond `clear` (default: not beyond `value`) makes it false again.
    Consecutive {
        column: String,
        op: Comparison,
        value: f64,
        #[serde(default)]
        clear: Option<f64>,
        #[serde(default = "one_reading")]
        readings: u32,
    },
    /// The aggregate of `column` over each tumbling window of `window_s` (aligned to the
    /// Unix epoch) beyond `value` makes it true; a window beyond `clear` makes it false.
    Window {
        column: String,
        aggregate: WindowAggregate,
        window_s: u64,
        op: Comparison,
        value: f64,
        #[serde(default)]
        clear: Option<f64>,
    },
    /// True when every fix for `window_s` stayed within `radius_m` of an anchor fix;
    /// a fix farther than `clear_radius_m` (default `radius_m`) re-anchors and clears.
    Stuck {
        lat: String,
        lon: String,
        radius_m: f64,
        window_s: u64,
        #[serde(default)]
        clear_radius_m: Option<f64>,
    },
    /// True after the device crossed into (enter) or out of (exit) the polygon, until
    /// it crosses back. Vertices are `[lat, lon]` in degrees.
    Geofence {
        lat: String,
        lon: String,
        polygon: Vec<[f64; 2]>,
        trigger: GeofenceTrigger,
    },
}

fn one_reading() -> u32 {
    1
}

/// Where an alert goes (IoT Central actions: e-mail, webhook; SMS through an action group).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Webhook,
}

/// One action of a rule: a channel and its recipient (address, number or URL).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    pub channel: Channel,
    pub to: String,
}
