//! Time-series store after Time Series Insights Gen2: columnar, compressed, de-duplicated, queryable.
