//! Listing the keys `--set` accepts: a document's own ([`leaf_keys`]), and with a defaults
//! document's ([`settable_keys`]), sorted with numbers in numeric order.

use super::node::{entry_labels, Node};

/// Every settable key path in a TOML document, sorted: dotted keys, an array (of tables, or
/// inline) as one key, and the keys inside its table entries as `array.name.key` where the
/// entry has a unique bare `name` and `array[i].key` otherwise (e.g.
/// `analytics.rules.fever.conditions[0].value`).
pub fn leaf_keys(text: &str) -> Vec<String> {
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    collect_leaves(Node::root(doc.as_table()), "", &mut out);
    sort_keys(&mut out);
    out
}

/// The keys `--set` accepts with
/// [`apply_overrides_with_defaults`](super::apply_overrides_with_defaults): the file's own
/// ([`leaf_keys`]) and the defaults document's, the keys of its array entries listed for each
/// entry the file has. Sorted (numbers in numeric order), without repeats.
pub fn settable_keys(text: &str, defaults: &str) -> Vec<String> {
    let (Ok(doc), Ok(defaults)) = (
        text.parse::<toml_edit::DocumentMut>(),
        defaults.parse::<toml_edit::DocumentMut>(),
    ) else {
        return leaf_keys(text);
    };
    settable(&doc, Some(&defaults))
}

pub(super) fn settable(
    doc: &toml_edit::DocumentMut,
    defaults: Option<&toml_edit::DocumentMut>,
) -> Vec<String> {
    let mut out = Vec::new();
    collect_leaves(Node::root(doc.as_table()), "", &mut out);
    if let Some(defaults) = defaults {
        collect_template_leaves(
            Node::root(defaults.as_table()),
            Some(Node::root(doc.as_table())),
            "",
            &mut out,
        );
    }
    sort_keys(&mut out);
    out.dedup();
    out
}

fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn collect_leaves(node: Node, path: &str, out: &mut Vec<String>) {
    match node {
        Node::Table(t, _) => {
            for (k, item) in t.iter() {
                if let Some(n) = Node::of_item(item) {
                    collect_leaves(n, &join_key(path, k), out);
                }
            }
        }
        Node::Tables(_) | Node::Array(_) => {
            out.push(path.to_string());
            let entries = node.entries().unwrap_or_default();
            for (e, label) in entries.iter().zip(entry_labels(&entries)) {
                if e.is_table() {
                    collect_leaves(*e, &format!("{path}{label}"), out);
                }
            }
        }
        Node::Scalar(_) => out.push(path.to_string()),
    }
}

/// The defaults document's keys, with each of its array's table entries taken as a template
/// for every entry the file has in that array.
fn collect_template_leaves(defaults: Node, file: Option<Node>, path: &str, out: &mut Vec<String>) {
    match defaults {
        Node::Table(t, _) => {
            for (k, item) in t.iter() {
                if let Some(n) = Node::of_item(item) {
                    let f = file.and_then(|f| f.child(k));
                    collect_template_leaves(n, f, &join_key(path, k), out);
                }
            }
        }
        Node::Tables(_) | Node::Array(_) => {
            out.push(path.to_string());
            let templates: Vec<Node> = defaults
                .entries()
                .unwrap_or_default()
                .into_iter()
                .filter(|t| t.is_table())
                .collect();
            let entries = file.and_then(Node::entries).unwrap_or_default();
            for (e, label) in entries.iter().zip(entry_labels(&entries)) {
                if e.is_table() {
                    for t in &templates {
                        collect_template_leaves(*t, Some(*e), &format!("{path}{label}"), out);
                    }
                }
            }
        }
        Node::Scalar(_) => out.push(path.to_string()),
    }
}

/// Sorts key paths with runs of digits compared as numbers, so `[2]` comes before `[10]`.
fn sort_keys(keys: &mut [String]) {
    keys.sort_by(|a, b| natural_cmp(a, b));
}

fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let na = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let nb = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let strip = |d: &[u8]| -> Vec<u8> {
                    d.iter().copied().skip_while(|&c| c == b'0').collect()
                };
                let (da, db) = (strip(&a[..na]), strip(&b[..nb]));
                let by_value = da.len().cmp(&db.len()).then_with(|| da.cmp(&db));
                if by_value.is_ne() {
                    return by_value;
                }
                (a, b) = (&a[na..], &b[nb..]);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::test_fixtures::*;
    use crate::load::{apply_overrides_with_defaults, Override};

    #[test]
    fn leaf_keys_lists_entries_by_name_and_unnamed_or_shared_names_by_index() {
        assert_eq!(
            leaf_keys(FLEET),
            [
                "analytics.rules",
                "analytics.rules.fever.conditions",
                "analytics.rules.fever.conditions[0].kind",
                "analytics.rules.fever.conditions[0].value",
                "analytics.rules.fever.cooldown_s",
                "analytics.rules.fever.name",
                "analytics.rules.fever.truth",
                "analytics.rules.stuck.cooldown_s",
                "analytics.rules.stuck.name",
                "network.loss_ratio",
                "network.outages",
                "network.outages[0].duration_min",
                "network.outages[0].start_h",
            ]
        );
        let shared =
            "[[r]]\nname = \"a\"\nx = 1\n[[r]]\nname = \"a\"\nx = 2\n[[r]]\nname = \"2\"\n";
        assert_eq!(
            leaf_keys(shared),
            [
                "r",
                "r[0].name",
                "r[0].x",
                "r[1].name",
                "r[1].x",
                "r[2].name"
            ]
        );
        let many: String = (0..11).map(|i| format!("[[r]]\nx = {i}\n")).collect();
        let keys = leaf_keys(&many);
        assert_eq!(keys[1..4], ["r[0].x", "r[1].x", "r[2].x"], "{keys:?}");
        assert_eq!(keys[10..], ["r[9].x", "r[10].x"], "{keys:?}");
    }

    #[test]
    fn an_unknown_key_with_defaults_lists_the_files_and_the_defaults_keys_once_each() {
        let sets = [Override::parse("network.latency=1").unwrap()];
        let e = apply_overrides_with_defaults(
            &src(FLEET),
            &sets,
            &[("loss", "network.loss_ratio")],
            FLEET_DEFAULTS,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--set network.latency: no such key in this scenario; valid keys: \
             loss (= network.loss_ratio), \
             analytics.rules, \
             analytics.rules.fever.conditions, \
             analytics.rules.fever.conditions[0].kind, \
             analytics.rules.fever.conditions[0].value, \
             analytics.rules.fever.cooldown_s, \
             analytics.rules.fever.name, \
             analytics.rules.fever.truth, \
             analytics.rules.stuck.conditions, \
             analytics.rules.stuck.cooldown_s, \
             analytics.rules.stuck.name, \
             analytics.rules.stuck.truth, \
             faults.crash_ratio, \
             network.latency_ms, \
             network.loss_ratio, \
             network.outages, \
             network.outages[0].duration_min, \
             network.outages[0].start_h"
        );
        assert_eq!(
            settable_keys(FLEET, FLEET_DEFAULTS).len(),
            17,
            "{:?}",
            settable_keys(FLEET, FLEET_DEFAULTS)
        );
    }
}
