//! The thermostat solution's web portal: its users change their home's setpoint at random
//! times (a desired-properties patch, reference §1.9) and look at their home's temperature (a
//! `getTemperature` direct method, §1.7). Each is a Poisson process over the class's homes,
//! drawn from the app's own stream, so the same seed asks the same homes the same things at
//! the same times whatever else the scenario changes.
//!
//! A setpoint patch is `{"setpoint_c": …, "set_at_s": …}` (`set_at_s`: the portal's simulated
//! clock, which the thermostat echoes to measure the apply latency). Figures: patches, queries,
//! and the share of queries answered with 200 (a home offline answers 404103, a thermostat too
//! slow 504101).

use crate::app::{App, AppCtx, AppReport, ClassRef, CommandId, CommandOutcome, CommandResult};
use crate::class::quantile;
use crate::load::FieldError;
use crate::registry::{AppBuild, AppKind};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sim::rng::below;
use sim::{Dist, RngStream, SimDuration, SimTime};
use std::collections::BTreeSet;

/// The app's parameters (`apps[].params`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortalParams {
    /// The class of thermostats the portal serves.
    pub class: String,
    pub setpoint_changes_per_home_day: f64,
    pub queries_per_home_day: f64,
    /// New setpoints are drawn from `setpoint_min_c` to `setpoint_max_c` in steps of
    /// `setpoint_step_c`.
    pub setpoint_min_c: f64,
    pub setpoint_max_c: f64,
    pub setpoint_step_c: f64,
    /// A query's response timeout (5 to 300 s, §1.7).
    pub method_timeout_s: u32,
}

impl Default for PortalParams {
    fn default() -> Self {
        PortalParams {
            class: "thermostat".into(),
            setpoint_changes_per_home_day: 2.0,
            queries_per_home_day: 4.0,
            setpoint_min_c: 18.0,
            setpoint_max_c: 23.0,
            setpoint_step_c: 0.5,
            method_timeout_s: 30,
        }
    }
}

/// The portal. See the module docs.
pub struct Portal {
    p: PortalParams,
    steps: u64,
    changes: RngStream,
    queries: RngStream,
    class: Option<ClassRef>,
    next_change: SimTime,
    next_query: SimTime,
    patches: u64,
    /// Patches whose result has not come back.
    open_patches: BTreeSet<CommandId>,
    patches_refused: u64,
    queries_sent: u64,
    queries_ok: u64,
    query_ms: Vec<f64>,
}

impl Portal {
    fn new(b: &AppBuild<'_>, p: PortalParams) -> Result<Portal, FieldError> {
        for (key, v) in [
            (
                "setpoint_changes_per_home_day",
                p.setpoint_changes_per_home_day,
            ),
            ("queries_per_home_day", p.queries_per_home_day),
        ] {
            if !(v.is_finite() && (0.0..=1_000.0).contains(&v)) {
                return Err(b.error(key, format!("{v}: expected 0 to 1000 a day")));
            }
        }
        if !(5.0..=30.0).contains(&p.setpoint_min_c)
            || !(p.setpoint_min_c..=30.0).contains(&p.setpoint_max_c)
        {
            return Err(b.error(
                "setpoint_max_c",
                format!(
                    "{} to {}: expected 5 ≤ setpoint_min_c ≤ setpoint_max_c ≤ 30 °C",
                    p.setpoint_min_c, p.setpoint_max_c
                ),
            ));
        }
        if !(p.setpoint_step_c.is_finite() && p.setpoint_step_c > 0.0) {
            return Err(b.error(
                "setpoint_step_c",
                format!("{}: expected a step above 0 °C", p.setpoint_step_c),
            ));
        }
        if !(5..=300).contains(&p.method_timeout_s) {
            return Err(b.error(
                "method_timeout_s",
                format!(
                    "{}: expected 5 to 300 s (reference §1.7)",
                    p.method_timeout_s
                ),
            ));
        }
        let steps = ((p.setpoint_max_c - p.setpoint_min_c) / p.setpoint_step_c).floor() as u64;
        Ok(Portal {
            steps,
            changes: b.stream("changes"),
            queries: b.stream("queries"),
            class: None,
            next_change: SimTime::MAX,
            next_query: SimTime::MAX,
            patches: 0,
            open_patches: BTreeSet::new(),
            patches_refused: 0,
            queries_sent: 0,
            queries_ok: 0,
            query_ms: Vec::new(),
            p,
        })
    }

    /// The next arrival of a Poisson process at `per_home_day` over the class's homes.
    fn next(rng: &mut RngStream, after: SimTime, per_home_day: f64, homes: u32) -> SimTime {
        let rate_per_s = per_home_day * f64::from(homes) / 86_400.0;
        if rate_per_s <= 0.0 {
            return SimTime::MAX;
        }
        let gap = Dist::exponential(1.0 / rate_per_s).expect("a positive mean");
        after.saturating_add(SimDuration::from_secs_f64(gap.sample(rng)))
    }
}

impl App for Portal {
    fn start(&mut self, now: SimTime, ctx: &mut AppCtx<'_>) {
        self.class = ctx.class(&self.p.class).filter(|c| c.count > 0);
        if let Some(c) = self.class {
            let p = &self.p;
            self.next_change = Self::next(
                &mut self.changes,
                now,
                p.setpoint_changes_per_home_day,
                c.count,
            );
            self.next_query = Self::next(&mut self.queries, now, p.queries_per_home_day, c.count);
        }
    }

    fn poll_timeout(&self) -> Option<SimTime> {
        let t = self.next_change.min(self.next_query);
        (t != SimTime::MAX).then_some(t)
    }

    fn handle_timeout(&mut self, now: SimTime, ctx: &mut AppCtx<'_>) {
        let Some(c) = self.class else { return };
        while self.next_change <= now {
            let home = c.device(below(&mut self.changes, u64::from(c.count)) as u32);
            let step = below(&mut self.changes, self.steps + 1) as f64;
            let sp = self.p.setpoint_min_c + step * self.p.setpoint_step_c;
            let set_at = self.next_change.as_secs_f64();
            let id = ctx.patch_desired(home, json!({ "setpoint_c": sp, "set_at_s": set_at }));
            self.open_patches.insert(id);
            self.patches += 1;
            self.next_change = Self::next(
                &mut self.changes,
                self.next_change,
                self.p.setpoint_changes_per_home_day,
                c.count,
            );
        }
        while self.next_query <= now {
            let home = c.device(below(&mut self.queries, u64::from(c.count)) as u32);
            ctx.invoke_method(home, "getTemperature", b"{}", self.p.method_timeout_s);
            self.queries_sent += 1;
            self.next_query = Self::next(
                &mut self.queries,
                self.next_query,
                self.p.queries_per_home_day,
                c.count,
            );
        }
    }

    fn on_result(&mut self, now: SimTime, r: &CommandResult, _ctx: &mut AppCtx<'_>) {
        if self.open_patches.remove(&r.id) {
            if matches!(r.outcome, CommandOutcome::Failed { .. }) {
                self.patches_refused += 1;
            }
        } else if let CommandOutcome::Method { status: 200, .. } = r.outcome {
            self.queries_ok += 1;
            self.query_ms
                .push(now.since(r.issued_at).as_secs_f64() * 1e3);
        }
    }

    fn report(&self, _end: SimTime) -> AppReport {
        let mut ms = self.query_ms.clone();
        ms.sort_by(f64::total_cmp);
        AppReport {
            figures: vec![
                ("setpoint_patches".into(), self.patches as f64),
                (
                    "setpoint_patches_refused".into(),
                    self.patches_refused as f64,
                ),
                ("queries".into(), self.queries_sent as f64),
                (
                    "queries_answered_ratio".into(),
                    self.queries_ok as f64 / self.queries_sent.max(1) as f64,
                ),
                ("query_latency_ms_p50".into(), quantile(&ms, 0.5)),
                ("query_latency_ms_p99".into(), quantile(&ms, 0.99)),
            ],
            charts: Vec::new(),
        }
    }
}

/// The registry entry: `kind = "portal/1"`.
pub fn kind() -> AppKind {
    AppKind::new(
        "portal/1",
        "the thermostat web portal: users patch setpoints (desired properties) and query temperatures (direct methods) at random times",
        |b| {
            let p: PortalParams = b.params()?;
            Ok(Box::new(Portal::new(b, p)?))
        },
    )
    .default_params(&PortalParams::default())
}
