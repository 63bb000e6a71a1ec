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

use firmware::DeviceLogic;
use hardware::battery::EnergyLedger;
use sim::SimTime;

/// One episode of ground truth: device `device` (class-local) was in state `kind` (a rule's
/// `truth`, e.g. `"fever"`) from `start` to `end`.
#[derive(Clone, Debug, PartialEq)]
pub struct Episode {
    pub kind: String,
    pub device: u32,
    pub start: SimTime,
    pub end: SimTime,
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

    /// The ground truth from the start to `end`, for scoring the back end's rules: every
    /// episode whose `kind` names a rule's `truth`.
    fn truth(&self, _end: SimTime) -> Vec<Episode> {
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
}
