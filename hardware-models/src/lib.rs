//! # hardware: the parts fleetsim's devices are made of, and the world they measure
//!
//! Engineers use fleetsim to see what firmware and back end do with what real parts report:
//! noise, bias, quantisation, slow conversions, saturation, drift, dropouts, flat batteries.
//! Every model here is a plain struct driven with an explicit `now` (sans-IO), draws from a
//! random stream it is handed, and cites its datasheet figures (shared reference §7) in its
//! module docs, marking each assumed number and stating what it leaves out.
//!
//! - [`sensor`]: the shared measurement model ([`Sensor`], [`SensorSpec`], [`SensorUnit`],
//!   [`Reading`]); [`parts`]: the specs of the HTS221, LPS22HB, LSM6DSL, DevKit
//!   magnetometer, BME280, DS18B20 (9–12 bit), collar probe and type-K thermocouple;
//!   [`reed`]: the door reed switch with bounce; [`gnss`]: the GNSS receiver.
//! - [`fault`]: [`fault::Faulty`] wraps any sensor and makes it stuck, drifting, dropping out,
//!   spiking, offset or dead, switched by the fault plan or by random onset rates.
//! - [`battery`]: cells (Li-SOCl2, Li-ion), voltage curves, self-discharge, brown-out and the
//!   per-device energy ledger (sleep, sample, fix, radio).
//! - [`radio`]: link profiles (Wi-Fi, LoRaWAN SF7–12, NB-IoT, LTE-M, cellular) with airtime,
//!   energy, latency and loss by distance, a conversion to `sim::net::LinkProfile`, and the
//!   EU868 1 % duty-cycle tracker.
//! - [`actuator`]: HVAC relay with minimum on/off times, electronic lock (latency, jam,
//!   manual override), tank heater.
//! - [`world`]: room thermal model, mixing tank, cows (physiology, fever and stuck episodes,
//!   grazing inside a pasture polygon, queryable ground truth), doors.
//! - [`collar`]: the compact per-cow bundle (120 bytes) a million-collar herd is made of.
//!
//! ## Call order
//!
//! Models are advanced by whoever owns the clock (the kernel or a scenario):
//!
//! 1. build specs and configs once (`parts::*`, `CollarConfig::default()`, …) and `validate()`;
//! 2. manufacture units with a stream keyed by the device (`StreamKey::new(kind, id,
//!    "manufacture")`), so each unit's bias is reproducible and independent of other devices;
//! 3. at each wake-up call `measure`/`update`/`advance`/`handle_*` with `now`; models with
//!    their own schedule (random fault onsets, relay holds, lock motion, door changes, tank
//!    disturbances, duty cycle) say when they next need a call through `poll_timeout()`;
//! 4. expected failures (no reading, no fix, a deferred transmission, a brown-out) are returned
//!    as values to count, never as errors; errors are only for bad configuration.

pub mod actuator;
pub mod battery;
pub mod collar;
pub mod fastmath;
pub mod fault;
pub mod gnss;
pub mod parts;
pub mod radio;
pub mod reed;
pub mod sensor;
pub mod world;

pub use sensor::{NoReadingReason, Reading, Sensor, SensorSpec, SensorUnit};
