//! The time-series store core: ingestion limits and backlog, de-duplication, columnar
//! compressed storage, warm retention and the three queries.
//!
//! See the crate documentation for the model, the call order and what is left out.

use crate::backlog::{Backlog, Pending};
use crate::codec::{encode_point, quantised_scales, BlockDecoder, TimeState, MAX_POINT_BYTES};
use crate::dedup::{SeqVerdict, SeqWindow};
use crate::query::{Bucket, QueryError, SearchSpan, StoredEvent, MAX_BUCKETS};
use crate::schema::{ColumnKind, DeviceIndex, IngestEvent, Schema, MAX_COLUMNS};
use serde::{Deserialize, Serialize};
use sim::{Epoch, SimDuration, SimTime};
use std::collections::VecDeque;
use thiserror::Error;

/// Points per sealed block. 512 collar readings are about 42 hours at one per 5 minutes;
/// the block's header and first (absolute) point then cost under 0.2 bytes per reading.
pub const BLOCK_POINTS: u16 = 512;
/// Bytes per page of an open block's page chain. Small, so that a million open blocks
/// waste little between them: the last, partial page of each lives in its device slot
/// (see `OpenBytes`), so only whole pages are ever in the pool.
pub const PAGE_BYTES: usize = 48;
/// The slot's tail buffer: short of a page, plus room for one 16-byte store at any
/// offset that leaves the tail short of a page (the fast path of `PagePool::append`).
const TAIL_BYTES: usize = PAGE_BYTES - 1 + 16;
// A tail's length is a `u8`.
const _: () = assert!(PAGE_BYTES <= u8::MAX as usize);
/// Bytes per storage segment that sealed blocks are packed into.
pub const SEGMENT_BYTES: usize = 8 << 20;
/// How many events ahead in the backlog the store prefetches per-device state.
pub const PREFETCH_AHEAD: usize = 8;
/// The store asks for the slots of this many upcoming events at once, every as many
/// events. At a million devices `perf` puts much of the indexing time on the prefetch
/// instructions themselves (waiting, we believe, for page walks: each slot lies on a page
/// the TLB does not hold); issued together, their waits overlap. Measured faster than one
/// at a time, and than batches of 8 or 16.
const PREFETCH_BATCH: usize = 4;
/// How often retention is enforced.
pub const RETENTION_SWEEP_INTERVAL: SimDuration = SimDuration::from_hours(1);

const NONE: u32 = u32::MAX;

/// Which time becomes an event's timestamp (TSI's "timestamp property").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampSource {
    /// The hub's enqueued time: TSI's default (reference §4).
    #[default]
    EnqueuedTime,
    /// The device's own reading time, from the payload.
    EventTime,
}

/// The environment's settings, as a scenario file gives them.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Hub endpoint partitions the environment reads (reference §1.3: at most 32).
    pub partitions: u16,
    /// Environment ingress limit; default 1 MB/s, up to 8 MB/s on request (§4).
    /// Assumption: 1 MB = 1,000,000 bytes.
    pub environment_ingress_bytes_per_s: u64,
    /// Per-partition ingress limit; default 0.5 MB/s (§4).
    pub partition_ingress_bytes_per_s: u64,
    /// Delay from ingestion to queryability; §4 says "within ~60 s", modelled as exactly
    /// that (assumption: constant).
    pub queryable_delay_s: u64,
    /// Warm-store retention, 7 to 31 days counted from indexing time (§4).
    pub warm_retention_days: u64,
    /// How long the hub endpoint keeps a message the store has not read yet; a message
    /// that would wait longer is lost (§1.3: 1 to 7 days; the default of 1 day is
    /// \[UNCONFIRMED\] there).
    pub source_retention_s: u64,
    pub timestamp: TimestampSource,
    /// Keep a feed of newly indexed, de-duplicated events for [`TimeSeriesStore::poll_indexed`]
    /// (for analytics that run on stored data).
    pub change_feed: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            partitions: 4,
            environment_ingress_bytes_per_s: 1_000_000,
            partition_ingress_bytes_per_s: 500_000,
            queryable_delay_s: 60,
            warm_retention_days: 7,
            source_retention_s: 86_400,
            timestamp: TimestampSource::EnqueuedTime,
            change_feed: false,
        }
    }
}

/// A configuration or call the store refuses.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("store.partitions: {value}, expected 1 to 32 (reference §1.3)")]
    Partitions { value: u16 },
    #[error("store.{field}: {value}, expected at least 1 byte/s")]
    IngressRate { field: &'static str, value: u64 },
    #[error("store.warm_retention_days: {value}, expected 7 to 31 (reference §4)")]
    Retention { value: u64 },
    #[error("store.source_retention_s: {value}, expected at least 1 s")]
    SourceRetention { value: u64 },
    #[error("partition {partition} is not one of the environment's {partitions} partitions")]
    UnknownPartition { partition: u16, partitions: u16 },
}

/// Counters of the ingestion pipeline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub events_received: u64,
    pub bytes_received: u64,
    /// New events written to storage.
    pub events_indexed: u64,
    pub duplicates_dropped: u64,
    /// Late beyond the de-duplication window (see [`crate::SeqWindow`]).
    pub stale_dropped: u64,
    /// Would have waited in the hub longer than its retention before being read.
    pub aged_out_dropped: u64,
    /// Events waiting to be ingested or to become queryable now, and at most.
    pub backlog_depth: u64,
    pub backlog_depth_max: u64,
    /// Enqueued-to-queryable time of the last indexed event, and the largest seen.
    pub ingest_lag_last: SimDuration,
    pub ingest_lag_max: SimDuration,
    pub blocks_sealed: u64,
    pub blocks_expired: u64,
    pub events_expired: u64,
}

/// What the stored data costs, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StorageStats {
    /// Events held (indexed and not yet expired).
    pub events_live: u64,
    /// Compressed bytes of sealed blocks.
    pub sealed_bytes: u64,
    /// Compressed bytes of open blocks (their pages and the tails in the device slots).
    pub open_bytes: u64,
    /// Sealed blocks' headers.
    pub block_header_bytes: u64,
    /// Page-pool pages released by sealed or expired blocks and kept for reuse.
    pub pool_free_bytes: u64,
    /// Fixed per-device state (de-duplication, coder state, open block heads and tails).
    pub device_state_bytes: u64,
}

impl StorageStats {
    /// Compressed data plus block headers, per live event.
    pub fn bytes_per_event(&self) -> f64 {
        (self.sealed_bytes + self.open_bytes + self.block_header_bytes) as f64
            / self.events_live.max(1) as f64
    }
}

/// An open block's bytes: its whole pages in the page pool, listed in a chain of index
/// pages, then the partial last page in `tail`, inside the device slot. Indexing a point
/// therefore writes only to the slot the store has already loaded; the pool is touched
/// once per `PAGE_BYTES` (every seven or so collar readings), when the tail fills and
/// becomes a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct OpenBytes {
    /// The first and the last index page (see [`PagePool`]).
    first: u32,
    last: u32,
    /// Bytes in the pages, a multiple of `PAGE_BYTES`.
    paged: u32,
    /// Bytes in `tail`, below `PAGE_BYTES`; those past it are scratch.
    tail_len: u8,
    tail: [u8; TAIL_BYTES],
}

const EMPTY_OPEN: OpenBytes = OpenBytes {
    first: NONE,
    last: NONE,
    paged: 0,
    tail_len: 0,
    tail: [0; TAIL_BYTES],
};

impl OpenBytes {
    fn len(&self) -> u32 {
        self.paged + u32::from(self.tail_len)
    }
}

/// Per-device state, no heap: 192 bytes, aligned to a cache line, so it spans exactly
/// three lines (asserted in a test), which the store prefetches a few events ahead. It
/// holds the open block's partial last page, so indexing a reading touches this slot
/// and nothing else that is per device.
#[derive(Clone, Copy, Debug)]
#[repr(align(64))]
struct DeviceSlot {
    /// The coder's previous value per column (quantised count or bits).
    prev: [i64; MAX_COLUMNS],
    seq: SeqWindow,
    time: TimeState,
    open_t_min_ms: i64,
    open_t_max_ms: i64,
    open_indexed_max: SimTime,
    open: OpenBytes,
    first_block: u32,
    last_block: u32,
    open_count: u16,
    open_sorted: bool,
}

const EMPTY_SLOT: DeviceSlot = DeviceSlot {
    prev: [0; MAX_COLUMNS],
    seq: SeqWindow::EMPTY,
    time: TimeState {
        prev_ms: 0,
        prev_delta_ms: 0,
    },
    open_t_min_ms: i64::MAX,
    open_t_max_ms: i64::MIN,
    open_indexed_max: SimTime::ZERO,
    open: EMPTY_OPEN,
    first_block: NONE,
    last_block: NONE,
    open_count: 0,
    open_sorted: true,
};

#[derive(Clone, Copy, Debug)]
struct BlockMeta {
    t_min_ms: i64,
    t_max_ms: i64,
    /// Indexing time of the block's newest point, which is also when it was sealed.
    indexed_max: SimTime,
    segment: u32,
    offset: u32,
    len: u32,
    device: u32,
    next: u32,
    count: u16,
}

struct Segment {
    bytes: Vec<u8>,
    live_blocks: u32,
}

/// Data page ids per index page; its last 4 bytes link to the next index page.
const IDS_PER_INDEX: usize = PAGE_BYTES / 4 - 1;

fn page_id(page: &[u8; PAGE_BYTES], i: usize) -> u32 {
    let mut id = [0; 4];
    id.copy_from_slice(&page[4 * i..4 * i + 4]);
    u32::from_le_bytes(id)
}

fn set_page_id(page: &mut [u8; PAGE_BYTES], i: usize, id: u32) {
    page[4 * i..4 * i + 4].copy_from_slice(&id.to_le_bytes());
}

/// Fixed-size pages that open blocks grow in, with a free list. An open block's data
/// pages are listed, in order, in index pages from the same pool: `IDS_PER_INDEX` page
/// ids each, then the id of the next index page. Sealing a block reads every page a
/// device wrote over the last day or two, scattered over the pool: a list lets it ask
/// for all of them at once after following one link per eleven pages, where a chain
/// through the data pages would wait on one miss after another.
struct PagePool {
    pages: Vec<[u8; PAGE_BYTES]>,
    free: Vec<u32>,
}

impl PagePool {
    fn alloc(&mut self) -> u32 {
        if let Some(p) = self.free.pop() {
            // The page after it is the next one handed out, a few readings from now:
            // ask for it already (freed pages are usually cold).
            if let Some(&next) = self.free.last() {
                crate::hint::prefetch(&self.pages[next as usize]);
            }
            return p;
        }
        self.pages.push([0; PAGE_BYTES]);
        (self.pages.len() - 1) as u32
    }

    /// Appends the first `n` bytes of `point` to the open block.
    #[inline]
    fn append(&mut self, open: &mut OpenBytes, point: &[u8; MAX_POINT_BYTES], n: usize) {
        // Fast path for the common short point that leaves the tail short of a page: a
        // fixed 16-byte copy into the slot (one vector store, no memmove call). Bytes past
        // the point are scratch that the next append overwrites; reads stop at the tail's
        // length.
        let off = usize::from(open.tail_len);
        if n <= 16 && off + n < PAGE_BYTES {
            open.tail[off..off + 16].copy_from_slice(&point[..16]);
            open.tail_len = (off + n) as u8;
            return;
        }
        self.append_spilling(open, &point[..n]);
    }

    /// The general append (one in nine collar readings, and every long point): fills the
    /// tail, moves each full tail into a new page.
    #[inline(never)]
    fn append_spilling(&mut self, open: &mut OpenBytes, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let off = usize::from(open.tail_len);
            let n = (PAGE_BYTES - off).min(bytes.len());
            open.tail[off..off + n].copy_from_slice(&bytes[..n]);
            open.tail_len += n as u8;
            bytes = &bytes[n..];
            if usize::from(open.tail_len) == PAGE_BYTES {
                self.push_tail_page(open);
            }
        }
    }

    /// Moves the tail's first page of bytes into a new data page, lists it in the last
    /// index page (a new one when that is full) and empties the tail.
    #[inline]
    fn push_tail_page(&mut self, open: &mut OpenBytes) {
        let k = open.paged as usize / PAGE_BYTES;
        open.tail_len = 0;
        open.paged += PAGE_BYTES as u32;
        let p = self.alloc();
        let page: &[u8; PAGE_BYTES] = open.tail[..PAGE_BYTES]
            .try_into()
            .expect("the tail holds a page");
        self.pages[p as usize] = *page;
        let entry = k % IDS_PER_INDEX;
        if entry == 0 {
            let index = self.alloc();
            if k == 0 {
                open.first = index;
            } else {
                set_page_id(&mut self.pages[open.last as usize], IDS_PER_INDEX, index);
            }
            open.last = index;
        }
        set_page_id(&mut self.pages[open.last as usize], entry, p);
    }

    /// Calls `f` with the open block's index pages in order, each with the number of
    /// data page ids it lists.
    fn for_each_index(&self, open: &OpenBytes, mut f: impl FnMut(u32, usize)) {
        let mut pages = open.paged as usize / PAGE_BYTES;
        let mut index = open.first;
        while pages > 0 {
            let listed = pages.min(IDS_PER_INDEX);
            f(index, listed);
            pages -= listed;
            if pages > 0 {
                index = page_id(&self.pages[index as usize], IDS_PER_INDEX);
            }
        }
    }

    /// Appends the open block's bytes to `out`, using `ids` as scratch. The data pages
    /// were allocated readings apart and lie scattered over the pool, so all of them are
    /// asked for before any is copied: they load in parallel rather than one miss at a
    /// time.
    fn read(&self, open: &OpenBytes, ids: &mut Vec<u32>, out: &mut Vec<u8>) {
        ids.clear();
        self.for_each_index(open, |index, listed| {
            let page = &self.pages[index as usize];
            ids.extend((0..listed).map(|i| page_id(page, i)));
        });
        for &p in ids.iter() {
            crate::hint::prefetch(&self.pages[p as usize]);
        }
        out.reserve(open.len() as usize);
        for &p in ids.iter() {
            out.extend_from_slice(&self.pages[p as usize]);
        }
        out.extend_from_slice(&open.tail[..usize::from(open.tail_len)]);
    }

    /// Returns the open block's data and index pages to the free list and empties it.
    fn release(&mut self, open: &mut OpenBytes) {
        let mut free = std::mem::take(&mut self.free);
        self.for_each_index(open, |index, listed| {
            let page = &self.pages[index as usize];
            free.extend((0..listed).map(|i| page_id(page, i)));
            free.push(index);
        });
        self.free = free;
        *open = EMPTY_OPEN;
    }
}

/// A Time Series Insights Gen2 environment with a warm store (reference §4).
pub struct TimeSeriesStore {
    config: StoreConfig,
    epoch: Epoch,
    schema: Schema,
    kinds: Vec<ColumnKind>,
    /// The coder's scales when every column is quantised (see `codec::encode_point`).
    quantised_scales: Option<[f64; MAX_COLUMNS]>,
    columns: usize,
    environment_ps_per_byte: u64,
    partition_ps_per_byte: u64,
    queryable_delay: SimDuration,
    warm_retention: SimDuration,
    source_retention: SimDuration,
    partition_free_at: Vec<SimTime>,
    environment_free_at: SimTime,
    /// The last event size seen and its (partition, environment) service times: a fleet
    /// sends messages of one or a few sizes, so the two divisions are rarely needed.
    service: (u32, u64, u64),
    /// Events waiting to be indexed, then, with `change_feed`, waiting to be polled:
    /// each is written once and lent to the feed's consumer where it lies.
    backlog: Backlog,
    devices: Vec<DeviceSlot>,
    pool: PagePool,
    blocks: VecDeque<BlockMeta>,
    /// The id of `blocks[0]`; ids grow by one per sealed block.
    blocks_base: u32,
    segments: Vec<Segment>,
    seal_buf: Vec<u8>,
    /// The point being indexed, encoded (kept, so it is not zeroed for every point;
    /// bytes past its length are never read).
    point: [u8; MAX_POINT_BYTES],
    /// Scratch for the data page ids of the block being sealed.
    seal_ids: Vec<u32>,
    next_retention_sweep: SimTime,
    stats: StoreStats,
}

fn ps_per_byte(field: &'static str, bytes_per_s: u64) -> Result<u64, StoreError> {
    if bytes_per_s == 0 {
        return Err(StoreError::IngressRate {
            field,
            value: bytes_per_s,
        });
    }
    Ok((1_000_000_000_000 / bytes_per_s).max(1))
}

/// Nanoseconds to push `size_bytes` through a stage at `ps_per_byte`.
#[inline]
fn service_ns(size_bytes: u32, ps_per_byte: u64) -> u64 {
    (u64::from(size_bytes) * ps_per_byte).div_ceil(1_000)
}

/// `t + ns`, saturating at the end of time. Plain integer arithmetic so the per-event
/// path inlines it (SimTime's checked `+` lives in another crate).
#[inline]
fn after(t: SimTime, ns: u64) -> SimTime {
    SimTime::from_nanos(t.as_nanos().saturating_add(ns))
}

impl TimeSeriesStore {
    pub fn new(config: StoreConfig, schema: Schema, epoch: Epoch) -> Result<Self, StoreError> {
        if !(1..=32).contains(&config.partitions) {
            return Err(StoreError::Partitions {
                value: config.partitions,
            });
        }
        if !(7..=31).contains(&config.warm_retention_days) {
            return Err(StoreError::Retention {
                value: config.warm_retention_days,
            });
        }
        if config.source_retention_s == 0 {
            return Err(StoreError::SourceRetention {
                value: config.source_retention_s,
            });
        }
        let environment_ps_per_byte = ps_per_byte(
            "environment_ingress_bytes_per_s",
            config.environment_ingress_bytes_per_s,
        )?;
        let partition_ps_per_byte = ps_per_byte(
            "partition_ingress_bytes_per_s",
            config.partition_ingress_bytes_per_s,
        )?;
        let kinds = schema.kinds().to_vec();
        Ok(TimeSeriesStore {
            epoch,
            columns: kinds.len(),
            quantised_scales: quantised_scales(&kinds),
            kinds,
            schema,
            environment_ps_per_byte,
            partition_ps_per_byte,
            queryable_delay: SimDuration::from_secs(config.queryable_delay_s),
            warm_retention: SimDuration::from_hours(24 * config.warm_retention_days),
            source_retention: SimDuration::from_secs(config.source_retention_s),
            partition_free_at: vec![SimTime::ZERO; usize::from(config.partitions)],
            environment_free_at: SimTime::ZERO,
            service: (0, 0, 0),
            backlog: Backlog::new(),
            devices: Vec::new(),
            pool: PagePool {
                pages: Vec::new(),
                free: Vec::new(),
            },
            seal_ids: Vec::new(),
            point: [0; MAX_POINT_BYTES],
            blocks: VecDeque::new(),
            blocks_base: 0,
            segments: Vec::new(),
            seal_buf: Vec::with_capacity(usize::from(BLOCK_POINTS) * MAX_POINT_BYTES),
            next_retention_sweep: SimTime::ZERO + RETENTION_SWEEP_INTERVAL,
            stats: StoreStats::default(),
            config,
        })
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }
    pub fn schema(&self) -> &Schema {
        &self.schema
    }
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            backlog_depth: self.backlog.waiting() as u64,
            ..self.stats
        }
    }

    /// An event read from hub endpoint `partition` at `now`, `size_bytes` long on the
    /// wire. It is ingested behind the partition's and the environment's earlier events
    /// at their ingress rates and becomes queryable `queryable_delay_s` later.
    #[inline]
    pub fn handle_ingest(
        &mut self,
        now: SimTime,
        partition: u16,
        event: IngestEvent,
        size_bytes: u32,
    ) -> Result<(), StoreError> {
        let Some(free_at) = self.partition_free_at.get_mut(usize::from(partition)) else {
            return Err(StoreError::UnknownPartition {
                partition,
                partitions: self.config.partitions,
            });
        };
        // Counters of events (and of bytes, at most 2³² per event) cannot overflow a u64
        // in any run, so they add unchecked, outside the release build's overflow checks.
        self.stats.events_received = self.stats.events_received.wrapping_add(1);
        self.stats.bytes_received = self
            .stats
            .bytes_received
            .wrapping_add(u64::from(size_bytes));
        let start = now.max(*free_at);
        if start
            .as_nanos()
            .saturating_sub(event.enqueued_time.as_nanos())
            > self.source_retention.as_nanos()
        {
            self.stats.aged_out_dropped += 1;
            return Ok(());
        }
        if self.service.0 != size_bytes {
            self.service = (
                size_bytes,
                service_ns(size_bytes, self.partition_ps_per_byte),
                service_ns(size_bytes, self.environment_ps_per_byte),
            );
        }
        let (_, partition_ns, environment_ns) = self.service;
        let partition_done = after(start, partition_ns);
        *free_at = partition_done;
        let environment_done = after(partition_done.max(self.environment_free_at), environment_ns);
        self.environment_free_at = environment_done;
        self.backlog.push(Pending {
            queryable_at: after(environment_done, self.queryable_delay.as_nanos()),
            event,
        });
        let depth = self.backlog.waiting() as u64;
        self.stats.backlog_depth_max = self.stats.backlog_depth_max.max(depth);
        Ok(())
    }

    /// The next instant the store has work: an event becoming queryable or a retention
    /// sweep (only while something is stored).
    pub fn poll_timeout(&self) -> Option<SimTime> {
        let ready = self.backlog.next_to_index().map(|p| p.queryable_at);
        let sweep = (self.events_live() > 0).then_some(self.next_retention_sweep);
        match (ready, sweep) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Indexes every event whose ingestion has completed by `now` and enforces retention.
    pub fn handle_timeout(&mut self, now: SimTime) {
        let feed = self.config.change_feed;
        while self.index_due(now, feed).is_some() {}
        if now >= self.next_retention_sweep {
            self.sweep_retention(now);
            while self.next_retention_sweep <= now {
                self.next_retention_sweep += RETENTION_SWEEP_INTERVAL;
            }
        }
    }

    /// Indexes the next event due by `now`, if there is one, and says whether it was new
    /// (not dropped as a duplicate or as stale); a new one joins the change feed if `feed`.
    #[inline]
    fn index_due(&mut self, now: SimTime, feed: bool) -> Option<bool> {
        let new = self.index(now)?;
        self.backlog.mark_indexed(new && feed);
        Some(new)
    }

    /// Indexes events due by `now` up to and including the next new one, and lends it
    /// (it does not join the change feed): [`Self::handle_timeout`]'s indexing, one
    /// reading at a time, for a consumer that handles each reading as soon as it is
    /// indexed. Its per-device state can then be loaded alongside the store's, a few
    /// readings ahead ([`Self::upcoming_due`]), and the reading is still in cache. Returns
    /// `None` once nothing more is due; [`Self::handle_timeout`] at the same `now` then
    /// enforces retention and finds nothing left to index. (What `handle_timeout` indexes
    /// itself goes to the change feed only, so a consumer of `index_next` should not call
    /// it with a later `now` than its last `index_next`.)
    #[inline]
    pub fn index_next(&mut self, now: SimTime) -> Option<&IngestEvent> {
        loop {
            if self.index_due(now, false)? {
                return Some(self.backlog.last_indexed());
            }
        }
    }

    /// The device of the event `ahead` places on from the next one [`Self::index_next`]
    /// looks at (0: that one; due or not yet), for the consumer to prefetch its own state.
    #[inline]
    pub fn upcoming_due(&self, ahead: usize) -> Option<DeviceIndex> {
        self.backlog.waiting_ahead(ahead).map(|p| p.event.device)
    }

    /// The device of the change-feed event `ahead` places on from the next one
    /// [`Self::poll_indexed_ref`] returns (0: that one), so a consumer that drains the feed
    /// in a batch can prefetch its own state for it (see [`crate::hint`]).
    #[inline]
    pub fn upcoming_indexed(&self, ahead: usize) -> Option<DeviceIndex> {
        self.backlog.fed_ahead(ahead).map(|e| e.device)
    }

    /// Prefetches the device slots of the `PREFETCH_BATCH` events from `PREFETCH_AHEAD`
    /// places on (counted from the one being indexed): all the per-device state that
    /// indexing them touches. Called before indexing every event whose backlog position
    /// is a multiple of `PREFETCH_BATCH`.
    #[inline]
    fn prefetch_upcoming(&self) {
        for i in PREFETCH_AHEAD..PREFETCH_AHEAD + PREFETCH_BATCH {
            let Some(p) = self.backlog.waiting_ahead(i) else {
                return;
            };
            let d = p.event.device.0 as usize;
            if let Some(slot) = self.devices.get(d) {
                crate::hint::prefetch(slot);
            }
        }
    }

    /// The next newly indexed event of the change feed (only with `change_feed` set).
    #[inline]
    pub fn poll_indexed(&mut self) -> Option<IngestEvent> {
        self.poll_indexed_ref().copied()
    }

    /// The next newly indexed event of the change feed, lent rather than copied out: the
    /// same sequence as [`Self::poll_indexed`], for a consumer that only reads each event
    /// (a reading is 72 bytes, and at a million readings a second the copies show).
    #[inline]
    pub fn poll_indexed_ref(&mut self) -> Option<&IngestEvent> {
        self.backlog.poll_fed()
    }

    /// Devices discovered from ingested events (TSI instances, §4), in index order.
    pub fn instances(&self) -> Vec<DeviceIndex> {
        self.devices
            .iter()
            .enumerate()
            .filter(|(_, s)| s.seq.seen_any())
            .map(|(i, _)| DeviceIndex(i as u32))
            .collect()
    }

    /// Indexes the backlog's next event if it is due by `now` (`None` if not), and says
    /// whether it was new (not dropped as a duplicate or as stale); it is left for the
    /// caller to mark indexed. The event is read where it lies in the backlog (the borrows
    /// of `self`'s fields are disjoint), not copied out.
    #[inline]
    fn index(&mut self, now: SimTime) -> Option<bool> {
        let &Pending {
            queryable_at: indexed_at,
            ref event,
        } = self.backlog.next_to_index()?;
        if indexed_at > now {
            return None;
        }
        if self.backlog.next_position() % PREFETCH_BATCH == 0 {
            self.prefetch_upcoming();
        }
        let lag = SimDuration::from_nanos(
            indexed_at
                .as_nanos()
                .saturating_sub(event.enqueued_time.as_nanos()),
        );
        self.stats.ingest_lag_last = lag;
        self.stats.ingest_lag_max = self.stats.ingest_lag_max.max(lag);
        let d = event.device.0 as usize;
        if d >= self.devices.len() {
            self.devices.resize(d + 1, EMPTY_SLOT);
        }
        let slot = &mut self.devices[d];
        match slot.seq.accept(event.seq) {
            SeqVerdict::New => {}
            SeqVerdict::Duplicate => {
                self.stats.duplicates_dropped += 1;
                return Some(false);
            }
            SeqVerdict::Stale => {
                self.stats.stale_dropped += 1;
                return Some(false);
            }
        }
        let ts = match self.config.timestamp {
            TimestampSource::EnqueuedTime => event.enqueued_time,
            TimestampSource::EventTime => event.event_time,
        };
        let ts_ms = ts.as_millis() as i64;
        let n = encode_point(
            &mut self.point,
            &mut slot.time,
            &mut slot.prev,
            &self.kinds,
            self.quantised_scales.as_ref(),
            ts_ms,
            &event.values,
        );
        self.pool.append(&mut slot.open, &self.point, n);
        if ts_ms < slot.open_t_max_ms {
            slot.open_sorted = false;
        }
        slot.open_t_min_ms = slot.open_t_min_ms.min(ts_ms);
        slot.open_t_max_ms = slot.open_t_max_ms.max(ts_ms);
        slot.open_indexed_max = indexed_at;
        // At most `BLOCK_POINTS`: the block is sealed below when it gets there (checked
        // in debug builds, the tests').
        debug_assert!(slot.open_count < BLOCK_POINTS);
        slot.open_count = slot.open_count.wrapping_add(1);
        // One per event, so it cannot overflow (see `handle_ingest`); `events_live`
        // subtracts from it with a check.
        self.stats.events_indexed = self.stats.events_indexed.wrapping_add(1);
        if slot.open_count == BLOCK_POINTS {
            self.seal(d);
        }
        Some(true)
    }

    fn seal(&mut self, d: usize) {
        let slot = &mut self.devices[d];
        self.seal_buf.clear();
        self.pool
            .read(&slot.open, &mut self.seal_ids, &mut self.seal_buf);
        self.pool.release(&mut slot.open);
        let len = self.seal_buf.len();
        let need_segment = self
            .segments
            .last()
            .is_none_or(|s| s.bytes.len() + len > s.bytes.capacity());
        if need_segment {
            self.segments.push(Segment {
                bytes: Vec::with_capacity(SEGMENT_BYTES.max(len)),
                live_blocks: 0,
            });
        }
        let segment = self.segments.len() - 1;
        let seg = &mut self.segments[segment];
        let offset = seg.bytes.len();
        seg.bytes.extend_from_slice(&self.seal_buf);
        seg.live_blocks += 1;
        let id = self.blocks_base.wrapping_add(self.blocks.len() as u32);
        self.blocks.push_back(BlockMeta {
            t_min_ms: slot.open_t_min_ms,
            t_max_ms: slot.open_t_max_ms,
            indexed_max: slot.open_indexed_max,
            segment: segment as u32,
            offset: offset as u32,
            len: len as u32,
            device: d as u32,
            next: NONE,
            count: slot.open_count,
        });
        if slot.last_block == NONE {
            slot.first_block = id;
        } else {
            let last = slot.last_block.wrapping_sub(self.blocks_base) as usize;
            self.blocks[last].next = id;
        }
        slot.last_block = id;
        Self::reset_open(slot);
        self.stats.blocks_sealed += 1;
    }

    fn reset_open(slot: &mut DeviceSlot) {
        slot.time = TimeState::default();
        slot.open_t_min_ms = i64::MAX;
        slot.open_t_max_ms = i64::MIN;
        slot.open_count = 0;
        slot.open_sorted = true;
        slot.open = EMPTY_OPEN;
        slot.prev = [0; MAX_COLUMNS];
    }

    /// Drops sealed blocks whose newest point was indexed a warm-retention ago, then
    /// open blocks likewise. Blocks are sealed when their newest point is indexed, so
    /// seal order is indexing order and expiry only ever pops the oldest blocks.
    fn sweep_retention(&mut self, now: SimTime) {
        while let Some(b) = self.blocks.front().copied() {
            if b.indexed_max.saturating_add(self.warm_retention) > now {
                break;
            }
            self.blocks.pop_front();
            let id = self.blocks_base;
            self.blocks_base = self.blocks_base.wrapping_add(1);
            let slot = &mut self.devices[b.device as usize];
            debug_assert_eq!(slot.first_block, id, "a device's blocks expire in order");
            slot.first_block = b.next;
            if slot.last_block == id {
                slot.last_block = NONE;
            }
            let last_segment = self.segments.len() - 1;
            let seg = &mut self.segments[b.segment as usize];
            seg.live_blocks -= 1;
            if seg.live_blocks == 0 && b.segment as usize != last_segment {
                seg.bytes = Vec::new();
            }
            self.stats.blocks_expired += 1;
            self.stats.events_expired += u64::from(b.count);
        }
        for d in 0..self.devices.len() {
            let slot = &mut self.devices[d];
            if slot.open_count == 0
                || slot.open_indexed_max.saturating_add(self.warm_retention) > now
            {
                continue;
            }
            self.stats.events_expired += u64::from(slot.open_count);
            self.pool.release(&mut slot.open);
            Self::reset_open(slot);
        }
    }

    /// Events held: indexed and not yet expired.
    fn events_live(&self) -> u64 {
        self.stats.events_indexed - self.stats.events_expired
    }

    /// What the stored data costs now.
    pub fn storage_stats(&self) -> StorageStats {
        let sealed_bytes: u64 = self.blocks.iter().map(|b| u64::from(b.len)).sum();
        let open_bytes: u64 = self.devices.iter().map(|s| u64::from(s.open.len())).sum();
        StorageStats {
            events_live: self.events_live(),
            sealed_bytes,
            open_bytes,
            block_header_bytes: (self.blocks.len() * std::mem::size_of::<BlockMeta>()) as u64,
            pool_free_bytes: (self.pool.free.len() * PAGE_BYTES) as u64,
            device_state_bytes: (self.devices.len() * std::mem::size_of::<DeviceSlot>()) as u64,
        }
    }

    /// The device's points in the span, in time order (ties in indexing order).
    fn points(&self, device: DeviceIndex, span: SearchSpan) -> Vec<(i64, [f64; MAX_COLUMNS])> {
        let mut out = Vec::new();
        let Some(slot) = self.devices.get(device.0 as usize) else {
            return out;
        };
        let overlaps = |t_min_ms: i64, t_max_ms: i64| {
            let from = i128::from(span.from.as_nanos());
            let to = i128::from(span.to.as_nanos());
            i128::from(t_max_ms) * 1_000_000 >= from && i128::from(t_min_ms) * 1_000_000 < to
        };
        let mut id = slot.first_block;
        while id != NONE {
            let b = &self.blocks[id.wrapping_sub(self.blocks_base) as usize];
            if overlaps(b.t_min_ms, b.t_max_ms) {
                let start = b.offset as usize;
                let bytes = &self.segments[b.segment as usize].bytes[start..start + b.len as usize];
                out.extend(
                    BlockDecoder::new(bytes, u32::from(b.count), &self.kinds)
                        .filter(|(ts, _)| span.contains_ms(*ts)),
                );
            }
            id = b.next;
        }
        if slot.open_count > 0 && overlaps(slot.open_t_min_ms, slot.open_t_max_ms) {
            let mut bytes = Vec::with_capacity(slot.open.len() as usize);
            self.pool.read(&slot.open, &mut Vec::new(), &mut bytes);
            out.extend(
                BlockDecoder::new(&bytes, u32::from(slot.open_count), &self.kinds)
                    .filter(|(ts, _)| span.contains_ms(*ts)),
            );
        }
        out.sort_by_key(|(ts, _)| *ts);
        out
    }

    fn check_column(&self, column: usize) -> Result<(), QueryError> {
        if column >= self.columns {
            return Err(QueryError::UnknownColumn {
                column,
                columns: self.columns,
            });
        }
        Ok(())
    }

    /// `getEvents`: the device's raw events in the span, oldest first, at most `take`.
    pub fn get_events(
        &self,
        device: DeviceIndex,
        span: SearchSpan,
        take: usize,
    ) -> Result<Vec<StoredEvent>, QueryError> {
        if span.from >= span.to {
            return Err(QueryError::EmptySpan {
                from: span.from,
                to: span.to,
            });
        }
        Ok(self
            .points(device, span)
            .into_iter()
            .take(take)
            .map(|(ts, v)| StoredEvent::new(ts, v))
            .collect())
    }

    /// `getSeries`: the value of one numeric column per event in the span, oldest first.
    pub fn get_series(
        &self,
        device: DeviceIndex,
        span: SearchSpan,
        column: usize,
    ) -> Result<Vec<(SimTime, Option<f64>)>, QueryError> {
        self.check_column(column)?;
        Ok(self
            .get_events(device, span, usize::MAX)?
            .into_iter()
            .map(|e| (e.timestamp, e.value(column)))
            .collect())
    }

    /// `aggregateSeries`: one bucket per `interval` from the bucket holding `span.from`
    /// to the one holding the span's last instant, edges aligned to Unix-epoch
    /// milliseconds divided by the interval (§4), empty buckets included.
    pub fn aggregate_series(
        &self,
        device: DeviceIndex,
        span: SearchSpan,
        interval: SimDuration,
        column: usize,
    ) -> Result<Vec<Bucket>, QueryError> {
        self.check_column(column)?;
        if span.from >= span.to {
            return Err(QueryError::EmptySpan {
                from: span.from,
                to: span.to,
            });
        }
        let interval_ms = interval.as_millis() as i64;
        if interval_ms == 0 || interval.as_nanos() % 1_000_000 != 0 {
            return Err(QueryError::BadInterval { interval });
        }
        let epoch_ms = self.epoch.unix_secs() * 1_000;
        let first = (epoch_ms + span.from.as_millis() as i64).div_euclid(interval_ms);
        let last_ms = (span.to.as_nanos() - 1) / 1_000_000;
        let last = (epoch_ms + last_ms as i64).div_euclid(interval_ms);
        let buckets = (last - first + 1) as u64;
        if buckets > MAX_BUCKETS {
            return Err(QueryError::TooManyBuckets { buckets });
        }
        let mut out: Vec<Bucket> = (first..=last)
            .map(|k| Bucket {
                start_unix_ms: k * interval_ms,
                count: 0,
                sum: None,
                min: None,
                max: None,
            })
            .collect();
        for (ts, values) in self.points(device, span) {
            let v = values[column];
            if v.is_nan() {
                continue;
            }
            let k = (epoch_ms + ts).div_euclid(interval_ms) - first;
            let b = &mut out[k as usize];
            b.count += 1;
            b.sum = Some(b.sum.map_or(v, |s| s + v));
            b.min = Some(b.min.map_or(v, |m| m.min(v)));
            b.max = Some(b.max.map_or(v, |m| m.max(v)));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_taken_one_at_a_time_free_their_backlog_entries_without_handle_timeout() {
        let mut s =
            TimeSeriesStore::new(StoreConfig::default(), Schema::collar(), Epoch::DEFAULT).unwrap();
        let mut taken = 0u32;
        // Two simulated hours of 100 readings every 5 s from 6,000 devices, with no
        // `handle_timeout` (and so no retention sweep) in between.
        for poll in 0..1_440u32 {
            let now = SimTime::from_secs(5 * u64::from(poll));
            for i in 0..100u32 {
                let k = poll * 100 + i;
                let e = IngestEvent::new(
                    DeviceIndex(k % 6_000),
                    k / 6_000,
                    now,
                    now,
                    &[46.9, 7.4, 38.5],
                );
                s.handle_ingest(now, 0, e, 100).unwrap();
            }
            while s.index_next(now).is_some() {
                taken += 1;
            }
        }
        // About 1,200 readings wait out the 60 s until they are queryable at any time.
        assert!(taken > 140_000, "{taken}");
        assert_eq!(u64::from(taken), s.stats().events_indexed);
        assert!(
            s.backlog.capacity() <= 2_048,
            "{} entries for at most {} waiting",
            s.backlog.capacity(),
            s.stats().backlog_depth_max
        );
    }

    #[test]
    fn per_device_state_stays_small_for_a_million_devices() {
        assert_eq!(std::mem::size_of::<DeviceSlot>(), 192);
        assert_eq!(std::mem::align_of::<DeviceSlot>(), 64);
        assert!(std::mem::size_of::<BlockMeta>() <= 48);
    }

    #[test]
    fn an_open_block_reads_back_every_byte_across_its_pages_and_its_tail() {
        let mut pool = PagePool {
            pages: Vec::new(),
            free: Vec::new(),
        };
        let mut open = EMPTY_OPEN;
        let mut expected = Vec::new();
        // Every point length from 1 to the largest, twice over, so that points end
        // exactly on, just short of and across page boundaries.
        for (i, n) in (1..=MAX_POINT_BYTES).chain(1..=MAX_POINT_BYTES).enumerate() {
            let mut point = [0u8; MAX_POINT_BYTES];
            for (j, b) in point.iter_mut().enumerate() {
                *b = (i * 31 + j * 7) as u8;
            }
            pool.append(&mut open, &point, n);
            expected.extend_from_slice(&point[..n]);
            assert_eq!(open.len() as usize, expected.len());
            assert!(usize::from(open.tail_len) < PAGE_BYTES);
            let mut out = Vec::new();
            pool.read(&open, &mut Vec::new(), &mut out);
            assert_eq!(out, expected, "after point {i} of {n} bytes");
        }
        // 5,256 bytes: 109 data pages, listed in 10 index pages.
        let pages = open.paged as usize / PAGE_BYTES;
        assert_eq!(pages, expected.len() / PAGE_BYTES);
        assert_eq!(pages, 109);
        let index_pages = pages.div_ceil(IDS_PER_INDEX);
        assert_eq!(pool.pages.len(), pages + index_pages);
        pool.release(&mut open);
        assert_eq!(open, EMPTY_OPEN);
        assert_eq!(pool.free.len(), pages + index_pages);
        // A second block reuses the released pages, whatever their old contents.
        for n in 1..=MAX_POINT_BYTES {
            let point = [n as u8; MAX_POINT_BYTES];
            pool.append(&mut open, &point, n);
        }
        let mut out = Vec::new();
        pool.read(&open, &mut Vec::new(), &mut out);
        let expected: Vec<u8> = (1..=MAX_POINT_BYTES)
            .flat_map(|n| std::iter::repeat_n(n as u8, n))
            .collect();
        assert_eq!(out, expected);
        assert_eq!(pool.pages.len(), pages + index_pages);
    }

    #[test]
    fn a_bad_configuration_names_its_field() {
        let bad = StoreConfig {
            warm_retention_days: 40,
            ..StoreConfig::default()
        };
        let err = TimeSeriesStore::new(bad, Schema::collar(), Epoch::DEFAULT)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "store.warm_retention_days: 40, expected 7 to 31 (reference §4)"
        );
    }
}
