//! Simulated time: integer nanoseconds from a fixed epoch, and the calendar that epoch maps to.
//!
//! `SimTime` is an instant, `SimDuration` a span; both are `u64` nanoseconds, which covers
//! 584 years. Arithmetic that would leave that range panics (it is a model bug, not an input
//! error). Nothing here reads the OS clock: the only source of "now" is the kernel.
//!
//! The [`Epoch`] maps `SimTime::ZERO` to a UTC calendar instant (default 2026-01-01T00:00:00Z)
//! so that models which need the UTC day (IoT Hub's daily quota resets at the next UTC day,
//! reference §1.1) or the hour (diurnal cycles) can ask for them, and reports can print dates.
//! The calendar arithmetic is the proleptic Gregorian algorithm of Howard Hinnant's
//! `civil_from_days`, in integers, so it is exact and identical on every machine.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

const NANOS_PER_MICRO: u64 = 1_000;
const NANOS_PER_MILLI: u64 = 1_000_000;
const NANOS_PER_SEC: u64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// An instant of simulated time, in nanoseconds since the scenario's [`Epoch`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(u64);

/// A span of simulated time, in nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimDuration(u64);

impl SimTime {
    /// The epoch itself.
    pub const ZERO: SimTime = SimTime(0);
    /// The last representable instant; used as "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        SimTime(ns)
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimTime(ms * NANOS_PER_MILLI)
    }
    pub const fn from_secs(s: u64) -> Self {
        SimTime(s * NANOS_PER_SEC)
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Whole milliseconds since the epoch (truncated).
    pub const fn as_millis(self) -> u64 {
        self.0 / NANOS_PER_MILLI
    }
    /// Whole seconds since the epoch (truncated).
    pub const fn as_secs(self) -> u64 {
        self.0 / NANOS_PER_SEC
    }
    /// Seconds since the epoch as a float, for reports only (never for model decisions).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }
    /// The span from `earlier` to `self`; panics if `earlier` is later.
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(
            self.0
                .checked_sub(earlier.0)
                .unwrap_or_else(|| panic!("SimTime::since: {earlier:?} is after {self:?}")),
        )
    }
    /// The span from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
    pub fn checked_add(self, d: SimDuration) -> Option<SimTime> {
        self.0.checked_add(d.0).map(SimTime)
    }
    /// `self + d`, or [`SimTime::MAX`] if that overflows.
    pub fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl SimDuration {
    /// For people: whole hours and minutes from a minute up (`3 h`, `6 h 35 min`,
    /// `12 min`, a day and more as `2 d 4 h`), seconds with up to one decimal below
    /// (`45 s`, `1.5 s`), milliseconds below a second (`250 ms`).
    ///
    /// ```
    /// use sim::SimDuration;
    /// assert_eq!(SimDuration::from_secs(10_800).human(), "3 h");
    /// assert_eq!(SimDuration::from_secs(23_749).human(), "6 h 35 min");
    /// assert_eq!(SimDuration::from_millis(1_500).human(), "1.5 s");
    /// assert_eq!(SimDuration::from_millis(250).human(), "250 ms");
    /// assert_eq!(SimDuration::from_secs(180_000).human(), "2 d 2 h");
    /// ```
    pub fn human(self) -> String {
        let ns = self.0;
        if ns < NANOS_PER_SEC {
            return format!("{} ms", ns / NANOS_PER_MILLI);
        }
        if ns < 60 * NANOS_PER_SEC {
            let tenths = ns / (NANOS_PER_SEC / 10);
            return if tenths % 10 == 0 {
                format!("{} s", tenths / 10)
            } else {
                format!("{}.{} s", tenths / 10, tenths % 10)
            };
        }
        let mins = ns / (60 * NANOS_PER_SEC);
        let (d, h, m) = (mins / 1_440, mins / 60 % 24, mins % 60);
        match (d, h, m) {
            (0, 0, m) => format!("{m} min"),
            (0, h, 0) => format!("{h} h"),
            (0, h, m) => format!("{h} h {m} min"),
            (d, 0, _) => format!("{d} d"),
            (d, h, _) => format!("{d} d {h} h"),
        }
    }

    pub const ZERO: SimDuration = SimDuration(0);
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * NANOS_PER_MICRO)
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * NANOS_PER_MILLI)
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * NANOS_PER_SEC)
    }
    pub const fn from_mins(m: u64) -> Self {
        SimDuration(m * 60 * NANOS_PER_SEC)
    }
    pub const fn from_hours(h: u64) -> Self {
        SimDuration(h * 3_600 * NANOS_PER_SEC)
    }
    /// Converts seconds given as a float, rounding to the nearest nanosecond and saturating
    /// at zero and [`SimDuration::MAX`]; NaN becomes zero. Used where a distribution yields
    /// a float duration.
    pub fn from_secs_f64(s: f64) -> Self {
        let ns = s * NANOS_PER_SEC as f64;
        if ns.is_nan() || ns <= 0.0 {
            SimDuration(0)
        } else if ns >= u64::MAX as f64 {
            SimDuration(u64::MAX)
        } else {
            SimDuration(libm::round(ns) as u64)
        }
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub const fn as_millis(self) -> u64 {
        self.0 / NANOS_PER_MILLI
    }
    pub const fn as_secs(self) -> u64 {
        self.0 / NANOS_PER_SEC
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_MILLI as f64
    }
    pub fn checked_add(self, d: SimDuration) -> Option<SimDuration> {
        self.0.checked_add(d.0).map(SimDuration)
    }
    pub fn saturating_add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
    pub fn saturating_sub(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(d.0))
    }
    /// `self * k`, saturating.
    pub fn saturating_mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(k))
    }
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(
            self.0
                .checked_add(d.0)
                .unwrap_or_else(|| panic!("SimTime overflow: {self:?} + {d:?}")),
        )
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Sub<SimDuration> for SimTime {
    type Output = SimTime;
    fn sub(self, d: SimDuration) -> SimTime {
        SimTime(
            self.0
                .checked_sub(d.0)
                .unwrap_or_else(|| panic!("SimTime underflow: {self:?} - {d:?}")),
        )
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, earlier: SimTime) -> SimDuration {
        self.since(earlier)
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(
            self.0
                .checked_add(d.0)
                .unwrap_or_else(|| panic!("SimDuration overflow: {self:?} + {d:?}")),
        )
    }
}

impl AddAssign for SimDuration {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Sub for SimDuration {
    type Output = SimDuration;
    fn sub(self, d: SimDuration) -> SimDuration {
        SimDuration(
            self.0
                .checked_sub(d.0)
                .unwrap_or_else(|| panic!("SimDuration underflow: {self:?} - {d:?}")),
        )
    }
}

impl std::ops::Div<u64> for SimDuration {
    type Output = SimDuration;
    fn div(self, k: u64) -> SimDuration {
        SimDuration(self.0 / k)
    }
}

impl std::ops::Mul<u64> for SimDuration {
    type Output = SimDuration;
    fn mul(self, k: u64) -> SimDuration {
        SimDuration(
            self.0
                .checked_mul(k)
                .unwrap_or_else(|| panic!("SimDuration overflow: {self:?} * {k}")),
        )
    }
}

/// Formats as seconds with nanosecond precision, e.g. `t=12.000000500s`.
impl fmt::Debug for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "t={}.{:09}s",
            self.0 / NANOS_PER_SEC,
            self.0 % NANOS_PER_SEC
        )
    }
}

/// Formats as the run's clock, day 1 being the first 24 hours from time zero, to the
/// millisecond (truncated): `day 1 17:24:11.120`. (With the default epoch, midnight UTC, this
/// is also the UTC time of day.) `{:?}` gives the exact nanoseconds.
///
/// ```
/// use sim::SimTime;
/// assert_eq!(SimTime::from_millis(62_651_120).to_string(), "day 1 17:24:11.120");
/// assert_eq!(SimTime::from_secs(86_400 + 5).to_string(), "day 2 00:00:05.000");
/// ```
impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0 / 1_000_000;
        let day = ms / 86_400_000;
        let in_day = ms % 86_400_000;
        write!(
            f,
            "day {} {:02}:{:02}:{:02}.{:03}",
            day + 1,
            in_day / 3_600_000,
            in_day / 60_000 % 60,
            in_day / 1_000 % 60,
            in_day % 1_000
        )
    }
}

/// Formats with the largest unit that keeps it readable, e.g. `250ms`, `1.5s`, `300s`.
impl fmt::Debug for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            write!(f, "0s")
        } else if ns % NANOS_PER_SEC == 0 {
            write!(f, "{}s", ns / NANOS_PER_SEC)
        } else if ns % NANOS_PER_MILLI == 0 {
            write!(f, "{}ms", ns / NANOS_PER_MILLI)
        } else if ns % NANOS_PER_MICRO == 0 {
            write!(f, "{}us", ns / NANOS_PER_MICRO)
        } else {
            write!(f, "{ns}ns")
        }
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A UTC calendar date and time of day, derived from a [`SimTime`] through an [`Epoch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct UtcDateTime {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub nanosecond: u32,
}

impl fmt::Display for UtcDateTime {
    /// RFC 3339 with millisecond precision, e.g. `2026-01-01T00:05:00.000Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.nanosecond / 1_000_000
        )
    }
}

/// Maps `SimTime::ZERO` to a UTC instant. The default is 2026-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epoch {
    unix_secs: i64,
}

impl Default for Epoch {
    fn default() -> Self {
        Epoch::DEFAULT
    }
}

impl Epoch {
    /// 2026-01-01T00:00:00Z.
    pub const DEFAULT: Epoch = Epoch {
        unix_secs: 1_767_225_600,
    };

    /// An epoch at a whole number of seconds since 1970-01-01T00:00:00Z.
    pub const fn from_unix_secs(unix_secs: i64) -> Self {
        Epoch { unix_secs }
    }

    /// An epoch at midnight UTC of the given date; `None` if the date does not exist.
    pub fn from_date(year: i32, month: u8, day: u8) -> Option<Self> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Epoch {
            unix_secs: days_from_civil(year, month, day) * SECS_PER_DAY,
        })
    }

    /// Parses `YYYY-MM-DDTHH:MM:SSZ` (the only form scenario files use).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let part = s.get(r)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if h > 23 || mi > 59 || se > 59 {
            return None;
        }
        let date = Epoch::from_date(y as i32, mo as u8, d as u8)?;
        Some(Epoch {
            unix_secs: date.unix_secs + h * 3_600 + mi * 60 + se,
        })
    }

    pub const fn unix_secs(self) -> i64 {
        self.unix_secs
    }

    /// The UTC calendar instant of `t`.
    pub fn utc(self, t: SimTime) -> UtcDateTime {
        let secs = self.unix_secs + (t.as_nanos() / NANOS_PER_SEC) as i64;
        let days = secs.div_euclid(SECS_PER_DAY);
        let sod = secs.rem_euclid(SECS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        UtcDateTime {
            year,
            month,
            day,
            hour: (sod / 3_600) as u8,
            minute: (sod % 3_600 / 60) as u8,
            second: (sod % 60) as u8,
            nanosecond: (t.as_nanos() % NANOS_PER_SEC) as u32,
        }
    }

    /// The UTC day number of `t` (days since 1970-01-01). IoT Hub's daily quota resets when
    /// this changes (reference §1.1).
    pub fn utc_day(self, t: SimTime) -> i64 {
        (self.unix_secs + (t.as_nanos() / NANOS_PER_SEC) as i64).div_euclid(SECS_PER_DAY)
    }

    /// The first instant of the UTC day after the one `t` falls in.
    pub fn next_utc_midnight(self, t: SimTime) -> SimTime {
        let next_day_unix = (self.utc_day(t) + 1) * SECS_PER_DAY;
        SimTime::from_secs((next_day_unix - self.unix_secs) as u64)
    }

    /// Seconds since UTC midnight, with the sub-second part, for diurnal models.
    pub fn seconds_of_day(self, t: SimTime) -> f64 {
        let whole =
            (self.unix_secs + (t.as_nanos() / NANOS_PER_SEC) as i64).rem_euclid(SECS_PER_DAY);
        whole as f64 + (t.as_nanos() % NANOS_PER_SEC) as f64 / NANOS_PER_SEC as f64
    }

    /// The UTC hour of day, 0-23.
    pub fn hour_of_day(self, t: SimTime) -> u8 {
        self.utc(t).hour
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's `days_from_civil`).
fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

/// A node's local clock: global simulated time seen through an offset and a rate error.
///
/// Real crystals drift by tens of ppm; the fault plan can also step a clock. A firmware model
/// that schedules "every 300 s" by its own clock converts with [`SkewedClock::global_after`].
/// `local(t) = t + offset + drift_ppm·1e-6·(t − since)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SkewedClock {
    /// Local minus global at `since`, in nanoseconds.
    pub offset_ns: i64,
    /// Rate error in parts per million (positive: the local clock runs fast).
    pub drift_ppm: f64,
    /// The global instant from which `drift_ppm` applies.
    pub since: SimTime,
}

impl Default for SkewedClock {
    fn default() -> Self {
        SkewedClock {
            offset_ns: 0,
            drift_ppm: 0.0,
            since: SimTime::ZERO,
        }
    }
}

impl SkewedClock {
    fn drift_ns(&self, global: SimTime) -> i64 {
        let elapsed = global.saturating_since(self.since).as_nanos() as f64;
        libm::round(elapsed * self.drift_ppm * 1e-6) as i64
    }

    /// The local reading at global instant `global`, in nanoseconds (may be negative early on
    /// for a clock that was stepped back).
    pub fn local_nanos(&self, global: SimTime) -> i64 {
        global.as_nanos() as i64 + self.offset_ns + self.drift_ns(global)
    }

    /// The global instant at which `local` has elapsed on this clock after global instant `now`.
    pub fn global_after(&self, now: SimTime, local: SimDuration) -> SimTime {
        let rate = 1.0 + self.drift_ppm * 1e-6;
        let rate = if rate <= 0.0 { f64::MIN_POSITIVE } else { rate };
        now + SimDuration::from_nanos(libm::round(local.as_nanos() as f64 / rate) as u64)
    }

    /// Changes the drift from `now` on, keeping the current reading continuous.
    pub fn set_drift(&mut self, now: SimTime, drift_ppm: f64) {
        self.offset_ns += self.drift_ns(now);
        self.since = now;
        self.drift_ppm = drift_ppm;
    }

    /// Steps the clock by `step_ns` (an NTP correction or a fault).
    pub fn step(&mut self, step_ns: i64) {
        self.offset_ns += step_ns;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_epoch_is_2026_new_year() {
        let e = Epoch::default();
        assert_eq!(e.utc(SimTime::ZERO).to_string(), "2026-01-01T00:00:00.000Z");
        let t = SimTime::from_secs(86_400 * 59 + 3_661) + SimDuration::from_millis(250);
        assert_eq!(e.utc(t).to_string(), "2026-03-01T01:01:01.250Z");
        assert_eq!(Epoch::parse_rfc3339("2026-01-01T00:00:00Z"), Some(e));
    }

    #[test]
    fn civil_round_trips_over_four_centuries() {
        for z in (-200_000..200_000).step_by(7) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert!(Epoch::from_date(2024, 2, 29).is_some());
        assert!(Epoch::from_date(2026, 2, 29).is_none());
        assert!(Epoch::parse_rfc3339("2026-13-01T00:00:00Z").is_none());
        assert!(Epoch::parse_rfc3339("2026-01-01 00:00:00Z").is_none());
    }

    #[test]
    fn next_utc_midnight_is_the_quota_reset() {
        let e = Epoch::parse_rfc3339("2026-01-01T18:00:00Z").unwrap();
        assert_eq!(
            e.next_utc_midnight(SimTime::ZERO),
            SimTime::from_secs(6 * 3_600)
        );
        assert_eq!(
            e.utc_day(SimTime::from_secs(6 * 3_600 - 1)) + 1,
            e.utc_day(SimTime::from_secs(6 * 3_600))
        );
        assert_eq!(e.hour_of_day(SimTime::from_secs(3_600)), 19);
    }

    #[test]
    fn skewed_clock_runs_fast_by_its_drift() {
        let mut c = SkewedClock {
            drift_ppm: 100.0,
            ..SkewedClock::default()
        };
        let t = SimTime::from_secs(10_000);
        assert_eq!(c.local_nanos(t), 10_001_000_000_000);
        let g = c.global_after(SimTime::ZERO, SimDuration::from_secs(10_001));
        assert!(g.as_nanos().abs_diff(10_000_000_000_000) < 2);
        c.set_drift(t, 0.0);
        assert_eq!(
            c.local_nanos(SimTime::from_secs(20_000)),
            20_001_000_000_000
        );
        c.step(-1_000_000_000);
        assert_eq!(
            c.local_nanos(SimTime::from_secs(20_000)),
            20_000_000_000_000
        );
    }

    #[test]
    fn durations_format_readably() {
        assert_eq!(format!("{:?}", SimDuration::from_millis(250)), "250ms");
        assert_eq!(format!("{:?}", SimDuration::from_secs(300)), "300s");
        assert_eq!(
            format!("{:?}", SimTime::from_millis(1_500)),
            "t=1.500000000s"
        );
        assert_eq!(
            SimDuration::from_secs_f64(1.5),
            SimDuration::from_millis(1_500)
        );
        assert_eq!(SimDuration::from_secs_f64(-3.0), SimDuration::ZERO);
    }
}
