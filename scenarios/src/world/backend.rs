//! The back end's built-in apps: it reads every partition of every hub's built-in endpoint
//! (checkpointing as an Event Hubs consumer does, reference §1.5) into a Time Series
//! Insights-style environment with one time-series type per device class (each class's
//! telemetry fields are its columns, reference §4), and runs the rules on each reading of the
//! rules' class as the store indexes it.

use super::{build_err, story, BuildError, SolutionWorld, WorldConfig, BACKEND, BACKEND_POLL};
use crate::app::DeviceRef;
use crate::world::cloud::Cloud;
use crate::world::fleet::Fleet;
use crate::world::service::PendingReading;
use analytics::RuleEngine;
use hub::Consumer;
use iot_messages::telemetry::FIELDS_MAX;
use sim::{Event, Kernel, SimDuration, SimTime};
use store::{DeviceIndex, IngestEvent, StoreStats, TimeSeriesStore};

/// One class's store: its devices are `base..base + len`, keyed in the store by class index.
pub(crate) struct ClassStore {
    base: u32,
    len: u32,
    timestamp_field: usize,
    pub(crate) store: TimeSeriesStore,
}

pub(crate) struct Backend {
    /// Per class, its store (every class has one).
    pub(crate) stores: Vec<ClassStore>,
    /// The class the rules run on.
    rules_class: usize,
    poll: SimDuration,
    /// Unix seconds of the epoch, to turn a reading's timestamp into simulated time.
    ts_origin_s: f64,
    pub(crate) consumers: Vec<Consumer>,
    pub(crate) engine: RuleEngine,
    /// The device templates readings are matched against (IoT Central, §6).
    pub(crate) templates: super::templates::Templates,
}

impl Backend {
    pub(crate) fn new(
        cfg: &WorldConfig,
        cloud: &Cloud,
        fleet: &Fleet,
    ) -> Result<Backend, BuildError> {
        let b = &cfg.backend;
        if b.schemas.len() != fleet.class_count() || b.rules_class >= fleet.class_count() {
            return Err(build_err(
                "backend",
                format!(
                    "{} store schemas and rules on class {} for {} classes",
                    b.schemas.len(),
                    b.rules_class,
                    fleet.class_count()
                ),
            ));
        }
        let mut stores = Vec::with_capacity(b.schemas.len());
        for (c, schema) in b.schemas.iter().enumerate() {
            let store = TimeSeriesStore::new(b.store.clone(), schema.clone(), cfg.epoch)
                .map_err(|e| build_err("store", e))?;
            stores.push(ClassStore {
                base: fleet.base(c),
                len: fleet.class_len(c),
                timestamp_field: cfg.classes[c].timestamp_field,
                store,
            });
        }
        let rules_schema = &b.schemas[b.rules_class];
        let mut engine = RuleEngine::new(&b.analytics, rules_schema, cfg.epoch)
            .map_err(|e| build_err("analytics.rules", e))?;
        engine.reserve_devices(fleet.class_len(b.rules_class) as usize);
        let consumers = cloud
            .hubs
            .iter()
            .map(|h| Consumer::new(0, usize::from(h.config().partitions)))
            .collect();
        Ok(Backend {
            stores,
            rules_class: b.rules_class,
            poll: b.poll,
            ts_origin_s: cfg.epoch.unix_secs() as f64,
            consumers,
            engine,
            templates: super::templates::Templates::new(cfg),
        })
    }

    /// The class the rules run on.
    pub(crate) fn class(&self) -> usize {
        self.rules_class
    }

    /// How many devices the rule engine tracks (the rules' class's).
    pub(crate) fn engine_devices(&self) -> usize {
        self.stores[self.rules_class].len as usize
    }

    /// The stores' statistics, added up.
    pub(crate) fn stats(&self) -> StoreStats {
        let mut total = StoreStats::default();
        for s in &self.stores {
            let st = s.store.stats();
            total.duplicates_dropped += st.duplicates_dropped;
            total.stale_dropped += st.stale_dropped;
            total.aged_out_dropped += st.aged_out_dropped;
            total.backlog_depth += st.backlog_depth;
            total.bytes_received += st.bytes_received;
        }
        total
    }

    /// The store of global device `g`'s class, and `g`'s index in it.
    fn store_of(&self, g: u32) -> Option<(usize, u32)> {
        let c = self
            .stores
            .partition_point(|s| s.base <= g)
            .checked_sub(1)?;
        let local = g - self.stores[c].base;
        (local < self.stores[c].len).then_some((c, local))
    }
}

impl SolutionWorld {
    pub(super) fn on_backend_poll(&mut self, k: &mut Kernel) {
        self.backend_read(k.now());
        self.show_apps(k);
        // What the back end has stored and alerted on enters the trace too.
        k.trace_digest((self.acct.counts.stored << 20) ^ self.backend.engine.alerts().len() as u64);
        k.schedule_in(self.backend.poll, Event::new(BACKEND, BACKEND_POLL, 0));
    }

    /// Reads every partition of every hub's built-in endpoint into the stores, checkpoints,
    /// and runs the stores and the rules.
    fn backend_read(&mut self, now: SimTime) {
        let b = &mut self.backend;
        for h in 0..self.cloud.hubs.len() {
            let hub = &self.cloud.hubs[h];
            let parts = usize::from(hub.config().partitions);
            for part in 0..parts {
                let msgs = b.consumers[h].poll(&hub.endpoints()[0], part, usize::MAX);
                for m in msgs {
                    let hub::Payload::Compact {
                        values, body_len, ..
                    } = m.payload
                    else {
                        continue;
                    };
                    let Some(g) = self.cloud.device_of(h, m.device) else {
                        continue;
                    };
                    let Some((c, local)) = b.store_of(g) else {
                        continue;
                    };
                    if story::watches(&self.story, g) {
                        let detail = format!(
                            "the back end reads reading {} from the hub's endpoint (partition {part}), {} after the hub enqueued it",
                            values.seq,
                            now.saturating_since(m.enqueued)
                        );
                        story::push(&mut self.story, now, g, "read", Some(values.seq), detail);
                    }
                    self.acct.counts.delivered += 1;
                    b.templates.on_reading(hub, h, m.model, c);
                    let cs = &mut b.stores[c];
                    let ts = cs.timestamp_field;
                    let event_time =
                        SimTime::from_nanos(((values.v[ts] - b.ts_origin_s).max(0.0) * 1e9) as u64);
                    let ids = &self.acct.ids;
                    let (to_hub, to_read) = (ids.to_hub_ms, ids.to_read_ms);
                    let metrics = &mut self.acct.metrics;
                    metrics.record(to_hub, m.enqueued.saturating_since(event_time).as_millis());
                    metrics.record(to_read, now.saturating_since(event_time).as_millis());
                    // The store's columns are the reading's fields without its timestamp.
                    let n = usize::from(values.len);
                    let mut columns = [0.0; FIELDS_MAX];
                    let cols: &[f64] = if ts + 1 == n {
                        &values.v[..ts]
                    } else {
                        let mut j = 0;
                        for (f, v) in values.v[..n].iter().enumerate() {
                            if f != ts {
                                columns[j] = *v;
                                j += 1;
                            }
                        }
                        &columns[..j]
                    };
                    let ev = IngestEvent::new(
                        DeviceIndex(local),
                        values.seq,
                        event_time,
                        m.enqueued,
                        cols,
                    );
                    let partition = (part % usize::from(cs.store.config().partitions)) as u16;
                    cs.store
                        .handle_ingest(now, partition, ev, body_len)
                        .expect("partition index within the store's partitions");
                }
                b.consumers[h].checkpoint(part);
            }
        }
        for c in 0..self.backend.stores.len() {
            self.run_store(c, now);
        }
    }

    /// Indexes what is due in class `c`'s store, running the rules on each new reading of the
    /// rules' class as it is indexed, then lets the store enforce retention.
    fn run_store(&mut self, c: usize, now: SimTime) {
        let b = &mut self.backend;
        let rules = c == b.rules_class;
        let cs = &mut b.stores[c];
        let columns = cs.store.schema().len() as u8;
        loop {
            // Start loading the rule state of the device a few readings on, alongside
            // the store's own slot for it (a hint only; no result depends on it).
            if rules {
                if let Some(next) = cs.store.upcoming_due(store::PREFETCH_AHEAD) {
                    b.engine.prefetch(next);
                }
            }
            let Some(ev) = cs.store.index_next(now) else {
                break;
            };
            let g = cs.base + ev.device.0;
            self.acct.on_stored(g, ev.seq);
            let watched = story::watches(&self.story, g);
            if watched {
                let detail = format!(
                    "reading {} stored and queryable, {} after it was sampled: {}",
                    ev.seq,
                    now.saturating_since(ev.event_time),
                    story::values_text(
                        &self.cfg.classes[c].fields,
                        &ev.values[..usize::from(columns)]
                    )
                );
                story::push(&mut self.story, now, g, "stored", Some(ev.seq), detail);
            }
            if self.service.has_apps() {
                self.service.readings.push(PendingReading {
                    device: DeviceRef {
                        class: c as u16,
                        index: ev.device.0,
                    },
                    seq: ev.seq,
                    event_time: ev.event_time,
                    values: ev.values,
                    len: columns,
                });
            }
            let latency = now.saturating_since(ev.event_time);
            self.acct
                .metrics
                .record(self.acct.ids.e2e_ms, latency.as_millis());
            if rules && watched {
                let before = (b.engine.rules_holding(ev.device), b.engine.alerts().len());
                b.engine.handle_event(now, ev);
                story::note_rules(
                    &mut self.story,
                    now,
                    g,
                    ev.seq,
                    &b.engine,
                    ev.device,
                    before,
                );
            } else if rules {
                b.engine.handle_event(now, ev);
            }
        }
        if cs.store.poll_timeout().is_some_and(|t| t <= now) {
            cs.store.handle_timeout(now);
        }
        if rules {
            while let Some(n) = b.engine.poll_notification() {
                let g = cs.base + n.device.0;
                if story::watches(&self.story, g) {
                    let detail = format!("{:?} notification to {}: {}", n.channel, n.to, n.subject);
                    story::push(&mut self.story, now, g, "notified", None, detail);
                }
                self.notifier.handle_notification(now, &n);
            }
        }
    }

    /// After the fleet's last event: the back end reads what is left and the stores index
    /// their whole backlogs (the liveness phase: nothing acknowledged may stay unstored).
    pub(super) fn drain_back_end(&mut self, end: SimTime) {
        self.backend_read(end);
        for c in 0..self.backend.stores.len() {
            while let Some(due) = self.backend.stores[c].store.poll_timeout() {
                if self.backend.stores[c].store.stats().backlog_depth == 0 {
                    break;
                }
                self.run_store(c, due.max(end));
            }
        }
    }
}
