//! Integration tests of the dps crate.
