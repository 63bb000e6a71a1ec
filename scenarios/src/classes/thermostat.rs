//! The thermostat solution's device class (seed: "a thermostat … reports temperature and
//! lets you change the setpoint from a web portal"): a home whose room follows the first-order
//! thermal model of `hardware::world::room`, heated by a heat pump behind an HVAC relay with
//! compressor short-cycle protection (`hardware::actuator::Relay`), and a thermostat that
//! measures the air with the MXChip DevKit's HTS221 (±0.5 °C from 15 to 40 °C,
//! `hardware::parts::hts221_temperature`) and runs a
//! hysteresis loop every `control_s`.
//!
//! - **Telemetry** `temp_c`, `target_c` (the setpoint in force), `hvac_on` (1 or 0) every `telemetry.interval_s`,
//!   and at once as an event whenever a new setpoint is applied.
//! - **Desired property** `setpoint_c` (5 to 30 °C; reference §1.9): applied on the patch
//!   (or on the full desired document read at each connection) and reported back with the
//!   same value, so the twin converges. A `set_at_s` the portal adds (its simulated clock) is
//!   echoed too and measures the apply latency. A setpoint out of range is not applied and not
//!   reported.
//! - **Direct method** `getTemperature` (§1.7) answers at once with
//!   `{"temp_c", "setpoint_c", "hvac"}`; any other method answers 404.
//! - **Hardware faults** (`[[faults.hardware]]`): `probe_stuck` (the air probe repeats the
//!   value it read when the fault began: the loop and the back end both see a flat line) and
//!   `relay_stuck_on` (the relay's contacts weld: the heat pump runs whatever the loop asks).
//! - **Crash**: the relay drops out (its coil is driven by the MCU) and control stops until
//!   the firmware runs again (its next sample or connection); the setpoint is kept in flash.
//!
//! Scored here (figures in `summary.json`): time in the comfort band (setpoint ±
//! `comfort_band_c`), HVAC cycles per hour, energy, and the setpoint apply latency. Homes differ
//! by ±`spread` in heat loss and heat capacity.
//!
//! **Assumed** (the reference has no thermostat figures): the room and heat pump figures of
//! `hardware::world::room` and `hardware::actuator`, a 0.5 °C hysteresis and a 1 °C comfort band.
//! **Left out**: cooling, multiple zones, occupancy schedules, and a setpoint schedule on the
//! device itself.

use crate::class::{quantile, Actions, Chart, ClassReport, DeviceAction, DeviceClass};
use crate::load::FieldError;
use crate::registry::{ClassBuild, ClassKind};
use firmware::{DeviceLogic, MethodCall, MethodReply};
use hardware::actuator::{Relay, RelaySpec};
use hardware::parts::hts221_temperature;
use hardware::sensor::SensorSpec;
use hardware::world::room::{HvacMode, Room, RoomSpec};
use iot_messages::telemetry::FIELDS_MAX;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sim::rng::{unit_f64, CompactRng};
use sim::{SimDuration, SimTime, StreamKey};

/// The kind's parameters (`classes[].params`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThermostatParams {
    pub outdoor_mean_c: f64,
    pub outdoor_amplitude_c: f64,
    pub outdoor_peak_hour: f64,
    /// A home's heat loss to outdoors, W/K (before `spread`).
    pub ua_w_per_k: f64,
    /// A home's effective heat capacity, MJ/K (before `spread`).
    pub capacitance_mj_per_k: f64,
    /// Homes differ by a uniform factor in `[1 − spread, 1 + spread]` in UA and capacity.
    pub spread: f64,
    pub internal_gain_w: f64,
    /// The heat pump's electrical power (3× as heat, `hardware::world::room::HEATING_COP`).
    pub hvac_power_w: f64,
    pub min_on_min: f64,
    pub min_off_min: f64,
    /// The setpoint before the portal sets one.
    pub setpoint_c: f64,
    /// Heat below setpoint − this, stop above setpoint + this.
    pub hysteresis_c: f64,
    pub comfort_band_c: f64,
    /// How often the control loop runs.
    pub control_s: u32,
    /// Homes whose temperature is charted.
    pub chart_homes: u32,
}

impl Default for ThermostatParams {
    fn default() -> Self {
        let room = RoomSpec::default();
        let relay = RelaySpec::heat_pump();
        ThermostatParams {
            outdoor_mean_c: room.outdoor_mean_c,
            outdoor_amplitude_c: room.outdoor_amplitude_c,
            outdoor_peak_hour: room.outdoor_peak_hour,
            ua_w_per_k: 1.0 / room.resistance_k_per_w,
            capacitance_mj_per_k: room.capacitance_j_per_k / 1e6,
            spread: 0.2,
            internal_gain_w: room.internal_gain_w,
            hvac_power_w: relay.power_w,
            min_on_min: relay.min_on.as_secs_f64() / 60.0,
            min_off_min: relay.min_off.as_secs_f64() / 60.0,
            setpoint_c: 20.5,
            hysteresis_c: 0.5,
            comfort_band_c: 1.0,
            control_s: 60,
            chart_homes: 3,
        }
    }
}

const SETPOINT_RANGE: std::ops::RangeInclusive<f64> = 5.0..=30.0;

/// Every thermostat of a class, with its home: `rooms[i]`, `relays[i]` … are home `i`.
pub struct ThermostatClass {
    p: ThermostatParams,
    sensor: SensorSpec,
    rooms: Vec<Room>,
    relays: Vec<Relay>,
    setpoint: Vec<f32>,
    /// Sensor bias per thermostat, and its noise stream.
    bias: Vec<f32>,
    rng: Vec<CompactRng>,
    /// When the room was last advanced and the next control tick.
    at: Vec<SimTime>,
    next_tick: Vec<SimTime>,
    /// Crashed and not yet running again.
    down: Vec<bool>,
    /// `probe_stuck`: the value the probe repeats (NaN: healthy).
    stuck_at: Vec<f32>,
    /// `relay_stuck_on`: the contacts are welded, and the energy drawn while the relay was
    /// commanded off.
    welded: Vec<bool>,
    welded_j: f64,
    /// Seconds in the comfort band, and seconds counted.
    in_band_s: Vec<f32>,
    counted_s: Vec<f32>,
    /// The last `set_at_s` applied, so a re-read desired document is not counted twice.
    applied_set_at: Vec<f64>,
    apply_latency_s: Vec<f64>,
    refused: u64,
    /// (hours, temperature, setpoint) of the charted homes.
    chart: Vec<Vec<(f64, f64, f64)>>,
    /// Event readings to publish (a setpoint applied).
    actions: Actions,
}

impl ThermostatClass {
    fn new(b: &ClassBuild<'_>, p: ThermostatParams) -> Result<ThermostatClass, FieldError> {
        check(b, &p)?;
        let n = b.count as usize;
        let relay = RelaySpec {
            name: "heat pump",
            power_w: p.hvac_power_w,
            min_on: SimDuration::from_secs_f64(p.min_on_min * 60.0),
            min_off: SimDuration::from_secs_f64(p.min_off_min * 60.0),
        };
        let sensor = hts221_temperature();
        let mut c = ThermostatClass {
            sensor: sensor.clone(),
            rooms: Vec::with_capacity(n),
            relays: vec![Relay::new(relay, SimTime::ZERO); n],
            setpoint: vec![p.setpoint_c as f32; n],
            bias: Vec::with_capacity(n),
            rng: Vec::with_capacity(n),
            at: vec![SimTime::ZERO; n],
            next_tick: Vec::with_capacity(n),
            down: vec![false; n],
            stuck_at: vec![f32::NAN; n],
            welded: vec![false; n],
            welded_j: 0.0,
            in_band_s: vec![0.0; n],
            counted_s: vec![0.0; n],
            applied_set_at: vec![f64::NEG_INFINITY; n],
            apply_latency_s: Vec::new(),
            refused: 0,
            chart: vec![Vec::new(); (p.chart_homes as usize).min(n)],
            actions: Actions::default(),
            p,
        };
        for i in 0..b.count {
            let mut home = b.seed.compact(StreamKey::new(b.name, u64::from(i), "home"));
            let mut vary = || 1.0 + c.p.spread * (2.0 * unit_f64(&mut home) - 1.0);
            let spec = RoomSpec {
                epoch: b.epoch,
                resistance_k_per_w: 1.0 / (c.p.ua_w_per_k * vary()),
                capacitance_j_per_k: c.p.capacitance_mj_per_k * 1e6 * vary(),
                internal_gain_w: c.p.internal_gain_w,
                outdoor_mean_c: c.p.outdoor_mean_c,
                outdoor_amplitude_c: c.p.outdoor_amplitude_c,
                outdoor_peak_hour: c.p.outdoor_peak_hour,
            };
            let start = c.p.setpoint_c + c.p.comfort_band_c * (2.0 * unit_f64(&mut home) - 1.0);
            let room = Room::new(spec, start, SimTime::ZERO).map_err(|e| {
                FieldError::new(format!("classes.{}.params", b.name), e.to_string())
            })?;
            c.rooms.push(room);
            let mut unit = b
                .seed
                .compact(StreamKey::new(b.name, u64::from(i), "sensor"));
            c.bias.push(sensor.draw_bias(&mut unit) as f32);
            c.rng.push(unit);
            let phase = unit_f64(&mut home) * f64::from(c.p.control_s);
            c.next_tick
                .push(SimTime::ZERO + SimDuration::from_secs_f64(phase));
        }
        Ok(c)
    }

    /// Integrates home `d` up to `now` with the heat pump as it has been since the last
    /// advance, counting comfort on the way.
    fn advance(&mut self, d: usize, now: SimTime) {
        if now <= self.at[d] {
            return;
        }
        let dt = now.since(self.at[d]).as_secs_f64() as f32;
        let off = (self.rooms[d].temperature_c() - f64::from(self.setpoint[d])).abs();
        if off <= self.p.comfort_band_c {
            self.in_band_s[d] += dt;
        }
        self.counted_s[d] += dt;
        let on = self.relays[d].is_on() || self.welded[d];
        if self.welded[d] && !self.relays[d].is_on() {
            self.welded_j += self.p.hvac_power_w * f64::from(dt);
        }
        let heat = if on {
            HvacMode::Heating.thermal_w(self.p.hvac_power_w)
        } else {
            0.0
        };
        self.rooms[d].advance(now, heat);
        self.at[d] = now;
    }

    /// The hysteresis loop on the measured air temperature: asks the relay for heat below
    /// the band, none above it.
    fn control(&mut self, d: usize, now: SimTime) {
        if self.down[d] {
            return;
        }
        let t = self.measure(d, now);
        let sp = f64::from(self.setpoint[d]);
        if t < sp - self.p.hysteresis_c {
            self.relays[d].handle_command(now, true);
        } else if t > sp + self.p.hysteresis_c {
            self.relays[d].handle_command(now, false);
        }
    }

    fn measure(&mut self, d: usize, now: SimTime) -> f64 {
        self.advance(d, now);
        if !self.stuck_at[d].is_nan() {
            return f64::from(self.stuck_at[d]);
        }
        let truth = self.rooms[d].temperature_c();
        self.sensor
            .measure_with_bias(f64::from(self.bias[d]), now, truth, &mut self.rng[d])
            .value()
            .unwrap_or(f64::NAN)
    }

    fn fill(&mut self, d: usize, now: SimTime, out: &mut [f64]) -> usize {
        out[0] = self.measure(d, now);
        out[1] = f64::from(self.setpoint[d]);
        out[2] = if self.relays[d].is_on() { 1.0 } else { 0.0 };
        3
    }
}

fn check(b: &ClassBuild<'_>, p: &ThermostatParams) -> Result<(), FieldError> {
    let range = |key: &str, v: f64, lo: f64, hi: f64, unit: &str| {
        if v.is_finite() && (lo..=hi).contains(&v) {
            Ok(())
        } else {
            Err(b.error(key, format!("{v}: expected {lo} to {hi}{unit}")))
        }
    };
    range("ua_w_per_k", p.ua_w_per_k, 1.0, 10_000.0, " W/K")?;
    range(
        "capacitance_mj_per_k",
        p.capacitance_mj_per_k,
        0.01,
        1_000.0,
        " MJ/K",
    )?;
    range("spread", p.spread, 0.0, 0.9, "")?;
    range("hvac_power_w", p.hvac_power_w, 0.0, 100_000.0, " W")?;
    range("min_on_min", p.min_on_min, 0.0, 60.0, " min")?;
    range("min_off_min", p.min_off_min, 0.0, 60.0, " min")?;
    range("setpoint_c", p.setpoint_c, 5.0, 30.0, " °C")?;
    range("hysteresis_c", p.hysteresis_c, 0.0, 5.0, " °C")?;
    range("comfort_band_c", p.comfort_band_c, 0.0, 10.0, " °C")?;
    range("internal_gain_w", p.internal_gain_w, 0.0, 100_000.0, " W")?;
    range("control_s", f64::from(p.control_s), 1.0, 3_600.0, " s")?;
    let room = RoomSpec {
        outdoor_mean_c: p.outdoor_mean_c,
        outdoor_amplitude_c: p.outdoor_amplitude_c,
        outdoor_peak_hour: p.outdoor_peak_hour,
        ..RoomSpec::default()
    };
    room.validate().map_err(|e| b.error(e.field, e.to_string()))
}

impl DeviceLogic for ThermostatClass {
    fn sample(&mut self, device: u32, now: SimTime, out: &mut [f64; FIELDS_MAX]) -> usize {
        self.down[device as usize] = false;
        self.fill(device as usize, now, out)
    }

    fn on_desired(&mut self, device: u32, now: SimTime, desired: &Value) -> Option<Value> {
        let d = device as usize;
        let value = desired.get("setpoint_c")?;
        let Some(sp) = value.as_f64().filter(|v| SETPOINT_RANGE.contains(v)) else {
            self.refused += 1;
            return None;
        };
        self.advance(d, now);
        self.setpoint[d] = sp as f32;
        self.control(d, now);
        // The new setpoint goes out at once as an event reading.
        let mut event = [0.0; FIELDS_MAX];
        let n = self.fill(d, now, &mut event);
        self.actions.publish(device, &event[..n]);
        let mut reported = json!({ "setpoint_c": value });
        if let Some(set_at) = desired.get("set_at_s") {
            if let Some(t) = set_at.as_f64().filter(|t| *t > self.applied_set_at[d]) {
                self.applied_set_at[d] = t;
                self.apply_latency_s.push(now.as_secs_f64() - t);
            }
            reported["set_at_s"] = set_at.clone();
        }
        Some(reported)
    }

    fn on_method(&mut self, device: u32, now: SimTime, call: MethodCall<'_>) -> MethodReply {
        if call.name != "getTemperature" {
            return MethodReply::Now {
                status: 404,
                body: br#"{"error":"unknown method"}"#.to_vec(),
            };
        }
        let d = device as usize;
        let t = self.measure(d, now);
        let body = json!({
            "temp_c": t,
            "setpoint_c": self.setpoint[d],
            "hvac": if self.relays[d].is_on() { "heating" } else { "off" },
        });
        MethodReply::Now {
            status: 200,
            body: serde_json::to_vec(&body).expect("JSON serialises"),
        }
    }

    fn reported_on_connect(&mut self, device: u32, _now: SimTime) -> Option<Value> {
        self.down[device as usize] = false;
        None
    }
}

impl DeviceClass for ThermostatClass {
    fn len(&self) -> u32 {
        self.rooms.len() as u32
    }

    fn on_crash(&mut self, device: u32, now: SimTime) {
        let d = device as usize;
        self.advance(d, now);
        self.down[d] = true;
        // The relay's coil drops out with the MCU; a held switch-on is dropped with it.
        self.relays[d].handle_command(now, false);
    }

    fn poll_action(&mut self) -> Option<DeviceAction> {
        self.actions.pop()
    }

    fn has_timers(&self) -> bool {
        true
    }

    fn on_fault(&mut self, device: u32, now: SimTime, fault: &str, active: bool) {
        let d = device as usize;
        self.advance(d, now);
        match fault {
            "probe_stuck" if active => self.stuck_at[d] = self.measure(d, now) as f32,
            "probe_stuck" => self.stuck_at[d] = f32::NAN,
            "relay_stuck_on" => self.welded[d] = active,
            other => unreachable!("thermostat/1 declares no fault {other:?}"),
        }
    }

    fn poll_timeout(&self, device: u32) -> Option<SimTime> {
        let d = device as usize;
        let tick = self.next_tick[d];
        Some(self.relays[d].poll_timeout().map_or(tick, |r| r.min(tick)))
    }

    fn handle_timeout(&mut self, device: u32, now: SimTime) {
        let d = device as usize;
        self.advance(d, now);
        self.relays[d].handle_timeout(now);
        if now >= self.next_tick[d] {
            self.control(d, now);
            let step = SimDuration::from_secs(u64::from(self.p.control_s));
            while self.next_tick[d] <= now {
                self.next_tick[d] += step;
            }
            if let Some(points) = self.chart.get_mut(d) {
                let h = now.as_secs_f64() / 3_600.0;
                if points.last().is_none_or(|p| h - p.0 >= 0.25 - 1e-9) {
                    let t = self.rooms[d].temperature_c();
                    points.push((h, t, f64::from(self.setpoint[d])));
                }
            }
        }
    }

    fn report(&self, end: SimTime) -> ClassReport {
        let homes = self.rooms.len().max(1) as f64;
        let hours = (end.as_secs_f64() / 3_600.0).max(1e-9);
        let in_band: f64 = self.in_band_s.iter().map(|&s| f64::from(s)).sum();
        let counted: f64 = self.counted_s.iter().map(|&s| f64::from(s)).sum();
        let switches: u64 = self.relays.iter().map(Relay::switches).sum();
        let mut lat = self.apply_latency_s.clone();
        lat.sort_by(f64::total_cmp);
        let q = |p: f64| quantile(&lat, p);
        let kwh: f64 = self
            .relays
            .iter()
            .map(|r| r.clone().energy_j(end) / 3.6e6)
            .sum::<f64>()
            + self.welded_j / 3.6e6;
        let mut r = ClassReport {
            figures: vec![
                ("comfort_ratio".into(), in_band / counted.max(1e-9)),
                (
                    "hvac_cycles_per_h".into(),
                    switches as f64 / 2.0 / homes / hours,
                ),
                ("hvac_kwh_per_home_day".into(), kwh / homes / (hours / 24.0)),
                ("setpoints_applied".into(), lat.len() as f64),
                ("setpoints_refused".into(), self.refused as f64),
                ("apply_latency_s_p50".into(), q(0.5)),
                ("apply_latency_s_p99".into(), q(0.99)),
            ],
            charts: Vec::new(),
        };
        let mut lines = Vec::new();
        for (i, pts) in self.chart.iter().enumerate() {
            lines.push((
                format!("home {i} air"),
                pts.iter().map(|p| (p.0, p.1)).collect(),
            ));
            lines.push((
                format!("home {i} setpoint"),
                pts.iter().map(|p| (p.0, p.2)).collect(),
            ));
        }
        r.charts.push(Chart::lines(
            "Room temperature against setpoint (sample homes)",
            "hour",
            "°C",
            lines,
        ));
        r.charts.push(Chart::histogram_s(
            "Setpoint apply latency (portal → thermostat)",
            "setpoints",
            &lat,
            &[
                1.0,
                2.0,
                5.0,
                10.0,
                30.0,
                60.0,
                300.0,
                1_800.0,
                f64::INFINITY,
            ],
        ));
        r
    }
}

/// The registry entry: `kind = "thermostat/1"`.
pub fn kind() -> ClassKind {
    ClassKind::new(
        "thermostat/1",
        "a home's thermostat: room thermal model, heat pump behind an HVAC relay, setpoint desired property, getTemperature method",
        |b| {
            let p: ThermostatParams = b.params()?;
            Ok(Box::new(ThermostatClass::new(b, p)?))
        },
    )
    .samples(&["temp_c", "target_c", "hvac_on"])
    .model(
        "scenarios/dtdl/thermostat.json",
        include_str!("../../dtdl/thermostat.json"),
    )
    .faults(&[
        ("probe_stuck", "the air probe repeats its last reading"),
        ("relay_stuck_on", "the HVAC relay's contacts weld: heat runs whatever the loop asks"),
    ])
    .default_params(&ThermostatParams::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hardware::radio::RadioProfile;
    use sim::{Epoch, Seed};

    fn class(count: u32, params: &str) -> ThermostatClass {
        let table: toml::Table = toml::from_str(params).unwrap();
        let radio = RadioProfile::wifi();
        let b = ClassBuild {
            seed: Seed(3),
            epoch: Epoch::DEFAULT,
            name: "thermostat",
            count,
            telemetry: &[],
            radio: &radio,
            params: &table,
        };
        ThermostatClass::new(&b, b.params().unwrap()).unwrap()
    }

    /// Runs device 0's timers until `end`.
    fn run_until(c: &mut ThermostatClass, end: SimTime) {
        while let Some(t) = c.poll_timeout(0).filter(|t| *t <= end) {
            c.handle_timeout(0, t);
        }
        c.advance(0, end);
    }

    #[test]
    fn the_loop_holds_the_room_within_the_hysteresis_band_once_it_is_reached() {
        let mut c = class(1, "setpoint_c = 21.0\nhysteresis_c = 0.5");
        run_until(&mut c, SimTime::from_secs(6 * 3_600));
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        let end = SimTime::from_secs(24 * 3_600);
        while let Some(t) = c.poll_timeout(0).filter(|t| *t <= end) {
            c.handle_timeout(0, t);
            let temp = c.rooms[0].temperature_c();
            lo = lo.min(temp);
            hi = hi.max(temp);
        }
        // The loop holds the *measured* air in the band, so the true air sits off by the
        // probe's bias; plus what the room drifts in one control period and the relay's
        // minimum times, and the probe's noise.
        let centre = 21.0 - f64::from(c.bias[0]);
        assert!(
            lo > centre - 0.5 - 0.3 && hi < centre + 0.5 + 0.3,
            "{lo}..{hi} around {centre}"
        );
        assert!(c.relays[0].switches() > 10, "it cycles");
    }

    #[test]
    fn a_setpoint_is_applied_reported_with_the_same_value_and_timed() {
        let mut c = class(2, "");
        let now = SimTime::from_secs(100);
        let patch = serde_json::json!({ "setpoint_c": 22.5, "set_at_s": 99.5 });
        let reported = c.on_desired(1, now, &patch).unwrap();
        assert_eq!(reported, patch);
        assert_eq!(c.setpoint[1], 22.5);
        assert_eq!(c.apply_latency_s, vec![0.5]);
        let Some(DeviceAction::Publish {
            device: 1,
            values,
            len: 3,
        }) = c.poll_action()
        else {
            panic!("no event reading for the new setpoint")
        };
        assert_eq!(values[1], 22.5);
        // The same desired document read again at a reconnection is not a new apply.
        c.on_desired(1, SimTime::from_secs(500), &patch).unwrap();
        assert_eq!(c.apply_latency_s.len(), 1);
    }

    #[test]
    fn a_setpoint_out_of_range_is_refused_and_not_reported() {
        let mut c = class(1, "");
        let bad = serde_json::json!({ "setpoint_c": 80 });
        assert_eq!(c.on_desired(0, SimTime::from_secs(1), &bad), None);
        assert_eq!(c.refused, 1);
        assert_eq!(c.setpoint[0], 20.5);
        assert_eq!(
            c.on_desired(0, SimTime::from_secs(1), &serde_json::json!({})),
            None
        );
    }

    #[test]
    fn get_temperature_answers_with_the_measured_air_and_the_setpoint() {
        let mut c = class(1, "");
        let call = MethodCall {
            rid: firmware::MethodRid::from_bits(7),
            name: "getTemperature",
            payload: b"{}",
        };
        let MethodReply::Now { status, body } = c.on_method(0, SimTime::from_secs(60), call) else {
            panic!("answered later")
        };
        assert_eq!(status, 200);
        let v: Value = serde_json::from_slice(&body).unwrap();
        let truth = c.rooms[0].temperature_c();
        assert!((v["temp_c"].as_f64().unwrap() - truth).abs() < 1.0, "{v}");
        assert_eq!(v["setpoint_c"], 20.5);
        let other = MethodCall {
            name: "reboot",
            ..call
        };
        assert!(matches!(
            c.on_method(0, SimTime::from_secs(60), other),
            MethodReply::Now { status: 404, .. }
        ));
    }

    #[test]
    fn a_crash_drops_the_relay_and_control_resumes_when_the_firmware_runs_again() {
        let h = |h: u64| SimTime::from_secs(h * 3_600);
        let mut c = class(1, "outdoor_mean_c = -5.0\nsetpoint_c = 22.0");
        run_until(&mut c, h(3));
        assert!(c.relays[0].switches() > 0, "a cold room calls for heat");
        c.on_crash(0, h(3));
        assert!(!c.relays[0].is_on());
        let before = c.relays[0].switches();
        run_until(&mut c, h(4));
        assert_eq!(c.relays[0].switches(), before, "no control while down");
        let mut out = [0.0; FIELDS_MAX];
        c.sample(0, h(4), &mut out);
        run_until(&mut c, h(6));
        assert!(c.relays[0].switches() > before, "control resumed");
    }
}
