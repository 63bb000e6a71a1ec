//! # iot-messages: what devices and the simulated Azure cloud say to each other
//!
//! Every format here is the one a real Azure IoT device speaks (reference §1.5, §1.6, §2.1,
//! §2.2 of `shared/reference/azure-iot-facts.md`):
//!
//! - [`ids`]: device ids (§1.4) and DPS registration ids (§2.2), validated;
//! - [`sas`]: SAS tokens (§1.5), real HMAC-SHA256 through `hmac` + `sha2`, and the DPS
//!   group-key derivation of device keys (§2.2);
//! - [`props`]: URL encoding and MQTT property bags (§1.6);
//! - [`topics`]: every MQTT topic of IoT Hub and DPS, built and parsed (§1.6, §2.1);
//! - [`telemetry`]: shared telemetry schemas, so a telemetry message can travel in compact
//!   form (numbers, no strings) and still render to the exact JSON body a device sends;
//! - [`dps_body`]: the JSON bodies of DPS registration and operation-status responses (§2.1);
//! - [`wire`]: [`wire::Msg`], the compact in-simulation message, with
//!   [`wire::Msg::encoded_len`] equal to the real MQTT 3.1.1 packet size, and a real
//!   encode/decode through the `mqttbytes` codec.
//!
//! **API boundary.** `firmware` on one side and `hub`/`dps` on the other depend on this
//! crate and never on each other. Nothing here holds simulation state or reads a clock:
//! expiry instants are passed in as Unix seconds.

pub mod dps_body;
pub mod ids;
pub mod props;
pub mod sas;
pub mod telemetry;
pub mod topics;
pub mod wire;

pub use ids::{DeviceId, IdError, RegistrationId};
pub use sas::{derive_device_key, SasError, SasRefusal, SasToken};
pub use telemetry::{SchemaId, SchemaSet, TelemetrySchema, Values};
pub use topics::Topic;
pub use wire::{ConnectCode, Msg, SubFilters, WireError};
