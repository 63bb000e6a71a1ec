//! The timed fault plan: what goes wrong, and when, in a scenario.
//!
//! Faults never edit a model. Network faults change the [`Network`] (partitions, cut links,
//! clogs, latency and loss); node faults (crash, restart, clock skew) mark the node in the
//! network and are handed back to the world as a [`NodeFault`], because only the entity knows
//! what survives a crash (its "flash") and what is lost (its RAM). The vocabulary follows
//! madsim and turmoil: partition/heal, clog/unclog, crash/restart, plus latency, loss and
//! clock skew.
//!
//! A plan is a list of [`TimedFault`]s. [`FaultPlan::schedule`] turns each into a kernel
//! event whose payload is the fault's index; the world's handler passes that index to
//! [`FaultPlan::apply`]. Faults at the same instant apply in plan order.

use crate::kernel::{EntityId, Event, EventKind, Kernel};
use crate::net::{Direction, Latency, LinkId, NetError, Network, NodeId, Released};
use crate::rng::Ratio;
use crate::time::SimTime;

/// One fault action.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultAction {
    /// Isolate `nodes` from every other node, in `direction`.
    Partition {
        nodes: Vec<NodeId>,
        direction: Direction,
    },
    /// End every partition.
    Heal,
    /// Cut one directed link (use both ids of a duplex pair to cut both ways).
    CutLink {
        link: LinkId,
    },
    RestoreLink {
        link: LinkId,
    },
    /// Hold packets on a link until unclogged (nothing is lost).
    Clog {
        link: LinkId,
    },
    Unclog {
        link: LinkId,
    },
    SetLatency {
        link: LinkId,
        latency: Latency,
    },
    SetLoss {
        link: LinkId,
        loss: Ratio,
    },
    /// Take a node down: it neither sends nor receives, and its entity loses its RAM.
    Crash {
        node: NodeId,
    },
    /// Bring a node back up: its entity boots from what it kept in flash.
    Restart {
        node: NodeId,
    },
    /// Change a node's clock: a rate error in ppm from now on, and a step in nanoseconds.
    ClockSkew {
        node: NodeId,
        drift_ppm: f64,
        step_ns: i64,
    },
}

/// A fault action at an instant.
#[derive(Clone, Debug, PartialEq)]
pub struct TimedFault {
    pub at: SimTime,
    pub action: FaultAction,
}

/// A node fault the world must carry out on the node's entity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NodeFault {
    Crash(NodeId),
    Restart(NodeId),
    ClockSkew {
        node: NodeId,
        drift_ppm: f64,
        step_ns: i64,
    },
}

/// The effect of applying one fault.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Applied {
    /// A node fault for the world to carry out on its entity.
    pub node: Option<NodeFault>,
    /// Packets an unclog released, for the world to schedule.
    pub released: Vec<Released>,
}

/// The scenario's fault plan, in time order (stable for equal times).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultPlan {
    faults: Vec<TimedFault>,
}

impl FaultPlan {
    pub fn new(mut faults: Vec<TimedFault>) -> Self {
        faults.sort_by_key(|f| f.at);
        FaultPlan { faults }
    }

    pub fn faults(&self) -> &[TimedFault] {
        &self.faults
    }

    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// Checks every node and link the plan names exists in `net`.
    pub fn validate(&self, net: &Network) -> Result<(), (usize, NetError)> {
        for (i, f) in self.faults.iter().enumerate() {
            let r = match &f.action {
                FaultAction::Partition { nodes, .. } => {
                    nodes.iter().try_for_each(|n| net.check_node(*n))
                }
                FaultAction::Heal => Ok(()),
                FaultAction::CutLink { link }
                | FaultAction::RestoreLink { link }
                | FaultAction::Clog { link }
                | FaultAction::Unclog { link }
                | FaultAction::SetLatency { link, .. }
                | FaultAction::SetLoss { link, .. } => net.check_link(*link),
                FaultAction::Crash { node }
                | FaultAction::Restart { node }
                | FaultAction::ClockSkew { node, .. } => net.check_node(*node),
            };
            r.map_err(|e| (i, e))?;
        }
        Ok(())
    }

    /// Schedules one kernel event per fault, to `target` with `kind`, payload = fault index.
    pub fn schedule(&self, kernel: &mut Kernel, target: EntityId, kind: EventKind) {
        for (i, f) in self.faults.iter().enumerate() {
            kernel.schedule(f.at.max(kernel.now()), Event::new(target, kind, i as u64));
        }
    }

    /// Applies fault `index` to the network at `now`.
    pub fn apply(&self, index: u64, now: SimTime, net: &mut Network) -> Applied {
        let mut applied = Applied::default();
        match &self.faults[index as usize].action {
            FaultAction::Partition { nodes, direction } => {
                net.partition(nodes, *direction);
            }
            FaultAction::Heal => net.heal(),
            FaultAction::CutLink { link } => net.cut(*link),
            FaultAction::RestoreLink { link } => net.restore(*link),
            FaultAction::Clog { link } => net.clog(*link),
            FaultAction::Unclog { link } => applied.released = net.unclog(now, *link),
            FaultAction::SetLatency { link, latency } => net.set_latency(*link, latency.clone()),
            FaultAction::SetLoss { link, loss } => net.set_loss(*link, *loss),
            FaultAction::Crash { node } => {
                net.crash(*node);
                applied.node = Some(NodeFault::Crash(*node));
            }
            FaultAction::Restart { node } => {
                net.restart(*node);
                applied.node = Some(NodeFault::Restart(*node));
            }
            FaultAction::ClockSkew {
                node,
                drift_ppm,
                step_ns,
            } => {
                applied.node = Some(NodeFault::ClockSkew {
                    node: *node,
                    drift_ppm: *drift_ppm,
                    step_ns: *step_ns,
                });
            }
        }
        applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{DropReason, LinkProfile, SendOutcome};
    use crate::rng::Seed;
    use crate::time::SimDuration;

    #[test]
    fn a_plan_runs_in_time_order_and_reports_node_faults() {
        let mut net = Network::new(Seed(0));
        let a = net.add_node();
        let b = net.add_node();
        let p = net
            .add_profile(LinkProfile::ideal(SimDuration::from_millis(1)))
            .unwrap();
        let l = net.add_link(a, b, p).unwrap();
        let plan = FaultPlan::new(vec![
            TimedFault {
                at: SimTime::from_secs(20),
                action: FaultAction::Restart { node: b },
            },
            TimedFault {
                at: SimTime::from_secs(10),
                action: FaultAction::Crash { node: b },
            },
        ]);
        assert!(plan.validate(&net).is_ok());
        assert_eq!(plan.faults()[0].at, SimTime::from_secs(10));
        let applied = plan.apply(0, SimTime::from_secs(10), &mut net);
        assert_eq!(applied.node, Some(NodeFault::Crash(b)));
        assert_eq!(
            net.send(SimTime::from_secs(11), l, 1, 0),
            SendOutcome::Dropped(DropReason::NodeDown)
        );
        plan.apply(1, SimTime::from_secs(20), &mut net);
        assert!(net.is_up(b));
    }

    #[test]
    fn a_plan_naming_a_missing_link_is_rejected_with_its_index() {
        let net = Network::new(Seed(0));
        let plan = FaultPlan::new(vec![TimedFault {
            at: SimTime::ZERO,
            action: FaultAction::Clog { link: LinkId(3) },
        }]);
        assert_eq!(
            plan.validate(&net),
            Err((0, NetError::UnknownLink(LinkId(3))))
        );
    }
}
