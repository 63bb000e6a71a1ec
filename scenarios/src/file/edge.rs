//! IoT Edge in a scenario file (reference §3): a class whose entry has an `edge` table is a
//! class of IoT Edge gateways; a class whose `gateway` names it reaches IoT Hub through them,
//! each device through one gateway (its parent). `[[faults.uplinks]]` cuts devices' own
//! links to the cloud, which for a gateway is the site's uplink: its children still reach it.

use super::check::ratio;
use super::SolutionFile;
use crate::load::FieldError;
use edge::{EdgeConfig, EdgeHubs, RouteSpec};
use iot_messages::telemetry::SchemaSet;
use serde::{Deserialize, Serialize};
use sim::{SimDuration, SimTime};

/// `classes[].edge`: the deployment manifest's `$edgeHub` desired properties and the local
/// modules.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EdgeSection {
    /// `storeAndForwardConfiguration.timeToLiveSecs`.
    pub ttl_s: u64,
    /// Messages one gateway's store holds at most.
    pub capacity: u32,
    /// Children connected to one gateway at once (`MaxConnectedClients`).
    pub max_clients: u32,
    /// Messages in flight upstream at once.
    pub window: u16,
    pub routes: Vec<RouteEntry>,
    pub modules: Vec<ModuleEntry>,
}

impl Default for EdgeSection {
    fn default() -> Self {
        EdgeSection {
            ttl_s: edge::DEFAULT_TTL.as_secs(),
            capacity: 100_000,
            max_clients: edge::DEFAULT_MAX_CLIENTS,
            window: 16,
            routes: vec![RouteEntry {
                route: "FROM /messages/* INTO $upstream".into(),
                priority: 0,
                ttl_s: None,
            }],
            modules: Vec::new(),
        }
    }
}

/// One edgeHub route (schema 1.1: the route text, its priority and time-to-live).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteEntry {
    pub route: String,
    #[serde(default)]
    pub priority: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_s: Option<u64>,
}

/// A local rule module: it runs the named `[[analytics.rules]]` on what the routes send to
/// its inputs, and raises its alerts on the gateway itself (a siren, a local display).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleEntry {
    pub name: String,
    pub rules: Vec<String>,
}

/// `[[faults.uplinks]]`: from `at_h` for `duration_min`, the listed devices of a class (or
/// `round(ratio × count)` of them) lose their own link to the cloud.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UplinkFaultEntry {
    pub at_h: f64,
    pub duration_min: f64,
    pub class: String,
    #[serde(default = "all")]
    pub ratio: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<u32>,
}

fn all() -> f64 {
    1.0
}

/// One class of gateways as the world runs it.
#[derive(Clone, Debug)]
pub struct GatewaySpec {
    /// The class whose devices are the gateways.
    pub class: usize,
    /// The classes behind them.
    pub children: Vec<usize>,
    pub edge: EdgeConfig,
    /// Per module (in [`EdgeHubs::modules`] order: by input), its rule indices in
    /// `analytics.rules`, and its name.
    pub modules: Vec<(String, Vec<usize>)>,
}

/// Devices of class `c` whose link to the cloud is cut from `start` to `end`.
#[derive(Clone, Debug, PartialEq)]
pub struct UplinkFault {
    pub class: usize,
    pub devices: Vec<u32>,
    pub start: SimTime,
    pub end: SimTime,
}

fn bad(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError::new(field, message)
}

/// The gateway of child `i` of a class of `n` behind `gateways` gateways: contiguous blocks,
/// as neighbouring devices share a site.
pub fn parent_of(i: u32, n: u32, gateways: u32) -> u32 {
    (u64::from(i) * u64::from(gateways) / u64::from(n.max(1))) as u32
}

/// What serde cannot check: names, nesting, the client limit.
pub(crate) fn check(file: &SolutionFile) -> Result<(), FieldError> {
    for c in &file.classes {
        let f = |k: &str| format!("classes.{}.{k}", c.name);
        if let Some(e) = &c.edge {
            if !c.gateway.is_empty() {
                return Err(bad(
                    f("gateway"),
                    "an IoT Edge class behind another gateway (nested edge) is not modelled",
                ));
            }
            // §3: timeToLiveSecs is at most about 2^31.
            if e.ttl_s == 0 || e.ttl_s > i32::MAX as u64 {
                return Err(bad(
                    f("edge.ttl_s"),
                    format!("{}: expected 1 to 2^31 - 1 s", e.ttl_s),
                ));
            }
            if c.provisioned_ratio != 1.0 {
                return Err(bad(
                    f("provisioned_ratio"),
                    format!(
                        "{}: a class of gateways must be provisioned before the run (1.0): its children's identities are created with it as their parent",
                        c.provisioned_ratio
                    ),
                ));
            }
            for (m, module) in e.modules.iter().enumerate() {
                for r in &module.rules {
                    if !file.analytics.rules.iter().any(|k| &k.name == r) {
                        return Err(bad(
                            f(&format!("edge.modules[{m}].rules")),
                            format!("{r:?}: expected the name of an [[analytics.rules]] entry"),
                        ));
                    }
                }
            }
        }
        if c.gateway.is_empty() {
            continue;
        }
        let Some(gw) = file.classes.iter().find(|k| k.name == c.gateway) else {
            return Err(bad(f("gateway"), format!("{:?}: no such class", c.gateway)));
        };
        let Some(e) = &gw.edge else {
            return Err(bad(
                f("gateway"),
                format!(
                    "{:?} has no `edge` table: it is not a class of IoT Edge gateways",
                    gw.name
                ),
            ));
        };
        if c.provisioned_ratio != 1.0 {
            return Err(bad(
                f("provisioned_ratio"),
                format!(
                    "{}: a class behind a gateway must be provisioned before the run (1.0): its identity is created with its parent; DPS through a gateway is not modelled",
                    c.provisioned_ratio
                ),
            ));
        }
        if gw.count == 0 {
            return Err(bad(
                format!("classes.{}.count", gw.name),
                "0 gateways for a class behind them",
            ));
        }
        // Every class behind the gateways shares each gateway's client limit.
        let children: u32 = file
            .classes
            .iter()
            .filter(|k| k.gateway == gw.name)
            .map(|k| k.count.div_ceil(gw.count))
            .sum();
        if children > e.max_clients {
            return Err(bad(
                format!("classes.{}.count", gw.name),
                format!(
                    "{} gateways for up to {children} children each, more than edge.max_clients = {} (IoT Edge's MaxConnectedClients, reference §3): add gateways or raise max_clients",
                    gw.count, e.max_clients
                ),
            ));
        }
    }
    for (i, u) in file.faults.uplinks.iter().enumerate() {
        let f = |k: &str| format!("faults.uplinks[{i}].{k}");
        if !(u.at_h.is_finite() && (0.0..=24.0 * 366.0).contains(&u.at_h)) {
            return Err(bad(f("at_h"), format!("{}: expected 0 to a year", u.at_h)));
        }
        if !(u.duration_min.is_finite() && u.duration_min > 0.0 && u.duration_min <= 366.0 * 1440.0)
        {
            return Err(bad(
                f("duration_min"),
                format!("{}: expected more than 0, at most a year", u.duration_min),
            ));
        }
        ratio(&f("ratio"), u.ratio)?;
        let Some(class) = file.classes.iter().find(|k| k.name == u.class) else {
            return Err(bad(f("class"), format!("{:?}: no such class", u.class)));
        };
        if let Some(d) = u.devices.iter().find(|&&d| d >= class.count) {
            return Err(bad(
                f("devices"),
                format!("{d}: the class has {} devices", class.count),
            ));
        }
    }
    Ok(())
}

/// The file's gateway classes, their deployments compiled against the children's schemas.
pub(crate) fn gateways(
    file: &SolutionFile,
    schemas: &SchemaSet,
) -> Result<Vec<GatewaySpec>, FieldError> {
    let mut out = Vec::new();
    for (g, c) in file.classes.iter().enumerate() {
        let Some(e) = &c.edge else { continue };
        let f = |k: &str| format!("classes.{}.edge.{k}", c.name);
        let cfg = EdgeConfig {
            routes: e
                .routes
                .iter()
                .map(|r| RouteSpec {
                    route: r.route.clone(),
                    priority: r.priority,
                    ttl: r.ttl_s.map(SimDuration::from_secs),
                })
                .collect(),
            ttl: SimDuration::from_secs(e.ttl_s),
            capacity: e.capacity,
            max_clients: e.max_clients,
            window: e.window,
        };
        // Compile once here so a bad route is refused with its place in the file.
        let compiled =
            EdgeHubs::new(cfg.clone(), 1, schemas.clone()).map_err(|err| match &err {
                edge::EdgeConfigError::Route { index, error } => {
                    bad(f(&format!("routes[{index}].route")), error.to_string())
                }
                edge::EdgeConfigError::Priority { index, .. } => {
                    bad(f(&format!("routes[{index}].priority")), err.to_string())
                }
                edge::EdgeConfigError::Zero { field } => bad(f(field), err.to_string()),
                edge::EdgeConfigError::Window(_) => bad(f("window"), err.to_string()),
                edge::EdgeConfigError::Modules(_) => bad(f("modules"), err.to_string()),
            })?;
        let mut modules = Vec::new();
        for module in compiled.modules() {
            let Some(entry) = e.modules.iter().find(|m| &m.name == module) else {
                return Err(bad(
                    f("routes"),
                    format!(
                        "a route sends to module {module:?}, which edge.modules does not declare"
                    ),
                ));
            };
            let rules = entry
                .rules
                .iter()
                .map(|r| {
                    file.analytics
                        .rules
                        .iter()
                        .position(|k| &k.name == r)
                        .expect("checked")
                })
                .collect();
            modules.push((module.clone(), rules));
        }
        out.push(GatewaySpec {
            class: g,
            children: file
                .classes
                .iter()
                .enumerate()
                .filter(|(_, k)| k.gateway == c.name)
                .map(|(i, _)| i)
                .collect(),
            edge: cfg,
            modules,
        });
    }
    Ok(out)
}
