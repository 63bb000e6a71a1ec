//! Integration tests of the hardware crate.

mod properties;
mod sensors;
mod snapshots;
