//! Batteries: capacity, self-discharge, voltage curve, brown-out, and the per-device energy
//! ledger that reports turn into battery life.
//!
//! **Model.** Charge is kept as energy in µJ. The remaining energy at `now` is
//! `capacity + charged − drawn − self_discharged(now)`, never below zero and never above
//! capacity, where self-discharge is linear in time since installation at the spec's yearly
//! rate. The terminal voltage is the open-circuit voltage, a piecewise-linear function of state
//! of charge per chemistry, minus `load × internal resistance`. A draw whose loaded voltage is
//! below the device's brown-out threshold resets the device ([`PowerOutcome::BrownOut`], which
//! firmware models turn into a reboot); a draw on an empty battery does nothing and reports
//! [`PowerOutcome::Depleted`]. Every draw is booked in the [`EnergyLedger`] by use (sleep,
//! sample, GNSS fix, radio).
//!
//! **Invariants.** Without [`BatteryState::handle_charge`] the remaining energy never rises;
//! the remaining energy is within `[0, capacity]`.
//!
//! **Figures.** The reference has no battery figures for the collar (§7.3: "UNCONFIRMED -
//! none found"; the livestock wearable "claims years of battery life"). Everything below is
//! **assumed** from typical cell datasheets:
//! - Li-SOCl2 bobbin AA (ER14505 class): 2600 mAh, 3.6 V nominal, 1 %/year self-discharge,
//!   curve flat at 3.6–3.67 V down to ~10 % then falling to 2.0 V; 5 Ω effective internal
//!   resistance for pulses (with the usual buffer capacitor); the collar browns out at 2.8 V.
//! - Li-SOCl2 D (ER34615 class): 19 000 mAh, otherwise as the AA.
//! - Li-ion 18650: 2600 mAh, 3.7 V nominal, 2 %/month self-discharge (24 %/year), curve
//!   4.2 V full to 3.0 V empty, 0.05 Ω; a Raspberry-Pi-class device browns out at 3.2 V (its
//!   5 V boost converter drops out).
//!
//! **Left out.** Temperature effects on capacity, passivation of Li-SOCl2 cells (the voltage
//! delay after long storage), rate-dependent capacity (Peukert), charge efficiency and ageing.

use crate::fastmath::{f64_to_u64, u64_to_f64};
use sim::SimTime;

/// Cell chemistry; selects the voltage curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Chemistry {
    /// Primary lithium thionyl chloride.
    LiSoCl2,
    /// Rechargeable lithium-ion.
    LiIon,
}

impl Chemistry {
    /// Open-circuit voltage by state of charge, as (soc, volts) points, soc ascending.
    fn curve(self) -> &'static [(f64, f64)] {
        match self {
            Chemistry::LiSoCl2 => &[
                (0.0, 2.0),
                (0.02, 3.1),
                (0.05, 3.35),
                (0.10, 3.50),
                (0.20, 3.58),
                (0.50, 3.62),
                (0.90, 3.65),
                (1.0, 3.67),
            ],
            Chemistry::LiIon => &[
                (0.0, 3.0),
                (0.05, 3.50),
                (0.10, 3.68),
                (0.20, 3.73),
                (0.30, 3.77),
                (0.40, 3.79),
                (0.50, 3.82),
                (0.60, 3.87),
                (0.70, 3.92),
                (0.80, 3.98),
                (0.90, 4.06),
                (1.0, 4.20),
            ],
        }
    }

    pub fn rechargeable(self) -> bool {
        matches!(self, Chemistry::LiIon)
    }
}

/// A battery and the device's brown-out threshold. See the module docs for the figures.
#[derive(Clone, Debug, PartialEq)]
pub struct BatterySpec {
    pub name: &'static str,
    pub chemistry: Chemistry,
    pub capacity_mah: f64,
    pub nominal_v: f64,
    /// Fraction of capacity lost per year at rest.
    pub self_discharge_per_year: f64,
    pub internal_resistance_ohm: f64,
    /// The device resets when the loaded voltage falls below this.
    pub brownout_v: f64,
}

/// A battery spec with an impossible figure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("battery spec {name}: field {field} = {value} but expected {expected}")]
pub struct BatterySpecError {
    pub name: &'static str,
    pub field: &'static str,
    pub value: f64,
    pub expected: &'static str,
}

const SECS_PER_YEAR: f64 = 365.25 * 86_400.0;

impl BatterySpec {
    /// Li-SOCl2 AA bobbin cell (assumed figures, module docs).
    pub fn li_socl2_aa() -> Self {
        BatterySpec {
            name: "Li-SOCl2 AA (ER14505 class)",
            chemistry: Chemistry::LiSoCl2,
            capacity_mah: 2_600.0,
            nominal_v: 3.6,
            self_discharge_per_year: 0.01,
            internal_resistance_ohm: 5.0,
            brownout_v: 2.8,
        }
    }

    /// Li-SOCl2 D bobbin cell (assumed figures, module docs).
    pub fn li_socl2_d() -> Self {
        BatterySpec {
            name: "Li-SOCl2 D (ER34615 class)",
            capacity_mah: 19_000.0,
            ..BatterySpec::li_socl2_aa()
        }
    }

    /// Li-ion 18650 cell (assumed figures, module docs).
    pub fn li_ion_18650() -> Self {
        BatterySpec {
            name: "Li-ion 18650",
            chemistry: Chemistry::LiIon,
            capacity_mah: 2_600.0,
            nominal_v: 3.7,
            self_discharge_per_year: 0.24,
            internal_resistance_ohm: 0.05,
            brownout_v: 3.2,
        }
    }

    pub fn validate(&self) -> Result<(), BatterySpecError> {
        let f = |field, value: f64, ok: bool, expected| {
            if ok && value.is_finite() {
                Ok(())
            } else {
                Err(BatterySpecError {
                    name: self.name,
                    field,
                    value,
                    expected,
                })
            }
        };
        f(
            "capacity_mah",
            self.capacity_mah,
            self.capacity_mah > 0.0,
            "> 0",
        )?;
        f("nominal_v", self.nominal_v, self.nominal_v > 0.0, "> 0")?;
        f(
            "self_discharge_per_year",
            self.self_discharge_per_year,
            (0.0..=1.0).contains(&self.self_discharge_per_year),
            "a fraction from 0 to 1",
        )?;
        f(
            "internal_resistance_ohm",
            self.internal_resistance_ohm,
            self.internal_resistance_ohm >= 0.0,
            ">= 0",
        )?;
        f(
            "brownout_v",
            self.brownout_v,
            self.brownout_v >= 0.0,
            ">= 0",
        )?;
        Ok(())
    }

    /// Stored energy when full, µJ (mAh × 3.6 C/mAh × nominal volts).
    pub fn capacity_uj(&self) -> u64 {
        f64_to_u64(self.capacity_mah * 3.6 * self.nominal_v * 1e6)
    }

    /// Open-circuit voltage at state of charge `soc` in `[0, 1]`.
    pub fn open_circuit_v(&self, soc: f64) -> f64 {
        let curve = self.chemistry.curve();
        let soc = soc.clamp(0.0, 1.0);
        // Scan from the full end: a battery spends most of its life in the top segments.
        for w in curve.windows(2).rev() {
            let ((s0, v0), (s1, v1)) = (w[0], w[1]);
            if soc >= s0 {
                return v0 + (v1 - v0) * (soc - s0) / (s1 - s0);
            }
        }
        curve[0].1
    }

    /// The least remaining energy, µJ, from which [`BatteryState::handle_draws`] answers `Ok`
    /// from its cheap voltage check for every cycle whose loads are at most `load_ma_max`
    /// (`u64::MAX` when no charge is enough). A device whose cycle draws the same loads
    /// every time computes it once and passes it to
    /// [`BatteryState::handle_draws_no_brownout_from`], which then skips the state of charge
    /// and the curve while the cell is above it: the same outcomes, fewer instructions.
    pub fn no_brownout_from_uj(&self, load_ma_max: f64) -> u64 {
        let cap = self.capacity_uj();
        let sag_v = load_ma_max * 1e-3 * self.internal_resistance_ohm;
        // The curve rises with state of charge, so the cheap check (the voltage of the curve
        // point at or below the state of charge) passes from the first point that clears
        // the threshold upwards. A NaN load clears nothing.
        let Some(&(soc_min, _)) = self
            .chemistry
            .curve()
            .iter()
            .find(|(_, v)| *v - sag_v >= self.brownout_v)
        else {
            return u64::MAX;
        };
        // The state of charge the check sees, exactly as `handle_draws` computes it; it never
        // falls as the remaining energy grows, so a bisection finds the least passing value.
        let passes = |r: u64| u64_to_f64(r) / u64_to_f64(cap) >= soc_min;
        if cap == 0 || !passes(cap) {
            return u64::MAX;
        }
        let (mut fails, mut pass) = (0u64, cap);
        if passes(fails) {
            return 1;
        }
        while pass - fails > 1 {
            let mid = fails + (pass - fails) / 2;
            if passes(mid) {
                pass = mid;
            } else {
                fails = mid;
            }
        }
        pass
    }

    /// A lower bound of the open-circuit voltage at `soc`: the voltage at the curve point at or
    /// below it (the curve rises with state of charge). Cheap; used to skip the interpolation
    /// when no brown-out is possible.
    fn open_circuit_v_floor(&self, soc: f64) -> f64 {
        let curve = self.chemistry.curve();
        curve
            .iter()
            .rev()
            .find(|(s, _)| *s <= soc)
            .map_or(curve[0].1, |(_, v)| *v)
    }
}

/// What a draw of energy was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EnergyUse {
    Sleep,
    Sample,
    Fix,
    /// Transmissions and receive windows.
    Radio,
}

impl EnergyUse {
    pub const ALL: [EnergyUse; 4] = [
        EnergyUse::Sleep,
        EnergyUse::Sample,
        EnergyUse::Fix,
        EnergyUse::Radio,
    ];
    fn index(self) -> usize {
        match self {
            EnergyUse::Sleep => 0,
            EnergyUse::Sample => 1,
            EnergyUse::Fix => 2,
            EnergyUse::Radio => 3,
        }
    }
}

/// Energy drawn per use, µJ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EnergyLedger {
    uj: [u64; 4],
}

impl EnergyLedger {
    pub fn get(&self, use_: EnergyUse) -> u64 {
        self.uj[use_.index()]
    }
    pub fn total_uj(&self) -> u64 {
        self.uj.iter().sum()
    }
    fn add(&mut self, use_: EnergyUse, uj: u64) {
        let slot = &mut self.uj[use_.index()];
        *slot = slot.saturating_add(uj);
    }
}

/// One load of a wake-up cycle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Draw {
    pub use_: EnergyUse,
    pub energy_uj: f64,
    pub load_ma: f64,
}

/// Capacity `cap` (µJ) times the yearly self-discharge rate: µJ lost per year at rest.
#[inline]
pub(crate) fn discharge_uj_per_year(cap: u64, spec: &BatterySpec) -> f64 {
    u64_to_f64(cap) * spec.self_discharge_per_year
}

/// A draw's energy as the ledger books it, µJ: rounded half up; `max` maps NaN and negatives
/// to 0 and the conversion saturates (at 2⁶³ µJ, as `f64_to_u64` does).
#[inline]
fn debit_uj(energy_uj: f64) -> u64 {
    // The sum is at least 0.5 and never NaN, so `f64_to_u64`'s own clamp would be a no-op.
    (energy_uj.max(0.0) + 0.5) as i64 as u64
}

/// The result of a draw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PowerOutcome {
    Ok,
    /// The loaded voltage fell below the brown-out threshold: the device resets. The energy
    /// was still drawn (the load ran until the reset).
    BrownOut {
        loaded_v: f64,
    },
    /// Nothing left; nothing was drawn.
    Depleted,
}

/// The result of offering charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// Stored this much (less than offered when the battery became full).
    Stored { uj: u64 },
    /// A primary cell cannot be charged.
    NotRechargeable,
}

/// A battery's changing state, compact enough for the million-collar herd (48 bytes); the
/// spec is shared and passed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatteryState {
    ledger: EnergyLedger,
    charged_uj: u64,
    installed_at_s: u32,
    brownouts: u32,
}

impl BatteryState {
    /// A full battery installed at `now`.
    pub fn new(now: SimTime) -> Self {
        BatteryState {
            ledger: EnergyLedger::default(),
            charged_uj: 0,
            installed_at_s: now.as_secs().min(u64::from(u32::MAX)) as u32,
            brownouts: 0,
        }
    }

    pub fn ledger(&self) -> &EnergyLedger {
        &self.ledger
    }

    /// How many brown-outs the device has had.
    pub fn brownouts(&self) -> u32 {
        self.brownouts
    }

    /// Energy lost to self-discharge by `now`, µJ.
    pub fn self_discharged_uj(&self, spec: &BatterySpec, now: SimTime) -> u64 {
        self.self_discharged_at(discharge_uj_per_year(spec.capacity_uj(), spec), now)
    }

    /// Self-discharge by `now`, µJ, given the capacity times the yearly rate.
    #[inline]
    fn self_discharged_at(&self, discharge_uj_per_year: f64, now: SimTime) -> u64 {
        let years = u64_to_f64(now.as_secs().saturating_sub(u64::from(self.installed_at_s)))
            * (1.0 / SECS_PER_YEAR);
        f64_to_u64(discharge_uj_per_year * years)
    }

    /// Energy left at `now`, µJ, in `[0, capacity]`.
    pub fn remaining_uj(&self, spec: &BatterySpec, now: SimTime) -> u64 {
        self.remaining_uj_of(spec.capacity_uj(), spec, now)
    }

    /// [`BatteryState::remaining_uj`] given `cap = spec.capacity_uj()`, for a caller that
    /// needs the capacity too (it costs a few multiplications and a conversion).
    #[inline]
    pub(crate) fn remaining_uj_of(&self, cap: u64, spec: &BatterySpec, now: SimTime) -> u64 {
        self.remaining_uj_with(cap, discharge_uj_per_year(cap, spec), now)
    }

    /// [`BatteryState::remaining_uj_of`] given also `discharge_uj_per_year`, the capacity
    /// as `f64` times the yearly self-discharge rate, for a caller that keeps it.
    #[inline]
    pub(crate) fn remaining_uj_with(
        &self,
        cap: u64,
        discharge_uj_per_year: f64,
        now: SimTime,
    ) -> u64 {
        (cap + self.charged_uj)
            .saturating_sub(self.ledger.total_uj())
            .saturating_sub(self.self_discharged_at(discharge_uj_per_year, now))
            .min(cap)
    }

    /// State of charge at `now`, `[0, 1]`.
    pub fn state_of_charge(&self, spec: &BatterySpec, now: SimTime) -> f64 {
        self.remaining_uj(spec, now) as f64 / spec.capacity_uj() as f64
    }

    /// Terminal voltage at `now` under a load of `load_ma`.
    pub fn voltage(&self, spec: &BatterySpec, now: SimTime, load_ma: f64) -> f64 {
        let soc = self.state_of_charge(spec, now);
        (spec.open_circuit_v(soc) - load_ma * 1e-3 * spec.internal_resistance_ohm).max(0.0)
    }

    /// Draws `energy_uj` for `use_` at `now` while the load is `load_ma`.
    pub fn handle_draw(
        &mut self,
        spec: &BatterySpec,
        now: SimTime,
        use_: EnergyUse,
        energy_uj: f64,
        load_ma: f64,
    ) -> PowerOutcome {
        self.handle_draws(
            spec,
            now,
            [Draw {
                use_,
                energy_uj,
                load_ma,
            }],
        )
    }

    /// Draws several loads of one wake-up cycle at `now`. The state of charge is evaluated
    /// once, before the cycle (a cycle moves it by parts per million); each draw is checked
    /// against the brown-out threshold under its own load. Returns the worst outcome; a
    /// brown-out counts once per cycle. Depleted means nothing was drawn.
    pub fn handle_draws<const N: usize>(
        &mut self,
        spec: &BatterySpec,
        now: SimTime,
        draws: [Draw; N],
    ) -> PowerOutcome {
        let cap = spec.capacity_uj();
        let remaining = self.remaining_uj_of(cap, spec, now);
        self.handle_draws_with_remaining(spec, cap, remaining, draws)
    }

    /// [`BatteryState::handle_draws`] for a caller that has just computed
    /// `cap = spec.capacity_uj()` and [`BatteryState::remaining_uj`] at the same instant.
    #[inline]
    pub(crate) fn handle_draws_with_remaining<const N: usize>(
        &mut self,
        spec: &BatterySpec,
        cap: u64,
        remaining: u64,
        draws: [Draw; N],
    ) -> PowerOutcome {
        if remaining == 0 {
            return PowerOutcome::Depleted;
        }
        let mut load_ma_max = 0.0f64;
        for d in draws {
            self.ledger.add(d.use_, debit_uj(d.energy_uj));
            load_ma_max = load_ma_max.max(d.load_ma);
        }
        let sag_v = load_ma_max * 1e-3 * spec.internal_resistance_ohm;
        let soc = u64_to_f64(remaining) / u64_to_f64(cap);
        if spec.open_circuit_v_floor(soc) - sag_v >= spec.brownout_v {
            return PowerOutcome::Ok;
        }
        let lowest_v = spec.open_circuit_v(soc) - sag_v;
        if lowest_v < spec.brownout_v {
            self.brownouts = self.brownouts.saturating_add(1);
            PowerOutcome::BrownOut {
                loaded_v: lowest_v.max(0.0),
            }
        } else {
            PowerOutcome::Ok
        }
    }

    /// [`BatteryState::handle_draws_with_remaining`] for a cycle whose every load is at most
    /// the one `no_brownout_from_uj` was computed for
    /// ([`BatterySpec::no_brownout_from_uj`]): at or above that charge only the ledger is
    /// debited. Same outcomes and ledger as `handle_draws`.
    #[inline]
    pub(crate) fn handle_draws_no_brownout_from<const N: usize>(
        &mut self,
        spec: &BatterySpec,
        cap: u64,
        remaining: u64,
        no_brownout_from_uj: u64,
        draws: [Draw; N],
    ) -> PowerOutcome {
        // The threshold is at least 1 µJ, so an empty cell takes the general path.
        if remaining < no_brownout_from_uj {
            return self.handle_draws_with_remaining(spec, cap, remaining, draws);
        }
        for d in draws {
            self.ledger.add(d.use_, debit_uj(d.energy_uj));
        }
        PowerOutcome::Ok
    }

    /// Offers `energy_uj` from a charger at `now`.
    pub fn handle_charge(
        &mut self,
        spec: &BatterySpec,
        now: SimTime,
        energy_uj: u64,
    ) -> ChargeOutcome {
        if !spec.chemistry.rechargeable() {
            return ChargeOutcome::NotRechargeable;
        }
        let room = spec.capacity_uj() - self.remaining_uj(spec, now);
        let stored = energy_uj.min(room);
        self.charged_uj = self.charged_uj.saturating_add(stored);
        ChargeOutcome::Stored { uj: stored }
    }

    /// Projected life: the time at which the battery would be empty if the average power
    /// drawn so far (since installation) continued, including self-discharge.
    pub fn projected_life_s(&self, spec: &BatterySpec, now: SimTime) -> Option<f64> {
        let elapsed = now.as_secs().saturating_sub(u64::from(self.installed_at_s)) as f64;
        if elapsed <= 0.0 {
            return None;
        }
        let cap = spec.capacity_uj() as f64;
        let per_s = self.ledger.total_uj() as f64 / elapsed
            + cap * spec.self_discharge_per_year / SECS_PER_YEAR;
        if per_s <= 0.0 {
            None
        } else {
            Some((cap + self.charged_uj as f64) / per_s)
        }
    }
}

/// A battery with its own spec, for devices that are not at million scale.
#[derive(Clone, Debug, PartialEq)]
pub struct Battery {
    pub spec: BatterySpec,
    pub state: BatteryState,
}

impl Battery {
    pub fn new(spec: BatterySpec, now: SimTime) -> Result<Self, BatterySpecError> {
        spec.validate()?;
        Ok(Battery {
            spec,
            state: BatteryState::new(now),
        })
    }
    pub fn remaining_uj(&self, now: SimTime) -> u64 {
        self.state.remaining_uj(&self.spec, now)
    }
    pub fn voltage(&self, now: SimTime, load_ma: f64) -> f64 {
        self.state.voltage(&self.spec, now, load_ma)
    }
    pub fn handle_draw(
        &mut self,
        now: SimTime,
        use_: EnergyUse,
        energy_uj: f64,
        load_ma: f64,
    ) -> PowerOutcome {
        self.state
            .handle_draw(&self.spec, now, use_, energy_uj, load_ma)
    }
    pub fn handle_charge(&mut self, now: SimTime, energy_uj: u64) -> ChargeOutcome {
        self.state.handle_charge(&self.spec, now, energy_uj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::SimDuration;

    #[test]
    fn voltage_curves_are_monotone_and_span_their_chemistry() {
        for spec in [BatterySpec::li_socl2_aa(), BatterySpec::li_ion_18650()] {
            spec.validate().unwrap();
            let v: Vec<f64> = (0..=100)
                .map(|i| spec.open_circuit_v(f64::from(i) / 100.0))
                .collect();
            assert!(v.windows(2).all(|w| w[1] >= w[0]), "{}", spec.name);
        }
        let li = BatterySpec::li_ion_18650();
        assert!((li.open_circuit_v(1.0) - 4.2).abs() < 1e-9);
        assert!((li.open_circuit_v(0.0) - 3.0).abs() < 1e-9);
    }

    #[test]
    fn a_nearly_flat_primary_cell_browns_out_under_radio_load() {
        let spec = BatterySpec::li_socl2_aa();
        let mut b = BatteryState::new(SimTime::ZERO);
        let now = SimTime::from_secs(10);
        assert_eq!(
            b.handle_draw(&spec, now, EnergyUse::Radio, 1e5, 120.0),
            PowerOutcome::Ok
        );
        // Drain to 3 % and transmit again.
        let drain = spec.capacity_uj() as f64 * 0.97;
        b.handle_draw(&spec, now, EnergyUse::Sleep, drain, 0.02);
        assert!(matches!(
            b.handle_draw(&spec, now, EnergyUse::Radio, 1e5, 120.0),
            PowerOutcome::BrownOut { .. }
        ));
        assert_eq!(b.brownouts(), 1);
    }

    #[test]
    fn self_discharge_alone_empties_a_li_ion_cell_in_about_four_years() {
        let spec = BatterySpec::li_ion_18650();
        let b = BatteryState::new(SimTime::ZERO);
        let year = SimTime::ZERO + SimDuration::from_secs(SECS_PER_YEAR as u64);
        assert!((b.state_of_charge(&spec, year) - 0.76).abs() < 1e-6);
        let five = SimTime::ZERO + SimDuration::from_secs(5 * SECS_PER_YEAR as u64);
        assert_eq!(b.remaining_uj(&spec, five), 0);
    }

    #[test]
    fn only_a_rechargeable_cell_accepts_charge_and_never_beyond_full() {
        let mut p = BatteryState::new(SimTime::ZERO);
        assert_eq!(
            p.handle_charge(&BatterySpec::li_socl2_aa(), SimTime::ZERO, 10),
            ChargeOutcome::NotRechargeable
        );
        let spec = BatterySpec::li_ion_18650();
        let mut b = BatteryState::new(SimTime::ZERO);
        b.handle_draw(&spec, SimTime::ZERO, EnergyUse::Sample, 1_000.0, 1.0);
        assert_eq!(
            b.handle_charge(&spec, SimTime::ZERO, 5_000),
            ChargeOutcome::Stored { uj: 1_000 }
        );
        assert_eq!(b.remaining_uj(&spec, SimTime::ZERO), spec.capacity_uj());
    }

    #[test]
    fn the_no_brownout_charge_is_the_least_at_which_the_cheap_check_passes_and_changes_no_outcome()
    {
        for spec in [
            BatterySpec::li_socl2_aa(),
            BatterySpec::li_socl2_d(),
            BatterySpec::li_ion_18650(),
        ] {
            let cap = spec.capacity_uj();
            for load_ma in [0.0, 0.02, 2.0, 30.0, 120.0, 400.0, 1e4, f64::NAN] {
                let from = spec.no_brownout_from_uj(load_ma);
                let sag_v = load_ma * 1e-3 * spec.internal_resistance_ohm;
                let cheap_check = |r: u64| {
                    let soc = u64_to_f64(r) / u64_to_f64(cap);
                    spec.open_circuit_v_floor(soc) - sag_v >= spec.brownout_v
                };
                if from == u64::MAX {
                    assert!(!cheap_check(cap), "{} {load_ma}", spec.name);
                } else {
                    assert!(from >= 1 && cheap_check(from), "{} {load_ma}", spec.name);
                    assert!(
                        from == 1 || !cheap_check(from - 1),
                        "{} {load_ma}",
                        spec.name
                    );
                }
                let near = [from.saturating_sub(1), from, from.saturating_add(1)];
                let spread = (0..=400u64).map(|i| cap / 400 * i);
                for r in near.into_iter().chain(spread).filter(|&r| r <= cap) {
                    let mut general = BatteryState::new(SimTime::ZERO);
                    general.ledger.add(EnergyUse::Sleep, cap - r);
                    let mut fast = general;
                    let draws = [
                        Draw {
                            use_: EnergyUse::Sleep,
                            energy_uj: 6_000.0,
                            load_ma: load_ma / 2.0,
                        },
                        Draw {
                            use_: EnergyUse::Fix,
                            energy_uj: 250_000.4,
                            load_ma,
                        },
                    ];
                    assert_eq!(
                        general.handle_draws_with_remaining(&spec, cap, r, draws),
                        fast.handle_draws_no_brownout_from(&spec, cap, r, from, draws),
                        "{} {load_ma} {r}",
                        spec.name
                    );
                    assert_eq!(general, fast);
                }
            }
        }
    }
}
