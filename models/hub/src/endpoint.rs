//! Routing endpoints and their consumers (reference §1.10, §1.3).
//!
//! An endpoint is a set of partitions, each an append-only log with offsets. The built-in
//! endpoint `events` has the hub's partition count (chosen at creation, at most 32) and a
//! message goes to partition `fnv1a(deviceId) mod partitions`, so one device's messages stay
//! in order. Custom endpoints are in-simulation sinks with their own partition count.
//!
//! Retention: a partition keeps messages for the configured time (the reference leaves the
//! built-in default between 1 and 7 days **[UNCONFIRMED]**; we default to 1 day) and, so
//! memory stays bounded at fleet scale, at most `capacity` messages; older messages are
//! evicted and counted, and a consumer that had not read them counts them as missed.
//!
//! A [`Consumer`] reads an endpoint as a partitioned consumer: it keeps a read position and a
//! checkpoint per partition; [`Consumer::restart`] rewinds to the checkpoints (at-least-once
//! delivery after a back-end crash, as with Event Hubs checkpoints).

use iot_messages::telemetry::{SchemaSet, Values};
use iot_messages::SchemaId;
use sim::{SimDuration, SimTime};
use std::collections::VecDeque;
use std::sync::Arc;

/// The body of a routed message, in whichever form the device's packet arrived.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// `body_len` is the byte length of the JSON body the values stand for, measured once
    /// when the device built the message ([`iot_messages::Msg::telemetry`]).
    Compact {
        schema: SchemaId,
        values: Values,
        body_len: u32,
    },
    Raw {
        bag: Arc<str>,
        body: Arc<[u8]>,
    },
}

/// Application properties added by enrichments, shared between messages where static.
pub type Enrichments = Arc<Vec<(Arc<str>, Arc<str>)>>;

/// A message stored in an endpoint partition.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointMessage {
    pub offset: u64,
    /// When the hub accepted it (after any throttle queueing).
    pub enqueued: SimTime,
    /// The sending device (its id: [`crate::Hub::device_id`]); an index keeps the message
    /// free of reference counts on the ingest path.
    pub device: u32,
    /// The device's model id as IoT Hub stamps it on a Plug and Play device's messages
    /// (`dt-dataschema`): 0 for none, else [`crate::Hub::model_id`] of it.
    pub model: u16,
    pub payload: Payload,
    /// Application properties added by enrichments for this endpoint.
    pub enrichments: Option<Enrichments>,
}

impl EndpointMessage {
    /// The device's message counter `seq` from the body.
    pub fn seq(&self) -> Option<u32> {
        match &self.payload {
            Payload::Compact { values, .. } => Some(values.seq),
            Payload::Raw { body, .. } => {
                let v: serde_json::Value = serde_json::from_slice(body).ok()?;
                u32::try_from(v.get("seq")?.as_u64()?).ok()
            }
        }
    }

    /// The JSON body text.
    pub fn body_text(&self, schemas: &SchemaSet) -> Option<String> {
        match &self.payload {
            Payload::Compact { schema, values, .. } => Some(schemas.get(*schema)?.body(values)),
            Payload::Raw { body, .. } => String::from_utf8(body.to_vec()).ok(),
        }
    }

    /// An enrichment's value by key.
    pub fn enrichment(&self, key: &str) -> Option<&str> {
        self.enrichments
            .as_ref()?
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }
}

/// One partition's log.
#[derive(Debug, Clone, Default)]
pub struct Partition {
    messages: VecDeque<EndpointMessage>,
    next_offset: u64,
    pub evicted: u64,
}

impl Partition {
    /// Offset of the oldest retained message.
    pub fn first_offset(&self) -> u64 {
        self.next_offset - self.messages.len() as u64
    }
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }
    pub fn len(&self) -> usize {
        self.messages.len()
    }
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
    /// Retained messages from `offset` on.
    pub fn read_from(&self, offset: u64) -> impl Iterator<Item = &EndpointMessage> {
        let skip = offset.saturating_sub(self.first_offset()) as usize;
        self.messages.iter().skip(skip)
    }
}

/// A routing endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub name: String,
    pub partitions: Vec<Partition>,
    pub capacity: usize,
    pub retention: SimDuration,
    pub received: u64,
}

impl Endpoint {
    pub fn new(name: &str, partitions: u8, capacity: usize, retention: SimDuration) -> Self {
        Endpoint {
            name: name.to_string(),
            partitions: vec![Partition::default(); partitions.max(1) as usize],
            capacity: capacity.max(1),
            retention,
            received: 0,
        }
    }

    #[inline]
    pub(crate) fn append(&mut self, partition: usize, mut m: EndpointMessage) {
        let n = self.partitions.len();
        let p = &mut self.partitions[partition % n];
        if p.messages.len() >= self.capacity {
            p.messages.pop_front();
            p.evicted += 1;
        }
        m.offset = p.next_offset;
        p.next_offset += 1;
        p.messages.push_back(m);
        self.received += 1;
    }

    pub(crate) fn expire(&mut self, now: SimTime) {
        for p in &mut self.partitions {
            while p
                .messages
                .front()
                .is_some_and(|m| m.enqueued.saturating_add(self.retention) <= now)
            {
                p.messages.pop_front();
                p.evicted += 1;
            }
        }
    }
}

/// FNV-1a (32-bit) of a device id: the stable hash partitions are chosen by.
pub fn id_hash(device_id: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in device_id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The partition of a device id on an endpoint with `partitions` partitions.
pub fn partition_of(device_id: &str, partitions: u8) -> u8 {
    (id_hash(device_id) % u32::from(partitions.max(1))) as u8
}

/// A partitioned consumer of one endpoint with checkpoints.
#[derive(Debug, Clone)]
pub struct Consumer {
    pub endpoint: usize,
    position: Vec<u64>,
    checkpoint: Vec<u64>,
    /// Messages evicted before this consumer read them.
    pub missed: u64,
}

impl Consumer {
    pub fn new(endpoint: usize, partitions: usize) -> Self {
        Consumer {
            endpoint,
            position: vec![0; partitions],
            checkpoint: vec![0; partitions],
            missed: 0,
        }
    }

    /// Reads up to `max` messages of `partition` after the read position, and advances it.
    pub fn poll(&mut self, ep: &Endpoint, partition: usize, max: usize) -> Vec<EndpointMessage> {
        let p = &ep.partitions[partition];
        let pos = &mut self.position[partition];
        if *pos < p.first_offset() {
            self.missed += p.first_offset() - *pos;
            *pos = p.first_offset();
        }
        let out: Vec<EndpointMessage> = p.read_from(*pos).take(max).cloned().collect();
        *pos += out.len() as u64;
        out
    }

    /// Records the read position of `partition` as the checkpoint.
    pub fn checkpoint(&mut self, partition: usize) {
        self.checkpoint[partition] = self.position[partition];
    }

    pub fn checkpoint_of(&self, partition: usize) -> u64 {
        self.checkpoint[partition]
    }

    /// A back-end restart: reading resumes from the checkpoints.
    pub fn restart(&mut self) {
        self.position.clone_from(&self.checkpoint);
    }
}
