//! # sim: fleetsim's deterministic discrete-event kernel
//!
//! Everything a fleetsim run is made of sits on these pieces:
//!
//! - [`time`]: integer simulated time, the UTC calendar of the scenario's epoch, skewed clocks;
//! - [`rng`]: one master seed forked into a stream per (entity kind, id, purpose), and
//!   distributions computed with deterministic maths;
//! - [`queue`]: the pending-event set, a hierarchical timing wheel ordered by (time, seq);
//! - [`kernel`]: the clock, the trace hash, the checkers, and the [`World`] trait a simulated
//!   system implements;
//! - [`net`]: nodes and links with latency, loss, duplication, bandwidth and bounded FIFOs;
//! - [`fault`]: the scenario's timed fault plan;
//! - [`metrics`]: counters, gauges, hdrhistogram latencies and sampled time series.
//!
//! The kernel's tests exercise all of them on a small sensors-to-server workload
//! (`tests/it/workload.rs`); solutions run on the solution world of the `scenarios` crate.
//!
//! Architecture invariant: this crate depends on no other workspace crate, does no IO, reads
//! no OS clock and no ambient randomness.

pub mod fault;
pub mod kernel;
pub mod metrics;
pub mod net;
pub mod queue;
pub mod rng;
pub mod time;

pub use kernel::{
    Cadence, CheckFailure, Checker, EntityId, Event, EventKind, Kernel, Sim, TraceHash, World,
};
pub use queue::{EventKey, EventQueue};
pub use rng::{CompactRng, Dist, Ratio, RngStream, Seed, StreamKey};
pub use time::{Epoch, SimDuration, SimTime, SkewedClock};
