//! Helpers the solution tests share: a summary's figures and failed invariants.

use scenarios::summary::Summary;

/// Figure `name` of class or app `of`; panics, listing the figures, if there is none.
pub fn figure(s: &Summary, of: &str, name: &str) -> f64 {
    s.figures
        .iter()
        .find(|f| f.of == of && f.name == name)
        .unwrap_or_else(|| panic!("no figure {of}.{name} in {:?}", s.figures))
        .value
}

/// The names of the invariants that failed.
pub fn failed(s: &Summary) -> Vec<&str> {
    s.invariants
        .iter()
        .filter(|i| !i.passed)
        .map(|i| i.name.as_str())
        .collect()
}
