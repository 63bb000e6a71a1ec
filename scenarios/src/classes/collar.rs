//! The herd's device class: a cow wearing a collar with GNSS, a body-temperature probe, a
//! battery and a cellular modem (`hardware::collar`).
//!
//! Telemetry `{"lat":…,"lon":…,"temp":…}` (the world adds the timestamp). A failed fix
//! reports the last known position, as the livestock wearable of reference §7.3 does; before
//! the first fix the position is absent (NaN). The battery pays for the sampling cycle and for
//! every packet the modem sends, at the class's radio profile (airtime at the TX current plus
//! a session per message). The cows' fever and stuck episodes are the ground truth.

use crate::class::{BatteryState, DeviceClass, Episode};
use crate::load::FieldError;
use crate::registry::{ClassBuild, ClassKind};
use firmware::DeviceLogic;
use geometry::{LocalFrame, Point, Polygon};
use hardware::battery::PowerOutcome;
use hardware::collar::{Collar, CollarConfig, CollarSpec};
use hardware::gnss::GnssOutcome;
use hardware::radio::RadioProfile;
use hardware::world::cow::{episodes, EpisodeKind};
use iot_messages::telemetry::FIELDS_MAX;
use sim::{Dist, Seed, SimTime};

const FIELD_LAT: usize = 0;
const FIELD_LON: usize = 1;
const FIELD_TEMP: usize = 2;

/// Every collar of a herd: `collars[i]` is cow `i` and its collar (120 bytes each).
pub struct CollarClass {
    seed: Seed,
    cfg: CollarConfig,
    spec: CollarSpec,
    collars: Vec<Collar>,
    frame: LocalFrame,
    pasture: Polygon,
    radio: RadioProfile,
    /// Last reported fix per device, NaN before the first fix.
    last_fix: Vec<(f32, f32)>,
    brownouts: u64,
}

/// A collar class that cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("collar: {0}")]
pub struct CollarClassError(String);

impl CollarClass {
    /// `count` collars put on their cows at time zero; cow `i`'s streams are keyed by `i`
    /// (`hardware::collar::Collar::new`).
    pub fn new(
        seed: Seed,
        count: u32,
        cfg: CollarConfig,
        pasture: Polygon,
        frame: LocalFrame,
        radio: RadioProfile,
    ) -> Result<CollarClass, CollarClassError> {
        let err = |e: hardware::collar::CollarError| CollarClassError(e.to_string());
        let spec = CollarSpec::new(cfg.clone(), pasture.clone()).map_err(err)?;
        let mut collars = Vec::with_capacity(count as usize);
        for i in 0..count {
            collars.push(Collar::new(seed, u64::from(i), &spec, SimTime::ZERO).map_err(err)?);
        }
        Ok(CollarClass {
            seed,
            cfg,
            spec,
            collars,
            frame,
            pasture,
            radio,
            last_fix: vec![(f32::NAN, f32::NAN); count as usize],
            brownouts: 0,
        })
    }

    /// Brown-outs so far (the sampling cycle's and the radio's).
    pub fn brownouts(&self) -> u64 {
        self.brownouts
    }
}

impl DeviceLogic for CollarClass {
    fn sample(&mut self, device: u32, now: SimTime, out: &mut [f64; FIELDS_MAX]) -> usize {
        let i = device as usize;
        let s = self.collars[i].update(now, &self.spec);
        if let GnssOutcome::Fix(f) = s.gnss {
            self.last_fix[i] = (f.east_m, f.north_m);
        }
        if !matches!(s.power, PowerOutcome::Ok) {
            self.brownouts += 1;
        }
        let (east, north) = self.last_fix[i];
        let (lat, lon) = if east.is_nan() {
            (f64::NAN, f64::NAN)
        } else {
            self.frame
                .to_geo(Point::new(f64::from(east), f64::from(north)))
        };
        out[FIELD_LAT] = lat;
        out[FIELD_LON] = lon;
        out[FIELD_TEMP] = s.body_temp.value().unwrap_or(f64::NAN);
        3
    }
}

impl DeviceClass for CollarClass {
    fn len(&self) -> u32 {
        self.collars.len() as u32
    }

    fn on_transmit(&mut self, device: u32, now: SimTime, bytes: u32) {
        let power = self.collars[device as usize].handle_radio(
            now,
            &self.spec,
            self.radio.tx_energy_uj(bytes),
            self.radio.tx_current_ma,
        );
        if !matches!(power, PowerOutcome::Ok) {
            self.brownouts += 1;
        }
    }

    fn truth(&self, end: SimTime) -> Vec<Episode> {
        let mut truth = Vec::new();
        for i in 0..self.len() {
            for (kind, name) in [(EpisodeKind::Fever, "fever"), (EpisodeKind::Stuck, "stuck")] {
                for e in episodes(
                    self.seed,
                    u64::from(i),
                    kind,
                    &self.cfg.cow,
                    SimTime::ZERO,
                    end,
                ) {
                    truth.push(Episode {
                        kind: name.into(),
                        device: i,
                        start: e.start,
                        end: e.end.min(end),
                    });
                }
            }
        }
        truth
    }

    fn battery(&self, device: u32, now: SimTime) -> Option<BatteryState> {
        let b = self.collars[device as usize].battery();
        Some(BatteryState {
            charge_ratio: b.state_of_charge(&self.cfg.battery, now),
            projected_life_s: b.projected_life_s(&self.cfg.battery, now),
            energy: *b.ledger(),
        })
    }

    fn position(&self, device: u32) -> Option<(f64, f64)> {
        let p = self.collars[device as usize].cow().position();
        Some((p.east_m, p.north_m))
    }

    fn map_outline(&self) -> Vec<(f64, f64)> {
        self.pasture
            .vertices()
            .iter()
            .map(|v| (v[0], v[1]))
            .collect()
    }
}

/// The collar class's `params`: the pasture and how often cows fall ill or get stuck (the
/// ground truth). Defaults are the bundled herd's; incidence is raised well above a real
/// herd's so that a day has enough episodes to score.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollarParams {
    /// The station is a rectangle this wide (east) and high (north), in metres.
    pub pasture_width_m: f32,
    pub pasture_height_m: f32,
    /// Positions are reported as latitude/longitude around this origin.
    pub origin_lat: f64,
    pub origin_lon: f64,
    pub fever_per_cow_day: f64,
    pub fever_duration_h_min: f64,
    pub fever_duration_h_max: f64,
    /// How far a fever raises body temperature, °C.
    pub fever_rise_c: f32,
    pub stuck_per_cow_day: f64,
    /// Stuck means in one place for longer than half a day: more than 12 h.
    pub stuck_duration_h_min: f64,
    pub stuck_duration_h_max: f64,
}

impl Default for CollarParams {
    fn default() -> Self {
        CollarParams {
            pasture_width_m: 20_000.0,
            pasture_height_m: 15_000.0,
            origin_lat: -31.95,
            origin_lon: 146.90,
            fever_per_cow_day: 0.004,
            fever_duration_h_min: 24.0,
            fever_duration_h_max: 96.0,
            fever_rise_c: 1.6,
            stuck_per_cow_day: 0.004,
            stuck_duration_h_min: 13.0,
            stuck_duration_h_max: 30.0,
        }
    }
}

const YEAR_H: f64 = 24.0 * 366.0;

impl CollarParams {
    /// Checks the parameters and turns them into the hardware's configuration.
    fn to_config(
        &self,
        b: &ClassBuild<'_>,
    ) -> Result<(CollarConfig, Polygon, LocalFrame), FieldError> {
        let positive = |key: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(b.error(key, format!("{v}: expected a number greater than 0")))
            }
        };
        positive("pasture_width_m", f64::from(self.pasture_width_m))?;
        positive("pasture_height_m", f64::from(self.pasture_height_m))?;
        if !(-80.0..=80.0).contains(&self.origin_lat) {
            return Err(b.error(
                "origin_lat",
                format!("{}: expected a latitude from -80 to 80", self.origin_lat),
            ));
        }
        if !(-180.0..=180.0).contains(&self.origin_lon) {
            return Err(b.error(
                "origin_lon",
                format!("{}: expected a longitude from -180 to 180", self.origin_lon),
            ));
        }
        for (key, v) in [
            ("fever_per_cow_day", self.fever_per_cow_day),
            ("stuck_per_cow_day", self.stuck_per_cow_day),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(b.error(
                    key,
                    format!("{v}: expected episodes per cow-day from 0 to 1"),
                ));
            }
        }
        positive("fever_duration_h_min", self.fever_duration_h_min)?;
        if !(self.fever_duration_h_min..=YEAR_H).contains(&self.fever_duration_h_max) {
            return Err(b.error(
                "fever_duration_h_max",
                format!(
                    "{}: expected fever_duration_h_min ({}) to 8784 h",
                    self.fever_duration_h_max, self.fever_duration_h_min
                ),
            ));
        }
        if self.stuck_duration_h_min.is_nan() || self.stuck_duration_h_min <= 12.0 {
            return Err(b.error(
                "stuck_duration_h_min",
                format!("{}: expected more than 12 h (stuck means in one place for longer than half a day)", self.stuck_duration_h_min),
            ));
        }
        if !(self.stuck_duration_h_min..=YEAR_H).contains(&self.stuck_duration_h_max) {
            return Err(b.error(
                "stuck_duration_h_max",
                format!(
                    "{}: expected stuck_duration_h_min ({}) to 8784 h",
                    self.stuck_duration_h_max, self.stuck_duration_h_min
                ),
            ));
        }
        if !(self.fever_rise_c.is_finite() && (0.0..=5.0).contains(&self.fever_rise_c)) {
            return Err(b.error(
                "fever_rise_c",
                format!("{}: expected 0 to 5 °C", self.fever_rise_c),
            ));
        }
        let mut cfg = CollarConfig::default();
        cfg.cow.epoch = b.epoch;
        cfg.cow.fever_per_cow_day = self.fever_per_cow_day;
        cfg.cow.fever_duration_s = Dist::uniform(
            self.fever_duration_h_min * 3_600.0,
            self.fever_duration_h_max * 3_600.0,
        )
        .map_err(|e| b.error("fever_duration_h_min", e.to_string()))?;
        cfg.cow.fever_rise_c = self.fever_rise_c;
        cfg.cow.stuck_per_cow_day = self.stuck_per_cow_day;
        cfg.cow.stuck_duration_s = Dist::uniform(
            self.stuck_duration_h_min * 3_600.0,
            self.stuck_duration_h_max * 3_600.0,
        )
        .map_err(|e| b.error("stuck_duration_h_min", e.to_string()))?;
        cfg.validate()
            .map_err(|e| FieldError::new(format!("classes.{}.params", b.name), e.to_string()))?;
        let (w, h) = (
            f64::from(self.pasture_width_m),
            f64::from(self.pasture_height_m),
        );
        let pasture = Polygon::rectangle("pasture", w, h)
            .map_err(|e| b.error("pasture_width_m", e.to_string()))?;
        let frame = LocalFrame {
            origin_lat_deg: self.origin_lat,
            origin_lon_deg: self.origin_lon,
        };
        Ok((cfg, pasture, frame))
    }
}

/// The registry entry: `kind = "collar/1"`.
pub fn kind() -> ClassKind {
    ClassKind::new(
        "collar/1",
        "a cow wearing a collar: GNSS fix, body temperature, battery, cellular modem; fever and stuck episodes as ground truth",
        |b| {
            let p: CollarParams = b.params()?;
            let (cfg, pasture, frame) = p.to_config(b)?;
            let class = CollarClass::new(b.seed, b.count, cfg, pasture, frame, b.radio.clone())
                .map_err(|e| FieldError::new(format!("classes.{}", b.name), e.to_string()))?;
            Ok(Box::new(class))
        },
    )
    .samples(&["lat", "lon", "temp"])
    .model(
        "scenarios/dtdl/collar.json",
        include_str!("../../dtdl/collar.json"),
    )
    .default_params(&CollarParams::default())
}
