//! # sim: fleetsim's deterministic discrete-event kernel
//!
//! Everything a fleetsim run is made of sits on these pieces:
//!
//! - [`time`]: integer simulated time and the UTC calendar of the scenario's epoch;
//! - [`rng`]: one master seed forked into a stream per (entity kind, id, purpose), and
//!   distributions computed with deterministic maths;
//!
//! This crate depends on no other workspace crate (an architecture invariant), does no IO,
//! reads no OS clock and no ambient randomness.

pub mod rng;
pub mod time;

pub use rng::{CompactRng, Dist, Ratio, RngStream, Seed, StreamKey};
pub use time::{Epoch, SimDuration, SimTime, SkewedClock};
