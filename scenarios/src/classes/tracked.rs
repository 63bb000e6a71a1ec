//! The facility-map solution's tracked assets (seed: a map of the facility, directions to the
//! main office, geofence alerts): **forklifts** (`forklift/1`) driving the yard's roads
//! between docks, aisles and the workshop, and **visitors** (`visitor/1`) with a mobile app
//! walking from the car park to the main office and back, on the bundled site
//! (`maps::site::logistics_yard`). One object per class, per-asset state in arrays.
//!
//! - **Movement.** An asset follows the places of a path ([`maps::FacilityMap::path`]) way
//!   by way at its mode's speed on each way (`maps::graph`), and dwells at its stops. A
//!   forklift picks its next stop at random (the workshop with `workshop_share`), dwells
//!   `dwell_s_min` to `dwell_s_max`, and keeps to the ways a truck may use; with the
//!   `shortcut` fault it takes the shortest way over every way (through the pedestrian plaza).
//!   A visitor waits at the car park (exponential, `wait_min_mean`), asks for directions to
//!   the main office (a reading published at once with `directions` = 1), walks to
//!   reception, visits `visit_min_min` to `visit_max_min`, and on the way back wanders off to
//!   the workshop door or the yard gate with `wander_ratio`, lingering there 2 to 10 minutes.
//! - **Telemetry.** `lat`, `lon` (a GNSS fix of the true position: `hardware::gnss`, the
//!   cattle tag's 4.7 m mean error; inside a building the sky is covered, so 40 % of fixes
//!   fail and the error is `indoor_error_scale` times larger, for multipath; no fix: absent),
//!   and the forklift's `speed_mps` or the visitor's `directions`.
//! - **Ground truth.** `in_<zone>` episodes for every zone of the site (`pedestrian_zone`,
//!   `visitor_area`) from the TRUE track, checked every `truth_check_s` while the asset moves
//!   (a resting asset does not cross a fence), the edges at the check that saw them.
//! - **Hardware faults**: `gps_dropout` (no fix at all), `gps_multipath` (the fix's error
//!   times `multipath_scale`); the forklift's `shortcut`.
//!
//! **Assumed**: every figure (speeds in `maps::graph`, dwell and visit times); a phone's
//! and a forklift tracker's GNSS are the collar's receiver. **Left out**: indoor positioning
//! (Wi-Fi or BLE), floors, collisions and queues, visitors arriving and leaving the site.

use crate::class::Actions;
use crate::class::{Chart, ClassReport, DeviceClass, Episode, LayerKind, MapLayer};
use crate::load::FieldError;
use crate::registry::{ClassBuild, ClassKind};
use firmware::DeviceLogic;
use geometry::Point;
use hardware::gnss::{GnssOutcome, GnssSpec, GnssState, SkyView};
use iot_messages::telemetry::FIELDS_MAX;
use maps::graph::{Access, FacilityMap, RouteType, TravelMode, WayKind};
use maps::site::{logistics_yard, FORKLIFT_STOPS};
use serde::{Deserialize, Serialize};
use sim::rng::{unit_f64, CompactRng};
use sim::{SimDuration, SimTime, StreamKey};
use std::sync::Arc;

/// What kind of asset a class tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Forklift,
    Visitor,
}

/// The kinds' parameters (`classes[].params`); each kind uses its own and refuses none.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackedParams {
    /// The bundled site: `"logistics_yard"`.
    pub site: String,
    /// How often a moving asset's true position is checked against the zones, seconds.
    pub truth_check_s: f64,
    /// The fix error's factor inside a building (multipath), and with `gps_multipath`.
    pub indoor_error_scale: f64,
    pub multipath_scale: f64,
    /// Forklift: the dwell at a stop, seconds, and the share of trips to the workshop.
    pub dwell_s_min: f64,
    pub dwell_s_max: f64,
    pub workshop_share: f64,
    /// Visitor: the mean wait at the car park, the visit, the share who wander off.
    pub wait_min_mean: f64,
    pub visit_min_min: f64,
    pub visit_max_min: f64,
    pub wander_ratio: f64,
    /// Assets whose tracks the report draws.
    pub chart_assets: u32,
}

impl Default for TrackedParams {
    fn default() -> Self {
        TrackedParams {
            site: "logistics_yard".into(),
            truth_check_s: 1.0,
            indoor_error_scale: 2.0,
            multipath_scale: 4.0,
            dwell_s_min: 60.0,
            dwell_s_max: 300.0,
            workshop_share: 0.2,
            wait_min_mean: 30.0,
            visit_min_min: 20.0,
            visit_max_min: 60.0,
            wander_ratio: 0.15,
            chart_assets: 3,
        }
    }
}

/// The bundled site by name.
pub(crate) fn site(name: &str) -> Option<FacilityMap> {
    (name == "logistics_yard").then(logistics_yard)
}

/// A visitor's stage of a visit; a forklift is always `Working`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Working,
    AtCarPark,
    ToOffice,
    Visiting,
    Wandering,
    Lingering,
    ToCarPark,
}

/// Every tracked asset of a class: `at[i]`, `path[i]` … are asset `i`.
pub struct TrackedClass {
    role: Role,
    p: TrackedParams,
    map: Arc<FacilityMap>,
    gnss: GnssSpec,
    check: SimDuration,
    stops: Vec<usize>,
    reception: usize,
    car_park: usize,
    wander_to: [usize; 2],
    /// Per asset: the place it is at or last left, the path it follows (empty: resting),
    /// the way it is on, and when that way began and ends.
    at: Vec<usize>,
    path: Vec<Vec<usize>>,
    /// The access the path was planned under (a fault that ends mid-trip keeps it).
    path_access: Vec<Access>,
    way: Vec<usize>,
    way_start: Vec<SimTime>,
    way_end: Vec<SimTime>,
    /// Resting until then.
    rest_until: Vec<SimTime>,
    stage: Vec<Stage>,
    behaviour: Vec<CompactRng>,
    noise: Vec<CompactRng>,
    gnss_state: Vec<GnssState>,
    /// Faults: dropout, multipath, shortcut.
    faults: Vec<[bool; 3]>,
    next_check: Vec<SimTime>,
    /// Per asset: its true position at the last check (for the report's map).
    last_seen: Vec<(f32, f32)>,
    /// Per asset, per zone: where the open `in_<zone>` episode began.
    open: Vec<Vec<Option<SimTime>>>,
    episodes: Vec<Episode>,
    zone_kinds: Vec<String>,
    actions: Actions,
    fixes: u64,
    no_fix: u64,
    /// Charted assets: true track and reported fixes.
    track: Vec<Vec<(f64, f64)>>,
    fix_track: Vec<Vec<(f64, f64)>>,
}

/// The most points of a charted asset's track (or fixes) the report keeps.
const TRACK_POINTS_MAX: usize = 4_000;

const DROPOUT: usize = 0;
const MULTIPATH: usize = 1;
const SHORTCUT: usize = 2;

impl TrackedClass {
    fn new(b: &ClassBuild<'_>, role: Role, p: TrackedParams) -> Result<TrackedClass, FieldError> {
        check(b, role, &p)?;
        let map = Arc::new(site(&p.site).ok_or_else(|| {
            b.error("site", format!("{:?}: expected \"logistics_yard\"", p.site))
        })?);
        let place = |n: &str| map.place(n).expect("a place of the bundled site");
        let stops: Vec<usize> = FORKLIFT_STOPS.iter().map(|n| place(n)).collect();
        let n = b.count as usize;
        let zones = map.zones().len();
        let mut c = TrackedClass {
            role,
            gnss: GnssSpec::cattle_tag(),
            check: SimDuration::from_secs_f64(p.truth_check_s),
            reception: place("reception"),
            car_park: place("car park"),
            wander_to: [place("workshop door"), place("yard gate")],
            at: Vec::with_capacity(n),
            path: vec![Vec::new(); n],
            path_access: vec![Access::Any; n],
            way: vec![0; n],
            way_start: vec![SimTime::ZERO; n],
            way_end: vec![SimTime::ZERO; n],
            rest_until: Vec::with_capacity(n),
            stage: Vec::with_capacity(n),
            behaviour: Vec::with_capacity(n),
            noise: Vec::with_capacity(n),
            gnss_state: vec![GnssState::default(); n],
            faults: vec![[false; 3]; n],
            next_check: vec![SimTime::ZERO; n],
            last_seen: vec![(0.0, 0.0); n],
            open: vec![vec![None; zones]; n],
            episodes: Vec::new(),
            zone_kinds: map
                .zones()
                .iter()
                .map(|z| format!("in_{}", z.name))
                .collect(),
            actions: Actions::default(),
            fixes: 0,
            no_fix: 0,
            track: vec![Vec::new(); (p.chart_assets as usize).min(n)],
            fix_track: vec![Vec::new(); (p.chart_assets as usize).min(n)],
            stops,
            map,
            p,
        };
        for i in 0..b.count {
            let key = |purpose| StreamKey::new(b.name, u64::from(i), purpose);
            let mut rng = b.seed.compact(key("behaviour"));
            let (at, stage, rest) = match role {
                Role::Forklift => {
                    let at = c.stops[sim::rng::below(&mut rng, c.stops.len() as u64) as usize];
                    (at, Stage::Working, dwell(&c.p, &mut rng))
                }
                Role::Visitor => (c.car_park, Stage::AtCarPark, wait(&c.p, &mut rng)),
            };
            c.at.push(at);
            c.stage.push(stage);
            c.rest_until.push(SimTime::ZERO + rest);
            c.behaviour.push(rng);
            c.noise.push(b.seed.compact(key("gnss")));
        }
        for d in 0..n {
            c.check_truth(d, SimTime::ZERO);
            c.next_check[d] = c.rest_until[d];
        }
        Ok(c)
    }

    fn mode(&self) -> TravelMode {
        match self.role {
            Role::Forklift => TravelMode::Truck,
            Role::Visitor => TravelMode::Pedestrian,
        }
    }

    fn access(&self, d: usize) -> Access {
        if self.faults[d][SHORTCUT] {
            Access::Any
        } else {
            Access::Mode(self.mode())
        }
    }

    /// Asset `d`'s true position at `now` (its state advanced to `now` first).
    fn true_position(&self, d: usize, now: SimTime) -> Point {
        let path = &self.path[d];
        if path.is_empty() {
            return self.map.position(self.at[d]);
        }
        let (a, b) = (path[self.way[d]], path[self.way[d] + 1]);
        let span = self.way_end[d]
            .saturating_since(self.way_start[d])
            .as_secs_f64();
        let t = if span > 0.0 {
            (now.saturating_since(self.way_start[d]).as_secs_f64() / span).clamp(0.0, 1.0)
        } else {
            1.0
        };
        self.map.position(a).lerp(self.map.position(b), t)
    }

    /// Asset `d`'s speed at `now`, m/s.
    fn speed(&self, d: usize) -> f64 {
        let path = &self.path[d];
        if path.is_empty() {
            return 0.0;
        }
        let (a, b) = (path[self.way[d]], path[self.way[d] + 1]);
        let span = self.way_end[d]
            .saturating_since(self.way_start[d])
            .as_secs_f64();
        let len = self.map.position(a).distance_m(self.map.position(b));
        if span > 0.0 {
            len / span
        } else {
            0.0
        }
    }

    /// Starts asset `d` on its way `w` of its path at `t`.
    fn start_way(&mut self, d: usize, w: usize, t: SimTime) {
        let (a, b) = (self.path[d][w], self.path[d][w + 1]);
        let access = self.path_access[d];
        let way = self
            .map
            .way_between(a, b, self.mode(), access, RouteType::Shortest)
            .expect("a path's places are joined");
        let v = way.kind.speed_under(self.mode(), access).expect("allowed");
        self.way[d] = w;
        self.way_start[d] = t;
        self.way_end[d] = t + SimDuration::from_secs_f64(way.length_m / v);
    }

    /// Sends asset `d` from where it is to place `to` at `t`; `false` if there is no way.
    fn go(&mut self, d: usize, to: usize, t: SimTime) -> bool {
        let (from, access) = (self.at[d], self.access(d));
        match self
            .map
            .path(from, to, self.mode(), access, RouteType::Shortest)
        {
            Some((_, path)) if path.len() >= 2 => {
                self.path[d] = path;
                self.path_access[d] = access;
                self.start_way(d, 0, t);
                true
            }
            _ => false,
        }
    }

    /// What asset `d` does when its rest ends at `t`: its next trip.
    fn next_trip(&mut self, d: usize, t: SimTime) {
        let rng = &mut self.behaviour[d];
        let to = match (self.role, self.stage[d]) {
            (Role::Forklift, _) => {
                let workshop = *self.stops.last().expect("stops");
                if unit_f64(rng) < self.p.workshop_share && self.at[d] != workshop {
                    workshop
                } else {
                    let others: Vec<usize> = self.stops[..self.stops.len() - 1]
                        .iter()
                        .copied()
                        .filter(|&s| s != self.at[d])
                        .collect();
                    others[sim::rng::below(rng, others.len() as u64) as usize]
                }
            }
            (Role::Visitor, Stage::AtCarPark) => {
                self.stage[d] = Stage::ToOffice;
                self.reception
            }
            (Role::Visitor, Stage::Visiting) => {
                if unit_f64(rng) < self.p.wander_ratio {
                    self.stage[d] = Stage::Wandering;
                    self.wander_to[sim::rng::below(rng, 2) as usize]
                } else {
                    self.stage[d] = Stage::ToCarPark;
                    self.car_park
                }
            }
            (Role::Visitor, Stage::Lingering) => {
                self.stage[d] = Stage::ToCarPark;
                self.car_park
            }
            (
                Role::Visitor,
                Stage::Working | Stage::ToOffice | Stage::Wandering | Stage::ToCarPark,
            ) => {
                unreachable!("a visitor rests only at the car park, a visit or a linger")
            }
        };
        if !self.go(d, to, t) {
            // No way there (a fault or a site without one): rest again where it is.
            self.rest_until[d] = t + dwell(&self.p, &mut self.behaviour[d]);
            return;
        }
        if self.stage[d] == Stage::ToOffice {
            self.ask_directions(d, t);
        }
    }

    /// Asset `d` arrived at the end of its path at `t`: it rests.
    fn arrive(&mut self, d: usize, t: SimTime) {
        self.at[d] = *self.path[d].last().expect("a path");
        self.path[d].clear();
        let (p, rng) = (&self.p, &mut self.behaviour[d]);
        let minutes = |a: f64, b: f64, rng: &mut CompactRng| {
            SimDuration::from_secs_f64(60.0 * (a + (b - a) * unit_f64(rng)))
        };
        let (stage, rest) = match self.stage[d] {
            Stage::Working => (Stage::Working, dwell(p, rng)),
            Stage::ToOffice => (
                Stage::Visiting,
                minutes(p.visit_min_min, p.visit_max_min, rng),
            ),
            Stage::Wandering => (Stage::Lingering, minutes(2.0, 10.0, rng)),
            Stage::ToCarPark => (Stage::AtCarPark, wait(p, rng)),
            Stage::AtCarPark | Stage::Visiting | Stage::Lingering => {
                unreachable!("an asset arrives only from a trip")
            }
        };
        self.stage[d] = stage;
        self.rest_until[d] = t + rest;
    }

    /// Advances asset `d` to `now`: the ways it finished, the stops it reached, the trips it
    /// began, each at its own time.
    fn advance(&mut self, d: usize, now: SimTime) {
        loop {
            if self.path[d].is_empty() {
                let t = self.rest_until[d];
                if t > now {
                    return;
                }
                self.next_trip(d, t);
                if self.path[d].is_empty() && self.rest_until[d] <= t {
                    // A zero rest with no way to go: try again a minute later.
                    self.rest_until[d] = t + SimDuration::from_secs(60);
                }
                continue;
            }
            let end = self.way_end[d];
            if end > now {
                return;
            }
            let w = self.way[d] + 1;
            if w + 1 < self.path[d].len() {
                self.start_way(d, w, end);
            } else {
                self.arrive(d, end);
            }
        }
    }

    /// Records asset `d`'s zones at `now` from its true position.
    fn check_truth(&mut self, d: usize, now: SimTime) {
        let p = self.true_position(d, now);
        self.last_seen[d] = (p.east_m as f32, p.north_m as f32);
        for (z, zone) in self.map.zones().iter().enumerate() {
            let inside = zone.outline.contains_point(p);
            match (self.open[d][z], inside) {
                (None, true) => self.open[d][z] = Some(now),
                (Some(start), false) => {
                    self.open[d][z] = None;
                    self.episodes.push(Episode {
                        kind: self.zone_kinds[z].clone(),
                        device: d as u32,
                        start,
                        end: now,
                    });
                }
                (None, false) | (Some(_), true) => {}
            }
        }
        if let Some(track) = self.track.get_mut(d) {
            if track.len() < TRACK_POINTS_MAX
                && track
                    .last()
                    .is_none_or(|q| Point::new(q.0, q.1).distance_m(p) >= 5.0)
            {
                track.push((p.east_m, p.north_m));
            }
        }
    }

    /// A GNSS fix of asset `d` at `now`: latitude and longitude, NaN without a fix.
    fn fix(&mut self, d: usize, now: SimTime) -> (f64, f64) {
        let p = self.true_position(d, now);
        let indoors = self
            .map
            .buildings()
            .iter()
            .any(|b| b.outline.contains_point(p));
        let sky = if indoors {
            SkyView::Covered
        } else {
            SkyView::Open
        };
        let outcome = self.gnss.fix(
            &mut self.gnss_state[d],
            now,
            p.east_m as f32,
            p.north_m as f32,
            sky,
            &mut self.noise[d],
        );
        let fix = match outcome {
            GnssOutcome::Fix(f) if !self.faults[d][DROPOUT] => f,
            _ => {
                self.no_fix += 1;
                return (f64::NAN, f64::NAN);
            }
        };
        self.fixes += 1;
        let mut scale = if indoors {
            self.p.indoor_error_scale
        } else {
            1.0
        };
        if self.faults[d][MULTIPATH] {
            scale *= self.p.multipath_scale;
        }
        let q = Point::new(
            p.east_m + (f64::from(fix.east_m) - p.east_m) * scale,
            p.north_m + (f64::from(fix.north_m) - p.north_m) * scale,
        );
        if let Some(t) = self.fix_track.get_mut(d) {
            // One fix in ten of the class's, enough to show the scatter about the track.
            if self.fixes % 10 == 0 && t.len() < TRACK_POINTS_MAX {
                t.push((q.east_m, q.north_m));
            }
        }
        self.map.frame.to_geo(q)
    }

    /// A visitor's phone asks for directions to the main office: a reading at once.
    fn ask_directions(&mut self, d: usize, t: SimTime) {
        let (lat, lon) = self.fix(d, t);
        self.actions.publish(d as u32, &[lat, lon, 1.0]);
    }
}

/// A forklift's dwell at a stop.
fn dwell(p: &TrackedParams, rng: &mut CompactRng) -> SimDuration {
    let (a, b) = (p.dwell_s_min, p.dwell_s_max);
    SimDuration::from_secs_f64(a + (b - a) * unit_f64(rng))
}

/// A visitor's wait at the car park: exponential.
fn wait(p: &TrackedParams, rng: &mut CompactRng) -> SimDuration {
    let u = sim::rng::open_unit_f64(rng);
    SimDuration::from_secs_f64(-p.wait_min_mean * 60.0 * libm::log(u))
}

fn check(b: &ClassBuild<'_>, role: Role, p: &TrackedParams) -> Result<(), FieldError> {
    let range = |k: &str, v: f64, lo: f64, hi: f64| {
        if v.is_finite() && (lo..=hi).contains(&v) {
            Ok(())
        } else {
            Err(b.error(k, format!("{v}: expected {lo} to {hi}")))
        }
    };
    range("truth_check_s", p.truth_check_s, 0.1, 60.0)?;
    range("indoor_error_scale", p.indoor_error_scale, 1.0, 100.0)?;
    range("multipath_scale", p.multipath_scale, 1.0, 100.0)?;
    match role {
        Role::Forklift => {
            range("dwell_s_min", p.dwell_s_min, 0.0, 86_400.0)?;
            range("dwell_s_max", p.dwell_s_max, p.dwell_s_min, 86_400.0)?;
            range("workshop_share", p.workshop_share, 0.0, 1.0)?;
        }
        Role::Visitor => {
            range("wait_min_mean", p.wait_min_mean, 0.1, 1_440.0)?;
            range("visit_min_min", p.visit_min_min, 0.0, 1_440.0)?;
            range("visit_max_min", p.visit_max_min, p.visit_min_min, 1_440.0)?;
            range("wander_ratio", p.wander_ratio, 0.0, 1.0)?;
        }
    }
    Ok(())
}

impl DeviceLogic for TrackedClass {
    fn sample(&mut self, device: u32, now: SimTime, out: &mut [f64; FIELDS_MAX]) -> usize {
        let d = device as usize;
        self.advance(d, now);
        let (lat, lon) = self.fix(d, now);
        out[0] = lat;
        out[1] = lon;
        out[2] = match self.role {
            Role::Forklift => self.speed(d),
            Role::Visitor => 0.0,
        };
        3
    }
}

impl DeviceClass for TrackedClass {
    fn len(&self) -> u32 {
        self.at.len() as u32
    }

    fn has_timers(&self) -> bool {
        true
    }

    fn poll_timeout(&self, device: u32) -> Option<SimTime> {
        Some(self.next_check[device as usize])
    }

    fn handle_timeout(&mut self, device: u32, now: SimTime) {
        let d = device as usize;
        self.advance(d, now);
        self.check_truth(d, now);
        // A resting asset crosses no fence: the next check is when it sets off.
        self.next_check[d] = if self.path[d].is_empty() {
            self.rest_until[d].max(now + self.check)
        } else {
            now + self.check
        };
    }

    fn on_fault(&mut self, device: u32, now: SimTime, fault: &str, active: bool) {
        let d = device as usize;
        self.advance(d, now);
        let f = match fault {
            "gps_dropout" => DROPOUT,
            "gps_multipath" => MULTIPATH,
            "shortcut" => SHORTCUT,
            other => unreachable!("tracked assets declare no fault {other:?}"),
        };
        self.faults[d][f] = active;
    }

    fn poll_action(&mut self) -> Option<crate::class::DeviceAction> {
        self.actions.pop()
    }

    fn truth(&self, end: SimTime) -> Vec<Episode> {
        let mut all = self.episodes.clone();
        for (d, open) in self.open.iter().enumerate() {
            for (z, start) in open.iter().enumerate() {
                if let Some(start) = *start {
                    all.push(Episode {
                        kind: self.zone_kinds[z].clone(),
                        device: d as u32,
                        start,
                        end,
                    });
                }
            }
        }
        all.sort_by(|a, b| (a.device, &a.kind, a.start).cmp(&(b.device, &b.kind, b.start)));
        all
    }

    fn position(&self, device: u32) -> Option<(f64, f64)> {
        // Where the last truth check saw it (at most `truth_check_s` old while it moves).
        let (e, n) = self.last_seen[device as usize];
        Some((f64::from(e), f64::from(n)))
    }

    fn report(&self, end: SimTime) -> ClassReport {
        let truth = self.truth(end);
        let mut figures = vec![
            ("fixes".to_string(), self.fixes as f64),
            ("fixes_failed".to_string(), self.no_fix as f64),
        ];
        for kind in &self.zone_kinds {
            let n = truth.iter().filter(|e| &e.kind == kind).count();
            figures.push((format!("{kind}_episodes"), n as f64));
        }
        let mut layers = site_layers(&self.map);
        layers.push(MapLayer::new(
            "true tracks (sample assets)",
            LayerKind::Lines,
            self.track.clone(),
        ));
        layers.push(MapLayer::new(
            "reported fixes",
            LayerKind::Points,
            vec![self.fix_track.iter().flatten().copied().collect()],
        ));
        let what = match self.role {
            Role::Forklift => "forklifts",
            Role::Visitor => "visitors",
        };
        ClassReport {
            figures,
            charts: vec![Chart::map(
                &format!("The facility: true tracks and reported fixes of sample {what}"),
                layers,
            )],
        }
    }
}

/// The site's buildings, ways by kind and zones, as map layers.
pub(crate) fn site_layers(map: &FacilityMap) -> Vec<MapLayer> {
    let outline = |a: &maps::graph::Area| {
        a.outline
            .points()
            .iter()
            .map(|p| (p.east_m, p.north_m))
            .collect::<Vec<_>>()
    };
    let mut layers = vec![MapLayer::new(
        "buildings",
        LayerKind::Areas,
        map.buildings().iter().map(outline).collect(),
    )];
    for (kind, name) in [
        (WayKind::Road, "roads"),
        (WayKind::Footpath, "footpaths"),
        (WayKind::SharedLane, "shared lanes"),
    ] {
        let shapes = map
            .ways()
            .filter(|w| w.2.kind == kind)
            .map(|(a, b, _)| {
                let (pa, pb) = (map.position(a), map.position(b));
                vec![(pa.east_m, pa.north_m), (pb.east_m, pb.north_m)]
            })
            .collect();
        layers.push(MapLayer::new(name, LayerKind::Lines, shapes));
    }
    for z in map.zones() {
        layers.push(MapLayer::new(
            &format!("fence {}", z.name),
            LayerKind::Areas,
            vec![outline(z)],
        ));
    }
    layers
}

const FAULTS: &[(&str, &str)] = &[
    ("gps_dropout", "the tracker gets no GNSS fix at all"),
    (
        "gps_multipath",
        "the fix's error is multipath_scale times larger",
    ),
];

/// The registry entry: `kind = "forklift/1"`.
pub fn forklift_kind() -> ClassKind {
    let mut faults = FAULTS.to_vec();
    faults.push((
        "shortcut",
        "the driver ignores the signs and takes the shortest way, through the pedestrian plaza",
    ));
    ClassKind::new(
        "forklift/1",
        "a forklift's GNSS tracker on the bundled logistics yard: it drives the roads between docks, aisles and the workshop; in_<zone> episodes from its true track",
        |b| {
            let p: TrackedParams = b.params()?;
            Ok(Box::new(TrackedClass::new(b, Role::Forklift, p)?))
        },
    )
    .samples(&["lat", "lon", "speed_mps"])
    .model("scenarios/dtdl/forklift.json", include_str!("../../dtdl/forklift.json"))
    .faults(&faults)
    .default_params(&TrackedParams::default())
}

/// The registry entry: `kind = "visitor/1"`.
pub fn visitor_kind() -> ClassKind {
    ClassKind::new(
        "visitor/1",
        "a visitor's phone with the site's mobile app: walks from the car park to the main office and back, asks for directions; in_<zone> episodes from the true track",
        |b| {
            let p: TrackedParams = b.params()?;
            Ok(Box::new(TrackedClass::new(b, Role::Visitor, p)?))
        },
    )
    .samples(&["lat", "lon", "directions"])
    .model("scenarios/dtdl/visitor.json", include_str!("../../dtdl/visitor.json"))
    .faults(FAULTS)
    .default_params(&TrackedParams::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::DeviceAction;
    use hardware::radio::RadioProfile;
    use sim::{Epoch, Seed};

    fn class(role: Role, count: u32) -> TrackedClass {
        let table = toml::Table::new();
        let radio = RadioProfile::wifi();
        let fields: Vec<String> = ["lat", "lon", "x"].iter().map(|s| s.to_string()).collect();
        let b = ClassBuild {
            seed: Seed(9),
            epoch: Epoch::default(),
            name: "asset",
            count,
            telemetry: &fields,
            radio: &radio,
            params: &table,
        };
        TrackedClass::new(&b, role, TrackedParams::default()).unwrap()
    }

    fn run_to(c: &mut TrackedClass, end: SimTime) {
        for d in 0..c.len() {
            while let Some(t) = c.poll_timeout(d).filter(|t| *t <= end) {
                c.handle_timeout(d, t);
            }
        }
    }

    #[test]
    fn forklifts_keep_out_of_the_pedestrian_zone_unless_their_drivers_cut_through() {
        let mut c = class(Role::Forklift, 20);
        let end = SimTime::from_secs(4 * 3_600);
        run_to(&mut c, end);
        let inside = |c: &TrackedClass| {
            c.truth(end)
                .iter()
                .filter(|e| e.kind == "in_pedestrian_zone")
                .count()
        };
        assert_eq!(inside(&c), 0);
        let mut c = class(Role::Forklift, 20);
        for d in 0..20 {
            c.on_fault(d, SimTime::ZERO, "shortcut", true);
        }
        run_to(&mut c, end);
        // Trips between the workshop and warehouse A's side take the plaza's footpath.
        assert!(inside(&c) >= 5, "{}", inside(&c));
        // A forklift moves at a truck's speed on the roads, and no faster anywhere.
        let mut out = [0.0; FIELDS_MAX];
        for d in 0..20 {
            c.sample(d, end, &mut out);
            assert!((0.0..=4.2 + 1e-9).contains(&out[2]), "{}", out[2]);
        }
    }

    #[test]
    fn a_visitor_asks_for_directions_walks_to_reception_and_its_fixes_are_near_its_track() {
        let mut c = class(Role::Visitor, 5);
        let end = SimTime::from_secs(6 * 3_600);
        run_to(&mut c, end);
        let mut asks = 0;
        while let Some(a) = c.poll_action() {
            if let DeviceAction::Publish { values, len, .. } = a {
                assert_eq!(len, 3);
                assert_eq!(values[2], 1.0);
                asks += 1;
            }
        }
        assert!(asks >= 5, "{asks}");
        // Every visit is inside the visitor area from the start: one episode begins at zero.
        let truth = c.truth(end);
        for d in 0..5 {
            assert!(truth
                .iter()
                .any(|e| e.device == d && e.kind == "in_visitor_area" && e.start == SimTime::ZERO));
        }
        let mut out = [0.0; FIELDS_MAX];
        let (mut near, mut fixes) = (0, 0);
        for k in 0..200 {
            let t = end + SimDuration::from_secs(10 * k);
            c.sample(0, t, &mut out);
            if out[0].is_nan() {
                continue;
            }
            fixes += 1;
            let q = c.map.frame.to_local(out[0], out[1]);
            let p = c.true_position(0, t);
            if q.distance_m(p) < 25.0 {
                near += 1;
            }
        }
        assert!(fixes > 100 && near * 100 >= fixes * 95, "{near} of {fixes}");
    }
}
