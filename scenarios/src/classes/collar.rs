//! The herd's device class: a cow wearing a collar with GNSS, a body-temperature probe, a
//! battery and a cellular modem (`hardware::collar`).
//!
//! Telemetry `{"lat":…,"lon":…,"temp":…,"ts":…}` (see [`collar_schemas`]). A failed fix
//! reports the last known position, as the livestock wearable of reference §7.3 does; before
//! the first fix the position is absent (NaN). The battery pays for the sampling cycle and for
//! every packet the modem sends, at the class's radio profile (airtime at the TX current plus
//! a session per message). The cows' fever and stuck episodes are the ground truth.

use crate::class::{BatteryState, DeviceClass, Episode};
use firmware::DeviceLogic;
use hardware::battery::PowerOutcome;
use hardware::collar::{Collar, CollarConfig, CollarSpec};
use hardware::gnss::GnssOutcome;
use hardware::radio::RadioProfile;
use hardware::world::cow::{episodes, EpisodeKind};
use hardware::world::geometry::{LocalFrame, Point, Polygon};
use iot_messages::telemetry::{SchemaSet, TelemetrySchema, FIELDS_MAX};
use sim::{Epoch, Seed, SimTime};

/// The telemetry schema of a collar: `{"seq":N,"lat":…,"lon":…,"temp":…,"ts":…}`.
pub fn collar_schemas() -> SchemaSet {
    SchemaSet::new(vec![TelemetrySchema::new(
        "collar",
        &["lat", "lon", "temp", "ts"],
        &[],
    )
    .expect("four fields fit a schema")])
}

const FIELD_LAT: usize = 0;
const FIELD_LON: usize = 1;
const FIELD_TEMP: usize = 2;
const FIELD_TS: usize = 3;

/// Every collar of a herd: `collars[i]` is cow `i` and its collar (120 bytes each).
pub struct CollarClass {
    seed: Seed,
    cfg: CollarConfig,
    spec: CollarSpec,
    collars: Vec<Collar>,
    frame: LocalFrame,
    pasture: Polygon,
    epoch_unix_s: f64,
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
        epoch: Epoch,
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
            epoch_unix_s: epoch.unix_secs() as f64,
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
            self.frame.to_geo(Point {
                east_m: east,
                north_m: north,
            })
        };
        out[FIELD_LAT] = lat;
        out[FIELD_LON] = lon;
        out[FIELD_TEMP] = s.body_temp.value().unwrap_or(f64::NAN);
        out[FIELD_TS] = self.epoch_unix_s + now.as_secs_f64();
        4
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
        Some((f64::from(p.east_m), f64::from(p.north_m)))
    }

    fn map_outline(&self) -> Vec<(f64, f64)> {
        self.pasture
            .vertices()
            .iter()
            .map(|p| (f64::from(p.east_m), f64::from(p.north_m)))
            .collect()
    }
}
