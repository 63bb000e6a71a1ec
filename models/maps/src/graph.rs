//! The facility's map data: named places joined by road and path **ways** (a petgraph
//! undirected graph), building outlines and zones, in local metres about a [`LocalFrame`].
//!
//! **Access and speeds** (reference §5.1's travel modes; the figures are **assumed**, a
//! site's own rules): a [`WayKind::Road`] carries cars (8.3 m/s, 30 km/h) and trucks
//! (forklifts and lorries, 4.2 m/s, 15 km/h), not pedestrians; a [`WayKind::Footpath`]
//! carries pedestrians only (1.3 m/s): "a truck may not use a pedestrian path"; a
//! [`WayKind::SharedLane`] (a marked crossing or yard lane) carries all three, vehicles at
//! walking-safe 2.8 m/s (10 km/h). [`Access::Any`] ignores the signs (a forklift driver
//! cutting through the plaza), at the slowest speed the way allows.

use geometry::{LocalFrame, Point, Polygon};
use petgraph::graph::{NodeIndex, UnGraph};
use petgraph::visit::EdgeRef;
use serde::Serialize;

/// A travel mode of Route Directions (reference §5.1), the three a facility uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TravelMode {
    Car,
    Truck,
    Pedestrian,
}

impl TravelMode {
    pub const ALL: [TravelMode; 3] = [TravelMode::Car, TravelMode::Truck, TravelMode::Pedestrian];

    /// The name the REST API uses (`travelMode=truck`).
    pub fn as_str(self) -> &'static str {
        match self {
            TravelMode::Car => "car",
            TravelMode::Truck => "truck",
            TravelMode::Pedestrian => "pedestrian",
        }
    }
}

/// What a route may use: the ways a mode is allowed on, or every way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Mode(TravelMode),
    /// Every way, signs ignored.
    Any,
}

/// The kind of a way, which sets who may use it and how fast (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WayKind {
    Road,
    Footpath,
    SharedLane,
}

impl WayKind {
    /// The speed of `mode` on this kind of way, m/s; `None` where the mode may not go.
    pub fn speed_mps(self, mode: TravelMode) -> Option<f64> {
        match (self, mode) {
            (WayKind::Road, TravelMode::Car) => Some(8.3),
            (WayKind::Road, TravelMode::Truck) => Some(4.2),
            (WayKind::Footpath, TravelMode::Pedestrian)
            | (WayKind::SharedLane, TravelMode::Pedestrian) => Some(1.3),
            (WayKind::SharedLane, TravelMode::Car | TravelMode::Truck) => Some(2.8),
            (WayKind::Road, TravelMode::Pedestrian)
            | (WayKind::Footpath, TravelMode::Car | TravelMode::Truck) => None,
        }
    }

    /// Whether `access` may use this kind of way.
    pub fn allows(self, access: Access) -> bool {
        match access {
            Access::Any => true,
            Access::Mode(m) => self.speed_mps(m).is_some(),
        }
    }

    /// The speed of a traveller of `mode` under `access`: the mode's own where it is allowed,
    /// else (signs ignored) the slowest of the way, walking pace.
    pub fn speed_under(self, mode: TravelMode, access: Access) -> Option<f64> {
        match (self.speed_mps(mode), access) {
            (Some(v), _) => Some(v),
            (None, Access::Any) => Some(1.3),
            (None, Access::Mode(_)) => None,
        }
    }
}

/// One way between two places.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Way {
    pub kind: WayKind,
    pub length_m: f64,
}

/// A named place: a gate, a dock, a door.
#[derive(Clone, Debug, PartialEq)]
pub struct Place {
    pub name: String,
    pub position: Point,
}

/// A named outline: a building, or a zone a geofence is drawn from.
#[derive(Clone, Debug, PartialEq)]
pub struct Area {
    pub name: String,
    pub outline: Polygon,
}

/// What a route costs: metres (`routeType=shortest`) or seconds (`fastest`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteType {
    Fastest,
    Shortest,
}

/// Map data that does not hold together.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MapError {
    #[error("map: way {index} joins place {place}, but there are only {count} places")]
    NoSuchPlace {
        index: usize,
        place: usize,
        count: usize,
    },
    #[error("map: two places are named {0:?}")]
    DuplicateName(String),
    #[error("map: way {index} joins place {place} to itself")]
    Loop { index: usize, place: usize },
}

/// A facility's map. See the module docs.
#[derive(Clone, Debug)]
pub struct FacilityMap {
    pub frame: LocalFrame,
    places: Vec<Place>,
    graph: UnGraph<(), Way>,
    buildings: Vec<Area>,
    zones: Vec<Area>,
}

impl FacilityMap {
    /// A map of `places` joined by `ways` (place indices and kind; each way's length is the
    /// straight line between its places).
    pub fn new(
        frame: LocalFrame,
        places: Vec<Place>,
        ways: &[(usize, usize, WayKind)],
        buildings: Vec<Area>,
        zones: Vec<Area>,
    ) -> Result<FacilityMap, MapError> {
        for (i, p) in places.iter().enumerate() {
            if places[..i].iter().any(|q| q.name == p.name) {
                return Err(MapError::DuplicateName(p.name.clone()));
            }
        }
        let mut graph = UnGraph::with_capacity(places.len(), ways.len());
        for _ in &places {
            graph.add_node(());
        }
        for (index, &(a, b, kind)) in ways.iter().enumerate() {
            for place in [a, b] {
                if place >= places.len() {
                    return Err(MapError::NoSuchPlace {
                        index,
                        place,
                        count: places.len(),
                    });
                }
            }
            if a == b {
                return Err(MapError::Loop { index, place: a });
            }
            let length_m = places[a].position.distance_m(places[b].position);
            graph.add_edge(NodeIndex::new(a), NodeIndex::new(b), Way { kind, length_m });
        }
        Ok(FacilityMap {
            frame,
            places,
            graph,
            buildings,
            zones,
        })
    }

    pub fn places(&self) -> &[Place] {
        &self.places
    }
    pub fn buildings(&self) -> &[Area] {
        &self.buildings
    }
    pub fn zones(&self) -> &[Area] {
        &self.zones
    }
    /// The zones as geofences to upload (§5.2): each zone's outline in latitude and
    /// longitude, named by the zone, valid always.
    pub fn zone_fences(&self) -> Vec<crate::geofence::FenceFeature> {
        self.zones
            .iter()
            .map(|z| crate::geofence::FenceFeature {
                geometry_id: z.name.clone(),
                ring: z
                    .outline
                    .points()
                    .iter()
                    .map(|&p| self.frame.to_geo(p))
                    .collect(),
                validity: None,
            })
            .collect()
    }
    /// The place named `name`.
    pub fn place(&self, name: &str) -> Option<usize> {
        self.places.iter().position(|p| p.name == name)
    }
    pub fn position(&self, place: usize) -> Point {
        self.places[place].position
    }
    /// Latitude and longitude of a place.
    pub fn geo(&self, place: usize) -> (f64, f64) {
        self.frame.to_geo(self.places[place].position)
    }
    /// The zone named `name`.
    pub fn zone(&self, name: &str) -> Option<&Area> {
        self.zones.iter().find(|z| z.name == name)
    }

    /// The graph itself (for petgraph's algorithms: the true shortest paths).
    pub fn graph(&self) -> &UnGraph<(), Way> {
        &self.graph
    }

    /// Every way: its two places and itself.
    pub fn ways(&self) -> impl Iterator<Item = (usize, usize, Way)> + '_ {
        self.graph
            .edge_references()
            .map(|e| (e.source().index(), e.target().index(), *e.weight()))
    }

    /// The way between two adjacent places that `access` may use, cheapest by `route_type`
    /// for `mode` first.
    pub fn way_between(
        &self,
        a: usize,
        b: usize,
        mode: TravelMode,
        access: Access,
        route_type: RouteType,
    ) -> Option<Way> {
        self.graph
            .edges_connecting(NodeIndex::new(a), NodeIndex::new(b))
            .map(|e| *e.weight())
            .filter(|w| w.kind.allows(access))
            .min_by(|x, y| {
                cost(x, mode, access, route_type).total_cmp(&cost(y, mode, access, route_type))
            })
    }

    /// Whether a place has a way `access` may use.
    pub fn reachable_by(&self, place: usize, access: Access) -> bool {
        self.graph
            .edges(NodeIndex::new(place))
            .any(|e| e.weight().kind.allows(access))
    }

    /// The place nearest `p` that has a way `access` may use (ties to the lower index), or
    /// the nearest of all if none has.
    pub fn nearest_place(&self, p: Point, access: Access) -> usize {
        let nearest = |ok: &dyn Fn(usize) -> bool| {
            (0..self.places.len()).filter(|&i| ok(i)).min_by(|&a, &b| {
                p.distance_m(self.places[a].position)
                    .total_cmp(&p.distance_m(self.places[b].position))
            })
        };
        nearest(&|i| self.reachable_by(i, access))
            .or_else(|| nearest(&|_| true))
            .expect("a map has places")
    }

    /// The cheapest path by `route_type` for `mode` under `access`, as places from `from` to
    /// `to` (petgraph's A* towards the destination's straight line), or `None` if `to`
    /// cannot be reached.
    pub fn path(
        &self,
        from: usize,
        to: usize,
        mode: TravelMode,
        access: Access,
        route_type: RouteType,
    ) -> Option<(f64, Vec<usize>)> {
        let goal = self.places[to].position;
        // Admissible: no way is shorter than the straight line, or faster than a car's road.
        let fastest_mps = 8.3;
        let (c, nodes) = petgraph::algo::astar(
            &self.graph,
            NodeIndex::new(from),
            |n| n.index() == to,
            |e| cost(e.weight(), mode, access, route_type),
            |n| {
                let d = self.places[n.index()].position.distance_m(goal);
                match route_type {
                    RouteType::Shortest => d,
                    RouteType::Fastest => d / fastest_mps,
                }
            },
        )?;
        c.is_finite()
            .then(|| (c, nodes.into_iter().map(|n| n.index()).collect()))
    }

    /// The true cheapest cost from `from` to `to` (petgraph's Dijkstra over the ways `access`
    /// may use): metres for `Shortest`, seconds for `Fastest`.
    pub fn true_cost(
        &self,
        from: usize,
        to: usize,
        mode: TravelMode,
        access: Access,
        route_type: RouteType,
    ) -> Option<f64> {
        let costs = petgraph::algo::dijkstra(
            &self.graph,
            NodeIndex::new(from),
            Some(NodeIndex::new(to)),
            |e| cost(e.weight(), mode, access, route_type),
        );
        costs
            .get(&NodeIndex::new(to))
            .copied()
            .filter(|c| c.is_finite())
    }
}

/// A way's cost for `mode` under `access`: metres or seconds, infinite where it may not go.
pub fn cost(w: &Way, mode: TravelMode, access: Access, route_type: RouteType) -> f64 {
    if !w.kind.allows(access) {
        return f64::INFINITY;
    }
    match route_type {
        RouteType::Shortest => w.length_m,
        RouteType::Fastest => match w.kind.speed_under(mode, access) {
            Some(v) => w.length_m / v,
            None => f64::INFINITY,
        },
    }
}
