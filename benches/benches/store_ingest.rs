//! Store ingest + rule evaluation benchmark (issue: time-series store and analytics).
fn main() {}
