//! sim integration tests: one binary for the crate (house style), one module per concern.

mod determinism;
mod net_stats;
mod queue_oracle;
mod tidy;
mod workload;
