//! Plane geometry in local metres, and the mapping to latitude/longitude.
//!
//! **Model.** Positions are metres east and north of a site origin, in `f32` (a pasture of tens
//! of kilometres keeps centimetre precision, and a collar stores two of them in 8 bytes). A
//! [`Polygon`] is a simple polygon (pasture fence, building outline, geofence) with an
//! even-odd point-in-polygon test and a bounding box that rejects most points cheaply.
//! [`LocalFrame`] converts between local metres and WGS84 latitude/longitude with an
//! equirectangular projection about the origin.
//!
//! **Fast path.** A grazing cow tests a step against its pasture fence every update, so a
//! polygon also keeps a [`GRID_CELLS`]² grid over its bounding box in which a cell is marked
//! wholly inside or wholly outside when every fence edge is farther from it than a safety
//! margin ([`Polygon::contains`] then answers from the cell). The margin is thousands of
//! times the `f32` rounding error of the even-odd test, so for any point in a marked cell the
//! full test would give the same answer: the grid changes the cost, never the result (a
//! test compares both on points crowded along the fence).
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

/// Cells per side of a polygon's inside/outside grid (module docs, fast path): 16 KiB per
/// polygon. A 2 km pasture has 16 m cells, so only a cow within a cell or so of the fence
/// takes the exact test (with 32 cells, a quarter of the collar's fence tests did).
pub const GRID_CELLS: usize = 128;

const LAST_CELL: i32 = GRID_CELLS as i32 - 1;

/// A grid cell the fence does not come near, wholly inside the polygon.
const CELL_INSIDE: u8 = 1;
/// A grid cell the fence does not come near, wholly outside the polygon.
const CELL_OUTSIDE: u8 = 2;

/// A simple polygon in local metres. See the module docs.
#[derive(Clone, PartialEq)]
pub struct Polygon {
    vertices: Vec<Point>,
    min: Point,
    max: Point,
    area_m2: f32,
    /// Cells per metre east and north, for the grid index.
    cells_per_m: Point,
    /// `GRID_CELLS`² cells, row by row from the south: [`CELL_INSIDE`], [`CELL_OUTSIDE`] or 0
    /// (the fence passes near: run the full test).
    cells: Box<[u8]>,
}

impl std::fmt::Debug for Polygon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The grid is derived from the vertices; leave it out.
        f.debug_struct("Polygon")
            .field("vertices", &self.vertices)
            .field("min", &self.min)
            .field("max", &self.max)
            .field("area_m2", &self.area_m2)
            .finish()
    }
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
        let mut polygon = Polygon {
            vertices,
            min,
            max,
            area_m2,
            cells_per_m: Point::new(
                GRID_CELLS as f32 / (max.east_m - min.east_m),
                GRID_CELLS as f32 / (max.north_m - min.north_m),
            ),
            cells: Box::new([]),
        };
        polygon.cells = polygon.classify_cells();
        Ok(polygon)
    }

    /// Marks the grid cells the fence stays clear of as inside or outside.
    ///
    /// The even-odd test in `f32` computes each edge crossing with an error below about
    /// 10·2⁻²⁴ × the largest coordinate magnitude `m`; the grid index of a point is off by
    /// far less than that. A cell is marked only when every edge is farther from its
    /// centre (in `f64`) than its half-diagonal plus three margins of 2⁻¹⁴·`m` (over 1500
    /// times that error), so every point the index can send to it is at least one margin
    /// from every edge, where the `f32` test and the true geometry agree.
    fn classify_cells(&self) -> Box<[u8]> {
        let (min_e, min_n) = (f64::from(self.min.east_m), f64::from(self.min.north_m));
        let (max_e, max_n) = (f64::from(self.max.east_m), f64::from(self.max.north_m));
        let magnitude = [min_e, min_n, max_e, max_n, max_e - min_e, max_n - min_n]
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        let margin = magnitude / 16_384.0;
        let cell_e = (max_e - min_e) / GRID_CELLS as f64;
        let cell_n = (max_n - min_n) / GRID_CELLS as f64;
        let clearance = 0.5 * libm::sqrt(cell_e * cell_e + cell_n * cell_n) + 3.0 * margin;
        let n = self.vertices.len();
        let mut cells = vec![0u8; GRID_CELLS * GRID_CELLS].into_boxed_slice();
        for iy in 0..GRID_CELLS {
            for ix in 0..GRID_CELLS {
                let ce = min_e + (ix as f64 + 0.5) * cell_e;
                let cn = min_n + (iy as f64 + 0.5) * cell_n;
                let clear = (0..n).all(|i| {
                    let (a, b) = (self.vertices[i], self.vertices[(i + 1) % n]);
                    segment_distance_m(ce, cn, a, b) > clearance
                });
                if clear {
                    let centre = Point::new(ce as f32, cn as f32);
                    cells[iy * GRID_CELLS + ix] = if self.contains_exact(centre) {
                        CELL_INSIDE
                    } else {
                        CELL_OUTSIDE
                    };
                }
            }
        }
        cells
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
        // Written so that NaN coordinates fail it: the even-odd test answers false for them.
        if !(p.east_m >= self.min.east_m
            && p.east_m <= self.max.east_m
            && p.north_m >= self.min.north_m
            && p.north_m <= self.max.north_m)
        {
            return false;
        }
        // Inside the box the offsets are non-negative (a difference of two floats is never
        // below zero when the first is the larger), so truncating is flooring and only the
        // far edge needs clamping; a signed conversion is a single instruction.
        let cell = |offset: f32, per_m: f32| ((offset * per_m) as i32).min(LAST_CELL);
        let ix = cell(p.east_m - self.min.east_m, self.cells_per_m.east_m);
        let iy = cell(p.north_m - self.min.north_m, self.cells_per_m.north_m);
        match self.cells.get((iy * GRID_CELLS as i32 + ix) as usize) {
            Some(&CELL_INSIDE) => true,
            Some(&CELL_OUTSIDE) => false,
            _ => self.contains_exact(p),
        }
    }

    /// The even-odd test itself, for a point inside the bounding box.
    fn contains_exact(&self, p: Point) -> bool {
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

/// Distance from (`e`, `n`) to the segment `a`–`b`, metres, in `f64`.
fn segment_distance_m(e: f64, n: f64, a: Point, b: Point) -> f64 {
    let (ae, an) = (f64::from(a.east_m), f64::from(a.north_m));
    let (de, dn) = (f64::from(b.east_m) - ae, f64::from(b.north_m) - an);
    let len2 = de * de + dn * dn;
    let t = if len2 > 0.0 {
        (((e - ae) * de + (n - an) * dn) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (oe, on) = (e - (ae + t * de), n - (an + t * dn));
    libm::sqrt(oe * oe + on * on)
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
    use rand_core::RngCore;
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

    fn fences() -> Vec<Polygon> {
        let poly = |pts: &[(f32, f32)]| {
            Polygon::new(
                "fence",
                pts.iter().map(|&(e, n)| Point::new(e, n)).collect(),
            )
            .unwrap()
        };
        vec![
            // The collar bench's notched pasture.
            poly(&[
                (0.0, 0.0),
                (2_000.0, 0.0),
                (2_000.0, 1_500.0),
                (1_200.0, 1_500.0),
                (1_000.0, 1_100.0),
                (800.0, 1_500.0),
                (0.0, 1_500.0),
            ]),
            poly(&[(0.0, 0.0), (300.0, 20.0), (40.0, 250.0)]),
            // Far from the origin, where f32 steps are centimetres, with a spike.
            poly(&[
                (90_000.0, -40_000.0),
                (95_000.0, -40_000.0),
                (95_000.0, -35_000.0),
                (92_500.0, -39_990.0),
                (90_000.0, -35_000.0),
            ]),
            Polygon::rectangle("r", 500.0, 300.0).unwrap(),
        ]
    }

    #[test]
    fn the_cell_grid_never_changes_a_containment_answer() {
        let mut rng = CompactRng::from_seed_u64(9);
        for fence in fences() {
            let (min, max) = fence.bounds();
            let marked = fence.cells.iter().filter(|&&c| c != 0).count();
            assert!(marked * 2 > GRID_CELLS * GRID_CELLS, "{marked}");
            let check = |p: Point| {
                let inside_box = p.east_m >= min.east_m
                    && p.east_m <= max.east_m
                    && p.north_m >= min.north_m
                    && p.north_m <= max.north_m;
                assert_eq!(
                    fence.contains(p),
                    inside_box && fence.contains_exact(p),
                    "{p:?}"
                );
            };
            // Uniform points over a box a little larger than the bounds.
            let (w, h) = (max.east_m - min.east_m, max.north_m - min.north_m);
            for _ in 0..100_000 {
                let u = sim::rng::unit_f64(&mut rng) as f32 * 1.2 - 0.1;
                let v = sim::rng::unit_f64(&mut rng) as f32 * 1.2 - 0.1;
                check(Point::new(min.east_m + u * w, min.north_m + v * h));
            }
            // Points crowded along every edge, a few ulps to a few metres off it.
            let vs = fence.vertices();
            for i in 0..vs.len() {
                let (a, b) = (vs[i], vs[(i + 1) % vs.len()]);
                for _ in 0..20_000 {
                    let t = sim::rng::unit_f64(&mut rng) as f32;
                    let scale = [1e-4f32, 1e-2, 1.0, 10.0][rng.next_u32() as usize % 4];
                    let off_e = (sim::rng::unit_f64(&mut rng) as f32 - 0.5) * scale;
                    let off_n = (sim::rng::unit_f64(&mut rng) as f32 - 0.5) * scale;
                    check(Point::new(
                        a.east_m + t * (b.east_m - a.east_m) + off_e,
                        a.north_m + t * (b.north_m - a.north_m) + off_n,
                    ));
                }
                check(a);
            }
            // Cell corners, and coordinates that are not numbers.
            for iy in 0..=GRID_CELLS {
                for ix in 0..=GRID_CELLS {
                    check(Point::new(
                        min.east_m + w * ix as f32 / GRID_CELLS as f32,
                        min.north_m + h * iy as f32 / GRID_CELLS as f32,
                    ));
                }
            }
            let c = Point::new(min.east_m + w / 2.0, min.north_m + h / 2.0);
            check(Point::new(f32::NAN, c.north_m));
            check(Point::new(c.east_m, f32::NAN));
        }
    }

    #[test]
    fn the_debug_form_shows_the_fence_not_the_grid() {
        let r = Polygon::rectangle("r", 2.0, 1.0).unwrap();
        let s = format!("{r:?}");
        assert!(
            s.starts_with("Polygon { vertices: [") && s.ends_with("area_m2: 2.0 }"),
            "{s}"
        );
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
