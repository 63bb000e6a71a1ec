//! # firmware: device firmware as a sans-IO state machine
//!
//! One [`Device`] per simulated device, driven by the world through `handle_*` verbs with an
//! explicit `now`; its next wake-up is [`Device::poll_timeout`]. What it sends is pushed into
//! the caller's [`Ctx::out`] (a queue shared across devices, so per-device state stays small);
//! configuration is shared by reference ([`FirmwareConfig`]), and the scenario's behaviour
//! (the sampled values from its hardware models, desired-property handling, direct methods
//! and C2D) comes through the [`DeviceLogic`] trait, one object for the whole fleet.
//!
//! **Lifecycle** (reference §2.1, §1.5, §1.6, §1.9): power on → if flash holds no
//! assignment, provision through DPS (CONNECT with a `registration` SAS token signed with the
//! device key, subscribe `$dps/registrations/res/#`, register, poll the operation after each
//! `retry-after` until assigned; the assignment is written to flash) → CONNECT to the
//! assigned hub with a SAS token (HMAC-SHA256) → subscribe (at most 5 filters, §1.3) → twin
//! GET → run. The token is renewed before it expires by reconnecting with a fresh one (what
//! the SDKs do over MQTT).
//!
//! **Running:** a telemetry sample every interval plus a uniform jitter (unless
//! [`FirmwareConfig::periodic`] is off, for classes that only publish on events), QoS 1 publishes with
//! at most `inflight_max` unacknowledged, a bounded store-and-forward buffer with an explicit
//! overflow policy (drop oldest or drop newest, each drop recorded with its reason),
//! PINGREQ when nothing was sent for a keep-alive period (the hub closes after 1.5×, §1.6),
//! desired-property patches applied in `$version` order (stale versions after the reconnect
//! GET are ignored; a gap triggers a fresh GET), direct methods and C2D handed to
//! [`DeviceLogic`], PUBACK for every C2D message (MQTT devices cannot reject, §1.8).
//!
//! **The scenario's own actions.** Between the device's verbs the world may act for its
//! logic: [`Device::publish`] an event-driven reading in any schema of the config (accounted
//! and buffered as a sample), [`Device::reply_method`] to answer a method that
//! [`DeviceLogic::on_method`] deferred with [`MethodReply::Later`] (only on the connection the
//! request came on, named by its [`MethodRid`]), and [`Device::report`] a reported-properties
//! patch while connected. Each returns whether it took effect.
//!
//! **Failures:** a disconnect, a refused CONNECT, a 429 or 403002 close, a request or PUBACK
//! timeout all lead to a reconnect after exponential backoff with full jitter
//! (`uniform(0, min(max, base·2^attempt))`); three refused hub CONNECTs in a row clear the
//! flash assignment and send the device back to DPS (a device deleted or moved by
//! reprovisioning). A DPS 429 waits at least its `retry-after`.
//!
//! **Reboot** ([`Device::crash`]): RAM is lost (buffered, unacknowledged messages are
//! recorded as dropped with reason `Reboot`); what survives is the bounded [`Flash`]: the
//! assignment, the desired `$version` and interval, and a reserved block of sequence numbers
//! (written once per 64 messages, as real firmware spares flash wear), so sequence numbers
//! never repeat across reboots.
//!
//! **Accounting.** Every sample and published event is reported as [`Record::Sampled`],
//! and later as exactly one of [`Record::Acked`] or [`Record::Dropped`] with its
//! [`DropReason`], or stays in the buffer; a checker can therefore account for every message.
//!
//! **Dependency rule:** this crate depends on `iot-messages` and `sim` only, never on `hub` or
//! `dps`.
//!
//! **Left out:** X.509, AMQP/HTTPS, modules, Plug and Play, file upload, clock skew of the
//! device's own clock (the world may pass skewed instants).

mod device;

pub use device::{
    Ctx, Device, DeviceLogic, DeviceOutput, DeviceStats, DisconnectReason, DropReason,
    FirmwareConfig, FirmwareConfigError, Flash, MethodCall, MethodReply, MethodRid, OverflowPolicy,
    Peer, Phase, Record,
};
