//! # dps: the simulated Device Provisioning Service
//!
//! A sans-IO model of DPS (reference §2 of `shared/reference/azure-iot-facts.md`):
//!
//! - **MQTT registration flow** (§2.1): CONNECT with username
//!   `{idScope}/registrations/{registrationId}/api-version=2019-03-31` and a SAS token over
//!   `{idScope}/registrations/{registrationId}` with `skn=registration`; subscribe
//!   `$dps/registrations/res/#`; register with `$dps/registrations/PUT/iotdps-register/?$rid=`;
//!   202 with `retry-after` and an `operationId`; poll
//!   `$dps/registrations/GET/iotdps-get-operationstatus/?$rid=&operationId=` until 200 with
//!   the `registrationState`.
//! - **Attestation** (§2.2): symmetric keys. An individual enrollment holds the device's key;
//!   an enrollment group holds a group key and the device must sign with the key derived from
//!   it and its registration id (the group key itself is never accepted). Refusals are counted
//!   by reason.
//! - **Allocation** (§2.3) across linked hubs: evenly weighted hash (`hashed`, weights
//!   1..=1000), lowest latency by region (`geolatency`, ties by weighted hash), `static` (one
//!   named hub), and `custom` through a scenario-supplied [`Allocator`]; the linked-hub flag
//!   "apply allocation policy" and per-enrollment hub subsets.
//! - **Reprovisioning** (§2.4): migrate data (default), reset to initial config, never.
//!   A device that moves hubs is removed from the old one ([`DpsOutput::Assign`] carries
//!   `previous_hub`; the world moves or resets the twin and deletes the old identity).
//! - **Rates** (§2.5): device registrations 1,000/min per unit, rejected above that with 429
//!   and a `retry-after` (the code is **[UNCONFIRMED]**); device polling 5 per 10 s per
//!   device, counted over fixed 10 s windows **[simplification]**. The "operations" limit is
//!   read as service-side enrollment operations, which devices do not use **[assumption]**.
//!
//! **Call order.** The world feeds device packets with [`Dps::handle_packet`] (with the
//! region the device connects from), transport loss with [`Dps::handle_connection_lost`],
//! and drains [`Dps::poll_output`]. DPS keeps no timers: an operation completes at a computed
//! instant (`now + assignment latency`) that the 202 `retry-after` and the `Assign` output
//! carry, and a poll before that instant answers 202 again.
//!
//! **Invariants.** A registration id is assigned to at most one hub at a time; every assignment
//! names a linked hub that the enrollment allows.
//!
//! **Left out:** X.509 and TPM attestation, the HTTPS API, webhook latency of custom
//! allocation, enrollment CRUD throttling, DPS-to-hub linking errors.

mod dps;

pub use dps::{
    AllocationPolicy, Allocator, ConnId, Dps, DpsConfig, DpsConfigError, DpsCounters, DpsOutput,
    EnrollmentGroup, IndividualEnrollment, LinkedHub, Registration, ReprovisionPolicy,
};
