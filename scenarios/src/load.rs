//! Reading scenario files: TOML into typed structs, `--set` overrides, and errors that name the
//! file, line, column, field, the bad value and what was expected.
//!
//! A scenario is parsed in three steps. (1) `--set key=value` overrides are applied to the
//! document with `toml_edit`, which keeps the rest of the file byte for byte, so line numbers
//! stay true. Only keys the document already has (or the scenario's aliases) may be set: an
//! unknown key is an error that lists the valid ones. (2) The text is deserialised with serde
//! (`deny_unknown_fields` on every table), through `serde_path_to_error` so a type error knows
//! the dotted path of its field and `toml` knows the byte span of its value. (3) The scenario
//! validates itself; a semantic error names a dotted path, which is located in the document
//! to give a line and column.

use serde::de::DeserializeOwned;
use std::fmt;

/// A scenario's text and where it came from (a path, or `bundled:<name>`).
#[derive(Clone, Debug)]
pub struct Source {
    pub origin: String,
    pub text: String,
}

/// One `--set key=value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    pub key: String,
    pub value: String,
}

impl Override {
    /// Parses `key=value`.
    pub fn parse(arg: &str) -> Result<Override, LoadError> {
        match arg.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok(Override {
                key: k.trim().to_string(),
                value: v.trim().to_string(),
            }),
            _ => Err(LoadError::BadOverride {
                arg: arg.to_string(),
            }),
        }
    }
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// Where in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub origin: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.origin, self.line, self.column)
    }
}

/// A scenario that cannot be loaded. Every variant says what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("{origin}: cannot read: {message}")]
    Read { origin: String, message: String },
    #[error("{at}: `{field}`: {message}")]
    Invalid {
        at: Location,
        field: String,
        message: String,
    },
    #[error("--set {arg}: expected key=value")]
    BadOverride { arg: String },
    #[error("--set {key}: no such key in this scenario; valid keys: {valid}")]
    UnknownKey { key: String, valid: String },
    #[error("--set {key}={value}: {message}")]
    BadOverrideValue {
        key: String,
        value: String,
        message: String,
    },
    #[error("no bundled scenario named `{name}`; bundled: {bundled}")]
    UnknownScenario { name: String, bundled: String },
}

/// A semantic error found after parsing: a dotted field path and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Implemented by scenario types: checks what serde cannot (ranges, cross-field rules).
pub trait Validate {
    fn validate(&self) -> Result<(), FieldError>;
}

/// Line and column (both from 1) of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(at, |nl| at - nl - 1) + 1;
    (line, column)
}

/// Every leaf key path in a TOML document (dotted; array elements as `[i]` are skipped, an
/// array is one leaf), sorted.
pub fn leaf_keys(text: &str) -> Vec<String> {
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    collect_leaves(doc.as_table(), "", &mut out);
    out.sort();
    out
}

fn collect_leaves(table: &dyn toml_edit::TableLike, prefix: &str, out: &mut Vec<String>) {
    for (k, item) in table.iter() {
        let path = if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        };
        match item {
            toml_edit::Item::Table(t) => collect_leaves(t, &path, out),
            toml_edit::Item::Value(toml_edit::Value::InlineTable(t)) => {
                collect_leaves(t, &path, out)
            }
            toml_edit::Item::ArrayOfTables(_) | toml_edit::Item::Value(_) => out.push(path),
            toml_edit::Item::None => {}
        }
    }
}

/// The byte span of the value at a dotted path such as `rules[2].threshold` (the nearest
/// enclosing span if the exact value has none).
fn span_of(text: &str, path: &str) -> Option<std::ops::Range<usize>> {
    let doc = toml_edit::Document::parse(text).ok()?;
    let parts: Vec<&str> = path.split('.').filter(|p| !p.is_empty()).collect();
    span_in_table(doc.as_table(), &parts)
}

fn span_in_table(
    table: &dyn toml_edit::TableLike,
    parts: &[&str],
) -> Option<std::ops::Range<usize>> {
    let (part, rest) = parts.split_first()?;
    let (name, index) = match part.split_once('[') {
        Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
        None => (*part, None),
    };
    let item = table.get(name)?;
    let deeper = match (item, index) {
        (toml_edit::Item::ArrayOfTables(a), Some(i)) => {
            let t = a.get(i)?;
            if rest.is_empty() {
                t.span()
            } else {
                span_in_table(t, rest)
            }
        }
        (toml_edit::Item::Value(toml_edit::Value::Array(a)), Some(i)) => {
            let v = a.get(i)?;
            match (v, rest.is_empty()) {
                (toml_edit::Value::InlineTable(t), false) => span_in_table(t, rest),
                _ => v.span(),
            }
        }
        (_, _) if rest.is_empty() => item.span(),
        (_, _) => item.as_table_like().and_then(|t| span_in_table(t, rest)),
    };
    deeper.or_else(|| item.span())
}

/// Locates a dotted path for an error message (line 1, column 1 if it is not in the file,
/// e.g. a default value).
pub fn locate(src: &Source, path: &str) -> Location {
    let (line, column) = span_of(&src.text, path).map_or((1, 1), |s| line_col(&src.text, s.start));
    Location {
        origin: src.origin.clone(),
        line,
        column,
    }
}

/// Applies overrides (resolving aliases) and returns the new text.
pub fn apply_overrides(
    src: &Source,
    overrides: &[Override],
    aliases: &[(&str, &str)],
) -> Result<String, LoadError> {
    if overrides.is_empty() {
        return Ok(src.text.clone());
    }
    let mut doc: toml_edit::DocumentMut = src.text.parse().map_err(|e: toml_edit::TomlError| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(&src.text, s.start));
        LoadError::Invalid {
            at: Location {
                origin: src.origin.clone(),
                line,
                column,
            },
            field: String::new(),
            message: e.message().to_string(),
        }
    })?;
    let keys = leaf_keys(&src.text);
    for o in overrides {
        let path = aliases
            .iter()
            .find(|(alias, _)| *alias == o.key)
            .map_or(o.key.as_str(), |(_, target)| *target);
        if !keys.iter().any(|k| k == path) {
            let mut valid: Vec<String> = aliases
                .iter()
                .map(|(a, t)| format!("{a} (= {t})"))
                .collect();
            valid.extend(keys.iter().cloned());
            return Err(LoadError::UnknownKey {
                key: o.key.clone(),
                valid: valid.join(", "),
            });
        }
        // The value is a TOML literal (number, bool, quoted string, array); a bare word is
        // taken as a string.
        let value: toml_edit::Value = o
            .value
            .parse()
            .unwrap_or_else(|_| toml_edit::Value::from(o.value.as_str()));
        let mut parts = path.split('.').peekable();
        let mut table: &mut dyn toml_edit::TableLike = doc.as_table_mut();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                let old = table
                    .get(part)
                    .and_then(|i| i.as_value())
                    .map(|v| v.decor().clone());
                let mut value = value.clone();
                if let Some(decor) = old {
                    *value.decor_mut() = decor;
                }
                // Replace the item in place: inserting would also replace the key, and with
                // it the comment lines above the key, moving every later line up.
                match table.get_mut(part) {
                    Some(item) => *item = toml_edit::Item::Value(value),
                    None => {
                        table.insert(part, toml_edit::Item::Value(value));
                    }
                }
                break;
            }
            table = table
                .get_mut(part)
                .and_then(|i| i.as_table_like_mut())
                .ok_or_else(|| LoadError::BadOverrideValue {
                    key: o.key.clone(),
                    value: o.value.clone(),
                    message: format!("`{part}` is not a table"),
                })?;
        }
    }
    Ok(doc.to_string())
}

/// Parses a scenario of type `T` from `src` with `overrides`, then validates it.
pub fn parse<T: DeserializeOwned + Validate>(
    src: &Source,
    overrides: &[Override],
    aliases: &[(&str, &str)],
) -> Result<T, LoadError> {
    let text = apply_overrides(src, overrides, aliases)?;
    let effective = Source {
        origin: src.origin.clone(),
        text,
    };
    let de =
        toml::Deserializer::parse(&effective.text).map_err(|e| toml_error(&effective, "", &e))?;
    let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." { String::new() } else { field };
        toml_error(&effective, &field, e.inner())
    })?;
    value.validate().map_err(|fe| {
        let at = locate(&effective, &fe.field);
        LoadError::Invalid {
            at,
            field: fe.field,
            message: fe.message,
        }
    })?;
    Ok(value)
}

fn toml_error(src: &Source, field: &str, e: &toml::de::Error) -> LoadError {
    let (line, column) = e
        .span()
        .map(|s| line_col(&src.text, s.start))
        .unwrap_or_else(|| {
            let l = locate(src, field);
            (l.line, l.column)
        });
    LoadError::Invalid {
        at: Location {
            origin: src.origin.clone(),
            line,
            column,
        },
        field: field.to_string(),
        message: e.message().trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        herd: Herd,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Herd {
        cows: u32,
        interval_s: u32,
    }

    impl Validate for Doc {
        fn validate(&self) -> Result<(), FieldError> {
            if self.herd.interval_s == 0 {
                return Err(FieldError::new(
                    "herd.interval_s",
                    "must be at least 1 second, got 0",
                ));
            }
            Ok(())
        }
    }

    fn src(text: &str) -> Source {
        Source {
            origin: "t.toml".into(),
            text: text.into(),
        }
    }

    #[test]
    fn a_type_error_names_file_line_column_and_field() {
        let e = parse::<Doc>(
            &src("[herd]\ncows = \"many\"\ninterval_s = 300\n"),
            &[],
            &[],
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("t.toml:2:8: `herd.cows`: "), "{msg}");
        assert!(msg.contains("u32"), "{msg}");
    }

    #[test]
    fn an_unknown_field_is_named_with_what_is_expected() {
        let e = parse::<Doc>(
            &src("[herd]\ncows = 1\ninterval_s = 300\ncolour = 2\n"),
            &[],
            &[],
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("t.toml:4:1:"), "{msg}");
        assert!(
            msg.contains("colour") && msg.contains("cows") && msg.contains("interval_s"),
            "{msg}"
        );
    }

    #[test]
    fn a_validation_error_is_located_in_the_file() {
        let e = parse::<Doc>(&src("[herd]\ncows = 1\ninterval_s = 0\n"), &[], &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.toml:3:14: `herd.interval_s`: must be at least 1 second, got 0"
        );
    }

    #[test]
    fn overrides_set_known_keys_and_aliases_and_reject_unknown_ones() {
        let s = src("[herd]\ncows = 1 # the herd size\ninterval_s = 300\n");
        let aliases = [("devices", "herd.cows")];
        let d: Doc = parse(&s, &[Override::parse("devices=1000000").unwrap()], &aliases).unwrap();
        assert_eq!(d.herd.cows, 1_000_000);
        let e =
            parse::<Doc>(&s, &[Override::parse("herd.goats=3").unwrap()], &aliases).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--set herd.goats: no such key in this scenario; valid keys: devices (= herd.cows), herd.cows, herd.interval_s"
        );
        let e =
            parse::<Doc>(&s, &[Override::parse("devices=lots").unwrap()], &aliases).unwrap_err();
        assert!(e.to_string().starts_with("t.toml:2:8: `herd.cows`"), "{e}");
        assert!(Override::parse("novalue").is_err());
    }

    #[test]
    fn line_and_column_count_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
