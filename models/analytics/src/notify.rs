//! Alerts leave the back end as notifications (e-mail, SMS, webhook) and show on a
//! dashboard of per-device status and open alerts.
//!
//! Sinks record what would have been sent, when (simulated time) and with what content,
//! so reports and tests can read them; nothing is sent anywhere.

use crate::config::Channel;
use sim::{Epoch, SimTime};
use std::collections::BTreeMap;
use std::fmt::Write;
use store::DeviceIndex;

/// A rule's position in the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleId(pub u16);

/// One alert, as the rule engine raised it (the record scoring reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alert {
    pub rule: RuleId,
    pub device: DeviceIndex,
    /// When the back end raised it (processing time).
    pub raised_at: SimTime,
    /// The device time of the reading that made the rule true.
    pub reading_time: SimTime,
}

/// A message to a person or system about an alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub rule: RuleId,
    pub device: DeviceIndex,
    pub raised_at: SimTime,
    pub channel: Channel,
    /// Address, phone number or URL.
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// A sent notification with its simulated send time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentNotification {
    pub sent_at: SimTime,
    pub notification: Notification,
}

/// The e-mail, SMS and webhook outboxes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotificationSinks {
    email: Vec<SentNotification>,
    sms: Vec<SentNotification>,
    webhook: Vec<SentNotification>,
}

impl NotificationSinks {
    /// Records `notification` as sent through its channel at `now`.
    pub fn handle_notification(&mut self, now: SimTime, notification: Notification) {
        let sink = match notification.channel {
            Channel::Email => &mut self.email,
            Channel::Sms => &mut self.sms,
            Channel::Webhook => &mut self.webhook,
        };
        sink.push(SentNotification {
            sent_at: now,
            notification,
        });
    }

    /// What went out through `channel`, in send order.
    pub fn sent(&self, channel: Channel) -> &[SentNotification] {
        match channel {
            Channel::Email => &self.email,
            Channel::Sms => &self.sms,
            Channel::Webhook => &self.webhook,
        }
    }
}

/// What the dashboard knows of one device (24 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceStatus {
    /// Device time of the newest reading processed, if any.
    pub last_reading: Option<SimTime>,
    pub readings: u32,
    pub open_alerts: u16,
}

/// An alert that has not cleared yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenAlert {
    pub rule: RuleId,
    pub device: DeviceIndex,
    pub raised_at: SimTime,
}

/// The open alerts, ordered by (rule, device), and how many devices were seen and are
/// alerting. Per-device status is [`crate::RuleEngine::device_status`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dashboard {
    pub(crate) open: BTreeMap<(RuleId, DeviceIndex), SimTime>,
    pub(crate) devices_seen: usize,
    pub(crate) devices_alerting: usize,
}

impl Dashboard {
    /// Devices that sent at least one reading.
    pub fn devices_seen(&self) -> usize {
        self.devices_seen
    }

    /// Devices with at least one open alert.
    pub fn devices_alerting(&self) -> usize {
        self.devices_alerting
    }

    /// Open alerts ordered by rule, then device.
    pub fn open_alerts(&self) -> impl Iterator<Item = OpenAlert> + '_ {
        self.open
            .iter()
            .map(|(&(rule, device), &raised_at)| OpenAlert {
                rule,
                device,
                raised_at,
            })
    }

    /// A plain-text view: counts, then up to `rows` open alerts with UTC times.
    pub fn render(
        &self,
        rule_names: &[String],
        epoch: Epoch,
        rows: usize,
        name_of: &dyn Fn(DeviceIndex) -> String,
    ) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "devices seen: {}  alerting: {}  open alerts: {}",
            self.devices_seen(),
            self.devices_alerting(),
            self.open.len()
        );
        for (i, name) in rule_names.iter().enumerate() {
            let n = self.open.keys().filter(|(r, _)| r.0 as usize == i).count();
            let _ = writeln!(out, "  {name}: {n} open");
        }
        for a in self.open_alerts().take(rows) {
            let name = rule_names
                .get(a.rule.0 as usize)
                .map_or("?", String::as_str);
            let _ = writeln!(
                out,
                "  {name:<16} device {:>8}  since {}",
                name_of(a.device),
                epoch.utc(a.raised_at)
            );
        }
        if self.open.len() > rows {
            let _ = writeln!(out, "  … {} more", self.open.len() - rows);
        }
        out
    }
}
