//! edgeHub routes (reference §3): `FROM <source> [WHERE <condition>] INTO <sink>`, keywords
//! case-insensitive, with the schema 1.1 priority (0 highest to 9) and time-to-live.
//!
//! Sources: `/*`, `/messages/*`, `/messages/modules/*`, `/messages/modules/{id}/*`,
//! `/messages/modules/{id}/outputs/*`, `/messages/modules/{id}/outputs/{output}`. A child
//! device's message matches `/*` and `/messages/*`; the module sources match only messages a
//! module sends, and the modules modelled here raise local alerts without sending any, so a
//! route from a module source parses and matches nothing **[simplification]**. Sinks:
//! `$upstream` (IoT Hub) and `BrokeredEndpoint("/modules/{id}/inputs/{input}")`. The
//! condition is the IoT Hub routing query language, parsed by [`hub::route::Condition`].
//!
//! ```
//! use edge::route::{Route, Sink, Source};
//! let r = Route::parse(r#"FROM /messages/* WHERE $body.temp_c > 65.5 INTO BrokeredEndpoint("/modules/alarm/inputs/in")"#).unwrap();
//! assert_eq!(r.source, Source::Messages);
//! assert_eq!(r.sink, Sink::Module { module: "alarm".into(), input: "in".into() });
//! assert!(r.condition.is_some());
//! assert!(Route::parse("FROM /messages/* INTO $upstream").unwrap().matches_leaf());
//! ```

use hub::route::{Condition, ConditionError};

/// Where a route takes its messages from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `/*`: every message.
    All,
    /// `/messages/*`: every device or module message.
    Messages,
    /// `/messages/modules/*`, optionally of one module and one output (`None`: any).
    Modules {
        module: Option<String>,
        output: Option<String>,
    },
}

/// Where a route sends its messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sink {
    /// `$upstream`: IoT Hub, through the store.
    Upstream,
    /// `BrokeredEndpoint("/modules/{module}/inputs/{input}")`: a local module's input.
    Module { module: String, input: String },
}

/// A parsed route.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub source: Source,
    pub condition: Option<Condition>,
    pub sink: Sink,
}

/// A route that does not parse, with what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("a route is `FROM <source> [WHERE <condition>] INTO <sink>`; `{0}` is not")]
    Shape(String),
    #[error("unknown source `{0}`: one of /*, /messages/*, /messages/modules/*, /messages/modules/{{id}}/*, /messages/modules/{{id}}/outputs/*, /messages/modules/{{id}}/outputs/{{output}}")]
    Source(String),
    #[error(
        "unknown sink `{0}`: $upstream or BrokeredEndpoint(\"/modules/{{id}}/inputs/{{input}}\")"
    )]
    Sink(String),
    #[error(transparent)]
    Condition(#[from] ConditionError),
}

/// The byte offset of keyword `kw` (case-insensitive, between whitespace, outside quoted
/// literals) in `text`: its first occurrence, or its last with `last`.
fn keyword(text: &str, kw: &str, last: bool) -> Option<usize> {
    let b = text.as_bytes();
    let n = kw.len();
    let mut quote: Option<u8> = None;
    let mut found = None;
    for i in 0..b.len() {
        match quote {
            Some(q) if b[i] == q => quote = None,
            Some(_) => {}
            None if b[i] == b'\'' || b[i] == b'"' => quote = Some(b[i]),
            None => {
                let word = b.get(i + 1..i + 1 + n);
                if b[i].is_ascii_whitespace()
                    && word.is_some_and(|w| w.eq_ignore_ascii_case(kw.as_bytes()))
                    && b.get(i + 1 + n).is_some_and(|c| c.is_ascii_whitespace())
                {
                    found = Some(i + 1);
                    if !last {
                        return found;
                    }
                }
            }
        }
    }
    found
}

impl Route {
    pub fn parse(text: &str) -> Result<Route, RouteError> {
        let t = text.trim();
        let shape = || RouteError::Shape(t.to_string());
        if !t.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("FROM ")) {
            return Err(shape());
        }
        let body = &t[5..];
        let padded = format!(" {body} ");
        // The sink holds no whitespace: the last INTO outside quotes ends the condition.
        let into = keyword(&padded, "INTO", true).ok_or_else(shape)?;
        let head = &padded[..into];
        let sink = padded[into + 4..].trim();
        let (source, condition) = match keyword(head, "WHERE", false) {
            Some(w) => (head[..w].trim(), Some(head[w + 5..].trim())),
            None => (head.trim(), None),
        };
        let condition = match condition {
            Some("") => return Err(shape()),
            Some(c) => Some(Condition::parse(c)?),
            None => None,
        };
        Ok(Route {
            source: parse_source(source)?,
            condition,
            sink: parse_sink(sink)?,
        })
    }

    /// Whether a child device's message is taken by this route's source.
    pub fn matches_leaf(&self) -> bool {
        matches!(self.source, Source::All | Source::Messages)
    }
}

fn parse_source(s: &str) -> Result<Source, RouteError> {
    let err = || RouteError::Source(s.to_string());
    let parts: Vec<&str> = s.split('/').collect();
    let name = |p: &str| (!p.is_empty() && p != "*").then(|| p.to_string());
    Ok(match parts.as_slice() {
        ["", "*"] => Source::All,
        ["", "messages", "*"] => Source::Messages,
        ["", "messages", "modules", "*"] => Source::Modules {
            module: None,
            output: None,
        },
        ["", "messages", "modules", id, "*"] => Source::Modules {
            module: Some(name(id).ok_or_else(err)?),
            output: None,
        },
        ["", "messages", "modules", id, "outputs", out] => Source::Modules {
            module: Some(name(id).ok_or_else(err)?),
            output: if *out == "*" {
                None
            } else {
                Some(name(out).ok_or_else(err)?)
            },
        },
        _ => return Err(err()),
    })
}

fn parse_sink(s: &str) -> Result<Sink, RouteError> {
    let err = || RouteError::Sink(s.to_string());
    if s == "$upstream" {
        return Ok(Sink::Upstream);
    }
    let inner = s
        .strip_prefix("BrokeredEndpoint(\"")
        .and_then(|r| r.strip_suffix("\")"))
        .ok_or_else(err)?;
    match inner.split('/').collect::<Vec<_>>().as_slice() {
        ["", "modules", module, "inputs", input] if !module.is_empty() && !input.is_empty() => {
            Ok(Sink::Module {
                module: module.to_string(),
                input: input.to_string(),
            })
        }
        _ => Err(err()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_and_sinks_parse_as_the_manifest_spells_them() {
        let r =
            Route::parse("from /messages/modules/filter/outputs/alerts into $upstream").unwrap();
        assert_eq!(
            r.source,
            Source::Modules {
                module: Some("filter".into()),
                output: Some("alerts".into())
            }
        );
        assert!(!r.matches_leaf());
        assert_eq!(
            Route::parse("FROM /* INTO $upstream").unwrap().source,
            Source::All
        );
        let w = Route::parse(
            "FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO $upstream",
        )
        .unwrap();
        assert!(w.condition.is_some());
    }

    #[test]
    fn keywords_inside_a_quoted_literal_are_not_keywords() {
        let r = Route::parse(
            "FROM /messages/* WHERE $body.note = 'poured into tank where hot' INTO $upstream",
        )
        .unwrap();
        assert_eq!(r.sink, Sink::Upstream);
        assert!(r.condition.is_some());
        assert!(
            Route::parse("FROM /*\tINTO $upstream").is_ok(),
            "any whitespace separates"
        );
    }

    #[test]
    fn a_bad_route_names_what_is_wrong() {
        assert!(matches!(
            Route::parse("/messages/* INTO $upstream"),
            Err(RouteError::Shape(_))
        ));
        assert!(
            matches!(Route::parse("FROM /devices/* INTO $upstream"), Err(RouteError::Source(s)) if s == "/devices/*")
        );
        assert!(
            matches!(Route::parse("FROM /* INTO $cloud"), Err(RouteError::Sink(s)) if s == "$cloud")
        );
        assert!(matches!(
            Route::parse("FROM /* WHERE temp_c >> 3 INTO $upstream"),
            Err(RouteError::Condition(_))
        ));
        assert!(matches!(
            Route::parse("FROM /* WHERE INTO $upstream"),
            Err(RouteError::Shape(_))
        ));
    }
}
