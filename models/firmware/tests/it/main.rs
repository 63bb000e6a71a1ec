//! Integration tests of the firmware crate, driven through the device's verbs.

mod events;
mod harness;
mod lifecycle;
mod running;
