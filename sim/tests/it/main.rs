//! sim integration tests.
