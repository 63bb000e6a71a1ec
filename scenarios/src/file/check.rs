//! What serde cannot check in a scenario file: ranges, names that must match, rules across
//! sections. Every error names the dotted field (`classes.collar.telemetry.interval_s`), the
//! value and what was expected; the loader turns the field into a line and column. Checks
//! that need a class kind's own knowledge (its parameters, the fields it samples) happen when
//! the file is resolved against the registry ([`super::resolve`]).

use super::{ClassEntry, InvariantEntry, SolutionFile};
use crate::load::{FieldError, Validate};
use crate::world::IdPattern;
use hardware::radio::RadioProfile;
use hub::Tier;
use iot_messages::telemetry::FIELDS_MAX;
use sim::{Epoch, Ratio};

const YEAR_H: f64 = 24.0 * 366.0;
/// Devices one IoT Hub holds (reference §1.3).
pub const DEVICES_PER_HUB_MAX: u64 = 1_000_000;

fn bad(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError::new(field, message)
}

fn positive(field: &str, v: f64) -> Result<(), FieldError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(bad(field, format!("{v}: expected a number greater than 0")))
    }
}

pub(crate) fn ratio(field: &str, v: f64) -> Result<Ratio, FieldError> {
    Ratio::new(v).map_err(|_| bad(field, format!("{v}: expected a ratio from 0 to 1")))
}

/// A time in hours (or another unit, `per_h` of them an hour) within a year: fault times may
/// lie past the end (a shortened run never reaches them), but no arithmetic on them may
/// overflow.
fn within_year(field: &str, v: f64, per_h: f64) -> Result<(), FieldError> {
    let max = YEAR_H * per_h;
    if v.is_finite() && (0.0..=max).contains(&v) {
        Ok(())
    } else {
        Err(bad(field, format!("{v}: expected 0 to {max} (a year)")))
    }
}

fn in_range<T: PartialOrd + std::fmt::Display>(
    field: &str,
    v: T,
    lo: T,
    hi: T,
    what: &str,
) -> Result<(), FieldError> {
    if v >= lo && v <= hi {
        Ok(())
    } else {
        Err(bad(field, format!("{v}: expected {lo} to {hi}{what}")))
    }
}

/// A name that may be a `--set` path segment and a part of ids and stream keys.
fn plain_name(field: &str, name: &str, what: &str) -> Result<(), FieldError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.bytes().all(|b| b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(bad(
            field,
            format!("{name:?}: expected a {what} of 1 to 64 letters, digits, `_` or `-`, not all digits"),
        ))
    }
}

impl Validate for SolutionFile {
    fn validate(&self) -> Result<(), FieldError> {
        self.check_scenario()?;
        self.check_cloud()?;
        if self.classes.is_empty() {
            return Err(bad(
                "classes",
                "no [[classes]] entry: expected at least one class of devices",
            ));
        }
        for (i, c) in self.classes.iter().enumerate() {
            let first = self.classes[..i].iter().find(|o| o.name == c.name);
            if first.is_some() {
                return Err(bad(
                    format!("classes[{i}].name"),
                    format!(
                        "{:?}: another class has this name; expected unique names",
                        c.name
                    ),
                ));
            }
            plain_name(&format!("classes[{i}].name"), &c.name, "class name")?;
            self.check_class(c)?;
        }
        self.check_fleet_size()?;
        self.check_id_patterns()?;
        self.check_backend_and_faults()?;
        super::edge::check(self)?;
        self.check_apps_and_commands()?;
        self.check_invariants()
    }
}

impl SolutionFile {
    fn check_scenario(&self) -> Result<(), FieldError> {
        let s = &self.scenario;
        plain_name("scenario.name", &s.name, "scenario name")?;
        positive("scenario.duration_h", s.duration_h)?;
        if s.duration_h > YEAR_H {
            return Err(bad(
                "scenario.duration_h",
                format!("{}: expected at most a year (8784 h)", s.duration_h),
            ));
        }
        if Epoch::parse_rfc3339(&s.epoch).is_none() {
            return Err(bad(
                "scenario.epoch",
                format!("{:?}: expected YYYY-MM-DDTHH:MM:SSZ", s.epoch),
            ));
        }
        let n = &self.network;
        if n.devices_per_tower == 0 {
            return Err(bad("network.devices_per_tower", "0: expected at least 1"));
        }
        in_range("network.tcp_rto_ms", n.tcp_rto_ms, 1, 60_000, " ms")?;
        in_range("network.tcp_max_retries", n.tcp_max_retries, 0, 16, "")
    }

    fn check_cloud(&self) -> Result<(), FieldError> {
        let h = &self.hub;
        plain_name("hub.name", &h.name, "hub name")?;
        if Tier::parse(&h.tier).is_none() {
            return Err(bad(
                "hub.tier",
                format!("{:?}: expected one of F1, B1, B2, B3, S1, S2, S3", h.tier),
            ));
        }
        in_range("hub.units", h.units, 1, 200, " units (reference §1.1)")?;
        in_range("hub.count", h.count, 1, 16, " linked hubs")?;
        in_range("hub.partitions", h.partitions, 1, 32, " (reference §1.3)")?;
        in_range(
            "hub.c2d_ttl_s",
            h.c2d_ttl_s,
            60,
            172_800,
            " s (reference §1.8)",
        )?;
        in_range(
            "hub.c2d_max_delivery_count",
            h.c2d_max_delivery_count,
            1,
            100,
            " (reference §1.8)",
        )?;
        let d = &self.dps;
        check_allocation("dps.allocation", &d.allocation, h.count, false)?;
        in_range("dps.units", d.units, 1, 200, "")
    }

    fn check_class(&self, c: &ClassEntry) -> Result<(), FieldError> {
        let f = |key: &str| format!("classes.{}.{key}", c.name);
        if c.kind.is_empty() {
            return Err(bad(
                f("kind"),
                "missing: expected a registered class kind, e.g. \"collar/1\" (`fleetsim list` shows them)",
            ));
        }
        if c.count == 0 {
            return Err(bad(f("count"), "0: expected at least 1 device"));
        }
        if !c.ids.is_empty() {
            IdPattern::parse(&c.ids).map_err(|e| bad(f("ids"), e.to_string()))?;
        }
        within_year(&f("boot_window_s"), c.boot_window_s as f64, 3_600.0)?;
        ratio(&f("provisioned_ratio"), c.provisioned_ratio)?;
        if c.unmodeled != "refuse" && c.unmodeled != "flag" {
            return Err(bad(
                f("unmodeled"),
                format!("{:?}: expected \"refuse\" or \"flag\"", c.unmodeled),
            ));
        }
        let t = &c.telemetry;
        in_range(
            &f("telemetry.interval_s"),
            t.interval_s,
            0,
            86_400,
            " s (0: only event-driven publishes)",
        )?;
        if t.interval_s > 0 && t.jitter_s >= t.interval_s {
            return Err(bad(
                f("telemetry.jitter_s"),
                format!(
                    "{}: expected less than interval_s ({})",
                    t.jitter_s, t.interval_s
                ),
            ));
        }
        check_field_name(&f("telemetry.timestamp"), &t.timestamp)?;
        if t.fields.len() >= FIELDS_MAX {
            return Err(bad(
                f("telemetry.fields"),
                format!(
                    "{} fields: expected at most {} besides the timestamp",
                    t.fields.len(),
                    FIELDS_MAX - 1
                ),
            ));
        }
        for (i, fe) in t.fields.iter().enumerate() {
            let at = f(&format!("telemetry.fields[{i}]"));
            check_field_name(&format!("{at}.name"), &fe.name)?;
            if fe.name == t.timestamp || t.fields[..i].iter().any(|o| o.name == fe.name) {
                return Err(bad(
                    format!("{at}.name"),
                    format!("{:?}: declared twice (or as the timestamp)", fe.name),
                ));
            }
            if let Some(r) = fe.resolution {
                positive(&format!("{at}.resolution"), r)?;
            }
        }
        self.check_firmware_and_link(c)
    }

    fn check_firmware_and_link(&self, c: &ClassEntry) -> Result<(), FieldError> {
        let f = |key: &str| format!("classes.{}.{key}", c.name);
        let fw = &c.firmware;
        in_range(
            &f("firmware.buffer_capacity"),
            fw.buffer_capacity,
            1,
            60,
            " messages (the store de-duplicates within 64 sequence numbers)",
        )?;
        if !matches!(fw.overflow.as_str(), "drop_oldest" | "drop_newest") {
            return Err(bad(
                f("firmware.overflow"),
                format!(
                    "{:?}: expected \"drop_oldest\" or \"drop_newest\"",
                    fw.overflow
                ),
            ));
        }
        in_range(
            &f("firmware.keep_alive_s"),
            fw.keep_alive_s,
            1,
            1_177,
            " s (the hub's limit, reference §1.6)",
        )?;
        in_range(
            &f("firmware.token_ttl_min"),
            fw.token_ttl_min,
            10,
            10_080,
            " minutes (10 minutes to 7 days)",
        )?;
        for (i, s) in fw.subscriptions.iter().enumerate() {
            if !matches!(s.as_str(), "c2d" | "twin" | "methods") {
                return Err(bad(
                    f(&format!("firmware.subscriptions[{i}]")),
                    format!("{s:?}: expected \"c2d\", \"twin\" or \"methods\""),
                ));
            }
        }
        let basic = Tier::parse(&self.hub.tier).is_some_and(Tier::is_basic);
        if basic && !fw.subscriptions.is_empty() {
            return Err(bad(
                "hub.tier",
                format!(
                    "{:?}: Basic tiers have no C2D, twins or direct methods (reference §1.1), which class {:?} subscribes to ({}); expected F1 or S1-S3, or classes.{}.firmware.subscriptions = []",
                    self.hub.tier,
                    c.name,
                    fw.subscriptions.join(", "),
                    c.name
                ),
            ));
        }
        let l = &c.link;
        if RadioProfile::named(&l.radio).is_none() {
            return Err(bad(
                f("link.radio"),
                format!(
                    "{:?}: expected one of {}",
                    l.radio,
                    RadioProfile::NAMES.join(", ")
                ),
            ));
        }
        positive(&f("link.distance_m"), l.distance_m)?;
        for (key, v) in [
            ("link.latency_ms_min", l.latency_ms_min),
            ("link.latency_ms_median_extra", l.latency_ms_median_extra),
            ("link.latency_ms_p99_extra", l.latency_ms_p99_extra),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && (0.0..=600_000.0).contains(&v)) {
                    return Err(bad(
                        f(key),
                        format!("{v}: expected 0 to 600000 ms (10 minutes)"),
                    ));
                }
            }
        }
        if let Some(m) = l.latency_ms_median_extra {
            positive(&f("link.latency_ms_median_extra"), m)?;
        }
        if l.latency_ms_median_extra.is_some() != l.latency_ms_p99_extra.is_some() {
            return Err(bad(
                f("link.latency_ms_p99_extra"),
                "set latency_ms_median_extra and latency_ms_p99_extra together (a lognormal needs both)",
            ));
        }
        if let (Some(m), Some(p)) = (l.latency_ms_median_extra, l.latency_ms_p99_extra) {
            if p < m {
                return Err(bad(
                    f("link.latency_ms_p99_extra"),
                    format!("{p}: expected at least latency_ms_median_extra ({m})"),
                ));
            }
        }
        if let Some(loss) = l.loss_ratio {
            ratio(&f("link.loss_ratio"), loss)?;
        }
        let e = &c.enrollment;
        if !e.group_key.is_empty() && !(16..=64).contains(&e.group_key.len()) {
            return Err(bad(
                f("enrollment.group_key"),
                format!(
                    "{} bytes: expected 16 to 64 (reference §2.2)",
                    e.group_key.len()
                ),
            ));
        }
        check_allocation(
            &f("enrollment.allocation"),
            &e.allocation,
            self.hub.count,
            true,
        )
    }

    fn check_fleet_size(&self) -> Result<(), FieldError> {
        let total: u64 = self.classes.iter().map(|c| u64::from(c.count)).sum();
        let hubs = u64::from(self.hub.count);
        if total > DEVICES_PER_HUB_MAX * hubs {
            let last = &self.classes[self.classes.len() - 1].name;
            return Err(bad(
                format!("classes.{last}.count"),
                format!(
                    "{total} devices: {hubs} hub(s) hold at most {} (1,000,000 each, reference §1.3); expected fewer devices or a larger hub.count",
                    DEVICES_PER_HUB_MAX * hubs
                ),
            ));
        }
        // The accounting keeps two bits per reading per device; bound what a run may ask for.
        let run_s = self.scenario.duration_h * 3_600.0;
        let readings: f64 = self
            .classes
            .iter()
            .filter(|c| c.telemetry.interval_s > 0)
            .map(|c| f64::from(c.count) * run_s / c.telemetry.interval_s as f64)
            .sum();
        if readings > 2e9 {
            return Err(bad(
                "scenario.duration_h",
                format!(
                    "{}: {total} devices at their intervals for that long make {readings:.2e} readings; expected at most 2e9",
                    self.scenario.duration_h
                ),
            ));
        }
        Ok(())
    }

    /// No device id may be one that another class's pattern also reads back.
    fn check_id_patterns(&self) -> Result<(), FieldError> {
        let patterns: Vec<IdPattern> = self
            .classes
            .iter()
            .map(|c| {
                let p = if c.ids.is_empty() {
                    format!("{}-{{index:07}}", c.name)
                } else {
                    c.ids.clone()
                };
                IdPattern::parse(&p)
                    .map_err(|e| bad(format!("classes.{}.ids", c.name), e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        for (i, c) in self.classes.iter().enumerate() {
            for probe in [0, c.count - 1] {
                let id = patterns[i].format(probe);
                if let Some(j) = (0..i).find(|&j| patterns[j].index_of(&id).is_some()) {
                    return Err(bad(
                        format!("classes.{}.ids", c.name),
                        format!(
                            "{:?}: its id {id:?} is also an id of class {:?} ({}); expected patterns that name different devices",
                            patterns[i].to_string(),
                            self.classes[j].name,
                            patterns[j]
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_backend_and_faults(&self) -> Result<(), FieldError> {
        let class_exists = |n: &str| self.classes.iter().any(|c| c.name == n);
        let names = || {
            self.classes
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let b = &self.backend;
        if !b.class.is_empty() && !class_exists(&b.class) {
            return Err(bad(
                "backend.class",
                format!("{:?}: expected the name of a class ({})", b.class, names()),
            ));
        }
        in_range("backend.poll_s", b.poll_s, 1, 3_600, " s")?;
        in_range(
            "scoring.grace_min",
            self.scoring.grace_min,
            0,
            10_080,
            " minutes (a week)",
        )?;
        let outages = &self.faults.outages;
        for (i, o) in outages.iter().enumerate() {
            let f = |k: &str| format!("faults.outages[{i}].{k}");
            within_year(&f("start_h"), o.start_h, 1.0)?;
            positive(&f("duration_min"), o.duration_min)?;
            within_year(&f("duration_min"), o.duration_min, 60.0)?;
            if o.towers == 0 {
                return Err(bad(f("towers"), "0: expected at least 1 tower"));
            }
            // A heal ends every partition, so outages must come in order and not overlap.
            if let Some(prev) = i.checked_sub(1).map(|p| &outages[p]) {
                let prev_end_h = prev.start_h + prev.duration_min / 60.0;
                if o.start_h < prev_end_h {
                    return Err(bad(
                        f("start_h"),
                        format!("{}: expected outages in time order, not overlapping (the previous one ends at {prev_end_h} h)", o.start_h),
                    ));
                }
            }
        }
        for (i, h) in self.faults.hardware.iter().enumerate() {
            let f = |k: &str| format!("faults.hardware[{i}].{k}");
            within_year(&f("at_h"), h.at_h, 1.0)?;
            positive(&f("duration_min"), h.duration_min)?;
            within_year(&f("duration_min"), h.duration_min, 60.0)?;
            ratio(&f("ratio"), h.ratio)?;
            let Some(class) = self.classes.iter().find(|k| k.name == h.class) else {
                return Err(bad(
                    f("class"),
                    format!("{:?}: expected the name of a class ({})", h.class, names()),
                ));
            };
            device_indices(&f("devices"), &h.devices, class.count)?;
        }
        for (i, c) in self.faults.clock.iter().enumerate() {
            let f = |k: &str| format!("faults.clock[{i}].{k}");
            within_year(&f("at_h"), c.at_h, 1.0)?;
            ratio(&f("ratio"), c.ratio)?;
            let Some(class) = self.classes.iter().find(|k| k.name == c.class) else {
                return Err(bad(
                    f("class"),
                    format!("{:?}: expected the name of a class ({})", c.class, names()),
                ));
            };
            device_indices(&f("devices"), &c.devices, class.count)?;
            // A clock cannot run backwards: the rate 1 + drift·1e-6 stays positive.
            if !(c.drift_ppm.is_finite() && c.drift_ppm.abs() <= 100_000.0) {
                return Err(bad(
                    f("drift_ppm"),
                    format!("{}: expected -100000..=100000 ppm", c.drift_ppm),
                ));
            }
            if !(c.step_s.is_finite() && c.step_s.abs() <= 366.0 * 86_400.0) {
                return Err(bad(
                    f("step_s"),
                    format!("{}: expected a step of at most a year either way", c.step_s),
                ));
            }
            if c.drift_ppm == 0.0 && c.step_s == 0.0 {
                return Err(bad(
                    format!("faults.clock[{i}]"),
                    "sets neither drift_ppm nor step_s: the fault would change nothing",
                ));
            }
        }
        for (i, c) in self.faults.crashes.iter().enumerate() {
            let f = |k: &str| format!("faults.crashes[{i}].{k}");
            within_year(&f("at_h"), c.at_h, 1.0)?;
            within_year(&f("downtime_min"), c.downtime_min, 60.0)?;
            ratio(&f("ratio"), c.ratio)?;
            if !c.class.is_empty() && !class_exists(&c.class) {
                return Err(bad(
                    f("class"),
                    format!("{:?}: expected the name of a class ({})", c.class, names()),
                ));
            }
        }
        Ok(())
    }

    fn check_invariants(&self) -> Result<(), FieldError> {
        for (i, inv) in self.invariants.iter().enumerate() {
            let f = |k: &str| format!("invariants[{i}].{k}");
            match inv {
                InvariantEntry::Recall {
                    rule,
                    min,
                    min_age_h,
                } => {
                    if !(min_age_h.is_finite() && *min_age_h >= 0.0) {
                        return Err(bad(
                            f("min_age_h"),
                            format!("{min_age_h}: expected 0 or more hours"),
                        ));
                    }
                    ratio(&f("min"), *min)?;
                    self.check_scored_rule(&f("rule"), rule)?;
                }
                InvariantEntry::NoAlertWithoutEpisode { rule }
                | InvariantEntry::FlaggedBeforeEnd { rule } => {
                    self.check_scored_rule(&f("rule"), rule)?
                }
                InvariantEntry::AlertLatency { rule, p99_s_max } => {
                    positive(&f("p99_s_max"), *p99_s_max)?;
                    self.check_scored_rule(&f("rule"), rule)?;
                }
                InvariantEntry::TelemetryLatency { p99_ms_max } => {
                    positive(&f("p99_ms_max"), *p99_ms_max)?
                }
                InvariantEntry::MethodsAnswered { min }
                | InvariantEntry::NotificationsDelivered { min } => {
                    ratio(&f("min"), *min)?;
                }
                InvariantEntry::TwinsConverged { class, min } => {
                    ratio(&f("min"), *min)?;
                    if !self.classes.iter().any(|c| &c.name == class) {
                        return Err(bad(
                            f("class"),
                            format!("{class:?}: expected the name of a class"),
                        ));
                    }
                }
                InvariantEntry::StatesConverged {
                    class,
                    app,
                    after_s,
                    window_s,
                    min,
                } => {
                    ratio(&f("min"), *min)?;
                    for (key, v) in [("after_s", *after_s), ("window_s", *window_s)] {
                        if !(v.is_finite() && (0.0..=86_400.0).contains(&v)) {
                            return Err(bad(f(key), format!("{v}: expected 0 to 86400 s")));
                        }
                    }
                    if !self.classes.iter().any(|c| &c.name == class) {
                        return Err(bad(
                            f("class"),
                            format!("{class:?}: expected the name of a class"),
                        ));
                    }
                    if !self.apps.iter().any(|a| &a.name == app) {
                        return Err(bad(
                            f("app"),
                            format!("{app:?}: expected the name of an app"),
                        ));
                    }
                }
                InvariantEntry::Figure { of, min, max, .. } => {
                    let known = self.classes.iter().any(|c| &c.name == of)
                        || self.apps.iter().any(|a| &a.name == of);
                    if !known {
                        return Err(bad(
                            f("of"),
                            format!("{of:?}: expected the name of a class or an app"),
                        ));
                    }
                    if min.is_nan() || max.is_nan() || min > max {
                        return Err(bad(
                            f("max"),
                            format!("{max}: expected at least min ({min})"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// `rule` names a rule of `analytics.rules` that has a `truth` to be scored against.
    fn check_scored_rule(&self, field: &str, rule: &str) -> Result<(), FieldError> {
        let rules = &self.analytics.rules;
        match rules.iter().find(|r| r.name == rule) {
            None => {
                let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
                Err(bad(
                    field,
                    format!(
                        "{rule:?}: expected the name of a rule in analytics.rules ({})",
                        names.join(", ")
                    ),
                ))
            }
            Some(r) if r.truth.is_none() => Err(bad(
                field,
                format!("{rule:?}: that rule has no `truth` to be scored against; expected a rule with truth = \"<episode kind>\""),
            )),
            Some(_) => Ok(()),
        }
    }

    fn check_apps_and_commands(&self) -> Result<(), FieldError> {
        for (i, a) in self.apps.iter().enumerate() {
            plain_name(&format!("apps[{i}].name"), &a.name, "app name")?;
            if self.apps[..i].iter().any(|o| o.name == a.name)
                || self.classes.iter().any(|c| c.name == a.name)
            {
                return Err(bad(
                    format!("apps[{i}].name"),
                    format!(
                        "{:?}: a class or another app has this name; expected unique names",
                        a.name
                    ),
                ));
            }
            if a.kind.is_empty() {
                return Err(bad(
                    format!("apps.{}.kind", a.name),
                    "missing: expected a registered app kind (`fleetsim list` shows them)",
                ));
            }
        }
        for (i, c) in self.commands.iter().enumerate() {
            let f = |k: &str| format!("commands[{i}].{k}");
            within_year(&f("at_h"), c.at_h, 1.0)?;
            if !matches!(c.kind.as_str(), "method" | "c2d" | "desired") {
                return Err(bad(
                    f("kind"),
                    format!("{:?}: expected \"method\", \"c2d\" or \"desired\"", c.kind),
                ));
            }
            let Some(class) = self.classes.iter().find(|k| k.name == c.class) else {
                return Err(bad(
                    f("class"),
                    format!("{:?}: expected the name of a class", c.class),
                ));
            };
            ratio(&f("ratio"), c.ratio)?;
            device_indices(&f("devices"), &c.devices, class.count)?;
            if c.kind == "method" {
                if c.name.is_empty() {
                    return Err(bad(
                        f("name"),
                        "missing: a method command needs the method's name",
                    ));
                }
                in_range(&f("timeout_s"), c.timeout_s, 5, 300, " s (reference §1.7)")?;
            }
        }
        for (i, n) in self.backend.notifiers.iter().enumerate() {
            let f = |k: &str| format!("backend.notifiers[{i}].{k}");
            if !matches!(n.channel.as_str(), "email" | "sms" | "webhook") {
                return Err(bad(
                    f("channel"),
                    format!(
                        "{:?}: expected \"email\", \"sms\" or \"webhook\"",
                        n.channel
                    ),
                ));
            }
            positive(&f("latency_ms_median"), n.latency_ms_median)?;
            if !(n.latency_ms_p99.is_finite() && n.latency_ms_p99 >= n.latency_ms_median) {
                return Err(bad(
                    f("latency_ms_p99"),
                    format!(
                        "{}: expected at least latency_ms_median ({})",
                        n.latency_ms_p99, n.latency_ms_median
                    ),
                ));
            }
            ratio(&f("loss_ratio"), n.loss_ratio)?;
        }
        Ok(())
    }
}

fn check_field_name(field: &str, name: &str) -> Result<(), FieldError> {
    let ok = !name.is_empty()
        && name != "seq"
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(bad(
            field,
            format!(
                "{name:?}: expected a telemetry field name of letters, digits and `_`, not `seq`"
            ),
        ))
    }
}

/// `hashed` or `static:<hub index below hubs>`; empty is allowed where `optional`.
fn check_allocation(field: &str, v: &str, hubs: u32, optional: bool) -> Result<(), FieldError> {
    if (optional && v.is_empty()) || v == "hashed" {
        return Ok(());
    }
    let ok = v
        .strip_prefix("static:")
        .and_then(|i| i.parse::<u32>().ok())
        .is_some_and(|i| i < hubs);
    if ok {
        Ok(())
    } else {
        Err(bad(
            field,
            format!("{v:?}: expected \"hashed\" or \"static:<hub index below {hubs}>\""),
        ))
    }
}

/// Every listed device index lies below the class's `count`.
fn device_indices(key: &str, devices: &[u32], count: u32) -> Result<(), FieldError> {
    match devices.iter().find(|&&d| d >= count) {
        Some(d) => Err(bad(
            key,
            format!("{d}: expected device indices below the class's count ({count})"),
        )),
        None => Ok(()),
    }
}
