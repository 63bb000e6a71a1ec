//! # scenarios: scenario files and their loader
//!
//! The API boundary fleetsim users write against: a scenario is data (TOML), loaded into typed
//! structs with errors that name the file, line, column, field, the bad value and what was
//! expected, and overridden from the command line with `--set key=value`.

pub mod bundled;
pub mod class;
pub mod classes;
pub mod file;
pub mod load;
pub mod registry;
pub mod summary;
pub mod world;

pub use load::{FieldError, LoadError, Location, Override, Source, Validate};
