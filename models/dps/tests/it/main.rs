//! Integration tests of the dps crate: behaviour rules named as sentences.

mod common;
mod rules;
