//! Integration tests of the hub crate: behaviour rules, named as sentences.

mod auth;
mod common;
mod forms;
mod limits;
mod routing;
mod service;
