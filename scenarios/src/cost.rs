//! What the simulated solution would cost to run, per month, at list prices: the hubs' tier ×
//! units, and the units the metered traffic needs; DPS operations; the store's ingress and a
//! month of its data. A month is 730 hours, as Azure bills.
//!
//! Sources and assumptions, dated (see [`PRICES`]):
//! - IoT Hub, USD per unit-month: F1 0, B1 10, B2 50, B3 500, S1 25, S2 250, S3 2,500
//!   (Azure's IoT Hub pricing page list prices, as the testbench issue records them). The
//!   daily quota per unit and the 4 KB metering (0.5 KB on the free tier) are reference §1.1,
//!   which the hub model meters.
//! - DPS: USD 0.10 per 1,000 operations, counting registrations accepted and status polls
//!   **[assumption: no price in the reference]**.
//! - Store (Time Series Insights Gen2-style): USD 0.12 per GB ingested and USD 0.03 per
//!   GB-month kept **[assumption: no price in the reference]**.
//!
//! A run shorter than a day is scaled to a day linearly (its traffic per simulated second);
//! a longer one is averaged over its days.

use serde::{Deserialize, Serialize};

/// The price table, with its date and source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prices {
    pub dated: &'static str,
    pub source: &'static str,
    pub dps_usd_per_1000_ops: f64,
    pub store_usd_per_gb_ingested: f64,
    pub store_usd_per_gb_month: f64,
}

pub const PRICES: Prices = Prices {
    dated: "2026-12",
    source: "IoT Hub: Azure list prices per unit-month (F1 0, B1 10, B2 50, B3 500, S1 25, S2 250, S3 2,500 USD); DPS and store: assumed (0.10 USD per 1,000 DPS operations; 0.12 USD per GB ingested, 0.03 USD per GB-month)",
    dps_usd_per_1000_ops: 0.10,
    store_usd_per_gb_ingested: 0.12,
    store_usd_per_gb_month: 0.03,
};

/// Hours in a billing month.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// A hub tier's list price per unit-month, in USD.
pub fn hub_usd_per_unit_month(tier: hub::Tier) -> f64 {
    use hub::Tier::*;
    match tier {
        F1 => 0.0,
        B1 => 10.0,
        B2 => 50.0,
        B3 => 500.0,
        S1 => 25.0,
        S2 => 250.0,
        S3 => 2_500.0,
    }
}

/// Summary's `cost`: USD per month at [`PRICES`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub prices_dated: String,
    pub prices_source: String,
    /// The hubs as configured: tier × units × list price.
    pub hub_usd_per_month: f64,
    /// Messages the hubs metered (4 KB chunks; 0.5 KB on F1), per day.
    pub hub_messages_per_day: f64,
    /// Units of the configured tier that traffic needs within the daily quota, summed over
    /// the hubs, and their price.
    pub hub_units_needed: u64,
    pub hub_usd_per_month_needed: f64,
    pub dps_operations: u64,
    pub dps_usd_per_month: f64,
    pub store_gb_per_day: f64,
    pub store_usd_per_month: f64,
    /// Hubs as configured, DPS and store.
    pub total_usd_per_month: f64,
    pub usd_per_device_per_month: f64,
}

/// One hub's share of the cost inputs.
pub struct HubUse {
    pub tier: hub::Tier,
    pub units: u32,
    pub messages_metered: u64,
}

/// The month's cost of a run of `simulated_s` seconds with `devices` devices.
pub fn cost(
    hubs: &[HubUse],
    dps_operations: u64,
    store_bytes: u64,
    simulated_s: f64,
    devices: u64,
) -> Cost {
    let days = (simulated_s / 86_400.0).max(1e-9);
    let months_per_run = simulated_s / 3_600.0 / HOURS_PER_MONTH;
    let mut c = Cost {
        prices_dated: PRICES.dated.into(),
        prices_source: PRICES.source.into(),
        dps_operations,
        ..Cost::default()
    };
    for h in hubs {
        let price = hub_usd_per_unit_month(h.tier);
        c.hub_usd_per_month += price * f64::from(h.units);
        let per_day = h.messages_metered as f64 / days;
        c.hub_messages_per_day += per_day;
        let per_unit = h.tier.daily_messages(1).max(1) as f64;
        let needed = if h.tier == hub::Tier::F1 {
            1
        } else {
            ((per_day / per_unit).ceil() as u64).max(1)
        };
        c.hub_units_needed += needed;
        c.hub_usd_per_month_needed += price * needed as f64;
    }
    // DPS operations are provisioning, once, not a daily rate: a run of up to a month pays
    // for them in its month; a longer one spreads them over its months.
    c.dps_usd_per_month =
        dps_operations as f64 / 1_000.0 * PRICES.dps_usd_per_1000_ops / months_per_run.max(1.0);
    c.store_gb_per_day = store_bytes as f64 / 1e9 / days;
    let gb_month = c.store_gb_per_day * HOURS_PER_MONTH / 24.0;
    c.store_usd_per_month =
        gb_month * PRICES.store_usd_per_gb_ingested + gb_month * PRICES.store_usd_per_gb_month;
    c.total_usd_per_month = c.hub_usd_per_month + c.dps_usd_per_month + c.store_usd_per_month;
    c.usd_per_device_per_month = c.total_usd_per_month / devices.max(1) as f64;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_herd_on_one_s1_unit_needs_fifteen_and_pays_for_them() {
        // 20,000 collars × 288 readings a day, each one 4 KB message.
        let c = cost(
            &[HubUse {
                tier: hub::Tier::S1,
                units: 1,
                messages_metered: 5_760_000,
            }],
            0,
            0,
            86_400.0,
            20_000,
        );
        assert_eq!(c.hub_usd_per_month, 25.0);
        assert_eq!(c.hub_messages_per_day, 5_760_000.0);
        // 5.76 M / 400,000 a unit = 14.4: 15 units.
        assert_eq!(
            (c.hub_units_needed, c.hub_usd_per_month_needed),
            (15, 375.0)
        );
        assert_eq!(c.usd_per_device_per_month, 25.0 / 20_000.0);
    }

    #[test]
    fn a_short_run_is_scaled_to_a_day_and_the_store_to_a_month() {
        let c = cost(
            &[HubUse {
                tier: hub::Tier::S3,
                units: 2,
                messages_metered: 1_000,
            }],
            2_000,
            6_000_000_000,
            6.0 * 3_600.0,
            100,
        );
        assert_eq!(c.hub_messages_per_day, 4_000.0);
        assert_eq!((c.hub_units_needed, c.hub_usd_per_month), (1, 5_000.0));
        // 6 GB in 6 h = 24 GB a day; 730 h = 730 GB a month, at 0.12 + 0.03 a GB.
        assert!((c.store_gb_per_day - 24.0).abs() < 1e-9);
        assert!((c.store_usd_per_month - 730.0 * 0.15).abs() < 1e-6);
        // 2,000 DPS operations at 0.10 per 1,000, once.
        assert!((c.dps_usd_per_month - 0.2).abs() < 1e-12);
        assert!((c.total_usd_per_month - (5_000.0 + 0.2 + 109.5)).abs() < 1e-6);
    }
}
