//! Integration tests of the iot-messages crate.
