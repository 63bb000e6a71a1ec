//! Hub configuration, validated into the runtime form.

use crate::route::{Condition, ConditionError};
use crate::tier::{Shaping, Tier};
use sim::{Epoch, SimDuration};

/// Routes and endpoints (reference §1.3: paid hubs 10 custom endpoints and 100 routes, free
/// hubs 1 and 5; enrichments 10 paid, 2 free).
#[derive(Debug, Clone, PartialEq)]
pub struct RouteConfig {
    pub name: String,
    /// Condition text in the routing query language (see [`crate::route`]).
    pub condition: String,
    /// Endpoint names; `events` is the built-in endpoint.
    pub endpoints: Vec<String>,
}

/// A custom endpoint (an in-simulation sink).
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointConfig {
    pub name: String,
    pub partitions: u8,
}

/// An enrichment: `value` is a static string, `$iothubname`, or `$twin.tags.*`,
/// `$twin.properties.desired.*`, `$twin.properties.reported.*` (reference §1.10).
#[derive(Debug, Clone, PartialEq)]
pub struct EnrichmentConfig {
    pub key: String,
    pub value: String,
    pub endpoints: Vec<String>,
}

/// Cloud-to-device settings (reference §1.8).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct C2dConfig {
    /// `defaultTtlAsIso8601`: 1 min..=2 days, default 1 h.
    pub default_ttl: SimDuration,
    /// `maxDeliveryCount`: 1..=100, default 10.
    pub max_delivery_count: u8,
    /// Lock of a delivered, not yet completed message: 1 minute.
    pub lock_timeout: SimDuration,
}

impl Default for C2dConfig {
    fn default() -> Self {
        C2dConfig {
            default_ttl: SimDuration::from_hours(1),
            max_delivery_count: 10,
            lock_timeout: SimDuration::from_mins(1),
        }
    }
}

/// Everything a hub is created with.
#[derive(Debug, Clone, PartialEq)]
pub struct HubConfig {
    /// Hub name; the host is `{name}.azure-devices.net`.
    pub name: String,
    pub tier: Tier,
    pub units: u32,
    /// Built-in endpoint partitions: 1..=32 (reference §1.3), 4 usually enough.
    pub partitions: u8,
    pub epoch: Epoch,
    pub shaping: Shaping,
    pub routes: Vec<RouteConfig>,
    pub endpoints: Vec<EndpointConfig>,
    /// Send messages matching no route to the built-in endpoint.
    pub fallback: bool,
    pub enrichments: Vec<EnrichmentConfig>,
    pub c2d: C2dConfig,
    /// How often the hub checks keep-alives, token expiry, C2D locks and TTLs; a check is
    /// at most this late **[simplification]** (the reference notes connection state may lag
    /// by up to 5 minutes anyway, §1.4).
    pub sweep_interval: SimDuration,
    /// Messages each endpoint partition retains at most (memory bound at fleet scale).
    pub partition_capacity: usize,
    /// Retention of endpoint messages (1 day **[UNCONFIRMED]**, reference §1.3).
    pub retention: SimDuration,
}

impl HubConfig {
    /// An S1 hub with one unit, 4 partitions, fallback on, no custom routes.
    pub fn s1(name: &str) -> HubConfig {
        HubConfig {
            name: name.to_string(),
            tier: Tier::S1,
            units: 1,
            partitions: 4,
            epoch: Epoch::DEFAULT,
            shaping: Shaping::default(),
            routes: Vec::new(),
            endpoints: Vec::new(),
            fallback: true,
            enrichments: Vec::new(),
            c2d: C2dConfig::default(),
            sweep_interval: SimDuration::from_secs(10),
            partition_capacity: 1 << 20,
            retention: SimDuration::from_hours(24),
        }
    }
}

/// A configuration value was wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("hub `{hub}`: {field} = {value}; expected {expected}")]
    Field {
        hub: String,
        field: &'static str,
        value: String,
        expected: String,
    },
    #[error("hub `{hub}`, route `{route}`: {source}")]
    Condition {
        hub: String,
        route: String,
        source: ConditionError,
    },
    #[error("hub `{hub}`: {what} names endpoint `{endpoint}`, which is not `events` or a custom endpoint")]
    UnknownEndpoint {
        hub: String,
        what: String,
        endpoint: String,
    },
}

/// A route in runtime form.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub condition: Condition,
    pub endpoint_mask: u32,
}

/// An enrichment value in runtime form.
#[derive(Debug, Clone)]
pub(crate) enum EnrichValue {
    Static(std::sync::Arc<str>),
    Twin(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Enrichment {
    pub key: std::sync::Arc<str>,
    pub value: EnrichValue,
    pub endpoint_mask: u32,
}

fn field_err(hub: &str, field: &'static str, value: impl ToString, expected: &str) -> ConfigError {
    ConfigError::Field {
        hub: hub.to_string(),
        field,
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

/// Validated routing tables.
pub(crate) struct Compiled {
    pub endpoint_names: Vec<String>,
    pub routes: Vec<Route>,
    pub enrichments: Vec<Enrichment>,
}

impl HubConfig {
    pub(crate) fn compile(&self) -> Result<Compiled, ConfigError> {
        let h = &self.name;
        if h.is_empty() || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(field_err(h, "name", h, "a non-empty DNS label"));
        }
        if self.units == 0 || self.units > self.tier.units_max() {
            return Err(field_err(
                h,
                "units",
                self.units,
                &format!("1..={} for {:?}", self.tier.units_max(), self.tier),
            ));
        }
        if !(1..=32).contains(&self.partitions) {
            return Err(field_err(h, "partitions", self.partitions, "1..=32"));
        }
        let free = self.tier == Tier::F1;
        let (ep_max, route_max, enrich_max) = if free { (1, 5, 2) } else { (10, 100, 10) };
        if self.endpoints.len() > ep_max {
            return Err(field_err(
                h,
                "endpoints",
                self.endpoints.len(),
                &format!("at most {ep_max} custom endpoints"),
            ));
        }
        if self.routes.len() > route_max {
            return Err(field_err(
                h,
                "routes",
                self.routes.len(),
                &format!("at most {route_max}"),
            ));
        }
        if self.enrichments.len() > enrich_max {
            return Err(field_err(
                h,
                "enrichments",
                self.enrichments.len(),
                &format!("at most {enrich_max}"),
            ));
        }
        let ttl = self.c2d.default_ttl;
        if ttl < SimDuration::from_mins(1) || ttl > SimDuration::from_hours(48) {
            return Err(field_err(
                h,
                "c2d.default_ttl",
                format!("{ttl:?}"),
                "1 min..=2 days",
            ));
        }
        if !(1..=100).contains(&self.c2d.max_delivery_count) {
            return Err(field_err(
                h,
                "c2d.max_delivery_count",
                self.c2d.max_delivery_count,
                "1..=100",
            ));
        }
        if self.sweep_interval.is_zero() {
            return Err(field_err(h, "sweep_interval", "0s", "a positive duration"));
        }
        let mut endpoint_names = vec!["events".to_string()];
        for e in &self.endpoints {
            if endpoint_names.contains(&e.name) {
                return Err(field_err(
                    h,
                    "endpoints.name",
                    &e.name,
                    "a unique name other than `events`",
                ));
            }
            if !(1..=32).contains(&e.partitions) {
                return Err(field_err(h, "endpoints.partitions", e.partitions, "1..=32"));
            }
            endpoint_names.push(e.name.clone());
        }
        let mask = |what: String, names: &[String]| -> Result<u32, ConfigError> {
            let mut m = 0;
            for n in names {
                let i = endpoint_names.iter().position(|e| e == n).ok_or_else(|| {
                    ConfigError::UnknownEndpoint {
                        hub: h.clone(),
                        what: what.clone(),
                        endpoint: n.clone(),
                    }
                })?;
                m |= 1 << i;
            }
            Ok(m)
        };
        let mut routes = Vec::new();
        for r in &self.routes {
            let condition =
                Condition::parse(&r.condition).map_err(|source| ConfigError::Condition {
                    hub: h.clone(),
                    route: r.name.clone(),
                    source,
                })?;
            routes.push(Route {
                condition,
                endpoint_mask: mask(format!("route `{}`", r.name), &r.endpoints)?,
            });
        }
        let mut enrichments = Vec::new();
        for e in &self.enrichments {
            if e.key.is_empty()
                || !e
                    .key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                return Err(field_err(
                    h,
                    "enrichments.key",
                    &e.key,
                    "alphanumerics and - _ .",
                ));
            }
            let value = if e.value == "$iothubname" {
                EnrichValue::Static(self.name.as_str().into())
            } else if let Some(path) = e.value.strip_prefix("$twin.") {
                EnrichValue::Twin(path.to_string())
            } else {
                EnrichValue::Static(e.value.as_str().into())
            };
            enrichments.push(Enrichment {
                key: e.key.as_str().into(),
                value,
                endpoint_mask: mask(format!("enrichment `{}`", e.key), &e.endpoints)?,
            });
        }
        Ok(Compiled {
            endpoint_names,
            routes,
            enrichments,
        })
    }
}
