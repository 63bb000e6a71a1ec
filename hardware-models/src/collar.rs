//! The cattle collar: the compact per-cow bundle a million-collar herd is made of.
//!
//! **Model.** A [`Collar`] is the whole hardware state of one cow's collar and the cow wearing
//! it, in at most 128 bytes (120 today): the [`Cow`] (position, heading, behaviour,
//! baseline temperature, fever and stuck schedules), the collar's own random stream
//! ([`CompactRng`], 8 bytes), the body-temperature probe's manufacturing bias, the GNSS
//! receiver's last-fix time, and the battery state with its energy ledger. Everything shared by
//! the herd — part specs, cow physiology, battery spec, pasture polygon — lives once in a
//! [`CollarSpec`] passed by reference: the [`CollarConfig`] and the [`Polygon`], validated
//! once, with the figures each cycle would otherwise recompute (the cell's capacity, the
//! loads of the cycle's draws, and the charge above which no brown-out is possible, so a
//! healthy cell skips the voltage curve).
//!
//! [`Collar::update`] is the sampling cycle the seed describes ("GPS, temperature … sent to the
//! back-end every 5 minutes"): debit sleep since the last update, advance the cow to `now`,
//! sample the body-temperature probe, take a GNSS fix (or fail), and debit each in the ledger.
//! It allocates nothing. The radio transmission is the firmware's and the network's business;
//! they debit it through [`Collar::handle_radio`].
//!
//! **Power.** The cycle's draws are checked against the battery's brown-out threshold under
//! their loads; [`CollarSample::power`] is `BrownOut` when one sagged below it (the firmware
//! model reboots the device) and `Depleted` once the cell is empty, after which the probe reads
//! nothing and no fix is attempted while the cow lives on.
//!
//! **Ground truth.** `collar.cow()` answers `is_febrile(now)`, `fever_episode()`,
//! `is_stuck(now)`, `stuck_episode()`, `position()` and `body_temp_c(now, cfg)`; the full
//! episode history is [`crate::world::cow::episodes`] with the same seed, id and config.
//!
//! **Figures.** Probe: [`parts::collar_body_probe`]; GNSS: [`GnssSpec::cattle_tag`]
//! (reference §7.3); battery: [`BatterySpec::li_socl2_d`]. **Assumed:** sleep current 20 µA
//! (§7.3: "sleep current tens of uA"), 10 % of fixes attempted under cover (trees, shelter).
//!
//! **Left out.** The IMU of the livestock wearable (§7.3: "fix only if IMU saw motion"), the
//! MCU's active energy between sleep and the parts (folded into the parts' energies), and
//! charging (the collar's primary cell cannot be charged).

use crate::battery::{
    discharge_uj_per_year, BatterySpec, BatterySpecError, BatteryState, Draw, EnergyUse,
    PowerOutcome,
};
use crate::fastmath::{irwin_hall_normal_f32, u64_to_f64};
use crate::gnss::{GnssOutcome, GnssSpec, GnssState, SkyView};
use crate::parts;
use crate::sensor::{NoReadingReason, Reading, SensorSpec, SpecError};
use crate::world::cow::{Cow, CowConfig, CowError};
use geometry::Polygon;
use sim::{CompactRng, Ratio, Seed, SimDuration, SimTime, StreamKey};

/// Everything a herd of collars shares. Plain data; validate with [`CollarConfig::validate`].
#[derive(Clone, Debug, PartialEq)]
pub struct CollarConfig {
    pub cow: CowConfig,
    pub probe: SensorSpec,
    pub gnss: GnssSpec,
    pub battery: BatterySpec,
    /// Current between samples, µA.
    pub sleep_current_ua: f64,
    /// Probability a fix is attempted under cover.
    pub covered_ratio: Ratio,
}

impl Default for CollarConfig {
    fn default() -> Self {
        CollarConfig {
            cow: CowConfig::default(),
            probe: parts::collar_body_probe(),
            gnss: GnssSpec::cattle_tag(),
            battery: BatterySpec::li_socl2_d(),
            sleep_current_ua: 20.0,
            covered_ratio: Ratio::new(0.1).expect("constant ratio"),
        }
    }
}

/// A collar configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CollarError {
    #[error(transparent)]
    Cow(#[from] CowError),
    #[error(transparent)]
    Probe(#[from] SpecError),
    #[error(transparent)]
    Battery(#[from] BatterySpecError),
    #[error(
        "collar config: field sleep_current_ua = {0} but expected a current from 0 to 100000 µA"
    )]
    SleepCurrent(f64),
}

impl CollarConfig {
    pub fn validate(&self) -> Result<(), CollarError> {
        self.cow.validate()?;
        self.probe.validate()?;
        self.battery.validate()?;
        if !(self.sleep_current_ua.is_finite()
            && (0.0..=100_000.0).contains(&self.sleep_current_ua))
        {
            return Err(CollarError::SleepCurrent(self.sleep_current_ua));
        }
        Ok(())
    }
}

/// Cells per side of the pasture's inside/outside grid: 16 KiB; a 2 km pasture has 16 m
/// cells (with 32, a quarter of the collar's fence tests took the full test).
pub const PASTURE_GRID_CELLS: usize = 128;

/// A herd's collar set-up, validated once: the [`CollarConfig`], the pasture the cows graze,
/// and the figures every cycle would otherwise recompute (the cell's capacity, the loads of
/// the cycle's draws, the charge above which no brown-out is possible). Collars are made and
/// updated against it; a million collars share one.
#[derive(Clone, Debug, PartialEq)]
pub struct CollarSpec {
    cfg: CollarConfig,
    pasture: Polygon,
    capacity_uj: u64,
    /// Capacity × yearly self-discharge rate, µJ per year.
    discharge_uj_per_year: f64,
    /// Sleep current × nominal voltage: µJ per nanosecond asleep (a multiplication per
    /// cycle instead of a conversion to seconds, which divides).
    sleep_uj_per_ns: f64,
    sleep_load_ma: f64,
    sample_load_ma: f64,
    fix_load_ma: f64,
    /// [`BatterySpec::no_brownout_from_uj`] under the largest of the three loads.
    no_brownout_from_uj: u64,
}

impl CollarSpec {
    /// Validates `cfg` and derives the per-cycle constants.
    pub fn new(cfg: CollarConfig, pasture: Polygon) -> Result<Self, CollarError> {
        cfg.validate()?;
        let sleep_load_ma = cfg.sleep_current_ua * 1e-3;
        let sample_load_ma = cfg.probe.energy_per_sample_uj
            / (cfg.battery.nominal_v * cfg.probe.conversion_time.as_secs_f64().max(1e-3) * 1e3);
        let fix_load_ma = f64::from(cfg.gnss.active_current_ma);
        let load_ma_max = 0.0f64
            .max(sleep_load_ma)
            .max(sample_load_ma)
            .max(fix_load_ma);
        Ok(CollarSpec {
            capacity_uj: cfg.battery.capacity_uj(),
            discharge_uj_per_year: discharge_uj_per_year(cfg.battery.capacity_uj(), &cfg.battery),
            sleep_uj_per_ns: cfg.sleep_current_ua * cfg.battery.nominal_v * 1e-9,
            sleep_load_ma,
            sample_load_ma,
            fix_load_ma,
            no_brownout_from_uj: cfg.battery.no_brownout_from_uj(load_ma_max),
            cfg,
            // The cows test every step against it: a fine grid keeps only the cows within a
            // cell or so of the fence on the full test.
            pasture: pasture.regridded(PASTURE_GRID_CELLS),
        })
    }
}

/// What one update produced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CollarSample {
    /// The probe's reading (or why there is none).
    pub body_temp: Reading,
    /// Ground truth the probe measured.
    pub true_body_temp_c: f32,
    pub gnss: GnssOutcome,
    /// The worst power outcome of the cycle's draws.
    pub power: PowerOutcome,
}

/// One cow and its collar. See the module docs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Collar {
    cow: Cow,
    rng: CompactRng,
    probe_bias: f32,
    gnss: GnssState,
    battery: BatteryState,
}

impl Collar {
    /// Collar `id` put on its cow at `now`: the cow is placed and its physiology drawn from
    /// the cow streams, the probe's bias from `StreamKey("collar", id, "manufacture")`, the
    /// collar's working stream from `StreamKey("collar", id, "run")`.
    pub fn new(seed: Seed, id: u64, spec: &CollarSpec, now: SimTime) -> Result<Self, CollarError> {
        let cfg = &spec.cfg;
        let cow = Cow::new(seed, id, &cfg.cow, &spec.pasture, now)?;
        let mut manufacture = seed.stream(StreamKey::new("collar", id, "manufacture"));
        let probe_bias = cfg.probe.draw_bias(&mut manufacture) as f32;
        Ok(Collar {
            cow,
            rng: seed.compact(StreamKey::new("collar", id, "run")),
            probe_bias,
            gnss: GnssState::default(),
            battery: BatteryState::new(now),
        })
    }

    pub fn cow(&self) -> &Cow {
        &self.cow
    }
    pub fn battery(&self) -> &BatteryState {
        &self.battery
    }
    pub fn probe_bias_c(&self) -> f32 {
        self.probe_bias
    }

    /// One sampling cycle at `now`. See the module docs.
    pub fn update(&mut self, now: SimTime, spec: &CollarSpec) -> CollarSample {
        let cfg = &spec.cfg;
        let slept = now.saturating_since(self.cow.advanced_to());
        self.cow
            .advance(now, &cfg.cow, &spec.pasture, &mut self.rng);
        let true_c = self.cow.body_temp_c(now, &cfg.cow);
        let sleep = Draw {
            use_: EnergyUse::Sleep,
            energy_uj: spec.sleep_uj_per_ns * u64_to_f64(slept.as_nanos()),
            load_ma: spec.sleep_load_ma,
        };

        let capacity_uj = spec.capacity_uj;
        let remaining_uj =
            self.battery
                .remaining_uj_with(capacity_uj, spec.discharge_uj_per_year, now);
        if remaining_uj == 0 {
            return CollarSample {
                body_temp: Reading::NoReading(NoReadingReason::Dead),
                true_body_temp_c: true_c,
                gnss: GnssOutcome::NoFix {
                    time_on: SimDuration::ZERO,
                    energy_uj: 0.0,
                },
                power: PowerOutcome::Depleted,
            };
        }

        // The probe's white noise is the Irwin–Hall normal: no transcendental on the hot path,
        // and its ±3.5 SD support lies inside the spec's ±4 SD noise budget.
        let z_probe = irwin_hall_normal_f32(&mut self.rng);
        let body_temp = cfg.probe.measure_with_noise(
            f64::from(self.probe_bias),
            now,
            f64::from(true_c),
            f64::from(z_probe),
        );
        let sample = Draw {
            use_: EnergyUse::Sample,
            energy_uj: cfg.probe.energy_per_sample_uj,
            load_ma: spec.sample_load_ma,
        };

        let sky = if cfg.covered_ratio.chance_aligned(&mut self.rng) {
            SkyView::Covered
        } else {
            SkyView::Open
        };
        let (east_m, north_m) = self.cow.position_f32();
        let gnss = cfg
            .gnss
            .fix(&mut self.gnss, now, east_m, north_m, sky, &mut self.rng);
        let fix = Draw {
            use_: EnergyUse::Fix,
            energy_uj: f64::from(gnss.energy_uj()),
            load_ma: spec.fix_load_ma,
        };
        let power = self.battery.handle_draws_no_brownout_from(
            &cfg.battery,
            capacity_uj,
            remaining_uj,
            spec.no_brownout_from_uj,
            [sleep, sample, fix],
        );

        CollarSample {
            body_temp,
            true_body_temp_c: true_c,
            gnss,
            power,
        }
    }

    /// Debits a radio transmission or receive window the firmware made at `now`.
    pub fn handle_radio(
        &mut self,
        now: SimTime,
        spec: &CollarSpec,
        energy_uj: f64,
        load_ma: f64,
    ) -> PowerOutcome {
        self.battery
            .handle_draw(&spec.cfg.battery, now, EnergyUse::Radio, energy_uj, load_ma)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collar_fits_in_128_bytes() {
        let size = std::mem::size_of::<Collar>();
        assert!(size <= 128, "{size}");
        assert_eq!(size, 120);
    }

    #[test]
    fn a_collar_on_a_d_cell_reporting_over_lorawan_lasts_years() {
        use crate::radio::{RadioProfile, SpreadingFactor};
        let cfg = CollarConfig::default();
        let pasture = Polygon::rectangle("p", 1_000.0, 800.0).unwrap();
        let spec = CollarSpec::new(cfg.clone(), pasture).unwrap();
        let mut c = Collar::new(Seed(3), 1, &spec, SimTime::ZERO).unwrap();
        let radio = RadioProfile::lorawan(SpreadingFactor::Sf9);
        // A week of 5-minute cycles, each with a 24-byte uplink.
        for i in 1..=(7 * 288u64) {
            let now = SimTime::from_secs(300 * i);
            c.update(now, &spec);
            c.handle_radio(now, &spec, radio.tx_energy_uj(24), radio.tx_current_ma);
        }
        let end = SimTime::from_secs(300 * 7 * 288);
        let life_years =
            c.battery().projected_life_s(&cfg.battery, end).unwrap() / (365.25 * 86_400.0);
        // §7.3: the livestock wearable "claims years of battery life".
        assert!((2.0..6.0).contains(&life_years), "{life_years}");
        let l = c.battery().ledger();
        assert!(
            l.get(EnergyUse::Fix) > l.get(EnergyUse::Radio)
                && l.get(EnergyUse::Radio) > l.get(EnergyUse::Sample)
        );
    }

    #[test]
    fn a_collar_update_samples_fixes_and_debits_the_ledger() {
        let cfg = CollarConfig::default();
        let pasture = Polygon::rectangle("p", 1_000.0, 800.0).unwrap();
        let spec = CollarSpec::new(cfg, pasture).unwrap();
        let mut c = Collar::new(Seed(1), 42, &spec, SimTime::ZERO).unwrap();
        let mut fixes = 0;
        for i in 1..=288u64 {
            let now = SimTime::from_secs(300 * i);
            let s = c.update(now, &spec);
            let v = s.body_temp.value().expect("a healthy probe reads");
            assert!((v - f64::from(s.true_body_temp_c)).abs() <= 0.2 + 1e-9);
            if matches!(s.gnss, GnssOutcome::Fix(_)) {
                fixes += 1;
            }
            assert_eq!(s.power, PowerOutcome::Ok);
        }
        assert!(fixes > 250, "{fixes}");
        let l = c.battery().ledger();
        // One day of 20 µA at 3.6 V is 6.2 J.
        assert!(
            (l.get(EnergyUse::Sleep) as f64 - 6.2208e6).abs() < 1e3,
            "{}",
            l.get(EnergyUse::Sleep)
        );
        assert!(l.get(EnergyUse::Fix) > l.get(EnergyUse::Sample));
        assert_eq!(l.get(EnergyUse::Radio), 0);
    }
}
