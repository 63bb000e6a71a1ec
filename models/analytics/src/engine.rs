//! The rule engine: per-device condition state updated on every reading, alerts on the
//! rising edge of a rule, notifications and dashboard updates.
//!
//! Call order: `handle_event(now, &event)` for each reading (de-duplicated, e.g. from the
//! store's `index_next` or change feed, or straight from a hub endpoint), then drain
//! `poll_notification()` into the sinks. `now` is the back end's processing time, which
//! never goes back, and becomes the alert time; the reading's own `event_time` drives
//! windows and durations.
//!
//! **Episodes.** A rule is *active* while its combined conditions hold. It alerts when it
//! becomes active, unless an alert of the same rule and device was raised less than
//! `cooldown_s` ago (then the episode is counted as suppressed and raises nothing, even if
//! it lasts past the cool-down). Hysteresis lives in the conditions: a condition that
//! became true stays true until its clear threshold is crossed, so noise around the
//! threshold is one episode, not many.
//!
//! **State.** One contiguous record per device of 64-bit words, a whole number of
//! 64-byte cache lines starting on a line boundary: the dashboard status (2 words), one
//! active flag per condition (a bit, 64 to a word), the last alert time of each rule with
//! a cool-down (1 word each; a rule without one never needs it), then each condition's
//! own state at an offset fixed when the engine is built: window and stuck conditions
//! take 3 words each, while the small states (a consecutive run, 16 bits; a geofence
//! side, 2 bits) are packed as bit fields into shared words. The herd's three rules take
//! 8 words, one line (a word per state and per rule would take 11 words, two lines; a
//! tagged 32-byte cell per status, rule and condition, 224 bytes, four lines): at a
//! million devices every reading's record is cold, so lines per reading is what counts.
//! [`RuleEngine::prefetch`] can start loading a record a few readings ahead; no
//! allocation on the hot path except when an alert is raised.
//!
//! **Evaluation.** Conditions are compiled into one list per kind, each run in a tight
//! loop with no dispatch; conditions are independent, so the order does not matter. They
//! update their flags in a copy written back once (with up to 64 conditions, one word in a
//! register). A
//! rule is active exactly while its combined conditions hold, so its activity is not
//! stored: when no condition's flag changed on a reading (almost always) no rule can have
//! changed and the rules are not visited. Stuck detection keeps an anchor (the running
//! mean of the fixes since it was set, so GNSS scatter around a still animal converges
//! instead of re-anchoring) and the time since which every fix stayed near it, not a
//! window of fixes.
//!
//! **Left out.** Windows are evaluated when the device's first reading of a later window
//! arrives (a device that falls silent has its last window evaluated late or never);
//! readings older than the current window are ignored (counted). Rules on properties,
//! cloud-property references and device-template targeting (§6) are not modelled.

use crate::config::{
    ActionConfig, AnalyticsConfig, Combine, Comparison, ConditionConfig, GeofenceTrigger,
    WindowAggregate,
};
use crate::notify::{Alert, Dashboard, DeviceStatus, Notification, RuleId};
use crate::score::{score_rule, Score, TruthEpisode};
use geometry::{cos_deg, distance_sq_m2, Polygon};
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

/// A condition as compiled from its configuration, before the plan places it.
#[derive(Clone, Debug)]
enum Cond {
    Consecutive(ConsecutiveCond),
    Window(WindowCond),
    Stuck(StuckCond),
    Geofence(GeofenceCond),
}

/// Words of a record before the flags: the newest reading's device time in ns (meaningful
/// once a reading was seen), then `readings` (bits 0-31) and `open_alerts` (bits 32-47).
const STATUS_WORDS: usize = 2;
const LAST_READING: usize = 0;
const COUNTS: usize = 1;

/// Words per 64-byte cache line.
const WORDS_PER_LINE: usize = 8;
const LINE_BYTES: usize = 64;

/// Where a condition's active flag lives among a record's flag words.
#[derive(Clone, Copy, Debug)]
struct Flag {
    /// The flag word, counted from the first ([`STATUS_WORDS`] in the record).
    word: usize,
    mask: u64,
}

impl Flag {
    fn of(bit: usize) -> Flag {
        Flag {
            word: bit / 64,
            mask: 1 << (bit % 64),
        }
    }
}

/// The active flags of a device's conditions while a reading is evaluated: conditions
/// read and write their flags here, never in the record, so up to 64 conditions keep
/// their one flag word in a register for the whole reading.
trait Flags {
    fn get(&self, flag: Flag) -> bool;
    fn set(&mut self, flag: Flag, on: bool);
}

/// The flag word of an engine with at most 64 conditions (every flag's `word` is 0).
struct OneWord(u64);

impl Flags for OneWord {
    #[inline]
    fn get(&self, flag: Flag) -> bool {
        self.0 & flag.mask != 0
    }
    #[inline]
    fn set(&mut self, flag: Flag, on: bool) {
        self.0 = (self.0 & !flag.mask) | if on { flag.mask } else { 0 };
    }
}

/// The flag words of an engine with more than 64 conditions (a scratch copy).
impl Flags for [u64] {
    #[inline]
    fn get(&self, flag: Flag) -> bool {
        self[flag.word] & flag.mask != 0
    }
    #[inline]
    fn set(&mut self, flag: Flag, on: bool) {
        let w = &mut self[flag.word];
        *w = (*w & !flag.mask) | if on { flag.mask } else { 0 };
    }
}

/// A consecutive-readings condition; state: the run length, a 16-bit field (it
/// saturates at `readings`, at most 65,535).
///
/// The thresholds are stored as for `above`: a `below` condition compares the negated
/// reading with negated thresholds (`x < v` exactly when `-x > -v`, and negating a float
/// is exact), so a reading costs one comparison and no branch on the operator.
#[derive(Clone, Debug)]
struct ConsecutiveCond {
    col: usize,
    /// The sign bit for `below`, 0 for `above`: flipped in the reading's bits.
    negate: u64,
    value: f64,
    clear: f64,
    readings: u16,
}

/// A window condition; state: the window number, the accumulator's bits, the count.
#[derive(Clone, Debug)]
struct WindowCond {
    col: usize,
    aggregate: WindowAggregate,
    window_ms: i64,
    op: Comparison,
    value: f64,
    clear: f64,
}

/// A stuck condition; state: the anchor (lat, lon in 1e-7°, low and high half), then
/// `cos_lat`'s f32 bits (bits 0-31), the fixes averaged into the anchor since it was set
/// (32-47, saturating) and whether it is set ([`ANCHORED`]), then the time since which
/// every fix stayed near it, in ns.
#[derive(Clone, Debug)]
struct StuckCond {
    lat: usize,
    lon: usize,
    radius_m2: f64,
    clear_m2: f64,
    window: SimDuration,
}

const ANCHORED: u64 = 1 << 48;
const FIXES: u64 = 0xffff << 32;

/// A geofence condition; state: the side of the last fix, a 2-bit field (0: none yet,
/// 1: inside, 2: outside).
#[derive(Clone, Debug)]
struct GeofenceCond {
    lat: usize,
    lon: usize,
    polygon: Polygon,
    enter: bool,
}

/// A compiled condition placed in the record: its active flag and where its state
/// starts: word `at`, from bit `shift` for a small state packed into a shared word (0 for
/// a state of whole words).
#[derive(Clone, Debug)]
struct Placed<C> {
    flag: Flag,
    at: usize,
    shift: u32,
    cond: C,
}

impl<C> Placed<C> {
    /// A condition with its flag, placed at `(word, shift)` by a [`Layout`].
    fn new(flag: Flag, (at, shift): (usize, u32), cond: C) -> Self {
        Placed {
            flag,
            at,
            shift,
            cond,
        }
    }

    /// A small state's bit field (`mask` wide) in the record.
    #[inline]
    fn field(&self, rec: &[u64], mask: u64) -> u64 {
        rec[self.at] >> self.shift & mask
    }

    /// Sets a small state's bit field (`mask` wide) in the record to `value`.
    #[inline]
    fn set_field(&self, rec: &mut [u64], mask: u64, value: u64) {
        let word = &mut rec[self.at];
        *word = (*word & !(mask << self.shift)) | (value & mask) << self.shift;
    }
}

/// Lays out a record while the engine is built: whole-word states are appended, small
/// states are packed as bit fields into shared words, first fit, never straddling two.
struct Layout {
    /// The record's initial words, so far.
    initial: Vec<u64>,
    /// Small-state words with room left: (word, bits used).
    packed: Vec<(usize, u32)>,
}

impl Layout {
    /// Appends a state of whole words and returns its first word.
    fn words(&mut self, words: &[u64]) -> (usize, u32) {
        let at = self.initial.len();
        self.initial.extend_from_slice(words);
        (at, 0)
    }

    /// Places a small state of `bits` (initially 0) and returns its word and shift.
    fn bits(&mut self, bits: u32) -> (usize, u32) {
        if let Some((at, used)) = self.packed.iter_mut().find(|(_, used)| *used + bits <= 64) {
            let shift = *used;
            *used += bits;
            return (*at, shift);
        }
        let at = self.initial.len();
        self.initial.push(0);
        self.packed.push((at, bits));
        (at, 0)
    }
}

/// The compiled conditions, one list per kind.
#[derive(Default)]
struct Plan {
    consecutive: Vec<Placed<ConsecutiveCond>>,
    window: Vec<Placed<WindowCond>>,
    stuck: Vec<Placed<StuckCond>>,
    geofence: Vec<Placed<GeofenceCond>>,
}

impl Plan {
    /// Updates every condition's state in `rec` and its flag in `flags` with a reading;
    /// adds the readings too old for a window condition to `late`.
    #[inline]
    fn evaluate<F: Flags + ?Sized>(
        &self,
        flags: &mut F,
        rec: &mut [u64],
        event: &IngestEvent,
        epoch_ms: i64,
        late: &mut u64,
    ) {
        for c in &self.consecutive {
            c.update(flags, rec, event);
        }
        for c in &self.window {
            c.update(flags, rec, event, epoch_ms, late);
        }
        for c in &self.geofence {
            c.update(flags, rec, event);
        }
        // Last, the largest loop: the compiler's code for this order takes fewer
        // instructions per reading (measured); the order changes no result.
        for c in &self.stuck {
            c.update(flags, rec, event);
        }
    }

    /// Places condition number `bit` (in rule order), its state laid out in `layout`
    /// with its initial value.
    fn place(&mut self, cond: Cond, bit: usize, layout: &mut Layout) {
        let flag = Flag::of(bit);
        match cond {
            Cond::Consecutive(cond) => {
                self.consecutive
                    .push(Placed::new(flag, layout.bits(16), cond))
            }
            Cond::Window(cond) => self.window.push(Placed::new(
                flag,
                layout.words(&[i64::MIN as u64, 0, 0]),
                cond,
            )),
            Cond::Stuck(cond) => self.stuck.push(Placed::new(
                flag,
                layout.words(&[0, 1.0f32.to_bits() as u64, 0]),
                cond,
            )),
            Cond::Geofence(cond) => self.geofence.push(Placed::new(flag, layout.bits(2), cond)),
        }
    }
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
    /// The record word of its last alert's time; only a rule with a cool-down keeps one.
    alert_word: Option<usize>,
    actions: Vec<ActionConfig>,
}

impl Rule {
    /// Whether the rule holds given its conditions' active flags (`flags` from a record:
    /// condition `c`'s flag is bit `c % 64` of word `c / 64`).
    fn holds(&self, flags: &[u64]) -> bool {
        let mut on = (self.first_cond..self.end_cond).map(|c| flags[c / 64] >> (c % 64) & 1 != 0);
        match self.combine {
            Combine::All => on.all(|f| f),
            Combine::Any => on.any(|f| f),
        }
    }
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
    plan: Plan,
    /// Words of a record: a whole number of lines.
    stride: usize,
    /// Words of active flags, from [`STATUS_WORDS`] on.
    flag_words: usize,
    /// The record of a device never heard from.
    initial: Vec<u64>,
    /// Records of devices `0..devices` from word `base`, the first word on a line
    /// boundary: the words before it are padding.
    words: Vec<u64>,
    base: usize,
    devices: usize,
    /// The reading's device's flags before it was evaluated (scratch, `flag_words` long).
    flags_before: Vec<u64>,
    /// Its flags as they are being evaluated, with more than 64 conditions (scratch).
    flags_now: Vec<u64>,
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
                alert_word: None,
                actions: r.actions.clone(),
            });
        }
        // The record: status, flags, a last-alert word per rule with a cool-down, then
        // the conditions' states in rule order (small ones packed), padded to whole lines.
        // At least one flag word, so the hot path can always read the first.
        let flag_words = conds.len().div_ceil(64).max(1);
        let mut layout = Layout {
            initial: vec![0; STATUS_WORDS + flag_words],
            packed: Vec::new(),
        };
        for rule in rules.iter_mut().filter(|r| !r.cooldown.is_zero()) {
            rule.alert_word = Some(layout.words(&[NO_ALERT_YET.as_nanos()]).0);
        }
        let mut plan = Plan::default();
        for (bit, cond) in conds.into_iter().enumerate() {
            plan.place(cond, bit, &mut layout);
        }
        let mut initial = layout.initial;
        let stride = initial.len().div_ceil(WORDS_PER_LINE) * WORDS_PER_LINE;
        initial.resize(stride, 0);
        Ok(RuleEngine {
            epoch,
            epoch_ms: epoch.unix_secs() * 1_000,
            schema: schema.clone(),
            rules,
            plan,
            stride,
            flag_words,
            initial,
            words: Vec::new(),
            base: 0,
            devices: 0,
            flags_before: vec![0; flag_words],
            flags_now: vec![0; flag_words],
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
        // A line of slack, so the records can be moved onto a line boundary without
        // growing the vector again.
        self.words
            .reserve((devices - self.devices) * self.stride + WORDS_PER_LINE);
        self.realign();
        for _ in self.devices..devices {
            self.words.extend_from_slice(&self.initial);
        }
        self.devices = devices;
    }

    /// Moves the records so they start on a cache-line boundary of the (possibly new)
    /// allocation, so no record straddles more lines than it must. Layout only: no value
    /// depends on where the allocation landed.
    fn realign(&mut self) {
        let base = match self.words.as_ptr().align_offset(LINE_BYTES) {
            // `align_offset` may decline to answer; then the records stay where they are.
            offset if offset < WORDS_PER_LINE => offset,
            _ => self.base,
        };
        let end = self.words.len();
        if base > self.base {
            self.words.resize(end + (base - self.base), 0);
            self.words.copy_within(self.base..end, base);
        } else if base < self.base {
            self.words.copy_within(self.base..end, base);
            self.words.truncate(end - (self.base - base));
        }
        self.base = base;
    }

    /// Where device `d < self.devices`'s record starts in `words`. Wrapping arithmetic
    /// (no overflow checks): the result is at most `words.len()`, and indexing checks it.
    #[inline]
    fn start(&self, d: usize) -> usize {
        self.base.wrapping_add(d.wrapping_mul(self.stride))
    }

    /// Where device `d`'s record starts, and where its flag words lie within it.
    #[inline]
    fn record_and_flags(&self, d: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let start = self.start(d);
        (
            start..start + self.stride,
            STATUS_WORDS..STATUS_WORDS + self.flag_words,
        )
    }

    /// The record of device `d < self.devices`.
    #[inline]
    fn record(&mut self, d: usize) -> &mut [u64] {
        let start = self.start(d);
        &mut self.words[start..start + self.stride]
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
        let d = device.0 as usize;
        if d >= self.devices {
            return DeviceStatus::default();
        }
        let start = self.start(d);
        let counts = self.words[start + COUNTS];
        let readings = counts as u32;
        DeviceStatus {
            last_reading: (readings > 0)
                .then(|| SimTime::from_nanos(self.words[start + LAST_READING])),
            readings,
            open_alerts: (counts >> 32) as u16,
        }
    }
    /// Adds one to (`up`) or takes one from the device's open alerts and keeps the count
    /// of devices alerting.
    fn count_open_alert(&mut self, device: DeviceIndex, up: bool) {
        let d = device.0 as usize;
        if d >= self.devices {
            return;
        }
        let counts = &mut self.record(d)[COUNTS];
        let open = (*counts >> 32) as u16;
        let open = if up { open + 1 } else { open - 1 };
        *counts = (*counts & 0xffff_ffff) | u64::from(open) << 32;
        match (up, open) {
            (true, 1) => self.dashboard.devices_alerting += 1,
            (false, 0) => self.dashboard.devices_alerting -= 1,
            _ => {}
        }
    }
    /// The rules whose conditions hold for `device` on the readings processed so far: bit
    /// `r` for rule `RuleId(r)` (the first 64 rules). For diagnosis (`fleetsim explain`),
    /// not the hot path.
    pub fn rules_holding(&self, device: DeviceIndex) -> u64 {
        let d = device.0 as usize;
        if d >= self.devices {
            return 0;
        }
        let (record, flags) = self.record_and_flags(d);
        let rec = &self.words[record];
        let flags = &rec[flags];
        self.rules
            .iter()
            .take(64)
            .enumerate()
            .filter(|(_, rule)| rule.holds(flags))
            .fold(0, |m, (r, _)| m | 1 << r)
    }

    /// Every alert raised so far, in order.
    pub fn alerts(&self) -> &[Alert] {
        &self.alerts
    }
    /// The dashboard as text, with up to `rows` open alerts.
    pub fn render_dashboard(&self, rows: usize) -> String {
        self.render_dashboard_named(rows, &|d| d.0.to_string())
    }

    /// [`Self::render_dashboard`], naming each device with `name_of` (its id, say).
    pub fn render_dashboard_named(
        &self,
        rows: usize,
        name_of: &dyn Fn(DeviceIndex) -> String,
    ) -> String {
        self.dashboard
            .render(&self.rule_names(), self.epoch, rows, name_of)
    }

    /// The next notification to hand to the sinks.
    pub fn poll_notification(&mut self) -> Option<Notification> {
        self.outbox.pop_front()
    }

    /// Starts loading `device`'s rule state into cache, for a reading that will arrive a
    /// few events from now (e.g. [`store::TimeSeriesStore::upcoming_due`]). Only a hint:
    /// it changes nothing.
    #[inline]
    pub fn prefetch(&self, device: DeviceIndex) {
        let d = device.0 as usize;
        if d >= self.devices {
            return;
        }
        let start = self.start(d);
        let Some(rec) = self.words.get(start..start.wrapping_add(self.stride)) else {
            return;
        };
        // The record is whole lines from a line boundary.
        store::hint::prefetch_lines(rec);
    }

    /// Evaluates every rule on one reading processed at `now`.
    #[inline]
    pub fn handle_event(&mut self, now: SimTime, event: &IngestEvent) {
        let d = event.device.0 as usize;
        if d >= self.devices {
            self.reserve_devices(d + 1);
        }
        // Cannot overflow: one per reading.
        self.stats.readings = self.stats.readings.wrapping_add(1);
        let start = self.start(d);
        let rec = &mut self.words[start..start.wrapping_add(self.stride)];
        let [last_reading, counts, flags_0, ..] = &mut *rec else {
            unreachable!("a record holds its status and a flag word");
        };
        let t = event.event_time.as_nanos();
        let readings = *counts as u32;
        if readings == 0 {
            self.dashboard.devices_seen += 1;
        }
        // A new record holds 0 here, so the first reading's time is also the maximum.
        *last_reading = (*last_reading).max(t);
        // The reading count saturates: below its maximum, adding one cannot carry into
        // the open alerts above it.
        *counts = counts.wrapping_add(u64::from(readings != u32::MAX));
        if self.flag_words > 1 {
            self.handle_many_flags(now, event, d);
            return;
        }
        let before = *flags_0;
        let mut flags = OneWord(before);
        let late = &mut self.stats.late_window_readings;
        self.plan
            .evaluate(&mut flags, rec, event, self.epoch_ms, late);
        if flags.0 == before {
            // No condition changed, so no rule became active or cleared.
            return;
        }
        rec[STATUS_WORDS] = flags.0;
        self.flags_before[0] = before;
        self.update_rules(now, event, d);
    }

    /// [`Self::handle_event`]'s evaluation for an engine of more than 64 conditions, with
    /// its flags in a scratch copy.
    #[cold]
    #[inline(never)]
    fn handle_many_flags(&mut self, now: SimTime, event: &IngestEvent, d: usize) {
        let (record, flags) = self.record_and_flags(d);
        let rec = &mut self.words[record];
        self.flags_before.copy_from_slice(&rec[flags.clone()]);
        self.flags_now.copy_from_slice(&rec[flags.clone()]);
        let late = &mut self.stats.late_window_readings;
        self.plan
            .evaluate(&mut self.flags_now[..], rec, event, self.epoch_ms, late);
        if self.flags_now == self.flags_before {
            return;
        }
        rec[flags].copy_from_slice(&self.flags_now);
        self.update_rules(now, event, d);
    }

    /// Finds the rules that became active or cleared on a reading that changed some
    /// condition flag (`flags_before` holds the flags from before it), raises and clears
    /// alerts. Kept out of line: it runs on few readings, and the hot path stays small.
    #[cold]
    #[inline(never)]
    fn update_rules(&mut self, now: SimTime, event: &IngestEvent, d: usize) {
        let (record, flags) = self.record_and_flags(d);
        let rec = &mut self.words[record];
        // Rules that fire or clear on this reading, by bit (at most 64 rules); alerts
        // and dashboard updates need `&mut self`, so they follow the loop.
        let mut raised = 0u64;
        let mut cleared_rules = 0u64;
        let mut suppressed = 0u64;
        for (r, rule) in self.rules.iter().enumerate() {
            let was_active = rule.holds(&self.flags_before);
            let active = rule.holds(&rec[flags.clone()]);
            if active && !was_active {
                // Without a cool-down nothing is suppressed (`now` never goes back), so
                // such a rule keeps no last-alert time.
                let in_cooldown = rule.alert_word.is_some_and(|w| {
                    let last_alert = SimTime::from_nanos(rec[w]);
                    last_alert != NO_ALERT_YET && now < last_alert.saturating_add(rule.cooldown)
                });
                if in_cooldown {
                    suppressed += 1;
                } else {
                    if let Some(w) = rule.alert_word {
                        rec[w] = now.as_nanos();
                    }
                    raised |= 1 << r;
                }
            } else if !active && was_active {
                cleared_rules |= 1 << r;
            }
        }
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
                self.count_open_alert(event.device, false);
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
            self.count_open_alert(event.device, true);
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
            let negate = match op {
                Comparison::Above => 0,
                Comparison::Below => 1 << 63,
            };
            let flip = |v: f64| f64::from_bits(v.to_bits() ^ negate);
            Cond::Consecutive(ConsecutiveCond {
                col: column(schema, name, p("column"))?,
                negate,
                value: flip(*value),
                clear: flip(clear),
                readings: *readings as u16,
            })
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
            Cond::Window(WindowCond {
                col: column(schema, name, p("column"))?,
                aggregate: *aggregate,
                window_ms: *window_s as i64 * 1_000,
                op: *op,
                value: *value,
                clear,
            })
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
            Cond::Stuck(StuckCond {
                lat: column(schema, lat, p("lat"))?,
                lon: column(schema, lon, p("lon"))?,
                radius_m2: radius_m * radius_m,
                clear_m2: clear_m * clear_m,
                window: SimDuration::from_secs(*window_s),
            })
        }
        ConditionConfig::Geofence {
            lat,
            lon,
            polygon,
            trigger,
        } => Cond::Geofence(GeofenceCond {
            lat: column(schema, lat, p("lat"))?,
            lon: column(schema, lon, p("lon"))?,
            // A fence is a polygon in the (lat, lon) plane: small, and not across the
            // antimeridian or a pole (the geometry crate's docs).
            polygon: Polygon::new(&p("polygon"), polygon).map_err(|_| {
                bad(
                    p("polygon"),
                    polygon,
                    "at least 3 finite [lat, lon] vertices enclosing an area",
                )
            })?,
            enter: *trigger == GeofenceTrigger::Enter,
        }),
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
        div_trunc_small(d, f64::from(n))
    } else {
        d / i64::from(n)
    }
}

/// [`div_trunc`] for `|d| < 2³²`, where the `f64` division is exact, with `n` a `u16` in
/// an `f64`.
#[inline]
fn div_trunc_small(d: i64, n: f64) -> i64 {
    (d as f64 / n) as i64
}

fn aggregate_value(aggregate: WindowAggregate, acc: f64, count: u32) -> f64 {
    match aggregate {
        WindowAggregate::Avg => acc / f64::from(count),
        WindowAggregate::Count => f64::from(count),
        WindowAggregate::Min | WindowAggregate::Max | WindowAggregate::Sum => acc,
    }
}

impl Placed<ConsecutiveCond> {
    /// Updates the condition's state and flag with a reading.
    #[inline]
    fn update<F: Flags + ?Sized>(&self, flags: &mut F, rec: &mut [u64], event: &IngestEvent) {
        let x = event.values[self.cond.col];
        if x.is_nan() {
            return;
        }
        let x = f64::from_bits(x.to_bits() ^ self.cond.negate);
        let active = flags.get(self.flag);
        let run = self.field(rec, 0xffff) as u16;
        // Active, it stays so while the reading is beyond the clear threshold (the run is
        // kept); inactive, a reading beyond the value lengthens the run.
        let hot = x > if active {
            self.cond.clear
        } else {
            self.cond.value
        };
        let run = if !hot {
            0
        } else if active {
            run
        } else {
            run.saturating_add(1)
        };
        self.set_field(rec, 0xffff, u64::from(run));
        flags.set(self.flag, hot && (active || run >= self.cond.readings));
    }
}

impl Placed<WindowCond> {
    /// Updates the condition's state and flag in the device's record with a reading.
    #[inline]
    fn update<F: Flags + ?Sized>(
        &self,
        flags: &mut F,
        rec: &mut [u64],
        event: &IngestEvent,
        epoch_ms: i64,
        late: &mut u64,
    ) {
        let x = event.values[self.cond.col];
        if x.is_nan() {
            return;
        }
        let at = self.at;
        let w = (epoch_ms + event.event_time.as_millis() as i64).div_euclid(self.cond.window_ms);
        let mut window = rec[at] as i64;
        if w < window {
            *late += 1;
            return;
        }
        let mut acc = f64::from_bits(rec[at + 1]);
        let mut count = rec[at + 2] as u32;
        if w > window {
            if count > 0 {
                let v = aggregate_value(self.cond.aggregate, acc, count);
                let active = if flags.get(self.flag) {
                    !cleared(self.cond.op, v, self.cond.clear)
                } else {
                    beyond(self.cond.op, v, self.cond.value)
                };
                flags.set(self.flag, active);
            }
            window = w;
            count = 0;
        }
        acc = if count == 0 {
            x
        } else {
            match self.cond.aggregate {
                WindowAggregate::Avg | WindowAggregate::Sum => acc + x,
                WindowAggregate::Min => acc.min(x),
                WindowAggregate::Max => acc.max(x),
                WindowAggregate::Count => 0.0,
            }
        };
        count += 1;
        rec[at] = window as u64;
        rec[at + 1] = acc.to_bits();
        rec[at + 2] = u64::from(count);
    }
}

impl Placed<StuckCond> {
    /// Updates the condition's state and flag with a reading.
    #[inline]
    fn update<F: Flags + ?Sized>(&self, flags: &mut F, rec: &mut [u64], event: &IngestEvent) {
        let Some((y, x)) = lat_lon(event, self.cond.lat, self.cond.lon) else {
            return;
        };
        let active = flags.get(self.flag);
        // One bounds check for the three words instead of one per access.
        let Some(state) = rec
            .get_mut(self.at..)
            .and_then(|s| s.first_chunk_mut::<3>())
        else {
            return;
        };
        let [anchor, meta, since] = *state;
        let (anchor_lat_e7, anchor_lon_e7) = (anchor as u32 as i32, (anchor >> 32) as u32 as i32);
        let far = meta & ANCHORED == 0 || {
            let d2 = distance_sq_m2(
                f64::from(anchor_lat_e7) * 1e-7,
                f64::from(anchor_lon_e7) * 1e-7,
                f64::from(f32::from_bits(meta as u32)),
                y,
                x,
            );
            d2 > if active {
                self.cond.clear_m2
            } else {
                self.cond.radius_m2
            }
        };
        let now_active = if far {
            reanchor(state, y, x, event.event_time);
            false
        } else {
            // The anchor is the running mean of the fixes since it was set: around a
            // still animal the GNSS scatter averages out and the anchor converges on
            // where it stands, so one noisy fix cannot push a still cow out of a radius
            // drawn around an early, offset fix and restart its window.
            let n = ((meta & FIXES) >> 32) as u16;
            let n = n.saturating_add(1);
            let n_f64 = f64::from(n);
            state[0] = pack_anchor(
                mean_e7(anchor_lat_e7, y, n_f64),
                mean_e7(anchor_lon_e7, x, n_f64),
            );
            state[1] = (meta & !FIXES) | u64::from(n) << 32;
            active
                || event
                    .event_time
                    .saturating_since(SimTime::from_nanos(since))
                    >= self.cond.window
        };
        flags.set(self.flag, now_active);
    }
}

/// Sets a stuck condition's anchor (its three state words) to a fix at `t`. Out of line:
/// it runs on few readings and takes a cosine.
#[inline(never)]
fn reanchor(state: &mut [u64; 3], y: f64, x: f64, t: SimTime) {
    *state = [
        // Saturating casts: a latitude beyond ±214° would be a bad fix anyway.
        pack_anchor((y * 1e7) as i32, (x * 1e7) as i32),
        u64::from((cos_deg(y) as f32).to_bits()) | 1 << 32 | ANCHORED,
        t.as_nanos(),
    ];
}

/// The anchor coordinate `a` (1e-7°) moved to the running mean with fix `v` (degrees),
/// the `n`-th: `a + (v·10⁷ truncated − a) / n`, truncating, as an `i32`. `n` is a `u16`
/// in an `f64`, converted once for both coordinates.
#[inline]
fn mean_e7(a: i32, v: f64, n: f64) -> i32 {
    // A fix whose 1e-7° value is strictly inside the `i32` range converts the same as an
    // `i64` (a saturated `i32` cast is at a bound) and is less than 2³² from any anchor,
    // so the difference needs neither an overflow nor a range check before `div_trunc`,
    // and the mean, between the anchor and the fix, needs no overflow check either.
    let w = (v * 1e7) as i32;
    if w == i32::MIN || w == i32::MAX {
        return mean_e7_far(a, v, n);
    }
    i64::from(a).wrapping_add(div_trunc_small(i64::from(w) - i64::from(a), n)) as i32
}

/// [`mean_e7`] for any fix: the definition, with 64-bit arithmetic throughout. A fix
/// far outside the globe (a corrupt payload) saturates instead of overflowing, so it
/// moves the anchor to an extreme rather than stopping the back end.
#[cold]
#[inline(never)]
fn mean_e7_far(a: i32, v: f64, n: f64) -> i32 {
    let d = ((v * 1e7) as i64).saturating_sub(i64::from(a));
    i64::from(a).saturating_add(div_trunc(d, n as u16)) as i32
}

/// The reading's latitude and longitude, or `None` when either is absent (NaN).
#[inline]
fn lat_lon(event: &IngestEvent, lat: usize, lon: usize) -> Option<(f64, f64)> {
    let (y, x) = (event.values[lat], event.values[lon]);
    (!y.is_nan() && !x.is_nan()).then_some((y, x))
}

#[inline]
fn pack_anchor(lat_e7: i32, lon_e7: i32) -> u64 {
    u64::from(lat_e7 as u32) | u64::from(lon_e7 as u32) << 32
}

impl Placed<GeofenceCond> {
    /// Updates the condition's state and flag with a reading.
    #[inline]
    fn update<F: Flags + ?Sized>(&self, flags: &mut F, rec: &mut [u64], event: &IngestEvent) {
        let Some((y, x)) = lat_lon(event, self.cond.lat, self.cond.lon) else {
            return;
        };
        let inside = self.cond.polygon.contains(y, x);
        let now_side: u64 = if inside { 1 } else { 2 };
        let side = self.field(rec, 3);
        if side != 0 && side != now_side {
            flags.set(self.flag, inside == self.cond.enter);
        }
        self.set_field(rec, 3, now_side);
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
        assert!(std::mem::size_of::<crate::DeviceStatus>() <= 24);
        // The herd's three rules: status (2), flags (1), the fever rule's last-alert word
        // (the others have no cool-down), the stuck state (3) and one word shared by the
        // fever run and the geofence side fit one cache line.
        let config: AnalyticsConfig = serde_json::from_value(serde_json::json!({"rules": [
            {"name": "fever", "cooldown_s": 21600, "conditions": [{"kind": "consecutive",
                "column": "temp", "op": "above", "value": 39.5, "clear": 39.2,
                "readings": 2}]},
            {"name": "stuck", "conditions": [{"kind": "stuck", "lat": "lat", "lon": "lon",
                "radius_m": 50.0, "window_s": 43200}]},
            {"name": "escaped", "conditions": [{"kind": "geofence", "lat": "lat",
                "lon": "lon", "trigger": "exit",
                "polygon": [[46.9, 7.4], [46.9, 7.5], [47.0, 7.5], [47.0, 7.4]]}]}
        ]}))
        .unwrap();
        let mut e = RuleEngine::new(&config, &Schema::collar(), Epoch::DEFAULT).unwrap();
        assert_eq!(e.stride, WORDS_PER_LINE);
        assert_eq!(e.rules[0].alert_word, Some(3));
        assert_eq!((e.plan.consecutive[0].at, e.plan.stuck[0].at), (4, 5));
        assert_eq!((e.plan.geofence[0].at, e.plan.geofence[0].shift), (4, 16));
        // Records start on a line boundary however the vector grows.
        for devices in [1, 2, 100, 5_000] {
            e.reserve_devices(devices);
            let start = e.words[e.base..].as_ptr() as usize;
            assert_eq!(start % LINE_BYTES, 0);
            assert_eq!(e.words.len(), e.base + devices * e.stride);
        }
    }

    #[test]
    fn the_running_mean_of_a_fix_in_range_is_its_definition() {
        let mut rng = sim::CompactRng::from_seed_u64(7);
        use sim::rng::{below, unit_f64};
        let edges = [
            0.0,
            1e-7,
            -1e-7,
            214.748_364_7,
            -214.748_364_8,
            214.8,
            -214.8,
            1e11,
        ];
        for i in 0..1_000_000u32 {
            let a = below(&mut rng, 1 << 32) as u32 as i32;
            let v = if i % 8 == 0 {
                edges[(i / 8) as usize % edges.len()]
            } else {
                (unit_f64(&mut rng) - 0.5) * 440.0
            };
            let n = below(&mut rng, u64::from(u16::MAX - 1)) as u16 + 2;
            let n = f64::from(n);
            assert_eq!(mean_e7(a, v, n), mean_e7_far(a, v, n), "{a} {v} {n}");
        }
    }

    #[test]
    fn a_rule_of_more_than_64_conditions_fires_as_one_of_a_single_condition() {
        // 70 copies of one condition put the flags in two words (the scratch-copy path);
        // the rule must fire and clear exactly as the single condition does.
        let rule = |copies: usize| {
            let cond = serde_json::json!({"kind": "consecutive", "column": "temp",
                "op": "below", "value": 37.0, "clear": 37.5, "readings": 2});
            let config: AnalyticsConfig = serde_json::from_value(serde_json::json!({"rules": [
                {"name": "cold", "conditions": vec![cond; copies]}
            ]}))
            .unwrap();
            RuleEngine::new(&config, &Schema::collar(), Epoch::DEFAULT).unwrap()
        };
        let (mut many, mut one) = (rule(70), rule(1));
        assert_eq!(many.flag_words, 2);
        let temps = [
            36.0, 36.5, 37.2, 36.9, 37.6, 36.0, 36.0, 36.0, 38.0, 36.0, 36.0,
        ];
        for (i, temp) in temps.into_iter().enumerate() {
            let t = SimTime::from_secs(300 * i as u64);
            let e = IngestEvent::new(DeviceIndex(1), i as u32, t, t, &[46.9, 7.4, temp]);
            many.handle_event(t, &e);
            one.handle_event(t, &e);
        }
        assert_eq!(many.alerts(), one.alerts());
        assert_eq!(one.alerts().len(), 3);
        assert_eq!(
            many.device_status(DeviceIndex(1)),
            one.device_status(DeviceIndex(1))
        );
    }

    #[test]
    fn conditions_packed_into_one_word_fire_as_they_do_alone() {
        // Four 16-bit runs fill one word and two geofence sides share the next: each
        // rule must alert exactly as in an engine of its own, whatever its neighbours'
        // fields hold.
        let run = |value: f64, readings: u32| {
            serde_json::json!({"kind": "consecutive", "column": "temp", "op": "above",
                "value": value, "clear": value - 0.3, "readings": readings})
        };
        let fence = |trigger: &str, lat: f64| {
            serde_json::json!({"kind": "geofence", "lat": "lat", "lon": "lon",
                "trigger": trigger,
                "polygon": [[46.9, 7.4], [46.9, 7.5], [lat, 7.5], [lat, 7.4]]})
        };
        let rules = [
            ("hot", run(39.0, 2), 600),
            ("hotter", run(39.5, 3), 0),
            ("hottest", run(40.0, 1), 0),
            ("long", run(38.8, 300), 0),
            ("out", fence("exit", 47.0), 0),
            ("in", fence("enter", 46.95), 0),
        ];
        let engine = |rules: &[(&str, serde_json::Value, u64)]| {
            let rules: Vec<_> = rules
                .iter()
                .map(|(name, c, cooldown)| {
                    serde_json::json!({"name": name, "cooldown_s": cooldown,
                        "conditions": [c]})
                })
                .collect();
            let config: AnalyticsConfig =
                serde_json::from_value(serde_json::json!({ "rules": rules })).unwrap();
            RuleEngine::new(&config, &Schema::collar(), Epoch::DEFAULT).unwrap()
        };
        let mut all = engine(&rules);
        // Status (0-1), flags (2), one last-alert word (3), the four runs (4), the two
        // sides (5).
        assert_eq!(all.rules[0].alert_word, Some(3));
        assert_eq!(
            all.plan
                .consecutive
                .iter()
                .map(|c| (c.at, c.shift))
                .collect::<Vec<_>>(),
            [(4, 0), (4, 16), (4, 32), (4, 48)]
        );
        assert_eq!(
            all.plan
                .geofence
                .iter()
                .map(|c| (c.at, c.shift))
                .collect::<Vec<_>>(),
            [(5, 0), (5, 2)]
        );
        let mut alone: Vec<RuleEngine> = rules
            .iter()
            .map(|r| engine(std::slice::from_ref(r)))
            .collect();
        let mut rng = sim::CompactRng::from_seed_u64(11);
        use sim::rng::unit_f64;
        for i in 0..5_000u32 {
            let t = SimTime::from_secs(60 * u64::from(i));
            // Spells of fever 400 readings long, so the 300-reading run fills its field.
            let temp = if i / 400 % 2 == 1 {
                39.6 + 0.9 * unit_f64(&mut rng)
            } else {
                38.5 + 2.0 * unit_f64(&mut rng)
            };
            let lat = 46.85 + 0.2 * unit_f64(&mut rng);
            for d in 0..3 {
                let e = IngestEvent::new(DeviceIndex(d), i, t, t, &[lat, 7.45, temp]);
                all.handle_event(t, &e);
                for one in &mut alone {
                    one.handle_event(t, &e);
                }
            }
        }
        for (r, one) in alone.iter().enumerate() {
            let mine: Vec<_> = all
                .alerts()
                .iter()
                .filter(|a| a.rule == RuleId(r as u16))
                .map(|a| (a.device, a.raised_at))
                .collect();
            let theirs: Vec<_> = one
                .alerts()
                .iter()
                .map(|a| (a.device, a.raised_at))
                .collect();
            assert!(!theirs.is_empty(), "rule {} never fired", rules[r].0);
            assert_eq!(mine, theirs, "rule {}", rules[r].0);
        }
    }

    #[test]
    fn records_keep_their_state_when_the_engine_grows() {
        let config: AnalyticsConfig = serde_json::from_value(serde_json::json!({"rules": [
            {"name": "fever", "conditions": [{"kind": "consecutive", "column": "temp",
                "op": "above", "value": 39.5, "readings": 2}]}
        ]}))
        .unwrap();
        let mut e = RuleEngine::new(&config, &Schema::collar(), Epoch::DEFAULT).unwrap();
        let t = SimTime::from_secs(60);
        let hot =
            |d: u32, seq: u32| IngestEvent::new(DeviceIndex(d), seq, t, t, &[46.9, 7.4, 40.0]);
        e.handle_event(t, &hot(3, 0));
        // Device 3 is one reading into a run; growing to 10,000 devices moves the records.
        e.handle_event(t, &hot(9_999, 0));
        e.handle_event(t, &hot(3, 1));
        assert_eq!(e.stats().alerts_raised, 1);
        assert_eq!(e.device_status(DeviceIndex(3)).readings, 2);
        assert_eq!(e.device_status(DeviceIndex(3)).open_alerts, 1);
        assert_eq!(e.device_status(DeviceIndex(3)).last_reading, Some(t));
        assert_eq!(e.device_status(DeviceIndex(9_999)).open_alerts, 0);
        assert_eq!(e.device_status(DeviceIndex(4)).last_reading, None);
    }
}
