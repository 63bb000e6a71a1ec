//! The back end's built-in apps: it reads every partition of every hub's built-in endpoint
//! (checkpointing as an Event Hubs consumer does, reference §1.5) into a Time Series
//! Insights-style store, and runs the rules on each reading as the store indexes it.

use super::{build_err, BuildError, SolutionWorld, WorldConfig, BACKEND, BACKEND_POLL};
use crate::world::cloud::Cloud;
use analytics::RuleEngine;
use hub::Consumer;
use iot_messages::telemetry::FIELDS_MAX;
use sim::{Event, Kernel, SimDuration, SimTime};
use store::{DeviceIndex, IngestEvent, TimeSeriesStore};

pub(crate) struct Backend {
    /// The class the store holds, and its first global device.
    class: usize,
    class_base: u32,
    class_len: u32,
    timestamp_field: usize,
    poll: SimDuration,
    /// Unix seconds of the epoch, to turn a reading's timestamp into simulated time.
    ts_origin_s: f64,
    pub(crate) consumers: Vec<Consumer>,
    pub(crate) store: TimeSeriesStore,
    pub(crate) engine: RuleEngine,
}

impl Backend {
    pub(crate) fn new(
        cfg: &WorldConfig,
        cloud: &Cloud,
        class_base: u32,
        class_len: u32,
    ) -> Result<Backend, BuildError> {
        let b = &cfg.backend;
        let schema = b.schema.clone();
        let store = TimeSeriesStore::new(b.store.clone(), schema.clone(), cfg.epoch)
            .map_err(|e| build_err("store", e))?;
        let mut engine =
            RuleEngine::new(&b.analytics, &schema, cfg.epoch).map_err(|e| build_err("rules", e))?;
        engine.reserve_devices(class_len as usize);
        let consumers = cloud
            .hubs
            .iter()
            .map(|h| Consumer::new(0, usize::from(h.config().partitions)))
            .collect();
        Ok(Backend {
            class: b.class,
            class_base,
            class_len,
            timestamp_field: b.timestamp_field,
            poll: b.poll,
            ts_origin_s: cfg.epoch.unix_secs() as f64,
            consumers,
            store,
            engine,
        })
    }

    /// The class whose telemetry the store holds.
    pub(crate) fn class(&self) -> usize {
        self.class
    }

    /// How many devices the rule engine tracks (the stored class's).
    pub(crate) fn engine_devices(&self) -> usize {
        self.class_len as usize
    }
}

impl SolutionWorld {
    pub(super) fn on_backend_poll(&mut self, k: &mut Kernel) {
        self.backend_read(k.now());
        // What the back end has stored and alerted on enters the trace too.
        k.trace_digest((self.acct.counts.stored << 20) ^ self.backend.engine.alerts().len() as u64);
        k.schedule_in(self.backend.poll, Event::new(BACKEND, BACKEND_POLL, 0));
    }

    /// Reads every partition of every hub's built-in endpoint into the store, checkpoints,
    /// and runs the store and the rules.
    fn backend_read(&mut self, now: SimTime) {
        let b = &mut self.backend;
        let ts = b.timestamp_field;
        for h in 0..self.cloud.hubs.len() {
            let hub = &self.cloud.hubs[h];
            let parts = usize::from(hub.config().partitions);
            for part in 0..parts {
                let msgs = b.consumers[h].poll(&hub.endpoints()[0], part, usize::MAX);
                for m in msgs {
                    let hub::Payload::Compact { schema, values } = m.payload else {
                        continue;
                    };
                    let Some(g) = self.cloud.device_of(h, m.device) else {
                        continue;
                    };
                    let Some(local) = g.checked_sub(b.class_base).filter(|&l| l < b.class_len)
                    else {
                        continue;
                    };
                    self.acct.counts.delivered += 1;
                    let event_time =
                        SimTime::from_nanos(((values.v[ts] - b.ts_origin_s).max(0.0) * 1e9) as u64);
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
                    let size = hub
                        .schemas()
                        .get(schema)
                        .map_or(0, |sc| sc.body_len(&values)) as u32;
                    let partition = (part % usize::from(b.store.config().partitions)) as u16;
                    b.store
                        .handle_ingest(now, partition, ev, size)
                        .expect("partition index within the store's partitions");
                }
                b.consumers[h].checkpoint(part);
            }
        }
        self.run_store(now);
    }

    /// Indexes what is due, running the rules on each new reading as it is indexed, then
    /// lets the store enforce retention.
    fn run_store(&mut self, now: SimTime) {
        let b = &mut self.backend;
        loop {
            // Start loading the rule state of the device a few readings on, alongside
            // the store's own slot for it (a hint only; no result depends on it).
            if let Some(next) = b.store.upcoming_due(store::PREFETCH_AHEAD) {
                b.engine.prefetch(next);
            }
            let Some(ev) = b.store.index_next(now) else {
                break;
            };
            self.acct.on_stored(b.class_base + ev.device.0, ev.seq);
            let latency = now.saturating_since(ev.event_time);
            self.acct
                .metrics
                .record(self.acct.ids.e2e_ms, latency.as_millis());
            b.engine.handle_event(now, ev);
        }
        if b.store.poll_timeout().is_some_and(|t| t <= now) {
            b.store.handle_timeout(now);
        }
    }

    /// After the fleet's last event: the back end reads what is left and the store indexes
    /// its whole backlog (the liveness phase: nothing acknowledged may stay unstored).
    pub(super) fn drain_back_end(&mut self, end: SimTime) {
        self.backend_read(end);
        while let Some(due) = self.backend.store.poll_timeout() {
            if self.backend.store.stats().backlog_depth == 0 {
                break;
            }
            self.run_store(due.max(end));
        }
    }
}
