//! Key paths: parsing `analytics.rules.fever.conditions[0].value` into steps, and resolving
//! them against a document (entry names and digits to indices), with the error messages for a
//! step that cannot be taken.

use super::node::{entry_labels, Node};

/// One step of a key path as written: a key, or a bracketed index. At an array a key names an
/// entry by its `name` string, or indexes it if it is all digits (`outages.0`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Seg {
    Key(String),
    Index(usize),
}

/// Splits `analytics.rules.fever.conditions[0].value` into its steps. serde_path_to_error's
/// paths (`analytics.rules[1].cooldown_s`) are of the same form.
pub(super) fn parse_path(path: &str) -> Result<Vec<Seg>, String> {
    let mut segs = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if key.is_empty() {
            return Err(format!(
                "empty key in `{path}`: expected keys separated by single dots, with optional [index] after a key"
            ));
        }
        segs.push(Seg::Key(key.to_string()));
        while !rest.is_empty() {
            let index = rest
                .strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .and_then(|(i, r)| Some((i.parse::<usize>().ok()?, r)));
            let Some((index, after)) = index else {
                return Err(format!(
                    "`{rest}` in `{path}`: expected an index such as [0] after a key"
                ));
            };
            segs.push(Seg::Index(index));
            rest = after;
        }
    }
    Ok(segs)
}

/// One step of a path resolved against a document: a key, or an entry's index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Key(String),
    Index(usize),
}

/// Why a path step names no entry of an array.
pub(super) enum EntryMiss {
    NoName(String),
    Ambiguous(String, Vec<usize>),
    OutOfRange(usize),
}

/// The index of the entry a step names: `[i]`, `.i` or `.name`.
pub(super) fn entry_index(entries: &[Node], seg: &Seg) -> Result<usize, EntryMiss> {
    let index = match seg {
        Seg::Index(i) => *i,
        Seg::Key(k) if k.bytes().all(|b| b.is_ascii_digit()) => {
            k.parse().map_err(|_| EntryMiss::OutOfRange(usize::MAX))?
        }
        Seg::Key(name) => {
            let named: Vec<usize> = (0..entries.len())
                .filter(|&i| entries[i].name() == Some(name.as_str()))
                .collect();
            match named[..] {
                [i] => i,
                [] => return Err(EntryMiss::NoName(name.clone())),
                _ => return Err(EntryMiss::Ambiguous(name.clone(), named)),
            }
        }
    };
    if index < entries.len() {
        Ok(index)
    } else {
        Err(EntryMiss::OutOfRange(index))
    }
}

/// `rules` → `rule`, for "no rule entry named …".
fn singular(key: &str) -> String {
    if let Some(stem) = key.strip_suffix("ies") {
        format!("{stem}y")
    } else if key.ends_with("ss") {
        key.to_string()
    } else if let Some(stem) = ["sses", "ches", "shes", "xes"]
        .iter()
        .find_map(|end| key.strip_suffix(end).map(|s| (s, end)))
    {
        // classes → class, switches → switch, boxes → box.
        format!("{}{}", stem.0, &stem.1[..stem.1.len() - 2])
    } else {
        key.strip_suffix('s').unwrap_or(key).to_string()
    }
}

/// What a path leads to in a document.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Found {
    /// A value or an array: it can be set.
    Leaf,
    /// A table or an array entry: set one of its keys instead.
    Table,
    /// Not in the document: a key it omits, perhaps under tables it omits too.
    Missing,
}

/// Resolves a path against a document: names and digits become indices, and a step that
/// cannot be taken (no entry of that name, an index past the end, a key under a value that is
/// not a table) is an error saying so. Keys the document lacks are `Found::Missing`.
pub(super) fn resolve(root: Node, segs: &[Seg]) -> Result<(Vec<Step>, Found), String> {
    let mut cur = Some(root);
    let mut steps = Vec::new();
    // The path so far, as it reads in a key list.
    let mut shown = String::new();
    let mut last_key = "";
    for seg in segs {
        match (cur, seg) {
            (None | Some(Node::Table(..)), Seg::Key(k)) => {
                cur = cur.and_then(|n| n.child(k));
                if !shown.is_empty() {
                    shown.push('.');
                }
                shown.push_str(k);
                last_key = k;
                steps.push(Step::Key(k.clone()));
            }
            (None, Seg::Index(i)) => {
                return Err(format!(
                    "{shown} is not in this file, so it has no entry [{i}]"
                ))
            }
            (Some(Node::Table(..)), Seg::Index(i)) => {
                return Err(format!(
                    "{shown} is a table, not an array, so it has no entry [{i}]"
                ))
            }
            (Some(node @ (Node::Tables(_) | Node::Array(_))), _) => {
                let entries = node.entries().unwrap_or_default();
                let i = entry_index(&entries, seg).map_err(|miss| match miss {
                    EntryMiss::NoName(name) => {
                        let labels = entry_labels(&entries);
                        let names: Vec<&str> =
                            labels.iter().map(|l| l.trim_start_matches('.')).collect();
                        format!(
                            "no {} entry named {name:?} in {shown}; entries: {}",
                            singular(last_key),
                            if names.is_empty() {
                                "none".to_string()
                            } else {
                                names.join(", ")
                            }
                        )
                    }
                    EntryMiss::Ambiguous(name, at) => format!(
                        "entries {} of {shown} are all named {name:?}; use an index such as {shown}[{}]",
                        at.iter().map(|i| format!("[{i}]")).collect::<Vec<_>>().join(", "),
                        at[0]
                    ),
                    EntryMiss::OutOfRange(i) => match entries.len() {
                        0 => format!("no entry [{i}] in {shown}, which has no entries"),
                        1 => format!("no entry [{i}] in {shown}, which has 1 entry ([0])"),
                        n => format!(
                            "no entry [{i}] in {shown}, which has {n} entries ([0] to [{}])",
                            n - 1
                        ),
                    },
                })?;
                match seg {
                    Seg::Key(k) if !k.bytes().all(|b| b.is_ascii_digit()) => {
                        shown.push('.');
                        shown.push_str(k);
                    }
                    _ => shown.push_str(&format!("[{i}]")),
                }
                steps.push(Step::Index(i));
                cur = Some(entries[i]);
            }
            (Some(Node::Scalar(v)), _) => {
                let mut v = v.clone();
                v.decor_mut().clear();
                let kind = v.type_name();
                let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                };
                let what = match seg {
                    Seg::Key(k) => format!("key `{k}`"),
                    Seg::Index(i) => format!("entry [{i}]"),
                };
                return Err(format!(
                    "{shown} is {article} {kind} ({v}), not a table, so it has no {what}"
                ));
            }
        }
    }
    let found = match cur {
        None => Found::Missing,
        Some(Node::Table(..)) => Found::Table,
        Some(_) => Found::Leaf,
    };
    Ok((steps, found))
}

/// Whether a resolved path leads to a value or an array in a document, taking an index to
/// mean any entry of that array (so a document's entries are templates for each other's).
pub(super) fn has_leaf(node: Node, steps: &[Step]) -> bool {
    let Some((step, rest)) = steps.split_first() else {
        return !node.is_table();
    };
    match (step, node) {
        (Step::Key(k), Node::Table(..)) => node.child(k).is_some_and(|n| has_leaf(n, rest)),
        (Step::Index(_), Node::Tables(_) | Node::Array(_)) => node
            .entries()
            .unwrap_or_default()
            .into_iter()
            .any(|e| has_leaf(e, rest)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::load::test_fixtures::*;

    #[test]
    fn an_entry_name_that_matches_no_entry_lists_the_names_there_are() {
        let e = set(FLEET, &["analytics.rules.fevr.cooldown_s=3600"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"--set analytics.rules.fevr.cooldown_s: no rule entry named "fevr" in analytics.rules; entries: fever, stuck"#
        );
        let e = set(FLEET, &["network.outages.tower.start_h=1"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"--set network.outages.tower.start_h: no outage entry named "tower" in network.outages; entries: [0]"#
        );
    }

    #[test]
    fn an_index_past_the_end_says_how_many_entries_there_are() {
        let e = set(FLEET, &["network.outages[1].start_h=1"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--set network.outages[1].start_h: no entry [1] in network.outages, which has 1 entry ([0])"
        );
        let e = set(FLEET, &["analytics.rules.fever.conditions.3.value=1"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--set analytics.rules.fever.conditions.3.value: no entry [3] in analytics.rules.fever.conditions, which has 1 entry ([0])"
        );
        let e = set(FLEET, &["analytics.rules[5].cooldown_s=1"]).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("no entry [5] in analytics.rules, which has 2 entries ([0] to [1])"),
            "{e}"
        );
    }

    #[test]
    fn a_key_under_a_value_that_is_not_a_table_is_refused_naming_the_value() {
        let e = set(FLEET, &["network.loss_ratio.max=1"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--set network.loss_ratio.max: network.loss_ratio is a float (0.01), not a table, so it has no key `max`"
        );
        let e = set(FLEET, &["network[0].loss_ratio=1"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--set network[0].loss_ratio: network is a table, not an array, so it has no entry [0]"
        );
        let e = set(FLEET, &["network..loss_ratio=1"]).unwrap_err();
        assert!(e.to_string().contains("empty key"), "{e}");
    }
}
