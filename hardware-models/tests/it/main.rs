//! Integration tests of the hardware crate.

mod determinism;
mod properties;
mod sensors;
mod snapshots;
