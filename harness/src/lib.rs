//! What the `fleetsim` binary shares with the benchmarks: the process set-up.

pub mod hugepages;
