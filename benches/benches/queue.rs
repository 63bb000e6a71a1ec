//! Kernel event-queue benchmark (filled in with the queue).
fn main() {}
