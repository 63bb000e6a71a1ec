//! Device models (DTDL v2): every bundled kind's parses and covers what it sends; a file that
//! makes a class send, call or set what its model does not declare is refused with the field
//! named, or, for telemetry with `unmodeled = "flag"`, counted by the back end.

use firmware::DeviceLogic;
use iot_messages::telemetry::FIELDS_MAX;
use scenarios::bundled::{load, run};
use scenarios::class::DeviceClass;
use scenarios::dtdl::Interface;
use scenarios::load::{Override, Source};
use scenarios::registry::{ClassKind, Registry};
use sim::SimTime;

/// A class that fills whatever fields its file declares with its device index.
struct Gauges(u32);
impl DeviceLogic for Gauges {
    fn sample(&mut self, device: u32, _now: SimTime, out: &mut [f64; FIELDS_MAX]) -> usize {
        out[..FIELDS_MAX].fill(f64::from(device));
        FIELDS_MAX
    }
}
impl DeviceClass for Gauges {
    fn len(&self) -> u32 {
        self.0
    }
}

const GAUGE_MODEL: &str = r#"{
  "@context": "dtmi:dtdl:context;2", "@id": "dtmi:test:Gauge;1", "@type": "Interface",
  "contents": [
    { "@type": ["Telemetry", "Pressure"], "name": "level", "schema": "double", "unit": "kilopascal" },
    { "@type": "Telemetry", "name": "ts", "schema": "double" },
    { "@type": "Property", "name": "limit", "schema": "double", "writable": true },
    { "@type": "Property", "name": "serial", "schema": "string" },
    { "@type": "Command", "name": "reset" }
  ]
}"#;

fn registry(model: &str) -> Registry {
    let mut r = Registry::bundled();
    r.add_class(
        ClassKind::new("gauge/1", "a gauge", |b| Ok(Box::new(Gauges(b.count))))
            .model("gauge.json", model),
    );
    r
}

fn file(fields: &str, extra: &str) -> Source {
    Source {
        origin: "gauges.toml".into(),
        text: format!(
            r#"
[scenario]
name = "gauges"
duration_h = 1.0

[[classes]]
name = "gauge"
kind = "gauge/1"
count = 10
{extra}

[classes.telemetry]
fields = [{fields}]
"#
        ),
    }
}

fn error(src: &Source, sets: &[&str], r: &Registry) -> String {
    let sets: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
    match load(src, &sets, r) {
        Ok(_) => panic!("loaded {}", src.text),
        Err(e) => e.to_string(),
    }
}

#[test]
fn every_bundled_model_parses_and_declares_what_its_kind_samples() {
    let r = Registry::bundled();
    let mut with_model = 0;
    for kind in r.classes() {
        let Some((document, text)) = kind.model_source() else {
            continue;
        };
        with_model += 1;
        let i = Interface::parse(document, text).unwrap_or_else(|e| panic!("{e}"));
        let mut sent: Vec<&str> = kind
            .sample_list()
            .unwrap_or_default()
            .iter()
            .map(String::as_str)
            .collect();
        sent.push("ts");
        for f in sent {
            let t = i
                .telemetry(f)
                .unwrap_or_else(|| panic!("{}: no {f}", kind.name()));
            assert!(t.schema.is_fractional_number(), "{}: {f}", kind.name());
        }
    }
    assert_eq!(
        with_model,
        r.classes().count(),
        "every bundled kind has a model"
    );
}

#[test]
fn devices_announce_their_model_and_the_back_end_assigns_every_reading_to_it() {
    let r = registry(GAUGE_MODEL);
    let o = run(&file(r#"{ name = "level" }"#, ""), &[], &r).unwrap();
    let m = &o.summary_core.models[0];
    assert_eq!(m.model_id.as_deref(), Some("dtmi:test:Gauge;1"));
    assert!(m.readings > 100, "{m:?}");
    assert_eq!((m.unassigned, m.unmodeled_readings), (0, 0), "{m:?}");
}

#[test]
fn telemetry_the_model_does_not_declare_is_refused_or_flagged() {
    let r = registry(GAUGE_MODEL);
    let fields = r#"{ name = "level" }, { name = "temp" }"#;
    let e = error(&file(fields, ""), &[], &r);
    assert!(
        e.contains("classes.gauge.telemetry.fields[1].name")
            && e.contains("\"temp\" is not telemetry of device model dtmi:test:Gauge;1")
            && e.contains("which declares level, ts")
            && e.contains("gauges.toml:"),
        "{e}"
    );
    // As IoT Central does: the class loads, and its readings are counted as unmodeled.
    let o = run(&file(fields, r#"unmodeled = "flag""#), &[], &r).unwrap();
    let m = &o.summary_core.models[0];
    assert_eq!(m.unmodeled_fields, ["temp"]);
    assert!(
        m.readings > 100 && m.unmodeled_readings == m.readings,
        "{m:?}"
    );
    let e = error(&file(fields, r#"unmodeled = "ignore""#), &[], &r);
    assert!(
        e.contains("classes.gauge.unmodeled") && e.contains("\"refuse\" or \"flag\""),
        "{e}"
    );
    // A timestamp the model does not have is named too.
    let e = error(
        &file(r#"{ name = "level" }"#, ""),
        &["classes.gauge.telemetry.timestamp=t"],
        &r,
    );
    assert!(
        e.contains("classes.gauge.telemetry.timestamp") && e.contains("\"t\""),
        "{e}"
    );
}

#[test]
fn a_field_the_model_types_as_other_than_a_fractional_number_is_refused() {
    let r = registry(&GAUGE_MODEL.replacen(
        r#""name": "level", "schema": "double""#,
        r#""name": "level", "schema": "integer""#,
        1,
    ));
    let e = error(&file(r#"{ name = "level" }"#, ""), &[], &r);
    assert!(
        e.contains("fields[0].name") && e.contains("declares it as integer"),
        "{e}"
    );
}

#[test]
fn commands_and_desired_patches_must_be_in_the_model() {
    let r = registry(GAUGE_MODEL);
    let with = |command: &str| {
        file(r#"{ name = "level" }"#, "").text
            + &format!("\n[[commands]]\nat_h = 0.5\nclass = \"gauge\"\n{command}\n")
    };
    let src = |text: String| Source {
        origin: "gauges.toml".into(),
        text,
    };
    assert!(load(&src(with("kind = \"method\"\nname = \"reset\"")), &[], &r).is_ok());
    assert!(load(
        &src(with("kind = \"desired\"\npayload = { limit = 3.0 }")),
        &[],
        &r
    )
    .is_ok());
    let e = error(&src(with("kind = \"method\"\nname = \"reboot\"")), &[], &r);
    assert!(
        e.contains("commands[0].name")
            && e.contains("\"reboot\" is not a command")
            && e.contains("which has reset"),
        "{e}"
    );
    let e = error(
        &src(with("kind = \"desired\"\npayload = { serial = \"x\" }")),
        &[],
        &r,
    );
    assert!(
        e.contains("commands[0].payload")
            && e.contains("\"serial\" is not a writable property")
            && e.contains("are limit"),
        "{e}"
    );
}

#[test]
fn a_kind_whose_model_is_not_valid_dtdl_is_refused_with_the_model_path() {
    let r = registry(&GAUGE_MODEL.replacen("dtmi:test:Gauge;1", "gauge", 1));
    let e = error(&file(r#"{ name = "level" }"#, ""), &[], &r);
    assert!(
        e.contains("classes.gauge.kind")
            && e.contains("gauge.json at @id")
            && e.contains("versioned DTMI"),
        "{e}"
    );
}
