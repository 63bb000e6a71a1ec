//! The physical world the parts measure: rooms, a mixing tank, cows on a pasture, doors. Each
//! is a plain struct advanced to an explicit `now`. Their geometry (the pasture polygon, local
//! metres and latitude/longitude) is the workspace's one `geometry` crate.

pub mod cow;
pub mod door;
pub mod room;
pub mod tank;
