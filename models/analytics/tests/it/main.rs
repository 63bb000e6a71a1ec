//! Integration tests of the analytics crate.

mod rules;
mod scoring;
