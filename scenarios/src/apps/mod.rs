//! The back-end apps fleetsim bundles, registered by [`register`].

pub mod doors;
pub mod facility_ops;
pub mod portal;

use crate::registry::Registry;

/// Adds the bundled apps to `registry`.
pub fn register(registry: &mut Registry) {
    registry.add_app(doors::kind());
    registry.add_app(facility_ops::kind());
    registry.add_app(portal::kind());
}
