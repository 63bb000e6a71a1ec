//! Query shapes after the TSI Gen2 query API (reference §4): `getEvents`, `getSeries`,
//! `aggregateSeries`, each over one Time Series ID and a search span.

use crate::schema::MAX_COLUMNS;
use sim::{SimDuration, SimTime};
use thiserror::Error;

/// A search span `[from, to)`, like TSI's `searchSpan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchSpan {
    pub from: SimTime,
    pub to: SimTime,
}

impl SearchSpan {
    pub fn new(from: SimTime, to: SimTime) -> Self {
        SearchSpan { from, to }
    }
    /// Whether an event stamped `ts_ms` (milliseconds since the simulation epoch) is inside.
    #[inline]
    pub fn contains_ms(&self, ts_ms: i64) -> bool {
        let ns = i128::from(ts_ms) * 1_000_000;
        ns >= i128::from(self.from.as_nanos()) && ns < i128::from(self.to.as_nanos())
    }
}

/// A stored event as `getEvents` returns it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StoredEvent {
    /// The event's timestamp, at TSI's millisecond resolution.
    pub timestamp: SimTime,
    values: [f64; MAX_COLUMNS],
}

impl StoredEvent {
    pub(crate) fn new(ts_ms: i64, values: [f64; MAX_COLUMNS]) -> Self {
        StoredEvent {
            timestamp: SimTime::from_millis(ts_ms.max(0) as u64),
            values,
        }
    }
    /// The value of column `col`, `None` when the event did not carry it.
    pub fn value(&self, col: usize) -> Option<f64> {
        let v = *self.values.get(col)?;
        (!v.is_nan()).then_some(v)
    }
}

/// The aggregations of `aggregateSeries` on a numeric variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Aggregation {
    Avg,
    Min,
    Max,
    Count,
    Sum,
}

/// One interval of an `aggregateSeries` answer. Empty buckets are present with
/// `count == 0` and `None` for the value aggregations, as TSI returns nulls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// The bucket's left edge in Unix-epoch milliseconds (TSI's returned timestamp).
    pub start_unix_ms: i64,
    pub count: u64,
    pub sum: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Bucket {
    pub fn avg(&self) -> Option<f64> {
        self.sum.map(|s| s / self.count as f64)
    }
    /// The value of one aggregation (`Count` as a float).
    pub fn get(&self, aggregation: Aggregation) -> Option<f64> {
        match aggregation {
            Aggregation::Avg => self.avg(),
            Aggregation::Min => self.min,
            Aggregation::Max => self.max,
            Aggregation::Count => Some(self.count as f64),
            Aggregation::Sum => self.sum,
        }
    }
}

/// Most buckets one `aggregateSeries` may ask for; a larger request is refused rather
/// than allocating without bound.
pub const MAX_BUCKETS: u64 = 1_000_000;

/// A query the store refuses.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("searchSpan: from {from:?} is not before to {to:?}")]
    EmptySpan { from: SimTime, to: SimTime },
    #[error("interval: {interval:?}, expected a whole number of milliseconds, at least 1 ms")]
    BadInterval { interval: SimDuration },
    #[error("variable: column {column} does not exist, the schema has {columns} columns")]
    UnknownColumn { column: usize, columns: usize },
    #[error("interval: {buckets} buckets requested, at most {MAX_BUCKETS} allowed")]
    TooManyBuckets { buckets: u64 },
}
