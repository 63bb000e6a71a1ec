//! The device classes fleetsim bundles.

pub mod collar;
