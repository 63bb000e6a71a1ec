//! Hub ingest fast-path benchmark (issue: simulated Azure IoT cloud).
fn main() {}
