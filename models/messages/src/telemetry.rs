//! Telemetry schemas: what a device's telemetry message looks like, shared by every device of
//! a kind, so a message can travel through the kernel as numbers ([`Values`]) and still be
//! rendered to the exact topic and JSON body the device sends (reference §1.6).
//!
//! A schema names the numeric body fields and the application properties. The wire form of a
//! message of schema `s` is
//! - topic `devices/{id}/messages/events/$.ct=application%2Fjson&$.ce=utf-8&{app props}`
//!   (content type and encoding are set so body-based routing works, reference §1.10);
//! - body `{"seq":N,"field1":v1,...}`: `seq` is the device's message counter (checkers use it
//!   to account for every message end to end); a non-finite value is written `null`.
//!
//! Numbers are printed in the shortest form that parses back to the same `f64` (`38.0`,
//! `47.376888`, `1e16`, `1.5e-7`), and the body length is computed without building a string,
//! because the hub meters every message. The digits come from `zmij` (the Schubfach-based
//! formatter `serde_json` uses, about twice as fast as `ryu`); the exponent is written without
//! a `+` (`1e16`, where `zmij` writes `1e+16`), the form `ryu` printed, so message sizes, and
//! with them replays, are what they were.

use crate::props::write_bag;
use std::fmt::{self, Write};
use std::sync::Arc;

/// Most numeric fields a compact telemetry message carries.
pub const FIELDS_MAX: usize = 6;

/// Index of a schema in a [`SchemaSet`].
pub type SchemaId = u16;

/// The sampled values of one telemetry message, in schema field order.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Values {
    pub seq: u32,
    pub len: u8,
    pub v: [f64; FIELDS_MAX],
}

impl Values {
    pub fn new(seq: u32, values: &[f64]) -> Values {
        let mut v = [0.0; FIELDS_MAX];
        let len = values.len().min(FIELDS_MAX);
        v[..len].copy_from_slice(&values[..len]);
        Values {
            seq,
            len: len as u8,
            v,
        }
    }
    pub fn as_slice(&self) -> &[f64] {
        &self.v[..self.len as usize]
    }
}

/// Bad schema configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("telemetry schema `{schema}`: {count} fields; at most {FIELDS_MAX} are supported")]
    TooManyFields { schema: String, count: usize },
    #[error("telemetry schema `{schema}`: field name `{field}` must be a non-empty JSON-safe identifier (ASCII alphanumerics and _), not `seq`")]
    BadField { schema: String, field: String },
}

/// One kind of telemetry message.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetrySchema {
    pub name: String,
    pub fields: Vec<String>,
    pub app_props: Vec<(String, Option<String>)>,
    /// The encoded property bag, computed once.
    bag: String,
}

impl TelemetrySchema {
    pub fn new(
        name: &str,
        fields: &[&str],
        app_props: &[(&str, Option<&str>)],
    ) -> Result<Self, SchemaError> {
        if fields.len() > FIELDS_MAX {
            return Err(SchemaError::TooManyFields {
                schema: name.into(),
                count: fields.len(),
            });
        }
        for f in fields {
            if f.is_empty()
                || *f == "seq"
                || !f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(SchemaError::BadField {
                    schema: name.into(),
                    field: (*f).into(),
                });
            }
        }
        let mut bag = String::new();
        let sys = [("$.ct", Some("application/json")), ("$.ce", Some("utf-8"))];
        write_bag(&mut bag, sys.into_iter().chain(app_props.iter().copied()))
            .expect("String write");
        Ok(TelemetrySchema {
            name: name.into(),
            fields: fields.iter().map(|s| s.to_string()).collect(),
            app_props: app_props
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect(),
            bag,
        })
    }

    /// The encoded property bag of every message of this schema.
    pub fn bag(&self) -> &str {
        &self.bag
    }

    /// Writes the JSON body of `values`.
    pub fn write_body(&self, out: &mut impl Write, values: &Values) -> fmt::Result {
        write!(out, "{{\"seq\":{}", values.seq)?;
        let mut buf = zmij::Buffer::new();
        for (name, v) in self.fields.iter().zip(values.as_slice()) {
            write!(out, ",\"{name}\":")?;
            if !v.is_finite() {
                out.write_str("null")?;
                continue;
            }
            let text = buf.format_finite(*v);
            match text.split_once("e+") {
                Some((mantissa, exp)) => write!(out, "{mantissa}e{exp}")?,
                None => out.write_str(text)?,
            }
        }
        out.write_char('}')
    }

    pub fn body(&self, values: &Values) -> String {
        let mut s = String::new();
        self.write_body(&mut s, values).expect("String write");
        s
    }

    pub fn body_len(&self, values: &Values) -> usize {
        // `{"seq":` + digits + `}`, then `,"name":` + value per field.
        let mut n = 8 + decimal_digits(values.seq);
        let mut buf = zmij::Buffer::new();
        for (name, v) in self.fields.iter().zip(values.as_slice()) {
            n += 4
                + name.len()
                + if v.is_finite() {
                    let text = buf.format_finite(*v).len();
                    // `1e+16` is written `1e16` (see the module doc); only a magnitude of
                    // 1e16 or more is printed with a positive exponent.
                    text - usize::from(v.abs() >= 1e16)
                } else {
                    4
                };
        }
        n
    }

    /// The value of body field `name` (`seq` included).
    pub fn field(&self, values: &Values, name: &str) -> Option<f64> {
        if name == "seq" {
            return Some(f64::from(values.seq));
        }
        let i = self.fields.iter().position(|f| f == name)?;
        values.as_slice().get(i).copied().filter(|v| v.is_finite())
    }

    /// The application property `name`: `Some(None)` for a null-valued property.
    pub fn app_prop(&self, name: &str) -> Option<Option<&str>> {
        self.app_props
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }
}

fn decimal_digits(mut n: u32) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// The schemas of a scenario, shared by reference between devices and the hub.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchemaSet(Arc<Vec<TelemetrySchema>>);

impl SchemaSet {
    pub fn new(schemas: Vec<TelemetrySchema>) -> Self {
        SchemaSet(Arc::new(schemas))
    }
    pub fn get(&self, id: SchemaId) -> Option<&TelemetrySchema> {
        self.0.get(id as usize)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collar_body_is_the_json_a_device_sends() {
        let s = TelemetrySchema::new(
            "collar",
            &["lat", "lon", "temp_c"],
            &[("kind", Some("collar")), ("alarm", None)],
        )
        .unwrap();
        assert_eq!(
            s.bag(),
            "$.ct=application%2Fjson&$.ce=utf-8&kind=collar&alarm"
        );
        let v = Values::new(42, &[47.376_888, 8.541_694, f64::NAN]);
        let body = s.body(&v);
        assert_eq!(
            body,
            r#"{"seq":42,"lat":47.376888,"lon":8.541694,"temp_c":null}"#
        );
        assert_eq!(s.body_len(&v), body.len());
        assert_eq!(s.field(&v, "lon"), Some(8.541_694));
        assert_eq!(s.field(&v, "temp_c"), None);
        assert_eq!(s.app_prop("KIND"), Some(Some("collar")));
    }

    #[test]
    fn numbers_are_shortest_round_trip_with_a_bare_exponent() {
        let s = TelemetrySchema::new("x", &["a", "b", "c", "d", "e", "f"], &[]).unwrap();
        let v = Values::new(7, &[38.0, 1e16, 1.5e-7, -2.5e300, 0.1, 123_456.789]);
        let body = s.body(&v);
        assert_eq!(
            body,
            r#"{"seq":7,"a":38.0,"b":1e16,"c":1.5e-7,"d":-2.5e300,"e":0.1,"f":123456.789}"#
        );
        assert_eq!(s.body_len(&v), body.len());
        for text in body.trim_matches(['{', '}']).split(',') {
            let (_, num) = text.split_once(':').unwrap();
            let parsed: f64 = num.parse().unwrap();
            assert!(v.as_slice().contains(&parsed) || parsed == 7.0, "{num}");
        }
        // Around the switch to exponent notation, and the smallest and largest magnitudes.
        for x in [
            9_999_999_999_999_998.0,
            1e15,
            1e16,
            -1e16,
            1.000_000_000_000_000_2e16,
            1e-4,
            1e-5,
            1e-7,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ] {
            let one = TelemetrySchema::new("x", &["a"], &[]).unwrap();
            let v = Values::new(1, &[x]);
            assert_eq!(
                one.body_len(&v),
                one.body(&v).len(),
                "{x:e}: {}",
                one.body(&v)
            );
        }
    }

    #[test]
    fn schemas_reject_bad_field_names() {
        assert!(TelemetrySchema::new("x", &["seq"], &[]).is_err());
        assert!(TelemetrySchema::new("x", &["a b"], &[]).is_err());
        assert!(TelemetrySchema::new("x", &["a"; 7], &[]).is_err());
    }
}
