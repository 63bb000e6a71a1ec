//! The extension API for the back end: an **app** is one object (a web portal, a controller,
//! a herd-health service) that sees what the back end sees and acts through IoT Hub's service
//! API, sans-IO like every model:
//!
//! - inputs: [`App::start`], every stored reading ([`App::on_reading`]), every alert
//!   ([`App::on_alert`]), the outcome of each command it issued ([`App::on_result`]), and its
//!   own timers ([`App::poll_timeout`] / [`App::handle_timeout`]);
//! - outputs: commands queued on the [`AppCtx`] (invoke a direct method, send a C2D message,
//!   patch a twin's desired properties), each with a [`CommandId`] its result comes back by:
//!   replies by correlation id, not `await` (house style);
//! - at the end, [`App::report`]: figures the summary holds and invariants can judge
//!   (`{ kind = "figure", of = "<app>", figure, min, max }`), and charts for the report; or
//!   [`App::report_scored`], which is also handed every class's ground truth, for an app that
//!   raises alerts of its own and scores them (the facility's geofence alerts).
//!
//! ```
//! use scenarios::app::{App, AppCtx, CommandOutcome, CommandResult};
//! use sim::SimTime;
//!
//! /// Asks every thermostat for its temperature once, at the start, and counts the answers.
//! struct Census {
//!     answered: u32,
//! }
//!
//! impl App for Census {
//!     fn start(&mut self, _now: SimTime, ctx: &mut AppCtx<'_>) {
//!         if let Some(class) = ctx.class("thermostat") {
//!             for i in 0..class.count {
//!                 ctx.invoke_method(class.device(i), "getTemperature", b"{}", 30);
//!             }
//!         }
//!     }
//!     fn on_result(&mut self, _now: SimTime, result: &CommandResult, _ctx: &mut AppCtx<'_>) {
//!         if let CommandOutcome::Method { status: 200, .. } = result.outcome {
//!             self.answered += 1;
//!         }
//!     }
//! }
//! ```

use crate::class::{ClassReport, Episode, StateChange};
use serde_json::Value;
use sim::SimTime;
use std::sync::Arc;

/// A device as an app names it: its class and its index in the class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceRef {
    pub class: u16,
    pub index: u32,
}

/// A class as an app sees it: where it is in the scenario and how many devices it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassRef {
    pub class: u16,
    pub count: u32,
}

impl ClassRef {
    pub fn device(self, index: u32) -> DeviceRef {
        DeviceRef {
            class: self.class,
            index,
        }
    }
}

/// The correlation id of a command: its result carries the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommandId(pub u64);

/// What an app asks of IoT Hub's service API.
#[derive(Clone, Debug, PartialEq)]
pub enum CommandKind {
    /// A direct method (reference §1.7): the response, or 404103 (the device did not connect
    /// in time) or 504101 (it did not answer within `response_timeout_s`, 5 to 300 s).
    Method {
        name: Arc<str>,
        payload: Arc<[u8]>,
        response_timeout_s: u32,
        connect_timeout_s: u32,
    },
    /// A C2D message (reference §1.8): its feedback (completed, expired, rejected) when
    /// `feedback`, else accepted when queued.
    C2d {
        body: Arc<[u8]>,
        ttl_s: Option<u32>,
        feedback: bool,
    },
    /// A desired-properties patch (reference §1.9): accepted with the new version, or
    /// refused; a connected, subscribed device is notified.
    Desired { patch: Value },
}

/// A queued command.
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    pub id: CommandId,
    pub device: DeviceRef,
    pub kind: CommandKind,
}

/// How a command ended.
#[derive(Clone, Debug, PartialEq)]
pub enum CommandOutcome {
    /// The device answered a method.
    Method { status: i32, body: Arc<[u8]> },
    /// A C2D message the device completed (acknowledged).
    C2dCompleted,
    /// A C2D message that expired or ran out of deliveries before the device took it.
    C2dExpired,
    /// A C2D message queued without feedback.
    C2dAccepted,
    /// A desired patch the twin took, with its new version.
    DesiredAccepted { version: u64 },
    /// The hub refused or failed the command with this code (404103, 504101, 429001, …).
    Failed { code: u32 },
}

/// A command's result, at the simulated time the back end learns it.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandResult {
    pub id: CommandId,
    pub device: DeviceRef,
    /// When the command was issued.
    pub issued_at: SimTime,
    pub outcome: CommandOutcome,
}

/// A stored reading, as the back end's store indexed it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading<'a> {
    pub device: DeviceRef,
    pub seq: u32,
    /// The device's timestamp (its clock when it sampled).
    pub event_time: SimTime,
    /// The class's telemetry fields, in order (NaN: absent).
    pub values: &'a [f64],
}

/// An alert the rules raised.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertEvent<'a> {
    pub rule: &'a str,
    pub device: DeviceRef,
    pub raised_at: SimTime,
}

/// The classes of the scenario by name, for an app's lookups.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    pub(crate) classes: Vec<(String, u32)>,
    pub(crate) fields: Vec<Vec<String>>,
}

/// What an app may do in a callback: look classes up and queue commands.
pub struct AppCtx<'a> {
    pub(crate) directory: &'a Directory,
    pub(crate) commands: &'a mut Vec<Command>,
    pub(crate) next_id: &'a mut u64,
}

impl AppCtx<'_> {
    /// Class `name`, if the scenario has it.
    pub fn class(&self, name: &str) -> Option<ClassRef> {
        self.directory
            .classes
            .iter()
            .position(|(n, _)| n == name)
            .map(|c| ClassRef {
                class: c as u16,
                count: self.directory.classes[c].1,
            })
    }

    /// The position of telemetry field `field` in class `class`'s readings.
    pub fn field(&self, class: ClassRef, field: &str) -> Option<usize> {
        self.directory.fields[usize::from(class.class)]
            .iter()
            .position(|f| f == field)
    }

    fn push(&mut self, device: DeviceRef, kind: CommandKind) -> CommandId {
        let id = CommandId(*self.next_id);
        *self.next_id += 1;
        self.commands.push(Command { id, device, kind });
        id
    }

    /// Invokes direct method `name` on `device` with a JSON `payload`, waiting up to
    /// `response_timeout_s` (5 to 300 s, reference §1.7) for the answer.
    pub fn invoke_method(
        &mut self,
        device: DeviceRef,
        name: &str,
        payload: &[u8],
        response_timeout_s: u32,
    ) -> CommandId {
        self.push(
            device,
            CommandKind::Method {
                name: name.into(),
                payload: payload.into(),
                response_timeout_s,
                connect_timeout_s: 0,
            },
        )
    }

    /// Sends a C2D message to `device`; with `feedback` its result is the hub's feedback.
    pub fn send_c2d(&mut self, device: DeviceRef, body: &[u8], feedback: bool) -> CommandId {
        self.push(
            device,
            CommandKind::C2d {
                body: body.into(),
                ttl_s: None,
                feedback,
            },
        )
    }

    /// Patches `device`'s desired properties.
    pub fn patch_desired(&mut self, device: DeviceRef, patch: Value) -> CommandId {
        self.push(device, CommandKind::Desired { patch })
    }

    /// Queues any command.
    pub fn command(&mut self, device: DeviceRef, kind: CommandKind) -> CommandId {
        self.push(device, kind)
    }
}

/// What an app shows: the same shape as a class's.
pub type AppReport = ClassReport;

/// A back-end app. Every method has a default, so an app implements only what it uses.
pub trait App {
    /// Called once at time zero.
    fn start(&mut self, _now: SimTime, _ctx: &mut AppCtx<'_>) {}
    /// Every reading the store indexes, of every class.
    fn on_reading(&mut self, _now: SimTime, _reading: &Reading<'_>, _ctx: &mut AppCtx<'_>) {}
    /// Every alert the rules raise.
    fn on_alert(&mut self, _now: SimTime, _alert: &AlertEvent<'_>, _ctx: &mut AppCtx<'_>) {}
    /// The result of a command this app issued.
    fn on_result(&mut self, _now: SimTime, _result: &CommandResult, _ctx: &mut AppCtx<'_>) {}
    /// When the app next needs [`App::handle_timeout`].
    fn poll_timeout(&self) -> Option<SimTime> {
        None
    }
    fn handle_timeout(&mut self, _now: SimTime, _ctx: &mut AppCtx<'_>) {}
    /// Figures and series at the end of the run.
    fn report(&self, _end: SimTime) -> AppReport {
        AppReport::default()
    }
    /// What the app came to believe about the states of class `class`'s devices: every
    /// change of its belief, at the simulated time it changed, in time order (the
    /// `states_converged` invariant compares it with the class's [`DeviceClass::states`]).
    ///
    /// [`DeviceClass::states`]: crate::class::DeviceClass::states
    fn believed_states(&self, _class: u16) -> Vec<StateChange> {
        Vec::new()
    }
    /// Figures scored against the classes' ground truth, at the end of the run (an app that
    /// raises its own alerts, such as geofence alerts, scores them here). By default the
    /// app's [`App::report`].
    fn report_scored(&self, end: SimTime, _truth: &GroundTruth) -> AppReport {
        self.report(end)
    }
}

/// Every class's ground truth at the end of a run ([`crate::class::DeviceClass::truth`]),
/// for [`App::report_scored`].
#[derive(Clone, Debug, Default)]
pub struct GroundTruth {
    pub(crate) classes: Vec<(String, Vec<Episode>)>,
}

impl GroundTruth {
    /// Class `name`'s episodes (none for a class the scenario does not have).
    pub fn episodes(&self, class: &str) -> &[Episode] {
        self.classes
            .iter()
            .find(|(n, _)| n == class)
            .map_or(&[], |(_, e)| e.as_slice())
    }
}

/// A figure for a report, by name.
pub fn figure(name: &str, value: f64) -> (String, f64) {
    (name.to_string(), value)
}
