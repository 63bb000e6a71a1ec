//! Integration tests of the store crate.

mod compression;
mod ingestion;
mod oracle;
