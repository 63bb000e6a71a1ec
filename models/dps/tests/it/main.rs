//! Integration tests of the dps crate: behaviour rules named as sentences. The end-to-end
//! scenarios (a fleet provisioned across hubs, a provisioning storm) run on the solution world
//! in `scenarios/tests/it/provisioning.rs`.

mod common;
mod rules;
