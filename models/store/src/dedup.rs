//! De-duplication by (device, sequence number) so at-least-once delivery stores each
//! reading once.
//!
//! IoT Hub delivers device-to-cloud messages at least once; a retried publish whose
//! acknowledgement was lost arrives twice, usually close together. Per device the store
//! keeps the highest sequence number seen and a 64-bit bitmap of the 64 numbers below it
//! (16 bytes, no allocation). A number more than 64 below the highest cannot be told
//! apart from a duplicate any more: it is dropped and counted as stale, never stored
//! twice. Assumption: a device's sequence numbers only grow over its life (the firmware
//! keeps the counter across reboots).

/// Window width: how far behind the newest a late message may arrive and still be stored.
pub const SEQ_WINDOW: u32 = 64;

/// What to do with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqVerdict {
    /// First time seen: store it.
    New,
    /// Seen before: drop it.
    Duplicate,
    /// Too far behind the newest to know; dropped.
    Stale,
}

/// The per-device de-duplication window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqWindow {
    /// Bit `i` set: `highest - 1 - i` was seen.
    below: u64,
    highest: u32,
    seen_any: bool,
}

impl SeqWindow {
    /// A device never heard from.
    pub const EMPTY: SeqWindow = SeqWindow {
        below: 0,
        highest: 0,
        seen_any: false,
    };

    /// Whether any message was accepted.
    pub fn seen_any(&self) -> bool {
        self.seen_any
    }

    /// Records `seq` and says whether it is new.
    #[inline]
    pub fn accept(&mut self, seq: u32) -> SeqVerdict {
        if !self.seen_any {
            self.seen_any = true;
            self.highest = seq;
            self.below = 0;
            return SeqVerdict::New;
        }
        if seq > self.highest {
            let shift = seq - self.highest;
            self.below = if shift >= SEQ_WINDOW {
                0
            } else {
                (self.below << shift) | (1 << (shift - 1))
            };
            if shift == SEQ_WINDOW {
                self.below = 1 << (SEQ_WINDOW - 1);
            }
            self.highest = seq;
            return SeqVerdict::New;
        }
        if seq == self.highest {
            return SeqVerdict::Duplicate;
        }
        let back = self.highest - seq;
        if back > SEQ_WINDOW {
            return SeqVerdict::Stale;
        }
        let bit = 1u64 << (back - 1);
        if self.below & bit != 0 {
            SeqVerdict::Duplicate
        } else {
            self.below |= bit;
            SeqVerdict::New
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_redelivered_message_is_a_duplicate_and_a_late_one_is_new() {
        let mut w = SeqWindow::default();
        assert_eq!(w.accept(10), SeqVerdict::New);
        assert_eq!(w.accept(12), SeqVerdict::New);
        assert_eq!(w.accept(12), SeqVerdict::Duplicate);
        assert_eq!(w.accept(11), SeqVerdict::New);
        assert_eq!(w.accept(10), SeqVerdict::Duplicate);
        assert_eq!(w.accept(12 + 64), SeqVerdict::New);
        assert_eq!(w.accept(12), SeqVerdict::Duplicate);
        assert_eq!(w.accept(11), SeqVerdict::Stale);
        assert_eq!(w.accept(13), SeqVerdict::New);
    }

    proptest! {
        #[test]
        fn within_the_window_the_verdict_matches_a_set(
            seqs in proptest::collection::vec(0u32..200, 0..300)
        ) {
            let mut w = SeqWindow::default();
            let mut seen = std::collections::BTreeSet::new();
            let mut highest: Option<u32> = None;
            for s in seqs {
                let verdict = w.accept(s);
                let stale = highest.is_some_and(|h| s + SEQ_WINDOW < h);
                let expected = if stale {
                    SeqVerdict::Stale
                } else if seen.contains(&s) {
                    SeqVerdict::Duplicate
                } else {
                    SeqVerdict::New
                };
                prop_assert_eq!(verdict, expected);
                if expected == SeqVerdict::New {
                    seen.insert(s);
                    highest = Some(highest.map_or(s, |h| h.max(s)));
                }
            }
        }
    }
}
