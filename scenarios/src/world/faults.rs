//! The fault plan: the scenario's outages, crashes and clock faults, turned into timed faults with the
//! devices they select picked from the seed. Faults never edit a model: link faults go to
//! the network, node faults to the device's firmware and class.

use super::fleet::Fleet;
use super::{SolutionWorld, WorldConfig};
use sim::fault::{FaultAction, FaultPlan, NodeFault, TimedFault};
use sim::net::{Direction, NodeId};
use sim::rng::{below, pick_exactly};
use sim::{Event, Kernel, Seed, SimDuration, StreamKey};

/// Builds the plan for the fleet: each outage cuts off the devices of its towers (a seeded
/// pick among `devices / devices_per_tower` towers, devices numbered across classes), and
/// each crash takes down a seeded share of its selection (a class, or every device) and
/// restarts them after the downtime.
pub(crate) fn build(seed: Seed, cfg: &WorldConfig, fleet: &Fleet) -> FaultPlan {
    let devices = fleet.len();
    let net = &cfg.network;
    let mut faults = Vec::new();
    let tower_count = devices.div_ceil(net.devices_per_tower);
    let mut tower_pick = seed.compact(StreamKey::new("fault", 0, "outage-towers"));
    for o in &net.outages {
        let mut nodes = Vec::new();
        // A partial Fisher-Yates shuffle: the first `k` of a seeded permutation.
        let mut all: Vec<u32> = (0..tower_count).collect();
        let k = o.towers.min(tower_count) as usize;
        for j in 0..k {
            let r = j + below(&mut tower_pick, (all.len() - j) as u64) as usize;
            all.swap(j, r);
        }
        for t in &all[..k] {
            let first = t.saturating_mul(net.devices_per_tower);
            let last = (first.saturating_add(net.devices_per_tower)).min(devices);
            nodes.extend((first..last).map(NodeId));
        }
        faults.push(TimedFault {
            at: o.start,
            action: FaultAction::Partition {
                nodes,
                direction: Direction::Both,
            },
        });
        faults.push(TimedFault {
            at: o.start + o.duration,
            action: FaultAction::Heal,
        });
    }
    for (i, crash) in cfg.crashes.iter().enumerate() {
        // The devices the crash selects: one class's, or the whole fleet.
        let (first, count) = match crash.class {
            Some(c) => (fleet.base(c), fleet.class_len(c)),
            None => (0, devices),
        };
        let mut pick = seed.compact(StreamKey::new("fault", i as u64, "crash-pick"));
        // Exactly round(ratio × count), as commands and hardware faults pick.
        let crashing = (crash.ratio.get() * f64::from(count)).round() as u32;
        let chosen = pick_exactly(&mut pick, count, crashing);
        for (d, c) in chosen.iter().enumerate() {
            if *c {
                let node = NodeId(first + d as u32);
                faults.push(TimedFault {
                    at: crash.at,
                    action: FaultAction::Crash { node },
                });
                faults.push(TimedFault {
                    at: crash.at + crash.downtime,
                    action: FaultAction::Restart { node },
                });
            }
        }
    }
    for f in &cfg.clock_faults {
        let base = fleet.base(f.class);
        faults.extend(f.devices.iter().map(|d| TimedFault {
            at: f.at,
            action: FaultAction::ClockSkew {
                node: NodeId(base + d),
                drift_ppm: f.drift_ppm,
                step_ns: f.step_ns,
            },
        }));
    }
    FaultPlan::new(faults)
}

impl SolutionWorld {
    /// Hardware fault `payload >> 1` begins (`payload & 1`) or ends: each selected device's
    /// class is told, then the device settles (the class may publish or re-arm timers).
    pub(super) fn on_hardware_fault(&mut self, k: &mut Kernel, payload: u64) {
        let f = &self.cfg.hardware_faults[(payload >> 1) as usize];
        let (c, active) = (f.class, payload & 1 == 1);
        let (fault, devices) = (f.fault.clone(), f.devices.clone());
        let base = self.fleet.base(c);
        for d in devices {
            self.fleet.class_mut(c).on_fault(d, k.now(), &fault, active);
            self.settle(k, base + d);
        }
    }

    /// Fault `index` of the plan is due: the network applies link faults itself; a crash,
    /// restart or clock fault reaches the device.
    pub(super) fn on_fault(&mut self, k: &mut Kernel, index: u64) {
        let applied = self.plan.apply(index, k.now(), self.transport.net_mut());
        match applied.node {
            Some(NodeFault::Crash(node)) => self.crash_device(k, node.0),
            Some(NodeFault::Restart(node)) => {
                k.schedule_in(
                    SimDuration::ZERO,
                    Event::new(sim::EntityId(node.0), super::POWER_ON, 0),
                );
            }
            Some(NodeFault::ClockSkew {
                node,
                drift_ppm,
                step_ns,
            }) => self.fleet.skew_clock(node.0, k.now(), drift_ppm, step_ns),
            // A partition or heal: the network applied it.
            None => {}
        }
        // `applied.released` (packets an unclog lets out) are duplicates of segments TCP has
        // retransmitted and would discard (transport.rs): nothing to deliver.
    }
}
