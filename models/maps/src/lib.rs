//! # maps: an Azure Maps model for a facility, sans-IO
//!
//! The seed's maps solution hosts "a map of your facility, and provides directions from the
//! customer's location to your main office", and watches tracked assets against geofences.
//!
//! - [`graph`]: the facility's map data: places joined by road, footpath and shared-lane
//!   ways in a petgraph graph, with per-mode access and speeds (car, truck, pedestrian),
//!   buildings and zones; the true shortest paths by petgraph's Dijkstra.
//! - [`route`]: Route Directions (reference §5.1): the documented response shape, legs and
//!   points, `other` sections where the mode is impossible, after a request latency.
//! - [`geofence`]: Spatial Geofencing (reference §5.2): uploaded polygons with validity, the
//!   signed distance saturating beyond the search buffer, enter/exit state per device per
//!   geometry, `isAsync`, and Event Grid events.
//! - [`site`]: the bundled facility, a logistics yard.
//!
//! ## Call order
//!
//! Both services are sans-IO: the caller (a back-end app) hands a request in with
//! `handle_request(now, …)` / `handle_query(now, …)`, asks `poll_timeout()` when to come back,
//! and then takes what is due with `poll_response(now)` (and `poll_event(now)` for Event
//! Grid). Randomness (latencies) comes from the stream the caller gives each service.
//! Expected refusals (a bad search buffer, no route) are responses, not errors.

pub mod geofence;
pub mod graph;
pub mod route;
pub mod site;

pub use graph::{Access, FacilityMap, RouteType, TravelMode, WayKind};

#[cfg(test)]
mod tests;
