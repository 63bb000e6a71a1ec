//! Integration tests of the scenarios crate: loading scenario files and running them.

mod bad_files;
mod commands;
mod common;
mod doors;
mod edge;
mod facility;
mod herd;
mod models;
mod provisioning;
mod schema;
mod tank;
mod thermostat;
