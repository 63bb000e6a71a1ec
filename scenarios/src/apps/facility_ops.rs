//! The facility-map solution's back end (seed: "a map of your facility, and directions from
//! the customer's location to your main office"): it calls Azure Maps' Spatial Geofencing
//! with every position a tracked asset reports (reference §5.2), raises geofence alerts from
//! the Event Grid events (a forklift entering the pedestrian zone, a visitor leaving the
//! visitor area: `alerts`), answers a visitor's "directions to the main office" through Route
//! Directions in pedestrian mode (§5.1), and plans forklift dispatch routes between stops in
//! `dispatch_travel_mode`. Both services are the `maps` crate's models, driven by this app's
//! timers; their latencies come from the app's own streams.
//!
//! **Scored at the end against the ground truth** ([`App::report_scored`]): every true fence
//! crossing (a class's `in_<zone>` episode's start is an enter, its end before the run's end
//! an exit) is matched to at most one Entered or Exited event of the same device and fence
//! delivered within `match_window_s` of it, earliest first: precision (matched events /
//! events), recall (matched crossings / crossings) and latency (delivery − crossing, signed:
//! a noisy fix can cross early), for all events and for each alert. Every route's
//! `lengthInMeters` (`routeType=shortest`; `travelTimeInSeconds` for `fastest`) is divided by
//! the true cost, petgraph's Dijkstra on the site's graph over the ways the asset may legally
//! use (a visitor on foot, a forklift as a truck), between the places the query points match:
//! 1.0 when the route is right.
//!
//! **Assumed**: the figures of both services' latencies (no reference figures); the back end
//! sees a reading only once the store has indexed it (the store's `queryable_delay_s`), so
//! alert and directions latencies include it.

use crate::app::{App, AppCtx, AppReport, ClassRef, GroundTruth, Reading};
use crate::class::{quantile, Chart, Episode, LayerKind, MapLayer};
use crate::classes::tracked::{site, site_layers};
use crate::load::FieldError;
use crate::registry::{AppBuild, AppKind};
use geometry::Point;
use maps::geofence::{EventType, GeofenceConfig, GeofenceMode, GeofenceQuery, GeofenceService};
use maps::graph::{Access, FacilityMap, RouteType, TravelMode};
use maps::route::{to_local, RouteConfig, RouteRequest, RouteService};
use maps::site::{FORKLIFT_STOPS, MAIN_OFFICE};
use rand_core::RngCore;
use serde::{Deserialize, Serialize};
use sim::rng::below;
use sim::{CompactRng, Dist, RngStream, SimDuration, SimTime};
use std::collections::BTreeMap;
use std::sync::Arc;

/// An alert the app raises from a geofence event.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertSpec {
    pub name: String,
    /// The class whose devices raise it, the fence and the crossing (`enter` or `exit`).
    pub class: String,
    pub zone: String,
    pub on: String,
}

/// The app's parameters (`apps[].params`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FacilityOpsParams {
    pub site: String,
    /// The classes of tracked assets it watches.
    pub forklifts: String,
    pub visitors: String,
    /// The geofence query: `searchBuffer` (m), `isAsync`, `mode` (`All`, `EnterAndExit`).
    pub search_buffer_m: f64,
    pub is_async: bool,
    pub mode: String,
    pub geofence_latency_ms_median: f64,
    pub geofence_latency_ms_p99: f64,
    pub async_event_delay_s: f64,
    pub event_grid_latency_ms_median: f64,
    pub event_grid_latency_ms_p99: f64,
    pub route_latency_ms_median: f64,
    pub route_latency_ms_p99: f64,
    /// `routeType` of every request: `shortest` or `fastest`.
    pub route_type: String,
    /// Dispatch routes a planner asks for, per hour, and their `travelMode`.
    pub dispatch_per_hour: f64,
    pub dispatch_travel_mode: String,
    /// How far apart an event and a true crossing may be and still match, seconds.
    pub match_window_s: f64,
    /// An alert is raised once this many query results in a row put the device on the
    /// alert's side of the fence (1: at the crossing's own result, as its event).
    pub alert_confirm_readings: u32,
    pub alerts: Vec<AlertSpec>,
    /// Routes of each kind the report draws.
    pub chart_routes: u32,
}

impl Default for FacilityOpsParams {
    fn default() -> Self {
        let alert = |name: &str, class: &str, zone: &str, on: &str| AlertSpec {
            name: name.into(),
            class: class.into(),
            zone: zone.into(),
            on: on.into(),
        };
        FacilityOpsParams {
            site: "logistics_yard".into(),
            forklifts: "forklift".into(),
            visitors: "visitor".into(),
            search_buffer_m: maps::geofence::SEARCH_BUFFER_DEFAULT_M,
            is_async: false,
            mode: "EnterAndExit".into(),
            geofence_latency_ms_median: 80.0,
            geofence_latency_ms_p99: 500.0,
            async_event_delay_s: 5.0,
            event_grid_latency_ms_median: 300.0,
            event_grid_latency_ms_p99: 2_000.0,
            route_latency_ms_median: 150.0,
            route_latency_ms_p99: 900.0,
            route_type: "shortest".into(),
            dispatch_per_hour: 30.0,
            dispatch_travel_mode: "truck".into(),
            match_window_s: 300.0,
            alert_confirm_readings: 2,
            alerts: vec![
                alert(
                    "forklift_in_pedestrian_zone",
                    "forklift",
                    "pedestrian_zone",
                    "enter",
                ),
                alert(
                    "visitor_left_visitor_area",
                    "visitor",
                    "visitor_area",
                    "exit",
                ),
            ],
            chart_routes: 3,
        }
    }
}

/// Which route a request was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ask {
    Directions,
    Dispatch,
}

/// A request in flight: what it was, between which places, asked (or read) when.
struct OpenRoute {
    ask: Ask,
    from: usize,
    to: usize,
    asked_at: SimTime,
}

/// A geofence event as the app keeps it: (class, device), fence, crossing, delivered.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Crossing {
    class: u16,
    device: u32,
    zone: usize,
    enter: bool,
    at: SimTime,
}

/// Route checks of one kind.
#[derive(Default)]
struct RouteScore {
    asked: u64,
    answered: u64,
    refused: u64,
    with_other: u64,
    no_true_route: u64,
    ratios: Vec<f64>,
    latency_s: Vec<f64>,
    drawn: Vec<Vec<(f64, f64)>>,
}

/// The facility operations back end. See the module docs.
pub struct FacilityOps {
    p: FacilityOpsParams,
    map: Arc<FacilityMap>,
    geofence: GeofenceService,
    routes: RouteService,
    udid: u32,
    mode: GeofenceMode,
    route_type: RouteType,
    dispatch_mode: TravelMode,
    dispatch_rng: RngStream,
    next_dispatch: SimTime,
    /// Watched classes: (name, ref, lat, lon, directions field).
    classes: Vec<(String, ClassRef, usize, usize, Option<usize>)>,
    next_id: u64,
    open: BTreeMap<u64, OpenRoute>,
    crossings: Vec<Crossing>,
    /// Per alert, per `deviceId`: results in a row on the alert's side, and whether raised.
    alert_state: Vec<BTreeMap<String, (u32, bool)>>,
    /// Alerts raised, as the crossings they report.
    alerts: Vec<Crossing>,
    /// Where each device was last queried, by `deviceId`, for the map of alerts.
    last_query: BTreeMap<String, Point>,
    alert_points: Vec<Vec<(f64, f64)>>,
    readings_without_fix: u64,
    directions: RouteScore,
    dispatch: RouteScore,
}

fn parse_mode(s: &str) -> Option<TravelMode> {
    TravelMode::ALL.into_iter().find(|m| m.as_str() == s)
}

impl FacilityOps {
    fn new(b: &AppBuild<'_>, p: FacilityOpsParams) -> Result<FacilityOps, FieldError> {
        let map = Arc::new(site(&p.site).ok_or_else(|| {
            b.error("site", format!("{:?}: expected \"logistics_yard\"", p.site))
        })?);
        let mode = match p.mode.as_str() {
            "All" => GeofenceMode::All,
            "EnterAndExit" => GeofenceMode::EnterAndExit,
            other => {
                return Err(b.error(
                    "mode",
                    format!("{other:?}: expected \"All\" or \"EnterAndExit\" (reference §5.2)"),
                ))
            }
        };
        let route_type = match p.route_type.as_str() {
            "shortest" => RouteType::Shortest,
            "fastest" => RouteType::Fastest,
            other => {
                return Err(b.error(
                    "route_type",
                    format!("{other:?}: expected \"shortest\" or \"fastest\""),
                ))
            }
        };
        let dispatch_mode = parse_mode(&p.dispatch_travel_mode).ok_or_else(|| {
            b.error(
                "dispatch_travel_mode",
                format!(
                    "{:?}: expected \"car\", \"truck\" or \"pedestrian\"",
                    p.dispatch_travel_mode
                ),
            )
        })?;
        for (k, v) in [
            ("dispatch_per_hour", p.dispatch_per_hour),
            ("match_window_s", p.match_window_s),
            ("async_event_delay_s", p.async_event_delay_s),
        ] {
            if !(v.is_finite() && (0.0..=86_400.0).contains(&v)) {
                return Err(b.error(k, format!("{v}: expected 0 to 86400")));
            }
        }
        if !p.search_buffer_m.is_finite() {
            return Err(b.error(
                "search_buffer_m",
                format!("{}: expected a number of metres", p.search_buffer_m),
            ));
        }
        for (i, a) in p.alerts.iter().enumerate() {
            if map.zone(&a.zone).is_none() {
                return Err(b.error(
                    &format!("alerts[{i}].zone"),
                    format!("{:?}: the site has no such zone", a.zone),
                ));
            }
            if a.on != "enter" && a.on != "exit" {
                return Err(b.error(
                    &format!("alerts[{i}].on"),
                    format!("{:?}: expected \"enter\" or \"exit\"", a.on),
                ));
            }
        }
        let latency = |k: &str, m: f64, p99: f64| {
            Dist::lognormal_median_p99(m, p99)
                .map(|_| ())
                .map_err(|e| b.error(k, e.to_string()))
        };
        latency(
            "geofence_latency_ms_p99",
            p.geofence_latency_ms_median,
            p.geofence_latency_ms_p99,
        )?;
        latency(
            "event_grid_latency_ms_p99",
            p.event_grid_latency_ms_median,
            p.event_grid_latency_ms_p99,
        )?;
        latency(
            "route_latency_ms_p99",
            p.route_latency_ms_median,
            p.route_latency_ms_p99,
        )?;
        let rng = |purpose: &str| CompactRng::from_seed_u64(b.stream(purpose).next_u64());
        let mut geofence = GeofenceService::new(
            GeofenceConfig {
                latency_ms_median: p.geofence_latency_ms_median,
                latency_ms_p99: p.geofence_latency_ms_p99,
                async_event_delay: SimDuration::from_secs_f64(p.async_event_delay_s),
                event_grid_latency_ms_median: p.event_grid_latency_ms_median,
                event_grid_latency_ms_p99: p.event_grid_latency_ms_p99,
            },
            rng("geofence"),
        )
        .expect("latencies checked");
        let features = map.zone_fences();
        let udid = geofence
            .upload(&features)
            .expect("the site's zones are valid fences");
        let routes = RouteService::new(
            map.clone(),
            b.epoch,
            &RouteConfig {
                latency_ms_median: p.route_latency_ms_median,
                latency_ms_p99: p.route_latency_ms_p99,
            },
            rng("routes"),
        )
        .expect("latencies checked");
        Ok(FacilityOps {
            alert_points: vec![Vec::new(); p.alerts.len()],
            dispatch_rng: b.stream("dispatch"),
            next_dispatch: SimTime::MAX,
            map,
            geofence,
            routes,
            udid,
            mode,
            route_type,
            dispatch_mode,
            classes: Vec::new(),
            next_id: 0,
            open: BTreeMap::new(),
            crossings: Vec::new(),
            alert_state: vec![BTreeMap::new(); p.alerts.len()],
            alerts: Vec::new(),
            last_query: BTreeMap::new(),
            readings_without_fix: 0,
            directions: RouteScore::default(),
            dispatch: RouteScore::default(),
            p,
        })
    }

    fn dispatch_gap(&mut self) -> SimDuration {
        let mean_s = 3_600.0 / self.p.dispatch_per_hour;
        let u = sim::rng::open_unit_f64(&mut self.dispatch_rng);
        SimDuration::from_secs_f64(-mean_s * libm::log(u))
    }

    fn ask_route(
        &mut self,
        now: SimTime,
        ask: Ask,
        from: (f64, f64),
        to: usize,
        asked_at: SimTime,
    ) {
        self.next_id += 1;
        let id = self.next_id;
        let mode = match ask {
            Ask::Directions => TravelMode::Pedestrian,
            Ask::Dispatch => self.dispatch_mode,
        };
        let from_place = self
            .map
            .nearest_place(self.map.frame.to_local(from.0, from.1), Access::Any);
        self.routes.handle_request(
            now,
            &RouteRequest {
                id,
                query: vec![from, self.map.geo(to)],
                travel_mode: mode,
                route_type: self.route_type,
                depart_at: None,
            },
        );
        self.score_mut(ask).asked += 1;
        self.open.insert(
            id,
            OpenRoute {
                ask,
                from: from_place,
                to,
                asked_at,
            },
        );
    }

    fn score_mut(&mut self, ask: Ask) -> &mut RouteScore {
        match ask {
            Ask::Directions => &mut self.directions,
            Ask::Dispatch => &mut self.dispatch,
        }
    }

    /// Takes what the services have delivered by `now`.
    fn drain(&mut self, now: SimTime) {
        while let Some(r) = self.geofence.poll_response(now) {
            // Refusals are counted by the service.
            if let Ok(body) = r.result {
                for g in &body.geometries {
                    self.confirm_alerts(now, &g.device_id, &g.geometry_id, g.distance);
                }
            }
        }
        while let Some(e) = self.geofence.poll_event(now) {
            let enter = match e.event_type {
                EventType::Entered => true,
                EventType::Exited => false,
                EventType::Result => continue,
            };
            let Some((class, device)) = self.device_of(&e.device_id) else {
                continue;
            };
            let zone = self
                .map
                .zones()
                .iter()
                .position(|z| z.name == e.geometry_id)
                .expect("the app uploaded every fence");
            self.crossings.push(Crossing {
                class,
                device,
                zone,
                enter,
                at: e.delivered_at,
            });
        }
        while let Some(r) = self.routes.poll_response(now) {
            let open = self.open.remove(&r.id).expect("an open request");
            self.route_answered(now, open, r.result);
        }
    }

    fn route_answered(
        &mut self,
        now: SimTime,
        open: OpenRoute,
        result: Result<maps::route::RouteDirections, maps::route::RouteError>,
    ) {
        // The ways the asset may legally use: a visitor on foot, a forklift as a truck.
        let legal = match open.ask {
            Ask::Directions => TravelMode::Pedestrian,
            Ask::Dispatch => TravelMode::Truck,
        };
        let truth = self.map.true_cost(
            open.from,
            open.to,
            legal,
            Access::Mode(legal),
            self.route_type,
        );
        let (route_type, map, chart) = (self.route_type, self.map.clone(), self.p.chart_routes);
        let s = self.score_mut(open.ask);
        let Ok(body) = result else {
            s.refused += 1;
            return;
        };
        s.answered += 1;
        s.latency_s
            .push(now.saturating_since(open.asked_at).as_secs_f64());
        let route = &body.routes[0];
        if route.sections.iter().any(|x| x.travel_mode == "other") {
            s.with_other += 1;
        }
        let got = match route_type {
            RouteType::Shortest => route.summary.length_in_meters,
            RouteType::Fastest => route.summary.travel_time_in_seconds,
        } as f64;
        match truth {
            Some(t) if t.round() > 0.0 => s.ratios.push(got / t.round()),
            Some(_) => s.ratios.push(if got == 0.0 { 1.0 } else { f64::INFINITY }),
            None => s.no_true_route += 1,
        }
        if (s.drawn.len() as u32) < chart {
            let line = route
                .legs
                .iter()
                .flat_map(|l| l.points.iter())
                .map(|&p| {
                    let q = to_local(&map, p);
                    (q.east_m, q.north_m)
                })
                .collect();
            s.drawn.push(line);
        }
    }

    /// A query result for `device` and fence `zone` at `distance`: the alerts on that fence
    /// count it towards their confirmation, and one is raised at the last result needed.
    fn confirm_alerts(&mut self, now: SimTime, device: &str, zone: &str, distance: f64) {
        let Some((class, index)) = self.device_of(device) else {
            return;
        };
        for (i, a) in self.p.alerts.iter().enumerate() {
            if a.class != self.classes[usize::from(class)].0 || a.zone != zone {
                continue;
            }
            let enter = a.on == "enter";
            let side = (distance <= 0.0) == enter;
            let state = self.alert_state[i]
                .entry(device.to_string())
                .or_insert((0, false));
            if !side {
                *state = (0, false);
                continue;
            }
            state.0 += 1;
            if state.0 >= self.p.alert_confirm_readings.max(1) && !state.1 {
                state.1 = true;
                let z = self
                    .map
                    .zones()
                    .iter()
                    .position(|x| x.name == zone)
                    .expect("a fence");
                self.alerts.push(Crossing {
                    class,
                    device: index,
                    zone: z,
                    enter,
                    at: now,
                });
                if let Some(q) = self.last_query.get(device) {
                    self.alert_points[i].push((q.east_m, q.north_m));
                }
            }
        }
    }

    fn device_of(&self, id: &str) -> Option<(u16, u32)> {
        let (class, index) = id.rsplit_once('/')?;
        let c = self.classes.iter().position(|c| c.0 == class)?;
        Some((c as u16, index.parse().ok()?))
    }
}

impl App for FacilityOps {
    fn start(&mut self, now: SimTime, ctx: &mut AppCtx<'_>) {
        for name in [self.p.forklifts.clone(), self.p.visitors.clone()] {
            let Some(c) = ctx.class(&name) else { continue };
            let (Some(lat), Some(lon)) = (ctx.field(c, "lat"), ctx.field(c, "lon")) else {
                continue;
            };
            let directions = ctx.field(c, "directions");
            self.classes.push((name, c, lat, lon, directions));
        }
        if self.p.dispatch_per_hour > 0.0 {
            self.next_dispatch = now + self.dispatch_gap();
        }
    }

    fn on_reading(&mut self, now: SimTime, r: &Reading<'_>, _ctx: &mut AppCtx<'_>) {
        let Some(c) = self
            .classes
            .iter()
            .position(|c| c.1.class == r.device.class)
        else {
            return;
        };
        let (lat, lon) = (r.values[self.classes[c].2], r.values[self.classes[c].3]);
        if !(lat.is_finite() && lon.is_finite()) {
            self.readings_without_fix += 1;
            return;
        }
        let device_id = format!("{}/{}", self.classes[c].0, r.device.index);
        self.last_query
            .insert(device_id.clone(), self.map.frame.to_local(lat, lon));
        self.next_id += 1;
        self.geofence.handle_query(
            now,
            &GeofenceQuery {
                id: self.next_id,
                device_id,
                ud_id: self.udid,
                lat,
                lon,
                search_buffer_m: Some(self.p.search_buffer_m),
                is_async: self.p.is_async,
                mode: self.mode,
                user_time: None,
            },
        );
        let asks = self.classes[c].4.is_some_and(|f| r.values[f] == 1.0);
        if asks {
            let office = self.map.place(MAIN_OFFICE).expect("the site's office");
            self.ask_route(now, Ask::Directions, (lat, lon), office, r.event_time);
        }
        self.drain(now);
    }

    fn poll_timeout(&self) -> Option<SimTime> {
        [
            self.geofence.poll_timeout(),
            self.routes.poll_timeout(),
            (self.next_dispatch != SimTime::MAX).then_some(self.next_dispatch),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn handle_timeout(&mut self, now: SimTime, _ctx: &mut AppCtx<'_>) {
        while self.next_dispatch <= now {
            let stops = FORKLIFT_STOPS.len() as u64;
            let a = below(&mut self.dispatch_rng, stops) as usize;
            let b = (a + 1 + below(&mut self.dispatch_rng, stops - 1) as usize) % stops as usize;
            let place = |n: &str| self.map.place(n).expect("a stop of the site");
            let (from, to) = (place(FORKLIFT_STOPS[a]), place(FORKLIFT_STOPS[b]));
            let at = self.next_dispatch;
            self.ask_route(now, Ask::Dispatch, self.map.geo(from), to, at);
            self.next_dispatch = at + self.dispatch_gap();
        }
        self.drain(now);
    }

    fn report_scored(&self, end: SimTime, truth: &GroundTruth) -> AppReport {
        let mut figures = vec![
            ("geofence_queries".to_string(), self.geofence.queries as f64),
            (
                "geofence_queries_refused".to_string(),
                self.geofence.refused as f64,
            ),
            (
                "readings_without_fix".to_string(),
                self.readings_without_fix as f64,
            ),
        ];
        let window = SimDuration::from_secs_f64(self.p.match_window_s);
        // Every true crossing of every watched class, and the events, keyed alike.
        let mut true_x: Vec<Crossing> = Vec::new();
        for (c, (name, ..)) in self.classes.iter().enumerate() {
            true_x.extend(true_crossings(
                &self.map,
                c as u16,
                truth.episodes(name),
                end,
            ));
        }
        let all = score(&true_x, &self.crossings, window, |_| true);
        figures.extend(all.figures("geofence_event"));
        for a in &self.p.alerts {
            let (Some(c), Some(z)) = (
                self.classes.iter().position(|c| c.0 == a.class),
                self.map.zones().iter().position(|z| z.name == a.zone),
            ) else {
                continue;
            };
            let enter = a.on == "enter";
            let s = score(&true_x, &self.alerts, window, |x| {
                usize::from(x.class) == c && x.zone == z && x.enter == enter
            });
            figures.extend(s.figures(&format!("{}_alert", a.name)));
        }
        for (name, s) in [
            ("directions", &self.directions),
            ("dispatch", &self.dispatch),
        ] {
            figures.extend(route_figures(name, s));
        }
        let mut layers = site_layers(&self.map);
        layers.push(MapLayer::new(
            "directions to the main office (sample)",
            LayerKind::Lines,
            self.directions.drawn.clone(),
        ));
        layers.push(MapLayer::new(
            "dispatch routes (sample)",
            LayerKind::Lines,
            self.dispatch.drawn.clone(),
        ));
        for (i, a) in self.p.alerts.iter().enumerate() {
            layers.push(MapLayer::new(
                &format!("alert {}", a.name),
                LayerKind::Points,
                vec![self.alert_points[i].clone()],
            ));
        }
        AppReport {
            figures,
            charts: vec![Chart::map(
                "The facility: fences, routes answered and where alerts fired",
                layers,
            )],
        }
    }
}

/// A class's true fence crossings from its `in_<zone>` episodes: an enter at each start, an
/// exit at each end before the run's end.
fn true_crossings(
    map: &FacilityMap,
    class: u16,
    episodes: &[Episode],
    end: SimTime,
) -> Vec<Crossing> {
    let mut out = Vec::new();
    for e in episodes {
        let Some(zone) = e
            .kind
            .strip_prefix("in_")
            .and_then(|z| map.zones().iter().position(|x| x.name == z))
        else {
            continue;
        };
        let x = |enter, at| Crossing {
            class,
            device: e.device,
            zone,
            enter,
            at,
        };
        out.push(x(true, e.start));
        if e.end < end {
            out.push(x(false, e.end));
        }
    }
    out
}

/// Events matched against true crossings.
struct Score {
    events: usize,
    crossings: usize,
    matched: usize,
    latency_s: Vec<f64>,
}

impl Score {
    fn figures(&self, name: &str) -> Vec<(String, f64)> {
        let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        vec![
            (format!("{name}s"), self.events as f64),
            (format!("{name}_true_crossings"), self.crossings as f64),
            (
                format!("{name}_precision"),
                ratio(self.matched, self.events),
            ),
            (
                format!("{name}_recall"),
                ratio(self.matched, self.crossings),
            ),
            (
                format!("{name}_latency_s_p50"),
                quantile(&self.latency_s, 0.5),
            ),
            (
                format!("{name}_latency_s_p99"),
                quantile(&self.latency_s, 0.99),
            ),
        ]
    }
}

/// Matches the events `keep` selects to the true crossings it selects (module docs): per
/// device, fence and direction, each crossing in time order takes the earliest unmatched
/// event within `window` of it.
fn score(
    truth: &[Crossing],
    events: &[Crossing],
    window: SimDuration,
    keep: impl Fn(&Crossing) -> bool,
) -> Score {
    let key = |x: &Crossing| (x.class, x.device, x.zone, x.enter);
    // Per (class, device, fence, enter): the true crossings' times and the events'.
    type Times = (Vec<SimTime>, Vec<SimTime>);
    let mut by_key: BTreeMap<(u16, u32, usize, bool), Times> = BTreeMap::new();
    let (mut n_true, mut n_events) = (0, 0);
    for x in truth.iter().filter(|x| keep(x)) {
        by_key.entry(key(x)).or_default().0.push(x.at);
        n_true += 1;
    }
    for x in events.iter().filter(|x| keep(x)) {
        by_key.entry(key(x)).or_default().1.push(x.at);
        n_events += 1;
    }
    let (mut matched, mut latency_s) = (0, Vec::new());
    for (mut ts, mut es) in by_key.into_values() {
        ts.sort_unstable();
        es.sort_unstable();
        let mut used = vec![false; es.len()];
        for t in ts {
            let lo = t.saturating_since(SimTime::ZERO).saturating_sub(window);
            let hit = es.iter().enumerate().find(|(i, e)| {
                !used[*i] && e.since(SimTime::ZERO) >= lo && e.saturating_since(t) <= window
            });
            if let Some((i, e)) = hit {
                used[i] = true;
                matched += 1;
                latency_s.push(e.as_secs_f64() - t.as_secs_f64());
            }
        }
    }
    latency_s.sort_by(f64::total_cmp);
    Score {
        events: n_events,
        crossings: n_true,
        matched,
        latency_s,
    }
}

fn route_figures(name: &str, s: &RouteScore) -> Vec<(String, f64)> {
    let mut ratios = s.ratios.clone();
    ratios.sort_by(f64::total_cmp);
    let mut lat = s.latency_s.clone();
    lat.sort_by(f64::total_cmp);
    let (lo, hi) = match (ratios.first(), ratios.last()) {
        (Some(&a), Some(&b)) => (a, b),
        // No route to judge: nothing is wrong.
        _ => (1.0, 1.0),
    };
    vec![
        (format!("{name}_requests"), s.asked as f64),
        (
            format!("{name}_answered_ratio"),
            s.answered as f64 / s.asked.max(1) as f64,
        ),
        (format!("{name}_refused"), s.refused as f64),
        (format!("{name}_with_other_sections"), s.with_other as f64),
        (
            format!("{name}_without_legal_route"),
            s.no_true_route as f64,
        ),
        (format!("{name}_route_ratio_min"), lo),
        (format!("{name}_route_ratio_max"), hi),
        (format!("{name}_latency_s_p99"), quantile(&lat, 0.99)),
    ]
}

/// The registry entry: `kind = "facility_ops/1"`.
pub fn kind() -> AppKind {
    AppKind::new(
        "facility_ops/1",
        "the facility's back end on Azure Maps: a geofence query per reported position, alerts from Event Grid enter/exit events, directions to the main office for visitors, forklift dispatch routes; scored against the true tracks and the graph's shortest paths",
        |b| {
            let p: FacilityOpsParams = b.params()?;
            Ok(Box::new(FacilityOps::new(b, p)?))
        },
    )
    .default_params(&FacilityOpsParams::default())
}
