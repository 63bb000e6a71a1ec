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

use serde::de::DeserializeOwned;
use std::fmt;
use std::ops::Range;

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
    /// A `--set` path that cannot be followed in the file: no entry of that name, an index
    /// past the end of an array, a key under a value that is not a table.
    #[error("--set {key}: {message}")]
    BadOverridePath { key: String, message: String },
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

/// One step of a key path as written: a key, or a bracketed index. At an array a key names an
/// entry by its `name` string, or indexes it if it is all digits (`outages.0`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Splits `analytics.rules.fever.conditions[0].value` into its steps. serde_path_to_error's
/// paths (`analytics.rules[1].cooldown_s`) are of the same form.
fn parse_path(path: &str) -> Result<Vec<Seg>, String> {
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
enum Step {
    Key(String),
    Index(usize),
}

/// A read-only view of a TOML item that treats standard and inline tables alike, and arrays of
/// tables and inline arrays alike (their entries are nodes).
#[derive(Clone, Copy)]
enum Node<'a> {
    Table(&'a dyn toml_edit::TableLike, Option<(usize, usize)>),
    Tables(&'a toml_edit::ArrayOfTables),
    Array(&'a toml_edit::Array),
    Scalar(&'a toml_edit::Value),
}

impl<'a> Node<'a> {
    fn root(table: &'a toml_edit::Table) -> Node<'a> {
        Node::Table(table, None)
    }

    fn of_item(item: &'a toml_edit::Item) -> Option<Node<'a>> {
        match item {
            toml_edit::Item::None => None,
            toml_edit::Item::Table(t) => Some(Node::Table(t, t.span().map(|s| (s.start, s.end)))),
            toml_edit::Item::ArrayOfTables(a) => Some(Node::Tables(a)),
            toml_edit::Item::Value(v) => Some(Node::of_value(v)),
        }
    }

    fn of_value(value: &'a toml_edit::Value) -> Node<'a> {
        match value {
            toml_edit::Value::InlineTable(t) => Node::Table(t, t.span().map(|s| (s.start, s.end))),
            toml_edit::Value::Array(a) => Node::Array(a),
            _ => Node::Scalar(value),
        }
    }

    /// The entries of an array (of tables or inline), or `None` if this is not an array.
    fn entries(self) -> Option<Vec<Node<'a>>> {
        match self {
            Node::Tables(a) => Some(
                a.iter()
                    .map(|t| Node::Table(t, t.span().map(|s| (s.start, s.end))))
                    .collect(),
            ),
            Node::Array(a) => Some(a.iter().map(Node::of_value).collect()),
            Node::Table(..) | Node::Scalar(_) => None,
        }
    }

    fn child(self, key: &str) -> Option<Node<'a>> {
        match self {
            Node::Table(t, _) => t.get(key).and_then(Node::of_item),
            _ => None,
        }
    }

    fn span(self) -> Option<Range<usize>> {
        match self {
            Node::Table(_, span) => span.map(|(start, end)| start..end),
            Node::Tables(a) => a.span(),
            Node::Array(a) => a.span(),
            Node::Scalar(v) => v.span(),
        }
    }

    fn is_table(self) -> bool {
        matches!(self, Node::Table(..))
    }

    /// An array entry's `name` string, if it has one.
    fn name(self) -> Option<&'a str> {
        match self.child("name")? {
            Node::Scalar(v) => v.as_str(),
            _ => None,
        }
    }
}

/// How each entry of an array is addressed in a key list: `.name` where the entry has a `name`
/// that is a bare word (not all digits) no other entry shares, `[i]` otherwise.
fn entry_labels(entries: &[Node]) -> Vec<String> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| match e.name() {
            Some(n)
                if is_bare_name(n)
                    && entries.iter().filter(|o| o.name() == Some(n)).count() == 1 =>
            {
                format!(".{n}")
            }
            _ => format!("[{i}]"),
        })
        .collect()
}

fn is_bare_name(name: &str) -> bool {
    !name.is_empty()
        && !name.bytes().all(|b| b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Why a path step names no entry of an array.
enum EntryMiss {
    NoName(String),
    Ambiguous(String, Vec<usize>),
    OutOfRange(usize),
}

/// The index of the entry a step names: `[i]`, `.i` or `.name`.
fn entry_index(entries: &[Node], seg: &Seg) -> Result<usize, EntryMiss> {
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
    } else {
        key.strip_suffix('s').unwrap_or(key).to_string()
    }
}

/// What a path leads to in a document.
#[derive(Debug, PartialEq, Eq)]
enum Found {
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
fn resolve(root: Node, segs: &[Seg]) -> Result<(Vec<Step>, Found), String> {
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
fn has_leaf(node: Node, steps: &[Step]) -> bool {
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

/// The keys `--set` accepts with [`apply_overrides_with_defaults`]: the file's own
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

fn settable(
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

    // A file with named array entries, an unnamed one, inline tables inside an array, and a
    // blank line or a comment at the end of each table.
    const FLEET: &str = r#"# Two rules and an outage.
[[analytics.rules]]
name = "fever"
truth = "fever"
conditions = [{ kind = "consecutive", value = 39.6 }]
cooldown_s = 86400

[[analytics.rules]]
name = "stuck"
# A day's cool-down.
cooldown_s = 86400
# (end of the rules)

[network]
loss_ratio = 0.01

[[network.outages]]
start_h = 9.5
duration_min = 40.0
"#;

    // What a caller generates from its typed config: every settable key with its default.
    const FLEET_DEFAULTS: &str = r#"
[[analytics.rules]]
name = ""
truth = ""
conditions = [{ kind = "", value = 0.0 }]
cooldown_s = 0

[network]
loss_ratio = 0.0
latency_ms = 0.0

[[network.outages]]
start_h = 0.0
duration_min = 0.0

[faults]
crash_ratio = 0.0
"#;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Fleet {
        analytics: Analytics,
        network: Network,
        #[serde(default)]
        faults: Faults,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Analytics {
        rules: Vec<Rule>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Rule {
        name: String,
        truth: Option<String>,
        #[serde(default)]
        conditions: Vec<Condition>,
        cooldown_s: u32,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Condition {
        kind: String,
        value: f64,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Network {
        loss_ratio: f64,
        #[serde(default)]
        latency_ms: f64,
        outages: Vec<Outage>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Outage {
        start_h: f64,
        duration_min: f64,
    }

    #[derive(Deserialize, Debug, Default)]
    #[serde(deny_unknown_fields)]
    struct Faults {
        crash_ratio: f64,
    }

    impl Validate for Fleet {
        fn validate(&self) -> Result<(), FieldError> {
            for (i, r) in self.analytics.rules.iter().enumerate() {
                if r.cooldown_s < 60 {
                    return Err(FieldError::new(
                        format!("analytics.rules[{i}].cooldown_s"),
                        format!("{}: expected at least 60 s", r.cooldown_s),
                    ));
                }
            }
            Ok(())
        }
    }

    fn set(text: &str, sets: &[&str]) -> Result<String, LoadError> {
        let sets: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
        apply_overrides(&src(text), &sets, &[])
    }

    fn set_with_defaults(text: &str, sets: &[&str]) -> Result<String, LoadError> {
        let sets: Vec<Override> = sets.iter().map(|s| Override::parse(s).unwrap()).collect();
        apply_overrides_with_defaults(&src(text), &sets, &[], FLEET_DEFAULTS)
    }

    /// Asserts that `new` is `old` with only line `line` (from 1) changed, to `to`.
    fn assert_only_line_changed(old: &str, new: &str, line: usize, to: &str) {
        let (old, new): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
        assert_eq!(
            old.len(),
            new.len(),
            "line count changed:\n{}",
            new.join("\n")
        );
        for (i, (o, n)) in old.iter().zip(&new).enumerate() {
            if i + 1 == line {
                assert_eq!(*n, to, "line {line}");
            } else {
                assert_eq!(o, n, "line {} moved or changed", i + 1);
            }
        }
    }

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
