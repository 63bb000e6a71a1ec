//! The physical world the parts measure: rooms, a mixing tank, cows on a pasture, doors, and
//! facility geometry. Each is a plain struct advanced to an explicit `now`.

pub mod cow;
pub mod door;
pub mod facility;
pub mod geometry;
pub mod room;
pub mod tank;
