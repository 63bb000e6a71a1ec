//! Route Directions (reference §5.1): `GET /route/directions/json?query={lat},{lon}:{lat},{lon}
//! [:…]&travelMode=…&routeType=…&departAt=…`, answered after a request latency with the
//! documented response shape: `routes[].summary {lengthInMeters, travelTimeInSeconds,
//! trafficDelayInSeconds, departureTime, arrivalTime}`, `routes[].legs[].summary` and
//! `legs[].points[] {latitude, longitude}`, and `routes[].sections[]` of `sectionType`
//! `TRAVEL_MODE` whose `travelMode` is `other` where the requested mode is impossible.
//!
//! **Model.** Each query point is matched to the nearest place of the map; each leg
//! (consecutive points) is the cheapest path by `routeType` (`fastest`: travel time,
//! `shortest`: length) over the ways the mode may use (A*, [`FacilityMap::path`]). Where no
//! such path exists the leg is routed over every way, and the sections on ways the mode may
//! not use are `other`, travelled at walking pace. A leg's length is the sum of its ways'
//! lengths; the route's summary sums its legs; `lengthInMeters` and `travelTimeInSeconds` are
//! rounded to whole numbers as the service returns them. The departure is `departAt`, or the
//! time the request is handled; the arrival is the departure plus the travel time.
//!
//! **Assumed.** No traffic on a private site: `trafficDelayInSeconds` is 0 (the reference
//! says it is 0 for future departures). `routeType` values beyond `fastest` and `shortest`
//! (eco, thrilling: an UNCONFIRMED list) are refused with 400. At most 150 query points
//! (assumed). The request latency is log-normal through the configured median and p99.
//! **Left out.** `computeTravelTimeFor`, alternatives, guidance instructions, vehicle
//! dimensions.

use crate::graph::{Access, FacilityMap, RouteType, TravelMode};
use geometry::Point;
use serde::Serialize;
use sim::{Dist, Epoch, SimDuration, SimTime};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The most query points a request may carry (assumed).
pub const MAX_QUERY_POINTS: usize = 150;

/// A Route Directions request.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteRequest {
    /// The caller's correlation id, echoed in the response.
    pub id: u64,
    /// `query`: `(latitude, longitude)` points, at least two.
    pub query: Vec<(f64, f64)>,
    pub travel_mode: TravelMode,
    pub route_type: RouteType,
    /// `departAt`; absent: now.
    pub depart_at: Option<SimTime>,
}

/// A point of a leg.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LatLon {
    pub latitude: f64,
    pub longitude: f64,
}

/// A route's or a leg's summary.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSummary {
    pub length_in_meters: u64,
    pub travel_time_in_seconds: u64,
    pub traffic_delay_in_seconds: u64,
    pub departure_time: String,
    pub arrival_time: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Leg {
    pub summary: RouteSummary,
    pub points: Vec<LatLon>,
}

/// A stretch of a route's points travelled in one mode.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Section {
    pub start_point_index: usize,
    pub end_point_index: usize,
    /// Always `TRAVEL_MODE`.
    pub section_type: &'static str,
    /// The requested mode, or `other` where it is impossible.
    pub travel_mode: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Route {
    pub summary: RouteSummary,
    pub legs: Vec<Leg>,
    pub sections: Vec<Section>,
}

/// The response body of a successful request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouteDirections {
    pub routes: Vec<Route>,
}

/// Why a request was refused (HTTP 400).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RouteError {
    #[error("query: {0} points, expected 2 to {MAX_QUERY_POINTS}")]
    QueryPoints(usize),
    #[error("query: point {0} is not a finite latitude, longitude")]
    BadPoint(usize),
    #[error("NO_ROUTE_FOUND")]
    NoRouteFound,
}

/// A response, when it reaches the caller.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteResponse {
    pub id: u64,
    pub requested_at: SimTime,
    pub answered_at: SimTime,
    /// 200 with the body, or 400 with why.
    pub result: Result<RouteDirections, RouteError>,
}

/// The service's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteConfig {
    /// Request latency, log-normal (assumed figures in the caller's scenario).
    pub latency_ms_median: f64,
    pub latency_ms_p99: f64,
}

/// Route Directions over one facility's map. See the module docs.
pub struct RouteService {
    map: Arc<FacilityMap>,
    epoch: Epoch,
    latency: Dist,
    rng: sim::CompactRng,
    pending: BTreeMap<(SimTime, u64), RouteResponse>,
    seq: u64,
    /// Requests handled, and of those refused.
    pub requests: u64,
    pub refused: u64,
}

impl RouteService {
    /// The service over `map`; times in responses are UTC from `epoch`.
    pub fn new(
        map: Arc<FacilityMap>,
        epoch: Epoch,
        cfg: &RouteConfig,
        rng: sim::CompactRng,
    ) -> Result<RouteService, sim::rng::DistError> {
        Ok(RouteService {
            map,
            epoch,
            latency: Dist::lognormal_median_p99(cfg.latency_ms_median, cfg.latency_ms_p99)?,
            rng,
            pending: BTreeMap::new(),
            seq: 0,
            requests: 0,
            refused: 0,
        })
    }

    /// A request arrives at `now`; its response is due after the request latency.
    pub fn handle_request(&mut self, now: SimTime, req: &RouteRequest) {
        self.requests += 1;
        let result = directions(&self.map, self.epoch, now, req);
        if result.is_err() {
            self.refused += 1;
        }
        let due = now + SimDuration::from_secs_f64(self.latency.sample(&mut self.rng) / 1e3);
        self.seq += 1;
        self.pending.insert(
            (due, self.seq),
            RouteResponse {
                id: req.id,
                requested_at: now,
                answered_at: due,
                result,
            },
        );
    }

    /// When the next response is due.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.pending.keys().next().map(|k| k.0)
    }

    /// The next response due by `now`.
    pub fn poll_response(&mut self, now: SimTime) -> Option<RouteResponse> {
        let (&key, _) = self.pending.iter().next()?;
        (key.0 <= now).then(|| self.pending.remove(&key).expect("present"))
    }
}

/// The leg from place `a` to `b`: its places and, per way, whether the mode may use it.
fn leg_path(
    map: &FacilityMap,
    a: usize,
    b: usize,
    req: &RouteRequest,
) -> Option<(Vec<usize>, Vec<bool>)> {
    let mode = req.travel_mode;
    let own = map.path(a, b, mode, Access::Mode(mode), req.route_type);
    let (places, access) = match own {
        Some((_, p)) => (p, Access::Mode(mode)),
        None => (
            map.path(a, b, mode, Access::Any, req.route_type)?.1,
            Access::Any,
        ),
    };
    let allowed = places
        .windows(2)
        .map(|w| {
            map.way_between(w[0], w[1], mode, Access::Mode(mode), req.route_type)
                .is_some()
                || access == Access::Mode(mode)
        })
        .collect();
    Some((places, allowed))
}

/// Answers a request at `now` (module docs).
pub fn directions(
    map: &FacilityMap,
    epoch: Epoch,
    now: SimTime,
    req: &RouteRequest,
) -> Result<RouteDirections, RouteError> {
    if !(2..=MAX_QUERY_POINTS).contains(&req.query.len()) {
        return Err(RouteError::QueryPoints(req.query.len()));
    }
    if let Some(i) = req
        .query
        .iter()
        .position(|(lat, lon)| !(lat.is_finite() && lon.is_finite()))
    {
        return Err(RouteError::BadPoint(i));
    }
    let mode = req.travel_mode;
    let matched: Vec<usize> = req
        .query
        .iter()
        .map(|&(lat, lon)| map.nearest_place(map.frame.to_local(lat, lon), Access::Any))
        .collect();
    let depart = req.depart_at.unwrap_or(now);
    let stamp = |t: f64| {
        epoch
            .utc(depart + SimDuration::from_secs_f64(t))
            .to_string()
    };
    let mut legs = Vec::with_capacity(matched.len() - 1);
    let mut sections: Vec<Section> = Vec::new();
    let (mut total_m, mut total_s, mut point_base) = (0.0, 0.0, 0usize);
    for w in matched.windows(2) {
        let (places, allowed) = leg_path(map, w[0], w[1], req).ok_or(RouteError::NoRouteFound)?;
        let (mut leg_m, mut leg_s) = (0.0, 0.0);
        for (i, pair) in places.windows(2).enumerate() {
            let access = if allowed[i] {
                Access::Mode(mode)
            } else {
                Access::Any
            };
            let way = map
                .way_between(pair[0], pair[1], mode, access, req.route_type)
                .expect("a path's places are joined");
            leg_m += way.length_m;
            leg_s += way.length_m / way.kind.speed_under(mode, access).expect("allowed");
            let travel_mode = if allowed[i] { mode.as_str() } else { "other" };
            let (start, end) = (point_base + i, point_base + i + 1);
            match sections.last_mut() {
                Some(s) if s.travel_mode == travel_mode && s.end_point_index == start => {
                    s.end_point_index = end;
                }
                _ => sections.push(Section {
                    start_point_index: start,
                    end_point_index: end,
                    section_type: "TRAVEL_MODE",
                    travel_mode,
                }),
            }
        }
        let points = places
            .iter()
            .map(|&p| {
                let (latitude, longitude) = map.geo(p);
                LatLon {
                    latitude,
                    longitude,
                }
            })
            .collect::<Vec<_>>();
        point_base += points.len();
        legs.push(Leg {
            summary: RouteSummary {
                length_in_meters: leg_m.round() as u64,
                travel_time_in_seconds: leg_s.round() as u64,
                traffic_delay_in_seconds: 0,
                departure_time: stamp(total_s),
                arrival_time: stamp(total_s + leg_s),
            },
            points,
        });
        total_m += leg_m;
        total_s += leg_s;
    }
    Ok(RouteDirections {
        routes: vec![Route {
            summary: RouteSummary {
                length_in_meters: total_m.round() as u64,
                travel_time_in_seconds: total_s.round() as u64,
                traffic_delay_in_seconds: 0,
                departure_time: stamp(0.0),
                arrival_time: stamp(total_s),
            },
            legs,
            sections,
        }],
    })
}

/// The local point of a leg point, for drawing a route on the facility's map.
pub fn to_local(map: &FacilityMap, p: LatLon) -> Point {
    map.frame.to_local(p.latitude, p.longitude)
}
