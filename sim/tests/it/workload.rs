//! A small, complete workload on the kernel: sensors report through a gateway to a server.
//!
//! ```text
//!   sensor 0 ─┐ radio (lossy, jittery)
//!   sensor 1 ─┼──────────────► gateway ══ backhaul (bandwidth, FIFO) ══► server
//!   sensor n ─┘ ◄──────────────         ◄══════════════════════════════    (acks)
//! ```
//!
//! Every `interval` (with per-sensor jitter) a sensor sends a reading and waits for the
//! server's acknowledgement; it retransmits after `ack_timeout`, up to `max_attempts`, then
//! counts the reading as lost. The server de-duplicates by (sensor, sequence). The fault plan
//! partitions the gateway from the server for a window and crashes a share of the sensors for
//! a while: a crashed sensor loses its RAM (the reading it was waiting on is lost) and keeps
//! its sequence counter in flash.
//!
//! It is the kernel's own test workload (the `sim` crate depends on no model, so its
//! determinism tests cannot run a solution); solutions run on the solution world in
//! `scenarios/src/world/`. Invariants, checked by [`AccountingChecker`]: every reading sent is acknowledged,
//! lost, or still outstanding; the server never counts more readings than were sent; nothing
//! is acknowledged that the server did not receive.

use sim::fault::{FaultAction, FaultPlan, NodeFault, TimedFault};
use sim::kernel::{Cadence, Checker, EntityId, Event, EventKind, Kernel, Sim, World};
use sim::metrics::{CounterId, HistogramId, Metrics};
use sim::net::{Direction, DropReason, Latency, LinkId, LinkProfile, Network, NodeId, SendOutcome};
use sim::rng::{below, CompactRng, Dist, Ratio, Seed, StreamKey};
use sim::time::{Epoch, SimDuration, SimTime};

/// Parameters of the workload.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadConfig {
    pub seed: u64,
    pub sensors: u32,
    pub duration: SimDuration,
    pub interval: SimDuration,
    pub radio_loss: Ratio,
    pub ack_timeout: SimDuration,
    pub max_attempts: u8,
    /// The gateway is cut off from the server during `[start, start + length)`.
    pub partition: Option<(SimTime, SimDuration)>,
    /// This share of sensors crashes at `start` and restarts `length` later.
    pub crash: Option<(Ratio, SimTime, SimDuration)>,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            seed: 1,
            sensors: 1_000,
            duration: SimDuration::from_hours(1),
            interval: SimDuration::from_secs(60),
            radio_loss: Ratio::new(0.02).expect("constant in range"),
            ack_timeout: SimDuration::from_secs(2),
            max_attempts: 3,
            partition: Some((SimTime::from_secs(1_200), SimDuration::from_secs(300))),
            crash: Some((
                Ratio::new(0.05).expect("constant in range"),
                SimTime::from_secs(2_000),
                SimDuration::from_secs(600),
            )),
        }
    }
}

const TICK: EventKind = EventKind(1);
const ACK_TIMEOUT: EventKind = EventKind(2);
const READING_AT_GATEWAY: EventKind = EventKind(3);
const READING_AT_SERVER: EventKind = EventKind(4);
const ACK_AT_GATEWAY: EventKind = EventKind(5);
const ACK_AT_SENSOR: EventKind = EventKind(6);
const FAULT: EventKind = EventKind(7);

/// Per-sensor state: 40 bytes.
#[derive(Clone, Copy, Debug, Default)]
struct Sensor {
    rng: CompactRng,
    first_sent_at: SimTime,
    /// Kept in flash: survives a crash.
    next_seq: u32,
    /// RAM: the reading awaiting an ack (valid while `awaiting`).
    seq: u32,
    /// Bumped on every crash so stale tick and timeout events are ignored.
    boot: u32,
    attempts: u8,
    awaiting: bool,
    up: bool,
}

/// Counters the checker and the report read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkloadCounts {
    pub sent: u64,
    pub acked: u64,
    pub lost_retries: u64,
    pub lost_crash: u64,
    pub lost_superseded: u64,
    pub outstanding: u64,
    pub server_received: u64,
    pub server_duplicates: u64,
    pub retransmissions: u64,
}

struct Ids {
    sent: CounterId,
    acked: CounterId,
    lost: CounterId,
    dup: CounterId,
    rtt_ms: HistogramId,
}

/// The workload's world.
pub struct WorkloadWorld {
    cfg: WorkloadConfig,
    pub net: Network,
    pub metrics: Metrics,
    plan: FaultPlan,
    sensors: Vec<Sensor>,
    server_last_seq: Vec<u32>,
    server_seen: Vec<bool>,
    uplinks: Vec<LinkId>,
    downlinks: Vec<LinkId>,
    gw_up: LinkId,
    gw_down: LinkId,
    pub counts: WorkloadCounts,
    ids: Ids,
}

const GATEWAY: EntityId = EntityId(u32::MAX - 2);
const SERVER: EntityId = EntityId(u32::MAX - 1);
const FAULTS: EntityId = EntityId(u32::MAX);

fn msg(sensor: u32, seq: u32) -> u64 {
    (u64::from(sensor) << 32) | u64::from(seq)
}

impl WorkloadWorld {
    fn new(cfg: WorkloadConfig) -> Self {
        let seed = Seed(cfg.seed);
        let mut net = Network::new(seed.derive(StreamKey::new("network", 0, "links")));
        let radio = net
            .add_profile(LinkProfile {
                latency: Latency {
                    min: SimDuration::from_millis(20),
                    jitter_ms: Dist::lognormal_median_p99(30.0, 200.0).expect("valid constants"),
                },
                loss: cfg.radio_loss,
                duplicate: Ratio::new(0.001).expect("constant in range"),
                bandwidth_bps: Some(50_000),
                queue_capacity_bytes: 2_048,
            })
            .expect("valid profile");
        let backhaul = net
            .add_profile(LinkProfile {
                latency: Latency {
                    min: SimDuration::from_millis(15),
                    jitter_ms: Dist::exponential(5.0).expect("valid constant"),
                },
                loss: Ratio::new(0.001).expect("constant in range"),
                duplicate: Ratio::ZERO,
                bandwidth_bps: Some(10_000_000),
                queue_capacity_bytes: 256 * 1024,
            })
            .expect("valid profile");
        let sensor_nodes = net.add_nodes(cfg.sensors);
        let gateway = net.add_node();
        let server = net.add_node();
        let mut uplinks = Vec::with_capacity(cfg.sensors as usize);
        let mut downlinks = Vec::with_capacity(cfg.sensors as usize);
        for n in sensor_nodes {
            let (up, down) = net
                .add_duplex(NodeId(n), gateway, radio)
                .expect("nodes exist");
            uplinks.push(up);
            downlinks.push(down);
        }
        let (gw_up, gw_down) = net
            .add_duplex(gateway, server, backhaul)
            .expect("nodes exist");

        let mut faults = Vec::new();
        if let Some((start, len)) = cfg.partition {
            faults.push(TimedFault {
                at: start,
                action: FaultAction::Partition {
                    nodes: vec![gateway],
                    direction: Direction::Both,
                },
            });
            faults.push(TimedFault {
                at: start + len,
                action: FaultAction::Heal,
            });
        }
        if let Some((share, start, len)) = cfg.crash {
            let mut pick = seed.compact(StreamKey::new("fault", 0, "crash-pick"));
            let count = (share.get() * f64::from(cfg.sensors)) as u64;
            let mut chosen: Vec<u32> = Vec::new();
            while (chosen.len() as u64) < count {
                let s = below(&mut pick, u64::from(cfg.sensors)) as u32;
                if !chosen.contains(&s) {
                    chosen.push(s);
                }
            }
            for s in chosen {
                faults.push(TimedFault {
                    at: start,
                    action: FaultAction::Crash { node: NodeId(s) },
                });
                faults.push(TimedFault {
                    at: start + len,
                    action: FaultAction::Restart { node: NodeId(s) },
                });
            }
        }
        let plan = FaultPlan::new(faults);

        let mut metrics = Metrics::new(SimDuration::from_mins(5));
        let ids = Ids {
            sent: metrics
                .counter("readings.sent", true)
                .expect("fresh registry"),
            acked: metrics
                .counter("readings.acked", true)
                .expect("fresh registry"),
            lost: metrics
                .counter("readings.lost", true)
                .expect("fresh registry"),
            dup: metrics
                .counter("server.duplicates", false)
                .expect("fresh registry"),
            rtt_ms: metrics
                .histogram("readings.rtt_ms", 60_000)
                .expect("valid range"),
        };
        let sensors = (0..cfg.sensors)
            .map(|i| Sensor {
                rng: seed.compact(StreamKey::new("sensor", u64::from(i), "timing")),
                up: true,
                ..Sensor::default()
            })
            .collect();
        WorkloadWorld {
            server_last_seq: vec![0; cfg.sensors as usize],
            server_seen: vec![false; cfg.sensors as usize],
            cfg,
            net,
            metrics,
            plan,
            sensors,
            uplinks,
            downlinks,
            gw_up,
            gw_down,
            counts: WorkloadCounts::default(),
            ids,
        }
    }

    fn schedule_tick(&mut self, k: &mut Kernel, s: u32, after: SimDuration) {
        let sensor = &mut self.sensors[s as usize];
        // Jitter of ±10 % of the interval around the nominal period.
        let jitter_ns = below(&mut sensor.rng, self.cfg.interval.as_nanos() / 5 + 1);
        let at = k.now() + after + SimDuration::from_nanos(jitter_ns);
        k.schedule(at, Event::new(EntityId(s), TICK, u64::from(sensor.boot)));
    }

    fn transmit(
        &mut self,
        k: &mut Kernel,
        link: LinkId,
        size: u32,
        target: EntityId,
        kind: EventKind,
        payload: u64,
    ) {
        match self.net.send(k.now(), link, size, payload) {
            SendOutcome::Delivered { at, duplicate_at } => {
                k.schedule(at, Event::new(target, kind, payload));
                if let Some(d) = duplicate_at {
                    k.schedule(d, Event::new(target, kind, payload));
                }
            }
            SendOutcome::Dropped(_) | SendOutcome::Held => {}
        }
    }

    fn send_reading(&mut self, k: &mut Kernel, s: u32) {
        let seq = self.sensors[s as usize].seq;
        let boot = self.sensors[s as usize].boot;
        self.transmit(
            k,
            self.uplinks[s as usize],
            64,
            GATEWAY,
            READING_AT_GATEWAY,
            msg(s, seq),
        );
        k.schedule_in(
            self.cfg.ack_timeout,
            Event::new(
                EntityId(s),
                ACK_TIMEOUT,
                (u64::from(boot) << 32) | u64::from(seq),
            ),
        );
    }

    fn on_sensor(&mut self, k: &mut Kernel, ev: Event) {
        let s = ev.target.0;
        let now = k.now();
        let st = self.sensors[s as usize];
        if !st.up {
            return;
        }
        match ev.kind {
            TICK if ev.payload == u64::from(st.boot) => {
                if st.awaiting {
                    // The previous reading is still unresolved (a long outage): give it up.
                    self.lose_outstanding(s);
                    self.counts.lost_superseded += 1;
                }
                let sensor = &mut self.sensors[s as usize];
                sensor.seq = sensor.next_seq;
                sensor.next_seq += 1;
                sensor.awaiting = true;
                sensor.attempts = 1;
                sensor.first_sent_at = now;
                self.counts.sent += 1;
                self.counts.outstanding += 1;
                self.metrics.inc(self.ids.sent);
                self.send_reading(k, s);
                self.schedule_tick(k, s, self.cfg.interval - self.cfg.interval / 10);
            }
            ACK_TIMEOUT
                if ev.payload == (u64::from(st.boot) << 32) | u64::from(st.seq) && st.awaiting =>
            {
                if st.attempts < self.cfg.max_attempts {
                    self.sensors[s as usize].attempts += 1;
                    self.counts.retransmissions += 1;
                    self.send_reading(k, s);
                } else {
                    self.lose_outstanding(s);
                    self.counts.lost_retries += 1;
                }
            }
            ACK_AT_SENSOR => {
                if !self.net.arrive(self.downlinks[s as usize]) {
                    return;
                }
                if st.awaiting && ev.payload == msg(s, st.seq) {
                    self.sensors[s as usize].awaiting = false;
                    self.counts.acked += 1;
                    self.counts.outstanding -= 1;
                    self.metrics.inc(self.ids.acked);
                    let rtt = now.since(st.first_sent_at).as_millis();
                    self.metrics.record(self.ids.rtt_ms, rtt);
                }
            }
            _ => {}
        }
    }

    /// Counts the awaited reading as lost (without a reason counter).
    fn lose_outstanding(&mut self, s: u32) {
        self.sensors[s as usize].awaiting = false;
        self.counts.outstanding -= 1;
        self.metrics.inc(self.ids.lost);
    }

    fn on_fault(&mut self, k: &mut Kernel, index: u64) {
        let applied = self.plan.apply(index, k.now(), &mut self.net);
        match applied.node {
            Some(NodeFault::Crash(node)) => {
                let s = node.0;
                if self.sensors[s as usize].awaiting {
                    self.lose_outstanding(s);
                    self.counts.lost_crash += 1;
                }
                let sensor = &mut self.sensors[s as usize];
                // RAM is gone; `next_seq` lives in flash.
                sensor.up = false;
                sensor.boot += 1;
                sensor.attempts = 0;
            }
            Some(NodeFault::Restart(node)) => {
                let s = node.0;
                self.sensors[s as usize].up = true;
                self.schedule_tick(k, s, SimDuration::from_secs(5));
            }
            Some(NodeFault::ClockSkew { .. }) | None => {}
        }
    }
}

impl World for WorkloadWorld {
    fn handle(&mut self, k: &mut Kernel, ev: Event) {
        self.metrics.advance(k.now());
        match ev.target {
            FAULTS => self.on_fault(k, ev.payload),
            GATEWAY => {
                let s = (ev.payload >> 32) as usize;
                match ev.kind {
                    READING_AT_GATEWAY if self.net.arrive(self.uplinks[s]) => {
                        self.transmit(k, self.gw_up, 64, SERVER, READING_AT_SERVER, ev.payload);
                    }
                    ACK_AT_GATEWAY if self.net.arrive(self.gw_down) => {
                        self.transmit(
                            k,
                            self.downlinks[s],
                            16,
                            EntityId(s as u32),
                            ACK_AT_SENSOR,
                            ev.payload,
                        );
                    }
                    _ => {}
                }
            }
            SERVER => {
                if !self.net.arrive(self.gw_up) {
                    return;
                }
                let s = (ev.payload >> 32) as usize;
                let seq = ev.payload as u32;
                if self.server_seen[s] && seq <= self.server_last_seq[s] {
                    self.counts.server_duplicates += 1;
                    self.metrics.inc(self.ids.dup);
                } else {
                    self.server_seen[s] = true;
                    self.server_last_seq[s] = seq;
                    self.counts.server_received += 1;
                }
                // Acknowledge every copy: the sensor may have missed the first ack.
                self.transmit(k, self.gw_down, 16, GATEWAY, ACK_AT_GATEWAY, ev.payload);
            }
            _ => self.on_sensor(k, ev),
        }
    }
}

/// Checks the workload's accounting after events.
pub struct AccountingChecker;

impl Checker<WorkloadWorld> for AccountingChecker {
    fn name(&self) -> &str {
        "readings are accounted for"
    }
    fn check(&mut self, _now: SimTime, w: &WorkloadWorld) -> Result<(), String> {
        let c = &w.counts;
        let lost = w.metrics.counter_value(w.ids.lost);
        if lost != c.lost_retries + c.lost_crash + c.lost_superseded {
            return Err(format!(
                "{lost} readings lost but only {} have a reason",
                c.lost_retries + c.lost_crash + c.lost_superseded
            ));
        }
        if c.sent != c.acked + lost + c.outstanding {
            return Err(format!(
                "sent {} != acked {} + lost {} + outstanding {}",
                c.sent, c.acked, lost, c.outstanding
            ));
        }
        if c.server_received > c.sent {
            return Err(format!(
                "server received {} > sent {}",
                c.server_received, c.sent
            ));
        }
        if c.acked > c.server_received {
            return Err(format!(
                "acked {} > server received {}",
                c.acked, c.server_received
            ));
        }
        Ok(())
    }
}

/// Builds the workload simulation with its fault plan scheduled and its checker installed.
pub fn build(cfg: WorkloadConfig) -> Sim<WorkloadWorld> {
    let seed = Seed(cfg.seed);
    let sensors = cfg.sensors;
    let interval = cfg.interval;
    let mut sim = Sim::new(seed, Epoch::default(), WorkloadWorld::new(cfg));
    sim.add_checker(
        AccountingChecker,
        Cadence::Every(SimDuration::from_secs(60)),
    );
    let (kernel, world) = sim.parts_mut();
    world.plan.schedule(kernel, FAULTS, FAULT);
    for s in 0..sensors {
        // Staggered first reports over one interval.
        let first = below(&mut world.sensors[s as usize].rng, interval.as_nanos());
        kernel.schedule(SimTime::from_nanos(first), Event::new(EntityId(s), TICK, 0));
    }
    sim
}

/// The outcome of a workload run.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadReport {
    pub trace_hash: String,
    pub events: u64,
    pub counts: WorkloadCounts,
    pub lost: u64,
    pub rtt_ms_p50: u64,
    pub rtt_ms_p99: u64,
    pub rtt_ms_max: u64,
    pub net_dropped: Vec<(&'static str, u64)>,
}

/// Runs the workload to its end and checks its invariants once more at the end.
pub fn run(cfg: WorkloadConfig) -> Result<WorkloadReport, sim::kernel::CheckFailure> {
    let end = SimTime::ZERO + cfg.duration;
    let mut sim = build(cfg);
    sim.run_until(end)?;
    sim.check_all()?;
    Ok(report(&mut sim))
}

/// Summarises a workload simulation.
pub fn report(sim: &mut Sim<WorkloadWorld>) -> WorkloadReport {
    let w = sim.world();
    let rtt = w.metrics.summary(w.ids.rtt_ms);
    let totals = w.net.total_stats();
    WorkloadReport {
        trace_hash: sim.kernel().trace_hash().to_string(),
        events: sim.kernel().events_processed(),
        counts: w.counts,
        lost: w.metrics.counter_value(w.ids.lost),
        rtt_ms_p50: rtt.p50,
        rtt_ms_p99: rtt.p99,
        rtt_ms_max: rtt.max,
        net_dropped: DropReason::ALL
            .iter()
            .map(|r| (r.as_str(), totals.dropped(*r)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workload_accounts_for_every_reading_through_faults() {
        let r = run(WorkloadConfig {
            sensors: 200,
            ..WorkloadConfig::default()
        })
        .unwrap();
        let c = r.counts;
        assert_eq!(c.sent, c.acked + r.lost + c.outstanding);
        assert!(c.acked > c.sent * 8 / 10, "{r:?}");
        assert!(
            r.lost > 0 && c.lost_retries > 0,
            "the faults must cost something: {r:?}"
        );
        // 10 sensors are down for 600 s of the hour: about 100 readings are never taken.
        assert!(c.sent < 200 * 60 - 10 * 8, "{r:?}");
        assert!(
            r.net_dropped
                .iter()
                .any(|(n, v)| *n == "partitioned" && *v > 0),
            "{r:?}"
        );
    }
}
