//! # hardware: the parts fleetsim's devices are made of, and the world they measure
//!
//! Engineers use fleetsim to see what firmware and back end do with what real parts report:
//! noise, bias, quantisation, slow conversions, saturation, drift, dropouts, flat batteries.
//! Every model here is a plain struct driven with an explicit `now` (sans-IO), draws from a
//! random stream it is handed, and cites its datasheet figures (shared reference §7) in its
//! module docs, marking each assumed number.
//!
//! - [`sensor`]: the shared measurement model ([`Sensor`], [`SensorSpec`], [`SensorUnit`],
//!   [`Reading`]); [`parts`]: the specs of the HTS221, LPS22HB, LSM6DSL, magnetometer,
//!   BME280, DS18B20, collar probe and thermocouple; [`reed`]: the door reed switch;
//!   [`gnss`]: the GNSS receiver.
//! - [`fault`]: decorators that make any sensor stuck, drifting, dropping out, spiking,
//!   offset or dead.
//! - [`battery`]: cells, voltage curves, brown-out and the energy ledger.
//! - [`radio`]: link profiles (Wi-Fi, LoRaWAN, NB-IoT, LTE-M, cellular) and the EU868 duty
//!   cycle.
//! - [`actuator`]: HVAC relay, electronic lock, tank heater.
//! - [`world`]: room thermal model, mixing tank, cows, doors, facility geometry.
//! - [`collar`]: the compact per-cow bundle (≤ 128 bytes) the million-collar herd is made of.

pub mod battery;
pub mod fastmath;
pub mod fault;
pub mod gnss;
pub mod parts;
pub mod reed;
pub mod sensor;

pub use sensor::{NoReadingReason, Reading, Sensor, SensorSpec, SensorUnit};
pub mod actuator;
pub mod collar;
pub mod radio;
pub mod world;
