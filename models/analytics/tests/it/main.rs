//! Integration tests of the analytics crate.

mod properties;
mod rules;
mod scoring;
