//! A user's own solution on fleetsim: a greenhouse whose beds dry out, soil probes that report
//! moisture, a `water` direct method that opens a bed's valve, and an irrigation controller in
//! the back end that waters a bed when it reads dry. `docs/GUIDE.md` builds it step by step.

use fleetsim::scenarios::prelude::*;

/// The class's parameters: `[classes.params]` in the scenario file.
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
struct BedParams {
    start_pct: f64,
    dry_pct_per_h: f64,
    fill_pct_per_min: f64,
    wilting_pct: f64,
}

impl Default for BedParams {
    fn default() -> Self {
        BedParams { start_pct: 45.0, dry_pct_per_h: 1.5, fill_pct_per_min: 1.0, wilting_pct: 20.0 }
    }
}

/// Every bed of the greenhouse: state in arrays indexed by the bed's number.
struct Beds {
    p: BedParams,
    moisture: Vec<f64>,
    at: Vec<SimTime>,
    valve_until: Vec<SimTime>,
    probe: Vec<CompactRng>,
    /// Ground truth: when each bed was below the wilting point.
    dry: Vec<Episode>,
    dry_since: Vec<Option<SimTime>>,
    actions: Actions,
}

impl Beds {
    /// Moisture changes linearly between events: down while the valve is shut, up while open.
    fn advance(&mut self, d: usize, now: SimTime) {
        let open = self.valve_until[d] > self.at[d];
        let dt_h = now.since(self.at[d]).as_secs_f64() / 3_600.0;
        let rate = if open { self.p.fill_pct_per_min * 60.0 } else { -self.p.dry_pct_per_h };
        let before = self.moisture[d];
        self.moisture[d] = (before + rate * dt_h).clamp(0.0, 100.0);
        let wilt = self.p.wilting_pct;
        let cross = |to: f64| {
            let h = (before - to) / (before - self.moisture[d]) * dt_h;
            self.at[d] + SimDuration::from_secs_f64(h * 3_600.0)
        };
        if before >= wilt && self.moisture[d] < wilt {
            self.dry_since[d] = Some(cross(wilt));
        } else if before < wilt && self.moisture[d] >= wilt {
            let start = self.dry_since[d].take().expect("dry before");
            let end = cross(wilt);
            self.dry.push(Episode { kind: "dry".into(), device: d as u32, start, end });
        }
        self.at[d] = now;
    }
}

impl DeviceLogic for Beds {
    fn sample(&mut self, device: u32, now: SimTime, out: &mut [f64; FIELDS_MAX]) -> usize {
        let d = device as usize;
        self.advance(d, now);
        let noise = Dist::normal(0.0, 0.5).expect("valid").sample(&mut self.probe[d]);
        out[0] = (self.moisture[d] + noise).clamp(0.0, 100.0);
        1
    }

    fn on_method(&mut self, device: u32, now: SimTime, call: MethodCall<'_>) -> MethodReply {
        let minutes =
            serde_json::from_slice::<Value>(call.payload).ok().and_then(|v| v["minutes"].as_f64());
        let (Some(m), "water") = (minutes.filter(|m| (0.0..=60.0).contains(m)), call.name) else {
            return MethodReply::Now {
                status: 400,
                body: br#"{"error":"expected water {minutes: 0..60}"}"#.to_vec(),
            };
        };
        self.advance(device as usize, now);
        self.valve_until[device as usize] = now + SimDuration::from_secs_f64(m * 60.0);
        MethodReply::Now { status: 200, body: b"{}".to_vec() }
    }
}

impl DeviceClass for Beds {
    fn len(&self) -> u32 {
        self.moisture.len() as u32
    }
    fn has_timers(&self) -> bool {
        true
    }
    fn poll_timeout(&self, device: u32) -> Option<SimTime> {
        let until = self.valve_until[device as usize];
        (until > self.at[device as usize]).then_some(until)
    }
    /// The valve closes: report the bed's moisture at once, as an event.
    fn handle_timeout(&mut self, device: u32, now: SimTime) {
        self.advance(device as usize, now);
        self.actions.publish(device, &[self.moisture[device as usize]]);
    }
    fn poll_action(&mut self) -> Option<DeviceAction> {
        self.actions.pop()
    }
    fn truth(&self, end: SimTime) -> Vec<Episode> {
        let open = self.dry_since.iter().enumerate().filter_map(|(d, s)| {
            s.map(|start| Episode { kind: "dry".into(), device: d as u32, start, end })
        });
        self.dry.iter().cloned().chain(open).collect()
    }
    fn report(&self, end: SimTime) -> ClassReport {
        let dry_h: f64 =
            self.truth(end).iter().map(|e| e.end.since(e.start).as_secs_f64() / 3_600.0).sum();
        ClassReport::from_figures(vec![figure("dry_bed_hours", dry_h)])
    }
}

fn beds(b: &ClassBuild<'_>) -> Result<Box<dyn DeviceClass>, FieldError> {
    let p: BedParams = b.params()?;
    if !(0.0..=100.0).contains(&p.start_pct) {
        return Err(b.error("start_pct", format!("{}: expected 0 to 100 %", p.start_pct)));
    }
    let n = b.count as usize;
    Ok(Box::new(Beds {
        moisture: vec![p.start_pct; n],
        at: vec![SimTime::ZERO; n],
        valve_until: vec![SimTime::ZERO; n],
        probe: (0..b.count)
            .map(|i| b.seed.compact(StreamKey::new(b.name, i.into(), "probe")))
            .collect(),
        dry: Vec::new(),
        dry_since: vec![None; n],
        actions: Actions::default(),
        p,
    }))
}

/// The irrigation controller's parameters: `[apps.params]`.
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
struct ControllerParams {
    below_pct: f64,
    minutes: f64,
}

impl Default for ControllerParams {
    fn default() -> Self {
        ControllerParams { below_pct: 30.0, minutes: 15.0 }
    }
}

/// Waters a bed when a reading says it is dry, one call at a time per bed.
struct Controller {
    p: ControllerParams,
    watering: Vec<bool>,
}

impl App for Controller {
    fn on_reading(&mut self, _now: SimTime, r: &Reading<'_>, ctx: &mut AppCtx<'_>) {
        let Some(beds) = ctx.class("beds").filter(|c| c.class == r.device.class) else {
            return;
        };
        self.watering.resize(beds.count as usize, false);
        let busy = &mut self.watering[r.device.index as usize];
        if r.values[0] < self.p.below_pct && !*busy {
            *busy = true;
            let payload = json!({ "minutes": self.p.minutes }).to_string();
            ctx.invoke_method(r.device, "water", payload.as_bytes(), 30);
        }
    }
    fn on_result(&mut self, _now: SimTime, r: &CommandResult, _ctx: &mut AppCtx<'_>) {
        self.watering[r.device.index as usize] = false; // answered, failed or timed out
    }
}

/// fleetsim's bundled classes and apps, and the greenhouse's.
pub fn registry() -> Registry {
    let mut registry = Registry::bundled();
    registry.add_class(
        ClassKind::new("greenhouse/1", "a greenhouse bed: soil probe, drip valve", beds)
            .samples(&["moisture"])
            .model("bed.json", include_str!("../bed.json"))
            .default_params(&BedParams::default()),
    );
    registry.add_app(
        AppKind::new("irrigator/1", "waters a bed that reads dry", |b| {
            let p: ControllerParams = b.params()?;
            Ok(Box::new(Controller { p, watering: Vec::new() }))
        })
        .default_params(&ControllerParams::default()),
    );
    registry
}
