//! # hub: the simulated Azure IoT Hub
//!
//! A sans-IO model of IoT Hub with the real service's limits (reference §1 of
//! `shared/reference/azure-iot-facts.md`):
//!
//! - **Registry and auth** (§1.4, §1.5): device identities with enabled/disabled state and a
//!   generation id; CONNECT is checked for the username form, a registered and enabled
//!   device, and a SAS token over `{host}/devices/{id}` that verifies (HMAC-SHA256) and has
//!   not expired. Refusals are counted by reason. One connection per device: a new one drops
//!   the old with 400027. A device publishing on another device's topic is disconnected and
//!   counted. An expired token disconnects the device (checked at each sweep).
//! - **Tiers, quota, throttles** (§1.1, §1.2): see [`tier`]. D2C messages are metered in
//!   4 KB chunks (0.5 KB on F1) against the daily quota; over it, 403002 until the next UTC
//!   day. Throttled operations are shaped (burst, then queued with growing latency, then 429).
//!   Over MQTT a device cannot receive an error status for a publish, so a 429 or 403002 on
//!   D2C closes the connection with that reason (a `Disconnect` output), and a queued publish
//!   gets its PUBACK late.
//! - **Limits** (§1.3): 256 KB D2C, 64 KB C2D, 128 KB methods, twin sizes and depth (§1.9),
//!   50 pending C2D per device, 5 subscriptions, 1,000,000 devices.
//! - **Routing** (§1.10): routes with conditions (see [`route`]) to the built-in endpoint
//!   (partitioned by device id) and custom endpoints, the fallback route, enrichments, and
//!   partitioned consumers with checkpoints (see [`endpoint`]).
//! - **C2D** (§1.8) with TTL, delivery count, lock timeout and feedback; **direct methods**
//!   (§1.7) with connect and response timeouts (404103, 504101); **twins** (§1.9) with
//!   versions, `null` deletes, desired patches sent only to connected devices.
//!
//! **Call order.** The world feeds device packets with [`Hub::handle_packet`] (compact
//! [`iot_messages::Msg`] or its decoded form, both give the same outcome), transport loss
//! with [`Hub::handle_connection_lost`], back-end calls with `send_c2d`, `invoke_method`,
//! `update_desired`; then drains [`Hub::poll_output`] (each output carries the instant it
//! takes effect, later than now when a throttle queued it) and arms [`Hub::poll_timeout`],
//! calling [`Hub::handle_timeout`] then. Back ends read endpoints through
//! [`endpoint::Consumer`].
//!
//! **Fault model.** The hub itself does not fail; network faults arrive as lost packets and
//! lost connections. **Invariants:** every accepted D2C message is acknowledged and written
//! to at least one endpoint or counted as unrouted; the quota counter never exceeds the
//! daily limit; a device has at most one connection.
//!
//! **Left out:** AMQP/HTTPS, modules, X.509, jobs, queries, file upload, IP filters,
//! Event Grid, twin change notifications as routed messages.

pub mod config;
pub mod endpoint;
mod hub;
pub mod route;
pub mod tier;
pub mod twin;

pub use config::{
    C2dConfig, ConfigError, EndpointConfig, EnrichmentConfig, HubConfig, RouteConfig,
};
pub use endpoint::{Consumer, Endpoint, EndpointMessage, Payload};
pub use hub::{
    Ack, C2dRequest, ConnId, DeviceInfo, DeviceIx, FeedbackRecord, FeedbackStatus, Hub,
    HubCounters, HubError, HubOutput, MethodCallId, MethodRequest, C2D_BYTES_MAX, C2D_PENDING_MAX,
    D2C_BYTES_MAX, KEEPALIVE_TIMEOUT_MAX, METHOD_BYTES_MAX, SUBSCRIPTIONS_MAX,
};
pub use tier::{Admit, OpClass, Shaper, Shaping, Tier};
pub use twin::{Twin, TwinError};
