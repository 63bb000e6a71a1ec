//! Resolving a checked scenario file against the registry: each class's kind builds its
//! object, the telemetry declarations become the wire schemas and the store's columns, the
//! radios become links, and the sections become a [`WorldConfig`].

use super::{ClassEntry, InvariantEntry, SolutionFile};
use crate::app::{App, CommandKind};
use crate::class::DeviceClass;
use crate::load::FieldError;
use crate::registry::{AppBuild, ClassBuild, Registry};
use crate::world::notify::{ChannelDelivery, CHANNELS};
use crate::world::service::Scheduled;
use crate::world::{
    BackendConfig, ClassConfig, CrashFault, IdPattern, InvariantSpec, NetworkConfig, Outage,
    WorldConfig,
};
use dps::{AllocationPolicy, DpsConfig, LinkedHub};
use firmware::{FirmwareConfig, OverflowPolicy};
use hardware::radio::RadioProfile;
use hub::{EndpointConfig, EnrichmentConfig, HubConfig, RouteConfig, Tier};
use iot_messages::telemetry::{SchemaSet, TelemetrySchema};
use iot_messages::SubFilters;
use sim::net::{Latency, LinkProfile};
use sim::{Dist, Epoch, Ratio, Seed, SimDuration, SimTime};
use std::sync::Arc;
use store::{ColumnSpec, Schema};

/// A resolved scenario: the world's configuration, one object per class, and the apps.
pub struct Resolved {
    pub world: WorldConfig,
    pub classes: Vec<Box<dyn DeviceClass>>,
    pub apps: Vec<(String, Box<dyn App>)>,
}

fn hours(h: f64) -> SimDuration {
    SimDuration::from_secs_f64(h * 3_600.0)
}

/// The hub host `hub.name` and index give (`<name>-<i>.azure-devices.net`).
fn hub_name(file: &SolutionFile, i: u32) -> String {
    format!("{}-{i}", file.hub.name)
}

fn allocation(file: &SolutionFile, v: &str) -> AllocationPolicy {
    match v
        .strip_prefix("static:")
        .and_then(|i| i.parse::<u32>().ok())
    {
        Some(i) => AllocationPolicy::Static {
            hub: format!("{}.azure-devices.net", hub_name(file, i)),
        },
        None => AllocationPolicy::Hashed,
    }
}

/// Resolves a file that passed [`crate::load::Validate`].
pub fn resolve(file: &SolutionFile, registry: &Registry) -> Result<Resolved, FieldError> {
    let epoch = Epoch::parse_rfc3339(&file.scenario.epoch)
        .ok_or_else(|| FieldError::new("scenario.epoch", "unparsable"))?;
    let seed = Seed(file.scenario.seed);
    let schemas = SchemaSet::new(
        file.classes
            .iter()
            .map(|c| telemetry_schema(c, registry))
            .collect::<Result<_, _>>()?,
    );
    let fields = file
        .classes
        .iter()
        .map(|c| field_names(c, registry))
        .collect::<Result<Vec<_>, _>>()?;
    let models = super::models::class_models(file, registry, &fields)?;
    let mut classes = Vec::new();
    let mut objects = Vec::new();
    for ((i, c), model) in file.classes.iter().enumerate().zip(models) {
        let (mut cfg, object) = resolve_class(file, registry, c, i, &schemas, seed, epoch)?;
        cfg.firmware.model_id = model.as_ref().map(|m| m.interface.id.clone());
        cfg.model = model;
        classes.push(cfg);
        objects.push(object);
    }
    let backend_class = file
        .classes
        .iter()
        .position(|c| c.name == file.backend.class)
        .unwrap_or(0);
    let world = WorldConfig {
        seed: file.scenario.seed,
        epoch,
        duration: hours(file.scenario.duration_h),
        classes,
        hubs: hubs(file, epoch)?,
        dps: dps(file, epoch),
        network: NetworkConfig {
            devices_per_tower: file.network.devices_per_tower,
            outages: file
                .faults
                .outages
                .iter()
                .map(|o| Outage {
                    start: SimTime::ZERO + hours(o.start_h),
                    duration: SimDuration::from_secs_f64(o.duration_min * 60.0),
                    towers: o.towers,
                })
                .collect(),
            tcp_rto: SimDuration::from_millis(file.network.tcp_rto_ms),
            tcp_max_retries: file.network.tcp_max_retries,
        },
        crashes: file
            .faults
            .crashes
            .iter()
            .map(|c| CrashFault {
                ratio: Ratio::new(c.ratio).expect("checked"),
                at: SimTime::ZERO + hours(c.at_h),
                downtime: SimDuration::from_secs_f64(c.downtime_min * 60.0),
                class: file.classes.iter().position(|k| k.name == c.class),
            })
            .collect(),
        hardware_faults: hardware_faults(file, registry, seed)?,
        clock_faults: clock_faults(file, seed),
        backend: backend(file, registry, backend_class)?,
        score_grace: SimDuration::from_mins(file.scoring.grace_min),
        invariants: file.invariants.iter().map(|e| invariant(file, e)).collect(),
        sample_interval: SimDuration::from_mins(15),
        schedule: schedule(file, seed)?,
        notifiers: notifiers(file)?,
        gateways: super::edge::gateways(file, &schemas)?,
        uplink_faults: uplink_faults(file, seed),
    };
    let apps = file
        .apps
        .iter()
        .map(|a| {
            let kind = registry.app(&a.kind).ok_or_else(|| {
                FieldError::new(
                    format!("apps.{}.kind", a.name),
                    format!(
                        "{:?}: no such app kind; registered: {}",
                        a.kind,
                        registry.app_names()
                    ),
                )
            })?;
            let build = AppBuild {
                seed,
                epoch,
                name: &a.name,
                params: &a.params,
            };
            Ok((a.name.clone(), (kind.build)(&build)?))
        })
        .collect::<Result<_, FieldError>>()?;
    Ok(Resolved {
        world,
        classes: objects,
        apps,
    })
}

/// The `[[commands]]` entries with their devices picked ([`select`]).
fn schedule(file: &SolutionFile, seed: Seed) -> Result<Vec<Scheduled>, FieldError> {
    let mut out = Vec::new();
    for (i, e) in file.commands.iter().enumerate() {
        let class = file
            .classes
            .iter()
            .find(|c| c.name == e.class)
            .expect("checked");
        let key = sim::StreamKey::new("commands", i as u64, "select");
        let devices = select(seed, key, e.ratio, class.count, &e.devices);
        let payload = serde_json::to_value(&e.payload)
            .map_err(|err| FieldError::new(format!("commands[{i}].payload"), err.to_string()))?;
        let bytes: Arc<[u8]> = serde_json::to_vec(&payload)
            .expect("JSON serialises")
            .into();
        let kind = match e.kind.as_str() {
            "method" => CommandKind::Method {
                name: e.name.as_str().into(),
                payload: bytes,
                response_timeout_s: e.timeout_s,
                connect_timeout_s: 0,
            },
            "c2d" => CommandKind::C2d {
                body: bytes,
                ttl_s: None,
                feedback: true,
            },
            _ => CommandKind::Desired { patch: payload },
        };
        out.push(Scheduled {
            at: SimTime::ZERO + hours(e.at_h),
            class: e.class.clone(),
            devices,
            kind,
        });
    }
    Ok(out)
}

/// Each channel's delivery: the file's entry for it, or the default.
fn notifiers(file: &SolutionFile) -> Result<[ChannelDelivery; 3], FieldError> {
    let mut out = CHANNELS.map(ChannelDelivery::default_for);
    for (i, n) in file.backend.notifiers.iter().enumerate() {
        let c = match n.channel.as_str() {
            "email" => 0,
            "sms" => 1,
            _ => 2,
        };
        out[c] = ChannelDelivery {
            latency_ms: Dist::lognormal_median_p99(n.latency_ms_median, n.latency_ms_p99).map_err(
                |e| {
                    FieldError::new(
                        format!("backend.notifiers[{i}].latency_ms_p99"),
                        e.to_string(),
                    )
                },
            )?,
            loss: Ratio::new(n.loss_ratio).expect("checked"),
        };
    }
    Ok(out)
}

/// The wire schema of class `c`: its declared fields (or its kind's), then the timestamp.
fn telemetry_schema(c: &ClassEntry, registry: &Registry) -> Result<TelemetrySchema, FieldError> {
    let fields = field_names(c, registry)?;
    let mut all: Vec<&str> = fields.iter().map(String::as_str).collect();
    all.push(&c.telemetry.timestamp);
    TelemetrySchema::new(&c.name, &all, &[]).map_err(|e| {
        FieldError::new(
            format!("classes.{}.telemetry.fields", c.name),
            e.to_string(),
        )
    })
}

/// The telemetry fields of class `c` in order: the file's declaration, checked against what
/// its kind samples, or the kind's own when the file declares none.
fn field_names(c: &ClassEntry, registry: &Registry) -> Result<Vec<String>, FieldError> {
    let kind = registry.class(&c.kind).ok_or_else(|| {
        FieldError::new(
            format!("classes.{}.kind", c.name),
            format!(
                "{:?}: no such class kind; registered: {}",
                c.kind,
                registry.class_names()
            ),
        )
    })?;
    let declared: Vec<String> = c.telemetry.fields.iter().map(|f| f.name.clone()).collect();
    match &kind.samples {
        None if declared.is_empty() => Err(FieldError::new(
            format!("classes.{}.telemetry.fields", c.name),
            format!(
                "kind {:?} samples the fields its file declares; expected at least one field",
                c.kind
            ),
        )),
        None => Ok(declared),
        Some(own) if declared.is_empty() => Ok(own.clone()),
        Some(own) => {
            if let Some(i) =
                (0..declared.len().max(own.len())).find(|&i| declared.get(i) != own.get(i))
            {
                let at = if i < declared.len() {
                    format!("classes.{}.telemetry.fields[{i}].name", c.name)
                } else {
                    format!("classes.{}.telemetry.fields", c.name)
                };
                return Err(FieldError::new(
                    at,
                    format!(
                        "{}: kind {:?} samples {} (in this order)",
                        declared
                            .get(i)
                            .map_or("a missing field".to_string(), |d| format!("{d:?}")),
                        c.kind,
                        own.join(", ")
                    ),
                ));
            }
            Ok(declared)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn resolve_class(
    file: &SolutionFile,
    registry: &Registry,
    c: &ClassEntry,
    index: usize,
    schemas: &SchemaSet,
    seed: Seed,
    epoch: Epoch,
) -> Result<(ClassConfig, Box<dyn DeviceClass>), FieldError> {
    let f = |key: &str| format!("classes.{}.{key}", c.name);
    let kind = registry.class(&c.kind).expect("checked by field_names");
    let fields = field_names(c, registry)?;
    let radio = RadioProfile::named(&c.link.radio).expect("checked");
    let build = ClassBuild {
        seed,
        epoch,
        name: &c.name,
        count: c.count,
        telemetry: &fields,
        radio: &radio,
        params: &c.params,
    };
    let object = (kind.build)(&build)?;
    if object.len() != c.count {
        return Err(FieldError::new(
            f("count"),
            format!(
                "{}: kind {:?} built {} devices (a bug in the class)",
                c.count,
                c.kind,
                object.len()
            ),
        ));
    }
    let ids = if c.ids.is_empty() {
        format!("{}-{{index:07}}", c.name)
    } else {
        c.ids.clone()
    };
    let group_key = if c.enrollment.group_key.is_empty() {
        format!("fleetsim {} enrollment group key", c.name)
    } else {
        c.enrollment.group_key.clone()
    };
    let cfg = ClassConfig {
        name: c.name.clone(),
        count: c.count,
        ids: IdPattern::parse(&ids).map_err(|e| FieldError::new(f("ids"), e.to_string()))?,
        firmware: firmware(file, c, index, schemas, epoch)?,
        boot_window: SimDuration::from_secs(c.boot_window_s),
        provisioned_ratio: Ratio::new(c.provisioned_ratio).expect("checked"),
        group_key: group_key.into_bytes(),
        allocation: (!c.enrollment.allocation.is_empty())
            .then(|| allocation(file, &c.enrollment.allocation)),
        initial_twin: c
            .enrollment
            .initial_twin
            .as_ref()
            .map(|t| serde_json::to_value(t).expect("TOML converts to JSON")),
        link: link(c, &radio)?,
        radio: radio.clone(),
        fields: fields.clone(),
        stream: c.name.clone(),
        timestamp_field: fields.len(),
        model: None,
    };
    Ok((cfg, object))
}

fn firmware(
    file: &SolutionFile,
    c: &ClassEntry,
    index: usize,
    schemas: &SchemaSet,
    epoch: Epoch,
) -> Result<FirmwareConfig, FieldError> {
    let t = &c.telemetry;
    let w = &c.firmware;
    let interval = SimDuration::from_secs(t.interval_s.max(1));
    let mut fw = FirmwareConfig::new(&file.dps.id_scope, schemas.clone(), interval);
    fw.schema = index as u16;
    fw.periodic = t.interval_s > 0;
    fw.epoch = epoch;
    fw.telemetry_jitter = SimDuration::from_secs(t.jitter_s);
    fw.buffer_capacity = w.buffer_capacity;
    fw.overflow = if w.overflow == "drop_newest" {
        OverflowPolicy::DropNewest
    } else {
        OverflowPolicy::DropOldest
    };
    fw.keep_alive_s = w.keep_alive_s;
    fw.token_ttl = SimDuration::from_mins(w.token_ttl_min);
    fw.token_renew_before = SimDuration::from_mins((w.token_ttl_min / 12).max(1));
    let mut subs = SubFilters::default();
    for s in &w.subscriptions {
        subs = subs.union(match s.as_str() {
            "c2d" => SubFilters::C2D,
            "twin" => SubFilters::TWIN_RES.union(SubFilters::TWIN_DESIRED),
            _ => SubFilters::METHODS,
        });
    }
    fw.subscriptions = subs;
    fw.validate()
        .map_err(|e| FieldError::new(format!("classes.{}.firmware", c.name), e.to_string()))?;
    Ok(fw)
}

/// The class's link: its radio's profile at its distance, with the file's overrides.
fn link(c: &ClassEntry, radio: &RadioProfile) -> Result<LinkProfile, FieldError> {
    let l = &c.link;
    let mut p = radio.link_profile(l.distance_m, 64);
    if let Some(ms) = l.latency_ms_min {
        p.latency.min = SimDuration::from_secs_f64(ms / 1_000.0);
    }
    if let (Some(m), Some(p99)) = (l.latency_ms_median_extra, l.latency_ms_p99_extra) {
        p.latency = Latency {
            min: p.latency.min,
            jitter_ms: Dist::lognormal_median_p99(m, p99).map_err(|e| {
                FieldError::new(
                    format!("classes.{}.link.latency_ms_median_extra", c.name),
                    e.to_string(),
                )
            })?,
        };
    }
    if let Some(loss) = l.loss_ratio {
        p.loss = Ratio::new(loss).expect("checked");
    } else if p.loss.get() > 0.5 {
        // A radio out of its range loses nearly everything: say so rather than run a fleet
        // that never connects.
        return Err(FieldError::new(
            format!("classes.{}.link.distance_m", c.name),
            format!(
                "{} m: a {} link loses {:.0}% of its packets at this distance; expected a distance within the radio's range (or set `link.loss_ratio`)",
                l.distance_m,
                l.radio,
                100.0 * p.loss.get()
            ),
        ));
    }
    match l.bitrate_bps {
        // No serialisation delay and no transmit FIFO.
        Some(0) => {
            p.bandwidth_bps = None;
            p.queue_capacity_bytes = 0;
        }
        Some(bps) => p.bandwidth_bps = Some(bps),
        None => {}
    }
    Ok(p)
}

fn hubs(file: &SolutionFile, epoch: Epoch) -> Result<Vec<HubConfig>, FieldError> {
    let h = &file.hub;
    let tier = Tier::parse(&h.tier).expect("checked");
    (0..h.count)
        .map(|i| {
            let mut hc = HubConfig::s1(&hub_name(file, i));
            hc.tier = tier;
            hc.units = h.units;
            hc.partitions = h.partitions;
            hc.epoch = epoch;
            // The back end reads every few seconds; a minute or so of messages per partition
            // is plenty of replay buffer and bounds memory at a million devices.
            hc.partition_capacity = 1 << 16;
            hc.fallback = h.fallback;
            hc.routes = h
                .routes
                .iter()
                .map(|r| RouteConfig {
                    name: r.name.clone(),
                    condition: r.condition.clone(),
                    endpoints: r.endpoints.clone(),
                })
                .collect();
            hc.endpoints = h
                .endpoints
                .iter()
                .map(|e| EndpointConfig {
                    name: e.name.clone(),
                    partitions: e.partitions,
                })
                .collect();
            hc.enrichments = h
                .enrichments
                .iter()
                .map(|e| EnrichmentConfig {
                    key: e.key.clone(),
                    value: e.value.clone(),
                    endpoints: e.endpoints.clone(),
                })
                .collect();
            hc.c2d.default_ttl = SimDuration::from_secs(h.c2d_ttl_s);
            hc.c2d.max_delivery_count = h.c2d_max_delivery_count;
            // The hub's own checks (routes, endpoints, enrichments against the tier) run now,
            // so the error points at the hub section.
            hub::Hub::new(hc.clone(), SchemaSet::default())
                .map_err(|e| FieldError::new("hub", e.to_string()))?;
            Ok(hc)
        })
        .collect()
}

fn dps(file: &SolutionFile, epoch: Epoch) -> DpsConfig {
    let linked = (0..file.hub.count)
        .map(|i| LinkedHub {
            host: format!("{}.azure-devices.net", hub_name(file, i)),
            weight: 1,
            apply_allocation_policy: true,
            region: 0,
        })
        .collect();
    let mut dps = DpsConfig::new(&file.dps.id_scope, linked);
    dps.epoch = epoch;
    dps.units = file.dps.units;
    dps.default_policy = allocation(file, &file.dps.allocation);
    dps
}

fn backend(
    file: &SolutionFile,
    registry: &Registry,
    rules_class: usize,
) -> Result<BackendConfig, FieldError> {
    let schemas = file
        .classes
        .iter()
        .map(|c| store_schema(c, registry))
        .collect::<Result<_, _>>()?;
    let mut store = file.store.clone();
    // The back end takes each reading as it is indexed (`index_next`), not from the change
    // feed.
    store.change_feed = false;
    store.partitions = store.partitions.max(u16::from(file.hub.partitions));
    Ok(BackendConfig {
        schemas,
        rules_class,
        store,
        analytics: file.analytics.clone(),
        poll: SimDuration::from_secs(file.backend.poll_s),
    })
}

/// Class `c`'s store columns: its telemetry fields at their declared resolutions.
fn store_schema(c: &ClassEntry, registry: &Registry) -> Result<Schema, FieldError> {
    let columns: Vec<ColumnSpec> = field_names(c, registry)?
        .into_iter()
        .map(|name| ColumnSpec {
            resolution: c
                .telemetry
                .fields
                .iter()
                .find(|f| f.name == name)
                .and_then(|f| f.resolution),
            name,
        })
        .collect();
    Schema::new(&columns).map_err(|e| {
        FieldError::new(
            format!("classes.{}.telemetry.fields", c.name),
            e.to_string(),
        )
    })
}

fn invariant(file: &SolutionFile, e: &InvariantEntry) -> InvariantSpec {
    match e {
        InvariantEntry::AlertLatency { rule, p99_s_max } => InvariantSpec::AlertLatency {
            rule: rule.clone(),
            p99_max: SimDuration::from_secs_f64(*p99_s_max),
        },
        InvariantEntry::TelemetryLatency { p99_ms_max } => InvariantSpec::TelemetryLatency {
            p99_ms_max: *p99_ms_max,
        },
        InvariantEntry::MethodsAnswered { min } => InvariantSpec::MethodsAnswered { min: *min },
        InvariantEntry::TwinsConverged { class, min } => InvariantSpec::TwinsConverged {
            class: file
                .classes
                .iter()
                .position(|c| &c.name == class)
                .expect("checked"),
            min: *min,
        },
        InvariantEntry::NotificationsDelivered { min } => {
            InvariantSpec::NotificationsDelivered { min: *min }
        }
        InvariantEntry::Figure {
            of,
            figure,
            min,
            max,
        } => InvariantSpec::Figure {
            of: of.clone(),
            figure: figure.clone(),
            min: *min,
            max: *max,
        },
        InvariantEntry::StatesConverged {
            class,
            app,
            after_s,
            window_s,
            min,
        } => InvariantSpec::StatesConverged {
            class: file
                .classes
                .iter()
                .position(|c| &c.name == class)
                .expect("checked"),
            app: app.clone(),
            after: SimDuration::from_secs_f64(*after_s),
            window: SimDuration::from_secs_f64(*window_s),
            min: *min,
        },
        InvariantEntry::Recall {
            rule,
            min,
            min_age_h,
        } => InvariantSpec::Recall {
            rule: rule.clone(),
            min: *min,
            min_age: hours(*min_age_h),
        },
        InvariantEntry::NoAlertWithoutEpisode { rule } => {
            InvariantSpec::NoAlertWithoutEpisode { rule: rule.clone() }
        }
        InvariantEntry::FlaggedBeforeEnd { rule } => {
            InvariantSpec::FlaggedBeforeEnd { rule: rule.clone() }
        }
    }
}

/// The file's `[[faults.hardware]]`: each names a fault its class's kind models, on the listed
/// devices or on exactly `round(ratio × count)` of them picked from the seed.
fn hardware_faults(
    file: &SolutionFile,
    registry: &Registry,
    seed: Seed,
) -> Result<Vec<crate::world::HardwareFault>, FieldError> {
    let mut out = Vec::new();
    for (i, h) in file.faults.hardware.iter().enumerate() {
        let c = file
            .classes
            .iter()
            .position(|k| k.name == h.class)
            .expect("checked");
        let class = &file.classes[c];
        let kind = registry.class(&class.kind).expect("resolved before");
        if !kind.fault_list().iter().any(|(n, _)| *n == h.fault) {
            let known: Vec<&str> = kind.fault_list().iter().map(|(n, _)| n.as_str()).collect();
            return Err(FieldError::new(
                format!("faults.hardware[{i}].fault"),
                format!(
                    "{:?}: kind {} of class {:?} models {}",
                    h.fault,
                    class.kind,
                    class.name,
                    if known.is_empty() {
                        "no hardware faults".to_string()
                    } else {
                        format!("only {}", known.join(", "))
                    }
                ),
            ));
        }
        let key = sim::StreamKey::new("hardware-fault", i as u64, "pick");
        let devices = select(seed, key, h.ratio, class.count, &h.devices);
        let start = SimTime::ZERO + hours(h.at_h);
        out.push(crate::world::HardwareFault {
            class: c,
            fault: h.fault.clone(),
            devices,
            start,
            end: start + SimDuration::from_secs_f64(h.duration_min * 60.0),
        });
    }
    Ok(out)
}

/// The file's `[[faults.clock]]`: each steps and drifts the clocks of the listed devices or of
/// exactly `round(ratio × count)` of them picked from the seed.
fn clock_faults(file: &SolutionFile, seed: Seed) -> Vec<crate::world::ClockFault> {
    file.faults
        .clock
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let class = file
                .classes
                .iter()
                .position(|k| k.name == e.class)
                .expect("checked");
            let key = sim::StreamKey::new("clock-fault", i as u64, "pick");
            crate::world::ClockFault {
                class,
                devices: select(seed, key, e.ratio, file.classes[class].count, &e.devices),
                at: SimTime::ZERO + hours(e.at_h),
                drift_ppm: e.drift_ppm,
                step_ns: (e.step_s * 1e9).round() as i64,
            }
        })
        .collect()
}

/// The file's `[[faults.uplinks]]`, with their devices picked ([`select`]).
fn uplink_faults(file: &SolutionFile, seed: Seed) -> Vec<super::edge::UplinkFault> {
    file.faults
        .uplinks
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let class = file
                .classes
                .iter()
                .position(|k| k.name == u.class)
                .expect("checked");
            let key = sim::StreamKey::new("uplink-fault", i as u64, "pick");
            let start = SimTime::ZERO + hours(u.at_h);
            super::edge::UplinkFault {
                class,
                devices: select(seed, key, u.ratio, file.classes[class].count, &u.devices),
                start,
                end: start + SimDuration::from_secs_f64(u.duration_min * 60.0),
            }
        })
        .collect()
}

/// The devices an entry selects, ascending: the `listed` indices (duplicates once) or, when
/// none are listed, exactly `round(ratio × count)` of the class's `count` picked from the
/// entry's own stream `key`.
fn select(seed: Seed, key: sim::StreamKey<'_>, ratio: f64, count: u32, listed: &[u32]) -> Vec<u32> {
    if listed.is_empty() {
        let k = (ratio * f64::from(count)).round() as u32;
        let mask = sim::rng::pick_exactly(&mut seed.compact(key), count, k);
        (0..count).filter(|&d| mask[d as usize]).collect()
    } else {
        let mut d = listed.to_vec();
        d.sort_unstable();
        d.dedup();
        d
    }
}
