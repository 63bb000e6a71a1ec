//! Radios as link profiles the network model uses: airtime, energy, latency, loss by distance,
//! and the EU868 duty-cycle limit.
//!
//! **Model.** A [`RadioProfile`] gives, for one message of N payload bytes:
//! - **airtime**: for LoRaWAN the Semtech AN1200.13 formula (SF7–SF12, 125 kHz, coding rate
//!   4/5, explicit header, CRC on, 8-symbol preamble, low-data-rate optimisation on SF11/12) over
//!   the PHY payload (N + 13 bytes of LoRaWAN MAC header, frame header, port and MIC); for the
//!   others `(N + overhead_bytes)·8 / bitrate`;
//! - **energy**: TX current × supply × airtime, plus a fixed per-message session cost (LoRaWAN
//!   Class A receive windows; cellular wake-up, RRC connection and inactivity tail; Wi-Fi
//!   wake-up), µJ;
//! - **latency**: a base plus a jitter distribution (ms) — the access link only; the WAN to the
//!   cloud region belongs to the network model;
//! - **loss** by distance: a two-slope log-distance path loss (free space up to a breakpoint,
//!   exponent `n` beyond) against the link budget (maximum coupling loss), with log-normal
//!   shadowing of SD σ dB: `P(loss) = Q(margin / σ)`, combined with a floor for collisions and
//!   interference.
//!
//! [`DutyCycle`] enforces the EU868 1 % limit (reference §7.3: "EU868 1 % duty cycle"): after a
//! transmission of airtime T the device may not transmit on that sub-band for 99·T. It is an
//! 8-byte state.
//!
//! **Figures.** LoRa: reference §7.3 gives uplinks received up to 40.7 km on the ground and
//! "LoRa TX ~40-120 mA for <1-2 s" (generic). **Assumed:** SX1276-class at 14 dBm, 44 mA TX,
//! 11 mA RX; sensitivity −123 (SF7) … −137 dBm (SF12); 3 dB net antenna gain; path-loss exponent
//! 3.3 beyond 1 km, σ 8 dB, 1 % collision floor; two receive windows of 6 symbols each;
//! latency 100 ms base (gateway backhaul + network server) plus airtime, jitter lognormal median
//! 50 ms p99 500 ms. Cellular and Wi-Fi figures (all **assumed**, typical module datasheets and
//! 3GPP coverage targets): NB-IoT 164 dB MCL, 23 dBm at 220 mA, 20 kbit/s, 3.5 J per message
//! session, 2 s base latency (jitter median 0.5 s, p99 6 s); LTE-M 156 dB MCL, 200 mA,
//! 300 kbit/s, 1.2 J session, 100 ms (median 30 ms, p99 300 ms); LTE Cat-1 "cellular"
//! 143 dB MCL, 500 mA, 5 Mbit/s, 2.5 J session, 50 ms (median 15 ms, p99 150 ms); Wi-Fi (the
//! DevKit's EMW3166, §7.1) 107 dB budget indoors (exponent 3.0 beyond 1 m, σ 6 dB), 320 mA TX,
//! 6 Mbit/s effective, 50 mJ session, 3 ms (median 2 ms, p99 40 ms).
//!
//! **Left out.** Adaptive data rate, channel hopping and per-channel duty-cycle bands (all
//! three EU868 default channels are in the same 1 % sub-band, so one tracker suffices),
//! downlink airtime of gateways, cellular PSM/eDRX timers, Wi-Fi association and DHCP.

use sim::{Dist, Ratio, SimDuration, SimTime};

/// LoRa spreading factor at 125 kHz.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpreadingFactor {
    Sf7,
    Sf8,
    Sf9,
    Sf10,
    Sf11,
    Sf12,
}

impl SpreadingFactor {
    pub const ALL: [SpreadingFactor; 6] = [
        SpreadingFactor::Sf7,
        SpreadingFactor::Sf8,
        SpreadingFactor::Sf9,
        SpreadingFactor::Sf10,
        SpreadingFactor::Sf11,
        SpreadingFactor::Sf12,
    ];
    pub fn value(self) -> u32 {
        match self {
            SpreadingFactor::Sf7 => 7,
            SpreadingFactor::Sf8 => 8,
            SpreadingFactor::Sf9 => 9,
            SpreadingFactor::Sf10 => 10,
            SpreadingFactor::Sf11 => 11,
            SpreadingFactor::Sf12 => 12,
        }
    }
    /// Receiver sensitivity at 125 kHz, dBm (SX1276-class, assumed).
    pub fn sensitivity_dbm(self) -> f64 {
        match self {
            SpreadingFactor::Sf7 => -123.0,
            SpreadingFactor::Sf8 => -126.0,
            SpreadingFactor::Sf9 => -129.0,
            SpreadingFactor::Sf10 => -132.0,
            SpreadingFactor::Sf11 => -134.5,
            SpreadingFactor::Sf12 => -137.0,
        }
    }
    /// Largest application payload in EU868 (LoRaWAN regional parameters: 51 bytes at DR0–2,
    /// 115 at DR3, 222 at DR4–5).
    pub fn max_payload_bytes(self) -> u32 {
        match self {
            SpreadingFactor::Sf12 | SpreadingFactor::Sf11 | SpreadingFactor::Sf10 => 51,
            SpreadingFactor::Sf9 => 115,
            SpreadingFactor::Sf8 | SpreadingFactor::Sf7 => 222,
        }
    }
    /// One symbol at 125 kHz, seconds.
    pub fn symbol_s(self) -> f64 {
        f64::from(1u32 << self.value()) / 125_000.0
    }
}

/// LoRaWAN bytes added to the application payload: MHDR 1 + FHDR 7 + FPort 1 + MIC 4.
pub const LORAWAN_OVERHEAD_BYTES: u32 = 13;

/// Time on air of a LoRa packet with a PHY payload of `phy_payload_bytes` at 125 kHz, CR 4/5,
/// explicit header, CRC on, 8-symbol preamble (Semtech AN1200.13).
pub fn lora_airtime(sf: SpreadingFactor, phy_payload_bytes: u32) -> SimDuration {
    let sf_n = f64::from(sf.value());
    let t_sym = sf.symbol_s();
    let de = if sf.value() >= 11 { 1.0 } else { 0.0 };
    let (crc, ih, cr) = (1.0, 0.0, 1.0);
    let preamble = (8.0 + 4.25) * t_sym;
    let num = 8.0 * f64::from(phy_payload_bytes) - 4.0 * sf_n + 28.0 + 16.0 * crc - 20.0 * ih;
    let den = 4.0 * (sf_n - 2.0 * de);
    let payload_symbols = 8.0 + (libm::ceil(num / den) * (cr + 4.0)).max(0.0);
    SimDuration::from_secs_f64(preamble + payload_symbols * t_sym)
}

/// Radio technology.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RadioTech {
    WiFi,
    LoRaWan(SpreadingFactor),
    NbIot,
    LteM,
    Cellular,
}

/// A link budget and path-loss model. See the module docs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkBudget {
    pub frequency_mhz: f64,
    /// Largest path loss the link tolerates (TX power + gains − sensitivity), dB.
    pub budget_db: f64,
    /// Free-space propagation up to this distance.
    pub breakpoint_m: f64,
    /// Path-loss exponent beyond the breakpoint.
    pub exponent: f64,
    /// Log-normal shadowing SD, dB.
    pub shadowing_sd_db: f64,
    /// Loss that happens whatever the distance (collisions, interference).
    pub loss_floor: Ratio,
}

impl LinkBudget {
    /// Median path loss at `distance_m`, dB.
    pub fn path_loss_db(&self, distance_m: f64) -> f64 {
        let fspl = |d_m: f64| {
            20.0 * libm::log10(d_m.max(1.0) / 1_000.0)
                + 20.0 * libm::log10(self.frequency_mhz)
                + 32.44
        };
        if distance_m <= self.breakpoint_m {
            fspl(distance_m)
        } else {
            fspl(self.breakpoint_m)
                + 10.0 * self.exponent * libm::log10(distance_m / self.breakpoint_m)
        }
    }

    /// Link margin at `distance_m`, dB (positive = the median signal is above sensitivity).
    pub fn margin_db(&self, distance_m: f64) -> f64 {
        self.budget_db - self.path_loss_db(distance_m)
    }

    /// Probability a packet is lost at `distance_m`.
    pub fn loss_at(&self, distance_m: f64) -> Ratio {
        let margin = self.margin_db(distance_m);
        let shadow = if self.shadowing_sd_db > 0.0 {
            0.5 * libm::erfc(margin / (self.shadowing_sd_db * core::f64::consts::SQRT_2))
        } else if margin >= 0.0 {
            0.0
        } else {
            1.0
        };
        let p = 1.0 - (1.0 - self.loss_floor.get()) * (1.0 - shadow);
        Ratio::new(p.clamp(0.0, 1.0)).unwrap_or(Ratio::ONE)
    }
}

/// The parameters the network model needs for one link (what `sim`'s network model takes,
/// expressed without depending on it).
#[derive(Clone, Debug, PartialEq)]
pub struct LinkParams {
    /// Fixed part of the one-way latency, including airtime of a typical message.
    pub latency_base: SimDuration,
    /// Extra latency, milliseconds.
    pub jitter_ms: Dist,
    pub loss: Ratio,
    /// Effective payload throughput.
    pub bytes_per_s: f64,
}

/// A radio's figures. See the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct RadioProfile {
    pub name: &'static str,
    pub tech: RadioTech,
    pub supply_v: f64,
    pub tx_current_ma: f64,
    pub rx_current_ma: f64,
    /// Raw bitrate for non-LoRa radios (LoRa airtime follows the formula).
    pub bitrate_bps: f64,
    /// Protocol bytes added to each message (LoRaWAN: 13; IP/TLS framing for the others).
    pub overhead_bytes: u32,
    /// Fixed energy per message beyond the TX airtime, µJ.
    pub session_energy_uj: f64,
    pub latency_base: SimDuration,
    pub jitter_ms: Dist,
    pub link: LinkBudget,
}

fn lognormal_ms(median: f64, p99: f64) -> Dist {
    Dist::lognormal_median_p99(median, p99).expect("constant distribution parameters")
}

fn ratio(p: f64) -> Ratio {
    Ratio::new(p).expect("constant ratio")
}

impl RadioProfile {
    /// LoRaWAN EU868 at spreading factor `sf` (assumed SX1276-class figures, module docs).
    pub fn lorawan(sf: SpreadingFactor) -> Self {
        let (tx_ma, rx_ma, v) = (44.0, 11.0, 3.3);
        // Class A opens two receive windows after each uplink; with nothing to receive each
        // stays open for about six symbols (preamble detection).
        let rx_window_s = 6.0 * sf.symbol_s();
        RadioProfile {
            name: "LoRaWAN EU868",
            tech: RadioTech::LoRaWan(sf),
            supply_v: v,
            tx_current_ma: tx_ma,
            rx_current_ma: rx_ma,
            bitrate_bps: 0.0,
            overhead_bytes: LORAWAN_OVERHEAD_BYTES,
            session_energy_uj: 2.0 * rx_window_s * rx_ma * v * 1_000.0,
            latency_base: SimDuration::from_millis(100),
            jitter_ms: lognormal_ms(50.0, 500.0),
            link: LinkBudget {
                frequency_mhz: 868.0,
                budget_db: 14.0 + 3.0 - sf.sensitivity_dbm(),
                breakpoint_m: 1_000.0,
                exponent: 3.3,
                shadowing_sd_db: 8.0,
                loss_floor: ratio(0.01),
            },
        }
    }

    /// NB-IoT (assumed figures, module docs).
    pub fn nb_iot() -> Self {
        RadioProfile {
            name: "NB-IoT",
            tech: RadioTech::NbIot,
            supply_v: 3.6,
            tx_current_ma: 220.0,
            rx_current_ma: 50.0,
            bitrate_bps: 20_000.0,
            overhead_bytes: 60,
            session_energy_uj: 3.5e6,
            latency_base: SimDuration::from_secs(2),
            jitter_ms: lognormal_ms(500.0, 6_000.0),
            link: LinkBudget {
                frequency_mhz: 800.0,
                budget_db: 164.0,
                breakpoint_m: 1_000.0,
                exponent: 3.5,
                shadowing_sd_db: 8.0,
                loss_floor: ratio(0.005),
            },
        }
    }

    /// LTE-M (assumed figures, module docs).
    pub fn lte_m() -> Self {
        RadioProfile {
            name: "LTE-M",
            tech: RadioTech::LteM,
            supply_v: 3.6,
            tx_current_ma: 200.0,
            rx_current_ma: 50.0,
            bitrate_bps: 300_000.0,
            overhead_bytes: 60,
            session_energy_uj: 1.2e6,
            latency_base: SimDuration::from_millis(100),
            jitter_ms: lognormal_ms(30.0, 300.0),
            link: LinkBudget {
                frequency_mhz: 800.0,
                budget_db: 156.0,
                breakpoint_m: 1_000.0,
                exponent: 3.5,
                shadowing_sd_db: 8.0,
                loss_floor: ratio(0.002),
            },
        }
    }

    /// LTE Cat-1 cellular (assumed figures, module docs).
    pub fn cellular() -> Self {
        RadioProfile {
            name: "LTE Cat-1",
            tech: RadioTech::Cellular,
            supply_v: 3.8,
            tx_current_ma: 500.0,
            rx_current_ma: 100.0,
            bitrate_bps: 5_000_000.0,
            overhead_bytes: 60,
            session_energy_uj: 2.5e6,
            latency_base: SimDuration::from_millis(50),
            jitter_ms: lognormal_ms(15.0, 150.0),
            link: LinkBudget {
                frequency_mhz: 1_800.0,
                budget_db: 143.0,
                breakpoint_m: 1_000.0,
                exponent: 3.5,
                shadowing_sd_db: 8.0,
                loss_floor: ratio(0.001),
            },
        }
    }

    /// Wi-Fi of the DevKit's EMW3166 module (reference §7.1; current and rates assumed).
    pub fn wifi() -> Self {
        RadioProfile {
            name: "Wi-Fi 2.4 GHz (EMW3166)",
            tech: RadioTech::WiFi,
            supply_v: 3.3,
            tx_current_ma: 320.0,
            rx_current_ma: 90.0,
            bitrate_bps: 6_000_000.0,
            overhead_bytes: 80,
            session_energy_uj: 50_000.0,
            latency_base: SimDuration::from_millis(3),
            jitter_ms: lognormal_ms(2.0, 40.0),
            link: LinkBudget {
                frequency_mhz: 2_437.0,
                budget_db: 107.0,
                breakpoint_m: 1.0,
                exponent: 3.0,
                shadowing_sd_db: 6.0,
                loss_floor: ratio(0.001),
            },
        }
    }

    /// The names [`RadioProfile::named`] knows, for scenario files and their errors.
    pub const NAMES: [&'static str; 10] = [
        "lorawan-sf7",
        "lorawan-sf8",
        "lorawan-sf9",
        "lorawan-sf10",
        "lorawan-sf11",
        "lorawan-sf12",
        "nb-iot",
        "lte-m",
        "cellular",
        "wifi",
    ];

    /// The profile a scenario file names (one of [`RadioProfile::NAMES`]).
    pub fn named(name: &str) -> Option<Self> {
        Some(match name {
            "nb-iot" => RadioProfile::nb_iot(),
            "lte-m" => RadioProfile::lte_m(),
            "cellular" => RadioProfile::cellular(),
            "wifi" => RadioProfile::wifi(),
            _ => {
                let sf = name.strip_prefix("lorawan-sf")?;
                let sf = SpreadingFactor::ALL
                    .into_iter()
                    .find(|s| s.value().to_string() == sf)?;
                RadioProfile::lorawan(sf)
            }
        })
    }

    /// Time on air of a message of `payload_bytes`.
    pub fn airtime(&self, payload_bytes: u32) -> SimDuration {
        let bytes = payload_bytes.saturating_add(self.overhead_bytes);
        match self.tech {
            RadioTech::LoRaWan(sf) => lora_airtime(sf, bytes),
            _ => SimDuration::from_secs_f64(f64::from(bytes) * 8.0 / self.bitrate_bps),
        }
    }

    /// Energy of sending one message of `payload_bytes`, µJ (TX airtime plus session cost).
    pub fn tx_energy_uj(&self, payload_bytes: u32) -> f64 {
        self.airtime(payload_bytes).as_secs_f64() * self.tx_current_ma * self.supply_v * 1_000.0
            + self.session_energy_uj
    }

    /// Energy of receiving for `duration`, µJ.
    pub fn rx_energy_uj(&self, duration: SimDuration) -> f64 {
        duration.as_secs_f64() * self.rx_current_ma * self.supply_v * 1_000.0
    }

    /// Whether a payload fits one message (LoRaWAN limits by spreading factor; the others
    /// fragment at lower layers).
    pub fn fits(&self, payload_bytes: u32) -> bool {
        match self.tech {
            RadioTech::LoRaWan(sf) => payload_bytes <= sf.max_payload_bytes(),
            _ => true,
        }
    }

    /// The `sim` network model's link profile for a device `distance_m` from its gateway or
    /// cell. LoRaWAN: the airtime of a `typical_payload_bytes` message is folded into the
    /// minimum latency and there is no transmit queue (the [`DutyCycle`] tracker paces a LoRa
    /// device, not a FIFO). The others serialise at their bitrate behind a 64 KiB transmit FIFO
    /// (**assumed**: a modem's buffer).
    pub fn link_profile(
        &self,
        distance_m: f64,
        typical_payload_bytes: u32,
    ) -> sim::net::LinkProfile {
        let (min, bandwidth_bps, queue_capacity_bytes) = match self.tech {
            RadioTech::LoRaWan(_) => (
                self.latency_base + self.airtime(typical_payload_bytes),
                None,
                0,
            ),
            _ => (self.latency_base, Some(self.bitrate_bps as u64), 64 * 1024),
        };
        sim::net::LinkProfile {
            latency: sim::net::Latency {
                min,
                jitter_ms: self.jitter_ms.clone(),
            },
            loss: self.link.loss_at(distance_m),
            duplicate: Ratio::ZERO,
            bandwidth_bps,
            queue_capacity_bytes,
        }
    }

    /// Link parameters for a device `distance_m` from its gateway or cell, for messages of
    /// `typical_payload_bytes`.
    pub fn link_params(&self, distance_m: f64, typical_payload_bytes: u32) -> LinkParams {
        let airtime = self.airtime(typical_payload_bytes);
        let bytes = f64::from(typical_payload_bytes.max(1));
        LinkParams {
            latency_base: self.latency_base + airtime,
            jitter_ms: self.jitter_ms.clone(),
            loss: self.link.loss_at(distance_m),
            bytes_per_s: bytes / airtime.as_secs_f64().max(1e-9),
        }
    }
}

/// The EU868 sub-band duty-cycle ratio (1 %).
pub const EU868_DUTY_CYCLE: f64 = 0.01;

/// Whether a transmission may go now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxDecision {
    /// Sent; on air until `ends_at`; the next transmission is allowed from `next_allowed_at`.
    Sent {
        ends_at: SimTime,
        next_allowed_at: SimTime,
    },
    /// Refused by the duty cycle; try again at `until`. Counted, not an error.
    Deferred { until: SimTime },
}

/// The duty-cycle tracker of one sub-band: 8 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DutyCycle {
    ready_at_ns: u64,
}

impl DutyCycle {
    /// When the next transmission is allowed.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        Some(SimTime::from_nanos(self.ready_at_ns))
    }

    /// Asks to transmit for `airtime` at `now` under duty-cycle ratio `ratio` (e.g.
    /// [`EU868_DUTY_CYCLE`]): allowed if the sub-band's off-time has passed; then the band is
    /// closed for `airtime · (1/ratio − 1)` after the transmission ends.
    pub fn handle_transmit(
        &mut self,
        now: SimTime,
        airtime: SimDuration,
        ratio: f64,
    ) -> TxDecision {
        if now.as_nanos() < self.ready_at_ns {
            return TxDecision::Deferred {
                until: SimTime::from_nanos(self.ready_at_ns),
            };
        }
        let ends_at = now.saturating_add(airtime);
        let factor = if ratio > 0.0 && ratio <= 1.0 {
            1.0 / ratio - 1.0
        } else {
            f64::INFINITY
        };
        let off = SimDuration::from_secs_f64(airtime.as_secs_f64() * factor);
        let next = ends_at.saturating_add(off);
        self.ready_at_ns = next.as_nanos();
        TxDecision::Sent {
            ends_at,
            next_allowed_at: next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lora_airtime_matches_the_semtech_formula_reference_values() {
        // 10-byte application payload (23-byte PHY payload): the values LoRaWAN airtime
        // calculators print for SF7 and SF12 at 125 kHz.
        let sf7 = RadioProfile::lorawan(SpreadingFactor::Sf7).airtime(10);
        let sf12 = RadioProfile::lorawan(SpreadingFactor::Sf12).airtime(10);
        assert_eq!(micros_rounded(sf7), 61_696);
        assert_eq!(micros_rounded(sf12), 1_482_752);
        let times: Vec<u64> = SpreadingFactor::ALL
            .iter()
            .map(|sf| RadioProfile::lorawan(*sf).airtime(20).as_nanos())
            .collect();
        assert!(times.windows(2).all(|w| w[1] > w[0]));
    }

    fn micros_rounded(d: SimDuration) -> u64 {
        (d.as_nanos() + 500) / 1_000
    }

    #[test]
    fn the_eu868_duty_cycle_closes_the_band_for_99_airtimes() {
        let mut dc = DutyCycle::default();
        let airtime = SimDuration::from_millis(100);
        let t0 = SimTime::from_secs(1);
        let d = dc.handle_transmit(t0, airtime, EU868_DUTY_CYCLE);
        assert_eq!(
            d,
            TxDecision::Sent {
                ends_at: t0 + airtime,
                next_allowed_at: t0 + SimDuration::from_secs(10),
            }
        );
        let early = t0 + SimDuration::from_millis(9_999);
        assert_eq!(
            dc.handle_transmit(early, airtime, EU868_DUTY_CYCLE),
            TxDecision::Deferred {
                until: t0 + SimDuration::from_secs(10)
            }
        );
        assert!(matches!(
            dc.handle_transmit(t0 + SimDuration::from_secs(10), airtime, EU868_DUTY_CYCLE),
            TxDecision::Sent { .. }
        ));
    }

    #[test]
    fn loss_grows_with_distance_and_shrinks_with_spreading_factor() {
        let sf7 = RadioProfile::lorawan(SpreadingFactor::Sf7);
        let sf12 = RadioProfile::lorawan(SpreadingFactor::Sf12);
        let near = sf7.link.loss_at(1_000.0).get();
        let far = sf7.link.loss_at(20_000.0).get();
        assert!(near < 0.02 && far > near, "{near} {far}");
        assert!(sf12.link.loss_at(20_000.0).get() < far);
        // §7.3: uplinks heard from 40.7 km on the ground: possible at SF12, not reliable.
        let p = sf12.link.loss_at(40_700.0).get();
        assert!(p > 0.05 && p < 0.95, "{p}");
        assert!(!sf12.fits(52) && sf12.fits(51));
    }

    #[test]
    fn energy_per_message_orders_the_technologies() {
        let lora = RadioProfile::lorawan(SpreadingFactor::Sf7).tx_energy_uj(20);
        let nb = RadioProfile::nb_iot().tx_energy_uj(20);
        assert!(lora < 20_000.0 && nb > 100.0 * lora, "{lora} {nb}");
        let lp = RadioProfile::lorawan(SpreadingFactor::Sf9).link_profile(2_000.0, 20);
        assert!(lp.bandwidth_bps.is_none() && lp.latency.min > SimDuration::from_millis(200));
        let cell = RadioProfile::lte_m().link_profile(2_000.0, 20);
        assert_eq!(cell.bandwidth_bps, Some(300_000));
        let params = RadioProfile::wifi().link_params(10.0, 200);
        assert!(params.loss.get() < 0.01 && params.bytes_per_s > 1e5);
    }

    #[test]
    fn every_listed_radio_name_resolves_and_others_do_not() {
        for name in RadioProfile::NAMES {
            assert!(RadioProfile::named(name).is_some(), "{name}");
        }
        assert_eq!(
            RadioProfile::named("lorawan-sf10").map(|r| r.tech),
            Some(RadioTech::LoRaWan(SpreadingFactor::Sf10))
        );
        assert_eq!(
            RadioProfile::named("lte-m").map(|r| r.tech),
            Some(RadioTech::LteM)
        );
        for bad in [
            "",
            "lte",
            "LTE-M",
            "lorawan-sf6",
            "lorawan-sf",
            "lorawan-sf13",
        ] {
            assert!(RadioProfile::named(bad).is_none(), "{bad}");
        }
    }
}
