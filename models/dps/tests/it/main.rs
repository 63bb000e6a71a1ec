//! Integration tests of the dps crate: behaviour rules named as sentences, and the fleet
//! world (firmware + DPS + hubs on `sim::net`) for the acceptance scenarios.

mod common;
mod fleet;
mod rules;
mod world;
