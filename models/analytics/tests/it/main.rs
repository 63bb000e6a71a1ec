//! Integration tests of the analytics crate.
