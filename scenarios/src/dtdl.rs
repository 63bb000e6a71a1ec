//! Device models in DTDL v2, the format of IoT Plug and Play and IoT Central device templates
//! (reference §6: a template's device model is DTDL v2, interfaces hold telemetry, read-only
//! or writable properties and commands; the model id is a DTMI; devices announce it when they
//! connect; telemetry the model does not declare is "unmodeled").
//!
//! [`Interface::parse`] reads one interface document and checks what the DTDL v2 language
//! requires of it: the `dtmi:dtdl:context;2` context, a versioned DTMI `@id`
//! (`dtmi:<segment>(:<segment>)*;<version>`, segments `[A-Za-z](\w*[A-Za-z0-9])?`, version
//! 1 to 999,999,999), content names of at most 64 characters in the same pattern and unique
//! within the interface, at most 300 contents, a `schema` on every telemetry and property,
//! `writable` only on properties, `unit` only beside a semantic type
//! (`"@type": ["Telemetry", "Temperature"]`), and schemas that are one of the primitive
//! schemas or a well-formed Object, Array, Map or Enum. An error names the document and the
//! JSON path of what is wrong (`contents[2].schema`).
//!
//! **Left out** (a document using them is refused by name, not misread): components,
//! relationships, `extends`, interface-level `schemas` and schema references by DTMI, and the
//! unit vocabulary (a unit is kept as written; the semantic type it goes with is not checked
//! against DTDL's table of units).

use serde_json::{Map, Value};
use std::fmt;

/// A DTDL v2 interface: its id, and its telemetry, properties and commands in document order.
#[derive(Clone, Debug, PartialEq)]
pub struct Interface {
    pub id: String,
    pub display_name: Option<String>,
    pub telemetry: Vec<Content>,
    pub properties: Vec<Content>,
    pub commands: Vec<Command>,
}

/// A telemetry or property element.
#[derive(Clone, Debug, PartialEq)]
pub struct Content {
    pub name: String,
    pub schema: Schema,
    /// The semantic type beside `Telemetry` or `Property` (`Temperature`), if any.
    pub semantic_type: Option<String>,
    pub unit: Option<String>,
    /// Properties only: whether the cloud may set it (a desired property).
    pub writable: bool,
}

/// A command: its name and request and response payloads.
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    pub name: String,
    pub request: Option<(String, Schema)>,
    pub response: Option<(String, Schema)>,
}

/// A DTDL v2 schema.
#[derive(Clone, Debug, PartialEq)]
pub enum Schema {
    /// `boolean`, `date`, `dateTime`, `double`, `duration`, `float`, `integer`, `long`,
    /// `string` or `time`.
    Primitive(String),
    Object(Vec<(String, Schema)>),
    Array(Box<Schema>),
    Map {
        key: String,
        value: Box<Schema>,
    },
    /// The value schema (`integer` or `string`) and the names of the values.
    Enum {
        value_schema: String,
        values: Vec<String>,
    },
}

impl Schema {
    /// Whether the schema is a JSON number that may carry a fraction (`double`, `float`):
    /// what a fleetsim telemetry field is on the wire.
    pub fn is_fractional_number(&self) -> bool {
        matches!(self, Schema::Primitive(p) if p == "double" || p == "float")
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schema::Primitive(p) => f.write_str(p),
            Schema::Object(_) => f.write_str("Object"),
            Schema::Array(_) => f.write_str("Array"),
            Schema::Map { .. } => f.write_str("Map"),
            Schema::Enum { .. } => f.write_str("Enum"),
        }
    }
}

/// What is wrong with a document, and where (a JSON path; empty for the whole document).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{document}{}{path}: {message}", if path.is_empty() { "" } else { " at " })]
pub struct DtdlError {
    pub document: String,
    pub path: String,
    pub message: String,
}

const PRIMITIVES: [&str; 10] = [
    "boolean", "date", "dateTime", "double", "duration", "float", "integer", "long", "string",
    "time",
];

/// Most contents an interface may hold (DTDL v2 limits).
pub const CONTENTS_MAX: usize = 300;
/// Longest content name.
pub const NAME_MAX: usize = 64;

struct Parser<'a> {
    document: &'a str,
}

impl Parser<'_> {
    fn err(&self, path: &str, message: impl Into<String>) -> DtdlError {
        DtdlError {
            document: self.document.to_string(),
            path: path.to_string(),
            message: message.into(),
        }
    }

    fn object<'v>(&self, v: &'v Value, path: &str) -> Result<&'v Map<String, Value>, DtdlError> {
        v.as_object()
            .ok_or_else(|| self.err(path, format!("expected a JSON object, found {v}")))
    }

    fn string<'v>(
        &self,
        o: &'v Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Result<&'v str, DtdlError> {
        match o.get(key) {
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(self.err(
                &join(path, key),
                format!("expected a string, found {other}"),
            )),
            None => Err(self.err(path, format!("missing \"{key}\""))),
        }
    }

    /// Refuses keys outside `allowed` (DTDL documents are closed).
    fn keys(
        &self,
        o: &Map<String, Value>,
        allowed: &[&str],
        path: &str,
        what: &str,
    ) -> Result<(), DtdlError> {
        match o.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(self.err(
                &join(path, k),
                format!(
                    "{what} has no property \"{k}\" (expected one of {})",
                    allowed.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }

    fn name(&self, o: &Map<String, Value>, path: &str) -> Result<String, DtdlError> {
        let name = self.string(o, "name", path)?;
        if !is_name(name) {
            return Err(self.err(
                &join(path, "name"),
                format!("{name:?}: expected 1 to {NAME_MAX} letters, digits or underscores, starting with a letter and not ending with an underscore"),
            ));
        }
        Ok(name.to_string())
    }

    fn schema(&self, v: &Value, path: &str) -> Result<Schema, DtdlError> {
        match v {
            Value::String(s) if PRIMITIVES.contains(&s.as_str()) => {
                Ok(Schema::Primitive(s.clone()))
            }
            Value::String(s) if s.starts_with("dtmi:") => Err(self.err(
                path,
                format!(
                    "{s}: schema references by DTMI are not supported (write the schema inline)"
                ),
            )),
            Value::String(s) => Err(self.err(
                path,
                format!(
                    "{s:?}: expected a primitive schema ({}) or an Object, Array, Map or Enum",
                    PRIMITIVES.join(", ")
                ),
            )),
            Value::Object(o) => self.complex(o, path),
            other => Err(self.err(path, format!("expected a schema, found {other}"))),
        }
    }

    fn complex(&self, o: &Map<String, Value>, path: &str) -> Result<Schema, DtdlError> {
        const COMMON: [&str; 5] = ["@type", "@id", "displayName", "description", "comment"];
        let kind = self.string(o, "@type", path)?;
        let with =
            |extra: &[&'static str]| -> Vec<&str> { COMMON.iter().chain(extra).copied().collect() };
        match kind {
            "Object" => {
                self.keys(o, &with(&["fields"]), path, "an Object")?;
                let fields = self.array(o, "fields", path)?;
                let mut out = Vec::with_capacity(fields.len());
                for (i, f) in fields.iter().enumerate() {
                    let p = format!("{path}.fields[{i}]");
                    let fo = self.object(f, &p)?;
                    self.keys(fo, &with(&["name", "schema"]), &p, "a field")?;
                    let name = self.name(fo, &p)?;
                    if out.iter().any(|(n, _)| *n == name) {
                        return Err(self.err(
                            &join(&p, "name"),
                            format!("{name:?} is the name of an earlier field"),
                        ));
                    }
                    let schema =
                        self.schema(self.required(fo, "schema", &p)?, &join(&p, "schema"))?;
                    out.push((name, schema));
                }
                Ok(Schema::Object(out))
            }
            "Array" => {
                self.keys(o, &with(&["elementSchema"]), path, "an Array")?;
                let e = self.required(o, "elementSchema", path)?;
                Ok(Schema::Array(Box::new(
                    self.schema(e, &join(path, "elementSchema"))?,
                )))
            }
            "Map" => {
                self.keys(o, &with(&["mapKey", "mapValue"]), path, "a Map")?;
                let key = self.object(self.required(o, "mapKey", path)?, &join(path, "mapKey"))?;
                let key_path = join(path, "mapKey");
                let key_name = self.name(key, &key_path)?;
                if self.string(key, "schema", &key_path)? != "string" {
                    return Err(self.err(
                        &join(&key_path, "schema"),
                        "a map key's schema must be \"string\"",
                    ));
                }
                let value_path = join(path, "mapValue");
                let value = self.object(self.required(o, "mapValue", path)?, &value_path)?;
                self.name(value, &value_path)?;
                let schema = self.schema(
                    self.required(value, "schema", &value_path)?,
                    &join(&value_path, "schema"),
                )?;
                Ok(Schema::Map {
                    key: key_name,
                    value: Box::new(schema),
                })
            }
            "Enum" => {
                self.keys(o, &with(&["valueSchema", "enumValues"]), path, "an Enum")?;
                let value_schema = self.string(o, "valueSchema", path)?;
                if value_schema != "integer" && value_schema != "string" {
                    return Err(self.err(
                        &join(path, "valueSchema"),
                        format!("{value_schema:?}: expected \"integer\" or \"string\""),
                    ));
                }
                let mut values = Vec::new();
                for (i, v) in self.array(o, "enumValues", path)?.iter().enumerate() {
                    let p = format!("{path}.enumValues[{i}]");
                    let vo = self.object(v, &p)?;
                    let name = self.name(vo, &p)?;
                    let ok = match (value_schema, vo.get("enumValue")) {
                        ("integer", Some(Value::Number(n))) => n.is_i64(),
                        ("string", Some(Value::String(_))) => true,
                        _ => false,
                    };
                    if !ok {
                        return Err(self.err(
                            &join(&p, "enumValue"),
                            format!("expected an enumValue of schema {value_schema}"),
                        ));
                    }
                    values.push(name);
                }
                Ok(Schema::Enum {
                    value_schema: value_schema.to_string(),
                    values,
                })
            }
            other => Err(self.err(
                &join(path, "@type"),
                format!("{other:?}: expected Object, Array, Map or Enum"),
            )),
        }
    }

    fn required<'v>(
        &self,
        o: &'v Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Result<&'v Value, DtdlError> {
        o.get(key)
            .ok_or_else(|| self.err(path, format!("missing \"{key}\"")))
    }

    fn array<'v>(
        &self,
        o: &'v Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Result<&'v Vec<Value>, DtdlError> {
        match self.required(o, key, path)? {
            Value::Array(a) => Ok(a),
            other => Err(self.err(
                &join(path, key),
                format!("expected an array, found {other}"),
            )),
        }
    }

    /// A content's `@type`: its element type, and a semantic type beside it.
    fn content_type(
        &self,
        o: &Map<String, Value>,
        path: &str,
    ) -> Result<(String, Option<String>), DtdlError> {
        let p = join(path, "@type");
        match self.required(o, "@type", path)? {
            Value::String(s) => Ok((s.clone(), None)),
            Value::Array(a) => {
                let types: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
                if types.len() != a.len() || !(1..=2).contains(&types.len()) {
                    return Err(self.err(
                        &p,
                        "expected an element type and at most one semantic type, as strings",
                    ));
                }
                Ok((types[0].to_string(), types.get(1).map(|s| s.to_string())))
            }
            other => Err(self.err(
                &p,
                format!("expected a string or an array of strings, found {other}"),
            )),
        }
    }

    fn content(&self, v: &Value, path: &str, iface: &mut Interface) -> Result<String, DtdlError> {
        const COMMON: [&str; 6] = [
            "@type",
            "@id",
            "name",
            "displayName",
            "description",
            "comment",
        ];
        let o = self.object(v, path)?;
        let (kind, semantic_type) = self.content_type(o, path)?;
        let name = self.name(o, path)?;
        let allowed =
            |extra: &[&'static str]| -> Vec<&str> { COMMON.iter().chain(extra).copied().collect() };
        match kind.as_str() {
            "Telemetry" | "Property" => {
                let telemetry = kind == "Telemetry";
                let extra: &[&str] = if telemetry {
                    &["schema", "unit"]
                } else {
                    &["schema", "unit", "writable"]
                };
                self.keys(
                    o,
                    &allowed(extra),
                    path,
                    if telemetry {
                        "a Telemetry"
                    } else {
                        "a Property"
                    },
                )?;
                let schema =
                    self.schema(self.required(o, "schema", path)?, &join(path, "schema"))?;
                let unit = match o.get("unit") {
                    None => None,
                    Some(Value::String(u)) if semantic_type.is_some() => Some(u.clone()),
                    Some(Value::String(_)) => {
                        return Err(self.err(&join(path, "unit"), "a unit needs a semantic type beside the element type (\"@type\": [\"Telemetry\", \"Temperature\"])"))
                    }
                    Some(other) => return Err(self.err(&join(path, "unit"), format!("expected a string, found {other}"))),
                };
                let writable = match o.get("writable") {
                    None => false,
                    Some(Value::Bool(b)) => *b,
                    Some(other) => {
                        return Err(self.err(
                            &join(path, "writable"),
                            format!("expected true or false, found {other}"),
                        ))
                    }
                };
                let c = Content {
                    name: name.clone(),
                    schema,
                    semantic_type,
                    unit,
                    writable,
                };
                if telemetry {
                    iface.telemetry.push(c);
                } else {
                    iface.properties.push(c);
                }
            }
            "Command" => {
                if semantic_type.is_some() {
                    return Err(self.err(&join(path, "@type"), "a Command has no semantic type"));
                }
                self.keys(
                    o,
                    &allowed(&["request", "response", "commandType"]),
                    path,
                    "a Command",
                )?;
                let payload = |key: &str| -> Result<Option<(String, Schema)>, DtdlError> {
                    let Some(v) = o.get(key) else { return Ok(None) };
                    let p = join(path, key);
                    let po = self.object(v, &p)?;
                    self.keys(
                        po,
                        &[
                            "@type",
                            "@id",
                            "name",
                            "schema",
                            "displayName",
                            "description",
                            "comment",
                        ],
                        &p,
                        "a command payload",
                    )?;
                    let n = self.name(po, &p)?;
                    let s = self.schema(self.required(po, "schema", &p)?, &join(&p, "schema"))?;
                    Ok(Some((n, s)))
                };
                iface.commands.push(Command {
                    name: name.clone(),
                    request: payload("request")?,
                    response: payload("response")?,
                });
            }
            "Component" | "Relationship" => {
                return Err(self.err(
                    &join(path, "@type"),
                    format!("{kind} elements are not supported by fleetsim (module docs)"),
                ))
            }
            other => {
                return Err(self.err(
                    &join(path, "@type"),
                    format!("{other:?}: expected Telemetry, Property or Command"),
                ))
            }
        }
        Ok(name)
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn is_segment(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        && *b.last().expect("not empty") != b'_'
}

fn is_name(s: &str) -> bool {
    s.len() <= NAME_MAX && is_segment(s)
}

/// Whether `id` is a versioned DTMI: `dtmi:<segment>(:<segment>)*;<version>`.
pub fn is_dtmi(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("dtmi:") else {
        return false;
    };
    let Some((path, version)) = rest.rsplit_once(';') else {
        return false;
    };
    let version_ok = !version.is_empty()
        && version.len() <= 9
        && version.bytes().all(|c| c.is_ascii_digit())
        && !version.starts_with('0');
    id.len() <= 2048 && version_ok && path.split(':').all(is_segment)
}

impl Interface {
    /// Parses the interface document `text`; `document` names it in errors (a file name).
    pub fn parse(document: &str, text: &str) -> Result<Interface, DtdlError> {
        let p = Parser { document };
        let v: Value =
            serde_json::from_str(text).map_err(|e| p.err("", format!("not JSON: {e}")))?;
        let o = p.object(&v, "")?;
        p.keys(
            o,
            &[
                "@context",
                "@id",
                "@type",
                "displayName",
                "description",
                "comment",
                "contents",
                "extends",
                "schemas",
            ],
            "",
            "an Interface",
        )?;
        let context_ok = match o.get("@context") {
            Some(Value::String(c)) => c == "dtmi:dtdl:context;2",
            Some(Value::Array(a)) => a.iter().any(|c| c == "dtmi:dtdl:context;2"),
            _ => false,
        };
        if !context_ok {
            return Err(p.err("@context", "expected \"dtmi:dtdl:context;2\" (DTDL v2)"));
        }
        if p.string(o, "@type", "")? != "Interface" {
            return Err(p.err("@type", "expected \"Interface\""));
        }
        let id = p.string(o, "@id", "")?;
        if !is_dtmi(id) {
            return Err(p.err(
                "@id",
                format!("{id:?}: expected a versioned DTMI such as dtmi:com:example:Thermostat;1"),
            ));
        }
        for unsupported in ["extends", "schemas"] {
            if o.contains_key(unsupported) {
                return Err(p.err(unsupported, "not supported by fleetsim (module docs)"));
            }
        }
        let display_name = match o.get("displayName") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            // A localised map: the English entry, else any.
            Some(Value::Object(m)) => m
                .get("en")
                .or_else(|| m.values().next())
                .and_then(Value::as_str)
                .map(str::to_string),
            Some(other) => {
                return Err(p.err("displayName", format!("expected a string, found {other}")))
            }
        };
        let mut iface = Interface {
            id: id.to_string(),
            display_name,
            telemetry: Vec::new(),
            properties: Vec::new(),
            commands: Vec::new(),
        };
        let contents = match o.get("contents") {
            None => &Vec::new(),
            Some(Value::Array(a)) => a,
            Some(other) => {
                return Err(p.err("contents", format!("expected an array, found {other}")))
            }
        };
        if contents.len() > CONTENTS_MAX {
            return Err(p.err(
                "contents",
                format!(
                    "{} elements; an interface holds at most {CONTENTS_MAX}",
                    contents.len()
                ),
            ));
        }
        let mut names: Vec<String> = Vec::with_capacity(contents.len());
        for (i, c) in contents.iter().enumerate() {
            let path = format!("contents[{i}]");
            let name = p.content(c, &path, &mut iface)?;
            if let Some(j) = names.iter().position(|n| *n == name) {
                return Err(p.err(
                    &join(&path, "name"),
                    format!("{name:?} is also the name of contents[{j}]"),
                ));
            }
            names.push(name);
        }
        Ok(iface)
    }

    pub fn telemetry(&self, name: &str) -> Option<&Content> {
        self.telemetry.iter().find(|t| t.name == name)
    }

    pub fn property(&self, name: &str) -> Option<&Content> {
        self.properties.iter().find(|t| t.name == name)
    }

    pub fn command(&self, name: &str) -> Option<&Command> {
        self.commands.iter().find(|c| c.name == name)
    }

    /// The names of the interface's telemetry, for messages.
    pub fn telemetry_names(&self) -> String {
        let names: Vec<&str> = self.telemetry.iter().map(|t| t.name.as_str()).collect();
        if names.is_empty() {
            "no telemetry".to_string()
        } else {
            names.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THERMOSTAT: &str = r#"{
        "@context": "dtmi:dtdl:context;2",
        "@id": "dtmi:com:example:Thermostat;1",
        "@type": "Interface",
        "displayName": { "en": "Thermostat" },
        "contents": [
            { "@type": ["Telemetry", "Temperature"], "name": "temp_c", "schema": "double", "unit": "degreeCelsius" },
            { "@type": "Property", "name": "setpoint_c", "schema": "double", "writable": true },
            { "@type": "Property", "name": "serial", "schema": "string" },
            { "@type": "Command", "name": "getTemperature",
              "response": { "name": "reading", "schema": { "@type": "Object", "fields": [
                  { "name": "temp_c", "schema": "double" } ] } } },
            { "@type": "Property", "name": "mode", "schema": { "@type": "Enum", "valueSchema": "string",
              "enumValues": [ { "name": "heat", "enumValue": "heat" }, { "name": "off", "enumValue": "off" } ] } }
        ]
    }"#;

    #[test]
    fn an_interface_parses_into_its_telemetry_properties_and_commands() {
        let i = Interface::parse("thermostat.json", THERMOSTAT).unwrap();
        assert_eq!(i.id, "dtmi:com:example:Thermostat;1");
        assert_eq!(i.display_name.as_deref(), Some("Thermostat"));
        let t = i.telemetry("temp_c").unwrap();
        assert_eq!(t.unit.as_deref(), Some("degreeCelsius"));
        assert_eq!(t.semantic_type.as_deref(), Some("Temperature"));
        assert!(t.schema.is_fractional_number());
        assert!(i.property("setpoint_c").unwrap().writable);
        assert!(!i.property("serial").unwrap().writable);
        let c = i.command("getTemperature").unwrap();
        assert!(c.request.is_none());
        assert!(
            matches!(&c.response, Some((n, Schema::Object(f))) if n == "reading" && f.len() == 1)
        );
        assert!(
            matches!(&i.property("mode").unwrap().schema, Schema::Enum { values, .. } if values.len() == 2)
        );
    }

    #[test]
    fn mistakes_are_named_with_their_json_path() {
        let cases = [
            (
                r#""@context": "dtmi:dtdl:context;2""#,
                r#""@context": "dtmi:dtdl:context;3""#,
                "@context",
                "DTDL v2",
            ),
            (
                "dtmi:com:example:Thermostat;1",
                "dtmi:com:example:Thermostat",
                "@id",
                "versioned DTMI",
            ),
            (
                "dtmi:com:example:Thermostat;1",
                "dtmi:com:9example:Thermostat;1",
                "@id",
                "versioned DTMI",
            ),
            (
                r#""name": "serial""#,
                r#""name": "temp_c""#,
                "contents[2].name",
                "also the name of contents[0]",
            ),
            (
                r#""name": "serial""#,
                r#""name": "2serial""#,
                "contents[2].name",
                "starting with a letter",
            ),
            (
                r#""schema": "string""#,
                r#""schema": "text""#,
                "contents[2].schema",
                "primitive schema",
            ),
            (
                r#""schema": "string""#,
                r#""schema": "string", "writable": "yes""#,
                "contents[2].writable",
                "true or false",
            ),
            (
                r#""@type": "Property", "name": "serial""#,
                r#""@type": "Property", "name": "serial", "unit": "metre""#,
                "contents[2].unit",
                "semantic type",
            ),
            (
                r#""@type": "Property", "name": "serial""#,
                r#""@type": "Component", "name": "serial""#,
                "contents[2].@type",
                "not supported",
            ),
            (
                r#""@type": "Property", "name": "serial""#,
                r#""@type": "Telemetry", "name": "serial", "writable": true"#,
                "contents[2].writable",
                "a Telemetry has no property",
            ),
            (
                r#""enumValue": "off""#,
                r#""enumValue": 3"#,
                "contents[4].schema.enumValues[1].enumValue",
                "schema string",
            ),
            (
                r#""fields": ["#,
                r#""fieldz": ["#,
                "contents[3].response.schema.fieldz",
                "an Object has no property",
            ),
        ];
        for (old, new, path, words) in cases {
            assert!(THERMOSTAT.contains(old), "{old}");
            let e = Interface::parse("t.json", &THERMOSTAT.replacen(old, new, 1)).unwrap_err();
            assert_eq!(e.path, path, "{new}: {e}");
            assert!(e.message.contains(words), "{new}: {e}");
            assert!(e.to_string().starts_with("t.json at "), "{e}");
        }
        let e = Interface::parse("t.json", "{ not json").unwrap_err();
        assert!(e.to_string().starts_with("t.json: not JSON"), "{e}");
    }

    #[test]
    fn dtmis_follow_the_dtdl_syntax() {
        for ok in [
            "dtmi:a;1",
            "dtmi:com:example:Thermostat;12",
            "dtmi:a_b:c1;999999999",
        ] {
            assert!(is_dtmi(ok), "{ok}");
        }
        for bad in [
            "dtmi:a",
            "dtmi:a;0",
            "dtmi:a;01",
            "dtmi:_a;1",
            "dtmi:a_;1",
            "dtmi::a;1",
            "dti:a;1",
            "dtmi:a;1000000000",
        ] {
            assert!(!is_dtmi(bad), "{bad}");
        }
    }
}
