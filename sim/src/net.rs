//! The network model: nodes, directed links, and what happens to a packet on a link.
//!
//! **Model.** A link carries packets from one node to another. Sending a packet of `n` bytes
//! at `now`:
//! 1. is refused if either end is down ([`DropReason::NodeDown`]), the link is cut
//!    ([`DropReason::LinkCut`]) or a partition separates the ends ([`DropReason::Partitioned`]);
//! 2. is held, not dropped, while the link is clogged; [`Network::unclog`] sends the held
//!    packets in order at the unclog time;
//! 3. queues behind earlier packets when the link has a bandwidth: the transmitter is busy
//!    until `busy_until`; the backlog in bytes is `(busy_until − now) · bandwidth`, and a
//!    packet that would push it past the FIFO capacity is dropped at the tail
//!    ([`DropReason::QueueFull`]); otherwise it finishes serialising at
//!    `max(now, busy_until) + 8n / bandwidth`;
//! 4. is lost in the medium with the link's loss ratio ([`DropReason::Loss`]) — a lost packet
//!    still occupied the transmitter;
//! 5. arrives after the serialisation plus a latency of `min + jitter`, where the jitter is a
//!    sample of the link's distribution in milliseconds, clamped at zero. So no packet ever
//!    arrives before `send time + min latency`, and reordering emerges from the jitter;
//! 6. is duplicated with the link's duplication ratio: the copy gets its own latency sample.
//!
//! A packet in flight towards a node that has gone down by the time it arrives is dropped on
//! arrival ([`Network::arrive`]).
//!
//! **Randomness.** Each link owns an 8-byte [`CompactRng`] forked from the seed by the link's
//! id, so adding a link or sending on one never changes another link's draws.
//!
//! **Scale.** A link is 40 bytes of state plus 72 bytes of statistics; link parameters live in
//! shared profiles (a million device uplinks can share one radio profile). Changing one
//! link's latency or loss (a fault) gives that link a private copy of its profile.
//!
//! **Faults** ([`crate::fault`]) partition node sets (one-way or both ways), cut and restore
//! single links, clog and unclog, change latency and loss, and crash and restart nodes.

use crate::rng::{CompactRng, Dist, Ratio, Seed, StreamKey};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// A network endpoint: a device, a gateway, a cloud service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

/// A directed link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u32);

/// Latency of a link: a fixed minimum plus a non-negative jitter in milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Latency {
    pub min: SimDuration,
    /// Jitter in milliseconds; negative samples count as zero.
    pub jitter_ms: Dist,
}

impl Latency {
    pub fn fixed(min: SimDuration) -> Self {
        Latency {
            min,
            jitter_ms: Dist::Const { value: 0.0 },
        }
    }
}

/// The parameters of a link, shared by every link that uses the same profile.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkProfile {
    pub latency: Latency,
    pub loss: Ratio,
    pub duplicate: Ratio,
    /// Serialisation rate in bits per second; `None` is unlimited (no queueing).
    pub bandwidth_bps: Option<u64>,
    /// Capacity of the transmit FIFO in bytes (ignored without a bandwidth).
    pub queue_capacity_bytes: u64,
}

impl LinkProfile {
    /// A perfect link: fixed latency, no loss, no limit.
    pub fn ideal(latency: SimDuration) -> Self {
        LinkProfile {
            latency: Latency::fixed(latency),
            loss: Ratio::ZERO,
            duplicate: Ratio::ZERO,
            bandwidth_bps: None,
            queue_capacity_bytes: 0,
        }
    }
}

/// Index of a shared [`LinkProfile`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProfileId(pub u32);

/// Why a packet did not arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    Loss,
    QueueFull,
    Partitioned,
    LinkCut,
    NodeDown,
}

impl DropReason {
    pub const ALL: [DropReason; 5] = [
        DropReason::Loss,
        DropReason::QueueFull,
        DropReason::Partitioned,
        DropReason::LinkCut,
        DropReason::NodeDown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::QueueFull => "queue_full",
            DropReason::Partitioned => "partitioned",
            DropReason::LinkCut => "link_cut",
            DropReason::NodeDown => "node_down",
        }
    }
}

/// What became of a packet handed to [`Network::send`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// It will arrive at `at`, and a duplicate at `duplicate_at` if the link duplicated it.
    Delivered {
        at: SimTime,
        duplicate_at: Option<SimTime>,
    },
    Dropped(DropReason),
    /// The link is clogged; the packet comes out of [`Network::unclog`] later.
    Held,
}

/// A packet released from a clogged link, with the token the sender gave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Released {
    pub link: LinkId,
    pub token: u64,
    pub outcome: SendOutcome,
}

/// Which traffic a partition blocks, seen from the partitioned set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Both,
    /// Packets from the set to the rest are blocked; packets into the set pass.
    Outbound,
    /// Packets from the rest into the set are blocked.
    Inbound,
}

/// Per-link counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub sent: u64,
    pub bytes_sent: u64,
    pub delivered: u64,
    pub duplicated: u64,
    pub held: u64,
    pub dropped: [u64; 5],
}

impl LinkStats {
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize]
    }
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }
    fn add(&mut self, o: &LinkStats) {
        self.sent += o.sent;
        self.bytes_sent += o.bytes_sent;
        self.delivered += o.delivered;
        self.duplicated += o.duplicated;
        self.held += o.held;
        for (a, b) in self.dropped.iter_mut().zip(o.dropped) {
            *a += b;
        }
    }
}

#[derive(Clone, Debug)]
struct Link {
    from: NodeId,
    to: NodeId,
    profile: ProfileId,
    busy_until: SimTime,
    rng: CompactRng,
    cut: bool,
    clogged: bool,
}

/// A packet waiting on a clogged link.
#[derive(Clone, Copy, Debug)]
struct HeldPacket {
    token: u64,
    size_bytes: u32,
}

/// Bad network configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NetError {
    #[error("unknown node {0:?}")]
    UnknownNode(NodeId),
    #[error("unknown link {0:?}")]
    UnknownLink(LinkId),
    #[error("unknown link profile {0:?}")]
    UnknownProfile(ProfileId),
    #[error("link profile: bandwidth_bps must be > 0 when set")]
    ZeroBandwidth,
}

/// Nodes, links, their state and statistics.
#[derive(Clone, Debug)]
pub struct Network {
    seed: Seed,
    profiles: Vec<LinkProfile>,
    links: Vec<Link>,
    stats: Vec<LinkStats>,
    node_down: Vec<bool>,
    /// Partition group of each node; 0 is "the rest".
    node_group: Vec<u16>,
    /// Blocking direction of each partition group; index 0 is unused.
    groups: Vec<Direction>,
    held: BTreeMap<LinkId, Vec<HeldPacket>>,
}

impl Network {
    pub fn new(seed: Seed) -> Self {
        Network {
            seed,
            profiles: Vec::new(),
            links: Vec::new(),
            stats: Vec::new(),
            node_down: Vec::new(),
            node_group: Vec::new(),
            groups: vec![Direction::Both],
            held: BTreeMap::new(),
        }
    }

    pub fn add_profile(&mut self, profile: LinkProfile) -> Result<ProfileId, NetError> {
        if profile.bandwidth_bps == Some(0) {
            return Err(NetError::ZeroBandwidth);
        }
        self.profiles.push(profile);
        Ok(ProfileId(self.profiles.len() as u32 - 1))
    }

    pub fn profile(&self, id: ProfileId) -> &LinkProfile {
        &self.profiles[id.0 as usize]
    }

    pub fn add_node(&mut self) -> NodeId {
        self.node_down.push(false);
        self.node_group.push(0);
        NodeId(self.node_down.len() as u32 - 1)
    }

    pub fn add_nodes(&mut self, n: u32) -> std::ops::Range<u32> {
        let first = self.node_down.len() as u32;
        self.node_down
            .resize(self.node_down.len() + n as usize, false);
        self.node_group
            .resize(self.node_group.len() + n as usize, 0);
        first..first + n
    }

    pub fn node_count(&self) -> usize {
        self.node_down.len()
    }

    pub fn add_link(
        &mut self,
        from: NodeId,
        to: NodeId,
        profile: ProfileId,
    ) -> Result<LinkId, NetError> {
        for n in [from, to] {
            if n.0 as usize >= self.node_down.len() {
                return Err(NetError::UnknownNode(n));
            }
        }
        if profile.0 as usize >= self.profiles.len() {
            return Err(NetError::UnknownProfile(profile));
        }
        let id = LinkId(self.links.len() as u32);
        self.links.push(Link {
            from,
            to,
            profile,
            busy_until: SimTime::ZERO,
            rng: self
                .seed
                .compact(StreamKey::new("link", u64::from(id.0), "net")),
            cut: false,
            clogged: false,
        });
        self.stats.push(LinkStats::default());
        Ok(id)
    }

    /// A link each way between `a` and `b`: `(a→b, b→a)`.
    pub fn add_duplex(
        &mut self,
        a: NodeId,
        b: NodeId,
        profile: ProfileId,
    ) -> Result<(LinkId, LinkId), NetError> {
        Ok((self.add_link(a, b, profile)?, self.add_link(b, a, profile)?))
    }

    pub fn link_ends(&self, link: LinkId) -> (NodeId, NodeId) {
        let l = &self.links[link.0 as usize];
        (l.from, l.to)
    }

    pub fn link_count(&self) -> usize {
        self.links.len()
    }

    pub fn stats(&self, link: LinkId) -> &LinkStats {
        &self.stats[link.0 as usize]
    }

    /// The sum of every link's counters.
    pub fn total_stats(&self) -> LinkStats {
        let mut t = LinkStats::default();
        for s in &self.stats {
            t.add(s);
        }
        t
    }

    pub fn is_up(&self, node: NodeId) -> bool {
        !self.node_down[node.0 as usize]
    }

    fn partitioned(&self, from: NodeId, to: NodeId) -> bool {
        let gf = self.node_group[from.0 as usize];
        let gt = self.node_group[to.0 as usize];
        if gf == gt {
            return false;
        }
        let out_blocked = gf != 0
            && matches!(
                self.groups[gf as usize],
                Direction::Both | Direction::Outbound
            );
        let in_blocked = gt != 0
            && matches!(
                self.groups[gt as usize],
                Direction::Both | Direction::Inbound
            );
        out_blocked || in_blocked
    }

    /// Sends a packet of `size_bytes` on `link` at `now`. `token` identifies it if the link
    /// is clogged and it comes out of [`Network::unclog`] later.
    pub fn send(&mut self, now: SimTime, link: LinkId, size_bytes: u32, token: u64) -> SendOutcome {
        let i = link.0 as usize;
        let (from, to) = (self.links[i].from, self.links[i].to);
        self.stats[i].sent += 1;
        self.stats[i].bytes_sent += u64::from(size_bytes);
        let refused = if self.node_down[from.0 as usize] || self.node_down[to.0 as usize] {
            Some(DropReason::NodeDown)
        } else if self.links[i].cut {
            Some(DropReason::LinkCut)
        } else if self.partitioned(from, to) {
            Some(DropReason::Partitioned)
        } else {
            None
        };
        if let Some(reason) = refused {
            self.stats[i].dropped[reason as usize] += 1;
            return SendOutcome::Dropped(reason);
        }
        if self.links[i].clogged {
            self.stats[i].held += 1;
            self.held
                .entry(link)
                .or_default()
                .push(HeldPacket { token, size_bytes });
            return SendOutcome::Held;
        }
        self.transmit(now, link, size_bytes)
    }

    fn transmit(&mut self, now: SimTime, link: LinkId, size_bytes: u32) -> SendOutcome {
        let i = link.0 as usize;
        let l = &mut self.links[i];
        let p = &self.profiles[l.profile.0 as usize];
        let stats = &mut self.stats[i];
        let mut departs = now;
        if let Some(bps) = p.bandwidth_bps {
            let start = l.busy_until.max(now);
            let backlog_ns = start.since(now).as_nanos();
            let backlog_bytes = (u128::from(backlog_ns) * u128::from(bps) / 8_000_000_000) as u64;
            if backlog_bytes + u64::from(size_bytes) > p.queue_capacity_bytes {
                stats.dropped[DropReason::QueueFull as usize] += 1;
                return SendOutcome::Dropped(DropReason::QueueFull);
            }
            let tx_ns = (u128::from(size_bytes) * 8_000_000_000).div_ceil(u128::from(bps)) as u64;
            departs = start + SimDuration::from_nanos(tx_ns);
            l.busy_until = departs;
        }
        if p.loss.chance(&mut l.rng) {
            stats.dropped[DropReason::Loss as usize] += 1;
            return SendOutcome::Dropped(DropReason::Loss);
        }
        let at = departs + sample_latency(&p.latency, &mut l.rng);
        let duplicate_at = if p.duplicate.chance(&mut l.rng) {
            stats.duplicated += 1;
            Some(departs + sample_latency(&p.latency, &mut l.rng))
        } else {
            None
        };
        SendOutcome::Delivered { at, duplicate_at }
    }

    /// Call when a packet sent on `link` reaches its destination: `true` if the destination
    /// is up and takes it, `false` (counted as [`DropReason::NodeDown`]) if it went down while
    /// the packet was in flight.
    pub fn arrive(&mut self, link: LinkId) -> bool {
        let i = link.0 as usize;
        if self.node_down[self.links[i].to.0 as usize] {
            self.stats[i].dropped[DropReason::NodeDown as usize] += 1;
            false
        } else {
            self.stats[i].delivered += 1;
            true
        }
    }

    /// Isolates `nodes` from every other node in `direction`; returns the partition's group.
    /// A node belongs to at most one partition: a later partition takes it from an earlier.
    pub fn partition(&mut self, nodes: &[NodeId], direction: Direction) -> u16 {
        self.groups.push(direction);
        let g = (self.groups.len() - 1) as u16;
        for n in nodes {
            self.node_group[n.0 as usize] = g;
        }
        g
    }

    /// Ends every partition.
    pub fn heal(&mut self) {
        self.node_group.iter_mut().for_each(|g| *g = 0);
        self.groups.truncate(1);
    }

    pub fn cut(&mut self, link: LinkId) {
        self.links[link.0 as usize].cut = true;
    }

    pub fn restore(&mut self, link: LinkId) {
        self.links[link.0 as usize].cut = false;
    }

    /// Holds every packet sent on `link` until [`Network::unclog`].
    pub fn clog(&mut self, link: LinkId) {
        self.links[link.0 as usize].clogged = true;
    }

    /// Releases the held packets at `now`, in the order they were sent, through the normal
    /// transmit path (queueing, loss, latency).
    pub fn unclog(&mut self, now: SimTime, link: LinkId) -> Vec<Released> {
        self.links[link.0 as usize].clogged = false;
        let held = self.held.remove(&link).unwrap_or_default();
        held.into_iter()
            .map(|h| Released {
                link,
                token: h.token,
                outcome: self.transmit(now, link, h.size_bytes),
            })
            .collect()
    }

    pub fn crash(&mut self, node: NodeId) {
        self.node_down[node.0 as usize] = true;
    }

    pub fn restart(&mut self, node: NodeId) {
        self.node_down[node.0 as usize] = false;
    }

    /// Gives `link` a private copy of its profile (if shared) and returns it for editing.
    fn private_profile(&mut self, link: LinkId) -> &mut LinkProfile {
        let pid = self.links[link.0 as usize].profile;
        let shared = self
            .links
            .iter()
            .enumerate()
            .any(|(j, l)| j != link.0 as usize && l.profile == pid);
        let pid = if shared {
            let copy = self.profiles[pid.0 as usize].clone();
            self.profiles.push(copy);
            let new = ProfileId(self.profiles.len() as u32 - 1);
            self.links[link.0 as usize].profile = new;
            new
        } else {
            pid
        };
        &mut self.profiles[pid.0 as usize]
    }

    pub fn set_latency(&mut self, link: LinkId, latency: Latency) {
        self.private_profile(link).latency = latency;
    }

    pub fn set_loss(&mut self, link: LinkId, loss: Ratio) {
        self.private_profile(link).loss = loss;
    }

    pub fn check_link(&self, link: LinkId) -> Result<(), NetError> {
        if (link.0 as usize) < self.links.len() {
            Ok(())
        } else {
            Err(NetError::UnknownLink(link))
        }
    }

    pub fn check_node(&self, node: NodeId) -> Result<(), NetError> {
        if (node.0 as usize) < self.node_down.len() {
            Ok(())
        } else {
            Err(NetError::UnknownNode(node))
        }
    }
}

fn sample_latency(latency: &Latency, rng: &mut CompactRng) -> SimDuration {
    let jitter_ms = latency.jitter_ms.sample(rng);
    latency.min + SimDuration::from_secs_f64(jitter_ms / 1_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_nodes(profile: LinkProfile) -> (Network, LinkId) {
        let mut net = Network::new(Seed(1));
        let a = net.add_node();
        let b = net.add_node();
        let p = net.add_profile(profile).unwrap();
        let l = net.add_link(a, b, p).unwrap();
        (net, l)
    }

    #[test]
    fn a_full_fifo_drops_at_the_tail_and_serialises_the_rest() {
        // 8 kbit/s = 1 byte/ms; room for 3 packets of 100 bytes.
        let mut p = LinkProfile::ideal(SimDuration::from_millis(10));
        p.bandwidth_bps = Some(8_000);
        p.queue_capacity_bytes = 300;
        let (mut net, l) = two_nodes(p);
        let t0 = SimTime::from_secs(1);
        let outs: Vec<_> = (0..4).map(|i| net.send(t0, l, 100, i)).collect();
        let at = |o: SendOutcome| match o {
            SendOutcome::Delivered { at, .. } => at,
            other => panic!("{other:?}"),
        };
        assert_eq!(at(outs[0]), t0 + SimDuration::from_millis(110));
        assert_eq!(at(outs[1]), t0 + SimDuration::from_millis(210));
        assert_eq!(at(outs[2]), t0 + SimDuration::from_millis(310));
        assert_eq!(outs[3], SendOutcome::Dropped(DropReason::QueueFull));
        // After the FIFO drains, sending works again.
        assert!(matches!(
            net.send(t0 + SimDuration::from_secs(1), l, 100, 9),
            SendOutcome::Delivered { .. }
        ));
        assert_eq!(net.stats(l).dropped(DropReason::QueueFull), 1);
    }

    #[test]
    fn a_one_way_partition_blocks_only_its_direction() {
        let mut net = Network::new(Seed(1));
        let a = net.add_node();
        let b = net.add_node();
        let p = net
            .add_profile(LinkProfile::ideal(SimDuration::from_millis(1)))
            .unwrap();
        let (ab, ba) = net.add_duplex(a, b, p).unwrap();
        net.partition(&[a], Direction::Outbound);
        let now = SimTime::ZERO;
        assert_eq!(
            net.send(now, ab, 10, 0),
            SendOutcome::Dropped(DropReason::Partitioned)
        );
        assert!(matches!(
            net.send(now, ba, 10, 0),
            SendOutcome::Delivered { .. }
        ));
        net.heal();
        assert!(matches!(
            net.send(now, ab, 10, 0),
            SendOutcome::Delivered { .. }
        ));
        net.partition(&[a], Direction::Inbound);
        assert!(matches!(
            net.send(now, ab, 10, 0),
            SendOutcome::Delivered { .. }
        ));
        assert_eq!(
            net.send(now, ba, 10, 0),
            SendOutcome::Dropped(DropReason::Partitioned)
        );
    }

    #[test]
    fn a_clogged_link_holds_packets_and_releases_them_in_order() {
        let (mut net, l) = two_nodes(LinkProfile::ideal(SimDuration::from_millis(5)));
        net.clog(l);
        for tok in 0..3 {
            assert_eq!(net.send(SimTime::ZERO, l, 10, tok), SendOutcome::Held);
        }
        let released = net.unclog(SimTime::from_secs(2), l);
        let toks: Vec<u64> = released.iter().map(|r| r.token).collect();
        assert_eq!(toks, vec![0, 1, 2]);
        for r in released {
            assert_eq!(
                r.outcome,
                SendOutcome::Delivered {
                    at: SimTime::from_secs(2) + SimDuration::from_millis(5),
                    duplicate_at: None
                }
            );
        }
    }

    #[test]
    fn a_crashed_node_drops_packets_sent_to_it_and_those_in_flight() {
        let (mut net, l) = two_nodes(LinkProfile::ideal(SimDuration::from_millis(5)));
        assert!(matches!(
            net.send(SimTime::ZERO, l, 10, 0),
            SendOutcome::Delivered { .. }
        ));
        net.crash(NodeId(1));
        assert!(!net.arrive(l));
        assert_eq!(
            net.send(SimTime::ZERO, l, 10, 0),
            SendOutcome::Dropped(DropReason::NodeDown)
        );
        net.restart(NodeId(1));
        assert!(matches!(
            net.send(SimTime::ZERO, l, 10, 0),
            SendOutcome::Delivered { .. }
        ));
        assert!(net.arrive(l));
        assert_eq!(net.stats(l).dropped(DropReason::NodeDown), 2);
    }

    #[test]
    fn changing_one_links_loss_leaves_links_sharing_its_profile_alone() {
        let mut net = Network::new(Seed(1));
        let a = net.add_node();
        let b = net.add_node();
        let p = net
            .add_profile(LinkProfile::ideal(SimDuration::from_millis(1)))
            .unwrap();
        let (ab, ba) = net.add_duplex(a, b, p).unwrap();
        net.set_loss(ab, Ratio::ONE);
        assert_eq!(
            net.send(SimTime::ZERO, ab, 1, 0),
            SendOutcome::Dropped(DropReason::Loss)
        );
        assert!(matches!(
            net.send(SimTime::ZERO, ba, 1, 0),
            SendOutcome::Delivered { .. }
        ));
    }
}
