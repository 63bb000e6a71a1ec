//! # scenarios: scenario files and their loader
//!
//! The API boundary fleetsim users write against: a scenario is data (TOML), loaded into typed
//! structs with errors that name the file, line, column, field, the bad value and what was
//! expected, and overridden from the command line with `--set key=value`.

pub mod app;
pub mod apps;
pub mod bundled;
pub mod class;
pub mod classes;
pub mod cost;
pub mod dtdl;
pub mod file;
pub mod load;
pub mod registry;
pub mod summary;
pub mod world;

pub use load::{FieldError, LoadError, Location, Override, Source, Validate};
/// The model crates a user's classes and apps build on.
pub use {firmware, hardware, iot_messages, sim};

/// Everything a user's device class or back-end app needs, in one import.
pub mod prelude {
    pub use crate::app::{
        figure, AlertEvent, App, AppCtx, AppReport, ClassRef, CommandId, CommandKind,
        CommandOutcome, CommandResult, DeviceRef, Reading,
    };
    pub use crate::class::{
        quantile, Actions, BatteryState, Chart, ChartBody, ClassReport, DeviceAction, DeviceClass,
        Episode, StateChange,
    };
    pub use crate::load::FieldError;
    pub use crate::registry::{AppBuild, AppKind, ClassBuild, ClassKind, Registry};
    pub use firmware::{DeviceLogic, MethodCall, MethodReply, MethodRid};
    pub use iot_messages::telemetry::FIELDS_MAX;
    pub use serde_json::{json, Value};
    pub use sim::{CompactRng, Dist, Ratio, Seed, SimDuration, SimTime, StreamKey};
}
