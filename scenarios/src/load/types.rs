//! The loader's inputs and errors: a scenario's [`Source`] text, a `--set` [`Override`], a
//! [`Location`] in a file, [`LoadError`], and the [`FieldError`] a scenario's [`Validate`]
//! reports.

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
    /// `field` is empty for a syntax error, which has no field yet.
    #[error("{at}: {}{message}", field_prefix(.field))]
    Invalid {
        at: Location,
        field: String,
        message: String,
    },
    #[error("--set {arg}: expected key=value")]
    BadOverride { arg: String },
    /// `hint` is empty or `did you mean …? ` (keys that end as `key` does).
    #[error("--set {key}: no such key in this scenario; {hint}valid keys: {valid}")]
    UnknownKey {
        key: String,
        hint: String,
        valid: String,
    },
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

fn field_prefix(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!("`{field}`: ")
    }
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
