//! The device classes fleetsim bundles, registered by [`register`].

pub mod collar;

use crate::registry::Registry;

/// Adds the bundled classes to `registry`.
pub fn register(registry: &mut Registry) {
    registry.add_class(collar::kind());
}
