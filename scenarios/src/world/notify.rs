//! The notifier: the rules' notifications (IoT Central actions: e-mail, SMS through an action
//! group, webhooks, reference §6) leave the back end and reach their recipients after a
//! channel's latency, or are lost. Nothing reacts to a delivery inside the run, so a delivery
//! is drawn when the notification is sent (from the notifier's own stream) rather than
//! scheduled: the fleet's events and trace are the same with or without notifications.

use analytics::{Channel, Notification};
use sim::{Dist, Ratio, RngStream, Seed, SimDuration, SimTime, StreamKey};

/// How a channel delivers: a lognormal latency and a loss ratio.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelDelivery {
    pub latency_ms: Dist,
    pub loss: Ratio,
}

impl ChannelDelivery {
    /// The defaults **[assumed; the reference gives no delivery figures]**: e-mail 30 s median,
    /// 10 min p99, 0.1 % lost; SMS 5 s, 60 s, 1 %; webhook 0.2 s, 2 s, none.
    pub fn default_for(channel: Channel) -> ChannelDelivery {
        let (median, p99, loss) = match channel {
            Channel::Email => (30_000.0, 600_000.0, 0.001),
            Channel::Sms => (5_000.0, 60_000.0, 0.01),
            Channel::Webhook => (200.0, 2_000.0, 0.0),
        };
        ChannelDelivery {
            latency_ms: Dist::lognormal_median_p99(median, p99).expect("valid constants"),
            loss: Ratio::new(loss).expect("valid constant"),
        }
    }
}

/// The channels in summary order.
pub const CHANNELS: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Webhook];

pub(crate) fn channel_index(c: Channel) -> usize {
    match c {
        Channel::Email => 0,
        Channel::Sms => 1,
        Channel::Webhook => 2,
    }
}

/// One notification sent, and when (if ever) it reached its recipient.
#[derive(Clone, Debug, PartialEq)]
pub struct Sent {
    pub channel: Channel,
    pub rule: u16,
    /// The rules' class's device index.
    pub device: u32,
    pub raised_at: SimTime,
    pub sent_at: SimTime,
    pub delivered_at: Option<SimTime>,
}

pub(crate) struct Notifier {
    channels: [ChannelDelivery; 3],
    rng: RngStream,
    pub(crate) sent: Vec<Sent>,
}

impl Notifier {
    pub(crate) fn new(seed: Seed, channels: [ChannelDelivery; 3]) -> Notifier {
        Notifier {
            channels,
            rng: seed.stream(StreamKey::new("notify", 0, "delivery")),
            sent: Vec::new(),
        }
    }

    pub(crate) fn handle_notification(&mut self, now: SimTime, n: &Notification) {
        let d = &self.channels[channel_index(n.channel)];
        let delivered_at = if d.loss.chance(&mut self.rng) {
            None
        } else {
            let ms = d.latency_ms.sample(&mut self.rng).max(0.0);
            Some(now + SimDuration::from_secs_f64(ms / 1_000.0))
        };
        self.sent.push(Sent {
            channel: n.channel,
            rule: n.rule.0,
            device: n.device.0,
            raised_at: n.raised_at,
            sent_at: now,
            delivered_at,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use analytics::RuleId;
    use store::DeviceIndex;

    fn note(channel: Channel) -> Notification {
        Notification {
            rule: RuleId(0),
            device: DeviceIndex(3),
            raised_at: SimTime::from_secs(100),
            channel,
            to: "x".into(),
            subject: String::new(),
            body: String::new(),
        }
    }

    #[test]
    fn a_lossless_channel_delivers_everything_after_its_latency_and_a_lossy_one_loses_its_share() {
        let lossy = ChannelDelivery {
            latency_ms: Dist::lognormal_median_p99(1_000.0, 5_000.0).unwrap(),
            loss: Ratio::new(0.3).unwrap(),
        };
        let mut n = Notifier::new(
            Seed(7),
            [
                lossy,
                ChannelDelivery::default_for(Channel::Sms),
                ChannelDelivery::default_for(Channel::Webhook),
            ],
        );
        let now = SimTime::from_secs(100);
        for _ in 0..2_000 {
            n.handle_notification(now, &note(Channel::Email));
            n.handle_notification(now, &note(Channel::Webhook));
        }
        let delivered = |c: Channel| {
            n.sent
                .iter()
                .filter(|s| s.channel == c && s.delivered_at.is_some())
                .count()
        };
        assert_eq!(delivered(Channel::Webhook), 2_000);
        let e = delivered(Channel::Email) as f64 / 2_000.0;
        assert!((0.65..0.75).contains(&e), "{e}");
        assert!(n
            .sent
            .iter()
            .filter_map(|s| s.delivered_at)
            .all(|t| t > now));
    }
}
