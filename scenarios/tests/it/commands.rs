//! Scheduled commands from the back end: direct methods, C2D and desired properties reach the
//! devices through the hub and their outcomes are counted; bad entries are refused by name.

use scenarios::bundled::{load, run};
use scenarios::load::Source;
use scenarios::registry::Registry;

const FLEET: &str = r#"
[scenario]
name = "commands"
duration_h = 2.0

[[classes]]
name = "collar"
kind = "collar/1"
count = 40
"#;

/// Homes whose thermostats answer `getTemperature` (their device model's one command).
const HOMES: &str = r#"
[scenario]
name = "commands"
duration_h = 2.0

[[classes]]
name = "home"
kind = "thermostat/1"
count = 40
"#;

fn src(extra: &str) -> Source {
    Source {
        origin: "commands.toml".into(),
        text: format!("{FLEET}\n{extra}"),
    }
}

fn homes(extra: &str) -> Source {
    Source {
        origin: "commands.toml".into(),
        text: format!("{HOMES}\n{extra}"),
    }
}

#[test]
fn methods_c2d_and_desired_patches_reach_the_devices_and_are_counted() {
    let extra = r#"
[[commands]]
at_h = 1.0
kind = "method"
class = "home"
name = "getTemperature"
ratio = 0.5

[[commands]]
at_h = 1.2
kind = "c2d"
class = "home"
devices = [1, 2, 3]
payload = { msg = "hello" }

[[commands]]
at_h = 1.5
kind = "desired"
class = "home"
payload = { telemetry_interval_s = 600 }
"#;
    let o = run(&homes(extra), &[], &Registry::bundled()).unwrap();
    let c = &o.summary_core.commands;
    assert_eq!(c.methods.sent, 20, "half of 40 homes");
    assert_eq!(c.methods.answered_ok, 20, "{:?}", c.methods.failed_by_code);
    assert!(c.methods.latency_ms_p50.is_some_and(|l| l > 0.0));
    assert_eq!((c.c2d.sent, c.c2d.completed), (3, 3), "{:?}", c.c2d);
    assert_eq!((c.desired.sent, c.desired.accepted), (40, 40));
    assert_eq!(c.open_at_end, 0);
    // Same seed, same picks: the half that got the method is the same half on a replay.
    let again = run(&homes(extra), &[], &Registry::bundled()).unwrap();
    assert_eq!(again.summary_core.trace_hash, o.summary_core.trace_hash);
}

#[test]
fn a_method_to_devices_that_are_all_offline_fails_with_the_hubs_code() {
    // Every thermostat loses power for the whole second hour; the method at 1.5 h finds none
    // online.
    let extra = r#"
[[faults.crashes]]
at_h = 1.0
downtime_min = 60
ratio = 1.0

[[commands]]
at_h = 1.5
kind = "method"
class = "home"
name = "getTemperature"
timeout_s = 10
"#;
    let o = run(&homes(extra), &[], &Registry::bundled()).unwrap();
    let m = &o.summary_core.commands.methods;
    assert_eq!(m.sent, 40);
    let offline: u64 = m
        .failed_by_code
        .iter()
        .filter(|f| f.name == "404103")
        .map(|f| f.count)
        .sum();
    assert_eq!(offline, 40, "{:?}", m.failed_by_code);
}

#[test]
fn bad_command_entries_name_the_key_that_is_wrong() {
    let cases = [
        (
            "[[commands]]\nat_h = 1\nkind = \"ping\"\nclass = \"collar\"\n",
            "commands[0].kind",
        ),
        (
            "[[commands]]\nat_h = 1\nkind = \"method\"\nclass = \"cows\"\nname = \"x\"\n",
            "commands[0].class",
        ),
        (
            "[[commands]]\nat_h = 1\nkind = \"method\"\nclass = \"collar\"\n",
            "commands[0].name",
        ),
        (
            "[[commands]]\nat_h = 1\nkind = \"method\"\nclass = \"collar\"\nname = \"x\"\ntimeout_s = 400\n",
            "commands[0].timeout_s",
        ),
        (
            "[[commands]]\nat_h = 1\nkind = \"c2d\"\nclass = \"collar\"\ndevices = [40]\n",
            "commands[0].devices",
        ),
        (
            "[[backend.notifiers]]\nchannel = \"pager\"\nlatency_ms_median = 1\nlatency_ms_p99 = 2\nloss_ratio = 0\n",
            "backend.notifiers[0].channel",
        ),
        (
            "[[apps]]\nname = \"portal\"\nkind = \"no-such/1\"\n",
            "apps",
        ),
    ];
    for (extra, key) in cases {
        let e = load(&src(extra), &[], &Registry::bundled())
            .err()
            .unwrap_or_else(|| panic!("accepted: {extra}"))
            .to_string();
        assert!(e.contains(key), "{key} not named in: {e}");
    }
}

#[test]
fn the_rules_notifications_go_through_lossy_sinks_and_are_counted_and_judged() {
    let extra = r#"
[classes.params]
fever_per_cow_day = 0.3
fever_duration_h_min = 2.0
fever_duration_h_max = 6.0

[[analytics.rules]]
name = "fever"
truth = "fever"
conditions = [{ kind = "consecutive", column = "temp", op = "above", value = 39.6, clear = 39.2, readings = 2 }]
cooldown_s = 86400
actions = [{ channel = "sms", to = "+61400000000" }, { channel = "email", to = "vet@station.example" }]

[[backend.notifiers]]
channel = "sms"
latency_ms_median = 2000
latency_ms_p99 = 20000
loss_ratio = 0.5

[[invariants]]
kind = "notifications_delivered"
min = 0.99

[[invariants]]
kind = "alert_latency"
rule = "fever"
p99_s_max = 60.0
"#;
    let src = Source {
        origin: "notify.toml".into(),
        text: format!(
            "{}\n{extra}",
            FLEET
                .replace("duration_h = 2.0", "duration_h = 12.0")
                .replace("count = 40", "count = 300")
        ),
    };
    let o = run(&src, &[], &Registry::bundled()).unwrap();
    let s = &o.summary_core;
    let alerts = s.alerts.rules[0].raised;
    assert!(alerts >= 20, "{:?}", s.alerts);
    let ch = |name: &str| s.notifications.iter().find(|n| n.channel == name).unwrap();
    let (sms, email) = (ch("sms"), ch("email"));
    // One notification per alert per action, each delivered or lost.
    assert_eq!(sms.sent, alerts);
    assert_eq!(email.sent, alerts);
    assert_eq!(sms.delivered + sms.lost, sms.sent);
    assert!(
        sms.lost * 4 > sms.sent && sms.lost * 4 < sms.sent * 3,
        "{sms:?}"
    );
    assert!(
        sms.latency_ms_p50.is_some_and(|l| l > 500.0 && l < 8_000.0),
        "{sms:?}"
    );
    assert!(
        email.latency_ms_p50 > sms.latency_ms_p50,
        "e-mail is slower by default"
    );
    let verdict = |prefix: &str| {
        s.invariants
            .iter()
            .find(|i| i.name.starts_with(prefix))
            .unwrap_or_else(|| panic!("no invariant {prefix}: {:?}", s.invariants))
    };
    assert!(
        !verdict("notifications delivered").passed,
        "half the SMS are lost"
    );
    // Fever alerts need two hot readings 5 min apart after the ramp: well over a minute.
    assert!(!verdict("fever alert latency").passed);
}
