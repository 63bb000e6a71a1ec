//! Integration tests of the firmware crate.
