//! Integration tests of the hardware crate.
