//! Integration tests of the scenarios crate.
