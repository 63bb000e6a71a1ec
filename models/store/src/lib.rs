//! # store: a time-series store after Time Series Insights Gen2
//!
//! **Model** (reference §4). One TSI Gen2 environment with a warm store, keyed by Time
//! Series ID = device. Events arrive from hub endpoint partitions; ingestion runs at most
//! 0.5 MB/s per partition and 1 MB/s per environment (defaults, configurable), so a burst
//! builds a backlog; an event becomes queryable a fixed 60 s after its ingestion
//! completes. Instances are discovered from ingested events. Each reading is stored once:
//! de-duplication by (device, sequence number) absorbs IoT Hub's at-least-once delivery.
//! Queries follow the Gen2 API bodies: `getEvents`, `getSeries`, `aggregateSeries`
//! (epoch-aligned buckets, left-edge timestamps, empty buckets present, avg/min/max/count/sum).
//! Data older than the warm retention (7-31 days from indexing time) is dropped.
//!
//! **Sans-IO call order.** `handle_ingest(now, partition, event, size)` for each message a
//! hub endpoint delivers; then whenever `poll_timeout()` is due, `handle_timeout(now)`,
//! which indexes every event whose ingestion has completed and enforces retention;
//! `poll_indexed()` drains the de-duplicated change feed if enabled (`poll_indexed_ref()`
//! lends each event where it was written on ingestion, in the backlog's ring, instead of
//! copying it out). A consumer that handles each reading as soon as it is indexed (the
//! herd's back end) calls `index_next(now)` until it returns `None`, then
//! `handle_timeout(now)` for retention: the same indexing, one new reading at a time,
//! lent and not fed. Queries are `&self` and see what has been indexed.
//!
//! **Storage.** Columnar and compressed per device: a device's points go into an open
//! block coded with delta-of-delta millisecond timestamps and delta-coded quantised
//! values (see `codec`); at 512 points the block is sealed into a shared 8 MiB segment.
//! Per device there is one 192-byte, cache-line-aligned slot holding the de-duplication
//! window, the coder state for up to six columns, the open block's last partial 48-byte
//! page and the head of the index pages that list its full pages in a shared pool
//! (192 MB of slots at a million devices); no per-device heap allocation. The open blocks
//! are the newest data itself, compressed: at one reading per 5 minutes a device's open
//! block holds up to 42 hours of readings. Quantising
//! lat/lon to 1e-6° (≈0.1 m) and temperature to 0.01 °C is finer than the sensors
//! (reference §7.1, §7.3). A collar reading costs 6.8 bytes including block headers
//! (asserted ≤ 10 by the compression test over 10 million readings), so 288 million
//! readings (a million cows for a day) take about 2 GB.
//!
//! **Hot path.** Indexing is allocation-free except when a block is sealed or the page
//! pool or the backlog's ring grows. Indexing a reading touches only its device's slot
//! (and the pool once per 48 bytes, when the slot's partial page fills into the next
//! free page, asked for ahead, and is listed in the block's last index page, which is
//! not: asking for it a few dozen instructions before its use measured slower), and the
//! backlog tells the store which devices come next, so it prefetches their slots a few
//! events ahead ([`hint`]).
//! Consumers can do the same for their own state: [`TimeSeriesStore::upcoming_due`]
//! names the device a few events on for [`TimeSeriesStore::index_next`], and
//! [`TimeSeriesStore::upcoming_indexed`] a few events on in the change feed. With
//! `index_next` (the herd's back end) a consumer's state for a reading loads alongside
//! the store's slot, and the reading is still in cache when it is handled. Draining a
//! feed after `handle_timeout` waits for a poll's slots first and for the consumer's
//! state afterwards, and reads each reading twice; in the store benchmark's pipeline it
//! was 6 to 11 % slower. At a million
//! devices every reading lands on a cold memory page, and under virtualisation the
//! page-table walks dominate: a process that lets malloc use transparent huge pages
//! (glibc: `GLIBC_TUNABLES=glibc.malloc.hugetlb=1`) runs the store about twice as fast
//! there.
//!
//! **Fault model.** Duplicates are dropped and counted; a message more than 64 sequence
//! numbers late is dropped as stale; a message that would wait in the hub longer than the
//! hub's retention before ingestion is lost (counted); ingestion overload shows as
//! backlog depth and ingest lag, never as an error.
//!
//! **Invariants.** Each (device, seq) is stored at most once; queries return events in
//! timestamp order, ties in indexing order; block expiry follows indexing order.
//!
//! **Left out.** Cold store (Parquet), the Time Series Model's types and hierarchies,
//! TSX filters, interpolation, continuation tokens, the 30-concurrent-query limit,
//! string/bool/dynamic columns. Retention works at block granularity: a point can outlive
//! the window by up to one block's span (assumption, like TSI dropping whole files).
//! `count` counts present values of the variable (null values are skipped, as TSI's
//! numeric variables do).

mod backlog;
mod codec;
mod dedup;
pub mod hint;
mod query;
mod schema;
mod store;

pub use dedup::{SeqVerdict, SeqWindow, SEQ_WINDOW};
pub use query::{Aggregation, Bucket, QueryError, SearchSpan, StoredEvent, MAX_BUCKETS};
pub use schema::{
    ColumnKind, ColumnSpec, DeviceIndex, IngestEvent, Schema, SchemaError, MAX_COLUMNS,
};
pub use store::{
    StorageStats, StoreConfig, StoreError, StoreStats, TimeSeriesStore, TimestampSource,
    BLOCK_POINTS, PAGE_BYTES, PREFETCH_AHEAD, RETENTION_SWEEP_INTERVAL, SEGMENT_BYTES,
};
