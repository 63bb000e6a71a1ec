//! Reading scenario files: TOML into typed structs, `--set` overrides, and errors that name the
//! file, line, column, field, the bad value and what was expected.
//!
//! A scenario is parsed in three steps. (1) `--set key=value` overrides are applied to the
//! document with `toml_edit`, which keeps the rest of the file byte for byte, so line numbers
//! stay true. Only keys the document already has (or the scenario's aliases) may be set, or,
//! through [`apply_overrides_with_defaults`], keys a defaults document lists: an unknown key is
//! an error that lists the valid ones. A key is a dotted path; an entry of an array (of tables,
//! or an inline array of inline tables) is named by its `name` string (`analytics.rules.fever`)
//! or its index (`network.outages[0]` or `network.outages.0`). (2) The text is deserialised
//! with serde (`deny_unknown_fields` on every table), through `serde_path_to_error` so a type
//! error knows the dotted path of its field (`analytics.rules[1].cooldown_s`) and `toml` knows
//! the byte span of its value. (3) The scenario validates itself; a semantic error names a
//! dotted path, which is located in the document to give a line and column.
//!
//! Layout: `types` holds the inputs and errors; `node` the read-only view of a document;
//! `path` parses and resolves key paths; `keys` lists the settable keys; `overrides` applies
//! `--set`; `locate` turns a path or a byte offset into a line and column. This module parses
//! and validates.

mod keys;
mod locate;
mod node;
mod overrides;
mod path;
#[cfg(test)]
mod test_fixtures;
mod types;

pub use keys::{leaf_keys, settable_keys};
pub use locate::{line_col, locate};
pub use overrides::{apply_overrides, apply_overrides_with_defaults};
pub use types::{FieldError, LoadError, Location, Override, Source, Validate};

use serde::de::DeserializeOwned;

/// Parses a scenario of type `T` from `src` with `overrides`, then validates it.
pub fn parse<T: DeserializeOwned + Validate>(
    src: &Source,
    overrides: &[Override],
    aliases: &[(&str, &str)],
) -> Result<T, LoadError> {
    let text = apply_overrides(src, overrides, aliases)?;
    parse_text(src, text)
}

/// Parses a scenario like [`parse`], with overrides applied by
/// [`apply_overrides_with_defaults`], so keys the file omits can be set.
pub fn parse_with_defaults<T: DeserializeOwned + Validate>(
    src: &Source,
    overrides: &[Override],
    aliases: &[(&str, &str)],
    defaults: &str,
) -> Result<T, LoadError> {
    let text = apply_overrides_with_defaults(src, overrides, aliases, defaults)?;
    parse_text(src, text)
}

/// Deserialises and validates the text overrides produced from `src`.
fn parse_text<T: DeserializeOwned + Validate>(src: &Source, text: String) -> Result<T, LoadError> {
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
    use super::test_fixtures::*;
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
    fn a_type_error_inside_an_array_entry_is_located_on_its_line() {
        let text = FLEET.replace(
            "# A day's cool-down.\ncooldown_s = 86400",
            "# A day's cool-down.\ncooldown_s = \"a day\"",
        );
        let e = parse::<Fleet>(&src(&text), &[], &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t.toml:11:14: `analytics.rules[1].cooldown_s`: "),
            "{e}"
        );
    }

    #[test]
    fn a_validation_error_inside_an_array_entry_set_by_name_is_located_on_its_line() {
        let e = parse::<Fleet>(
            &src(FLEET),
            &[Override::parse("analytics.rules.stuck.cooldown_s=5").unwrap()],
            &[],
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.toml:11:14: `analytics.rules[1].cooldown_s`: 5: expected at least 60 s"
        );
    }

    #[test]
    fn with_defaults_and_no_overrides_the_file_is_read_as_it_is() {
        let f: Fleet = parse_with_defaults(&src(FLEET), &[], &[], FLEET_DEFAULTS).unwrap();
        let fever = &f.analytics.rules[0];
        assert_eq!(
            (fever.name.as_str(), fever.truth.as_deref()),
            ("fever", Some("fever"))
        );
        assert_eq!(
            (fever.conditions[0].kind.as_str(), fever.conditions[0].value),
            ("consecutive", 39.6)
        );
        assert_eq!(f.analytics.rules[1].truth, None);
        assert!(f.analytics.rules[1].conditions.is_empty());
        assert_eq!((f.network.loss_ratio, f.network.latency_ms), (0.01, 0.0));
        let o = &f.network.outages[0];
        assert_eq!((o.start_h, o.duration_min), (9.5, 40.0));
        assert_eq!(f.faults.crash_ratio, 0.0);
    }
}
