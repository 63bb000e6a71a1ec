//! Facility geometry for the maps scenario: buildings, named places and the walkways between
//! them, anchored to latitude/longitude.
//!
//! **Model.** The seed's maps example hosts "a map of your facility, and provides directions
//! from the customer's location to your main office". A [`Facility`] has a [`LocalFrame`]
//! (origin latitude/longitude), building outlines as [`Polygon`]s in local metres, named
//! places (gate, car park, main office entrance, …) and undirected walkways between places.
//! [`Facility::route`] finds the shortest walkway path (Dijkstra over the small graph) and its
//! length; places convert to latitude/longitude for the Azure Maps request shape (reference
//! §5.1: `query={lat1},{lon1}:{lat2},{lon2}`), and building outlines double as geofences
//! (reference §5.2).
//!
//! **Figures.** [`Facility::demo_site`] is an illustrative site (a gate, car park, main office,
//! tank hall and cattle yard around an origin at 47.6° N, 122.3° W); its coordinates are
//! **assumed**, chosen only to be plausible walking distances.
//!
//! **Left out.** Floors and indoor routing, one-way paths, opening hours, and road routing
//! outside the site (that is Azure Maps' job, modelled in the service crates).

use crate::world::geometry::{GeometryError, LocalFrame, Point, Polygon};

/// A named place.
#[derive(Clone, Debug, PartialEq)]
pub struct Place {
    pub name: String,
    pub position: Point,
}

/// A named building outline.
#[derive(Clone, Debug, PartialEq)]
pub struct Building {
    pub name: String,
    pub outline: Polygon,
}

/// A facility that does not hold together.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FacilityError {
    #[error("facility: walkway {index} joins place {place}, but there are only {count} places")]
    NoSuchPlace {
        index: usize,
        place: usize,
        count: usize,
    },
    #[error("facility: two places are named {0:?}")]
    DuplicateName(String),
    #[error(transparent)]
    Geometry(#[from] GeometryError),
}

/// A route along walkways.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    /// Indices of the places passed, from start to destination.
    pub places: Vec<usize>,
    pub length_m: f64,
}

/// A facility. See the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct Facility {
    pub frame: LocalFrame,
    buildings: Vec<Building>,
    places: Vec<Place>,
    walkways: Vec<(usize, usize)>,
}

impl Facility {
    pub fn new(
        frame: LocalFrame,
        buildings: Vec<Building>,
        places: Vec<Place>,
        walkways: Vec<(usize, usize)>,
    ) -> Result<Self, FacilityError> {
        for (i, p) in places.iter().enumerate() {
            if places[..i].iter().any(|q| q.name == p.name) {
                return Err(FacilityError::DuplicateName(p.name.clone()));
            }
        }
        for (index, &(a, b)) in walkways.iter().enumerate() {
            for place in [a, b] {
                if place >= places.len() {
                    return Err(FacilityError::NoSuchPlace {
                        index,
                        place,
                        count: places.len(),
                    });
                }
            }
        }
        Ok(Facility {
            frame,
            buildings,
            places,
            walkways,
        })
    }

    /// An illustrative site; coordinates assumed (module docs).
    pub fn demo_site() -> Self {
        let place = |name: &str, e: f32, n: f32| Place {
            name: name.to_string(),
            position: Point::new(e, n),
        };
        let rect =
            |name: &str, e0: f32, n0: f32, e1: f32, n1: f32| -> Result<Building, GeometryError> {
                Ok(Building {
                    name: name.to_string(),
                    outline: Polygon::new(
                        name,
                        vec![
                            Point::new(e0, n0),
                            Point::new(e1, n0),
                            Point::new(e1, n1),
                            Point::new(e0, n1),
                        ],
                    )?,
                })
            };
        let buildings = vec![
            rect("main office", 120.0, 80.0, 180.0, 130.0),
            rect("tank hall", 220.0, 20.0, 300.0, 70.0),
        ]
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .expect("constant outlines are valid");
        let places = vec![
            place("gate", 0.0, 0.0),
            place("car park", 60.0, 40.0),
            place("main office entrance", 150.0, 80.0),
            place("tank hall door", 220.0, 45.0),
            place("cattle yard", 320.0, 160.0),
        ];
        let walkways = vec![(0, 1), (1, 2), (1, 3), (2, 3), (3, 4), (2, 4)];
        Facility::new(
            LocalFrame {
                origin_lat_deg: 47.6,
                origin_lon_deg: -122.3,
            },
            buildings,
            places,
            walkways,
        )
        .expect("the demo site is consistent")
    }

    pub fn places(&self) -> &[Place] {
        &self.places
    }
    pub fn buildings(&self) -> &[Building] {
        &self.buildings
    }
    /// The index of the place called `name`.
    pub fn place_index(&self, name: &str) -> Option<usize> {
        self.places.iter().position(|p| p.name == name)
    }
    /// Latitude and longitude of a place, degrees.
    pub fn place_geo(&self, index: usize) -> Option<(f64, f64)> {
        self.places
            .get(index)
            .map(|p| self.frame.to_geo(p.position))
    }
    /// The building containing `p`, if any.
    pub fn building_at(&self, p: Point) -> Option<&Building> {
        self.buildings.iter().find(|b| b.outline.contains(p))
    }

    /// The shortest walkway route between two places, or `None` if they are not connected.
    pub fn route(&self, from: usize, to: usize) -> Option<Route> {
        let n = self.places.len();
        if from >= n || to >= n {
            return None;
        }
        let mut dist = vec![f64::INFINITY; n];
        let mut prev = vec![usize::MAX; n];
        let mut done = vec![false; n];
        dist[from] = 0.0;
        // The graph is a site plan: tens of places, so the O(n²) form is simplest and
        // deterministic (ties break on the lower index).
        while let Some(u) = (0..n)
            .filter(|&i| !done[i] && dist[i].is_finite())
            .min_by(|&a, &b| dist[a].total_cmp(&dist[b]))
        {
            done[u] = true;
            if u == to {
                break;
            }
            for &(a, b) in &self.walkways {
                let v = if a == u {
                    b
                } else if b == u {
                    a
                } else {
                    continue;
                };
                let d = dist[u]
                    + f64::from(self.places[u].position.distance_m(self.places[v].position));
                if d < dist[v] {
                    dist[v] = d;
                    prev[v] = u;
                }
            }
        }
        if !dist[to].is_finite() {
            return None;
        }
        let mut places = vec![to];
        while let Some(&last) = places.last() {
            if last == from {
                break;
            }
            places.push(prev[last]);
        }
        places.reverse();
        Some(Route {
            places,
            length_m: dist[to],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_from_the_gate_to_the_main_office_take_the_short_way() {
        let f = Facility::demo_site();
        let gate = f.place_index("gate").unwrap();
        let office = f.place_index("main office entrance").unwrap();
        let r = f.route(gate, office).unwrap();
        assert_eq!(
            r.places,
            vec![gate, f.place_index("car park").unwrap(), office]
        );
        let expected = 72.111 + 98.489;
        assert!((r.length_m - expected).abs() < 0.01, "{}", r.length_m);
        let (lat, lon) = f.place_geo(office).unwrap();
        assert!(
            (lat - 47.6007).abs() < 1e-3 && (lon + 122.298).abs() < 1e-3,
            "{lat} {lon}"
        );
        assert_eq!(
            f.building_at(Point::new(150.0, 100.0)).unwrap().name,
            "main office"
        );
    }

    #[test]
    fn a_walkway_to_a_missing_place_is_rejected() {
        let e = Facility::new(
            LocalFrame {
                origin_lat_deg: 0.0,
                origin_lon_deg: 0.0,
            },
            vec![],
            vec![Place {
                name: "a".into(),
                position: Point::default(),
            }],
            vec![(0, 3)],
        )
        .unwrap_err();
        assert!(e.to_string().contains("place 3"), "{e}");
    }
}
