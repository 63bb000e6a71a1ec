//! Small-area geometry for stuck detection and geofences, in deterministic maths.
//!
//! Distances use the equirectangular approximation around the anchor's latitude: over
//! the tens to hundreds of metres a stuck rule cares about its error is far below the
//! 4.7 m GNSS bias (reference §7.3). Polygons are tested in the (lat, lon) plane by ray
//! casting; fences are assumed small and not to cross the antimeridian or a pole.

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

/// A polygon of `[lat, lon]` vertices with its bounding box.
#[derive(Clone, Debug, PartialEq)]
pub struct Polygon {
    vertices: Vec<[f64; 2]>,
    lat_min: f64,
    lat_max: f64,
    lon_min: f64,
    lon_max: f64,
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
        Some(Polygon {
            lat_min: fold(0, f64::min, f64::INFINITY),
            lat_max: fold(0, f64::max, f64::NEG_INFINITY),
            lon_min: fold(1, f64::min, f64::INFINITY),
            lon_max: fold(1, f64::max, f64::NEG_INFINITY),
            vertices: vertices.to_vec(),
        })
    }

    /// Whether the point is inside (even-odd rule; points exactly on an edge may go
    /// either way, consistently).
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        if lat < self.lat_min || lat > self.lat_max || lon < self.lon_min || lon > self.lon_max {
            return false;
        }
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
