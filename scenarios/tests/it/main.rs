//! Integration tests of the scenarios crate: loading scenario files and running the herd.

mod bad_files;
mod herd;
