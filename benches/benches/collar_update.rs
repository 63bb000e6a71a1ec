//! Collar update benchmark (issue: hardware models).
fn main() {}
