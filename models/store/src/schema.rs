//! What the store ingests: the scenario's declared numeric columns and the event shape.
//!
//! Time Series Insights Gen2 types its columns by suffix (`_double`, `_long`, …) and keys
//! every series by a Time Series ID chosen at environment creation, here the device id
//! (reference §4). A fleetsim scenario declares its telemetry as a short list of numeric
//! columns, each either quantised to a resolution (stored as an integer count of that
//! resolution, which is what makes delta coding compact) or exact (the IEEE-754 bits,
//! XOR-coded). An absent value (a collar without a GPS fix) is `NaN` in an event and comes
//! back from queries as `None`, like a TSI null.

use serde::Deserialize;
use sim::SimTime;
use thiserror::Error;

/// The most numeric columns one schema may declare. Events carry a fixed array of this
/// size so the hot path never allocates.
pub const MAX_COLUMNS: usize = 6;

/// A device's Time Series ID, as a dense index (the registry maps names to indices).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DeviceIndex(pub u32);

/// One telemetry reading as it reaches the store from a hub endpoint partition.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IngestEvent {
    pub device: DeviceIndex,
    /// The device's own message sequence number, increasing by one per message over the
    /// device's life; duplicates from at-least-once delivery repeat it.
    pub seq: u32,
    /// When the device took the reading (its payload timestamp).
    pub event_time: SimTime,
    /// When the hub enqueued the message on the endpoint (`iothub-enqueuedtime`).
    pub enqueued_time: SimTime,
    /// Column values in schema order; `NaN` means absent; unused slots are ignored.
    pub values: [f64; MAX_COLUMNS],
}

impl IngestEvent {
    /// An event whose first `values.len()` columns are `values` (at most [`MAX_COLUMNS`];
    /// extra values are ignored) and the rest absent.
    pub fn new(
        device: DeviceIndex,
        seq: u32,
        event_time: SimTime,
        enqueued_time: SimTime,
        values: &[f64],
    ) -> Self {
        let mut v = [f64::NAN; MAX_COLUMNS];
        for (slot, x) in v.iter_mut().zip(values) {
            *slot = *x;
        }
        IngestEvent {
            device,
            seq,
            event_time,
            enqueued_time,
            values: v,
        }
    }
}

/// How a column is stored.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ColumnKind {
    /// Rounded to a multiple of `resolution` and stored as that integer count, delta coded.
    /// Values beyond ±`i64::MAX`·resolution saturate. `scale` is `1 / resolution`,
    /// precomputed so the hot path multiplies instead of dividing.
    Quantised { resolution: f64, scale: f64 },
    /// Stored bit-exactly, XOR-coded against the previous value.
    Exact,
}

/// A column as a scenario file declares it: `{ name = "temp", resolution = 0.01 }`;
/// leave `resolution` out for an exact column.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    pub name: String,
    #[serde(default)]
    pub resolution: Option<f64>,
}

impl ColumnSpec {
    pub fn quantised(name: &str, resolution: f64) -> Self {
        ColumnSpec {
            name: name.to_owned(),
            resolution: Some(resolution),
        }
    }
    pub fn exact(name: &str) -> Self {
        ColumnSpec {
            name: name.to_owned(),
            resolution: None,
        }
    }
}

/// A schema that could not be built.
#[derive(Debug, Error, PartialEq)]
pub enum SchemaError {
    #[error("schema.columns: {count} columns declared, expected 1 to {MAX_COLUMNS}")]
    ColumnCount { count: usize },
    #[error("schema.columns[{index}].name: empty name, expected a column name")]
    EmptyName { index: usize },
    #[error("schema.columns[{index}].name: {name:?} is declared twice")]
    DuplicateName { index: usize, name: String },
    #[error(
        "schema.columns[{index}].resolution: {value} for {name:?}, expected a finite number > 0"
    )]
    BadResolution {
        index: usize,
        name: String,
        value: f64,
    },
}

/// The validated column list of a store.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    names: Vec<String>,
    kinds: Vec<ColumnKind>,
}

impl Schema {
    pub fn new(columns: &[ColumnSpec]) -> Result<Schema, SchemaError> {
        if columns.is_empty() || columns.len() > MAX_COLUMNS {
            return Err(SchemaError::ColumnCount {
                count: columns.len(),
            });
        }
        let mut names = Vec::with_capacity(columns.len());
        let mut kinds = Vec::with_capacity(columns.len());
        for (index, c) in columns.iter().enumerate() {
            if c.name.is_empty() {
                return Err(SchemaError::EmptyName { index });
            }
            if names.contains(&c.name) {
                return Err(SchemaError::DuplicateName {
                    index,
                    name: c.name.clone(),
                });
            }
            let kind = match c.resolution {
                None => ColumnKind::Exact,
                Some(r) if r.is_finite() && r > 0.0 && (1.0 / r).is_finite() => {
                    ColumnKind::Quantised {
                        resolution: r,
                        scale: 1.0 / r,
                    }
                }
                Some(value) => {
                    return Err(SchemaError::BadResolution {
                        index,
                        name: c.name.clone(),
                        value,
                    })
                }
            };
            names.push(c.name.clone());
            kinds.push(kind);
        }
        Ok(Schema { names, kinds })
    }

    /// The cow collar of the headline scenario: latitude and longitude in degrees at
    /// 1e-6° (about 0.1 m, finer than the 4.7 m GNSS bias of reference §7.3) and body
    /// temperature in °C at 0.01 °C (finer than a ±0.5 °C sensor, §7.1).
    pub fn collar() -> Schema {
        Schema::new(&[
            ColumnSpec::quantised("lat", 1e-6),
            ColumnSpec::quantised("lon", 1e-6),
            ColumnSpec::quantised("temp", 0.01),
        ])
        .expect("the collar schema is valid")
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
    pub fn names(&self) -> &[String] {
        &self.names
    }
    pub fn kinds(&self) -> &[ColumnKind] {
        &self.kinds
    }
    /// The index of the column called `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The value the store returns for `value` written to column `col`: the quantised
    /// value, or `None` for an absent (`NaN`) value. Oracles use it to predict results.
    pub fn stored_value(&self, col: usize, value: f64) -> Option<f64> {
        if value.is_nan() {
            return None;
        }
        Some(match self.kinds[col] {
            ColumnKind::Quantised { resolution, scale } => {
                dequantise(quantise(value, scale), resolution)
            }
            ColumnKind::Exact => value,
        })
    }
}

/// The nearest count of `resolution`, halves away from zero. Adding ±0.5 (the sign of
/// `x`, by `copysign`, with no branch or table) and truncating (`as` truncates and
/// saturates at the i64 range) avoids a library call on the hot path; it differs from
/// exact rounding only for values within an ulp of a half, and the store and
/// [`Schema::stored_value`] share it, so oracles still agree bit for bit. (−0.0 gets
/// −0.5 where a comparison with zero would add +0.5: both truncate to 0.)
#[inline]
pub(crate) fn quantise(value: f64, scale: f64) -> i64 {
    let x = value * scale;
    (x + 0.5f64.copysign(x)) as i64
}

pub(crate) fn dequantise(q: i64, resolution: f64) -> f64 {
    q as f64 * resolution
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_names_the_field_and_value_it_rejects() {
        let err = Schema::new(&[ColumnSpec::quantised("temp", 0.0)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "schema.columns[0].resolution: 0 for \"temp\", expected a finite number > 0"
        );
        let dup = Schema::new(&[ColumnSpec::exact("a"), ColumnSpec::exact("a")]).unwrap_err();
        assert!(matches!(dup, SchemaError::DuplicateName { index: 1, .. }));
        assert!(Schema::new(&[]).is_err());
    }

    #[test]
    fn stored_values_are_rounded_to_the_column_resolution() {
        let s = Schema::collar();
        assert_eq!(s.stored_value(2, 38.4567), Some(38.46));
        assert_eq!(s.stored_value(0, f64::NAN), None);
        assert_eq!(s.column("temp"), Some(2));
    }

    #[test]
    fn a_column_spec_reads_from_a_scenario_table() {
        let c: ColumnSpec = serde_json::from_str(r#"{"name":"temp","resolution":0.01}"#).unwrap();
        assert_eq!(c, ColumnSpec::quantised("temp", 0.01));
        assert!(serde_json::from_str::<ColumnSpec>(r#"{"name":"t","unit":"C"}"#).is_err());
    }
}
