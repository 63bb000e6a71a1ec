//! The extension API for devices: a **device class** is one object that holds the state of
//! every device of one kind in arrays indexed by the class-local device number, never one
//! object per device (house style, "The extension API").
//!
//! A class is sans-IO like every model. The world calls it:
//!
//! - through [`firmware::DeviceLogic`] (a supertrait) from inside the firmware: `sample` for
//!   each periodic reading, `on_desired`, `on_method`, `on_c2d`, `reported_on_connect`;
//! - through [`DeviceClass`] for what the firmware does not see: the energy of each packet the
//!   device sends ([`DeviceClass::on_transmit`]), a crash ([`DeviceClass::on_crash`]), the
//!   ground truth the back end is scored against ([`DeviceClass::truth`]), and what the
//!   report shows ([`DeviceClass::battery`], [`DeviceClass::position`]).
//!
//! A class acts on its own too, sans-IO: it queues [`DeviceAction`]s (publish a reading now,
//! answer a method later, report a property) in an [`Actions`] outbox the world drains with
//! [`DeviceClass::poll_action`] after every call into the class, and it asks for hardware
//! timers per device with [`DeviceClass::poll_timeout`] / [`DeviceClass::handle_timeout`]
//! (only if [`DeviceClass::has_timers`]).
//!
//! Every `device` argument is the class-local index `0..len()`. Randomness a class draws comes
//! from streams keyed by (seed, class, index, purpose), forked when the class is built, so
//! adding a class or a device changes nothing another device does.
//!
//! ```
//! use firmware::DeviceLogic;
//! use iot_messages::telemetry::FIELDS_MAX;
//! use scenarios::class::DeviceClass;
//! use sim::SimTime;
//!
//! /// Plant pots whose soil dries out by 1 % an hour.
//! struct Pots {
//!     moisture: Vec<f64>,
//! }
//!
//! impl DeviceLogic for Pots {
//!     fn sample(&mut self, device: u32, now: SimTime, out: &mut [f64; FIELDS_MAX]) -> usize {
//!         let m = &mut self.moisture[device as usize];
//!         *m = (80.0 - now.as_secs_f64() / 3_600.0).max(0.0);
//!         out[0] = *m;
//!         1
//!     }
//! }
//!
//! impl DeviceClass for Pots {
//!     fn len(&self) -> u32 {
//!         self.moisture.len() as u32
//!     }
//! }
//!
//! let mut pots = Pots { moisture: vec![0.0; 3] };
//! let mut out = [0.0; FIELDS_MAX];
//! assert_eq!(pots.sample(1, SimTime::from_secs(7_200), &mut out), 1);
//! assert_eq!(out[0], 78.0);
//! assert_eq!(pots.len(), 3);
//! ```

use firmware::{DeviceLogic, MethodRid};
use hardware::battery::EnergyLedger;
use iot_messages::telemetry::FIELDS_MAX;
use serde_json::Value;
use sim::SimTime;
use std::collections::VecDeque;

/// Something a class's device does of its own accord.
#[derive(Clone, Debug, PartialEq)]
pub enum DeviceAction {
    /// Publish a reading now (an event: a door opens, a tank alarms), with the class's
    /// telemetry fields in order; the world adds the timestamp. It is sequenced, buffered and
    /// acknowledged like a periodic reading.
    Publish {
        device: u32,
        values: [f64; FIELDS_MAX],
        len: u8,
    },
    /// Answer a direct method the class took with [`firmware::MethodReply::Later`].
    ReplyMethod {
        device: u32,
        rid: MethodRid,
        status: i32,
        body: Vec<u8>,
    },
    /// Send a reported-properties patch (dropped if the device is not connected: report it
    /// again from `reported_on_connect`).
    Report { device: u32, patch: Value },
}

/// A class's outbox of [`DeviceAction`]s: push from any callback, and return
/// [`Actions::pop`] from [`DeviceClass::poll_action`].
#[derive(Clone, Debug, Default)]
pub struct Actions(VecDeque<DeviceAction>);

impl Actions {
    /// Publishes `values` (at most [`FIELDS_MAX`] − 1; the rest are dropped) from `device`.
    pub fn publish(&mut self, device: u32, values: &[f64]) {
        let mut v = [f64::NAN; FIELDS_MAX];
        let len = values.len().min(FIELDS_MAX - 1);
        v[..len].copy_from_slice(&values[..len]);
        self.0.push_back(DeviceAction::Publish {
            device,
            values: v,
            len: len as u8,
        });
    }
    pub fn reply_method(&mut self, device: u32, rid: MethodRid, status: i32, body: Vec<u8>) {
        self.0.push_back(DeviceAction::ReplyMethod {
            device,
            rid,
            status,
            body,
        });
    }
    pub fn report(&mut self, device: u32, patch: Value) {
        self.0.push_back(DeviceAction::Report { device, patch });
    }
    pub fn pop(&mut self) -> Option<DeviceAction> {
        self.0.pop_front()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a class shows in the summary and the report: named figures (a comfort ratio, cycles
/// per hour; name them with their unit, `apply_latency_s_p99`) and charts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClassReport {
    pub figures: Vec<(String, f64)>,
    pub charts: Vec<Chart>,
}

impl ClassReport {
    /// A report of figures alone: `ClassReport::from_figures(vec![figure("dry_hours", h)])`.
    pub fn from_figures(figures: Vec<(String, f64)>) -> ClassReport {
        ClassReport {
            figures,
            charts: Vec::new(),
        }
    }
}

/// A chart for the report: lines over time or a histogram.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub body: ChartBody,
}

/// What a [`Chart`] draws.
#[derive(Clone, Debug, PartialEq)]
pub enum ChartBody {
    /// Named lines of (x, y) points.
    Lines(Vec<(String, Vec<(f64, f64)>)>),
    /// Labelled bars (a histogram's bins).
    Bars(Vec<(String, f64)>),
    /// A site map in metres east and north: layers of outlines, lines and points, drawn in
    /// order (buildings, then ways, then tracks…).
    Map(Vec<MapLayer>),
}

/// One layer of a [`ChartBody::Map`]: a name for the legend and its shapes.
#[derive(Clone, Debug, PartialEq)]
pub struct MapLayer {
    pub name: String,
    pub kind: LayerKind,
    /// Each shape's points, metres east and north.
    pub shapes: Vec<Vec<(f64, f64)>>,
}

/// How a [`MapLayer`]'s shapes are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// Closed outlines (buildings, fences), lightly filled.
    Areas,
    /// Polylines (ways, tracks, routes).
    Lines,
    /// Each point a dot (fixes, where alerts fired).
    Points,
}

impl MapLayer {
    pub fn new(name: &str, kind: LayerKind, shapes: Vec<Vec<(f64, f64)>>) -> MapLayer {
        MapLayer {
            name: name.to_string(),
            kind,
            shapes,
        }
    }
}

impl Chart {
    /// A line chart of `series` (name, points).
    pub fn lines(
        title: &str,
        x_label: &str,
        y_label: &str,
        series: Vec<(String, Vec<(f64, f64)>)>,
    ) -> Chart {
        Chart {
            title: title.to_string(),
            x_label: x_label.to_string(),
            y_label: y_label.to_string(),
            body: ChartBody::Lines(series),
        }
    }

    /// A map of `layers` (axes in metres east and north).
    pub fn map(title: &str, layers: Vec<MapLayer>) -> Chart {
        Chart {
            title: title.to_string(),
            x_label: "metres east".to_string(),
            y_label: "metres north".to_string(),
            body: ChartBody::Map(layers),
        }
    }

    /// A histogram of `values` in seconds over bins ending at `edges_s` (ascending; the last
    /// may be infinite: "> x s"), labelled `lo–hi s`.
    ///
    /// ```
    /// use scenarios::class::{Chart, ChartBody};
    /// let c = Chart::histogram_s("Latency", "requests", &[0.5, 1.5, 7.0], &[1.0, 2.0, f64::INFINITY]);
    /// let ChartBody::Bars(bins) = c.body else { panic!() };
    /// assert_eq!(bins, vec![("0–1 s".into(), 1.0), ("1–2 s".into(), 1.0), ("> 2 s".into(), 1.0)]);
    /// ```
    pub fn histogram_s(title: &str, y_label: &str, values: &[f64], edges_s: &[f64]) -> Chart {
        let mut counts = vec![0.0; edges_s.len()];
        for v in values {
            let bin = edges_s
                .iter()
                .position(|e| v < e)
                .unwrap_or(edges_s.len().saturating_sub(1));
            if let Some(c) = counts.get_mut(bin) {
                *c += 1.0;
            }
        }
        let mut lo = 0.0;
        let bins = edges_s
            .iter()
            .zip(counts)
            .map(|(hi, n)| {
                let label = if hi.is_finite() {
                    format!("{lo}–{hi} s")
                } else {
                    format!("> {lo} s")
                };
                lo = *hi;
                (label, n)
            })
            .collect();
        Chart::bars(title, "seconds", y_label, bins)
    }

    /// A bar chart of labelled `bins`.
    pub fn bars(title: &str, x_label: &str, y_label: &str, bins: Vec<(String, f64)>) -> Chart {
        Chart {
            title: title.to_string(),
            x_label: x_label.to_string(),
            y_label: y_label.to_string(),
            body: ChartBody::Bars(bins),
        }
    }
}

/// The nearest-rank `q`-quantile (0 to 1) of sorted values, 0 when there are none: what a
/// class or app reports as a p50 or p99.
///
/// ```
/// use scenarios::class::quantile;
/// let v = [1.0, 2.0, 3.0, 4.0];
/// assert_eq!(quantile(&v, 0.5), 2.0);
/// assert_eq!(quantile(&v, 0.99), 4.0);
/// assert_eq!(quantile(&[], 0.5), 0.0);
/// ```
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 * q.clamp(0.0, 1.0)).ceil() as usize).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// One episode of ground truth: device `device` (class-local) was in state `kind` (a rule's
/// `truth`, e.g. `"fever"`) from `start` to `end`.
#[derive(Clone, Debug, PartialEq)]
pub struct Episode {
    pub kind: String,
    pub device: u32,
    pub start: SimTime,
    pub end: SimTime,
}

/// A change of one device's state, as a class knows it truly happened or as an app came to
/// believe it: from `at`, device `device` (class-local) is in `state`, a code the class and
/// the app agree on (a door's open bit and lock bit). Judged by the `states_converged`
/// invariant, which compares a class's true states with an app's belief.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StateChange {
    pub at: SimTime,
    pub device: u32,
    pub state: u64,
}

/// A device's battery at the end of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatteryState {
    /// State of charge, 0 to 1.
    pub charge_ratio: f64,
    /// How long the battery would last at the run's mean draw, in seconds; `None` if it
    /// draws nothing.
    pub projected_life_s: Option<f64>,
    /// Energy drawn over the run, by use.
    pub energy: EnergyLedger,
}

/// A class of devices. See the module documentation for the call order.
pub trait DeviceClass: DeviceLogic {
    /// How many devices the class holds.
    fn len(&self) -> u32;

    /// Whether the class holds no device.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Device `device` sends a packet of `bytes` (retransmissions too): a class with a radio
    /// and a battery debits the transmission.
    fn on_transmit(&mut self, _device: u32, _now: SimTime, _bytes: u32) {}

    /// Device `device` crashed (a watchdog reset or brown-out from the fault plan): what its
    /// hardware loses, it loses here. The firmware's own RAM is handled by the firmware.
    fn on_crash(&mut self, _device: u32, _now: SimTime) {}

    /// Hardware fault `fault` (one the class's kind declares, `ClassKind::faults`) begins
    /// (`active`) or ends on device `device`, from the file's `[[faults.hardware]]`.
    fn on_fault(&mut self, _device: u32, _now: SimTime, _fault: &str, _active: bool) {}

    /// The ground truth from the start to `end`, for scoring the back end's rules: every
    /// episode whose `kind` names a rule's `truth`.
    fn truth(&self, _end: SimTime) -> Vec<Episode> {
        Vec::new()
    }

    /// Every change of each device's true state from the start (each device's state at time
    /// zero included), in time order, for the `states_converged` invariant; empty for a class
    /// that keeps no such states.
    fn states(&self) -> Vec<StateChange> {
        Vec::new()
    }

    /// Device `device`'s battery at `now`, if it has one.
    fn battery(&self, _device: u32, _now: SimTime) -> Option<BatteryState> {
        None
    }

    /// Where device `device` truly is at the end, in metres east and north of the class's
    /// map origin, if it has a place on a map.
    fn position(&self, _device: u32) -> Option<(f64, f64)> {
        None
    }

    /// The outline of the class's map (a pasture, a floor plan), in metres.
    fn map_outline(&self) -> Vec<(f64, f64)> {
        Vec::new()
    }

    /// The next action a device of the class takes of its own accord (see [`Actions`]).
    fn poll_action(&mut self) -> Option<DeviceAction> {
        None
    }

    /// Whether the class uses hardware timers: only then does the world ask
    /// [`DeviceClass::poll_timeout`] after each call for a device.
    fn has_timers(&self) -> bool {
        false
    }

    /// When device `device`'s hardware next needs [`DeviceClass::handle_timeout`].
    fn poll_timeout(&self, _device: u32) -> Option<SimTime> {
        None
    }

    /// Device `device`'s hardware timer is due.
    fn handle_timeout(&mut self, _device: u32, _now: SimTime) {}

    /// Figures and charts for the summary and the report, at the end of the run.
    fn report(&self, _end: SimTime) -> ClassReport {
        ClassReport::default()
    }
}
