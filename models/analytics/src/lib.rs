//! # analytics: the back end that watches the fleet and tells people
//!
//! The seed's back-end solutions analyse what devices send and notify people: an alert by
//! text or e-mail when a tank leaves its range, a dashboard of cows with a fever or stuck
//! in one place for more than half a day. This crate is that back end, in the spirit of
//! IoT Central rules (reference §6), plus what only a simulator can do: score the alerts
//! against the ground truth the hardware models know.
//!
//! - [`config`]: rules as scenario files write them (serde, unknown fields refused);
//! - [`RuleEngine`]: per-device rule state updated on each reading, alerts on the rising
//!   edge with hysteresis and cool-down, notifications out through `poll_notification`;
//! - [`NotificationSinks`] and [`Dashboard`]: what was sent, when, to whom; open alerts
//!   and counts for reports ([`RuleEngine::device_status`] per device);
//! - [`score`]: precision, recall, detection latency, missed and false alerts per rule.
//!
//! Readings are the store's [`store::IngestEvent`]s: feed the engine what the store
//! indexes, de-duplicated (`index_next` or the change feed: rules on stored data, with
//! the store's ingest lag), or a hub endpoint directly (rules on the telemetry stream, as
//! IoT Central does).

pub mod config;
mod engine;
mod notify;
pub mod score;

pub use config::{
    ActionConfig, AnalyticsConfig, Channel, Combine, Comparison, ConditionConfig, GeofenceTrigger,
    RuleConfig, WindowAggregate,
};
pub use engine::{ConfigError, EngineStats, RuleEngine, MAX_RULES};
pub use notify::{
    Alert, Dashboard, DeviceStatus, Notification, NotificationSinks, OpenAlert, RuleId,
    SentNotification,
};
pub use score::{score_rule, Score, TruthEpisode};
pub use store::DeviceIndex;
