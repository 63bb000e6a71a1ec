//! Tiers, units, the daily quota and the per-second throttles of IoT Hub (reference §1.1,
//! §1.2), and the traffic shaper that applies them.
//!
//! **Throttle rates** are kept per minute so every documented figure is an integer
//! (1.67/s/unit is 100/min/unit; 160 KB/s/unit of direct-method traffic in 4 KB units is
//! 2,400 units/min/unit).
//!
//! **Traffic shaping** (reference §1.2): a burst above the rate is accepted, then requests
//! queue and are served at the throttle rate (latency rises), then, when the bounded queue is
//! full, they are refused with 429. We implement it with GCRA (the virtual-scheduling form of
//! a token bucket): the shaper keeps a theoretical arrival time `tat`; a request of cost `c`
//! arriving at `now` sees a backlog `b = max(tat, now) − now`; it is accepted at once if
//! `b ≤ burst`, accepted with latency `b − burst` if that latency is at most `queue`, and
//! refused otherwise; an accepted request moves `tat` on by `c` emission intervals.
//! The reference says the burst lasts "the first minute or two" of a 2× overload; we assume
//! **burst = 60 s and queue = 60 s worth of the throttle rate** by default **[assumption]**:
//! at 2× the S1 D2C rate the first minute is accepted at once, latency then grows to 60 s over
//! the second minute, and 429s begin after that. Both are configurable in [`Shaping`].

use sim::{SimDuration, SimTime};

/// IoT Hub tiers (reference §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    F1,
    B1,
    B2,
    B3,
    S1,
    S2,
    S3,
}

/// An operation class with its own throttle (reference §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpClass {
    DeviceToCloud,
    Connections,
    TwinReads,
    TwinUpdates,
    CloudToDeviceSends,
    /// Metered in 4 KB units of payload.
    DirectMethods,
    IdentityRegistry,
}

impl OpClass {
    pub const ALL: [OpClass; 7] = [
        OpClass::DeviceToCloud,
        OpClass::Connections,
        OpClass::TwinReads,
        OpClass::TwinUpdates,
        OpClass::CloudToDeviceSends,
        OpClass::DirectMethods,
        OpClass::IdentityRegistry,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            OpClass::DeviceToCloud => "d2c",
            OpClass::Connections => "connections",
            OpClass::TwinReads => "twin_reads",
            OpClass::TwinUpdates => "twin_updates",
            OpClass::CloudToDeviceSends => "c2d_sends",
            OpClass::DirectMethods => "direct_methods",
            OpClass::IdentityRegistry => "identity_registry",
        }
    }
}

impl Tier {
    pub fn parse(s: &str) -> Option<Tier> {
        Some(match s {
            "F1" => Tier::F1,
            "B1" => Tier::B1,
            "B2" => Tier::B2,
            "B3" => Tier::B3,
            "S1" => Tier::S1,
            "S2" => Tier::S2,
            "S3" => Tier::S3,
            _ => return None,
        })
    }

    /// Most units a hub of this tier can have (reference §1.1).
    pub fn units_max(self) -> u32 {
        match self {
            Tier::F1 => 1,
            Tier::B3 | Tier::S3 => 10,
            _ => 200,
        }
    }

    /// Basic tiers have no cloud-to-device messages, direct methods or twins (reference §1.2
    /// "Std only"; §1.10 "Basic tier / no twin").
    pub fn is_basic(self) -> bool {
        matches!(self, Tier::B1 | Tier::B2 | Tier::B3)
    }

    /// Messages per day the hub may meter (reference §1.1): 8,000 on Free; per unit 400,000
    /// (B1/S1), 6,000,000 (B2/S2), 300,000,000 (B3/S3).
    pub fn daily_messages(self, units: u32) -> u64 {
        let per_unit: u64 = match self {
            Tier::F1 => return 8_000,
            Tier::B1 | Tier::S1 => 400_000,
            Tier::B2 | Tier::S2 => 6_000_000,
            Tier::B3 | Tier::S3 => 300_000_000,
        };
        per_unit * u64::from(units)
    }

    /// Metering chunk in bytes: 0.5 KB on Free, 4 KB on paid tiers (reference §1.1).
    pub fn chunk_bytes(self) -> u32 {
        if self == Tier::F1 {
            512
        } else {
            4_096
        }
    }

    /// The throttle of `op` in operations (or 4 KB method units) per minute, for the hub's
    /// units (reference §1.2). `None` if the tier does not offer the operation.
    pub fn rate_per_min(self, op: OpClass, units: u32) -> Option<u64> {
        let u = u64::from(units);
        let (small, mid, big) = (
            matches!(self, Tier::F1 | Tier::B1 | Tier::S1),
            matches!(self, Tier::B2 | Tier::S2),
            matches!(self, Tier::B3 | Tier::S3),
        );
        debug_assert!(small || mid || big);
        let std_only = matches!(
            op,
            OpClass::CloudToDeviceSends
                | OpClass::DirectMethods
                | OpClass::TwinReads
                | OpClass::TwinUpdates
        );
        if std_only && self.is_basic() {
            return None;
        }
        Some(match op {
            // max(100/s, 12/s/unit) | 120/s/unit | 6,000/s/unit
            OpClass::DeviceToCloud | OpClass::Connections => {
                if small {
                    (100 * 60).max(12 * 60 * u)
                } else if mid {
                    120 * 60 * u
                } else {
                    6_000 * 60 * u
                }
            }
            // 100/min/unit | 100/min/unit | 5,000/min/unit
            OpClass::IdentityRegistry | OpClass::CloudToDeviceSends => {
                if big {
                    5_000 * u
                } else {
                    100 * u
                }
            }
            // 160 KB/s/unit | 480 KB/s/unit | 24 MB/s/unit, in 4 KB units per minute.
            OpClass::DirectMethods => {
                if small {
                    40 * 60 * u
                } else if mid {
                    120 * 60 * u
                } else {
                    6_000 * 60 * u
                }
            }
            // 100/s | max(100/s, 10/s/unit) | 500/s/unit
            OpClass::TwinReads => {
                if small {
                    100 * 60
                } else if mid {
                    (100 * 60).max(10 * 60 * u)
                } else {
                    500 * 60 * u
                }
            }
            // 50/s | max(50/s, 5/s/unit) | 250/s/unit
            OpClass::TwinUpdates => {
                if small {
                    50 * 60
                } else if mid {
                    (50 * 60).max(5 * 60 * u)
                } else {
                    250 * 60 * u
                }
            }
        })
    }
}

/// Burst and queue allowances of the traffic shaper, in seconds' worth of the throttle rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shaping {
    pub burst: SimDuration,
    pub queue: SimDuration,
}

impl Default for Shaping {
    /// 60 s of burst, 60 s of queue **[assumption]**, see the module docs.
    fn default() -> Self {
        Shaping {
            burst: SimDuration::from_secs(60),
            queue: SimDuration::from_secs(60),
        }
    }
}

/// What the shaper did with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Served now.
    Now,
    /// Queued: served after this latency.
    Delayed(SimDuration),
    /// The queue is full: 429.
    Refused,
}

/// A GCRA traffic shaper for one operation class (see module docs). 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shaper {
    interval_ns: u64,
    burst_ns: u64,
    queue_ns: u64,
    tat_ns: u64,
}

impl Shaper {
    /// A shaper for `per_min` operations per minute; `per_min` must be positive.
    pub fn new(per_min: u64, shaping: Shaping) -> Shaper {
        Shaper {
            interval_ns: 60_000_000_000 / per_min.max(1),
            burst_ns: shaping.burst.as_nanos(),
            queue_ns: shaping.queue.as_nanos(),
            tat_ns: 0,
        }
    }

    /// Offers a request of `cost` units at `now`.
    #[inline]
    pub fn admit(&mut self, now: SimTime, cost: u64) -> Admit {
        let now = now.as_nanos();
        let tat = self.tat_ns.max(now);
        let backlog = tat - now;
        if backlog <= self.burst_ns {
            self.tat_ns = tat + cost * self.interval_ns;
            Admit::Now
        } else if backlog - self.burst_ns <= self.queue_ns {
            self.tat_ns = tat + cost * self.interval_ns;
            Admit::Delayed(SimDuration::from_nanos(backlog - self.burst_ns))
        } else {
            Admit::Refused
        }
    }

    /// The emission interval: one operation per this span at the throttle rate.
    pub fn interval(&self) -> SimDuration {
        SimDuration::from_nanos(self.interval_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s1_figures_are_the_documented_ones() {
        assert_eq!(
            Tier::S1.rate_per_min(OpClass::DeviceToCloud, 1),
            Some(6_000)
        );
        assert_eq!(
            Tier::S1.rate_per_min(OpClass::DeviceToCloud, 10),
            Some(7_200)
        );
        assert_eq!(Tier::S2.rate_per_min(OpClass::Connections, 2), Some(14_400));
        assert_eq!(
            Tier::S1.rate_per_min(OpClass::DirectMethods, 1),
            Some(2_400)
        );
        assert_eq!(Tier::S3.rate_per_min(OpClass::TwinUpdates, 2), Some(30_000));
        assert_eq!(Tier::B1.rate_per_min(OpClass::CloudToDeviceSends, 1), None);
        assert_eq!(Tier::S1.daily_messages(2), 800_000);
        assert_eq!(Tier::F1.daily_messages(1), 8_000);
        assert_eq!(Tier::F1.chunk_bytes(), 512);
    }

    #[test]
    fn a_shaper_accepts_a_burst_then_delays_then_refuses() {
        let shaping = Shaping {
            burst: SimDuration::from_secs(1),
            queue: SimDuration::from_secs(1),
        };
        let mut s = Shaper::new(6_000, shaping); // 100/s, 10 ms apart
        let t = SimTime::from_secs(10);
        let outcomes: Vec<Admit> = (0..250).map(|_| s.admit(t, 1)).collect();
        // backlog 0..=1 s is the burst: 101 requests at once.
        assert!(outcomes[..101].iter().all(|a| *a == Admit::Now));
        assert_eq!(outcomes[101], Admit::Delayed(SimDuration::from_millis(10)));
        assert_eq!(outcomes[200], Admit::Delayed(SimDuration::from_secs(1)));
        assert!(outcomes[201..].iter().all(|a| *a == Admit::Refused));
    }
}
