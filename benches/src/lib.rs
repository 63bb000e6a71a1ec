//! Shared workload generators for the criterion benches.
