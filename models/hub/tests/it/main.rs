//! Integration tests of the hub crate.
