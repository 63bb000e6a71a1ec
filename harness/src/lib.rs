//! The `fleetsim` harness as a library: the command line ([`main_with`], which a user's own
//! binary calls with its classes registered), the reports, and the process set-up the
//! benchmarks share.

mod budget;
mod charts;
mod cli;
mod compare;
mod explain;
#[cfg(test)]
mod golden;
pub mod hugepages;
mod report;
mod run;
mod shrink;
mod sweep;

pub use cli::{main_with, BadInput, RunFailed};
/// The scenario API, for a user's crate that depends on `fleetsim` alone.
pub use scenarios;
