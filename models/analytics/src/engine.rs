//! The rule engine: per-device condition state updated on every reading, alerts on the
//! rising edge of a rule, notifications and dashboard updates.
//!
//! Call order: `handle_event(now, &event)` for each reading (de-duplicated, e.g. from the
//! store's change feed, or straight from a hub endpoint), then drain `poll_notification()`
//! into the sinks. `now` is the back end's processing time and becomes the alert time; the
//! reading's own `event_time` drives windows and durations.
//!
//! **Episodes.** A rule is *active* while its combined conditions hold. It alerts when it
//! becomes active, unless an alert of the same rule and device was raised less than
//! `cooldown_s` ago (then the episode is counted as suppressed and raises nothing, even if
//! it lasts past the cool-down). Hysteresis lives in the conditions: a condition that
//! became true stays true until its clear threshold is crossed, so noise around the
//! threshold is one episode, not many.
//!
//! **State.** One contiguous record per device of 32-byte cells: the dashboard status,
//! one per rule, one per condition (224 bytes for the herd's three rules), so a reading
//! touches one region of memory, which [`RuleEngine::prefetch`] can start loading a few
//! readings ahead; no allocation on the hot path except when an alert is raised. Stuck
//! detection keeps an anchor (the running mean of the fixes since it was set, so GNSS
//! scatter around a still animal converges instead of re-anchoring) and the time since
//! which every fix stayed near it, not a window of fixes.
//!
//! **Left out.** Windows are evaluated when the device's first reading of a later window
//! arrives (a device that falls silent has its last window evaluated late or never);
//! readings older than the current window are ignored (counted). Rules on properties,
//! cloud-property references and device-template targeting (§6) are not modelled.

use crate::config::{
    ActionConfig, AnalyticsConfig, Combine, Comparison, ConditionConfig, GeofenceTrigger,
    WindowAggregate,
};
use crate::geo::{cos_deg, distance_sq_m2, Polygon};
use crate::notify::{Alert, Dashboard, DeviceStatus, Notification, RuleId};
use crate::score::{score_rule, Score, TruthEpisode};
use sim::{Epoch, SimDuration, SimTime};
use std::collections::VecDeque;
use std::fmt::Write;
use store::{DeviceIndex, IngestEvent, Schema};
use thiserror::Error;

/// A configuration the engine refuses: where, what was given, what was expected.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{path}: {value}, expected {expected}")]
pub struct ConfigError {
    pub path: String,
    pub value: String,
    pub expected: String,
}

fn bad(path: String, value: impl std::fmt::Debug, expected: &str) -> ConfigError {
    ConfigError {
        path,
        value: format!("{value:?}"),
        expected: expected.to_owned(),
    }
}

/// Counters of the engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub readings: u64,
    pub alerts_raised: u64,
    /// Episodes that began within a cool-down and raised nothing.
    pub alerts_suppressed_by_cooldown: u64,
    /// Readings older than their window condition's current window.
    pub late_window_readings: u64,
}

#[derive(Clone, Debug)]
enum Cond {
    Consecutive {
        col: usize,
        op: Comparison,
        value: f64,
        clear: f64,
        readings: u16,
    },
    Window {
        col: usize,
        aggregate: WindowAggregate,
        window_ms: i64,
        op: Comparison,
        value: f64,
        clear: f64,
    },
    Stuck {
        lat: usize,
        lon: usize,
        radius_m2: f64,
        clear_m2: f64,
        window: SimDuration,
    },
    Geofence {
        lat: usize,
        lon: usize,
        polygon: Polygon,
        enter: bool,
    },
}

/// One 32-byte cell of a device's record: `[Status, Rule × rules, condition × conditions]`,
/// contiguous so a reading touches one region of memory (one page-table walk at scale).
#[derive(Clone, Copy, Debug, PartialEq)]
enum CondState {
    /// The device's dashboard status.
    Status(DeviceStatus),
    /// A rule's episode state.
    Rule {
        active: bool,
        last_alert: SimTime,
    },
    Consecutive {
        run: u16,
        active: bool,
    },
    Window {
        window: i64,
        acc: f64,
        count: u32,
        active: bool,
    },
    Stuck {
        anchor_lat_e7: i32,
        anchor_lon_e7: i32,
        cos_lat: f32,
        /// Fixes averaged into the anchor since it was set (saturating).
        fixes: u16,
        anchored: bool,
        active: bool,
        since: SimTime,
    },
    Geofence {
        /// 0: no fix yet, 1: inside, 2: outside.
        side: u8,
        active: bool,
    },
}

const NO_ALERT_YET: SimTime = SimTime::MAX;

/// Most rules one engine evaluates (one bit each in the per-reading fire mask).
pub const MAX_RULES: usize = 64;

struct Rule {
    name: String,
    truth: Option<String>,
    combine: Combine,
    first_cond: usize,
    end_cond: usize,
    cooldown: SimDuration,
    actions: Vec<ActionConfig>,
}

#[inline]
fn beyond(op: Comparison, x: f64, threshold: f64) -> bool {
    match op {
        Comparison::Above => x > threshold,
        Comparison::Below => x < threshold,
    }
}

#[inline]
fn cleared(op: Comparison, x: f64, clear: f64) -> bool {
    match op {
        Comparison::Above => x <= clear,
        Comparison::Below => x >= clear,
    }
}

/// The analytics back end's rule engine, dashboard and alert log.
pub struct RuleEngine {
    epoch: Epoch,
    epoch_ms: i64,
    schema: Schema,
    rules: Vec<Rule>,
    conds: Vec<Cond>,
    /// The record of a device never heard from.
    initial: Vec<CondState>,
    /// Records of devices `0..devices`, `initial.len()` cells each.
    cells: Vec<CondState>,
    devices: usize,
    dashboard: Dashboard,
    alerts: Vec<Alert>,
    outbox: VecDeque<Notification>,
    stats: EngineStats,
}

impl RuleEngine {
    /// Compiles `config` against the store's `schema`; column names must exist.
    pub fn new(
        config: &AnalyticsConfig,
        schema: &Schema,
        epoch: Epoch,
    ) -> Result<Self, ConfigError> {
        if config.rules.len() > MAX_RULES {
            return Err(bad(
                "rules".into(),
                config.rules.len(),
                &format!("at most {MAX_RULES} rules"),
            ));
        }
        let mut rules = Vec::new();
        let mut conds = Vec::new();
        for (ri, r) in config.rules.iter().enumerate() {
            let at = |field: &str| format!("rules[{ri}].{field}");
            if r.name.is_empty() {
                return Err(bad(at("name"), &r.name, "a non-empty rule name"));
            }
            if rules.iter().any(|x: &Rule| x.name == r.name) {
                return Err(bad(at("name"), &r.name, "a name no other rule has"));
            }
            if r.conditions.is_empty() {
                return Err(bad(at("conditions"), "[]", "at least one condition"));
            }
            let first_cond = conds.len();
            for (ci, c) in r.conditions.iter().enumerate() {
                conds.push(compile(
                    c,
                    schema,
                    &format!("rules[{ri}].conditions[{ci}]"),
                )?);
            }
            for (ai, a) in r.actions.iter().enumerate() {
                if a.to.is_empty() {
                    return Err(bad(at(&format!("actions[{ai}].to")), &a.to, "a recipient"));
                }
            }
            rules.push(Rule {
                name: r.name.clone(),
                truth: r.truth.clone(),
                combine: r.combine,
                first_cond,
                end_cond: conds.len(),
                cooldown: SimDuration::from_secs(r.cooldown_s),
                actions: r.actions.clone(),
            });
        }
        let mut initial = vec![CondState::Status(DeviceStatus::default())];
        initial.extend(rules.iter().map(|_| CondState::Rule {
            active: false,
            last_alert: NO_ALERT_YET,
        }));
        initial.extend(conds.iter().map(initial_state));
        Ok(RuleEngine {
            epoch,
            epoch_ms: epoch.unix_secs() * 1_000,
            schema: schema.clone(),
            rules,
            conds,
            initial,
            cells: Vec::new(),
            devices: 0,
            dashboard: Dashboard::default(),
            alerts: Vec::new(),
            outbox: VecDeque::new(),
            stats: EngineStats::default(),
        })
    }

    /// Sizes per-device state for devices `0..devices` up front (it also grows on demand).
    pub fn reserve_devices(&mut self, devices: usize) {
        if devices <= self.devices {
            return;
        }
        self.cells
            .reserve((devices - self.devices) * self.initial.len());
        for _ in self.devices..devices {
            self.cells.extend_from_slice(&self.initial);
        }
        self.devices = devices;
    }

    pub fn rule_names(&self) -> Vec<String> {
        self.rules.iter().map(|r| r.name.clone()).collect()
    }
    pub fn rule_id(&self, name: &str) -> Option<RuleId> {
        self.rules
            .iter()
            .position(|r| r.name == name)
            .map(|i| RuleId(i as u16))
    }
    pub fn stats(&self) -> EngineStats {
        self.stats
    }
    pub fn dashboard(&self) -> &Dashboard {
        &self.dashboard
    }
    /// What the dashboard shows for one device (default if never seen).
    pub fn device_status(&self, device: DeviceIndex) -> DeviceStatus {
        let stride = self.initial.len();
        match self.cells.get(device.0 as usize * stride) {
            Some(CondState::Status(s)) => *s,
            _ => DeviceStatus::default(),
        }
    }
    fn status_mut(&mut self, device: DeviceIndex) -> Option<&mut DeviceStatus> {
        let stride = self.initial.len();
        match self.cells.get_mut(device.0 as usize * stride) {
            Some(CondState::Status(s)) => Some(s),
            _ => None,
        }
    }
    /// Every alert raised so far, in order.
    pub fn alerts(&self) -> &[Alert] {
        &self.alerts
    }
    /// The dashboard as text, with up to `rows` open alerts.
    pub fn render_dashboard(&self, rows: usize) -> String {
        self.dashboard.render(&self.rule_names(), self.epoch, rows)
    }

    /// The next notification to hand to the sinks.
    pub fn poll_notification(&mut self) -> Option<Notification> {
        self.outbox.pop_front()
    }

    /// Starts loading `device`'s rule state into cache, for a reading that will arrive a
    /// few events from now (e.g. [`store::TimeSeriesStore::upcoming_device`]). Only a
    /// hint: it changes nothing.
    #[inline]
    pub fn prefetch(&self, device: DeviceIndex) {
        let d = device.0 as usize;
        if d >= self.devices {
            return;
        }
        let stride = self.initial.len();
        let record = &self.cells[d * stride..(d + 1) * stride];
        // Two 32-byte cells per 64-byte line; the last cell covers a record that ends
        // on a line of its own.
        for cell in record.iter().step_by(2) {
            store::hint::prefetch(cell);
        }
        if let Some(last) = record.last() {
            store::hint::prefetch(last);
        }
    }

    /// Evaluates every rule on one reading processed at `now`.
    pub fn handle_event(&mut self, now: SimTime, event: &IngestEvent) {
        let d = event.device.0 as usize;
        if d >= self.devices {
            self.reserve_devices(d + 1);
        }
        self.stats.readings += 1;
        let nr = self.rules.len();
        let stride = self.initial.len();
        let record = &mut self.cells[d * stride..(d + 1) * stride];
        let (head, cond_states) = record.split_at_mut(1 + nr);
        let (status, rule_states) = head.split_at_mut(1);
        if let CondState::Status(s) = &mut status[0] {
            if s.readings == 0 {
                self.dashboard.devices_seen += 1;
            }
            s.readings = s.readings.saturating_add(1);
            s.last_reading = Some(
                s.last_reading
                    .map_or(event.event_time, |t| t.max(event.event_time)),
            );
        }
        // Rules that fire or clear on this reading, by bit (at most 64 rules); alerts
        // and dashboard updates need `&mut self`, so they follow the loop.
        let mut raised = 0u64;
        let mut cleared_rules = 0u64;
        let mut late = 0u64;
        let mut suppressed = 0u64;
        for (r, rule) in self.rules.iter().enumerate() {
            let mut all = true;
            let mut any = false;
            // Indexing compiles to fewer instructions here than zipping the two slices
            // (measured with callgrind: about 70 per reading for the herd's rules).
            #[allow(clippy::needless_range_loop)]
            for c in rule.first_cond..rule.end_cond {
                let active = update(
                    &self.conds[c],
                    &mut cond_states[c],
                    event,
                    self.epoch_ms,
                    &mut late,
                );
                all &= active;
                any |= active;
            }
            let active = match rule.combine {
                Combine::All => all,
                Combine::Any => any,
            };
            let CondState::Rule {
                active: rule_active,
                last_alert,
            } = &mut rule_states[r]
            else {
                continue;
            };
            let was_active = *rule_active;
            *rule_active = active;
            if active && !was_active {
                let in_cooldown =
                    *last_alert != NO_ALERT_YET && now < last_alert.saturating_add(rule.cooldown);
                if in_cooldown {
                    suppressed += 1;
                } else {
                    *last_alert = now;
                    raised |= 1 << r;
                }
            } else if !active && was_active {
                cleared_rules |= 1 << r;
            }
        }
        self.stats.late_window_readings += late;
        self.stats.alerts_suppressed_by_cooldown += suppressed;
        while raised != 0 {
            let r = raised.trailing_zeros() as u16;
            raised &= raised - 1;
            self.raise(now, RuleId(r), event);
        }
        while cleared_rules != 0 {
            let r = cleared_rules.trailing_zeros() as u16;
            cleared_rules &= cleared_rules - 1;
            if self
                .dashboard
                .open
                .remove(&(RuleId(r), event.device))
                .is_some()
            {
                if let Some(s) = self.status_mut(event.device) {
                    s.open_alerts -= 1;
                    if s.open_alerts == 0 {
                        self.dashboard.devices_alerting -= 1;
                    }
                }
            }
        }
    }

    fn raise(&mut self, now: SimTime, rule_id: RuleId, event: &IngestEvent) {
        self.stats.alerts_raised += 1;
        self.alerts.push(Alert {
            rule: rule_id,
            device: event.device,
            raised_at: now,
            reading_time: event.event_time,
        });
        if self
            .dashboard
            .open
            .insert((rule_id, event.device), now)
            .is_none()
        {
            if let Some(s) = self.status_mut(event.device) {
                s.open_alerts += 1;
                if s.open_alerts == 1 {
                    self.dashboard.devices_alerting += 1;
                }
            }
        }
        let rule = &self.rules[rule_id.0 as usize];
        if rule.actions.is_empty() {
            return;
        }
        let subject = format!("{}: device {}", rule.name, event.device.0);
        let mut body = format!(
            "Rule \"{}\" fired for device {} at {} on its reading of {}:",
            rule.name,
            event.device.0,
            self.epoch.utc(now),
            self.epoch.utc(event.event_time)
        );
        for (name, v) in self.schema.names().iter().zip(&event.values) {
            if !v.is_nan() {
                let _ = write!(body, " {name}={v}");
            }
        }
        for a in &rule.actions {
            self.outbox.push_back(Notification {
                rule: rule_id,
                device: event.device,
                raised_at: now,
                channel: a.channel,
                to: a.to.clone(),
                subject: subject.clone(),
                body: body.clone(),
            });
        }
    }

    /// Scores every rule that names a truth kind against the true episodes: an alert of
    /// the rule for the episode's device within `[start, end + grace]` detects it.
    pub fn score(&self, truth: &[TruthEpisode], grace: SimDuration) -> Vec<Score> {
        self.rules
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let kind = r.truth.as_deref()?;
                let alerts: Vec<Alert> = self
                    .alerts
                    .iter()
                    .filter(|a| a.rule.0 as usize == i)
                    .copied()
                    .collect();
                Some(score_rule(&r.name, kind, &alerts, truth, grace))
            })
            .collect()
    }
}

fn initial_state(c: &Cond) -> CondState {
    match c {
        Cond::Consecutive { .. } => CondState::Consecutive {
            run: 0,
            active: false,
        },
        Cond::Window { .. } => CondState::Window {
            window: i64::MIN,
            acc: 0.0,
            count: 0,
            active: false,
        },
        Cond::Stuck { .. } => CondState::Stuck {
            anchor_lat_e7: 0,
            anchor_lon_e7: 0,
            cos_lat: 1.0,
            fixes: 0,
            anchored: false,
            active: false,
            since: SimTime::ZERO,
        },
        Cond::Geofence { .. } => CondState::Geofence {
            side: 0,
            active: false,
        },
    }
}

fn column(schema: &Schema, name: &str, path: String) -> Result<usize, ConfigError> {
    schema.column(name).ok_or_else(|| {
        bad(
            path,
            name,
            &format!("one of the schema's columns {:?}", schema.names()),
        )
    })
}

fn threshold(
    op: Comparison,
    value: f64,
    clear: Option<f64>,
    path: &str,
) -> Result<f64, ConfigError> {
    if !value.is_finite() {
        return Err(bad(format!("{path}.value"), value, "a finite number"));
    }
    let clear = clear.unwrap_or(value);
    let ok = match op {
        Comparison::Above => clear <= value,
        Comparison::Below => clear >= value,
    };
    if !clear.is_finite() || !ok {
        let expected = match op {
            Comparison::Above => "a finite number at or below `value` (op = above)",
            Comparison::Below => "a finite number at or above `value` (op = below)",
        };
        return Err(bad(format!("{path}.clear"), clear, expected));
    }
    Ok(clear)
}

fn compile(c: &ConditionConfig, schema: &Schema, path: &str) -> Result<Cond, ConfigError> {
    let p = |f: &str| format!("{path}.{f}");
    Ok(match c {
        ConditionConfig::Consecutive {
            column: name,
            op,
            value,
            clear,
            readings,
        } => {
            let clear = threshold(*op, *value, *clear, path)?;
            if *readings == 0 || *readings > u32::from(u16::MAX) {
                return Err(bad(p("readings"), readings, "1 to 65535"));
            }
            Cond::Consecutive {
                col: column(schema, name, p("column"))?,
                op: *op,
                value: *value,
                clear,
                readings: *readings as u16,
            }
        }
        ConditionConfig::Window {
            column: name,
            aggregate,
            window_s,
            op,
            value,
            clear,
        } => {
            let clear = threshold(*op, *value, *clear, path)?;
            if *window_s == 0 || *window_s > 366 * 86_400 {
                return Err(bad(p("window_s"), window_s, "1 s to 366 days"));
            }
            Cond::Window {
                col: column(schema, name, p("column"))?,
                aggregate: *aggregate,
                window_ms: *window_s as i64 * 1_000,
                op: *op,
                value: *value,
                clear,
            }
        }
        ConditionConfig::Stuck {
            lat,
            lon,
            radius_m,
            window_s,
            clear_radius_m,
        } => {
            if !(radius_m.is_finite() && *radius_m > 0.0) {
                return Err(bad(p("radius_m"), radius_m, "a distance > 0 m"));
            }
            let clear_m = clear_radius_m.unwrap_or(*radius_m);
            if !(clear_m.is_finite() && clear_m >= *radius_m) {
                return Err(bad(
                    p("clear_radius_m"),
                    clear_m,
                    "a distance at least `radius_m`",
                ));
            }
            if *window_s == 0 {
                return Err(bad(p("window_s"), window_s, "at least 1 s"));
            }
            Cond::Stuck {
                lat: column(schema, lat, p("lat"))?,
                lon: column(schema, lon, p("lon"))?,
                radius_m2: radius_m * radius_m,
                clear_m2: clear_m * clear_m,
                window: SimDuration::from_secs(*window_s),
            }
        }
        ConditionConfig::Geofence {
            lat,
            lon,
            polygon,
            trigger,
        } => Cond::Geofence {
            lat: column(schema, lat, p("lat"))?,
            lon: column(schema, lon, p("lon"))?,
            polygon: Polygon::new(polygon).ok_or_else(|| {
                bad(
                    p("polygon"),
                    polygon,
                    "at least 3 finite [lat, lon] vertices",
                )
            })?,
            enter: *trigger == GeofenceTrigger::Enter,
        },
    })
}

/// `d / n` (truncating towards zero, as Rust's integer division) for `n >= 1`. Below 2³²
/// in magnitude it divides in `f64`, which is exact here: `d` and `n` are exact, a
/// non-integer quotient is at least 1/n ≥ 2⁻¹⁶ from the nearest integer, and its rounding
/// error is at most half an ulp of a value below 2³², 2⁻²², so truncating the rounded
/// quotient gives the same integer; an integer quotient is exact. A 64-bit integer
/// division takes several times as long on common x86 parts.
#[inline]
fn div_trunc(d: i64, n: u16) -> i64 {
    if d.unsigned_abs() < 1 << 32 {
        (d as f64 / f64::from(n)) as i64
    } else {
        d / i64::from(n)
    }
}

fn aggregate_value(aggregate: WindowAggregate, acc: f64, count: u32) -> f64 {
    match aggregate {
        WindowAggregate::Avg => acc / f64::from(count),
        WindowAggregate::Count => f64::from(count),
        WindowAggregate::Min | WindowAggregate::Max | WindowAggregate::Sum => acc,
    }
}

/// Updates one condition's state with a reading and returns whether it holds.
#[inline]
fn update(
    cond: &Cond,
    state: &mut CondState,
    event: &IngestEvent,
    epoch_ms: i64,
    late: &mut u64,
) -> bool {
    match (cond, state) {
        (
            &Cond::Consecutive {
                col,
                op,
                value,
                clear,
                readings,
            },
            CondState::Consecutive { run, active },
        ) => {
            let x = event.values[col];
            if x.is_nan() {
                return *active;
            }
            if *active {
                if cleared(op, x, clear) {
                    *active = false;
                    *run = 0;
                }
            } else if beyond(op, x, value) {
                *run = run.saturating_add(1);
                *active = *run >= readings;
            } else {
                *run = 0;
            }
            *active
        }
        (
            &Cond::Window {
                col,
                aggregate,
                window_ms,
                op,
                value,
                clear,
            },
            CondState::Window {
                window,
                acc,
                count,
                active,
            },
        ) => {
            let x = event.values[col];
            if x.is_nan() {
                return *active;
            }
            let w = (epoch_ms + event.event_time.as_millis() as i64).div_euclid(window_ms);
            if w < *window {
                *late += 1;
                return *active;
            }
            if w > *window {
                if *count > 0 {
                    let v = aggregate_value(aggregate, *acc, *count);
                    if *active {
                        *active = !cleared(op, v, clear);
                    } else {
                        *active = beyond(op, v, value);
                    }
                }
                *window = w;
                *count = 0;
            }
            *acc = if *count == 0 {
                x
            } else {
                match aggregate {
                    WindowAggregate::Avg | WindowAggregate::Sum => *acc + x,
                    WindowAggregate::Min => acc.min(x),
                    WindowAggregate::Max => acc.max(x),
                    WindowAggregate::Count => 0.0,
                }
            };
            *count += 1;
            *active
        }
        (
            &Cond::Stuck {
                lat,
                lon,
                radius_m2,
                clear_m2,
                window,
            },
            CondState::Stuck {
                anchor_lat_e7,
                anchor_lon_e7,
                cos_lat,
                fixes,
                anchored,
                active,
                since,
            },
        ) => {
            let (y, x) = (event.values[lat], event.values[lon]);
            if y.is_nan() || x.is_nan() {
                return *active;
            }
            let t = event.event_time;
            let far = *anchored && {
                let d2 = distance_sq_m2(
                    f64::from(*anchor_lat_e7) * 1e-7,
                    f64::from(*anchor_lon_e7) * 1e-7,
                    f64::from(*cos_lat),
                    y,
                    x,
                );
                d2 > if *active { clear_m2 } else { radius_m2 }
            };
            if !*anchored || far {
                // Saturating casts: a latitude beyond ±214° would be a bad fix anyway.
                *anchor_lat_e7 = (y * 1e7) as i32;
                *anchor_lon_e7 = (x * 1e7) as i32;
                *cos_lat = cos_deg(y) as f32;
                *fixes = 1;
                *anchored = true;
                *since = t;
                *active = false;
            } else {
                // The anchor is the running mean of the fixes since it was set: around a
                // still animal the GNSS scatter averages out and the anchor converges on
                // where it stands, so one noisy fix cannot push a still cow out of a radius
                // drawn around an early, offset fix and restart its window.
                *fixes = fixes.saturating_add(1);
                let n = *fixes;
                let mean = |a: i32, v: f64| {
                    (i64::from(a) + div_trunc((v * 1e7) as i64 - i64::from(a), n)) as i32
                };
                *anchor_lat_e7 = mean(*anchor_lat_e7, y);
                *anchor_lon_e7 = mean(*anchor_lon_e7, x);
                if t.saturating_since(*since) >= window {
                    *active = true;
                }
            }
            *active
        }
        (
            Cond::Geofence {
                lat,
                lon,
                polygon,
                enter,
            },
            CondState::Geofence { side, active },
        ) => {
            let (y, x) = (event.values[*lat], event.values[*lon]);
            if y.is_nan() || x.is_nan() {
                return *active;
            }
            let inside = polygon.contains(y, x);
            let now_side = if inside { 1 } else { 2 };
            if *side != 0 && *side != now_side {
                *active = inside == *enter;
            }
            *side = now_side;
            *active
        }
        // States are built from their conditions, so kinds always match.
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_float_division_is_the_integer_division() {
        let mut rng = sim::CompactRng::from_seed_u64(3);
        let check = |d: i64, n: u16| assert_eq!(div_trunc(d, n), d / i64::from(n), "{d} {n}");
        let bound = 1i64 << 32;
        for n in 1..=u16::MAX {
            for d in [
                0,
                1,
                -1,
                bound - 1,
                1 - bound,
                bound,
                -bound,
                i64::MAX,
                i64::MIN + 1,
            ] {
                check(d, n);
            }
            // Multiples of n and their neighbours, where truncation could go wrong.
            let k = (bound - 1) / i64::from(n);
            for m in [k, k - 1, 1, 2, k / 2] {
                let d = m * i64::from(n);
                for e in [d - 1, d, d + 1, -d - 1, -d, -d + 1] {
                    if e.unsigned_abs() < 1 << 33 {
                        check(e, n);
                    }
                }
            }
        }
        use sim::rng::below;
        for _ in 0..1_000_000 {
            let n = below(&mut rng, u64::from(u16::MAX)) as u16 + 1;
            let d = (below(&mut rng, 1 << 34) as i64 - (1 << 33)) >> below(&mut rng, 33);
            check(d, n);
        }
    }

    #[test]
    fn per_device_rule_state_is_compact() {
        assert!(std::mem::size_of::<CondState>() <= 32);
        assert!(std::mem::size_of::<crate::DeviceStatus>() <= 24);
    }
}
