use super::*;

fn l_shape() -> Polygon {
    // An L-shaped pasture: the notch at the top right is outside.
    Polygon::new(
        "L",
        &[
            [0.0, 0.0],
            [200.0, 0.0],
            [200.0, 100.0],
            [100.0, 100.0],
            [100.0, 200.0],
            [0.0, 200.0],
        ],
    )
    .unwrap()
}

#[test]
fn a_point_in_a_concave_polygon_is_inside_and_one_in_its_notch_is_not() {
    let l = l_shape();
    assert!(l.contains(50.0, 150.0));
    assert!(l.contains(150.0, 50.0));
    assert!(!l.contains(150.0, 150.0));
    assert!(!l.contains(-1.0, 50.0));
    assert!(!l.contains(f64::NAN, 50.0));
    assert_eq!(l.area(), 30_000.0);
    let mut rng = sim::CompactRng::from_seed_u64(1);
    for _ in 0..1_000 {
        assert!(l.contains_point(l.sample_inside(&mut rng).unwrap()));
    }
}

#[test]
fn bad_polygons_are_refused_by_name() {
    let e = Polygon::new("fence", &[[0.0, 0.0], [1.0, 1.0]]).unwrap_err();
    assert!(e.to_string().contains("fence: needs at least 3"), "{e}");
    let e = Polygon::new("flat", &[[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]).unwrap_err();
    assert!(matches!(e, GeometryError::ZeroArea { .. }), "{e}");
    let e = Polygon::new("nan", &[[0.0, 0.0], [1.0, f64::NAN], [2.0, 0.0]]).unwrap_err();
    assert!(
        matches!(e, GeometryError::NotFinite { index: 1, .. }),
        "{e}"
    );
}

#[test]
fn the_signed_distance_is_negative_inside_positive_outside_and_names_the_nearest_border_point() {
    let l = l_shape();
    let (d, q) = l.signed_distance(Point::new(50.0, 150.0));
    assert_eq!(d, -50.0);
    assert!(
        q == Point::new(0.0, 150.0) || q == Point::new(100.0, 150.0),
        "{q:?}"
    );
    let (d, q) = l.signed_distance(Point::new(150.0, 130.0));
    assert_eq!(d, 30.0);
    assert_eq!(q, Point::new(150.0, 100.0));
    // Beyond a corner the nearest border point is the corner.
    let (d, q) = l.signed_distance(Point::new(203.0, -4.0));
    assert_eq!(d, 5.0);
    assert_eq!(q, Point::new(200.0, 0.0));
}

#[test]
fn the_cell_grid_never_changes_a_containment_answer() {
    let fences: Vec<Vec<[f64; 2]>> = vec![
        // Degrees around Bern, and a concave fence there.
        vec![[46.90, 7.40], [46.90, 7.50], [47.00, 7.50], [47.00, 7.40]],
        vec![
            [46.90, 7.40],
            [46.90, 7.50],
            [47.00, 7.50],
            [46.9501, 7.45],
            [47.00, 7.40],
        ],
        vec![[-33.0, 151.0], [-33.2, 151.3], [-32.9, 151.25]],
        // Metres: the collar bench's notched pasture, and one far from its origin.
        vec![
            [0.0, 0.0],
            [2_000.0, 0.0],
            [2_000.0, 1_500.0],
            [1_200.0, 1_500.0],
            [1_000.0, 1_100.0],
            [800.0, 1_500.0],
            [0.0, 1_500.0],
        ],
        vec![
            [90_000.0, -40_000.0],
            [93_000.0, -40_000.0],
            [91_500.0, -39_990.0],
            [93_000.0, -37_000.0],
            [90_000.0, -37_000.0],
        ],
    ];
    let mut rng = sim::CompactRng::from_seed_u64(5);
    let mut unit = || sim::rng::unit_f64(&mut rng);
    for (k, vs) in fences.iter().enumerate() {
        let grid = [32, 128][k % 2];
        let fence = Polygon::with_grid("fence", vs, grid).unwrap();
        let row = grid + 3;
        let marked = (1..=grid)
            .flat_map(|iy| (1..=grid).map(move |ix| iy * row + ix))
            .filter(|&i| fence.cells[i] != 0)
            .count();
        assert!(marked * 2 > grid * grid, "{marked}");
        let (lo, hi) = (fence.min, fence.max);
        let (w, h) = (hi[0] - lo[0], hi[1] - lo[1]);
        let check = |x: f64, y: f64| {
            let in_box = x >= lo[0] && x <= hi[0] && y >= lo[1] && y <= hi[1];
            assert_eq!(
                fence.contains(x, y),
                in_box && fence.contains_exact(x, y),
                "{x} {y}"
            );
        };
        for _ in 0..50_000 {
            let (u, v) = (unit() * 1.2 - 0.1, unit() * 1.2 - 0.1);
            check(lo[0] + u * w, lo[1] + v * h);
        }
        for i in 0..vs.len() {
            let (a, b) = (vs[i], vs[(i + 1) % vs.len()]);
            for k in 0..10_000 {
                let t = unit();
                let scale = [1e-12, 1e-9, 1e-6, 1e-3][k % 4] * w.max(h);
                check(
                    a[0] + t * (b[0] - a[0]) + (unit() - 0.5) * scale,
                    a[1] + t * (b[1] - a[1]) + (unit() - 0.5) * scale,
                );
            }
            check(a[0], a[1]);
        }
        for iy in 0..=grid {
            for ix in 0..=grid {
                check(
                    lo[0] + w * ix as f64 / grid as f64,
                    lo[1] + h * iy as f64 / grid as f64,
                );
            }
        }
        for far in [1e3, 1e300, f64::INFINITY] {
            for (dx, dy) in [(far, 0.0), (-far, 0.0), (0.0, far), (0.0, -far), (far, far)] {
                check(lo[0] + w / 2.0 + dx, lo[1] + h / 2.0 + dy);
            }
        }
    }
}

#[test]
fn fifty_metres_north_and_east_are_fifty_metres_both_ways() {
    let lat0 = 46.95;
    let d2 = distance_sq_m2(lat0, 7.45, cos_deg(lat0), lat0 + 50.0 / M_PER_DEG, 7.45);
    assert!((libm::sqrt(d2) - 50.0).abs() < 1e-6);
    let frame = LocalFrame {
        origin_lat_deg: lat0,
        origin_lon_deg: 7.45,
    };
    let (lat, lon) = frame.to_geo(Point::new(50.0, 0.0));
    let d2 = distance_sq_m2(lat0, 7.45, cos_deg(lat0), lat, lon);
    assert!((libm::sqrt(d2) - 50.0).abs() < 1e-6);
    let back = frame.to_local(lat, lon);
    assert!(back.distance_m(Point::new(50.0, 0.0)) < 1e-9, "{back:?}");
}
