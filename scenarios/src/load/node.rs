//! [`Node`], a read-only view of a `toml_edit` document that treats standard and inline tables
//! alike, and arrays of tables and inline arrays alike, and how a key list labels an array's
//! entries (`.name` or `[i]`).

use std::ops::Range;

/// A read-only view of a TOML item that treats standard and inline tables alike, and arrays of
/// tables and inline arrays alike (their entries are nodes).
#[derive(Clone, Copy)]
pub(super) enum Node<'a> {
    Table(&'a dyn toml_edit::TableLike, Option<(usize, usize)>),
    Tables(&'a toml_edit::ArrayOfTables),
    Array(&'a toml_edit::Array),
    Scalar(&'a toml_edit::Value),
}

impl<'a> Node<'a> {
    pub(super) fn root(table: &'a toml_edit::Table) -> Node<'a> {
        Node::Table(table, None)
    }

    pub(super) fn of_item(item: &'a toml_edit::Item) -> Option<Node<'a>> {
        match item {
            toml_edit::Item::None => None,
            toml_edit::Item::Table(t) => Some(Node::Table(t, t.span().map(|s| (s.start, s.end)))),
            toml_edit::Item::ArrayOfTables(a) => Some(Node::Tables(a)),
            toml_edit::Item::Value(v) => Some(Node::of_value(v)),
        }
    }

    pub(super) fn of_value(value: &'a toml_edit::Value) -> Node<'a> {
        match value {
            toml_edit::Value::InlineTable(t) => Node::Table(t, t.span().map(|s| (s.start, s.end))),
            toml_edit::Value::Array(a) => Node::Array(a),
            _ => Node::Scalar(value),
        }
    }

    /// The entries of an array (of tables or inline), or `None` if this is not an array.
    pub(super) fn entries(self) -> Option<Vec<Node<'a>>> {
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

    pub(super) fn child(self, key: &str) -> Option<Node<'a>> {
        match self {
            Node::Table(t, _) => t.get(key).and_then(Node::of_item),
            _ => None,
        }
    }

    pub(super) fn span(self) -> Option<Range<usize>> {
        match self {
            Node::Table(_, span) => span.map(|(start, end)| start..end),
            Node::Tables(a) => a.span(),
            Node::Array(a) => a.span(),
            Node::Scalar(v) => v.span(),
        }
    }

    pub(super) fn is_table(self) -> bool {
        matches!(self, Node::Table(..))
    }

    /// An array entry's `name` string, if it has one.
    pub(super) fn name(self) -> Option<&'a str> {
        match self.child("name")? {
            Node::Scalar(v) => v.as_str(),
            _ => None,
        }
    }
}

/// How each entry of an array is addressed in a key list: `.name` where the entry has a `name`
/// that is a bare word (not all digits) no other entry shares, `[i]` otherwise.
pub(super) fn entry_labels(entries: &[Node]) -> Vec<String> {
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
