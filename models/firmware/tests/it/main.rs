//! Integration tests of the firmware crate, driven through the device's verbs.

mod harness;
mod lifecycle;
mod running;
