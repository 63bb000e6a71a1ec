//! Locating a dotted path in a document for an error message: byte offset to line and column,
//! and a path (`analytics.rules[1].cooldown_s`, `analytics.rules.stuck.cooldown_s`) to the span
//! of its value.

use super::node::Node;
use super::path::{entry_index, parse_path, Seg};
use super::types::{Location, Source};
use std::ops::Range;

/// Line and column (both from 1) of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(at, |nl| at - nl - 1) + 1;
    (line, column)
}

/// The byte span of the value at a path such as `analytics.rules[1].cooldown_s` or
/// `analytics.rules.fever.conditions[0].value` (the nearest enclosing span if the exact value
/// has none, e.g. a key the file omits).
fn span_of(text: &str, path: &str) -> Option<Range<usize>> {
    let doc = toml_edit::Document::parse(text).ok()?;
    let segs = parse_path(path).ok()?;
    span_at(Node::root(doc.as_table()), &segs)
}

fn span_at(node: Node, segs: &[Seg]) -> Option<Range<usize>> {
    let Some((seg, rest)) = segs.split_first() else {
        return node.span();
    };
    let next = match (node, seg) {
        (Node::Table(..), Seg::Key(k)) => node.child(k),
        (Node::Tables(_) | Node::Array(_), _) => {
            let entries = node.entries().unwrap_or_default();
            entry_index(&entries, seg)
                .ok()
                .or_else(|| match seg {
                    // Locating an error in a file with two entries of one name: the first.
                    Seg::Key(name) => entries.iter().position(|e| e.name() == Some(name)),
                    Seg::Index(_) => None,
                })
                .map(|i| entries[i])
        }
        _ => None,
    };
    next.and_then(|n| span_at(n, rest)).or_else(|| node.span())
}

/// Locates a dotted path for an error message (line 1, column 1 if it is not in the file,
/// e.g. a default value). Array entries may be given by index (`outages[0]`, `outages.0`, as
/// serde_path_to_error writes them) or by name (`rules.fever`).
pub fn locate(src: &Source, path: &str) -> Location {
    let (line, column) = span_of(&src.text, path).map_or((1, 1), |s| line_col(&src.text, s.start));
    Location {
        origin: src.origin.clone(),
        line,
        column,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::test_fixtures::*;

    #[test]
    fn line_and_column_count_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn locate_finds_array_entries_by_name_by_index_and_in_serde_path_form() {
        let at = |path: &str| {
            let l = locate(&src(FLEET), path);
            (l.line, l.column)
        };
        assert_eq!(at("analytics.rules[1].cooldown_s"), (11, 14));
        assert_eq!(at("analytics.rules.stuck.cooldown_s"), (11, 14));
        assert_eq!(at("analytics.rules.1.cooldown_s"), (11, 14));
        let column_of = |line: usize, needle: &str| {
            FLEET.lines().nth(line - 1).unwrap().find(needle).unwrap() + 1
        };
        assert_eq!(
            at("analytics.rules[0].conditions[0].value"),
            (5, column_of(5, "39.6"))
        );
        assert_eq!(
            at("analytics.rules.fever.conditions[0].kind"),
            (5, column_of(5, "\"consecutive"))
        );
        assert_eq!(at("network.outages[0].duration_min"), (19, 16));
        // A key the entry omits is located at the entry's header.
        assert_eq!(at("analytics.rules[1].truth").0, 8);
        assert_eq!(at("nowhere.at_all"), (1, 1));
    }
}
