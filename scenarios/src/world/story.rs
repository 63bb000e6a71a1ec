//! Device stories, for `fleetsim explain`: a run with a few devices watched records what
//! happens to them, step by step, in simulated time: boots, samples, publishes, packets the
//! network lost and why, retransmissions, connections lost, the hub's throttling and
//! refusals, what the back end read and stored, the rules' state on each stored reading,
//! alerts and notifications; and, at the end, each of their ground-truth episodes with
//! what became of the readings sampled during it.
//!
//! Watching changes nothing in the run: the world only reads its own state to tell the
//! story, so a watched run has the recorded run's trace hash (the harness checks it). An
//! unwatched run pays one branch per hook.

use super::transport::InFlight;
use super::SolutionWorld;
use firmware::{DeviceOutput, DropReason, Peer, Record};
use iot_messages::dps_body::DpsReply;
use iot_messages::{ConnectCode, Msg};
use sim::net::{DropReason as NetDrop, SendOutcome};
use sim::{SimDuration, SimTime};

/// One step of a watched device's story.
#[derive(Clone, Debug, PartialEq)]
pub struct StoryEvent {
    pub at: SimTime,
    /// The global device index.
    pub device: u32,
    /// What happened, one word (`sampled`, `publish`, `lost`, `stored`, `alert`, …).
    pub kind: &'static str,
    /// The reading's sequence number, when the step is about one.
    pub seq: Option<u32>,
    pub detail: String,
}

/// A watched device's ground-truth episode and what became of it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoryEpisode {
    pub kind: String,
    pub start: SimTime,
    pub end: SimTime,
    /// The rule scored against this kind of episode, if any.
    pub rule: Option<String>,
    /// That rule's alerts for the device raised within the episode (plus the scoring
    /// grace); empty: the episode was missed.
    pub alerts: Vec<SimTime>,
    /// The episode is too young to be judged at the end (the recall invariant's `min_age`
    /// does not apply here: every episode is shown).
    pub ended_in_run: bool,
}

/// A watched device.
#[derive(Clone, Debug, PartialEq)]
pub struct StoryDevice {
    pub device: u32,
    pub id: String,
    pub class: String,
    pub episodes: Vec<StoryEpisode>,
}

/// What a watched run tells about its devices.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Story {
    pub devices: Vec<StoryDevice>,
    /// Every device's steps, in the order they happened.
    pub events: Vec<StoryEvent>,
    /// The scoring grace after an episode's end.
    pub grace: SimDuration,
}

/// What became of the readings a device sampled within a window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadingFates {
    pub sampled: u32,
    /// Stored by the end, and of those, stored by the window's end plus grace.
    pub stored: u32,
    pub stored_in_time: u32,
    /// Dropped on the device (buffer overflow, reboot).
    pub dropped: u32,
    /// Neither stored nor dropped at the end: still on the device or in flight.
    pub undelivered: u32,
}

impl Story {
    /// Device `device`'s steps.
    pub fn of(&self, device: u32) -> impl Iterator<Item = &StoryEvent> {
        self.events.iter().filter(move |e| e.device == device)
    }

    /// What became of the readings `device` sampled in `[start, end]`; "in time" is by
    /// `end + grace`.
    pub fn fates(&self, device: u32, start: SimTime, end: SimTime) -> ReadingFates {
        let mut f = ReadingFates::default();
        let sampled: Vec<u32> = self
            .of(device)
            .filter(|e| e.kind == "sampled" && e.at >= start && e.at <= end)
            .filter_map(|e| e.seq)
            .collect();
        let deadline = end.saturating_add(self.grace);
        for seq in &sampled {
            let fate = |kind: &str| {
                self.of(device)
                    .find(|e| e.kind == kind && e.seq == Some(*seq))
                    .map(|e| e.at)
            };
            f.sampled += 1;
            if let Some(at) = fate("stored") {
                f.stored += 1;
                f.stored_in_time += u32::from(at <= deadline);
            } else if fate("dropped").is_some() {
                f.dropped += 1;
            } else {
                f.undelivered += 1;
            }
        }
        f
    }
}

/// The watched devices and their steps so far.
pub(crate) struct Tracer {
    /// Global device indices, ascending.
    watched: Vec<u32>,
    events: Vec<StoryEvent>,
}

impl Tracer {
    pub(crate) fn new(mut watched: Vec<u32>) -> Tracer {
        watched.sort_unstable();
        watched.dedup();
        Tracer {
            watched,
            events: Vec::new(),
        }
    }
}

/// `v` with at most three decimals and no trailing zeros.
pub(crate) fn short(v: f64) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn peer_name(p: Peer) -> &'static str {
    match p {
        Peer::Hub => "hub",
        Peer::Dps => "DPS",
    }
}

/// A packet in words: its kind, its reading's sequence number and a line of detail.
/// `fields` names a telemetry message's values.
pub(crate) fn describe(msg: &Msg, fields: &[String]) -> (&'static str, Option<u32>, String) {
    match msg {
        Msg::Connect { keep_alive_s, .. } => (
            "connect",
            None,
            format!("CONNECT (keep-alive {keep_alive_s} s)"),
        ),
        Msg::ConnAck { code } => (
            "connack",
            None,
            match code {
                ConnectCode::Accepted => "CONNACK accepted".into(),
                other => format!("CONNACK refused: {other:?}"),
            },
        ),
        Msg::Subscribe { filters, .. } => (
            "subscribe",
            None,
            format!("SUBSCRIBE ({} filters)", filters.0.count_ones()),
        ),
        Msg::SubAck { refused_mask, .. } => (
            "suback",
            None,
            format!("SUBACK ({} refused)", refused_mask.count_ones()),
        ),
        Msg::Telemetry { pkid, values, .. } => {
            let n = usize::from(values.len);
            let shown: Vec<String> = values.v[..n]
                .iter()
                .enumerate()
                .filter_map(|(i, v)| fields.get(i).map(|f| format!("{f} {}", short(*v))))
                .collect();
            (
                "publish",
                Some(values.seq),
                format!(
                    "PUBLISH telemetry seq {} (packet {pkid}): {}",
                    values.seq,
                    shown.join(", ")
                ),
            )
        }
        Msg::D2c { pkid, body, .. } => (
            "publish",
            None,
            format!(
                "PUBLISH device-to-cloud message (packet {pkid}, {} B)",
                body.len()
            ),
        ),
        Msg::PubAck { pkid } => ("puback", None, format!("PUBACK packet {pkid}")),
        Msg::C2d { body, .. } => (
            "c2d",
            None,
            format!("cloud-to-device message ({} B)", body.len()),
        ),
        Msg::TwinGet { rid } => ("twin", None, format!("twin GET (request {rid})")),
        Msg::TwinPatchReported { rid, .. } => (
            "twin",
            None,
            format!("reported-properties patch (request {rid})"),
        ),
        Msg::TwinRes { status, rid, .. } => (
            "twin",
            None,
            format!("twin response {status} (request {rid})"),
        ),
        Msg::TwinDesired { version, .. } => (
            "twin",
            None,
            format!("desired-properties patch, version {version}"),
        ),
        Msg::MethodPost { name, rid, .. } => (
            "method",
            None,
            format!("direct method `{name}` (request {rid})"),
        ),
        Msg::MethodRes { status, rid, .. } => (
            "method",
            None,
            format!("method response {status} (request {rid})"),
        ),
        Msg::DpsRegister { .. } => ("dps", None, "DPS register".into()),
        Msg::DpsPoll { .. } => ("dps", None, "DPS operation-status poll".into()),
        Msg::DpsRes {
            status,
            retry_after_s,
            reply,
            ..
        } => {
            let what = match reply {
                DpsReply::Assigning { .. } => "assigning".to_string(),
                DpsReply::Done {
                    status: s,
                    assignment,
                    ..
                } => match assignment {
                    Some(a) => format!("{s:?}, assigned to {}", a.assigned_hub),
                    None => format!("{s:?}, no assignment"),
                },
                DpsReply::Error {
                    error_code,
                    message,
                } => format!("error {error_code}: {message}"),
            };
            let retry = retry_after_s
                .map(|s| format!(", retry after {s} s"))
                .unwrap_or_default();
            ("dps", None, format!("DPS response {status}: {what}{retry}"))
        }
        Msg::PingReq => ("ping", None, "PINGREQ".into()),
        Msg::PingResp => ("ping", None, "PINGRESP".into()),
        Msg::Disconnect => ("disconnect", None, "DISCONNECT".into()),
    }
}

/// Whether device `g` is watched: one branch when nothing is. (A free function, so code
/// holding another part of the world borrowed can ask.)
#[inline]
pub(crate) fn watches(story: &Option<Tracer>, g: u32) -> bool {
    match story {
        None => false,
        Some(t) => t.watched.binary_search(&g).is_ok(),
    }
}

/// Adds a step to device `g`'s story.
#[cold]
pub(crate) fn push(
    story: &mut Option<Tracer>,
    at: SimTime,
    g: u32,
    kind: &'static str,
    seq: Option<u32>,
    detail: String,
) {
    if let Some(t) = story {
        t.events.push(StoryEvent {
            at,
            device: g,
            kind,
            seq,
            detail,
        });
    }
}

impl SolutionWorld {
    /// Whether device `g` is watched.
    #[inline]
    pub(super) fn traced(&self, g: u32) -> bool {
        watches(&self.story, g)
    }

    /// Adds a step to device `g`'s story (call only when [`Self::traced`]).
    #[cold]
    pub(super) fn note(
        &mut self,
        at: SimTime,
        g: u32,
        kind: &'static str,
        seq: Option<u32>,
        detail: String,
    ) {
        push(&mut self.story, at, g, kind, seq, detail);
    }

    /// A packet between device `g` and `peer`, sent (`up`) or received.
    #[cold]
    pub(super) fn note_packet(&mut self, at: SimTime, g: u32, peer: Peer, msg: &Msg, sent: bool) {
        let (c, _) = self.fleet.locate(g);
        let (kind, seq, what) = describe(msg, &self.cfg.classes[c].fields);
        let detail = if sent {
            format!("→ {} {what}", peer_name(peer))
        } else {
            format!("← {} {what}", peer_name(peer))
        };
        self.note(at, g, kind, seq, detail);
    }

    /// Device `g`'s outputs: what it sent and closed, and its readings' fates.
    #[cold]
    pub(super) fn note_outputs(&mut self, at: SimTime, g: u32, out: &[DeviceOutput]) {
        for o in out {
            match o {
                DeviceOutput::Send { to, msg } => self.note_packet(at, g, *to, msg, true),
                DeviceOutput::Close { peer } => self.note(
                    at,
                    g,
                    "close",
                    None,
                    format!("closes its connection to the {}", peer_name(*peer)),
                ),
                DeviceOutput::Record(Record::Sampled { seq }) => self.note(
                    at,
                    g,
                    "sampled",
                    Some(*seq),
                    format!("samples reading {seq}"),
                ),
                DeviceOutput::Record(Record::Acked { seq }) => self.note(
                    at,
                    g,
                    "acked",
                    Some(*seq),
                    format!("reading {seq} acknowledged: the device forgets it"),
                ),
                DeviceOutput::Record(Record::Dropped { seq, reason }) => {
                    let why = match reason {
                        DropReason::Overflow => "its store-and-forward buffer was full",
                        DropReason::Reboot => "the device rebooted with it in RAM",
                    };
                    let detail = format!("reading {seq} dropped on the device: {why}");
                    self.note(at, g, "dropped", Some(*seq), detail)
                }
            }
        }
    }

    /// A packet of device `g`'s the network lost (or a clogged link held).
    #[cold]
    pub(super) fn note_lost(&mut self, at: SimTime, p: &InFlight, outcome: SendOutcome) {
        let (c, _) = self.fleet.locate(p.device);
        let (_, seq, what) = describe(&p.msg, &self.cfg.classes[c].fields);
        let why = match outcome {
            SendOutcome::Dropped(r) => match r {
                NetDrop::Loss => "random loss",
                NetDrop::QueueFull => "the link's queue was full",
                NetDrop::Partitioned => "partitioned (an outage)",
                NetDrop::LinkCut => "the link was cut",
                NetDrop::NodeDown => "the device's node is down",
            },
            _ => "held by a clogged link",
        };
        let dir = if p.up { "uplink" } else { "downlink" };
        let next = if p.attempts >= self.transport.max_retries {
            "no retransmission left".to_string()
        } else {
            let rto = self.transport.rto * (1u64 << p.attempts.min(10));
            format!("TCP retransmits in {}", rto.human())
        };
        let detail = format!("{what} lost on the {dir} ({why}); {next}");
        self.note(at, p.device, "lost", seq, detail);
    }

    /// A packet of device `g`'s reaching the hub or DPS (`to`).
    #[cold]
    pub(super) fn note_arrival(&mut self, at: SimTime, p: &InFlight, to: &str) {
        let (c, _) = self.fleet.locate(p.device);
        let (_, seq, what) = describe(&p.msg, &self.cfg.classes[c].fields);
        let detail = format!("{to} receives {what}");
        self.note(at, p.device, "arrived", seq, detail);
    }

    /// The hub holds its answer to device `g` until `until` (traffic shaping when a
    /// throttle is exceeded, reference §1.2).
    #[cold]
    pub(super) fn note_held(&mut self, at: SimTime, p: &InFlight, until: SimTime) {
        let (_, _, what) = describe(&p.msg, &[]);
        let detail = format!(
            "the hub is over a throttle and holds its {what} for {} (traffic shaping)",
            until.saturating_since(at).human()
        );
        self.note(at, p.device, "throttled", None, detail);
    }

    /// A LoRaWAN frame the duty cycle defers.
    #[cold]
    pub(super) fn note_deferred(&mut self, at: SimTime, p: &InFlight, until: SimTime) {
        let detail = format!("the EU868 1 % duty cycle defers its frame until {until}");
        self.note(at, p.device, "deferred", None, detail);
    }

    /// The story, once the run is scored: the watched devices with their episodes.
    pub(super) fn take_story(
        &mut self,
        truth: &[analytics::TruthEpisode],
        scores: &[analytics::Score],
        end: SimTime,
    ) -> Story {
        let Some(t) = self.story.take() else {
            return Story::default();
        };
        let rules_class = self.backend.class();
        let rules_base = self.fleet.base(rules_class);
        let engine = &self.backend.engine;
        let grace = self.cfg.score_grace;
        let devices = t
            .watched
            .iter()
            .map(|&g| {
                let (c, local) = self.fleet.locate(g);
                let episodes = if c == rules_class {
                    truth
                        .iter()
                        .filter(|e| e.device.0 == g - rules_base)
                        .map(|e| {
                            let score = scores.iter().find(|s| s.truth == e.kind);
                            let rule = score.and_then(|s| engine.rule_id(&s.rule));
                            let until = e.end.saturating_add(grace);
                            StoryEpisode {
                                kind: e.kind.clone(),
                                start: e.start,
                                end: e.end,
                                rule: score.map(|s| s.rule.clone()),
                                alerts: engine
                                    .alerts()
                                    .iter()
                                    .filter(|a| {
                                        a.device == e.device
                                            && Some(a.rule) == rule
                                            && a.raised_at >= e.start
                                            && a.raised_at <= until
                                    })
                                    .map(|a| a.raised_at)
                                    .collect(),
                                ended_in_run: e.end < end,
                            }
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                StoryDevice {
                    device: g,
                    id: self.cfg.classes[c].ids.format(local),
                    class: self.cfg.classes[c].name.clone(),
                    episodes,
                }
            })
            .collect();
        Story {
            devices,
            events: t.events,
            grace,
        }
    }
}

/// `fields` and their values, `name value` separated by commas.
pub(crate) fn values_text(fields: &[String], values: &[f64]) -> String {
    let shown: Vec<String> = values
        .iter()
        .zip(fields)
        .map(|(v, f)| format!("{f} {}", short(*v)))
        .collect();
    shown.join(", ")
}

/// What the rules made of device `g`'s reading `seq`: rules that began or stopped holding
/// and alerts raised, against `before` (the rules holding and the alert count before it).
#[cold]
pub(crate) fn note_rules(
    story: &mut Option<Tracer>,
    now: SimTime,
    g: u32,
    seq: u32,
    engine: &analytics::RuleEngine,
    device: store::DeviceIndex,
    before: (u64, usize),
) {
    let (was, alerts_before) = before;
    let holding = engine.rules_holding(device);
    let names = engine.rule_names();
    let raised: Vec<&analytics::Alert> = engine.alerts()[alerts_before..].iter().collect();
    for (r, name) in names.iter().enumerate().take(64) {
        let (then, now_holds) = (was >> r & 1 == 1, holding >> r & 1 == 1);
        let alert = raised.iter().any(|a| usize::from(a.rule.0) == r);
        let detail = match (then, now_holds) {
            (false, true) if alert => format!("rule `{name}` holds on reading {seq}: alert raised"),
            (false, true) => format!(
                "rule `{name}` holds on reading {seq}, but its cool-down after the last alert suppresses a new one"
            ),
            (true, false) => format!("rule `{name}` no longer holds on reading {seq}: it clears"),
            _ => continue,
        };
        push(
            story,
            now,
            g,
            if alert { "alert" } else { "rule" },
            Some(seq),
            detail,
        );
    }
}

/// The global index of device `id`, over every class's id pattern.
pub(crate) fn device_index(cfg: &super::WorldConfig, id: &str) -> Option<u32> {
    let mut base = 0u32;
    for c in &cfg.classes {
        if let Some(i) = c.ids.index_of(id).filter(|i| *i < c.count) {
            return Some(base + i);
        }
        base += c.count;
    }
    None
}
