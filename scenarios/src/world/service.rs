//! The cloud-to-device loop: back-end apps, the commands they issue through IoT Hub's service
//! API (direct methods §1.7, C2D §1.8, desired properties §1.9), and the results routed back
//! to the app that asked, at the simulated time the back end learns them. The scenario's
//! `[[commands]]` schedule runs as a built-in app ([`Schedule`]).
//!
//! A command's result is a kernel event (`COMMAND_RESULT`), never a call into an app from
//! inside another app's callback, so results are ordered by the kernel's (time, insertion).
//! Apps see the readings and alerts of each back-end poll after the poll, in store order.

use super::slab::Slab;
use super::{SolutionWorld, APPS, APP_START, APP_WAKE, COMMAND_RESULT};
use crate::app::{
    AlertEvent, App, AppCtx, Command, CommandId, CommandKind, CommandOutcome, CommandResult,
    DeviceRef, Directory, Reading,
};
use hub::{Ack, C2dRequest, FeedbackRecord, FeedbackStatus, HubError, MethodRequest};
use sim::{Event, Kernel, SimDuration, SimTime};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Counts of the commands apps issued and how they ended.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommandStats {
    pub methods_sent: u64,
    /// Answered with status 200.
    pub methods_ok: u64,
    /// Failed methods (hub codes such as 404103, 504101) and non-200 answers, by code.
    pub methods_failed: BTreeMap<u32, u64>,
    pub c2d_sent: u64,
    pub c2d_completed: u64,
    pub c2d_expired: u64,
    pub c2d_accepted: u64,
    pub c2d_failed: u64,
    pub desired_sent: u64,
    pub desired_accepted: u64,
    pub desired_failed: u64,
    /// Results still open when the run ended.
    pub open_at_end: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Method,
    C2d,
    Desired,
}

/// A command issued and not yet answered: who asked, for which device, when.
struct Open {
    app: usize,
    device: DeviceRef,
    issued_at: SimTime,
    kind: Kind,
}

/// A stored reading waiting to be shown to the apps.
pub(crate) struct PendingReading {
    pub(crate) device: DeviceRef,
    pub(crate) seq: u32,
    pub(crate) event_time: SimTime,
    pub(crate) values: [f64; store::MAX_COLUMNS],
    pub(crate) len: u8,
}

pub(crate) struct Service {
    apps: Vec<Box<dyn App>>,
    pub(crate) names: Vec<String>,
    app_wake: Vec<Option<SimTime>>,
    directory: Directory,
    outbox: Vec<Command>,
    next_id: u64,
    open: BTreeMap<CommandId, Open>,
    /// (hub, call) → the method command it answers.
    calls: BTreeMap<(usize, u32), CommandId>,
    /// C2D message id → the command that asked for its feedback.
    c2d: BTreeMap<Arc<str>, CommandId>,
    /// Results waiting for their `COMMAND_RESULT` event; the payload is the slot.
    results: Slab<(CommandId, CommandOutcome)>,
    pub(crate) stats: CommandStats,
    /// Method round trips, issued → answered (or failed), in ms.
    pub(crate) method_ms: Vec<u64>,
    pub(crate) readings: Vec<PendingReading>,
    /// Alerts already shown to the apps.
    alerts_seen: usize,
}

impl Service {
    pub(crate) fn new(apps: Vec<(String, Box<dyn App>)>, directory: Directory) -> Service {
        let (names, apps): (Vec<String>, Vec<Box<dyn App>>) = apps.into_iter().unzip();
        Service {
            app_wake: vec![None; apps.len()],
            apps,
            names,
            directory,
            outbox: Vec::new(),
            next_id: 1,
            open: BTreeMap::new(),
            calls: BTreeMap::new(),
            c2d: BTreeMap::new(),
            results: Slab::default(),
            stats: CommandStats::default(),
            method_ms: Vec::new(),
            readings: Vec::new(),
            alerts_seen: 0,
        }
    }

    /// Whether any app listens (readings and alerts are collected only then).
    pub(crate) fn has_apps(&self) -> bool {
        !self.apps.is_empty()
    }

    pub(crate) fn app_count(&self) -> usize {
        self.apps.len()
    }

    pub(crate) fn app(&self, a: usize) -> &dyn App {
        &*self.apps[a]
    }

    /// Calls `f` on app `a`; returns the commands it queued.
    fn call(&mut self, a: usize, f: impl FnOnce(&mut dyn App, &mut AppCtx<'_>)) -> Vec<Command> {
        let mut ctx = AppCtx {
            directory: &self.directory,
            commands: &mut self.outbox,
            next_id: &mut self.next_id,
        };
        f(&mut *self.apps[a], &mut ctx);
        std::mem::take(&mut self.outbox)
    }

    fn count(&mut self, kind: Kind, outcome: &CommandOutcome) {
        let s = &mut self.stats;
        match (kind, outcome) {
            (_, CommandOutcome::Method { status: 200, .. }) => s.methods_ok += 1,
            (_, CommandOutcome::Method { status, .. }) => {
                *s.methods_failed.entry(*status as u32).or_default() += 1
            }
            (_, CommandOutcome::C2dCompleted) => s.c2d_completed += 1,
            (_, CommandOutcome::C2dExpired) => s.c2d_expired += 1,
            (_, CommandOutcome::C2dAccepted) => s.c2d_accepted += 1,
            (_, CommandOutcome::DesiredAccepted { .. }) => s.desired_accepted += 1,
            (Kind::Method, CommandOutcome::Failed { code }) => {
                *s.methods_failed.entry(*code).or_default() += 1
            }
            (Kind::C2d, CommandOutcome::Failed { .. }) => s.c2d_failed += 1,
            (Kind::Desired, CommandOutcome::Failed { .. }) => s.desired_failed += 1,
        }
    }

    /// Commands still open at the end.
    pub(crate) fn close(&mut self) {
        self.stats.open_at_end = self.open.len() as u64;
    }
}

impl SolutionWorld {
    /// Time zero: every app starts, in the file's order.
    pub(super) fn schedule_apps(&mut self, k: &mut Kernel) {
        for a in 0..self.service.app_count() {
            k.schedule(SimTime::ZERO, Event::new(APPS, APP_START, a as u64));
        }
    }

    pub(super) fn on_app_event(&mut self, k: &mut Kernel, ev: Event) {
        let now = k.now();
        let a = ev.payload as usize;
        match ev.kind {
            APP_START => {
                let cmds = self.service.call(a, |app, ctx| app.start(now, ctx));
                self.issue(k, a, cmds);
            }
            APP_WAKE => {
                if self.service.app_wake[a] != Some(now) {
                    return;
                }
                self.service.app_wake[a] = None;
                let cmds = self
                    .service
                    .call(a, |app, ctx| app.handle_timeout(now, ctx));
                self.issue(k, a, cmds);
            }
            COMMAND_RESULT => return self.deliver_result(k, ev.payload),
            other => unreachable!("app event of kind {other:?}"),
        }
        self.arm_app(k, a);
    }

    fn arm_app(&mut self, k: &mut Kernel, a: usize) {
        let want = self.service.apps[a].poll_timeout().map(|t| t.max(k.now()));
        if want != self.service.app_wake[a] {
            self.service.app_wake[a] = want;
            if let Some(t) = want {
                k.schedule(t, Event::new(APPS, APP_WAKE, a as u64));
            }
        }
    }

    /// Sends app `a`'s commands through the device's hub.
    fn issue(&mut self, k: &mut Kernel, a: usize, commands: Vec<Command>) {
        let now = k.now();
        for cmd in commands {
            let kind = match cmd.kind {
                CommandKind::Method { .. } => Kind::Method,
                CommandKind::C2d { .. } => Kind::C2d,
                CommandKind::Desired { .. } => Kind::Desired,
            };
            let s = &mut self.service.stats;
            match kind {
                Kind::Method => s.methods_sent += 1,
                Kind::C2d => s.c2d_sent += 1,
                Kind::Desired => s.desired_sent += 1,
            }
            self.service.open.insert(
                cmd.id,
                Open {
                    app: a,
                    device: cmd.device,
                    issued_at: now,
                    kind,
                },
            );
            match self.send_command(now, &cmd) {
                Ok((h, outcome)) => {
                    if let Some(outcome) = outcome {
                        self.result_at(k, now, cmd.id, outcome);
                    }
                    self.drain_hub(k, h);
                }
                Err(e) => self.result_at(k, now, cmd.id, CommandOutcome::Failed { code: e.code() }),
            }
        }
    }

    /// Hands `cmd` to its device's hub: the hub, and the outcome if it is known at once.
    fn send_command(
        &mut self,
        now: SimTime,
        cmd: &Command,
    ) -> Result<(usize, Option<CommandOutcome>), HubError> {
        let class = usize::from(cmd.device.class);
        if class >= self.fleet.class_count() || cmd.device.index >= self.fleet.class_len(class) {
            return Err(HubError::DeviceNotFound);
        }
        let g = self.fleet.base(class) + cmd.device.index;
        let h = self.cloud.hub_of(g).ok_or(HubError::DeviceNotFound)?;
        let id = self.cfg.classes[class].ids.format(cmd.device.index);
        let hub = &mut self.cloud.hubs[h];
        match &cmd.kind {
            CommandKind::Method {
                name,
                payload,
                response_timeout_s,
                connect_timeout_s,
            } => {
                let call = hub.invoke_method(
                    now,
                    &id,
                    MethodRequest {
                        name: name.clone(),
                        payload: payload.clone(),
                        response_timeout: SimDuration::from_secs(u64::from(*response_timeout_s)),
                        connect_timeout: SimDuration::from_secs(u64::from(*connect_timeout_s)),
                    },
                )?;
                self.service.calls.insert((h, call.0), cmd.id);
                Ok((h, None))
            }
            CommandKind::C2d {
                body,
                ttl_s,
                feedback,
            } => {
                let message_id: Arc<str> = Arc::from(format!("cmd-{}", cmd.id.0));
                hub.send_c2d(
                    now,
                    &id,
                    C2dRequest {
                        message_id: message_id.clone(),
                        bag: Arc::from(""),
                        body: body.clone(),
                        ttl: ttl_s.map(|s| SimDuration::from_secs(u64::from(s))),
                        ack: if *feedback { Ack::Full } else { Ack::None },
                    },
                )?;
                if *feedback {
                    self.service.c2d.insert(message_id, cmd.id);
                    Ok((h, None))
                } else {
                    Ok((h, Some(CommandOutcome::C2dAccepted)))
                }
            }
            CommandKind::Desired { patch } => {
                let version = hub.update_desired(now, &id, patch)?;
                Ok((h, Some(CommandOutcome::DesiredAccepted { version })))
            }
        }
    }

    /// The back end learns `outcome` of command `id` at `at`.
    fn result_at(&mut self, k: &mut Kernel, at: SimTime, id: CommandId, outcome: CommandOutcome) {
        let slot = self.service.results.insert((id, outcome));
        k.schedule(at.max(k.now()), Event::new(APPS, COMMAND_RESULT, slot));
    }

    /// A method's result from hub `h`.
    pub(super) fn on_method_result(
        &mut self,
        k: &mut Kernel,
        h: usize,
        at: SimTime,
        call: u32,
        result: Result<(i32, Arc<[u8]>), HubError>,
    ) {
        let Some(id) = self.service.calls.remove(&(h, call)) else {
            unreachable!("hub {h} answered method call {call}, which no app made");
        };
        let outcome = match result {
            Ok((status, body)) => CommandOutcome::Method { status, body },
            Err(e) => CommandOutcome::Failed { code: e.code() },
        };
        self.result_at(k, at, id, outcome);
    }

    /// C2D feedback from a hub.
    pub(super) fn on_feedback(&mut self, k: &mut Kernel, at: SimTime, record: FeedbackRecord) {
        let Some(id) = self.service.c2d.remove(&record.original_message_id) else {
            unreachable!(
                "feedback for C2D message {}, which no app sent",
                record.original_message_id
            );
        };
        let outcome = match record.status {
            FeedbackStatus::Success => CommandOutcome::C2dCompleted,
            FeedbackStatus::Expired | FeedbackStatus::DeliveryCountExceeded => {
                CommandOutcome::C2dExpired
            }
        };
        self.result_at(k, at, id, outcome);
    }

    fn deliver_result(&mut self, k: &mut Kernel, slot: u64) {
        let now = k.now();
        let s = &mut self.service;
        let (id, outcome) = s.results.take(slot);
        let open = s.open.remove(&id).expect("an open command");
        s.count(open.kind, &outcome);
        if open.kind == Kind::Method {
            s.method_ms
                .push(now.saturating_since(open.issued_at).as_millis());
        }
        let result = CommandResult {
            id,
            device: open.device,
            issued_at: open.issued_at,
            outcome,
        };
        let a = open.app;
        let cmds = s.call(a, |app, ctx| app.on_result(now, &result, ctx));
        self.issue(k, a, cmds);
        self.arm_app(k, a);
    }

    /// After a back-end poll: every app sees the readings the stores indexed and the alerts
    /// the rules raised.
    pub(super) fn show_apps(&mut self, k: &mut Kernel) {
        if !self.service.has_apps() {
            return;
        }
        let now = k.now();
        let readings = std::mem::take(&mut self.service.readings);
        let alerts = self.backend.engine.alerts().len();
        let rules = self.backend.engine.rule_names();
        let rules_class = self.backend.class() as u16;
        for a in 0..self.service.app_count() {
            for r in &readings {
                let reading = Reading {
                    device: r.device,
                    seq: r.seq,
                    event_time: r.event_time,
                    values: &r.values[..usize::from(r.len)],
                };
                let cmds = self
                    .service
                    .call(a, |app, ctx| app.on_reading(now, &reading, ctx));
                self.issue(k, a, cmds);
            }
            for alert in &self.backend.engine.alerts()[self.service.alerts_seen..alerts].to_vec() {
                let event = AlertEvent {
                    rule: &rules[usize::from(alert.rule.0)],
                    device: DeviceRef {
                        class: rules_class,
                        index: alert.device.0,
                    },
                    raised_at: alert.raised_at,
                };
                let cmds = self
                    .service
                    .call(a, |app, ctx| app.on_alert(now, &event, ctx));
                self.issue(k, a, cmds);
            }
            self.arm_app(k, a);
        }
        self.service.alerts_seen = alerts;
        let mut readings = readings;
        readings.clear();
        self.service.readings = readings;
    }
}

/// The scenario's `[[commands]]`: each at its time, to its selected devices.
pub struct Schedule {
    entries: Vec<Scheduled>,
    next: usize,
}

/// One scheduled command, resolved: its time, class, devices and what to send.
#[derive(Clone, Debug, PartialEq)]
pub struct Scheduled {
    pub at: SimTime,
    pub class: String,
    pub devices: Vec<u32>,
    pub kind: CommandKind,
}

impl Schedule {
    /// The entries in time order (stable: equal times keep the file's order).
    pub fn new(mut entries: Vec<Scheduled>) -> Schedule {
        entries.sort_by_key(|e| e.at);
        Schedule { entries, next: 0 }
    }
}

impl App for Schedule {
    fn poll_timeout(&self) -> Option<SimTime> {
        self.entries.get(self.next).map(|e| e.at)
    }

    fn handle_timeout(&mut self, now: SimTime, ctx: &mut AppCtx<'_>) {
        while let Some(e) = self.entries.get(self.next).filter(|e| e.at <= now) {
            if let Some(class) = ctx.class(&e.class) {
                for &d in &e.devices {
                    ctx.command(class.device(d), e.kind.clone());
                }
            }
            self.next += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_issues_each_entry_once_at_its_time_in_file_order() {
        let desired = |v: i64| CommandKind::Desired {
            patch: serde_json::json!({ "v": v }),
        };
        let mut s = Schedule::new(vec![
            Scheduled {
                at: SimTime::from_secs(20),
                class: "t".into(),
                devices: vec![1],
                kind: desired(2),
            },
            Scheduled {
                at: SimTime::from_secs(10),
                class: "t".into(),
                devices: vec![0, 2],
                kind: desired(1),
            },
            Scheduled {
                at: SimTime::from_secs(20),
                class: "t".into(),
                devices: vec![0],
                kind: desired(3),
            },
        ]);
        let dir = Directory {
            classes: vec![("t".into(), 3)],
            fields: vec![vec![]],
        };
        let (mut out, mut next) = (Vec::new(), 1);
        let mut run = |s: &mut Schedule, now: u64| {
            let mut ctx = AppCtx {
                directory: &dir,
                commands: &mut out,
                next_id: &mut next,
            };
            s.handle_timeout(SimTime::from_secs(now), &mut ctx);
        };
        assert_eq!(s.poll_timeout(), Some(SimTime::from_secs(10)));
        run(&mut s, 10);
        assert_eq!(s.poll_timeout(), Some(SimTime::from_secs(20)));
        run(&mut s, 20);
        assert_eq!(s.poll_timeout(), None);
        let got: Vec<(u32, CommandKind)> = out
            .iter()
            .map(|c| (c.device.index, c.kind.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, desired(1)),
                (2, desired(1)),
                (1, desired(2)),
                (0, desired(3))
            ]
        );
        assert_eq!(out.last().unwrap().id, CommandId(4));
    }
}
