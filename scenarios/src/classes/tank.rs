//! The mixing-tank solution's device class (seed: a plant that watches "the temperature of a mix
//! batch tank" and alerts when it leaves its range): a heated, closed mixing tank
//! (`hardware::world::tank`: the plant's own heater controller, cold additions, the headspace
//! pressure behind a breather vent) watched by an IoT logger with a type-K thermocouple and a
//! gauge pressure transducer (`hardware::parts`).
//!
//! - **Telemetry** `temp_c` and `pressure_kpa` (gauge) every `telemetry.interval_s`.
//! - **Ground truth** for the rules: a `temp_excursion` episode while the batch's true
//!   temperature is outside `[temp_low_c, temp_high_c]`, a `pressure_excursion` while the true
//!   headspace pressure is above `pressure_high_kpa`, both checked every `truth_check_s` (the
//!   resolution of the episodes' edges, which are interpolated between checks). Excursions
//!   of a tank less than `min_excursion_min` apart are one episode (a cold addition briefly
//!   pulling an overheating batch back into range), and one shorter than that (a cold
//!   addition's dip the heater recovers) is process noise, not an episode.
//! - **Hardware faults**: `heater_stuck_on` (the heater's contactor welds: the batch heats to
//!   boiling), `heater_failed` (the element burns out: the batch cools to the hall),
//!   `vent_blocked` (the breather vent clogs: the headspace pressure follows the
//!   temperature), `probe_stuck` (the thermocouple repeats its last reading), `probe_drift`
//!   (the thermocouple's reading drifts up by `drift_c_per_h` while the fault lasts).
//! - **Crash**: the logger's MCU restarts; the tank and the plant's controller run on.
//!
//! **Assumed** (the reference has no plant figures): the tank of `hardware::world::tank` with a
//! cold addition every two hours on average, limits of 52 to 65 °C (a large addition dips a
//! healthy batch to about 54.5 °C) and 8 kPa, thermocouples calibrated at installation to an
//! eighth of the part's ±2 °C. **Left out**: level, agitation, a plant-side operator who intervenes.

use crate::class::{Chart, ClassReport, DeviceClass, Episode};
use crate::load::FieldError;
use crate::registry::{ClassBuild, ClassKind};
use firmware::DeviceLogic;
use hardware::parts::{pressure_transducer_gauge, thermocouple_type_k};
use hardware::sensor::SensorSpec;
use hardware::world::tank::{Tank, TankSpec};
use iot_messages::telemetry::FIELDS_MAX;
use serde::{Deserialize, Serialize};
use sim::rng::CompactRng;
use sim::{SimDuration, SimTime, StreamKey};

/// The kind's parameters (`classes[].params`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TankParams {
    pub setpoint_c: f64,
    pub hysteresis_c: f64,
    /// Cold additions per hour (a Poisson process per tank).
    pub additions_per_hour: f64,
    /// The range the batch must stay in, and the headspace's pressure limit (ground truth).
    pub temp_low_c: f64,
    pub temp_high_c: f64,
    pub pressure_high_kpa: f64,
    /// How often the ground truth is checked, seconds.
    pub truth_check_s: u32,
    /// Excursions shorter than this are process noise (a cold addition's dip), not episodes.
    pub min_excursion_min: f64,
    /// `probe_drift`: how fast the reading drifts up while the fault lasts.
    pub drift_c_per_h: f64,
    /// The thermocouples are calibrated against a reference at installation: each unit's bias
    /// is cut to this share of the part's (1: uncalibrated, ±2 °C).
    pub probe_bias_share: f64,
    /// Tanks whose temperature and pressure the report charts.
    pub chart_tanks: u32,
}

impl Default for TankParams {
    fn default() -> Self {
        TankParams {
            setpoint_c: 60.0,
            hysteresis_c: 1.0,
            additions_per_hour: 0.5,
            temp_low_c: 52.0,
            temp_high_c: 65.0,
            pressure_high_kpa: 8.0,
            truth_check_s: 30,
            min_excursion_min: 20.0,
            drift_c_per_h: 4.0,
            probe_bias_share: 0.125,
            chart_tanks: 3,
        }
    }
}

const TEMP: usize = 0;
const PRESSURE: usize = 1;
const KINDS: [&str; 2] = ["temp_excursion", "pressure_excursion"];

/// Every tank of a class with its logger: `tanks[i]`, `next_check[i]` … are tank `i`.
pub struct TankClass {
    p: TankParams,
    thermocouple: SensorSpec,
    transducer: SensorSpec,
    tanks: Vec<Tank>,
    /// Per tank: its additions' stream, and its logger's sensors' noise stream and biases.
    process: Vec<CompactRng>,
    noise: Vec<CompactRng>,
    bias: Vec<[f32; 2]>,
    next_check: Vec<SimTime>,
    /// Per tank: the last truth check and its (temperature, pressure).
    last: Vec<(SimTime, [f64; 2])>,
    /// `probe_stuck`: the repeated reading (NaN: healthy); `probe_drift`: since when.
    stuck_at: Vec<f32>,
    drift_since: Vec<Option<SimTime>>,
    /// Per tank and kind, the start of the open episode.
    open: Vec<[Option<SimTime>; 2]>,
    episodes: Vec<Episode>,
    /// (hours, temperature, pressure) of the charted tanks, at each check.
    chart: Vec<Vec<(f64, f64, f64)>>,
}

impl TankClass {
    fn new(b: &ClassBuild<'_>, p: TankParams) -> Result<TankClass, FieldError> {
        check(b, &p)?;
        let n = b.count as usize;
        let spec = TankSpec {
            setpoint_c: p.setpoint_c,
            hysteresis_c: p.hysteresis_c,
            additions_per_hour: p.additions_per_hour,
            ..TankSpec::default()
        };
        let (thermocouple, transducer) = (thermocouple_type_k(), pressure_transducer_gauge());
        let mut c = TankClass {
            tanks: Vec::with_capacity(n),
            process: Vec::with_capacity(n),
            noise: Vec::with_capacity(n),
            bias: Vec::with_capacity(n),
            next_check: Vec::with_capacity(n),
            last: Vec::with_capacity(n),
            stuck_at: vec![f32::NAN; n],
            drift_since: vec![None; n],
            open: vec![[None; 2]; n],
            episodes: Vec::new(),
            chart: vec![Vec::new(); (p.chart_tanks as usize).min(n)],
            thermocouple,
            transducer,
            p,
        };
        let step = u64::from(c.p.truth_check_s) * 1_000_000_000;
        for i in 0..b.count {
            let key = |purpose| StreamKey::new(b.name, u64::from(i), purpose);
            let mut process = b.seed.compact(key("process"));
            let tank = Tank::new(spec, c.p.setpoint_c, SimTime::ZERO, &mut process)
                .map_err(|e| b.error("setpoint_c", e.to_string()))?;
            let mut unit = b.seed.compact(key("sensors"));
            let bias = [
                (c.thermocouple.draw_bias(&mut unit) * c.p.probe_bias_share) as f32,
                c.transducer.draw_bias(&mut unit) as f32,
            ];
            // Checks spread over one period, so a plant's tanks are not checked in lockstep.
            let phase = sim::rng::below(&mut unit, step);
            c.last
                .push((SimTime::ZERO, [tank.temperature_c(), tank.pressure_kpa()]));
            c.tanks.push(tank);
            c.process.push(process);
            c.noise.push(unit);
            c.bias.push(bias);
            c.next_check.push(SimTime::from_nanos(phase));
        }
        Ok(c)
    }

    /// Runs tank `d`'s process to `now`, then records the truth there.
    fn advance(&mut self, d: usize, now: SimTime) {
        self.tanks[d].handle_timeout(now, &mut self.process[d]);
        let v = [self.tanks[d].temperature_c(), self.tanks[d].pressure_kpa()];
        let (then, before) = self.last[d];
        self.last[d] = (now, v);
        for k in [TEMP, PRESSURE] {
            let (out, limit) = self.beyond(k, v[k], before[k]);
            // The crossing, interpolated between this check and the last one.
            let at = |limit: f64| {
                let f = ((limit - before[k]) / (v[k] - before[k])).clamp(0.0, 1.0);
                let f = if f.is_finite() { f } else { 1.0 };
                then + SimDuration::from_secs_f64(now.since(then).as_secs_f64() * f)
            };
            match (self.open[d][k], out) {
                (None, true) => self.open[d][k] = Some(at(limit)),
                (Some(start), false) => {
                    self.open[d][k] = None;
                    self.episodes.push(Episode {
                        kind: KINDS[k].to_string(),
                        device: d as u32,
                        start,
                        end: at(limit),
                    });
                }
                // Still in range, or still out of it.
                (None, false) | (Some(_), true) => {}
            }
        }
        if let Some(points) = self.chart.get_mut(d) {
            points.push((now.as_secs_f64() / 3_600.0, v[TEMP], v[PRESSURE]));
        }
    }

    /// Whether value `v` of kind `k` is beyond its limits, and the limit it crossed (or, back
    /// in range, the one the previous value `before` was beyond).
    fn beyond(&self, k: usize, v: f64, before: f64) -> (bool, f64) {
        let p = &self.p;
        if k == PRESSURE {
            return (v > p.pressure_high_kpa, p.pressure_high_kpa);
        }
        if v > p.temp_high_c {
            (true, p.temp_high_c)
        } else if v < p.temp_low_c {
            (true, p.temp_low_c)
        } else if before < p.temp_low_c {
            (false, p.temp_low_c)
        } else {
            (false, p.temp_high_c)
        }
    }

    fn min_excursion(&self) -> SimDuration {
        SimDuration::from_secs_f64(self.p.min_excursion_min * 60.0)
    }

    fn read(&mut self, d: usize, now: SimTime) -> (f64, f64) {
        let tank = &self.tanks[d];
        let drift = self.drift_since[d].map_or(0.0, |since| {
            now.since(since).as_secs_f64() / 3_600.0 * self.p.drift_c_per_h
        });
        let (t, pr) = (tank.temperature_c() + drift, tank.pressure_kpa());
        let [bt, bp] = self.bias[d];
        let rng = &mut self.noise[d];
        let temp = self
            .thermocouple
            .measure_with_bias(f64::from(bt), now, t, rng)
            .value()
            .unwrap_or(f64::NAN);
        let pressure = self
            .transducer
            .measure_with_bias(f64::from(bp), now, pr, rng)
            .value()
            .unwrap_or(f64::NAN);
        let temp = if self.stuck_at[d].is_nan() {
            temp
        } else {
            f64::from(self.stuck_at[d])
        };
        (temp, pressure)
    }
}

fn check(b: &ClassBuild<'_>, p: &TankParams) -> Result<(), FieldError> {
    let finite = |k: &str, v: f64| {
        if v.is_finite() {
            Ok(())
        } else {
            Err(b.error(k, format!("{v}: expected a finite number")))
        }
    };
    for (k, v) in [
        ("setpoint_c", p.setpoint_c),
        ("temp_low_c", p.temp_low_c),
        ("temp_high_c", p.temp_high_c),
        ("pressure_high_kpa", p.pressure_high_kpa),
        ("drift_c_per_h", p.drift_c_per_h),
        ("min_excursion_min", p.min_excursion_min),
    ] {
        finite(k, v)?;
    }
    if !(1.0..=99.0).contains(&p.setpoint_c) {
        return Err(b.error(
            "setpoint_c",
            format!(
                "{}: expected 1 to 99 °C (the model's water boils at 100)",
                p.setpoint_c
            ),
        ));
    }
    if p.temp_low_c >= p.temp_high_c {
        return Err(b.error(
            "temp_high_c",
            format!(
                "{}: expected above temp_low_c ({})",
                p.temp_high_c, p.temp_low_c
            ),
        ));
    }
    if !(0.0..=20.0).contains(&p.hysteresis_c) {
        return Err(b.error(
            "hysteresis_c",
            format!("{}: expected 0 to 20 °C", p.hysteresis_c),
        ));
    }
    if !(0.0..=60.0).contains(&p.additions_per_hour) {
        return Err(b.error(
            "additions_per_hour",
            format!("{}: expected 0 to 60", p.additions_per_hour),
        ));
    }
    if !(0.0..=1.0).contains(&p.probe_bias_share) {
        return Err(b.error(
            "probe_bias_share",
            format!("{}: expected 0 to 1", p.probe_bias_share),
        ));
    }
    if !(0.0..=1_440.0).contains(&p.min_excursion_min) {
        return Err(b.error(
            "min_excursion_min",
            format!("{}: expected 0 to 1440 minutes", p.min_excursion_min),
        ));
    }
    if !(1..=3_600).contains(&p.truth_check_s) {
        return Err(b.error(
            "truth_check_s",
            format!("{}: expected 1 to 3600 s", p.truth_check_s),
        ));
    }
    Ok(())
}

impl DeviceLogic for TankClass {
    fn sample(&mut self, device: u32, now: SimTime, out: &mut [f64; FIELDS_MAX]) -> usize {
        let d = device as usize;
        self.advance(d, now);
        let (t, p) = self.read(d, now);
        out[0] = t;
        out[1] = p;
        2
    }
}

impl DeviceClass for TankClass {
    fn len(&self) -> u32 {
        self.tanks.len() as u32
    }

    fn has_timers(&self) -> bool {
        true
    }

    fn poll_timeout(&self, device: u32) -> Option<SimTime> {
        let d = device as usize;
        let check = self.next_check[d];
        Some(self.tanks[d].poll_timeout().map_or(check, |a| a.min(check)))
    }

    fn handle_timeout(&mut self, device: u32, now: SimTime) {
        let d = device as usize;
        if now >= self.next_check[d] {
            self.advance(d, now);
            self.next_check[d] = now + SimDuration::from_secs(u64::from(self.p.truth_check_s));
        } else {
            // A cold addition: the process alone, the truth at the next check.
            self.tanks[d].handle_timeout(now, &mut self.process[d]);
        }
    }

    fn on_fault(&mut self, device: u32, now: SimTime, fault: &str, active: bool) {
        let d = device as usize;
        self.advance(d, now);
        match fault {
            "heater_stuck_on" => self.tanks[d].set_heater_stuck_on(now, active),
            "heater_failed" => self.tanks[d].set_heater_failed(now, active),
            "vent_blocked" => self.tanks[d].set_vent_blocked(now, active),
            "probe_stuck" if active => self.stuck_at[d] = self.read(d, now).0 as f32,
            "probe_stuck" => self.stuck_at[d] = f32::NAN,
            "probe_drift" => self.drift_since[d] = active.then_some(now),
            other => unreachable!("tank/1 declares no fault {other:?}"),
        }
    }

    fn truth(&self, end: SimTime) -> Vec<Episode> {
        let mut raw = self.episodes.clone();
        for (d, open) in self.open.iter().enumerate() {
            for k in [TEMP, PRESSURE] {
                if let Some(start) = open[k] {
                    raw.push(Episode {
                        kind: KINDS[k].to_string(),
                        device: d as u32,
                        start,
                        end,
                    });
                }
            }
        }
        // One incident: excursions of a tank less than `min_excursion_min` apart (a cold
        // addition briefly pulling an overheating batch back into range) are merged; what is
        // still shorter than that is process noise.
        raw.sort_by(|a, b| (a.device, &a.kind, a.start).cmp(&(b.device, &b.kind, b.start)));
        let gap = self.min_excursion();
        let mut merged: Vec<Episode> = Vec::with_capacity(raw.len());
        for e in raw {
            match merged.last_mut() {
                Some(m)
                    if m.device == e.device && m.kind == e.kind && e.start.since(m.end) < gap =>
                {
                    m.end = m.end.max(e.end);
                }
                _ => merged.push(e),
            }
        }
        merged.retain(|e| e.end.since(e.start) >= gap);
        merged
    }

    fn report(&self, end: SimTime) -> ClassReport {
        let truth = self.truth(end);
        let count = |k: usize| truth.iter().filter(|e| e.kind == KINDS[k]).count() as f64;
        let hours = |k: usize| {
            truth
                .iter()
                .filter(|e| e.kind == KINDS[k])
                .map(|e| e.end.saturating_since(e.start).as_secs_f64() / 3_600.0)
                .sum::<f64>()
        };
        let tank_hours = (self.tanks.len() as f64 * end.as_secs_f64() / 3_600.0).max(1e-9);
        let mut r = ClassReport::from_figures(vec![
            ("temp_excursions".into(), count(TEMP)),
            ("pressure_excursions".into(), count(PRESSURE)),
            ("out_of_range_ratio".into(), hours(TEMP) / tank_hours),
        ]);
        let series =
            |what: &str, f: fn(&(f64, f64, f64)) -> f64| -> Vec<(String, Vec<(f64, f64)>)> {
                self.chart
                    .iter()
                    .enumerate()
                    .map(|(i, pts)| {
                        (
                            format!("tank {i} {what}"),
                            pts.iter().map(|p| (p.0, f(p))).collect(),
                        )
                    })
                    .collect()
            };
        let flat = |name: &str, v: f64| {
            (
                name.to_string(),
                vec![(0.0, v), (end.as_secs_f64() / 3_600.0, v)],
            )
        };
        let mut temps = series("temperature", |p| p.1);
        temps.push(flat("low limit", self.p.temp_low_c));
        temps.push(flat("high limit", self.p.temp_high_c));
        let mut pressures = series("pressure", |p| p.2);
        pressures.push(flat("limit", self.p.pressure_high_kpa));
        r.charts.push(Chart::lines(
            "Batch temperature against its limits (sample tanks, true values)",
            "hour",
            "°C",
            temps,
        ));
        r.charts.push(Chart::lines(
            "Headspace pressure against its limit (sample tanks, true values)",
            "hour",
            "kPa gauge",
            pressures,
        ));
        r
    }
}

/// The registry entry: `kind = "tank/1"`.
pub fn kind() -> ClassKind {
    ClassKind::new(
        "tank/1",
        "a heated mixing tank and its logger: type-K thermocouple, headspace pressure transducer; temperature and pressure excursions as ground truth",
        |b| {
            let p: TankParams = b.params()?;
            Ok(Box::new(TankClass::new(b, p)?))
        },
    )
    .samples(&["temp_c", "pressure_kpa"])
    .model("scenarios/dtdl/tank.json", include_str!("../../dtdl/tank.json"))
    .faults(&[
        ("heater_stuck_on", "the heater's contactor welds: the batch heats towards boiling"),
        ("heater_failed", "the heater's element burns out: the batch cools towards the hall"),
        ("vent_blocked", "the breather vent clogs: the headspace pressure follows the temperature"),
        ("probe_stuck", "the thermocouple repeats its last reading"),
        ("probe_drift", "the thermocouple's reading drifts up by drift_c_per_h"),
    ])
    .default_params(&TankParams::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hardware::radio::RadioProfile;
    use sim::{Epoch, Seed};

    fn class(count: u32) -> TankClass {
        class_with(count, TankParams::default())
    }

    fn class_with(count: u32, p: TankParams) -> TankClass {
        let table = toml::Table::new();
        let radio = RadioProfile::wifi();
        let fields = vec!["temp_c".to_string(), "pressure_kpa".to_string()];
        let b = ClassBuild {
            seed: Seed(5),
            epoch: Epoch::default(),
            name: "tank",
            count,
            telemetry: &fields,
            radio: &radio,
            params: &table,
        };
        TankClass::new(&b, p).unwrap()
    }

    fn run_to(c: &mut TankClass, d: u32, end: SimTime) {
        while let Some(t) = c.poll_timeout(d).filter(|t| *t <= end) {
            c.handle_timeout(d, t);
        }
    }

    #[test]
    fn a_healthy_tank_reads_near_its_setpoint_and_the_vents_pressure() {
        let mut c = class(2);
        let mut out = [0.0; FIELDS_MAX];
        let end = SimTime::from_secs(6 * 3_600);
        run_to(&mut c, 0, end);
        assert_eq!(c.sample(0, end, &mut out), 2);
        assert!((52.0..=64.0).contains(&out[0]), "{}", out[0]);
        assert!((-3.0..=6.0).contains(&out[1]), "{}", out[1]);
        assert!(c.truth(end).iter().all(|e| e.kind != "pressure_excursion"));
    }

    #[test]
    fn a_welded_heater_behind_a_blocked_vent_is_a_temperature_and_a_pressure_excursion() {
        // Without cold additions (which take out about as much heat as the heater puts in).
        let mut c = class_with(
            1,
            TankParams {
                additions_per_hour: 0.0,
                ..TankParams::default()
            },
        );
        let t0 = SimTime::from_secs(3_600);
        run_to(&mut c, 0, t0);
        c.on_fault(0, t0, "vent_blocked", true);
        c.on_fault(0, t0, "heater_stuck_on", true);
        let t1 = t0 + SimDuration::from_hours(6);
        run_to(&mut c, 0, t1);
        c.on_fault(0, t1, "heater_stuck_on", false);
        c.on_fault(0, t1, "vent_blocked", false);
        let end = t1 + SimDuration::from_hours(30);
        run_to(&mut c, 0, end);
        let truth = c.truth(end);
        let first = |kind: &str| truth.iter().find(|e| e.kind == kind).cloned();
        let hot = first("temp_excursion").expect("overheated");
        let high = first("pressure_excursion").expect("over pressure");
        // 6 kW into a tonne of water, less 0.8 kW lost to the hall: about 0.075 °C a minute,
        // so 65 °C in a little over an hour.
        assert!(
            hot.start > t0 && hot.start < t0 + SimDuration::from_hours(2),
            "{hot:?}"
        );
        assert!(
            high.start > t0 && high.start < hot.start + SimDuration::from_hours(2),
            "{high:?}"
        );
        // The vent clears at once; the batch takes hours to cool back into range.
        assert!(high.end <= t1 + SimDuration::from_secs(60), "{high:?}");
        assert!(hot.end > t1 + SimDuration::from_hours(2), "{hot:?}");
    }

    #[test]
    fn a_stuck_probe_repeats_and_a_drifting_one_climbs() {
        let mut c = class(1);
        let mut out = [0.0; FIELDS_MAX];
        let t0 = SimTime::from_secs(3_600);
        c.on_fault(0, t0, "probe_stuck", true);
        c.sample(0, t0 + SimDuration::from_mins(5), &mut out);
        let a = out[0];
        c.sample(0, t0 + SimDuration::from_mins(50), &mut out);
        assert_eq!(out[0], a);
        c.on_fault(0, t0 + SimDuration::from_hours(1), "probe_stuck", false);
        c.on_fault(0, t0 + SimDuration::from_hours(1), "probe_drift", true);
        c.sample(0, t0 + SimDuration::from_hours(3), &mut out);
        assert!(out[0] > 60.0 + 2.0 * 4.0 - 3.0, "{}", out[0]);
    }
}
