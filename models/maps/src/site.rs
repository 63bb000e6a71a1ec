//! The bundled facility: a logistics yard with two warehouses, a main office on a pedestrian
//! plaza, a workshop and a visitor car park, about 400 × 300 m around 47.6° N, 122.3° W.
//!
//! ```text
//!  NW ────────────────────── road ────────────────────────── NE
//!  │ car park ·· visitor centre ···· plaza west ┌office┐                 │
//!  │                          (pedestrian zone) · plaza · plaza east ·· workshop door ─ E
//!  W ── gate                                       ·                    │
//!  │        ┌ warehouse A ┐     ·      ┌ warehouse B ┐                 │
//!  │        │    aisle A  │  footpath  │   aisle B   │                 │
//!  SW ─── dock 1 ── dock 2 ── yard gate ── dock 3 ── dock 4 ──────── SE
//! ```
//!
//! Roads carry forklifts and cars around the yard; footpaths (`·`) carry visitors from the
//! car park to the office and on to the workshop and the yard gate; shared lanes join each
//! dock to its warehouse's aisle. The legal road from the workshop to dock 2 is 440 m; the
//! footpath through the plaza is 327 m, which is the shortcut a forklift driver is tempted by.
//! Zones: `pedestrian_zone` (the plaza and the office: no forklifts) and `visitor_area` (the
//! car park, the visitor centre, the path to the plaza and the plaza), drawn 25 m or more
//! clear of where visitors rest (a GNSS fix is off by 4.7 m on average, twice that indoors),
//! so a visitor waiting at the car park does not seem to leave it. Every figure is
//! **assumed**: an illustrative site, not a real one.

use crate::graph::{Area, FacilityMap, Place, WayKind};
use geometry::{LocalFrame, Point, Polygon};

/// The places a forklift works between.
pub const FORKLIFT_STOPS: &[&str] = &[
    "dock 1",
    "dock 2",
    "dock 3",
    "dock 4",
    "aisle A",
    "aisle B",
    "workshop door",
];

/// Where visitors ask to be taken ("directions to the main office").
pub const MAIN_OFFICE: &str = "office door";

/// The bundled facility (module docs).
pub fn logistics_yard() -> FacilityMap {
    let places: Vec<Place> = [
        ("gate", 0.0, 150.0),
        ("west junction", 40.0, 150.0),
        ("south-west corner", 40.0, 30.0),
        ("dock 1", 100.0, 30.0),
        ("dock 2", 160.0, 30.0),
        ("yard gate", 210.0, 30.0),
        ("dock 3", 260.0, 30.0),
        ("dock 4", 320.0, 30.0),
        ("south-east corner", 380.0, 30.0),
        ("east junction", 380.0, 200.0),
        ("north-east corner", 380.0, 290.0),
        ("north-west corner", 40.0, 290.0),
        ("car park", 40.0, 215.0),
        ("workshop door", 330.0, 200.0),
        ("aisle A", 130.0, 90.0),
        ("aisle B", 290.0, 90.0),
        ("visitor centre", 75.0, 230.0),
        ("plaza west", 140.0, 200.0),
        ("plaza", 200.0, 170.0),
        ("plaza east", 260.0, 170.0),
        ("office door", 200.0, 190.0),
        ("reception", 200.0, 225.0),
    ]
    .iter()
    .map(|&(name, e, n)| Place {
        name: name.to_string(),
        position: Point::new(e, n),
    })
    .collect();
    let at = |name: &str| {
        places
            .iter()
            .position(|p| p.name == name)
            .expect("a place of the site")
    };
    use WayKind::{Footpath, Road, SharedLane};
    let ways: Vec<(usize, usize, WayKind)> = [
        ("gate", "west junction", Road),
        ("west junction", "south-west corner", Road),
        ("south-west corner", "dock 1", Road),
        ("dock 1", "dock 2", Road),
        ("dock 2", "yard gate", Road),
        ("yard gate", "dock 3", Road),
        ("dock 3", "dock 4", Road),
        ("dock 4", "south-east corner", Road),
        ("south-east corner", "east junction", Road),
        ("east junction", "north-east corner", Road),
        ("north-east corner", "north-west corner", Road),
        ("north-west corner", "car park", Road),
        ("car park", "west junction", Road),
        ("east junction", "workshop door", Road),
        ("dock 1", "aisle A", SharedLane),
        ("dock 2", "aisle A", SharedLane),
        ("dock 3", "aisle B", SharedLane),
        ("dock 4", "aisle B", SharedLane),
        ("car park", "visitor centre", Footpath),
        ("visitor centre", "plaza west", Footpath),
        ("plaza west", "plaza", Footpath),
        ("plaza", "office door", Footpath),
        ("office door", "reception", Footpath),
        ("plaza", "plaza east", Footpath),
        ("plaza east", "workshop door", Footpath),
        ("plaza", "yard gate", Footpath),
    ]
    .iter()
    .map(|&(a, b, k)| (at(a), at(b), k))
    .collect();
    let area = |name: &str, v: &[[f64; 2]]| Area {
        name: name.to_string(),
        outline: Polygon::new(name, v).expect("constant outlines are valid"),
    };
    let rect = |name: &str, e0: f64, n0: f64, e1: f64, n1: f64| {
        area(name, &[[e0, n0], [e1, n0], [e1, n1], [e0, n1]])
    };
    let buildings = vec![
        rect("warehouse A", 70.0, 45.0, 190.0, 130.0),
        rect("warehouse B", 230.0, 45.0, 350.0, 130.0),
        rect("main office", 170.0, 190.0, 230.0, 250.0),
        rect("workshop", 330.0, 170.0, 375.0, 240.0),
        rect("visitor centre", 60.0, 225.0, 95.0, 250.0),
    ];
    let zones = vec![
        rect("pedestrian_zone", 130.0, 140.0, 270.0, 255.0),
        area(
            "visitor_area",
            &[
                [5.0, 175.0],
                [130.0, 175.0],
                [130.0, 140.0],
                [270.0, 140.0],
                [270.0, 275.0],
                [5.0, 275.0],
            ],
        ),
    ];
    FacilityMap::new(
        LocalFrame {
            origin_lat_deg: 47.6,
            origin_lon_deg: -122.3,
        },
        places,
        &ways,
        buildings,
        zones,
    )
    .expect("the bundled site holds together")
}
