//! Spatial Geofencing (reference §5.2): fences uploaded as a GeoJSON-like collection of
//! polygons with a `geometryId` and an optional `validityTime`, queried with
//! `GET /spatial/geofence/json?deviceId=…&udId=…&lat=…&lon=…&searchBuffer=…&isAsync=…&mode=…
//! [&userTime=…]`, answering `geometries[] {deviceId, udId, geometryId, distance,
//! nearestLat, nearestLon}`, `expiredGeofenceGeometryId[]`,
//! `invalidPeriodGeofenceGeometryId[]` and `isEventPublished`, and publishing
//! `Microsoft.Maps.GeofenceEntered` / `GeofenceExited` (and, in mode `All`,
//! `GeofenceResult`) events to Event Grid subscribers.
//!
//! **Model.** `distance` is the distance in metres from the point to the fence's border,
//! negative inside and positive outside; farther than `searchBuffer` from the border it
//! saturates at −999 (well inside) or 999 (well outside), and then the nearest point is not
//! given. A device's state is kept per `deviceId` per geometry (a device starts outside
//! every fence): moving inside publishes `GeofenceEntered`, moving out `GeofenceExited`.
//! Mode `EnterAndExit` publishes only those; mode `All` also publishes every query's result.
//! A fence whose `expiredTime` is past, or whose validity periods do not cover the query's
//! time (`userTime`, else now), is listed in `expiredGeofenceGeometryId` or
//! `invalidPeriodGeofenceGeometryId`, has no `geometries[]` entry, fires no event and keeps
//! the device's state as it was.
//!
//! **UNCONFIRMED in the reference** (marked so there): `searchBuffer`'s default of 50 m and
//! its maximum of 500 m; a value outside 0 to 500 is refused with 400. **Assumed:** the
//! reference says only that a query can be asynchronous. Here `isAsync=true` returns the
//! response at once (after the request latency) with `isEventPublished` false, and the events
//! are published `async_event_delay` later; `isAsync=false` publishes the events before the
//! response returns, and `isEventPublished` says whether there were any. Event Grid adds its
//! own delivery latency to every event. Validity periods recur daily when `daily` is set
//! (`recurrenceType: "Daily"`, frequency 1; `businessDayOnly` is left out). Fences are
//! planar in a local frame about their collection's first vertex (fences span metres to
//! kilometres). **Left out:** Data Upload's asynchronous status polling (an upload is
//! available at once), fences other than polygons (circles, multipolygons).

use geometry::{LocalFrame, Point, Polygon};
use serde::Serialize;
use sim::{Dist, SimDuration, SimTime};
use std::collections::BTreeMap;

/// The `searchBuffer` when a query gives none, metres (UNCONFIRMED in the reference).
pub const SEARCH_BUFFER_DEFAULT_M: f64 = 50.0;
/// The largest `searchBuffer`, metres (UNCONFIRMED in the reference).
pub const SEARCH_BUFFER_MAX_M: f64 = 500.0;
/// The distance reported beyond the search buffer.
pub const SATURATED_M: f64 = 999.0;

/// A validity period of a fence.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ValidityPeriod {
    pub start: SimTime,
    pub end: SimTime,
    /// Repeats every day from `start` (`recurrenceType: "Daily"`).
    pub daily: bool,
}

/// A fence's `validityTime`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Validity {
    /// `expiredTime`: after it the fence fires nothing.
    pub expired_at: Option<SimTime>,
    /// `validityPeriod[]`: when empty, always valid until it expires.
    pub periods: Vec<ValidityPeriod>,
}

/// One polygon feature of an upload.
#[derive(Clone, Debug, PartialEq)]
pub struct FenceFeature {
    pub geometry_id: String,
    /// The outer ring, `(latitude, longitude)`.
    pub ring: Vec<(f64, f64)>,
    pub validity: Option<Validity>,
}

/// `mode` of a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum GeofenceMode {
    All,
    EnterAndExit,
}

/// A geofence query.
#[derive(Clone, Debug, PartialEq)]
pub struct GeofenceQuery {
    pub id: u64,
    pub device_id: String,
    pub ud_id: u32,
    pub lat: f64,
    pub lon: f64,
    /// `searchBuffer`, metres; `None`: the default.
    pub search_buffer_m: Option<f64>,
    pub is_async: bool,
    pub mode: GeofenceMode,
    /// `userTime`: the time validity is judged at; `None`: now.
    pub user_time: Option<SimTime>,
}

/// One fence's answer to a query.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeofenceGeometry {
    pub device_id: String,
    pub ud_id: u32,
    pub geometry_id: String,
    pub distance: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nearest_lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nearest_lon: Option<f64>,
}

/// The response body.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeofenceBody {
    pub geometries: Vec<GeofenceGeometry>,
    pub expired_geofence_geometry_id: Vec<String>,
    pub invalid_period_geofence_geometry_id: Vec<String>,
    pub is_event_published: bool,
}

/// Why a query was refused (HTTP 400).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GeofenceError {
    #[error("searchBuffer: {0} m, expected 0 to {SEARCH_BUFFER_MAX_M} (UNCONFIRMED limits)")]
    SearchBuffer(f64),
    #[error("lat, lon: ({0}, {1}) is not a position")]
    BadPosition(f64, f64),
    #[error("udId: {0} is no upload")]
    UnknownUdid(u32),
}

/// A response, when it reaches the caller.
#[derive(Clone, Debug, PartialEq)]
pub struct GeofenceResponse {
    pub id: u64,
    pub requested_at: SimTime,
    pub result: Result<GeofenceBody, GeofenceError>,
}

/// An Event Grid event type of Azure Maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum EventType {
    #[serde(rename = "Microsoft.Maps.GeofenceEntered")]
    Entered,
    #[serde(rename = "Microsoft.Maps.GeofenceExited")]
    Exited,
    #[serde(rename = "Microsoft.Maps.GeofenceResult")]
    Result,
}

/// An event as a subscriber receives it.
#[derive(Clone, Debug, PartialEq)]
pub struct GeofenceEvent {
    pub event_type: EventType,
    /// `/spatial/geofence/udid/{udid}/id/{eventId}`.
    pub subject: String,
    pub device_id: String,
    pub geometry_id: String,
    pub distance: f64,
    /// When the query that raised it was handled, and when a subscriber receives it.
    pub queried_at: SimTime,
    pub delivered_at: SimTime,
}

/// The service's configuration (figures assumed by the caller's scenario).
#[derive(Clone, Debug, PartialEq)]
pub struct GeofenceConfig {
    pub latency_ms_median: f64,
    pub latency_ms_p99: f64,
    /// `isAsync`: how much later than the response the events are published.
    pub async_event_delay: SimDuration,
    /// Event Grid's delivery latency to a subscriber.
    pub event_grid_latency_ms_median: f64,
    pub event_grid_latency_ms_p99: f64,
}

struct Fence {
    geometry_id: String,
    polygon: Polygon,
    validity: Option<Validity>,
}

struct Upload {
    frame: LocalFrame,
    fences: Vec<Fence>,
}

/// Spatial Geofencing with Event Grid. See the module docs.
pub struct GeofenceService {
    cfg: GeofenceConfig,
    latency: Dist,
    event_grid: Dist,
    rng: sim::CompactRng,
    uploads: Vec<Upload>,
    /// `deviceId` → its index in `inside`.
    devices: BTreeMap<String, usize>,
    /// Per device, per upload, per fence: inside.
    inside: Vec<Vec<Vec<bool>>>,
    responses: BTreeMap<(SimTime, u64), GeofenceResponse>,
    events: BTreeMap<(SimTime, u64), GeofenceEvent>,
    seq: u64,
    /// Queries handled, and of those refused; events published by type.
    pub queries: u64,
    pub refused: u64,
    pub published: BTreeMap<EventType, u64>,
}

/// A fence collection that cannot be uploaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UploadError {
    #[error("upload: no features")]
    Empty,
    #[error("upload: feature {0}: {1}")]
    Geometry(String, geometry::GeometryError),
    #[error("upload: two features have geometryId {0:?}")]
    DuplicateId(String),
}

impl GeofenceService {
    pub fn new(
        cfg: GeofenceConfig,
        rng: sim::CompactRng,
    ) -> Result<GeofenceService, sim::rng::DistError> {
        Ok(GeofenceService {
            latency: Dist::lognormal_median_p99(cfg.latency_ms_median, cfg.latency_ms_p99)?,
            event_grid: Dist::lognormal_median_p99(
                cfg.event_grid_latency_ms_median,
                cfg.event_grid_latency_ms_p99,
            )?,
            cfg,
            rng,
            uploads: Vec::new(),
            devices: BTreeMap::new(),
            inside: Vec::new(),
            responses: BTreeMap::new(),
            events: BTreeMap::new(),
            seq: 0,
            queries: 0,
            refused: 0,
            published: BTreeMap::new(),
        })
    }

    /// Data Upload of a fence collection: its `udid`.
    pub fn upload(&mut self, features: &[FenceFeature]) -> Result<u32, UploadError> {
        let first = features
            .first()
            .and_then(|f| f.ring.first())
            .ok_or(UploadError::Empty)?;
        let frame = LocalFrame {
            origin_lat_deg: first.0,
            origin_lon_deg: first.1,
        };
        let mut fences: Vec<Fence> = Vec::with_capacity(features.len());
        for f in features {
            if fences.iter().any(|g| g.geometry_id == f.geometry_id) {
                return Err(UploadError::DuplicateId(f.geometry_id.clone()));
            }
            let pts: Vec<Point> = f
                .ring
                .iter()
                .map(|&(lat, lon)| frame.to_local(lat, lon))
                .collect();
            let polygon = Polygon::from_points(&f.geometry_id, &pts)
                .map_err(|e| UploadError::Geometry(f.geometry_id.clone(), e))?;
            fences.push(Fence {
                geometry_id: f.geometry_id.clone(),
                polygon,
                validity: f.validity.clone(),
            });
        }
        self.uploads.push(Upload { frame, fences });
        for d in &mut self.inside {
            d.push(vec![false; features.len()]);
        }
        Ok(self.uploads.len() as u32 - 1)
    }

    fn draw_ms(&mut self, grid: bool) -> SimDuration {
        let d = if grid {
            &self.event_grid
        } else {
            &self.latency
        };
        SimDuration::from_secs_f64(d.sample(&mut self.rng) / 1e3)
    }

    fn device(&mut self, id: &str) -> usize {
        if let Some(&d) = self.devices.get(id) {
            return d;
        }
        let d = self.inside.len();
        self.devices.insert(id.to_string(), d);
        self.inside.push(
            self.uploads
                .iter()
                .map(|u| vec![false; u.fences.len()])
                .collect(),
        );
        d
    }

    /// A query arrives at `now`: the device's state changes at once; the response is due
    /// after the request latency and the events as the module docs say.
    pub fn handle_query(&mut self, now: SimTime, q: &GeofenceQuery) {
        self.queries += 1;
        let respond_at = now + self.draw_ms(false);
        let result = self.evaluate(now, respond_at, q);
        if result.is_err() {
            self.refused += 1;
        }
        self.seq += 1;
        self.responses.insert(
            (respond_at, self.seq),
            GeofenceResponse {
                id: q.id,
                requested_at: now,
                result,
            },
        );
    }

    fn evaluate(
        &mut self,
        now: SimTime,
        respond_at: SimTime,
        q: &GeofenceQuery,
    ) -> Result<GeofenceBody, GeofenceError> {
        let buffer = q.search_buffer_m.unwrap_or(SEARCH_BUFFER_DEFAULT_M);
        if !(0.0..=SEARCH_BUFFER_MAX_M).contains(&buffer) {
            return Err(GeofenceError::SearchBuffer(buffer));
        }
        if !(q.lat.is_finite() && q.lon.is_finite()) {
            return Err(GeofenceError::BadPosition(q.lat, q.lon));
        }
        let u = q.ud_id as usize;
        if u >= self.uploads.len() {
            return Err(GeofenceError::UnknownUdid(q.ud_id));
        }
        let device = self.device(&q.device_id);
        let at = q.user_time.unwrap_or(now);
        let publish_at = if q.is_async {
            respond_at + self.cfg.async_event_delay
        } else {
            respond_at
        };
        let mut body = GeofenceBody {
            geometries: Vec::new(),
            expired_geofence_geometry_id: Vec::new(),
            invalid_period_geofence_geometry_id: Vec::new(),
            is_event_published: false,
        };
        let mut fired: Vec<(EventType, usize, f64)> = Vec::new();
        let upload = &self.uploads[u];
        let p = upload.frame.to_local(q.lat, q.lon);
        for (i, fence) in upload.fences.iter().enumerate() {
            if let Some(v) = &fence.validity {
                if v.expired_at.is_some_and(|e| at >= e) {
                    body.expired_geofence_geometry_id
                        .push(fence.geometry_id.clone());
                    continue;
                }
                if !v.periods.is_empty() && !v.periods.iter().any(|pd| covers(pd, at)) {
                    body.invalid_period_geofence_geometry_id
                        .push(fence.geometry_id.clone());
                    continue;
                }
            }
            let (d, nearest) = fence.polygon.signed_distance(p);
            let inside = d <= 0.0;
            let was = std::mem::replace(&mut self.inside[device][u][i], inside);
            let (distance, nearest) = if d.abs() > buffer {
                (if inside { -SATURATED_M } else { SATURATED_M }, None)
            } else {
                (d, Some(upload.frame.to_geo(nearest)))
            };
            match (was, inside) {
                (false, true) => fired.push((EventType::Entered, i, distance)),
                (true, false) => fired.push((EventType::Exited, i, distance)),
                _ => {}
            }
            if q.mode == GeofenceMode::All {
                fired.push((EventType::Result, i, distance));
            }
            body.geometries.push(GeofenceGeometry {
                device_id: q.device_id.clone(),
                ud_id: q.ud_id,
                geometry_id: fence.geometry_id.clone(),
                distance,
                nearest_lat: nearest.map(|n| n.0),
                nearest_lon: nearest.map(|n| n.1),
            });
        }
        body.is_event_published = !q.is_async && !fired.is_empty();
        for (event_type, i, distance) in fired {
            let delivered_at = publish_at + self.draw_ms(true);
            self.seq += 1;
            *self.published.entry(event_type).or_insert(0) += 1;
            let geometry_id = self.uploads[u].fences[i].geometry_id.clone();
            self.events.insert(
                (delivered_at, self.seq),
                GeofenceEvent {
                    event_type,
                    subject: format!("/spatial/geofence/udid/{}/id/{}", q.ud_id, self.seq),
                    device_id: q.device_id.clone(),
                    geometry_id,
                    distance,
                    queried_at: now,
                    delivered_at,
                },
            );
        }
        Ok(body)
    }

    /// When the next response or event is due.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        let r = self.responses.keys().next().map(|k| k.0);
        let e = self.events.keys().next().map(|k| k.0);
        match (r, e) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next response due by `now`.
    pub fn poll_response(&mut self, now: SimTime) -> Option<GeofenceResponse> {
        let (&key, _) = self.responses.iter().next()?;
        (key.0 <= now).then(|| self.responses.remove(&key).expect("present"))
    }

    /// The next Event Grid event delivered by `now`.
    pub fn poll_event(&mut self, now: SimTime) -> Option<GeofenceEvent> {
        let (&key, _) = self.events.iter().next()?;
        (key.0 <= now).then(|| self.events.remove(&key).expect("present"))
    }
}

/// Whether a validity period covers `t`.
fn covers(p: &ValidityPeriod, t: SimTime) -> bool {
    if t < p.start {
        return false;
    }
    if !p.daily {
        return t < p.end;
    }
    let day = 86_400_000_000_000u64;
    let len = p.end.saturating_since(p.start).as_nanos();
    (t.since(p.start).as_nanos() % day) < len
}
