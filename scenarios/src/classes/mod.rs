//! The device classes fleetsim bundles, registered by [`register`].

pub mod collar;
pub mod doors;
pub mod edge;
pub mod tank;
pub mod thermostat;
pub mod tracked;

use crate::registry::Registry;

/// Adds the bundled classes to `registry`.
pub fn register(registry: &mut Registry) {
    registry.add_class(collar::kind());
    registry.add_class(edge::kind());
    registry.add_class(doors::kind());
    registry.add_class(tank::kind());
    registry.add_class(thermostat::kind());
    registry.add_class(tracked::forklift_kind());
    registry.add_class(tracked::visitor_kind());
}
