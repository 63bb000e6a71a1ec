//! Applying `--set` overrides to a document with `toml_edit`: checking each key against the
//! file (and a defaults document), setting or inserting the value, and keeping every other
//! line where it was.

use super::keys::settable;
use super::locate::line_col;
use super::node::Node;
use super::path::{has_leaf, parse_path, resolve, Found, Step};
use super::types::{LoadError, Location, Override, Source};

fn syntax_error(origin: &str, text: &str, e: &toml_edit::TomlError) -> LoadError {
    let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
    LoadError::Invalid {
        at: Location {
            origin: origin.to_string(),
            line,
            column,
        },
        field: String::new(),
        message: e.message().to_string(),
    }
}

/// Applies overrides (resolving aliases) and returns the new text. Only keys the file has can
/// be set; see [`apply_overrides_with_defaults`] for keys it omits.
pub fn apply_overrides(
    src: &Source,
    overrides: &[Override],
    aliases: &[(&str, &str)],
) -> Result<String, LoadError> {
    apply(src, overrides, aliases, None)
}

/// Applies overrides like [`apply_overrides`], and also sets keys the file omits that
/// `defaults` has. `defaults` is a TOML document holding every settable key with its default
/// value; the table entries of its arrays are templates, a key of any of them valid for every
/// entry the file has in that array. A key the file omits is inserted at the end of its table
/// (taking the place of the blank line that ends the table, where there is one, so later lines
/// keep their numbers); a table the file omits is appended at the end of the file as a
/// `[table]` header.
pub fn apply_overrides_with_defaults(
    src: &Source,
    overrides: &[Override],
    aliases: &[(&str, &str)],
    defaults: &str,
) -> Result<String, LoadError> {
    if overrides.is_empty() {
        return Ok(src.text.clone());
    }
    let defaults: toml_edit::DocumentMut = defaults
        .parse()
        .map_err(|e| syntax_error("<defaults>", defaults, &e))?;
    apply(src, overrides, aliases, Some(&defaults))
}

/// `did you mean a, b? ` for the valid keys whose last segment is `key`'s (a key moved to
/// another table, e.g. `network.loss_ratio` to `classes.collar.link.loss_ratio`); empty
/// when there is none.
fn did_you_mean(key: &str, valid: &[String]) -> String {
    let last = key.rsplit('.').next().unwrap_or(key);
    let close: Vec<&str> = valid
        .iter()
        .map(|v| v.split(" (= ").next().unwrap_or(v))
        .filter(|v| *v != key && v.rsplit('.').next() == Some(last))
        .take(4)
        .collect();
    if close.is_empty() {
        String::new()
    } else {
        format!("did you mean {}? ", close.join(", "))
    }
}

fn apply(
    src: &Source,
    overrides: &[Override],
    aliases: &[(&str, &str)],
    defaults: Option<&toml_edit::DocumentMut>,
) -> Result<String, LoadError> {
    if overrides.is_empty() {
        return Ok(src.text.clone());
    }
    let mut text = src.text.clone();
    for o in overrides {
        // Each override is resolved against the text the ones before it left.
        let mut doc: toml_edit::DocumentMut = text
            .parse()
            .map_err(|e| syntax_error(&src.origin, &text, &e))?;
        let path = aliases
            .iter()
            .find(|(alias, _)| *alias == o.key)
            .map_or(o.key.as_str(), |(_, target)| *target);
        let bad_path = |message: String| LoadError::BadOverridePath {
            key: o.key.clone(),
            message,
        };
        let segs = parse_path(path).map_err(bad_path)?;
        let (steps, found) = resolve(Node::root(doc.as_table()), &segs).map_err(bad_path)?;
        let valid = match found {
            Found::Leaf => true,
            Found::Table => false,
            Found::Missing => defaults.is_some_and(|d| {
                has_leaf(Node::root(d.as_table()), &steps)
                    || has_leaf(Node::root(doc.as_table()), &steps)
            }),
        };
        if !valid {
            let mut valid: Vec<String> = aliases
                .iter()
                .map(|(a, t)| format!("{a} (= {t})"))
                .collect();
            valid.extend(settable(&doc, defaults));
            return Err(LoadError::UnknownKey {
                key: o.key.clone(),
                hint: did_you_mean(&o.key, &valid),
                valid: valid.join(", "),
            });
        }
        // The value is a TOML literal (number, bool, quoted string, array); a bare word is
        // taken as a string.
        let value: toml_edit::Value = o
            .value
            .parse()
            .unwrap_or_else(|_| toml_edit::Value::from(o.value.as_str()));
        let mut next_position = max_position(doc.as_table()) + 1;
        set_in(doc.as_table_mut(), false, &steps, value, &mut next_position).map_err(bad_path)?;
        text = absorb_inserted_line(&text, doc.to_string());
    }
    Ok(text)
}

/// The largest position of any table in the document, so that a table created after it is
/// written at the end of the file.
fn max_position(table: &toml_edit::Table) -> isize {
    let mut max = table.position().unwrap_or(0);
    for (_, item) in table.iter() {
        match item {
            toml_edit::Item::Table(t) => max = max.max(max_position(t)),
            toml_edit::Item::ArrayOfTables(a) => {
                for t in a.iter() {
                    max = max.max(max_position(t));
                }
            }
            _ => {}
        }
    }
    max
}

/// Sets the value at a resolved path, creating the tables on the way that the document lacks
/// (inline inside an inline table, otherwise headers at the end of the file).
fn set_in(
    table: &mut dyn toml_edit::TableLike,
    inline: bool,
    steps: &[Step],
    value: toml_edit::Value,
    next_position: &mut isize,
) -> Result<(), String> {
    let Some((Step::Key(key), rest)) = steps.split_first() else {
        return Err("internal error: a path must start with a key".to_string());
    };
    if rest.is_empty() {
        match table.get_mut(key) {
            // Replace the item in place: inserting would also replace the key, and with it
            // the comment lines above the key, moving every later line up.
            Some(item) => *item = toml_edit::Item::Value(keep_decor(item.as_value(), value)),
            None => {
                let mut value = value;
                if inline {
                    // The space before `}` belongs to the last value: the new value, after
                    // it, takes it over.
                    if let Some(last) = table.iter_mut().last().and_then(|(_, i)| i.as_value_mut())
                    {
                        if let Some(suffix) = last.decor().suffix().cloned() {
                            last.decor_mut().set_suffix("");
                            value.decor_mut().set_suffix(suffix);
                        }
                        value.decor_mut().set_prefix(" ");
                    }
                }
                table.insert(key, toml_edit::Item::Value(value));
            }
        }
        return Ok(());
    }
    if !table.contains_key(key) {
        let created = if inline {
            toml_edit::Item::Value(toml_edit::Value::InlineTable(toml_edit::InlineTable::new()))
        } else {
            let mut t = toml_edit::Table::new();
            // Implicit: no header unless keys are set in it.
            t.set_implicit(true);
            t.set_position(Some(*next_position));
            *next_position += 1;
            toml_edit::Item::Table(t)
        };
        table.insert(key, created);
    }
    let not_table = || format!("internal error: `{key}` is not a table");
    match table.get_mut(key) {
        Some(toml_edit::Item::Table(t)) => {
            if rest.len() == 1 && t.is_implicit() && !t.is_dotted() {
                if let Step::Key(leaf) = &rest[0] {
                    if !t.contains_key(leaf) {
                        // A table the file names only in sub-table headers (`analytics` of
                        // `[[analytics.rules]]`) gets its own header, at the end of the file.
                        t.set_position(Some(*next_position));
                        *next_position += 1;
                    }
                }
            }
            set_in(t, false, rest, value, next_position)
        }
        Some(toml_edit::Item::Value(toml_edit::Value::InlineTable(t))) => {
            set_in(t, true, rest, value, next_position)
        }
        Some(toml_edit::Item::ArrayOfTables(a)) => match rest {
            [Step::Index(i), deeper @ ..] if !deeper.is_empty() => {
                let t = a.get_mut(*i).ok_or_else(not_table)?;
                set_in(t, false, deeper, value, next_position)
            }
            _ => Err(not_table()),
        },
        Some(toml_edit::Item::Value(toml_edit::Value::Array(a))) => match rest {
            [Step::Index(i)] => {
                let element = a.get_mut(*i).ok_or_else(not_table)?;
                *element = keep_decor(Some(element), value);
                Ok(())
            }
            [Step::Index(i), deeper @ ..] if !deeper.is_empty() => match a.get_mut(*i) {
                Some(toml_edit::Value::InlineTable(t)) => {
                    set_in(t, true, deeper, value, next_position)
                }
                _ => Err(not_table()),
            },
            _ => Err(not_table()),
        },
        _ => Err(not_table()),
    }
}

/// The new value with the old one's surrounding whitespace and comment.
fn keep_decor(old: Option<&toml_edit::Value>, mut value: toml_edit::Value) -> toml_edit::Value {
    if let Some(old) = old {
        *value.decor_mut() = old.decor().clone();
    }
    value
}

/// When an override inserted one line inside the file (a key the file omitted, at the end of
/// its table), takes out the blank line that ended that table, so every later line keeps its
/// number. Comment lines between the two move down one. Without such a blank line the later
/// lines move down one.
fn absorb_inserted_line(old: &str, new: String) -> String {
    let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
    let new_lines: Vec<&str> = new.split_inclusive('\n').collect();
    if new_lines.len() != old_lines.len() + 1 {
        return new;
    }
    let at = old_lines
        .iter()
        .zip(&new_lines)
        .position(|(a, b)| a != b)
        .unwrap_or(old_lines.len());
    if new_lines[at + 1..] != old_lines[at..] {
        return new;
    }
    for (j, line) in old_lines[at..].iter().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            let mut lines = new_lines;
            lines.remove(at + 1 + j);
            return lines.concat();
        }
        if !line.starts_with('#') {
            break;
        }
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse_with_defaults;
    use crate::load::test_fixtures::*;

    #[test]
    fn a_key_of_an_array_entry_is_set_by_the_entrys_name_and_no_other_line_moves() {
        let new = set(FLEET, &["analytics.rules.stuck.cooldown_s=3600"]).unwrap();
        assert_only_line_changed(FLEET, &new, 11, "cooldown_s = 3600");
    }

    #[test]
    fn a_key_of_an_array_entry_is_set_by_index_in_brackets_or_after_a_dot() {
        let new = set(FLEET, &["network.outages[0].start_h=10"]).unwrap();
        assert_only_line_changed(FLEET, &new, 18, "start_h = 10");
        let new = set(FLEET, &["network.outages.0.start_h=11"]).unwrap();
        assert_only_line_changed(FLEET, &new, 18, "start_h = 11");
        let new = set(FLEET, &["analytics.rules[1].cooldown_s=60"]).unwrap();
        assert_only_line_changed(FLEET, &new, 11, "cooldown_s = 60");
    }

    #[test]
    fn a_key_of_an_inline_table_in_an_array_in_a_named_entry_is_set() {
        let new = set(FLEET, &["analytics.rules.fever.conditions[0].value=39.8"]).unwrap();
        assert_only_line_changed(
            FLEET,
            &new,
            5,
            r#"conditions = [{ kind = "consecutive", value = 39.8 }]"#,
        );
        let new = set(FLEET, &["analytics.rules.fever.conditions.0.kind=rising"]).unwrap();
        assert_only_line_changed(
            FLEET,
            &new,
            5,
            r#"conditions = [{ kind = "rising", value = 39.6 }]"#,
        );
    }

    #[test]
    fn a_table_or_a_whole_entry_is_not_a_settable_key() {
        for key in ["network", "analytics.rules.fever", "network.outages[0]"] {
            let e = set(FLEET, &[&format!("{key}=1")]).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with(&format!("--set {key}: no such key")),
                "{e}"
            );
        }
    }

    #[test]
    fn an_unknown_key_suggests_the_keys_that_end_as_it_does() {
        let e = set(FLEET, &["outages.start_h=10"]).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "--set outages.start_h: no such key in this scenario; \
                 did you mean network.outages[0].start_h? valid keys: "
            ),
            "{e}"
        );
        let e = set(FLEET, &["network.goats=1"]).unwrap_err().to_string();
        assert!(!e.contains("did you mean"), "{e}");
    }

    #[test]
    fn without_defaults_a_key_the_file_omits_cannot_be_set() {
        let e = set(FLEET, &["analytics.rules.stuck.truth=stuck"]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--set analytics.rules.stuck.truth: no such key in this scenario"),
            "{e}"
        );
    }

    #[test]
    fn a_key_the_file_omits_is_inserted_in_place_of_the_blank_line_ending_its_table() {
        // network ends with a blank line: the new key takes its place.
        let new = set_with_defaults(FLEET, &["network.latency_ms=80"]).unwrap();
        assert_only_line_changed(FLEET, &new, 16, "latency_ms = 80");
        // The stuck rule ends with a comment, then a blank line: the comment moves down one
        // and no key moves.
        let new = set_with_defaults(FLEET, &["analytics.rules.stuck.truth=stuck"]).unwrap();
        let (old, new_lines): (Vec<&str>, Vec<&str>) =
            (FLEET.lines().collect(), new.lines().collect());
        assert_eq!(new_lines.len(), old.len(), "{new}");
        assert_eq!(new_lines[11], "truth = \"stuck\"");
        assert_eq!(new_lines[12], "# (end of the rules)");
        assert_eq!(old[..11], new_lines[..11]);
        assert_eq!(old[13..], new_lines[13..]);
        let f: Fleet = parse_with_defaults(
            &src(FLEET),
            &[Override::parse("analytics.rules.stuck.truth=stuck").unwrap()],
            &[],
            FLEET_DEFAULTS,
        )
        .unwrap();
        assert_eq!(f.analytics.rules[1].truth.as_deref(), Some("stuck"));
    }

    #[test]
    fn a_key_one_entry_has_is_valid_for_the_others_when_defaults_are_given() {
        // The defaults' rule has no `truth` here, but the file's fever rule does.
        let defaults = FLEET_DEFAULTS.replace("truth = \"\"\n", "");
        let sets = [Override::parse("analytics.rules[1].truth=stuck").unwrap()];
        let new = apply_overrides_with_defaults(&src(FLEET), &sets, &[], &defaults).unwrap();
        assert!(
            new.contains("cooldown_s = 86400\ntruth = \"stuck\"\n# (end"),
            "{new}"
        );
    }

    #[test]
    fn a_table_the_file_omits_is_appended_as_a_header_at_the_end() {
        let new = set_with_defaults(FLEET, &["faults.crash_ratio=0.1"]).unwrap();
        assert_eq!(new, format!("{FLEET}\n[faults]\ncrash_ratio = 0.1\n"));
        let f: Fleet = parse_with_defaults(
            &src(FLEET),
            &[Override::parse("faults.crash_ratio=0.1").unwrap()],
            &[],
            FLEET_DEFAULTS,
        )
        .unwrap();
        assert_eq!(f.faults.crash_ratio, 0.1);
        // A table the file has only as the parent of sub-table headers gets its own header.
        let defaults = "[analytics]\nwindow_s = 60\n[[analytics.rules]]\nname = \"\"\n";
        let sets = [Override::parse("analytics.window_s=120").unwrap()];
        let new = apply_overrides_with_defaults(&src(FLEET), &sets, &[], defaults).unwrap();
        assert_eq!(new, format!("{FLEET}\n[analytics]\nwindow_s = 120\n"));
        // Nested tables the file lacks: only the innermost has a header.
        let defaults = "[a.b]\nc = 1\n";
        let sets = [Override::parse("a.b.c=2").unwrap()];
        let new = apply_overrides_with_defaults(&src(FLEET), &sets, &[], defaults).unwrap();
        assert_eq!(new, format!("{FLEET}\n[a.b]\nc = 2\n"));
    }

    #[test]
    fn a_key_the_file_omits_in_an_inline_table_is_inserted_on_its_line() {
        let defaults = FLEET_DEFAULTS.replace(
            "{ kind = \"\", value = 0.0 }",
            "{ kind = \"\", value = 0.0, clear = 0.0 }",
        );
        let sets = [Override::parse("analytics.rules.fever.conditions[0].clear=39.2").unwrap()];
        let new = apply_overrides_with_defaults(&src(FLEET), &sets, &[], &defaults).unwrap();
        let line = new.lines().nth(4).unwrap();
        assert_eq!(new.lines().count(), FLEET.lines().count(), "{new}");
        assert_eq!(
            line,
            "conditions = [{ kind = \"consecutive\", value = 39.6, clear = 39.2 }]"
        );
    }

    #[test]
    fn overrides_apply_in_order_each_to_the_text_the_last_left() {
        let new = set_with_defaults(
            FLEET,
            &[
                "network.latency_ms=80",
                "faults.crash_ratio=0.1",
                "analytics.rules.fever.cooldown_s=60",
            ],
        )
        .unwrap();
        let lines: Vec<&str> = new.lines().collect();
        assert_eq!(lines[5], "cooldown_s = 60");
        assert_eq!(lines[15], "latency_ms = 80");
        assert_eq!(lines[16], "[[network.outages]]");
        assert!(new.ends_with("\n[faults]\ncrash_ratio = 0.1\n"), "{new}");
    }
}
