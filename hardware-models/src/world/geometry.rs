//! Plane geometry in local metres, and the mapping to latitude/longitude.
//!
//! **Model.** Positions are metres east and north of a site origin, in `f32` (a pasture of tens
//! of kilometres keeps centimetre precision, and a collar stores two of them in 8 bytes). A
//! [`Polygon`] is a simple polygon (pasture fence, building outline, geofence) with an
//! even-odd point-in-polygon test and a bounding box that rejects most points cheaply.
//! [`LocalFrame`] converts between local metres and WGS84 latitude/longitude with an
//! equirectangular projection about the origin.
//!
//! **Invariants.** A polygon has at least three finite vertices and a non-zero area.
//!
//! **Left out.** Earth curvature beyond the equirectangular approximation (error below 0.1 %
//! within 50 km of the origin at mid latitudes), altitude, self-intersection checks (an
//! even-odd test still defines an inside for those), polygons with holes.

use rand_core::RngCore;

/// Mean Earth radius, metres (IUGG).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A point in local metres.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Point {
    pub east_m: f32,
    pub north_m: f32,
}

impl Point {
    pub const fn new(east_m: f32, north_m: f32) -> Self {
        Point { east_m, north_m }
    }
    /// Straight-line distance, metres.
    pub fn distance_m(self, other: Point) -> f32 {
        libm::hypotf(self.east_m - other.east_m, self.north_m - other.north_m)
    }
}

/// A polygon that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeometryError {
    #[error("polygon {name}: needs at least 3 vertices, got {count}")]
    TooFewVertices { name: String, count: usize },
    #[error("polygon {name}: vertex {index} ({east_m}, {north_m}) is not finite")]
    NotFinite {
        name: String,
        index: usize,
        east_m: f32,
        north_m: f32,
    },
    #[error("polygon {name}: area is {area_m2} m², expected more than 0")]
    ZeroArea { name: String, area_m2: f32 },
}

/// A simple polygon in local metres. See the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct Polygon {
    vertices: Vec<Point>,
    min: Point,
    max: Point,
    area_m2: f32,
}

impl Polygon {
    /// A polygon from its vertices in order (either winding); `name` is used in errors.
    pub fn new(name: &str, vertices: Vec<Point>) -> Result<Self, GeometryError> {
        if vertices.len() < 3 {
            return Err(GeometryError::TooFewVertices {
                name: name.to_string(),
                count: vertices.len(),
            });
        }
        for (index, p) in vertices.iter().enumerate() {
            if !(p.east_m.is_finite() && p.north_m.is_finite()) {
                return Err(GeometryError::NotFinite {
                    name: name.to_string(),
                    index,
                    east_m: p.east_m,
                    north_m: p.north_m,
                });
            }
        }
        let mut twice_area = 0.0f64;
        for i in 0..vertices.len() {
            let a = vertices[i];
            let b = vertices[(i + 1) % vertices.len()];
            twice_area += f64::from(a.east_m) * f64::from(b.north_m)
                - f64::from(b.east_m) * f64::from(a.north_m);
        }
        let area_m2 = (twice_area.abs() / 2.0) as f32;
        if area_m2.is_nan() || area_m2 <= 0.0 {
            return Err(GeometryError::ZeroArea {
                name: name.to_string(),
                area_m2,
            });
        }
        let min = Point::new(
            vertices
                .iter()
                .map(|p| p.east_m)
                .fold(f32::INFINITY, f32::min),
            vertices
                .iter()
                .map(|p| p.north_m)
                .fold(f32::INFINITY, f32::min),
        );
        let max = Point::new(
            vertices
                .iter()
                .map(|p| p.east_m)
                .fold(f32::NEG_INFINITY, f32::max),
            vertices
                .iter()
                .map(|p| p.north_m)
                .fold(f32::NEG_INFINITY, f32::max),
        );
        Ok(Polygon {
            vertices,
            min,
            max,
            area_m2,
        })
    }

    /// An axis-aligned rectangle from the origin to (width, height).
    pub fn rectangle(name: &str, width_m: f32, height_m: f32) -> Result<Self, GeometryError> {
        Polygon::new(
            name,
            vec![
                Point::new(0.0, 0.0),
                Point::new(width_m, 0.0),
                Point::new(width_m, height_m),
                Point::new(0.0, height_m),
            ],
        )
    }

    pub fn vertices(&self) -> &[Point] {
        &self.vertices
    }
    pub fn area_m2(&self) -> f32 {
        self.area_m2
    }
    /// Lower-left and upper-right corners of the bounding box.
    pub fn bounds(&self) -> (Point, Point) {
        (self.min, self.max)
    }

    /// Whether `p` is inside (even-odd rule; points exactly on an edge may go either way).
    #[inline]
    pub fn contains(&self, p: Point) -> bool {
        if p.east_m < self.min.east_m
            || p.east_m > self.max.east_m
            || p.north_m < self.min.north_m
            || p.north_m > self.max.north_m
        {
            return false;
        }
        let mut inside = false;
        let n = self.vertices.len();
        let mut j = n - 1;
        for i in 0..n {
            let (a, b) = (self.vertices[i], self.vertices[j]);
            if (a.north_m > p.north_m) != (b.north_m > p.north_m) {
                let t = (p.north_m - a.north_m) / (b.north_m - a.north_m);
                if p.east_m < a.east_m + t * (b.east_m - a.east_m) {
                    inside = !inside;
                }
            }
            j = i;
        }
        inside
    }

    /// A uniformly random point inside, by rejection from the bounding box; `None` if 10 000
    /// tries all missed (a sliver polygon).
    pub fn sample_inside(&self, rng: &mut impl RngCore) -> Option<Point> {
        for _ in 0..10_000 {
            let u = sim::rng::unit_f64(rng) as f32;
            let v = sim::rng::unit_f64(rng) as f32;
            let p = Point::new(
                self.min.east_m + u * (self.max.east_m - self.min.east_m),
                self.min.north_m + v * (self.max.north_m - self.min.north_m),
            );
            if self.contains(p) {
                return Some(p);
            }
        }
        None
    }
}

/// An equirectangular projection about an origin. See the module docs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalFrame {
    pub origin_lat_deg: f64,
    pub origin_lon_deg: f64,
}

impl LocalFrame {
    fn metres_per_deg_lat() -> f64 {
        EARTH_RADIUS_M * core::f64::consts::PI / 180.0
    }
    fn metres_per_deg_lon(&self) -> f64 {
        Self::metres_per_deg_lat() * libm::cos(self.origin_lat_deg.to_radians())
    }

    /// Latitude and longitude, degrees, of a local point.
    pub fn to_geo(&self, p: Point) -> (f64, f64) {
        (
            self.origin_lat_deg + f64::from(p.north_m) / Self::metres_per_deg_lat(),
            self.origin_lon_deg + f64::from(p.east_m) / self.metres_per_deg_lon(),
        )
    }

    /// The local point of a latitude and longitude, degrees.
    pub fn to_local(&self, lat_deg: f64, lon_deg: f64) -> Point {
        Point::new(
            ((lon_deg - self.origin_lon_deg) * self.metres_per_deg_lon()) as f32,
            ((lat_deg - self.origin_lat_deg) * Self::metres_per_deg_lat()) as f32,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::CompactRng;

    #[test]
    fn point_in_polygon_handles_a_concave_fence() {
        // An L-shaped pasture.
        let l = Polygon::new(
            "L",
            vec![
                Point::new(0.0, 0.0),
                Point::new(200.0, 0.0),
                Point::new(200.0, 100.0),
                Point::new(100.0, 100.0),
                Point::new(100.0, 200.0),
                Point::new(0.0, 200.0),
            ],
        )
        .unwrap();
        assert!(l.contains(Point::new(50.0, 150.0)));
        assert!(l.contains(Point::new(150.0, 50.0)));
        assert!(!l.contains(Point::new(150.0, 150.0)));
        assert!(!l.contains(Point::new(-1.0, 50.0)));
        assert!((l.area_m2() - 30_000.0).abs() < 1e-3);
        let mut rng = CompactRng::from_seed_u64(1);
        for _ in 0..1_000 {
            assert!(l.contains(l.sample_inside(&mut rng).unwrap()));
        }
    }

    #[test]
    fn bad_polygons_are_rejected_naming_the_problem() {
        let e = Polygon::new("p", vec![Point::new(0.0, 0.0), Point::new(1.0, 1.0)]).unwrap_err();
        assert!(e.to_string().contains("at least 3"));
        let e = Polygon::new(
            "p",
            vec![
                Point::new(0.0, 0.0),
                Point::new(1.0, 1.0),
                Point::new(2.0, 2.0),
            ],
        )
        .unwrap_err();
        assert!(e.to_string().contains("area"));
    }

    #[test]
    fn the_local_frame_round_trips() {
        let f = LocalFrame {
            origin_lat_deg: 47.6,
            origin_lon_deg: -122.3,
        };
        let p = Point::new(1_234.5, -678.25);
        let (lat, lon) = f.to_geo(p);
        let back = f.to_local(lat, lon);
        assert!(back.distance_m(p) < 0.01, "{back:?}");
        // One degree of latitude is about 111 km.
        assert!((f.to_local(48.6, -122.3).north_m - 111_195.0).abs() < 5.0);
    }
}
