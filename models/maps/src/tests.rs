//! The maps model's unit tests: signed distance inside, outside and saturated; enter and
//! exit per device; routes against petgraph's Dijkstra; mode access.

use crate::geofence::*;
use crate::graph::*;
use crate::route::*;
use crate::site::{logistics_yard, FORKLIFT_STOPS, MAIN_OFFICE};
use sim::{CompactRng, Epoch, SimDuration, SimTime};
use std::sync::Arc;

fn fences() -> (FacilityMap, GeofenceService, u32) {
    let map = logistics_yard();
    let mut svc = GeofenceService::new(
        GeofenceConfig {
            latency_ms_median: 100.0,
            latency_ms_p99: 400.0,
            async_event_delay: SimDuration::from_secs(2),
            event_grid_latency_ms_median: 200.0,
            event_grid_latency_ms_p99: 1_000.0,
        },
        CompactRng::from_seed_u64(3),
    )
    .unwrap();
    let features = map.zone_fences();
    let udid = svc.upload(&features).unwrap();
    (map, svc, udid)
}

fn query(map: &FacilityMap, device: &str, e: f64, n: f64, buffer: Option<f64>) -> GeofenceQuery {
    let (lat, lon) = map.frame.to_geo(geometry::Point::new(e, n));
    GeofenceQuery {
        id: 1,
        device_id: device.to_string(),
        ud_id: 0,
        lat,
        lon,
        search_buffer_m: buffer,
        is_async: false,
        mode: GeofenceMode::EnterAndExit,
        user_time: None,
    }
}

fn answer(svc: &mut GeofenceService, now: SimTime, q: &GeofenceQuery) -> GeofenceBody {
    svc.handle_query(now, q);
    let mut body = None;
    while let Some(r) = svc.poll_response(now + SimDuration::from_secs(60)) {
        body = Some(r.result.unwrap());
    }
    body.expect("a response")
}

fn distance_to(body: &GeofenceBody, id: &str) -> f64 {
    body.geometries
        .iter()
        .find(|g| g.geometry_id == id)
        .unwrap()
        .distance
}

#[test]
fn the_signed_distance_is_negative_inside_positive_outside_and_saturates_beyond_the_buffer() {
    let (map, mut svc, _) = fences();
    // The pedestrian zone is 130..270 east, 140..255 north.
    let t = SimTime::from_secs(10);
    let b = answer(&mut svc, t, &query(&map, "a", 150.0, 200.0, None));
    assert!(
        (distance_to(&b, "pedestrian_zone") + 20.0).abs() < 0.01,
        "{b:?}"
    );
    let b = answer(&mut svc, t, &query(&map, "a", 200.0, 120.0, Some(50.0)));
    let g = b
        .geometries
        .iter()
        .find(|g| g.geometry_id == "pedestrian_zone")
        .unwrap();
    assert!((g.distance - 20.0).abs() < 0.01, "{g:?}");
    let nearest = map
        .frame
        .to_local(g.nearest_lat.unwrap(), g.nearest_lon.unwrap());
    assert!(
        nearest.distance_m(geometry::Point::new(200.0, 140.0)) < 0.01,
        "{nearest:?}"
    );
    // 100 m outside with a 50 m buffer: 999, and no nearest point; deep inside: -999.
    let b = answer(&mut svc, t, &query(&map, "a", 200.0, 40.0, Some(50.0)));
    let g = b
        .geometries
        .iter()
        .find(|g| g.geometry_id == "pedestrian_zone")
        .unwrap();
    assert_eq!(g.distance, 999.0);
    assert!(g.nearest_lat.is_none());
    let b = answer(&mut svc, t, &query(&map, "a", 200.0, 200.0, Some(5.0)));
    assert_eq!(distance_to(&b, "pedestrian_zone"), -999.0);
    // The default buffer is 50 m: 100 m out saturates, 30 m out does not.
    let b = answer(&mut svc, t, &query(&map, "a", 200.0, 40.0, None));
    assert_eq!(distance_to(&b, "pedestrian_zone"), 999.0);
    let b = answer(&mut svc, t, &query(&map, "a", 200.0, 110.0, None));
    assert!((distance_to(&b, "pedestrian_zone") - 30.0).abs() < 0.01);
    // A negative or too large buffer is refused.
    for bad in [-5.0, 501.0] {
        svc.handle_query(t, &query(&map, "a", 200.0, 110.0, Some(bad)));
        let r = svc.poll_response(t + SimDuration::from_secs(60)).unwrap();
        assert_eq!(r.result, Err(GeofenceError::SearchBuffer(bad)));
    }
}

#[test]
fn enter_and_exit_are_published_once_per_device_per_geometry() {
    let (map, mut svc, _) = fences();
    let mut t = SimTime::from_secs(100);
    let mut step = |svc: &mut GeofenceService, dev: &str, e: f64, n: f64| {
        t += SimDuration::from_secs(5);
        answer(svc, t, &query(&map, dev, e, n, None))
    };
    // Device a walks into the plaza and stays; device b stays outside.
    assert!(!step(&mut svc, "a", 200.0, 100.0).is_event_published);
    assert!(!step(&mut svc, "b", 200.0, 100.0).is_event_published);
    assert!(step(&mut svc, "a", 200.0, 160.0).is_event_published);
    assert!(!step(&mut svc, "a", 200.0, 170.0).is_event_published);
    assert!(!step(&mut svc, "b", 200.0, 100.0).is_event_published);
    assert!(step(&mut svc, "a", 200.0, 100.0).is_event_published);
    let end = t + SimDuration::from_secs(60);
    let mut events = Vec::new();
    while let Some(e) = svc.poll_event(end) {
        events.push((e.event_type, e.device_id, e.geometry_id));
    }
    // Into the pedestrian zone (and the visitor area it lies in), then out of both.
    let a = |t, g: &str| (t, "a".to_string(), g.to_string());
    assert_eq!(events.len(), 4, "{events:?}");
    for g in ["pedestrian_zone", "visitor_area"] {
        assert!(events.contains(&a(EventType::Entered, g)), "{events:?}");
        assert!(events.contains(&a(EventType::Exited, g)), "{events:?}");
    }
    assert_eq!(svc.published.get(&EventType::Entered), Some(&2));
}

#[test]
fn async_queries_answer_at_once_and_publish_their_events_later() {
    let (map, mut svc, _) = fences();
    let t = SimTime::from_secs(100);
    let mut q = query(&map, "a", 200.0, 160.0, None);
    q.is_async = true;
    svc.handle_query(t, &q);
    let r = svc.poll_response(t + SimDuration::from_secs(1)).unwrap();
    assert!(!r.result.unwrap().is_event_published);
    assert!(svc.poll_event(t + SimDuration::from_secs(1)).is_none());
    let e = svc.poll_event(t + SimDuration::from_secs(30)).unwrap();
    assert_eq!(e.event_type, EventType::Entered);
    assert!(e.delivered_at >= t + SimDuration::from_secs(2), "{e:?}");
    assert!(e.subject.starts_with("/spatial/geofence/udid/0/id/"));
}

#[test]
fn expired_and_out_of_period_fences_fire_nothing_and_are_listed() {
    let map = logistics_yard();
    let mut svc = fences().1;
    let zone = map.zone("pedestrian_zone").unwrap();
    let ring: Vec<(f64, f64)> = zone
        .outline
        .points()
        .iter()
        .map(|&p| map.frame.to_geo(p))
        .collect();
    let h = |h: u64| SimTime::from_secs(h * 3_600);
    let udid = svc
        .upload(&[
            FenceFeature {
                geometry_id: "expired".into(),
                ring: ring.clone(),
                validity: Some(Validity {
                    expired_at: Some(h(1)),
                    periods: vec![],
                }),
            },
            FenceFeature {
                geometry_id: "day_shift".into(),
                ring,
                validity: Some(Validity {
                    expired_at: None,
                    periods: vec![ValidityPeriod {
                        start: h(6),
                        end: h(18),
                        daily: true,
                    }],
                }),
            },
        ])
        .unwrap();
    let mut q = query(&map, "a", 200.0, 200.0, None);
    q.ud_id = udid;
    // At 03:00 on day 2: the first expired, the second outside its daily period.
    let b = answer(&mut svc, h(27), &q);
    assert_eq!(b.expired_geofence_geometry_id, vec!["expired".to_string()]);
    assert_eq!(
        b.invalid_period_geofence_geometry_id,
        vec!["day_shift".to_string()]
    );
    assert!(b.geometries.is_empty() && !b.is_event_published);
    // At 08:00 on day 2 the day-shift fence is valid: the device is inside it.
    let b = answer(&mut svc, h(32), &q);
    assert!(b.is_event_published);
    assert_eq!(b.geometries.len(), 1);
    assert!(b.geometries[0].distance < 0.0);
}

fn route(map: &FacilityMap, from: &str, to: &str, mode: TravelMode, rt: RouteType) -> Route {
    let g = |n: &str| map.geo(map.place(n).unwrap());
    let req = RouteRequest {
        id: 7,
        query: vec![g(from), g(to)],
        travel_mode: mode,
        route_type: rt,
        depart_at: None,
    };
    directions(map, Epoch::default(), SimTime::from_secs(3_600), &req)
        .unwrap()
        .routes
        .remove(0)
}

#[test]
fn every_route_between_forklift_stops_matches_dijkstra_on_the_true_graph() {
    let map = logistics_yard();
    for rt in [RouteType::Shortest, RouteType::Fastest] {
        for mode in TravelMode::ALL {
            for a in FORKLIFT_STOPS.iter().chain(&[MAIN_OFFICE, "car park"]) {
                for b in FORKLIFT_STOPS.iter().chain(&[MAIN_OFFICE, "car park"]) {
                    let (pa, pb) = (map.place(a).unwrap(), map.place(b).unwrap());
                    let Some(truth) = map.true_cost(pa, pb, mode, Access::Mode(mode), rt) else {
                        continue;
                    };
                    let r = route(&map, a, b, mode, rt);
                    let got = match rt {
                        RouteType::Shortest => r.summary.length_in_meters,
                        RouteType::Fastest => r.summary.travel_time_in_seconds,
                    };
                    assert_eq!(got, truth.round() as u64, "{a} -> {b} {mode:?} {rt:?}");
                    assert!(r.sections.iter().all(|s| s.travel_mode == mode.as_str()));
                }
            }
        }
    }
}

#[test]
fn a_truck_may_not_take_the_footpath_and_a_pedestrian_route_has_no_road() {
    let map = logistics_yard();
    let truck = route(
        &map,
        "workshop door",
        "dock 2",
        TravelMode::Truck,
        RouteType::Shortest,
    );
    let walk = route(
        &map,
        "workshop door",
        "dock 2",
        TravelMode::Pedestrian,
        RouteType::Shortest,
    );
    // The legal road is 440 m; the footpath through the plaza 327 m (the site's docs).
    assert_eq!(truck.summary.length_in_meters, 440);
    assert_eq!(walk.summary.length_in_meters, 327);
    let on_footpath = |r: &Route| {
        r.legs[0].points.iter().any(|p| {
            let q = map.frame.to_local(p.latitude, p.longitude);
            q.distance_m(map.position(map.place("plaza").unwrap())) < 0.01
        })
    };
    assert!(!on_footpath(&truck) && on_footpath(&walk));
    assert_eq!(truck.legs[0].summary.length_in_meters, 440);
    // Every way of it is road: 440 m at 4.2 m/s.
    assert_eq!(
        truck.summary.travel_time_in_seconds,
        (440.0f64 / 4.2).round() as u64
    );
    assert_eq!(truck.summary.traffic_delay_in_seconds, 0);
    assert_eq!(truck.summary.departure_time, "2026-01-01T01:00:00.000Z");
    assert_eq!(truck.summary.arrival_time, "2026-01-01T01:01:44.761Z");
}

#[test]
fn a_mode_that_cannot_reach_its_destination_travels_the_rest_as_other() {
    let map = logistics_yard();
    // Reception is reached only on foot: a car gets there with an `other` section.
    let r = route(
        &map,
        "gate",
        "reception",
        TravelMode::Car,
        RouteType::Shortest,
    );
    let modes: Vec<&str> = r.sections.iter().map(|s| s.travel_mode).collect();
    assert_eq!(modes.first(), Some(&"car"), "{:?}", r.sections);
    assert_eq!(modes.last(), Some(&"other"), "{:?}", r.sections);
    assert_eq!(
        r.sections.last().unwrap().end_point_index,
        r.legs[0].points.len() - 1
    );
    let json = serde_json::to_value(&r).unwrap();
    assert!(json["summary"]["lengthInMeters"].is_u64());
    assert!(json["legs"][0]["points"][0]["latitude"].is_f64());
    assert_eq!(json["sections"][0]["sectionType"], "TRAVEL_MODE");
}

#[test]
fn a_multi_point_query_has_a_leg_per_pair_and_the_service_answers_after_its_latency() {
    let map = Arc::new(logistics_yard());
    let g = |n: &str| map.geo(map.place(n).unwrap());
    let req = RouteRequest {
        id: 9,
        query: vec![g("car park"), g(MAIN_OFFICE), g("workshop door")],
        travel_mode: TravelMode::Pedestrian,
        route_type: RouteType::Shortest,
        depart_at: None,
    };
    let mut svc = RouteService::new(
        map.clone(),
        Epoch::default(),
        &RouteConfig {
            latency_ms_median: 150.0,
            latency_ms_p99: 800.0,
        },
        CompactRng::from_seed_u64(1),
    )
    .unwrap();
    let t = SimTime::from_secs(60);
    svc.handle_request(t, &req);
    assert!(svc.poll_response(t).is_none());
    let due = svc.poll_timeout().unwrap();
    assert!(due > t && due < t + SimDuration::from_secs(5));
    let r = svc.poll_response(due).unwrap();
    assert_eq!(r.id, 9);
    let route = &r.result.unwrap().routes[0];
    assert_eq!(route.legs.len(), 2);
    let sum: u64 = route.legs.iter().map(|l| l.summary.length_in_meters).sum();
    assert!(route.summary.length_in_meters.abs_diff(sum) <= 1);
    svc.handle_request(
        t,
        &RouteRequest {
            query: vec![g("gate")],
            ..req
        },
    );
    let r = svc.poll_response(t + SimDuration::from_secs(60)).unwrap();
    assert_eq!(r.result, Err(RouteError::QueryPoints(1)));
}
