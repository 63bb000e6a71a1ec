//! The door-locks solution's back end: the state of every door, and the building's users
//! unlocking doors from their phones.
//!
//! - **Door states.** A record per door (open or shut, locked or not) kept last-writer by
//!   *event time*: a reading whose device timestamp is older than the one the record holds (a
//!   retransmission overtaken by a later publish, a buffer flushed after an outage) is ignored
//!   and counted, so a late, older reading never overwrites a newer one. The record is the
//!   door's twin in the back end; its changes are what the app believes
//!   ([`App::believed_states`], code `open + 2 × unlocked`, as `doorlock/1` codes the truth).
//! - **Users.** `users` phone users, each allowed to open `doors_per_user` doors drawn from the
//!   app's stream (a per-user, per-door access list). They ask to unlock at random times, a
//!   Poisson process at `requests_per_user_day` a day shaped by the office day (busier at
//!   08:00 and 17:00); `unauthorised_ratio` of the requests are deliberately for a door the
//!   user may not open. The back end checks the access list before any method call and
//!   refuses (and counts) every request it does not allow.
//! - **Unlocks** are the `unlock` direct method (reference §1.7) with
//!   `{"request_id", "user"}`; a call that fails in the hub (404103 the controller is not
//!   connected, 504101 it did not answer within `method_timeout_s`, 429 throttled) or that
//!   the controller answers 409 (busy) is retried up to `retries` times with the SAME
//!   request id after `retry_backoff_s`, doubling, so a lock that did act on the first call
//!   does not act again. The unlock latency runs from the user's request to the 200 reply.
//!
//! **Assumed**: the office day's shape of `hardware::world::door` for the requests, a 10 s
//! method timeout and three retries 5, 10 and 20 s apart. Broken variants: with
//! `enforce_acl = false` the check is skipped and unauthorised requests reach the locks; with
//! `by_event_time = false` the record takes every reading in the order it arrives, so a late,
//! older one overwrites a newer one.

use crate::app::Reading;
use crate::app::{App, AppCtx, AppReport, ClassRef, CommandId, CommandOutcome, CommandResult};
use crate::class::{quantile, Chart, StateChange};
use crate::load::FieldError;
use crate::registry::{AppBuild, AppKind};
use hardware::world::door::DoorUsage;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sim::rng::{below, unit_f64};
use sim::{Dist, Epoch, RngStream, SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet};

/// The app's parameters (`apps[].params`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DoorsParams {
    /// The class of door controllers the app serves.
    pub class: String,
    pub users: u32,
    pub doors_per_user: u32,
    pub requests_per_user_day: f64,
    pub unauthorised_ratio: f64,
    pub method_timeout_s: u32,
    pub retries: u32,
    pub retry_backoff_s: f64,
    /// Check the access list before calling (false: a broken variant).
    pub enforce_acl: bool,
    /// Keep the record last-writer by event time (false: by arrival, a broken variant).
    pub by_event_time: bool,
}

impl Default for DoorsParams {
    fn default() -> Self {
        DoorsParams {
            class: "doors".into(),
            users: 300,
            doors_per_user: 4,
            requests_per_user_day: 3.0,
            unauthorised_ratio: 0.05,
            method_timeout_s: 10,
            retries: 3,
            retry_backoff_s: 5.0,
            enforce_acl: true,
            by_event_time: true,
        }
    }
}

/// One user's request to unlock a door.
struct Request {
    id: String,
    user: u32,
    door: u32,
    at: SimTime,
    attempts: u32,
}

/// The app. See the module docs.
pub struct DoorsApp {
    p: DoorsParams,
    epoch: Epoch,
    /// Each hour's share of the daily requests, times 24, and its largest.
    shape: [f64; 24],
    shape_max: f64,
    rng: RngStream,
    class: Option<ClassRef>,
    fields: Option<(usize, usize)>,
    /// The doors each user may open, ascending.
    acl: Vec<Vec<u32>>,
    next_request: SimTime,
    requests: Vec<Request>,
    /// Calls whose result has not come back, and retries waiting for their time.
    calls: BTreeMap<CommandId, usize>,
    retry_at: BTreeSet<(SimTime, usize)>,
    /// Per door: the event time of the reading the record holds, and the believed state.
    record_at: Vec<SimTime>,
    believed: Vec<Option<u64>>,
    changes: Vec<StateChange>,
    readings: u64,
    stale_ignored: u64,
    unauthorised: u64,
    refused: u64,
    unauthorised_called: u64,
    retries: u64,
    ok: u64,
    failed: u64,
    latency_ms: Vec<f64>,
}

impl DoorsApp {
    fn new(b: &AppBuild<'_>, p: DoorsParams) -> Result<DoorsApp, FieldError> {
        if !(1..=1_000_000).contains(&p.users) {
            return Err(b.error("users", format!("{}: expected 1 to 1000000", p.users)));
        }
        if p.doors_per_user == 0 {
            return Err(b.error("doors_per_user", "0: expected at least 1"));
        }
        let rate = p.requests_per_user_day;
        if !(rate.is_finite() && (0.0..=1_000.0).contains(&rate)) {
            return Err(b.error(
                "requests_per_user_day",
                format!("{rate}: expected 0 to 1000 a day"),
            ));
        }
        if !(0.0..=1.0).contains(&p.unauthorised_ratio) {
            return Err(b.error(
                "unauthorised_ratio",
                format!("{}: expected 0 to 1", p.unauthorised_ratio),
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
        if p.retries > 10 {
            return Err(b.error("retries", format!("{}: expected 0 to 10", p.retries)));
        }
        if !(p.retry_backoff_s.is_finite() && (0.1..=3_600.0).contains(&p.retry_backoff_s)) {
            return Err(b.error(
                "retry_backoff_s",
                format!("{}: expected 0.1 to 3600 s", p.retry_backoff_s),
            ));
        }
        let day = DoorUsage::office_entrance().openings_per_hour;
        let mean = day.iter().sum::<f64>() / 24.0;
        let shape = day.map(|r| r / mean);
        Ok(DoorsApp {
            epoch: b.epoch,
            shape_max: shape.iter().copied().fold(0.0, f64::max),
            shape,
            rng: b.stream("requests"),
            class: None,
            fields: None,
            acl: Vec::new(),
            next_request: SimTime::MAX,
            requests: Vec::new(),
            calls: BTreeMap::new(),
            retry_at: BTreeSet::new(),
            record_at: Vec::new(),
            believed: Vec::new(),
            changes: Vec::new(),
            readings: 0,
            stale_ignored: 0,
            unauthorised: 0,
            refused: 0,
            unauthorised_called: 0,
            retries: 0,
            ok: 0,
            failed: 0,
            latency_ms: Vec::new(),
            p,
        })
    }

    /// Draws each user's doors: `doors_per_user` distinct doors (all of them, if fewer).
    fn draw_acl(&mut self, doors: u32) {
        let k = self.p.doors_per_user.min(doors);
        self.acl = (0..self.p.users)
            .map(|_| {
                let mut mine = BTreeSet::new();
                while mine.len() < k as usize {
                    mine.insert(below(&mut self.rng, u64::from(doors)) as u32);
                }
                mine.into_iter().collect()
            })
            .collect();
    }

    /// The next request after `after`: a Poisson process thinned to the office day.
    fn draw_next(&mut self, after: SimTime) -> SimTime {
        let mean_per_s = self.p.requests_per_user_day * f64::from(self.p.users) / 86_400.0;
        let peak = mean_per_s * self.shape_max;
        if peak <= 0.0 {
            return SimTime::MAX;
        }
        let gap = Dist::exponential(1.0 / peak).expect("a positive mean");
        let mut t = after;
        loop {
            t = t.saturating_add(SimDuration::from_secs_f64(gap.sample(&mut self.rng)));
            let h = usize::from(self.epoch.hour_of_day(t));
            if t == SimTime::MAX || unit_f64(&mut self.rng) * self.shape_max < self.shape[h] {
                return t;
            }
        }
    }

    /// Whether `user` may open `door`.
    fn allowed(&self, user: u32, door: u32) -> bool {
        self.acl[user as usize].binary_search(&door).is_ok()
    }

    /// A user asks to unlock a door: checked against the access list, then called.
    fn request(&mut self, now: SimTime, c: ClassRef, ctx: &mut AppCtx<'_>) {
        let user = below(&mut self.rng, u64::from(self.p.users)) as u32;
        let mine = &self.acl[user as usize];
        let others = c.count as usize - mine.len();
        let door = if others > 0 && unit_f64(&mut self.rng) < self.p.unauthorised_ratio {
            // A door off the user's list: the k-th door not on it.
            let mut k = below(&mut self.rng, others as u64) as u32;
            let mut door = 0;
            loop {
                if mine.binary_search(&door).is_err() {
                    if k == 0 {
                        break door;
                    }
                    k -= 1;
                }
                door += 1;
            }
        } else {
            mine[below(&mut self.rng, mine.len() as u64) as usize]
        };
        let allowed = self.allowed(user, door);
        if !allowed {
            self.unauthorised += 1;
            if self.p.enforce_acl {
                self.refused += 1;
                return;
            }
            self.unauthorised_called += 1;
        }
        let id = format!("user-{user:05}-{:07}", self.requests.len());
        self.requests.push(Request {
            id,
            user,
            door,
            at: now,
            attempts: 0,
        });
        self.call(self.requests.len() - 1, c, ctx);
    }

    fn call(&mut self, r: usize, c: ClassRef, ctx: &mut AppCtx<'_>) {
        let req = &mut self.requests[r];
        req.attempts += 1;
        let payload = json!({ "request_id": req.id, "user": format!("user-{:05}", req.user) });
        let body = serde_json::to_vec(&payload).expect("JSON serialises");
        let id = ctx.invoke_method(c.device(req.door), "unlock", &body, self.p.method_timeout_s);
        self.calls.insert(id, r);
    }

    /// A reading of door `d` with event time `at`: last writer by event time.
    fn on_door(&mut self, now: SimTime, d: usize, at: SimTime, open: bool, locked: bool) {
        self.readings += 1;
        if self.p.by_event_time && at < self.record_at[d] {
            self.stale_ignored += 1;
            return;
        }
        self.record_at[d] = at;
        let state = u64::from(open) | (u64::from(!locked) << 1);
        if self.believed[d] != Some(state) {
            self.believed[d] = Some(state);
            self.changes.push(StateChange {
                at: now,
                device: d as u32,
                state,
            });
        }
    }
}

impl App for DoorsApp {
    fn start(&mut self, now: SimTime, ctx: &mut AppCtx<'_>) {
        self.class = ctx.class(&self.p.class).filter(|c| c.count > 0);
        if let Some(c) = self.class {
            self.fields = ctx.field(c, "door_open").zip(ctx.field(c, "locked"));
            self.record_at = vec![SimTime::ZERO; c.count as usize];
            self.believed = vec![None; c.count as usize];
            self.draw_acl(c.count);
            self.next_request = self.draw_next(now);
        }
    }

    fn on_reading(&mut self, now: SimTime, r: &Reading<'_>, _ctx: &mut AppCtx<'_>) {
        let (Some(c), Some((fo, fl))) = (self.class, self.fields) else {
            return;
        };
        if r.device.class != c.class {
            return;
        }
        let (open, locked) = (r.values[fo], r.values[fl]);
        if open.is_nan() || locked.is_nan() {
            return;
        }
        self.on_door(
            now,
            r.device.index as usize,
            r.event_time,
            open >= 0.5,
            locked >= 0.5,
        );
    }

    fn poll_timeout(&self) -> Option<SimTime> {
        let retry = self.retry_at.first().map_or(SimTime::MAX, |(t, _)| *t);
        let t = self.next_request.min(retry);
        (t != SimTime::MAX).then_some(t)
    }

    fn handle_timeout(&mut self, now: SimTime, ctx: &mut AppCtx<'_>) {
        let Some(c) = self.class else { return };
        while let Some(&(t, r)) = self.retry_at.first().filter(|(t, _)| *t <= now) {
            self.retry_at.remove(&(t, r));
            self.retries += 1;
            self.call(r, c, ctx);
        }
        while self.next_request <= now {
            let at = self.next_request;
            self.request(at, c, ctx);
            self.next_request = self.draw_next(at);
        }
    }

    fn on_result(&mut self, now: SimTime, res: &CommandResult, _ctx: &mut AppCtx<'_>) {
        let Some(r) = self.calls.remove(&res.id) else {
            return;
        };
        let retry = match &res.outcome {
            CommandOutcome::Method { status: 200, .. } => {
                self.ok += 1;
                let ms = now.since(self.requests[r].at).as_secs_f64() * 1e3;
                self.latency_ms.push(ms);
                false
            }
            CommandOutcome::Method { status: 409, .. } | CommandOutcome::Failed { .. } => true,
            _ => false,
        };
        let req = &self.requests[r];
        if retry && req.attempts <= self.p.retries {
            let wait = self.p.retry_backoff_s * f64::from(1u32 << (req.attempts - 1).min(20));
            let at = now.saturating_add(SimDuration::from_secs_f64(wait));
            self.retry_at.insert((at, r));
        } else if !matches!(res.outcome, CommandOutcome::Method { status: 200, .. }) {
            self.failed += 1;
        }
    }

    fn believed_states(&self, class: u16) -> Vec<StateChange> {
        match self.class {
            Some(c) if c.class == class => self.changes.clone(),
            _ => Vec::new(),
        }
    }

    fn report(&self, _end: SimTime) -> AppReport {
        let mut ms = self.latency_ms.clone();
        ms.sort_by(f64::total_cmp);
        let mut r = AppReport::from_figures(vec![
            (
                "requests".into(),
                (self.requests.len() as u64 + self.refused) as f64,
            ),
            ("unauthorised_requests".into(), self.unauthorised as f64),
            ("refused_unauthorised".into(), self.refused as f64),
            (
                "unauthorised_called".into(),
                self.unauthorised_called as f64,
            ),
            (
                "unauthorised_refused_ratio".into(),
                if self.unauthorised == 0 {
                    1.0
                } else {
                    self.refused as f64 / self.unauthorised as f64
                },
            ),
            ("unlocks_ok".into(), self.ok as f64),
            ("unlocks_failed".into(), self.failed as f64),
            ("retries".into(), self.retries as f64),
            ("unlock_latency_ms_p50".into(), quantile(&ms, 0.5)),
            ("unlock_latency_ms_p99".into(), quantile(&ms, 0.99)),
            (
                "unlock_latency_ms_max".into(),
                ms.last().copied().unwrap_or(0.0),
            ),
            ("readings".into(), self.readings as f64),
            ("stale_readings_ignored".into(), self.stale_ignored as f64),
        ]);
        let seconds: Vec<f64> = ms.iter().map(|v| v / 1e3).collect();
        r.charts.push(Chart::histogram_s(
            "Unlock latency (the user's request → the lock's reply, retries included)",
            "unlocks",
            &seconds,
            &[1.0, 2.0, 5.0, 10.0, 30.0, 60.0, f64::INFINITY],
        ));
        r
    }
}

/// The registry entry: `kind = "doors/1"`.
pub fn kind() -> AppKind {
    AppKind::new(
        "doors/1",
        "the building's door back end: a state record per door (last writer by event time) and phone users unlocking doors under a per-user access list, retrying with the same request id",
        |b| {
            let p: DoorsParams = b.params()?;
            Ok(Box::new(DoorsApp::new(b, p)?))
        },
    )
    .default_params(&DoorsParams::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Command, CommandKind, DeviceRef, Directory};
    use sim::Seed;

    fn app(params: &str) -> DoorsApp {
        let table: toml::Table = toml::from_str(params).unwrap();
        let b = AppBuild {
            seed: Seed(9),
            epoch: Epoch::DEFAULT,
            name: "access",
            params: &table,
        };
        DoorsApp::new(&b, b.params().unwrap()).unwrap()
    }

    fn directory(doors: u32) -> Directory {
        Directory {
            classes: vec![("doors".into(), doors)],
            fields: vec![vec!["door_open".into(), "locked".into()]],
        }
    }

    /// Runs `f` with a context over `dir`; returns the commands queued.
    fn with_ctx(dir: &Directory, f: impl FnOnce(&mut AppCtx<'_>)) -> Vec<Command> {
        let mut commands = Vec::new();
        let mut next = 1;
        let mut ctx = AppCtx {
            directory: dir,
            commands: &mut commands,
            next_id: &mut next,
        };
        f(&mut ctx);
        commands
    }

    fn reading(a: &mut DoorsApp, dir: &Directory, now: u64, at_ms: u64, open: f64, locked: f64) {
        let values = [open, locked];
        let r = Reading {
            device: DeviceRef { class: 0, index: 3 },
            seq: 0,
            event_time: SimTime::from_millis(at_ms),
            values: &values,
        };
        with_ctx(dir, |ctx| a.on_reading(SimTime::from_secs(now), &r, ctx));
    }

    #[test]
    fn a_late_older_reading_does_not_overwrite_a_newer_one() {
        let dir = directory(10);
        let mut a = app("requests_per_user_day = 0.0");
        with_ctx(&dir, |ctx| a.start(SimTime::ZERO, ctx));
        reading(&mut a, &dir, 10, 9_000, 1.0, 0.0); // open at 9 s
        reading(&mut a, &dir, 20, 15_000, 0.0, 1.0); // shut and locked at 15 s
                                                     // The open reading's retransmission (event time 9 s) arrives after the newer one.
        reading(&mut a, &dir, 21, 9_000, 1.0, 0.0);
        assert_eq!(a.stale_ignored, 1);
        assert_eq!(a.believed[3], Some(0));
        let beliefs: Vec<(u64, u64)> = a
            .believed_states(0)
            .iter()
            .map(|c| (c.at.as_secs(), c.state))
            .collect();
        assert_eq!(beliefs, vec![(10, 3), (20, 0)]);
        // The same event time again (a duplicate) is not stale.
        reading(&mut a, &dir, 22, 15_000, 0.0, 1.0);
        assert_eq!(a.stale_ignored, 1);
        assert!(a.believed_states(1).is_empty(), "another class");
    }

    #[test]
    fn requests_off_the_access_list_are_refused_before_any_call() {
        let dir = directory(20);
        let mut a = app("users = 50\ndoors_per_user = 2\nrequests_per_user_day = 200.0\nunauthorised_ratio = 0.3");
        with_ctx(&dir, |ctx| a.start(SimTime::ZERO, ctx));
        assert!(a.acl.iter().all(|doors| doors.len() == 2));
        let end = SimTime::from_secs(86_400);
        let mut calls = Vec::new();
        while let Some(t) = a.poll_timeout().filter(|t| *t <= end) {
            calls.extend(with_ctx(&dir, |ctx| a.handle_timeout(t, ctx)));
        }
        assert!(
            a.refused > 100 && a.refused == a.unauthorised,
            "{} of {}",
            a.refused,
            a.unauthorised
        );
        assert_eq!(a.unauthorised_called, 0);
        assert_eq!(calls.len(), a.requests.len());
        for (cmd, req) in calls.iter().zip(&a.requests) {
            assert!(
                a.allowed(req.user, cmd.device.index),
                "{req:?}",
                req = req.id
            );
            let CommandKind::Method { name, payload, .. } = &cmd.kind else {
                panic!("an unlock is a direct method")
            };
            assert_eq!(&**name, "unlock");
            let body: serde_json::Value = serde_json::from_slice(payload).unwrap();
            assert_eq!(body["request_id"], req.id.as_str());
        }
        // The broken variant calls them.
        let mut b = app("users = 50\ndoors_per_user = 2\nrequests_per_user_day = 200.0\nunauthorised_ratio = 0.3\nenforce_acl = false");
        with_ctx(&dir, |ctx| b.start(SimTime::ZERO, ctx));
        while let Some(t) = b.poll_timeout().filter(|t| *t <= end) {
            with_ctx(&dir, |ctx| b.handle_timeout(t, ctx));
        }
        assert!(b.unauthorised_called > 100 && b.refused == 0);
    }

    #[test]
    fn a_timed_out_unlock_is_retried_with_the_same_request_id() {
        let dir = directory(5);
        let mut a = app("users = 1\ndoors_per_user = 5\nrequests_per_user_day = 100.0\nretries = 2\nretry_backoff_s = 5.0");
        with_ctx(&dir, |ctx| a.start(SimTime::ZERO, ctx));
        let t = a.poll_timeout().unwrap();
        let first = with_ctx(&dir, |ctx| a.handle_timeout(t, ctx));
        let cmd = first
            .iter()
            .find(|c| matches!(c.kind, CommandKind::Method { .. }))
            .unwrap();
        let timed_out = CommandResult {
            id: cmd.id,
            device: cmd.device,
            issued_at: t,
            outcome: CommandOutcome::Failed { code: 504_101 },
        };
        let after = t + SimDuration::from_secs(10);
        with_ctx(&dir, |ctx| a.on_result(after, &timed_out, ctx));
        assert_eq!(
            a.retry_at.first().map(|r| r.0),
            Some(after + SimDuration::from_secs(5))
        );
        let retry = with_ctx(&dir, |ctx| {
            a.handle_timeout(after + SimDuration::from_secs(5), ctx)
        });
        let again = retry.iter().find(|c| c.device == cmd.device).unwrap();
        assert_eq!(again.kind, cmd.kind, "the same request id");
        let ok = CommandResult {
            id: again.id,
            device: again.device,
            issued_at: after,
            outcome: CommandOutcome::Method {
                status: 200,
                body: b"{}".as_slice().into(),
            },
        };
        with_ctx(&dir, |ctx| {
            a.on_result(after + SimDuration::from_secs(6), &ok, ctx)
        });
        assert_eq!((a.ok, a.retries), (1, 1));
        assert_eq!(a.latency_ms, vec![16_000.0]);
    }
}
