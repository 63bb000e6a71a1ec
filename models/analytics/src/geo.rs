//! Small-area geometry for stuck detection and geofences, in deterministic maths.
//!
//! Distances use the equirectangular approximation around the anchor's latitude: over
//! the tens to hundreds of metres a stuck rule cares about its error is far below the
//! 4.7 m GNSS bias (reference §7.3). Polygons are tested in the (lat, lon) plane by ray
//! casting; fences are assumed small and not to cross the antimeridian or a pole.
//!
//! A polygon keeps a [`GRID_CELLS`]² grid over its bounding box in which a cell is marked
//! wholly inside or wholly outside when every edge is farther from it than a safety margin
//! (thousands of times the rounding error of the ray-casting test), so most readings are
//! answered by one lookup and the answer is always the one the full test would give. A
//! ring of outside cells around the grid answers for points beyond the box, so the lookup
//! needs no bounding-box test first.

/// Mean Earth radius (IUGG), metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Metres per degree of latitude on the mean sphere.
pub const M_PER_DEG: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// Squared distance in m² from `(lat0, lon0)` to `(lat, lon)`, with `cos_lat0` the cosine
/// of `lat0` (cached by callers so the hot path computes no trigonometry).
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

/// Cells per side of a polygon's inside/outside grid (module docs).
pub const GRID_CELLS: usize = 32;

/// Cells per row of the stored grid: an outside cell, the `GRID_CELLS` of the box, an
/// unmarked cell for points on its north or east edge, and an outside cell (module docs
/// and [`Polygon::contains`]).
const ROW_CELLS: usize = GRID_CELLS + 3;

/// The index of the last cell of a row or column, in the outside ring.
const LAST_CELL: u32 = ROW_CELLS as u32 - 1;

/// A grid cell no edge comes near, wholly inside the polygon.
const CELL_INSIDE: u8 = 1;
/// A grid cell no edge comes near, wholly outside the polygon.
const CELL_OUTSIDE: u8 = 2;

/// A polygon of `[lat, lon]` vertices with its bounding box.
#[derive(Clone, PartialEq)]
pub struct Polygon {
    vertices: Vec<[f64; 2]>,
    lat_min: f64,
    lat_max: f64,
    lon_min: f64,
    lon_max: f64,
    /// Grid cells per degree of latitude and of longitude.
    cells_per_deg: [f64; 2],
    /// `ROW_CELLS`² cells, row by row from the south: [`CELL_INSIDE`], [`CELL_OUTSIDE`] or
    /// 0 (an edge passes near, or the box's north or east edge: run the full test).
    cells: Box<[u8]>,
}

impl std::fmt::Debug for Polygon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The grid is derived from the vertices; leave it out.
        f.debug_struct("Polygon")
            .field("vertices", &self.vertices)
            .field("lat_min", &self.lat_min)
            .field("lat_max", &self.lat_max)
            .field("lon_min", &self.lon_min)
            .field("lon_max", &self.lon_max)
            .finish()
    }
}

/// Distance in the (lat, lon) plane from `p` to the segment `a`–`b`, degrees.
fn segment_distance_deg(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (d0, d1) = (b[0] - a[0], b[1] - a[1]);
    let len2 = d0 * d0 + d1 * d1;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * d0 + (p[1] - a[1]) * d1) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (o0, o1) = (p[0] - (a[0] + t * d0), p[1] - (a[1] + t * d1));
    libm::sqrt(o0 * o0 + o1 * o1)
}

impl Polygon {
    /// `None` with fewer than three vertices or a non-finite coordinate.
    pub fn new(vertices: &[[f64; 2]]) -> Option<Polygon> {
        if vertices.len() < 3 || vertices.iter().flatten().any(|c| !c.is_finite()) {
            return None;
        }
        let fold = |i: usize, f: fn(f64, f64) -> f64, init: f64| {
            vertices.iter().map(|v| v[i]).fold(init, f)
        };
        let (lat_min, lat_max) = (
            fold(0, f64::min, f64::INFINITY),
            fold(0, f64::max, f64::NEG_INFINITY),
        );
        let (lon_min, lon_max) = (
            fold(1, f64::min, f64::INFINITY),
            fold(1, f64::max, f64::NEG_INFINITY),
        );
        let per_deg = |extent: f64| {
            let v = GRID_CELLS as f64 / extent;
            // A flat polygon (zero extent) gets no usable grid: every cell stays unmarked.
            if v.is_finite() {
                v
            } else {
                0.0
            }
        };
        let mut polygon = Polygon {
            lat_min,
            lat_max,
            lon_min,
            lon_max,
            cells_per_deg: [per_deg(lat_max - lat_min), per_deg(lon_max - lon_min)],
            vertices: vertices.to_vec(),
            cells: Box::new([]),
        };
        polygon.cells = polygon.classify_cells();
        Some(polygon)
    }

    /// Marks the grid cells that no edge comes near as inside or outside.
    ///
    /// The ray-casting test computes an edge crossing with an error below about 10·2⁻⁵³ ×
    /// the largest coordinate magnitude `m`, and the grid index of a point is off by far
    /// less. A cell is marked only when every edge is farther from its centre than its
    /// half-diagonal plus three margins of 2⁻³²·`m` (over 10⁵ times that error), so every
    /// point the index can send to it is at least one margin from every edge, where the
    /// test and the true geometry agree.
    fn classify_cells(&self) -> Box<[u8]> {
        let mut cells = vec![0u8; ROW_CELLS * ROW_CELLS].into_boxed_slice();
        let ring = [0, ROW_CELLS - 1];
        for i in 0..ROW_CELLS {
            for j in ring {
                cells[i * ROW_CELLS + j] = CELL_OUTSIDE;
                cells[j * ROW_CELLS + i] = CELL_OUTSIDE;
            }
        }
        if self.cells_per_deg[0] == 0.0 || self.cells_per_deg[1] == 0.0 {
            return cells;
        }
        let magnitude = [
            self.lat_min,
            self.lat_max,
            self.lon_min,
            self.lon_max,
            self.lat_max - self.lat_min,
            self.lon_max - self.lon_min,
        ]
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
        let margin = magnitude / 4_294_967_296.0;
        let cell_lat = (self.lat_max - self.lat_min) / GRID_CELLS as f64;
        let cell_lon = (self.lon_max - self.lon_min) / GRID_CELLS as f64;
        let clearance = 0.5 * libm::sqrt(cell_lat * cell_lat + cell_lon * cell_lon) + 3.0 * margin;
        let n = self.vertices.len();
        for iy in 0..GRID_CELLS {
            for ix in 0..GRID_CELLS {
                let centre = [
                    self.lat_min + (iy as f64 + 0.5) * cell_lat,
                    self.lon_min + (ix as f64 + 0.5) * cell_lon,
                ];
                let clear = (0..n).all(|i| {
                    segment_distance_deg(centre, self.vertices[i], self.vertices[(i + 1) % n])
                        > clearance
                });
                if clear {
                    cells[(iy + 1) * ROW_CELLS + ix + 1] =
                        if self.contains_exact(centre[0], centre[1]) {
                            CELL_INSIDE
                        } else {
                            CELL_OUTSIDE
                        };
                }
            }
        }
        cells
    }

    /// Whether the point is inside (even-odd rule; points exactly on an edge may go
    /// either way, consistently).
    #[inline]
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        // A coordinate's cell, counted from the outside ring: its offset times cells per
        // degree, plus one, truncated (an unsigned conversion, which sends negatives and
        // NaN to 0 with no branch) and clamped to the ring. Index 0 only for a coordinate
        // below the box's minimum (a non-negative offset gives at least 1) or NaN; the
        // last only above its maximum (up to the maximum the scaled offset stays within
        // rounding of GRID_CELLS); so a ring cell answers "outside" exactly as the box test
        // would. Inside the box the index is the grid cell's plus one, or, within rounding
        // of a cell boundary, the neighbour's: far less than the cells' margin. A point
        // just beyond the box can land in an edge row or column, where no cell is marked
        // inside (the box's edge is outside the polygon and within half a cell).
        let cell = |offset: f64, per_deg: f64| ((offset * per_deg + 1.0) as u32).min(LAST_CELL);
        let iy = cell(lat - self.lat_min, self.cells_per_deg[0]) as usize;
        let ix = cell(lon - self.lon_min, self.cells_per_deg[1]) as usize;
        match self.cells.get(iy * ROW_CELLS + ix) {
            Some(&CELL_INSIDE) => true,
            Some(&CELL_OUTSIDE) => false,
            _ => self.contains_in_box(lat, lon),
        }
    }

    /// The full test: the bounding box, then ray casting. Out of line: few readings come
    /// near an edge, and [`Self::contains`] stays small enough to inline.
    #[inline(never)]
    fn contains_in_box(&self, lat: f64, lon: f64) -> bool {
        // Written so that NaN fails it: the ray-casting test answers false for NaN.
        lat >= self.lat_min
            && lat <= self.lat_max
            && lon >= self.lon_min
            && lon <= self.lon_max
            && self.contains_exact(lat, lon)
    }

    /// The ray-casting test itself, for a point inside the bounding box.
    fn contains_exact(&self, lat: f64, lon: f64) -> bool {
        let mut inside = false;
        let n = self.vertices.len();
        let mut j = n - 1;
        for i in 0..n {
            let [yi, xi] = self.vertices[i];
            let [yj, xj] = self.vertices[j];
            if (yi > lat) != (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi {
                inside = !inside;
            }
            j = i;
        }
        inside
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifty_metres_north_is_fifty_metres() {
        let lat0 = 46.95;
        let d2 = distance_sq_m2(lat0, 7.45, cos_deg(lat0), lat0 + 50.0 / M_PER_DEG, 7.45);
        assert!((libm::sqrt(d2) - 50.0).abs() < 1e-6);
        let east = 50.0 / (M_PER_DEG * cos_deg(lat0));
        let d2 = distance_sq_m2(lat0, 7.45, cos_deg(lat0), lat0, 7.45 + east);
        assert!((libm::sqrt(d2) - 50.0).abs() < 1e-6);
    }

    #[test]
    fn the_cell_grid_never_changes_a_containment_answer() {
        let fences = [
            // The herd bench's pasture and a concave fence around Bern.
            vec![[46.90, 7.40], [46.90, 7.50], [47.00, 7.50], [47.00, 7.40]],
            vec![
                [46.90, 7.40],
                [46.90, 7.50],
                [47.00, 7.50],
                [46.9501, 7.45],
                [47.00, 7.40],
            ],
            vec![[-33.0, 151.0], [-33.2, 151.3], [-32.9, 151.25]],
        ];
        let mut rng = sim::CompactRng::from_seed_u64(5);
        let mut unit = || sim::rng::unit_f64(&mut rng);
        for vs in fences {
            let fence = Polygon::new(&vs).unwrap();
            assert_eq!(fence.cells.len(), ROW_CELLS * ROW_CELLS);
            // The box's cells, without the outside ring and the unmarked edge cells.
            let grid = (1..=GRID_CELLS)
                .flat_map(|iy| (1..=GRID_CELLS).map(move |ix| iy * ROW_CELLS + ix))
                .map(|i| fence.cells[i]);
            let marked = grid.clone().filter(|&c| c != 0).count();
            assert!(marked * 2 > GRID_CELLS * GRID_CELLS, "{marked}");
            let inside = grid.filter(|&c| c == CELL_INSIDE).count();
            assert!(inside * 4 > GRID_CELLS * GRID_CELLS, "{inside}");
            let (h, w) = (fence.lat_max - fence.lat_min, fence.lon_max - fence.lon_min);
            let check = |lat: f64, lon: f64| {
                let in_box = lat >= fence.lat_min
                    && lat <= fence.lat_max
                    && lon >= fence.lon_min
                    && lon <= fence.lon_max;
                assert_eq!(
                    fence.contains(lat, lon),
                    in_box && fence.contains_exact(lat, lon),
                    "{lat} {lon}"
                );
            };
            for _ in 0..100_000 {
                let (u, v) = (unit() * 1.2 - 0.1, unit() * 1.2 - 0.1);
                check(fence.lat_min + u * h, fence.lon_min + v * w);
            }
            for i in 0..vs.len() {
                let (a, b) = (vs[i], vs[(i + 1) % vs.len()]);
                for k in 0..20_000 {
                    let t = unit();
                    let scale = [1e-12, 1e-9, 1e-6, 1e-3][k % 4];
                    check(
                        a[0] + t * (b[0] - a[0]) + (unit() - 0.5) * scale,
                        a[1] + t * (b[1] - a[1]) + (unit() - 0.5) * scale,
                    );
                }
                check(a[0], a[1]);
            }
            for iy in 0..=GRID_CELLS {
                for ix in 0..=GRID_CELLS {
                    check(
                        fence.lat_min + h * iy as f64 / GRID_CELLS as f64,
                        fence.lon_min + w * ix as f64 / GRID_CELLS as f64,
                    );
                }
            }
            check(f64::NAN, fence.lon_min + w / 2.0);
            check(fence.lat_min + h / 2.0, f64::NAN);
            // Far beyond the box, where the cell index saturates into the outside ring.
            for far in [1e3, 1e300, f64::INFINITY] {
                for (dy, dx) in [(far, 0.0), (-far, 0.0), (0.0, far), (0.0, -far), (far, far)] {
                    check(fence.lat_min + h / 2.0 + dy, fence.lon_min + w / 2.0 + dx);
                }
            }
        }
    }

    #[test]
    fn a_point_in_a_concave_pasture_is_inside_and_one_in_its_notch_is_not() {
        // An L-shaped pasture: the notch at the top right is outside.
        let l = Polygon::new(&[
            [0.0, 0.0],
            [0.0, 2.0],
            [1.0, 2.0],
            [1.0, 1.0],
            [2.0, 1.0],
            [2.0, 0.0],
        ])
        .unwrap();
        assert!(l.contains(0.5, 1.5));
        assert!(l.contains(1.5, 0.5));
        assert!(!l.contains(1.5, 1.5));
        assert!(!l.contains(3.0, 0.5));
        assert!(Polygon::new(&[[0.0, 0.0], [1.0, 1.0]]).is_none());
    }
}
