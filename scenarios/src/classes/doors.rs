//! The door-locks solution's device class (seed: an office building that "keeps track of the
//! current state of the doors for the purpose of security", and "an electronic door lock could
//! be triggered from your mobile phone"): each device is one door's controller, with the door
//! (`hardware::world::door`: people open it at random, busier by day, and now and then it is
//! forced), a reed switch on its frame (`hardware::reed`, contact bounce) and an electronic
//! deadbolt (`hardware::actuator::Lock`, a motor taking 0.4–1.2 s, which cannot throw the bolt
//! while the door stands open).
//!
//! - **Door and lock.** A person opening a locked door turns the thumb-turn (or key) first: a
//!   manual unlock at the same instant. The controller relocks `relock_s` after the bolt was
//!   retracted or the door shut, whichever is later, once the door is shut. A forced opening
//!   leaves the bolt where it was (a door open and locked is a forced door).
//! - **Telemetry** `door_open` (1 or 0) and `locked` (1 or 0), published as an event (the
//!   [`Actions`] outbox, with the controller's clock as the event time) on every change the
//!   controller sees: the reed switch after a `debounce_ms` debounce, the lock's position when
//!   the bolt arrives, is turned by hand, jams or is blocked; again at every connection (after
//!   an outage or a restart); and every `telemetry.interval_s` as a heartbeat (the heartbeat
//!   pattern of reference §1.4: the hub's own connection state may lag by minutes).
//! - **Direct methods** `unlock` and `lock` (reference §1.7), payload
//!   `{"request_id": "…", "user": "…"}`. The reply waits until the bolt has moved
//!   ([`MethodReply::Later`]): 200 `{"request_id", "position"}`, 500 if it jammed, 409 if the
//!   door stood open (lock) or another request is moving the bolt. The controller remembers
//!   the last `request_memory` request ids it executed (in flash: a restart keeps them) and
//!   answers a repeated id with its first answer without actuating again (idempotency by
//!   request id: §1.7 gives a caller whose call timed out with 504101 no way to tell whether
//!   the device acted, so a retry must be safe); a repeat while the first is still moving the
//!   bolt is answered with it. With `idempotent = false` (the broken variant) every call
//!   actuates.
//! - **Ground truth**: every true change of each door (its open bit and lock bit,
//!   [`DeviceClass::states`], code `open + 2 × unlocked`), and every actuation by request id;
//!   `duplicate_actuations` counts the actuations beyond each request id's first.
//! - **Hardware fault** `lock_jammed`: the bolt's motor stalls (the thumb-turn still works).
//! - **Crash**: the controller's MCU restarts; the door and the bolt's motor run on, a reply
//!   not yet sent is lost, and the relock waits until the firmware runs again.
//!
//! **Assumed** (the reference has no door figures): the door, reed and lock figures of the
//! hardware models, a 5 s relock, a 20 ms debounce (the reed bounces for at most 5 ms), and 32
//! remembered request ids. **Left out**: door-held-open alarms, badge readers, lock batteries.

use crate::class::{Actions, Chart, ClassReport, DeviceAction, DeviceClass, StateChange};
use crate::load::FieldError;
use crate::registry::{ClassBuild, ClassKind};
use firmware::{DeviceLogic, MethodCall, MethodReply, MethodRid};
use hardware::actuator::{Lock, LockEvent, LockPosition};
use hardware::reed::ReedSwitch;
use hardware::sensor::Sensor;
use hardware::world::door::{Door, DoorEvent, DoorUsage};
use iot_messages::telemetry::FIELDS_MAX;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sim::rng::CompactRng;
use sim::{SimDuration, SimTime, StreamKey};
use std::collections::{BTreeMap, VecDeque};

/// The kind's parameters (`classes[].params`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DoorParams {
    /// Openings per hour for each UTC hour of the day.
    pub openings_per_hour: Vec<f64>,
    pub open_s_min: f64,
    pub open_s_max: f64,
    /// Forced openings per door-day (the bolt stays as it was).
    pub forced_per_day: f64,
    /// The controller relocks this long after the bolt retracted or the door shut.
    pub relock_s: f64,
    /// The reed switch's debounce.
    pub debounce_ms: f64,
    /// Request ids each controller remembers.
    pub request_memory: u32,
    /// Whether a repeated request id is answered from memory (false: the broken variant).
    pub idempotent: bool,
    /// Doors whose states the report charts, and the window charted (hours from the start).
    pub chart_doors: u32,
    pub chart_from_h: f64,
    pub chart_hours: f64,
}

impl Default for DoorParams {
    fn default() -> Self {
        let usage = DoorUsage::office_entrance();
        DoorParams {
            openings_per_hour: usage.openings_per_hour.to_vec(),
            open_s_min: usage.open_s_min,
            open_s_max: usage.open_s_max,
            forced_per_day: usage.forced_per_day,
            relock_s: 5.0,
            debounce_ms: 20.0,
            request_memory: 32,
            idempotent: true,
            chart_doors: 3,
            chart_from_h: 8.5,
            chart_hours: 1.5,
        }
    }
}

/// A door's state as the class codes it: bit 0 open, bit 1 unlocked.
fn code(open: bool, position: LockPosition) -> u64 {
    u64::from(open) | (u64::from(position == LockPosition::Unlocked) << 1)
}

/// A request the controller executed: its id, the position it asked for, and its answer once
/// the bolt has moved.
#[derive(Clone, Debug, PartialEq)]
struct Executed {
    id: String,
    target: LockPosition,
    answer: Option<(i32, Vec<u8>)>,
}

/// Every door controller of a class: `doors[i]`, `locks[i]` … are door `i`.
pub struct DoorClass {
    p: DoorParams,
    doors: Vec<Door>,
    reeds: Vec<ReedSwitch>,
    locks: Vec<Lock>,
    /// The door's people, and the hardware's own draws (bolt motor, reed bounce).
    people: Vec<CompactRng>,
    hw: Vec<CompactRng>,
    /// What the controller last saw and published: the debounced reed, the bolt.
    seen_open: Vec<bool>,
    seen_locked: Vec<bool>,
    /// When the reed's debounce ends (MAX: none running), and the relock is due.
    debounce_at: Vec<SimTime>,
    relock_at: Vec<SimTime>,
    /// The request moving the bolt, and the method calls waiting for its answer.
    moving_for: Vec<Option<usize>>,
    waiting: Vec<Vec<MethodRid>>,
    /// The requests each controller remembers, oldest first (in flash).
    memory: Vec<VecDeque<Executed>>,
    down: Vec<bool>,
    /// The true state of each door and its changes; the actuations by request id.
    state: Vec<u64>,
    changes: Vec<StateChange>,
    actuations: Vec<(SimTime, u32, String)>,
    answered_from_memory: u64,
    relocks: u64,
    jams: u64,
    blocked: u64,
    actions: Actions,
}

fn check(b: &ClassBuild<'_>, p: &DoorParams) -> Result<DoorUsage, FieldError> {
    let rates: [f64; 24] = p.openings_per_hour.as_slice().try_into().map_err(|_| {
        b.error(
            "openings_per_hour",
            format!(
                "{} values: expected 24, one per UTC hour",
                p.openings_per_hour.len()
            ),
        )
    })?;
    let usage = DoorUsage {
        openings_per_hour: rates,
        open_s_min: p.open_s_min,
        open_s_max: p.open_s_max,
        forced_per_day: p.forced_per_day,
        ..DoorUsage::office_entrance()
    };
    usage
        .validate()
        .map_err(|e| b.error(e.field, e.to_string()))?;
    if !(p.relock_s.is_finite() && (0.5..=3_600.0).contains(&p.relock_s)) {
        return Err(b.error(
            "relock_s",
            format!("{}: expected 0.5 to 3600 s", p.relock_s),
        ));
    }
    if !(p.debounce_ms.is_finite() && (0.0..=1_000.0).contains(&p.debounce_ms)) {
        return Err(b.error(
            "debounce_ms",
            format!("{}: expected 0 to 1000 ms", p.debounce_ms),
        ));
    }
    if !(p.chart_from_h.is_finite() && p.chart_from_h >= 0.0) {
        return Err(b.error(
            "chart_from_h",
            format!("{}: expected 0 or more hours", p.chart_from_h),
        ));
    }
    if !(p.chart_hours.is_finite() && p.chart_hours > 0.0) {
        return Err(b.error(
            "chart_hours",
            format!("{}: expected more than 0 hours", p.chart_hours),
        ));
    }
    if !(1..=1_000).contains(&p.request_memory) {
        return Err(b.error(
            "request_memory",
            format!("{}: expected 1 to 1000 request ids", p.request_memory),
        ));
    }
    Ok(usage)
}

impl DoorClass {
    fn new(b: &ClassBuild<'_>, p: DoorParams) -> Result<DoorClass, FieldError> {
        let usage = check(b, &p)?;
        let n = b.count as usize;
        let mut c = DoorClass {
            doors: Vec::with_capacity(n),
            reeds: vec![ReedSwitch::new(false); n],
            locks: vec![Lock::new(LockPosition::Locked); n],
            people: Vec::with_capacity(n),
            hw: Vec::with_capacity(n),
            seen_open: vec![false; n],
            seen_locked: vec![true; n],
            debounce_at: vec![SimTime::MAX; n],
            relock_at: vec![SimTime::MAX; n],
            moving_for: vec![None; n],
            waiting: vec![Vec::new(); n],
            memory: vec![VecDeque::new(); n],
            down: vec![false; n],
            state: vec![code(false, LockPosition::Locked); n],
            changes: Vec::new(),
            actuations: Vec::new(),
            answered_from_memory: 0,
            relocks: 0,
            jams: 0,
            blocked: 0,
            actions: Actions::default(),
            p,
        };
        for i in 0..b.count {
            let key = |purpose| StreamKey::new(b.name, u64::from(i), purpose);
            let mut people = b.seed.compact(key("people"));
            let door = Door::new(usage, b.epoch, SimTime::ZERO, &mut people)
                .map_err(|e| b.error(e.field, e.to_string()))?;
            c.doors.push(door);
            c.people.push(people);
            c.hw.push(b.seed.compact(key("hardware")));
            c.changes.push(StateChange {
                at: SimTime::ZERO,
                device: i,
                state: c.state[i as usize],
            });
        }
        Ok(c)
    }

    /// Records door `d`'s true state at `at` if it changed.
    fn truth(&mut self, d: usize, at: SimTime) {
        self.truth_as(d, at, self.doors[d].is_open());
    }

    /// Records door `d`'s true state at `at`, the door `open` or not, if it changed.
    fn truth_as(&mut self, d: usize, at: SimTime, open: bool) {
        let s = code(open, self.locks[d].position());
        if s != self.state[d] {
            self.state[d] = s;
            self.changes.push(StateChange {
                at,
                device: d as u32,
                state: s,
            });
        }
    }

    /// Publishes what the controller sees of door `d`.
    fn publish(&mut self, d: usize) {
        let v = [
            f64::from(u8::from(self.seen_open[d])),
            f64::from(u8::from(self.seen_locked[d])),
        ];
        self.actions.publish(d as u32, &v);
    }

    fn position_name(p: LockPosition) -> &'static str {
        match p {
            LockPosition::Locked => "locked",
            LockPosition::Unlocked => "unlocked",
        }
    }

    /// The lock's reports: the true state, what the controller sees, and the answers to the
    /// request that moved the bolt.
    fn lock_events(&mut self, d: usize) {
        while let Some(ev) = self.locks[d].poll_event() {
            let (at, position, status) = match ev {
                LockEvent::Reached { at, position } => (at, position, 200),
                LockEvent::Jammed { at, position } => {
                    self.jams += 1;
                    (at, position, 500)
                }
                LockEvent::Blocked { at, position } => {
                    self.blocked += 1;
                    (at, position, 409)
                }
                LockEvent::ManualOverride { at, position } => (at, position, 0),
            };
            self.truth(d, at);
            if self.down[d] {
                self.moving_for[d] = None;
                continue;
            }
            let locked = position == LockPosition::Locked;
            if locked != self.seen_locked[d] {
                self.seen_locked[d] = locked;
                self.publish(d);
            }
            // A retracted bolt relocks later; one that jammed or was blocked waits for the
            // door to be used again.
            if !locked && !self.seen_open[d] && matches!(status, 0 | 200) {
                self.relock_at[d] = at.saturating_add(SimDuration::from_secs_f64(self.p.relock_s));
            }
            if let Some(m) = self.moving_for[d].take() {
                let id = self.memory[d][m].id.clone();
                let target = self.memory[d][m].target;
                let (status, body) = if status == 0 {
                    // The thumb-turn cut the motion short: done if it went where the request
                    // asked, else overridden.
                    let status = if position == target { 200 } else { 409 };
                    let mut body =
                        json!({ "request_id": id, "position": Self::position_name(position) });
                    if status == 409 {
                        body["error"] = "overridden by hand".into();
                    }
                    (status, body)
                } else {
                    let mut body =
                        json!({ "request_id": id, "position": Self::position_name(position) });
                    if status == 500 {
                        body["error"] = "jammed".into();
                    } else if status == 409 {
                        body["error"] = "door open".into();
                    }
                    (status, body)
                };
                let body = serde_json::to_vec(&body).expect("JSON serialises");
                self.memory[d][m].answer = Some((status, body.clone()));
                for rid in std::mem::take(&mut self.waiting[d]) {
                    self.actions
                        .reply_method(d as u32, rid, status, body.clone());
                }
            }
        }
    }

    /// The door's own changes due by `now`.
    fn door_events(&mut self, d: usize, now: SimTime) {
        while self.doors[d].poll_timeout().is_some_and(|t| t <= now) {
            match self.doors[d].handle_timeout(now, &mut self.people[d]) {
                Some(DoorEvent::Opened { at, forced }) => {
                    if !forced && self.locks[d].position() == LockPosition::Locked {
                        // The thumb-turn comes first: for an instant the door is shut and
                        // unlocked (the controller may report just that).
                        self.locks[d].handle_manual(at, LockPosition::Unlocked);
                        self.truth_as(d, at, false);
                    }
                    self.locks[d].handle_door(at, true);
                    self.reeds[d].handle_door(at, true, &mut self.hw[d]);
                    self.truth(d, at);
                    self.lock_events(d);
                    self.debounced(d, at);
                }
                Some(DoorEvent::Closed { at }) => {
                    self.locks[d].handle_door(at, false);
                    self.reeds[d].handle_door(at, false, &mut self.hw[d]);
                    self.truth(d, at);
                    self.debounced(d, at);
                }
                None => break,
            }
        }
    }

    /// A reed transition at `at`: the firmware reads it once the debounce has passed.
    fn debounced(&mut self, d: usize, at: SimTime) {
        if !self.down[d] {
            let wait = SimDuration::from_secs_f64(self.p.debounce_ms / 1e3);
            self.debounce_at[d] = at.saturating_add(wait);
        }
    }

    /// Reads the reed switch (after its debounce) and publishes a change.
    fn read_reed(&mut self, d: usize, now: SimTime) {
        self.debounce_at[d] = SimTime::MAX;
        let truth = if self.doors[d].is_open() { 1.0 } else { 0.0 };
        let open = self.reeds[d]
            .measure(now, truth, &mut self.hw[d])
            .value()
            .is_some_and(|v| v >= 0.5);
        if open != self.seen_open[d] {
            self.seen_open[d] = open;
            self.publish(d);
            if open {
                self.relock_at[d] = SimTime::MAX;
            } else if !self.seen_locked[d] {
                self.relock_at[d] = now.saturating_add(SimDuration::from_secs_f64(self.p.relock_s));
            }
        }
    }

    /// The auto-relock: throws the bolt if the door is shut and nothing else moves it.
    fn relock(&mut self, d: usize, now: SimTime) {
        self.relock_at[d] = SimTime::MAX;
        if self.seen_open[d] || self.seen_locked[d] || self.locks[d].is_moving() {
            return;
        }
        self.relocks += 1;
        self.locks[d].handle_command(now, LockPosition::Locked, &mut self.hw[d]);
        self.lock_events(d);
    }

    /// Executes a request: remembers it, and starts the bolt.
    fn execute(&mut self, d: usize, now: SimTime, id: &str, target: LockPosition, rid: MethodRid) {
        self.actuations.push((now, d as u32, id.to_string()));
        let memory = &mut self.memory[d];
        if memory.len() >= self.p.request_memory as usize {
            memory.pop_front();
            // The index of the moving request shifts with the memory.
            self.moving_for[d] = self.moving_for[d].and_then(|m| m.checked_sub(1));
        }
        memory.push_back(Executed {
            id: id.to_string(),
            target,
            answer: None,
        });
        self.moving_for[d] = Some(memory.len() - 1);
        self.waiting[d] = vec![rid];
        self.relock_at[d] = SimTime::MAX;
        self.locks[d].handle_command(now, target, &mut self.hw[d]);
        self.lock_events(d);
    }

    /// A repeated request id: its first answer, the motion it is waiting for, or (the reply
    /// was lost with a restart) the bolt's position now.
    fn remembered(&mut self, d: usize, m: usize, rid: MethodRid) -> MethodReply {
        self.answered_from_memory += 1;
        let e = &self.memory[d][m];
        if let Some((status, body)) = &e.answer {
            return MethodReply::Now {
                status: *status,
                body: body.clone(),
            };
        }
        if self.moving_for[d] == Some(m) {
            self.waiting[d].push(rid);
            return MethodReply::Later;
        }
        let position = self.locks[d].position();
        let status = if position == e.target { 200 } else { 500 };
        let body = json!({ "request_id": e.id, "position": Self::position_name(position) });
        MethodReply::Now {
            status,
            body: serde_json::to_vec(&body).expect("JSON serialises"),
        }
    }

    fn refuse(status: i32, error: &str) -> MethodReply {
        MethodReply::Now {
            status,
            body: serde_json::to_vec(&json!({ "error": error })).expect("JSON serialises"),
        }
    }

    /// The firmware runs again after a crash: it reads the door and the bolt afresh.
    fn wake(&mut self, d: usize, now: SimTime) {
        if !self.down[d] {
            return;
        }
        self.down[d] = false;
        self.seen_open[d] = self.doors[d].is_open();
        self.seen_locked[d] = self.locks[d].position() == LockPosition::Locked;
        if !self.seen_open[d] && !self.seen_locked[d] {
            self.relock_at[d] = now.saturating_add(SimDuration::from_secs_f64(self.p.relock_s));
        }
    }

    /// Duplicate actuations: the actuations beyond the first of each request id.
    fn duplicate_actuations(&self) -> u64 {
        let mut per_id: BTreeMap<(u32, &str), u64> = BTreeMap::new();
        for (_, d, id) in &self.actuations {
            *per_id.entry((*d, id.as_str())).or_default() += 1;
        }
        per_id.values().map(|n| n - 1).sum()
    }
}

impl DeviceLogic for DoorClass {
    fn sample(&mut self, device: u32, now: SimTime, out: &mut [f64; FIELDS_MAX]) -> usize {
        let d = device as usize;
        self.wake(d, now);
        out[0] = f64::from(u8::from(self.seen_open[d]));
        out[1] = f64::from(u8::from(self.seen_locked[d]));
        2
    }

    fn on_method(&mut self, device: u32, now: SimTime, call: MethodCall<'_>) -> MethodReply {
        let d = device as usize;
        self.wake(d, now);
        let target = match call.name {
            "unlock" => LockPosition::Unlocked,
            "lock" => LockPosition::Locked,
            _ => return Self::refuse(404, "unknown method"),
        };
        let payload: Value = serde_json::from_slice(call.payload).unwrap_or(Value::Null);
        let Some(id) = payload.get("request_id").and_then(Value::as_str) else {
            return Self::refuse(400, "request_id missing");
        };
        if self.p.idempotent {
            if let Some(m) = self.memory[d].iter().rposition(|e| e.id == id) {
                return self.remembered(d, m, call.rid);
            }
        }
        if self.moving_for[d].is_some() {
            return Self::refuse(409, "busy");
        }
        if target == LockPosition::Locked && self.seen_open[d] {
            return Self::refuse(409, "door open");
        }
        self.execute(d, now, id, target, call.rid);
        // A bolt already in place answers at once, through the outbox.
        MethodReply::Later
    }

    fn reported_on_connect(&mut self, device: u32, now: SimTime) -> Option<Value> {
        let d = device as usize;
        self.wake(d, now);
        // A fresh connection (after an outage or a restart) brings the back end up to date.
        self.publish(d);
        None
    }
}

impl DeviceClass for DoorClass {
    fn len(&self) -> u32 {
        self.doors.len() as u32
    }

    fn has_timers(&self) -> bool {
        true
    }

    fn poll_timeout(&self, device: u32) -> Option<SimTime> {
        let d = device as usize;
        [
            self.doors[d].poll_timeout(),
            self.locks[d].poll_timeout(),
            Some(self.debounce_at[d]),
            Some(self.relock_at[d]),
        ]
        .into_iter()
        .flatten()
        .filter(|t| *t != SimTime::MAX)
        .min()
    }

    fn handle_timeout(&mut self, device: u32, now: SimTime) {
        let d = device as usize;
        self.door_events(d, now);
        self.locks[d].handle_timeout(now);
        self.lock_events(d);
        if self.debounce_at[d] <= now {
            self.read_reed(d, now);
        }
        if self.relock_at[d] <= now {
            self.relock(d, now);
        }
    }

    fn on_crash(&mut self, device: u32, _now: SimTime) {
        let d = device as usize;
        self.down[d] = true;
        // The firmware's RAM: the pending replies, the timers. The memory is in flash.
        self.waiting[d].clear();
        self.debounce_at[d] = SimTime::MAX;
        self.relock_at[d] = SimTime::MAX;
    }

    fn on_fault(&mut self, device: u32, _now: SimTime, fault: &str, active: bool) {
        if fault == "lock_jammed" {
            self.locks[device as usize].set_jam_fault(active);
        }
    }

    fn poll_action(&mut self) -> Option<DeviceAction> {
        self.actions.pop()
    }

    fn states(&self) -> Vec<StateChange> {
        self.changes.clone()
    }

    fn report(&self, end: SimTime) -> ClassReport {
        let requests: std::collections::BTreeSet<(u32, &str)> = self
            .actuations
            .iter()
            .map(|(_, d, id)| (*d, id.as_str()))
            .collect();
        let mut r = ClassReport::from_figures(vec![
            (
                "door_changes".into(),
                (self.changes.len() - self.doors.len()) as f64,
            ),
            ("actuations".into(), self.actuations.len() as f64),
            ("requests_actuated".into(), requests.len() as f64),
            (
                "duplicate_actuations".into(),
                self.duplicate_actuations() as f64,
            ),
            (
                "answered_from_memory".into(),
                self.answered_from_memory as f64,
            ),
            ("relocks".into(), self.relocks as f64),
            ("jams".into(), self.jams as f64),
            ("blocked".into(), self.blocked as f64),
        ]);
        r.charts.push(self.states_chart(end));
        r.charts.push(self.building_chart(end));
        r
    }
}

impl DoorClass {
    /// The charted doors' true states over the chart's window, as steps (each door on its
    /// own band of 4).
    fn states_chart(&self, end: SimTime) -> Chart {
        let hours = |t: SimTime| t.as_secs_f64() / 3_600.0;
        let from_h = self.p.chart_from_h.min(hours(end));
        let to_h = (from_h + self.p.chart_hours).min(hours(end));
        let n = (self.p.chart_doors as usize).min(self.doors.len());
        let series = (0..n)
            .map(|k| {
                let band = 4.0 * k as f64;
                let mine: Vec<&StateChange> = self
                    .changes
                    .iter()
                    .filter(|c| c.device as usize == k)
                    .collect();
                let before = mine.iter().rev().find(|c| hours(c.at) <= from_h);
                let mut last = before.map_or(0, |c| c.state);
                let mut pts = vec![(from_h, band + last as f64)];
                for c in mine
                    .iter()
                    .filter(|c| hours(c.at) > from_h && hours(c.at) <= to_h)
                {
                    pts.push((hours(c.at), band + last as f64));
                    pts.push((hours(c.at), band + c.state as f64));
                    last = c.state;
                }
                pts.push((to_h, band + last as f64));
                (format!("door {k}"), pts)
            })
            .collect();
        Chart::lines(
            &format!("Door states, {from_h:.1}–{to_h:.1} h (sample doors, true state)"),
            "hour",
            "door k at 4k: +0 locked, +1 forced open, +2 unlocked, +3 open",
            series,
        )
    }

    /// How many doors stood open and unlocked, building-wide, each minute.
    fn building_chart(&self, end: SimTime) -> Chart {
        let mut state = vec![0u64; self.doors.len()];
        let mut changes = self.changes.clone();
        changes.sort();
        let mut open = Vec::new();
        let mut unlocked = Vec::new();
        let mut i = 0;
        let minutes = end.as_secs() / 60;
        for m in 0..=minutes {
            let t = SimTime::from_secs(m * 60);
            while i < changes.len() && changes[i].at <= t {
                state[changes[i].device as usize] = changes[i].state;
                i += 1;
            }
            let h = t.as_secs_f64() / 3_600.0;
            open.push((h, state.iter().filter(|s| *s & 1 == 1).count() as f64));
            unlocked.push((h, state.iter().filter(|s| *s & 2 == 2).count() as f64));
        }
        Chart::lines(
            "Doors open and unlocked, building-wide (true state, each minute)",
            "hour",
            "doors",
            vec![("open".into(), open), ("unlocked".into(), unlocked)],
        )
    }
}

/// The registry entry: `kind = "doorlock/1"`.
pub fn kind() -> ClassKind {
    ClassKind::new(
        "doorlock/1",
        "a door's controller: reed switch (debounced), electronic deadbolt with its actuation time and auto-relock, unlock/lock methods idempotent by request id; door states as ground truth",
        |b| {
            let p: DoorParams = b.params()?;
            Ok(Box::new(DoorClass::new(b, p)?))
        },
    )
    .samples(&["door_open", "locked"])
    .model("scenarios/dtdl/doorlock.json", include_str!("../../dtdl/doorlock.json"))
    .faults(&[("lock_jammed", "the bolt's motor stalls: commanded moves fail, the thumb-turn still works")])
    .default_params(&DoorParams::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hardware::radio::RadioProfile;
    use sim::{Epoch, Seed};

    /// A class of `count` doors nobody opens (unless `params` says so).
    fn class(count: u32, params: &str) -> DoorClass {
        let mut table: toml::Table = toml::from_str(params).unwrap();
        table
            .entry("openings_per_hour")
            .or_insert_with(|| toml::Value::try_from(vec![0.0; 24]).unwrap());
        table
            .entry("forced_per_day")
            .or_insert(toml::Value::Float(0.0));
        let radio = RadioProfile::wifi();
        let b = ClassBuild {
            seed: Seed(5),
            epoch: Epoch::DEFAULT,
            name: "doors",
            count,
            telemetry: &[],
            radio: &radio,
            params: &table,
        };
        DoorClass::new(&b, b.params().unwrap()).unwrap()
    }

    fn call<'a>(rid: u64, name: &'a str, payload: &'a [u8]) -> MethodCall<'a> {
        MethodCall {
            rid: MethodRid::from_bits(rid),
            name,
            payload,
        }
    }

    /// Runs door 0's timers until `end`.
    fn run_until(c: &mut DoorClass, end: SimTime) {
        while let Some(t) = c.poll_timeout(0).filter(|t| *t <= end) {
            c.handle_timeout(0, t);
        }
    }

    /// The method replies queued, as (rid bits, status, body).
    fn replies(c: &mut DoorClass) -> Vec<(u64, i32, Value)> {
        let mut out = Vec::new();
        while let Some(a) = c.poll_action() {
            if let DeviceAction::ReplyMethod {
                rid, status, body, ..
            } = a
            {
                out.push((
                    rid.to_bits(),
                    status,
                    serde_json::from_slice(&body).unwrap(),
                ));
            }
        }
        out
    }

    const UNLOCK_7: &[u8] = br#"{"request_id":"r-7","user":"u-1"}"#;

    #[test]
    fn an_unlock_is_answered_once_the_bolt_has_moved_and_then_relocks() {
        let mut c = class(1, "relock_s = 5.0");
        let t0 = SimTime::from_secs(10);
        assert_eq!(
            c.on_method(0, t0, call(1, "unlock", UNLOCK_7)),
            MethodReply::Later
        );
        assert!(replies(&mut c).is_empty(), "the motor is still running");
        let arrives = c.locks[0].poll_timeout().unwrap();
        assert!(
            arrives >= t0 + SimDuration::from_millis(400)
                && arrives <= t0 + SimDuration::from_millis(1_200)
        );
        c.handle_timeout(0, arrives);
        let r = replies(&mut c);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].0, r[0].1), (1, 200));
        assert_eq!(r[0].2["position"], "unlocked");
        assert_eq!(c.actuations, vec![(t0, 0, "r-7".to_string())]);
        // Nobody opens the door: it relocks 5 s after the bolt retracted.
        run_until(&mut c, arrives + SimDuration::from_secs(8));
        assert_eq!(c.locks[0].position(), LockPosition::Locked);
        assert_eq!(c.relocks, 1);
        let states: Vec<u64> = c.changes.iter().map(|s| s.state).collect();
        assert_eq!(states, vec![0, 2, 0]);
    }

    #[test]
    fn a_repeated_request_id_gets_the_first_answer_without_actuating_again() {
        let mut c = class(1, "");
        let t0 = SimTime::from_secs(10);
        c.on_method(0, t0, call(1, "unlock", UNLOCK_7));
        // The retry arrives while the bolt is still moving: it waits for the same answer.
        let t1 = t0 + SimDuration::from_millis(100);
        assert_eq!(
            c.on_method(0, t1, call(2, "unlock", UNLOCK_7)),
            MethodReply::Later
        );
        let arrives = c.locks[0].poll_timeout().unwrap();
        c.handle_timeout(0, arrives);
        let r = replies(&mut c);
        assert_eq!(
            r.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
            vec![(1, 200), (2, 200)]
        );
        // Relocked, a third copy is answered from memory: the bolt stays locked.
        run_until(&mut c, SimTime::from_secs(60));
        assert_eq!(c.locks[0].position(), LockPosition::Locked);
        let MethodReply::Now { status, body } =
            c.on_method(0, SimTime::from_secs(61), call(3, "unlock", UNLOCK_7))
        else {
            panic!("a remembered request is answered at once")
        };
        assert_eq!(status, 200);
        assert_eq!(body, serde_json::to_vec(&r[0].2).unwrap());
        assert_eq!(c.locks[0].position(), LockPosition::Locked);
        assert_eq!(c.actuations.len(), 1);
        assert_eq!(c.duplicate_actuations(), 0);
        assert_eq!(c.answered_from_memory, 2);
    }

    #[test]
    fn without_idempotency_a_repeated_request_actuates_again() {
        let mut c = class(1, "idempotent = false");
        c.on_method(0, SimTime::from_secs(10), call(1, "unlock", UNLOCK_7));
        run_until(&mut c, SimTime::from_secs(60));
        assert_eq!(c.locks[0].position(), LockPosition::Locked, "relocked");
        c.on_method(0, SimTime::from_secs(61), call(2, "unlock", UNLOCK_7));
        assert!(c.locks[0].is_moving(), "the bolt moves a second time");
        assert_eq!(c.duplicate_actuations(), 1);
    }

    #[test]
    fn the_memory_holds_the_last_request_ids_only() {
        let mut c = class(1, "request_memory = 2");
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            let payload = format!(r#"{{"request_id":"{id}"}}"#);
            let t = SimTime::from_secs(100 * (i as u64 + 1));
            c.on_method(0, t, call(i as u64, "unlock", payload.as_bytes()));
            run_until(&mut c, t + SimDuration::from_secs(30));
        }
        let kept: Vec<&str> = c.memory[0].iter().map(|e| e.id.as_str()).collect();
        assert_eq!(kept, vec!["b", "c"]);
        // "a" has been forgotten: it actuates again.
        c.on_method(
            0,
            SimTime::from_secs(500),
            call(9, "unlock", br#"{"request_id":"a"}"#),
        );
        assert_eq!(c.duplicate_actuations(), 1);
    }

    #[test]
    fn a_lock_while_the_door_stands_open_is_refused_and_bad_calls_are_answered() {
        let mut c = class(1, "");
        c.seen_open[0] = true;
        c.locks[0].handle_door(SimTime::from_secs(1), true);
        let reply = c.on_method(0, SimTime::from_secs(2), call(1, "lock", UNLOCK_7));
        assert!(
            matches!(reply, MethodReply::Now { status: 409, .. }),
            "{reply:?}"
        );
        assert!(c.actuations.is_empty());
        let missing = c.on_method(0, SimTime::from_secs(2), call(2, "unlock", b"{}"));
        assert!(matches!(missing, MethodReply::Now { status: 400, .. }));
        let unknown = c.on_method(0, SimTime::from_secs(2), call(3, "open", UNLOCK_7));
        assert!(matches!(unknown, MethodReply::Now { status: 404, .. }));
    }

    #[test]
    fn people_open_doors_by_day_and_the_controller_reports_every_change() {
        let mut c = class(
            1,
            r#"openings_per_hour = [2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 15.0, 40.0, 25.0, 12.0, 12.0, 30.0, 25.0, 12.0, 12.0, 15.0, 40.0, 20.0, 6.0, 2.0, 2.0, 2.0, 2.0]"#,
        );
        run_until(&mut c, SimTime::from_secs(86_400));
        let opened_at: Vec<u8> = c
            .changes
            .windows(2)
            .filter(|w| w[0].state & 1 == 0 && w[1].state & 1 == 1)
            .map(|w| Epoch::DEFAULT.hour_of_day(w[1].at))
            .collect();
        let by_day = opened_at.iter().filter(|h| (7..19).contains(*h)).count();
        assert!(by_day > 4 * (opened_at.len() - by_day), "{opened_at:?}");
        // Each opening of the locked door: thumb-turn, open, shut, relock.
        assert!(c.changes.iter().all(|s| s.state != 1), "no forced openings");
        // A door reopened before its relock needs no thumb-turn: fewer relocks than openings.
        assert!(c.relocks > 0 && c.relocks as usize <= opened_at.len());
        let mut published = 0;
        while let Some(a) = c.poll_action() {
            if matches!(a, DeviceAction::Publish { .. }) {
                published += 1;
            }
        }
        // Four changes an opening, each published once (the debounce hides the bounce).
        assert_eq!(published, c.changes.len() - 1);
    }

    #[test]
    fn a_jammed_bolt_answers_500_and_a_restart_keeps_the_memory() {
        let mut c = class(1, "");
        c.on_fault(0, SimTime::ZERO, "lock_jammed", true);
        c.on_method(0, SimTime::from_secs(5), call(1, "unlock", UNLOCK_7));
        run_until(&mut c, SimTime::from_secs(10));
        let r = replies(&mut c);
        assert_eq!((r[0].1, r[0].2["error"].as_str()), (500, Some("jammed")));
        c.on_crash(0, SimTime::from_secs(20));
        let MethodReply::Now { status, .. } =
            c.on_method(0, SimTime::from_secs(30), call(2, "unlock", UNLOCK_7))
        else {
            panic!("answered from memory")
        };
        assert_eq!(status, 500);
        assert_eq!(c.actuations.len(), 1);
    }

    #[test]
    fn the_device_model_declares_what_the_controller_sends_and_answers() {
        let model = crate::dtdl::Interface::parse(
            "doorlock.json",
            include_str!("../../dtdl/doorlock.json"),
        )
        .unwrap();
        let telemetry: Vec<&str> = model.telemetry.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(telemetry, vec!["door_open", "locked", "ts"]);
        let fields = |s: &crate::dtdl::Schema| match s {
            crate::dtdl::Schema::Object(f) => f.iter().map(|(n, _)| n.clone()).collect(),
            other => panic!("an object schema, not {other:?}"),
        };
        let mut c = class(1, "");
        c.on_fault(0, SimTime::ZERO, "lock_jammed", true);
        for (i, name) in ["unlock", "lock"].iter().enumerate() {
            let cmd = model
                .command(name)
                .unwrap_or_else(|| panic!("no command {name}"));
            let request: Vec<String> = fields(&cmd.request.as_ref().unwrap().1);
            assert!(request.contains(&"request_id".to_string()));
            // Every key of every answer the controller gives is in the response schema.
            let response: Vec<String> = fields(&cmd.response.as_ref().unwrap().1);
            let payload = format!(r#"{{"request_id":"m-{i}"}}"#);
            let t = SimTime::from_secs(10 + 10 * i as u64);
            c.on_method(0, t, call(i as u64, name, payload.as_bytes()));
            run_until(&mut c, t + SimDuration::from_secs(2));
            let answers = replies(&mut c);
            assert_eq!(answers.len(), 1, "{name}");
            for (_, _, body) in answers {
                for key in body.as_object().unwrap().keys() {
                    assert!(response.contains(key), "{name}: {key} not in {response:?}");
                }
            }
        }
    }
}
