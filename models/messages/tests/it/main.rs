//! Integration tests of the iot-messages crate.

mod sas_vectors;
mod wire_roundtrip;
