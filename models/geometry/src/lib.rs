//! # geometry: the one plane-geometry module fleetsim's hardware, analytics and maps share
//!
//! **Model.** Coordinates are pairs of `f64` in a plane: local metres east and north of a
//! site origin (a pasture, a facility), or (latitude, longitude) degrees for the back end's
//! fences, which are small enough to be treated as planar (they must not cross the
//! antimeridian or a pole). A [`Polygon`] is a simple polygon (a pasture fence, a building,
//! a geofence) with an even-odd point-in-polygon test, a bounding box, its area, the signed
//! distance from a point to its border ([`Polygon::signed_distance`]: negative inside,
//! positive outside) and the nearest border point. [`LocalFrame`] converts between local
//! metres and WGS84 latitude/longitude with an equirectangular projection about the origin;
//! [`distance_sq_m2`] is the same approximation between two latitude/longitude points.
//!
//! **Determinism.** Every operation is IEEE-754 arithmetic (`+ − × ÷`, exact on every
//! platform) and `libm` for the square root and the cosine, never the platform's maths
//! library, so a result is bit-identical on every machine. Per-device storage may stay `f32`
//! where it is compact (a collar's position): it is widened to `f64` (exactly) before any test.
//!
//! **Fast path.** A polygon keeps a grid over its bounding box (`GRID_CELLS`² cells, chosen
//! per polygon: a pasture a cow tests every step wants a fine one) in which a cell is marked
//! wholly inside or wholly outside when every edge is farther from it than a safety margin of
//! 2⁻³² × the largest coordinate magnitude (over 10⁵ times the rounding error of the even-odd
//! test), so [`Polygon::contains`] answers most points with one lookup, and the answer is
//! always the one the full test gives (a test compares both on points crowded along the
//! edges). A ring of outside cells around the grid answers for points beyond the box.
//!
//! **Invariants.** A polygon has at least three finite vertices and a non-zero area.
//!
//! **Left out.** Earth curvature beyond the equirectangular approximation (error below 0.1 %
//! within 50 km of the origin at mid latitudes), altitude, self-intersection checks (the
//! even-odd test still defines an inside for those), polygons with holes.

use rand_core::RngCore;

/// Mean Earth radius, metres (IUGG).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Metres per degree of latitude on the mean sphere.
pub const M_PER_DEG: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// Squared distance in m² from `(lat0, lon0)` to `(lat, lon)`, with `cos_lat0` the cosine of
/// `lat0` (cached by callers so a hot path computes no trigonometry).
#[inline]
pub fn distance_sq_m2(lat0: f64, lon0: f64, cos_lat0: f64, lat: f64, lon: f64) -> f64 {
    let dy = (lat - lat0) * M_PER_DEG;
    let dx = (lon - lon0) * M_PER_DEG * cos_lat0;
    dx * dx + dy * dy
}

/// The cosine of a latitude in degrees.
pub fn cos_deg(lat: f64) -> f64 {
    libm::cos(lat.to_radians())
}

/// A point in the plane: local metres east and north (or, for a fence in degrees, latitude
/// and longitude as `east_m`, `north_m` = `x`, `y` of [`Polygon`]'s plane).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Point {
    pub east_m: f64,
    pub north_m: f64,
}

impl Point {
    pub const fn new(east_m: f64, north_m: f64) -> Self {
        Point { east_m, north_m }
    }
    /// Straight-line distance, metres.
    pub fn distance_m(self, other: Point) -> f64 {
        let (de, dn) = (self.east_m - other.east_m, self.north_m - other.north_m);
        libm::sqrt(de * de + dn * dn)
    }
    /// The point a share `t` (0 to 1) of the way to `other`.
    pub fn lerp(self, other: Point, t: f64) -> Point {
        Point::new(
            self.east_m + (other.east_m - self.east_m) * t,
            self.north_m + (other.north_m - self.north_m) * t,
        )
    }
    fn xy(self) -> [f64; 2] {
        [self.east_m, self.north_m]
    }
}

/// A polygon that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeometryError {
    #[error("polygon {name}: needs at least 3 vertices, got {count}")]
    TooFewVertices { name: String, count: usize },
    #[error("polygon {name}: vertex {index} ({x}, {y}) is not finite")]
    NotFinite {
        name: String,
        index: usize,
        x: f64,
        y: f64,
    },
    #[error("polygon {name}: area is {area}, expected more than 0")]
    ZeroArea { name: String, area: f64 },
}

/// Cells per side of a polygon's grid unless [`Polygon::with_grid`] says otherwise.
pub const GRID_CELLS: usize = 32;

/// A grid cell no edge comes near, wholly inside the polygon.
const CELL_INSIDE: u8 = 1;
/// A grid cell no edge comes near, wholly outside the polygon.
const CELL_OUTSIDE: u8 = 2;

/// A simple polygon in the plane. See the crate docs.
#[derive(Clone, PartialEq)]
pub struct Polygon {
    vertices: Vec<[f64; 2]>,
    min: [f64; 2],
    max: [f64; 2],
    area: f64,
    /// Cells per side of the box; the stored rows have `grid + 3` cells (module docs).
    grid: usize,
    /// Cells per unit of x and of y.
    cells_per_unit: [f64; 2],
    /// `(grid + 3)²` cells, row by row from the lowest y: an outside ring, the box's cells,
    /// an unmarked row and column for points on its far edges: [`CELL_INSIDE`],
    /// [`CELL_OUTSIDE`] or 0 (an edge passes near: run the full test).
    cells: Box<[u8]>,
}

impl std::fmt::Debug for Polygon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The grid is derived from the vertices; leave it out.
        f.debug_struct("Polygon")
            .field("vertices", &self.vertices)
            .field("min", &self.min)
            .field("max", &self.max)
            .field("area", &self.area)
            .finish()
    }
}

/// Distance from `p` to the segment `a`–`b`, and the nearest point on it.
fn segment_nearest(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> (f64, [f64; 2]) {
    let (d0, d1) = (b[0] - a[0], b[1] - a[1]);
    let len2 = d0 * d0 + d1 * d1;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * d0 + (p[1] - a[1]) * d1) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let q = [a[0] + t * d0, a[1] + t * d1];
    let (o0, o1) = (p[0] - q[0], p[1] - q[1]);
    (libm::sqrt(o0 * o0 + o1 * o1), q)
}

impl Polygon {
    /// A polygon from its vertices `[x, y]` in order (either winding), with a
    /// [`GRID_CELLS`]² grid; `name` is used in errors.
    pub fn new(name: &str, vertices: &[[f64; 2]]) -> Result<Polygon, GeometryError> {
        Polygon::with_grid(name, vertices, GRID_CELLS)
    }

    /// A polygon of points in local metres.
    pub fn from_points(name: &str, points: &[Point]) -> Result<Polygon, GeometryError> {
        let v: Vec<[f64; 2]> = points.iter().map(|p| p.xy()).collect();
        Polygon::new(name, &v)
    }

    /// As [`Polygon::new`], with a `grid`² grid (at least 1): 128 for a pasture a cow tests
    /// at every step keeps only the cows within a cell or so of the fence on the full test.
    pub fn with_grid(
        name: &str,
        vertices: &[[f64; 2]],
        grid: usize,
    ) -> Result<Polygon, GeometryError> {
        if vertices.len() < 3 {
            return Err(GeometryError::TooFewVertices {
                name: name.to_string(),
                count: vertices.len(),
            });
        }
        if let Some((index, v)) = vertices
            .iter()
            .enumerate()
            .find(|(_, v)| !(v[0].is_finite() && v[1].is_finite()))
        {
            return Err(GeometryError::NotFinite {
                name: name.to_string(),
                index,
                x: v[0],
                y: v[1],
            });
        }
        let n = vertices.len();
        let twice: f64 = (0..n)
            .map(|i| {
                let (a, b) = (vertices[i], vertices[(i + 1) % n]);
                a[0] * b[1] - b[0] * a[1]
            })
            .sum();
        let area = twice.abs() / 2.0;
        if area.is_nan() || area <= 0.0 {
            return Err(GeometryError::ZeroArea {
                name: name.to_string(),
                area,
            });
        }
        let fold = |i: usize, f: fn(f64, f64) -> f64, init: f64| {
            vertices.iter().map(|v| v[i]).fold(init, f)
        };
        let min = [
            fold(0, f64::min, f64::INFINITY),
            fold(1, f64::min, f64::INFINITY),
        ];
        let max = [
            fold(0, f64::max, f64::NEG_INFINITY),
            fold(1, f64::max, f64::NEG_INFINITY),
        ];
        let grid = grid.max(1);
        let mut polygon = Polygon {
            vertices: vertices.to_vec(),
            min,
            max,
            area,
            grid,
            cells_per_unit: [
                grid as f64 / (max[0] - min[0]),
                grid as f64 / (max[1] - min[1]),
            ],
            cells: Box::new([]),
        };
        polygon.cells = polygon.classify_cells();
        Ok(polygon)
    }

    /// The same polygon with a `grid`² grid (answers unchanged, crate docs).
    pub fn regridded(&self, grid: usize) -> Polygon {
        let mut p = self.clone();
        p.grid = grid.max(1);
        p.cells_per_unit = [
            p.grid as f64 / (p.max[0] - p.min[0]),
            p.grid as f64 / (p.max[1] - p.min[1]),
        ];
        p.cells = p.classify_cells();
        p
    }

    /// An axis-aligned rectangle from the origin to (width, height).
    pub fn rectangle(name: &str, width_m: f64, height_m: f64) -> Result<Polygon, GeometryError> {
        Polygon::new(
            name,
            &[
                [0.0, 0.0],
                [width_m, 0.0],
                [width_m, height_m],
                [0.0, height_m],
            ],
        )
    }

    /// Marks the grid cells no edge comes near as inside or outside (crate docs).
    fn classify_cells(&self) -> Box<[u8]> {
        let row = self.grid + 3;
        let mut cells = vec![0u8; row * row].into_boxed_slice();
        for i in 0..row {
            for j in [0, row - 1] {
                cells[i * row + j] = CELL_OUTSIDE;
                cells[j * row + i] = CELL_OUTSIDE;
            }
        }
        let magnitude = [
            self.min[0],
            self.min[1],
            self.max[0],
            self.max[1],
            self.max[0] - self.min[0],
            self.max[1] - self.min[1],
        ]
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
        let margin = magnitude / 4_294_967_296.0;
        let cell = [
            (self.max[0] - self.min[0]) / self.grid as f64,
            (self.max[1] - self.min[1]) / self.grid as f64,
        ];
        let clearance = 0.5 * libm::sqrt(cell[0] * cell[0] + cell[1] * cell[1]) + 3.0 * margin;
        let n = self.vertices.len();
        for iy in 0..self.grid {
            for ix in 0..self.grid {
                let centre = [
                    self.min[0] + (ix as f64 + 0.5) * cell[0],
                    self.min[1] + (iy as f64 + 0.5) * cell[1],
                ];
                let clear = (0..n).all(|i| {
                    segment_nearest(centre, self.vertices[i], self.vertices[(i + 1) % n]).0
                        > clearance
                });
                if clear {
                    cells[(iy + 1) * row + ix + 1] = if self.contains_exact(centre[0], centre[1]) {
                        CELL_INSIDE
                    } else {
                        CELL_OUTSIDE
                    };
                }
            }
        }
        cells
    }

    pub fn vertices(&self) -> &[[f64; 2]] {
        &self.vertices
    }
    /// The vertices as points.
    pub fn points(&self) -> Vec<Point> {
        self.vertices
            .iter()
            .map(|v| Point::new(v[0], v[1]))
            .collect()
    }
    pub fn area(&self) -> f64 {
        self.area
    }
    /// Lower-left and upper-right corners of the bounding box.
    pub fn bounds(&self) -> (Point, Point) {
        (
            Point::new(self.min[0], self.min[1]),
            Point::new(self.max[0], self.max[1]),
        )
    }

    /// Whether (`x`, `y`) is inside (even-odd rule; points exactly on an edge may go either
    /// way, consistently; NaN is outside).
    #[inline]
    pub fn contains(&self, x: f64, y: f64) -> bool {
        // A coordinate's cell counted from the outside ring: its offset times cells per unit,
        // plus one, truncated (an unsigned conversion sends negatives and NaN to 0) and
        // clamped to the ring. Index 0 only below the box's minimum or for NaN, the last only
        // above its maximum, so a ring cell answers "outside" exactly as the box test would;
        // inside the box the index is the cell's plus one or, within rounding of a cell
        // boundary, its neighbour's: far less than the cells' margin.
        let last = (self.grid + 2) as u32;
        let cell = |offset: f64, per: f64| ((offset * per + 1.0) as u32).min(last) as usize;
        let ix = cell(x - self.min[0], self.cells_per_unit[0]);
        let iy = cell(y - self.min[1], self.cells_per_unit[1]);
        match self.cells.get(iy * (self.grid + 3) + ix) {
            Some(&CELL_INSIDE) => true,
            Some(&CELL_OUTSIDE) => false,
            _ => self.contains_in_box(x, y),
        }
    }

    /// [`Polygon::contains`] for a point.
    #[inline]
    pub fn contains_point(&self, p: Point) -> bool {
        self.contains(p.east_m, p.north_m)
    }

    /// The full test: the bounding box, then the even-odd test. Out of line: few points come
    /// near an edge, and [`Self::contains`] stays small enough to inline.
    #[inline(never)]
    fn contains_in_box(&self, x: f64, y: f64) -> bool {
        // Written so that NaN fails it.
        x >= self.min[0]
            && x <= self.max[0]
            && y >= self.min[1]
            && y <= self.max[1]
            && self.contains_exact(x, y)
    }

    /// The even-odd test itself.
    fn contains_exact(&self, x: f64, y: f64) -> bool {
        let mut inside = false;
        let n = self.vertices.len();
        let mut j = n - 1;
        for i in 0..n {
            let [xi, yi] = self.vertices[i];
            let [xj, yj] = self.vertices[j];
            if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
                inside = !inside;
            }
            j = i;
        }
        inside
    }

    /// The distance from `p` to the nearest point of the border, negative inside and positive
    /// outside, and that border point.
    pub fn signed_distance(&self, p: Point) -> (f64, Point) {
        let n = self.vertices.len();
        let mut best = (f64::INFINITY, [f64::NAN; 2]);
        for i in 0..n {
            let (d, q) = segment_nearest(p.xy(), self.vertices[i], self.vertices[(i + 1) % n]);
            if d < best.0 {
                best = (d, q);
            }
        }
        let d = if self.contains_point(p) {
            -best.0
        } else {
            best.0
        };
        (d, Point::new(best.1[0], best.1[1]))
    }

    /// A uniformly random point inside, by rejection from the bounding box; `None` if 10,000
    /// tries all missed (a sliver polygon).
    pub fn sample_inside(&self, rng: &mut impl RngCore) -> Option<Point> {
        for _ in 0..10_000 {
            let u = sim::rng::unit_f64(rng);
            let v = sim::rng::unit_f64(rng);
            let p = Point::new(
                self.min[0] + u * (self.max[0] - self.min[0]),
                self.min[1] + v * (self.max[1] - self.min[1]),
            );
            if self.contains_point(p) {
                return Some(p);
            }
        }
        None
    }
}

/// An equirectangular projection about an origin. See the crate docs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalFrame {
    pub origin_lat_deg: f64,
    pub origin_lon_deg: f64,
}

impl LocalFrame {
    fn metres_per_deg_lon(&self) -> f64 {
        M_PER_DEG * cos_deg(self.origin_lat_deg)
    }

    /// Latitude and longitude, degrees, of a local point.
    pub fn to_geo(&self, p: Point) -> (f64, f64) {
        (
            self.origin_lat_deg + p.north_m / M_PER_DEG,
            self.origin_lon_deg + p.east_m / self.metres_per_deg_lon(),
        )
    }

    /// The local point of a latitude and longitude, degrees.
    pub fn to_local(&self, lat_deg: f64, lon_deg: f64) -> Point {
        Point::new(
            (lon_deg - self.origin_lon_deg) * self.metres_per_deg_lon(),
            (lat_deg - self.origin_lat_deg) * M_PER_DEG,
        )
    }
}

#[cfg(test)]
mod tests;
