//! Cows: body temperature with a daily rhythm and fever episodes; grazing, resting and
//! "stuck" episodes inside a pasture polygon.
//!
//! **Model.** The seed's rancher wants to know when a cow "is running a temperature" or is
//! "stuck in one place for longer than a half day" (seed overview). A [`Cow`] is 56 bytes of
//! state advanced to an explicit `now`:
//! - **Body temperature** = the cow's own baseline (drawn once, uniform in
//!   `[baseline_temp_c_min, baseline_temp_c_max]`) + a daily cosine rhythm of amplitude
//!   `rhythm_amplitude_c` peaking at `rhythm_peak_hour` local solar time + a fever component.
//!   A fever episode `[start, end)` raises the temperature by `fever_rise_c`, ramping up over
//!   `fever_ramp` after `start` and down over `fever_ramp` before `end`.
//! - **Episodes** (fever, stuck) come from a per-cow schedule with its own random stream
//!   (`StreamKey("cow", id, "fever" | "stuck")`): the gap from the end of one episode to the start
//!   of the next is exponential with mean `1 / per_cow_day` days, the duration is drawn from the
//!   configured distribution. The schedule is independent of how often the cow is advanced, so
//!   the ground truth is a pure function of (seed, cow id, config): [`episodes`] enumerates it
//!   for scoring alerts.
//! - **Movement** is a correlated random walk in local metres: while grazing, each step of at
//!   most `max_step` turns the heading by a normal angle of SD `turn_sd_rad` and walks
//!   `grazing_speed_m_s × dt` (±25 % SD per step); both normals are the transcendental-free
//!   Irwin–Hall approximation ([`crate::fastmath::irwin_hall_normal_f32`]), whose ±3.5 SD
//!   support is no loss for a cow's gait. Grazing and resting alternate in bouts of
//!   exponential length (resting bouts capped at `resting_bout_max`, so that ordinary rest never
//!   looks like being stuck). During a stuck episode the cow does not move at all.
//! - **Containment**: a step that would leave the pasture polygon is reflected (the cow turns
//!   round and walks the other way); if that also leaves, the cow stays put. Since every
//!   accepted position is inside, the cow never leaves the pasture.
//!
//! **Figures** (all **assumed**; the reference has no cattle physiology): normal bovine body
//! temperature 38.0–39.3 °C with a ~0.5 °C daily swing (baseline 38.3–39.0 °C, amplitude
//! 0.25 °C, peak 17:00); fever ≥ 39.5 °C (rise 1.5 °C, 2 h ramps); about one fever episode per
//! cow-year lasting 1–4 days; one stuck episode per 1000 cow-days lasting 13–36 h (the seed's
//! "longer than a half day"); grazing speed 0.06 m/s (3–4 km/day), grazing bouts 2 h, resting
//! bouts 1 h capped at 4 h.
//!
//! **Left out.** Herd behaviour (cows follow each other), water and shade attraction, seasonal
//! and weather effects on temperature, rumination, calving, and the skin-to-core gap.

use crate::fastmath::{cos_turns, irwin_hall_normal_f32, turn_cos_sin, TURN_STEPS};
use geometry::{Point, Polygon};
use rand_core::RngCore;
use sim::{CompactRng, Dist, Epoch, Seed, SimDuration, SimTime, StreamKey};

/// A cow configuration value outside what the model accepts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CowError {
    #[error("cow config: field {field} = {value} but expected {expected}")]
    Config {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("cow {id}: no point inside the pasture could be found to place it")]
    NoRoom { id: u64 },
}

/// The seed's "stuck for longer than a half day": the shortest stuck episode.
pub const STUCK_MIN: SimDuration = SimDuration::from_secs(12 * 3_600 + 60);

/// Cow physiology and movement parameters. Plain data; see the module docs for meanings and
/// the assumed defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct CowConfig {
    /// Maps simulated time to UTC, for the daily rhythm.
    pub epoch: Epoch,
    /// Local solar time minus UTC at the pasture, seconds.
    pub utc_offset_s: i32,
    pub baseline_temp_c_min: f32,
    pub baseline_temp_c_max: f32,
    pub rhythm_amplitude_c: f32,
    pub rhythm_peak_hour: f32,
    pub fever_per_cow_day: f64,
    /// Fever episode duration, seconds.
    pub fever_duration_s: Dist,
    pub fever_rise_c: f32,
    pub fever_ramp: SimDuration,
    pub stuck_per_cow_day: f64,
    /// Stuck episode duration, seconds; samples below [`STUCK_MIN`] are raised to it.
    pub stuck_duration_s: Dist,
    pub grazing_speed_m_s: f32,
    pub turn_sd_rad: f32,
    pub grazing_bout_mean: SimDuration,
    pub resting_bout_mean: SimDuration,
    pub resting_bout_max: SimDuration,
    /// Longest movement step when advancing.
    pub max_step: SimDuration,
}

impl Default for CowConfig {
    fn default() -> Self {
        CowConfig {
            epoch: Epoch::DEFAULT,
            utc_offset_s: 0,
            baseline_temp_c_min: 38.3,
            baseline_temp_c_max: 39.0,
            rhythm_amplitude_c: 0.25,
            rhythm_peak_hour: 17.0,
            fever_per_cow_day: 1.0 / 365.0,
            fever_duration_s: Dist::Uniform {
                low: 86_400.0,
                high: 4.0 * 86_400.0,
            },
            fever_rise_c: 1.5,
            fever_ramp: SimDuration::from_hours(2),
            stuck_per_cow_day: 0.001,
            stuck_duration_s: Dist::Uniform {
                low: 13.0 * 3_600.0,
                high: 36.0 * 3_600.0,
            },
            grazing_speed_m_s: 0.06,
            turn_sd_rad: 0.8,
            grazing_bout_mean: SimDuration::from_hours(2),
            resting_bout_mean: SimDuration::from_hours(1),
            resting_bout_max: SimDuration::from_hours(4),
            max_step: SimDuration::from_secs(300),
        }
    }
}

fn bad(field: &'static str, value: impl std::fmt::Display, expected: &'static str) -> CowError {
    CowError::Config {
        field,
        value: value.to_string(),
        expected,
    }
}

fn check_dist(field: &'static str, d: &Dist) -> Result<(), CowError> {
    match d.mean() {
        Some(m) if m.is_finite() && m > 0.0 => Ok(()),
        other => Err(bad(
            field,
            format!("{d:?} (mean {other:?})"),
            "a distribution of positive durations with a finite mean",
        )),
    }
}

impl CowConfig {
    /// Checks every field; the error names the field, its value and what was expected.
    pub fn validate(&self) -> Result<(), CowError> {
        let f32ok = |v: f32| v.is_finite();
        if !(f32ok(self.baseline_temp_c_min) && (30.0..=45.0).contains(&self.baseline_temp_c_min)) {
            return Err(bad(
                "baseline_temp_c_min",
                self.baseline_temp_c_min,
                "a body temperature from 30 to 45 °C",
            ));
        }
        if !(f32ok(self.baseline_temp_c_max)
            && self.baseline_temp_c_max >= self.baseline_temp_c_min
            && self.baseline_temp_c_max <= 45.0)
        {
            return Err(bad(
                "baseline_temp_c_max",
                self.baseline_temp_c_max,
                ">= baseline_temp_c_min and <= 45 °C",
            ));
        }
        if !(f32ok(self.rhythm_amplitude_c) && (0.0..=3.0).contains(&self.rhythm_amplitude_c)) {
            return Err(bad(
                "rhythm_amplitude_c",
                self.rhythm_amplitude_c,
                "from 0 to 3 °C",
            ));
        }
        if !(f32ok(self.rhythm_peak_hour) && (0.0..24.0).contains(&self.rhythm_peak_hour)) {
            return Err(bad(
                "rhythm_peak_hour",
                self.rhythm_peak_hour,
                "an hour in [0, 24)",
            ));
        }
        if self.utc_offset_s.abs() > 14 * 3_600 {
            return Err(bad("utc_offset_s", self.utc_offset_s, "within ±14 h"));
        }
        if !(self.fever_per_cow_day.is_finite() && self.fever_per_cow_day >= 0.0) {
            return Err(bad("fever_per_cow_day", self.fever_per_cow_day, ">= 0"));
        }
        check_dist("fever_duration_s", &self.fever_duration_s)?;
        if !(f32ok(self.fever_rise_c) && (0.0..=5.0).contains(&self.fever_rise_c)) {
            return Err(bad("fever_rise_c", self.fever_rise_c, "from 0 to 5 °C"));
        }
        if !(self.stuck_per_cow_day.is_finite() && self.stuck_per_cow_day >= 0.0) {
            return Err(bad("stuck_per_cow_day", self.stuck_per_cow_day, ">= 0"));
        }
        check_dist("stuck_duration_s", &self.stuck_duration_s)?;
        if !(f32ok(self.grazing_speed_m_s) && (0.0..=3.0).contains(&self.grazing_speed_m_s)) {
            return Err(bad(
                "grazing_speed_m_s",
                self.grazing_speed_m_s,
                "from 0 to 3 m/s",
            ));
        }
        if !(f32ok(self.turn_sd_rad) && self.turn_sd_rad >= 0.0) {
            return Err(bad("turn_sd_rad", self.turn_sd_rad, ">= 0"));
        }
        if self.grazing_bout_mean.as_secs() == 0 {
            return Err(bad(
                "grazing_bout_mean",
                format!("{:?}", self.grazing_bout_mean),
                ">= 1 s",
            ));
        }
        if self.resting_bout_mean.as_secs() == 0 {
            return Err(bad(
                "resting_bout_mean",
                format!("{:?}", self.resting_bout_mean),
                ">= 1 s",
            ));
        }
        if self.resting_bout_max < self.resting_bout_mean
            || self.resting_bout_max >= SimDuration::from_hours(12)
        {
            return Err(bad(
                "resting_bout_max",
                format!("{:?}", self.resting_bout_max),
                ">= resting_bout_mean and < 12 h (longer rest would look like being stuck)",
            ));
        }
        if self.max_step.as_secs() == 0 {
            return Err(bad("max_step", format!("{:?}", self.max_step), ">= 1 s"));
        }
        Ok(())
    }
}

/// Which episode schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EpisodeKind {
    Fever,
    Stuck,
}

impl EpisodeKind {
    fn purpose(self) -> &'static str {
        match self {
            EpisodeKind::Fever => "fever",
            EpisodeKind::Stuck => "stuck",
        }
    }
    fn rate_and_duration(self, cfg: &CowConfig) -> (f64, &Dist) {
        match self {
            EpisodeKind::Fever => (cfg.fever_per_cow_day, &cfg.fever_duration_s),
            EpisodeKind::Stuck => (cfg.stuck_per_cow_day, &cfg.stuck_duration_s),
        }
    }
    fn min_duration_s(self) -> f64 {
        match self {
            EpisodeKind::Fever => 1.0,
            EpisodeKind::Stuck => STUCK_MIN.as_secs() as f64,
        }
    }
}

/// One episode of ground truth, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Episode {
    pub start: SimTime,
    pub end: SimTime,
}

impl Episode {
    pub fn contains(&self, t: SimTime) -> bool {
        self.start <= t && t < self.end
    }
    pub fn duration(&self) -> SimDuration {
        self.end.since(self.start)
    }
}

const NEVER_S: u32 = u32::MAX;

/// A cow's schedule of one kind of episode: its random stream and the current or next
/// episode, in whole seconds (16 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpisodeSchedule {
    rng: CompactRng,
    start_s: u32,
    end_s: u32,
}

impl EpisodeSchedule {
    /// The schedule of `kind` for cow `id`, with the first episode drawn after `from`.
    pub fn new(seed: Seed, id: u64, kind: EpisodeKind, cfg: &CowConfig, from: SimTime) -> Self {
        let mut s = EpisodeSchedule {
            rng: seed.compact(StreamKey::new("cow", id, kind.purpose())),
            start_s: NEVER_S,
            end_s: NEVER_S,
        };
        s.draw_next(kind, cfg, from.as_secs());
        s
    }

    fn draw_next(&mut self, kind: EpisodeKind, cfg: &CowConfig, after_s: u64) {
        let (per_day, duration) = kind.rate_and_duration(cfg);
        if per_day.is_nan() || per_day <= 0.0 {
            self.start_s = NEVER_S;
            self.end_s = NEVER_S;
            return;
        }
        let gap_s = -(86_400.0 / per_day) * libm::log(sim::rng::open_unit_f64(&mut self.rng));
        let dur_s = duration.sample(&mut self.rng).max(kind.min_duration_s());
        let start = after_s as f64 + libm::ceil(gap_s);
        let end = start + libm::ceil(dur_s);
        let cap = f64::from(NEVER_S - 1);
        self.start_s = start.min(cap) as u32;
        self.end_s = end.min(cap) as u32;
        if self.end_s <= self.start_s {
            // Only reachable past the u32-seconds horizon (year 2162): stop scheduling.
            self.start_s = NEVER_S;
            self.end_s = NEVER_S;
        }
    }

    /// Moves on past every episode that has ended by `now_s`.
    pub fn advance(&mut self, kind: EpisodeKind, cfg: &CowConfig, now_s: u64) {
        while self.end_s != NEVER_S && u64::from(self.end_s) <= now_s {
            let after = u64::from(self.end_s);
            self.draw_next(kind, cfg, after);
        }
    }

    /// Whether the current episode covers `now_s` (valid once advanced to `now_s`).
    #[inline]
    pub fn contains_s(&self, now_s: u64) -> bool {
        // `start <= now < end` as one unsigned comparison: before the start the difference
        // wraps round to a huge value. `end > start` for a scheduled episode, and nothing
        // scheduled is `start = end = NEVER_S`, an empty interval.
        now_s.wrapping_sub(u64::from(self.start_s))
            < u64::from(self.end_s.wrapping_sub(self.start_s))
    }

    /// The current or next episode, if any is scheduled.
    pub fn episode(&self) -> Option<Episode> {
        (self.start_s != NEVER_S).then(|| Episode {
            start: SimTime::from_secs(u64::from(self.start_s)),
            end: SimTime::from_secs(u64::from(self.end_s)),
        })
    }
}

/// Every episode of `kind` of cow `id` starting before `until`, for cows created at `from`:
/// the ground truth the analytics issue scores alerts against. The same values the cow's own
/// schedule produces.
pub fn episodes(
    seed: Seed,
    id: u64,
    kind: EpisodeKind,
    cfg: &CowConfig,
    from: SimTime,
    until: SimTime,
) -> Vec<Episode> {
    let mut s = EpisodeSchedule::new(seed, id, kind, cfg, from);
    let mut out = Vec::new();
    while let Some(e) = s.episode() {
        if e.start >= until {
            break;
        }
        out.push(e);
        s.advance(kind, cfg, e.end.as_secs());
    }
    out
}

/// A cow. See the module docs. 56 bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cow {
    /// Metres east and north, kept in `f32` (8 bytes of a 120-byte collar); widened exactly
    /// to `f64` for every fence test.
    position: [f32; 2],
    baseline_c: f32,
    last_s: u32,
    behaviour_until_s: u32,
    heading: u16,
    resting: bool,
    fever: EpisodeSchedule,
    stuck: EpisodeSchedule,
}

const HEADING_UNITS: f32 = 65_536.0;
const HEADING_PER_TABLE_STEP: u32 = 65_536 / TURN_STEPS;

impl Cow {
    /// Cow `id` born at `now` at a random point of the pasture, with its baseline temperature
    /// and placement drawn from `StreamKey("cow", id, "birth")`.
    pub fn new(
        seed: Seed,
        id: u64,
        cfg: &CowConfig,
        pasture: &Polygon,
        now: SimTime,
    ) -> Result<Self, CowError> {
        cfg.validate()?;
        let mut birth = seed.stream(StreamKey::new("cow", id, "birth"));
        let born = pasture
            .sample_inside(&mut birth)
            .ok_or(CowError::NoRoom { id })?;
        let position = [born.east_m as f32, born.north_m as f32];
        let u = sim::rng::unit_f64(&mut birth) as f32;
        let baseline_c =
            cfg.baseline_temp_c_min + u * (cfg.baseline_temp_c_max - cfg.baseline_temp_c_min);
        let heading = (birth.next_u32() >> 16) as u16;
        let resting = birth.next_u32() & 1 == 1;
        let mean = if resting {
            cfg.resting_bout_mean
        } else {
            cfg.grazing_bout_mean
        };
        let bout_s = (sim::rng::unit_f64(&mut birth) * mean.as_secs() as f64) as u64;
        let now_s = now.as_secs();
        Ok(Cow {
            position,
            baseline_c,
            last_s: now_s.min(u64::from(NEVER_S - 1)) as u32,
            behaviour_until_s: (now_s + bout_s).min(u64::from(NEVER_S - 1)) as u32,
            heading,
            resting,
            fever: EpisodeSchedule::new(seed, id, EpisodeKind::Fever, cfg, now),
            stuck: EpisodeSchedule::new(seed, id, EpisodeKind::Stuck, cfg, now),
        })
    }

    /// Where the cow is, metres east and north of the pasture's origin.
    pub fn position(&self) -> Point {
        Point::new(f64::from(self.position[0]), f64::from(self.position[1]))
    }
    /// [`Cow::position`] as it is stored, for the GNSS model's single-precision hot path.
    pub fn position_f32(&self) -> (f32, f32) {
        (self.position[0], self.position[1])
    }
    pub fn baseline_c(&self) -> f32 {
        self.baseline_c
    }
    pub fn is_resting(&self) -> bool {
        self.resting
    }
    /// The instant the cow was last advanced to (whole seconds).
    pub fn advanced_to(&self) -> SimTime {
        SimTime::from_secs(u64::from(self.last_s))
    }

    /// Ground truth: whether the cow has a fever at `now` (advance the cow to `now` first).
    pub fn is_febrile(&self, now: SimTime) -> bool {
        self.fever.contains_s(now.as_secs())
    }
    /// The current or next fever episode.
    pub fn fever_episode(&self) -> Option<Episode> {
        self.fever.episode()
    }
    /// Ground truth: whether the cow is stuck at `now` (advance the cow to `now` first).
    pub fn is_stuck(&self, now: SimTime) -> bool {
        self.stuck.contains_s(now.as_secs())
    }
    /// The current or next stuck episode.
    pub fn stuck_episode(&self) -> Option<Episode> {
        self.stuck.episode()
    }

    /// True body temperature at `now`, °C (advance the cow to `now` first).
    #[inline]
    pub fn body_temp_c(&self, now: SimTime, cfg: &CowConfig) -> f32 {
        let now_s = now.as_secs();
        let local_s = cfg.epoch.unix_secs() + now_s as i64 + i64::from(cfg.utc_offset_s);
        let sod = local_s.rem_euclid(86_400) as f32;
        let turns = (sod - cfg.rhythm_peak_hour * 3_600.0) * (1.0 / 86_400.0);
        let mut t = self.baseline_c + cfg.rhythm_amplitude_c * cos_turns(turns);
        if self.fever.contains_s(now_s) {
            let ramp = cfg.fever_ramp.as_secs().max(1) as f32;
            let since = (now_s - u64::from(self.fever.start_s)) as f32;
            let until = (u64::from(self.fever.end_s) - now_s) as f32;
            let level = (since / ramp).min(until / ramp).min(1.0);
            t += cfg.fever_rise_c * level;
        }
        t
    }

    /// Advances physiology and movement to `now` (a `now` earlier than the last advance does
    /// nothing). Movement draws come from `rng`; the episode schedules use their own streams.
    #[inline]
    pub fn advance(
        &mut self,
        now: SimTime,
        cfg: &CowConfig,
        pasture: &Polygon,
        rng: &mut impl RngCore,
    ) {
        let now_s = now.as_secs().min(u64::from(NEVER_S - 1));
        let t = u64::from(self.last_s);
        if t < now_s {
            // A collar samples at least once per `max_step`, so one step is the rule; the
            // loop for longer gaps stays out of line, where its loop-invariant loads do not
            // cost the single step a spill of every config field.
            let step_end = now_s.min(t + cfg.max_step.as_secs().max(1));
            self.step(t, step_end, cfg, pasture, rng);
            if step_end < now_s {
                self.steps(step_end, now_s, cfg, pasture, rng);
            }
        }
        self.last_s = self.last_s.max(now_s as u32);
        self.fever.advance(EpisodeKind::Fever, cfg, now_s);
        self.stuck.advance(EpisodeKind::Stuck, cfg, now_s);
    }

    /// Steps of at most `max_step` from `t` to `now_s`.
    #[cold]
    #[inline(never)]
    fn steps(
        &mut self,
        mut t: u64,
        now_s: u64,
        cfg: &CowConfig,
        pasture: &Polygon,
        rng: &mut impl RngCore,
    ) {
        let max_step = cfg.max_step.as_secs().max(1);
        while t < now_s {
            let step_end = now_s.min(t + max_step);
            self.step(t, step_end, cfg, pasture, rng);
            t = step_end;
        }
    }

    /// One step from `t` to `step_end` (at most `max_step` later): behaviour, then a walk
    /// unless the cow rests or is stuck.
    #[inline(always)]
    fn step(
        &mut self,
        t: u64,
        step_end: u64,
        cfg: &CowConfig,
        pasture: &Polygon,
        rng: &mut impl RngCore,
    ) {
        self.stuck.advance(EpisodeKind::Stuck, cfg, t);
        if self.stuck.contains_s(t) {
            return;
        }
        if t >= u64::from(self.behaviour_until_s) {
            self.resting = !self.resting;
            let (mean, cap) = if self.resting {
                (cfg.resting_bout_mean, cfg.resting_bout_max.as_secs() as f64)
            } else {
                (cfg.grazing_bout_mean, f64::INFINITY)
            };
            let bout = (-(mean.as_secs() as f64) * libm::log(sim::rng::open_unit_f64(rng)))
                .min(cap)
                .max(1.0);
            self.behaviour_until_s = (t + bout as u64).min(u64::from(NEVER_S - 1)) as u32;
        }
        if !self.resting {
            self.walk((step_end - t) as f32, cfg, pasture, rng);
        }
    }

    #[inline]
    fn walk(&mut self, dt_s: f32, cfg: &CowConfig, pasture: &Polygon, rng: &mut impl RngCore) {
        let z_turn = irwin_hall_normal_f32(rng);
        let z_speed = irwin_hall_normal_f32(rng);
        // Turn in heading units (1/65536 turn); the u16 wraps round the circle.
        let turn = (cfg.turn_sd_rad * z_turn * (HEADING_UNITS / core::f32::consts::TAU)) as i32;
        let heading = self.heading.wrapping_add(turn as u16);
        let dist = cfg.grazing_speed_m_s * dt_s * (1.0 + 0.25 * z_speed).max(0.0);
        // The step direction comes from the 1024-step turn table (0.35° steps).
        let step = (u32::from(heading) + HEADING_PER_TABLE_STEP / 2) / HEADING_PER_TABLE_STEP;
        let (c, s) = turn_cos_sin(step);
        let (de, dn) = (dist * c, dist * s);
        let [e, n] = self.position;
        let ahead = [e + de, n + dn];
        if pasture.contains(f64::from(ahead[0]), f64::from(ahead[1])) {
            self.position = ahead;
            self.heading = heading;
            return;
        }
        // Reflect off the fence: turn round and walk the same distance the other way.
        let back = [e - de, n - dn];
        self.heading = heading.wrapping_add(1 << 15);
        if pasture.contains(f64::from(back[0]), f64::from(back[1])) {
            self.position = back;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pasture() -> Polygon {
        Polygon::rectangle("pasture", 500.0, 300.0).unwrap()
    }

    #[test]
    fn a_cow_is_56_bytes() {
        assert_eq!(std::mem::size_of::<Cow>(), 56);
    }

    #[test]
    fn a_bad_config_names_the_field_value_and_expectation() {
        let cfg = CowConfig {
            resting_bout_max: SimDuration::from_hours(13),
            ..CowConfig::default()
        };
        let e = cfg.validate().unwrap_err().to_string();
        assert!(
            e.contains("resting_bout_max") && e.contains("46800s") && e.contains("< 12 h"),
            "{e}"
        );
        let cfg = CowConfig {
            fever_per_cow_day: -1.0,
            ..CowConfig::default()
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("fever_per_cow_day"));
    }

    #[test]
    fn the_episode_truth_does_not_depend_on_how_often_the_cow_is_advanced() {
        let cfg = CowConfig {
            fever_per_cow_day: 0.05,
            stuck_per_cow_day: 0.05,
            ..CowConfig::default()
        };
        let seed = Seed(77);
        let p = pasture();
        let days = 400;
        let until = SimTime::from_secs(days * 86_400);
        let fevers = episodes(seed, 3, EpisodeKind::Fever, &cfg, SimTime::ZERO, until);
        let stucks = episodes(seed, 3, EpisodeKind::Stuck, &cfg, SimTime::ZERO, until);
        assert!(
            fevers.len() > 5 && stucks.len() > 5,
            "{} {}",
            fevers.len(),
            stucks.len()
        );
        assert!(stucks
            .iter()
            .all(|e| e.duration() > SimDuration::from_hours(12)));
        let mut cow = Cow::new(seed, 3, &cfg, &p, SimTime::ZERO).unwrap();
        let mut rng = CompactRng::from_seed_u64(1);
        let (mut seen_f, mut seen_s) = (Vec::new(), Vec::new());
        let mut t = SimTime::ZERO;
        while t < until {
            t += SimDuration::from_secs(1_800 + (t.as_secs() % 7) * 97);
            cow.advance(t, &cfg, &p, &mut rng);
            let f = cow.fever_episode().unwrap();
            if f.start < until && seen_f.last() != Some(&f) {
                seen_f.push(f);
            }
            let s = cow.stuck_episode().unwrap();
            if s.start < until && seen_s.last() != Some(&s) {
                seen_s.push(s);
            }
            assert_eq!(cow.is_febrile(t), fevers.iter().any(|e| e.contains(t)));
            assert_eq!(cow.is_stuck(t), stucks.iter().any(|e| e.contains(t)));
        }
        assert_eq!(seen_f, fevers);
        assert_eq!(seen_s, stucks);
    }

    #[test]
    fn episode_incidence_and_duration_follow_the_configured_rates() {
        let cfg = CowConfig {
            fever_per_cow_day: 0.01,
            stuck_per_cow_day: 0.005,
            ..CowConfig::default()
        };
        let days = 1_000u64;
        let until = SimTime::from_secs(days * 86_400);
        let (mut fevers, mut fever_days, mut stucks, mut stuck_hours) =
            (0u32, 0.0f64, 0u32, 0.0f64);
        for id in 0..100 {
            for e in episodes(Seed(8), id, EpisodeKind::Fever, &cfg, SimTime::ZERO, until) {
                fevers += 1;
                fever_days += e.duration().as_secs_f64() / 86_400.0;
            }
            for e in episodes(Seed(8), id, EpisodeKind::Stuck, &cfg, SimTime::ZERO, until) {
                stucks += 1;
                stuck_hours += e.duration().as_secs_f64() / 3_600.0;
            }
        }
        // The gap between episodes is exponential with mean 1/rate; a cycle is gap + duration.
        let expected_fevers = 100.0 * days as f64 / (1.0 / 0.01 + 2.5);
        let expected_stucks = 100.0 * days as f64 / (1.0 / 0.005 + 24.5 / 24.0);
        assert!(
            (f64::from(fevers) / expected_fevers - 1.0).abs() < 0.08,
            "{fevers} vs {expected_fevers}"
        );
        assert!(
            (f64::from(stucks) / expected_stucks - 1.0).abs() < 0.1,
            "{stucks} vs {expected_stucks}"
        );
        assert!((fever_days / f64::from(fevers) - 2.5).abs() < 0.1);
        assert!((stuck_hours / f64::from(stucks) - 24.5).abs() < 1.0);
    }

    #[test]
    fn a_stuck_cow_stays_in_one_place_and_a_free_cow_moves() {
        let cfg = CowConfig {
            stuck_per_cow_day: 0.2,
            ..CowConfig::default()
        };
        let p = pasture();
        let mut cow = Cow::new(Seed(5), 1, &cfg, &p, SimTime::ZERO).unwrap();
        let mut rng = CompactRng::from_seed_u64(2);
        let ep = cow.stuck_episode().unwrap();
        cow.advance(ep.start, &cfg, &p, &mut rng);
        let at = cow.position();
        let mut t = ep.start;
        while t + SimDuration::from_secs(300) < ep.end {
            t += SimDuration::from_secs(300);
            cow.advance(t, &cfg, &p, &mut rng);
            assert!(cow.is_stuck(t));
            assert_eq!(cow.position(), at);
        }
        cow.advance(ep.end + SimDuration::from_hours(12), &cfg, &p, &mut rng);
        assert!(cow.position().distance_m(at) > 1.0);
    }

    #[test]
    fn body_temperature_follows_the_rhythm_and_rises_in_fever() {
        let cfg = CowConfig {
            fever_per_cow_day: 0.1,
            ..CowConfig::default()
        };
        let p = pasture();
        let mut cow = Cow::new(Seed(6), 2, &cfg, &p, SimTime::ZERO).unwrap();
        let mut rng = CompactRng::from_seed_u64(3);
        let ep = cow.fever_episode().unwrap();
        // Normal range on the day before the fever.
        let day_before = ep.start.as_secs().saturating_sub(86_400);
        for h in 0..24 {
            let t = SimTime::from_secs(day_before + h * 3_600);
            cow.advance(t, &cfg, &p, &mut rng);
            let temp = cow.body_temp_c(t, &cfg);
            assert!((38.0..=39.3).contains(&temp), "{temp}");
        }
        let plateau = ep.start + cfg.fever_ramp + SimDuration::from_mins(10);
        cow.advance(plateau, &cfg, &p, &mut rng);
        assert!(cow.is_febrile(plateau));
        assert!(cow.body_temp_c(plateau, &cfg) >= 39.5);
    }
}
