//! Datasheet figures of the scalar sensor parts the seed's devices carry.
//!
//! Each function returns the [`SensorSpec`] of one channel of one part. The figures come from
//! the shared hardware reference (reference §7.1 for the MXChip AZ3166 DevKit parts, §7.2 for
//! the Raspberry Pi parts, §7.3 for the cattle collar); every number that is not in the
//! reference is marked **assumed** in the function's doc comment, with the reasoning.
//!
//! Energy per sample is supply current × time at 3.3 V (the DevKit rail, reference §7.1;
//! assumed for the other boards). For parts that measure several channels in one conversion
//! (HTS221, BME280), the quoted current covers the whole conversion and is split evenly over the
//! channels, so sampling all channels of one conversion debits the datasheet figure once.
//!
//! **Left out.** Output data rates and FIFOs (the firmware samples one-shot), averaging
//! configuration (one fixed configuration per part), I²C/SPI/1-Wire timing, and the parts'
//! own temperature channels except where a device uses them.

use crate::sensor::SensorSpec;
use sim::SimDuration;

/// The supply rail used for energy figures, volts (DevKit: 3.3 V, reference §7.1).
pub const SUPPLY_V: f64 = 3.3;

/// Energy in µJ of drawing `current_ua` µA for `seconds` at [`SUPPLY_V`].
fn energy_uj(current_ua: f64, seconds: f64) -> f64 {
    current_ua * SUPPLY_V * seconds
}

/// HTS221 temperature (DevKit, reference §7.1): accuracy ±0.5 °C over 15–40 °C, operating
/// range −40..+120 °C, 2 µA at 1 Hz (for the T+H conversion, split over two channels),
/// 16-bit output.
/// **Assumed:** out-of-band accuracy ±1.0 °C (ST's typical curve widens to about that at
/// 0/60 °C); resolution 1/64 °C (the effective LSB after the factory calibration slope of
/// typical units); RMS noise 0.007 °C (16-sample averaging); conversion 5 ms (one-shot).
pub fn hts221_temperature() -> SensorSpec {
    SensorSpec {
        name: "HTS221 temperature",
        unit: "degC",
        range_min: -40.0,
        range_max: 120.0,
        resolution: 1.0 / 64.0,
        accuracy: 0.5,
        accuracy_band_min: 15.0,
        accuracy_band_max: 40.0,
        accuracy_out_of_band: 1.0,
        noise_sd: 0.007,
        conversion_time: SimDuration::from_millis(5),
        energy_per_sample_uj: energy_uj(2.0, 0.5),
    }
}

/// HTS221 relative humidity (DevKit, reference §7.1): 0–100 %RH, accuracy ±3.5 %RH over
/// 20–80 %RH, 2 µA at 1 Hz (split with temperature), 16-bit output.
/// **Assumed:** ±5 %RH outside 20–80 %RH; resolution 1/256 %RH; RMS noise 0.03 %RH
/// (32-sample averaging); conversion 5 ms.
pub fn hts221_humidity() -> SensorSpec {
    SensorSpec {
        name: "HTS221 humidity",
        unit: "%RH",
        range_min: 0.0,
        range_max: 100.0,
        resolution: 1.0 / 256.0,
        accuracy: 3.5,
        accuracy_band_min: 20.0,
        accuracy_band_max: 80.0,
        accuracy_out_of_band: 5.0,
        noise_sd: 0.03,
        conversion_time: SimDuration::from_millis(5),
        energy_per_sample_uj: energy_uj(2.0, 0.5),
    }
}

/// LPS22HB absolute pressure (DevKit, reference §7.1): 260–1260 hPa, 24-bit output
/// (1/4096 hPa per LSB). Accuracy ±1 hPa absolute is **UNCONFIRMED** in the reference.
/// **Assumed:** the accuracy band is the whole range; RMS noise 0.0075 hPa (low-noise mode);
/// 12 µA at 1 Hz; conversion 10 ms.
pub fn lps22hb_pressure() -> SensorSpec {
    SensorSpec {
        name: "LPS22HB pressure",
        unit: "hPa",
        range_min: 260.0,
        range_max: 1260.0,
        resolution: 1.0 / 4096.0,
        accuracy: 1.0,
        accuracy_band_min: 260.0,
        accuracy_band_max: 1260.0,
        accuracy_out_of_band: 1.0,
        noise_sd: 0.0075,
        conversion_time: SimDuration::from_millis(10),
        energy_per_sample_uj: energy_uj(12.0, 1.0),
    }
}

/// LSM6DSL accelerometer full scale, one of the four selectable ranges (reference §7.1,
/// ranges **UNCONFIRMED**).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccelRange {
    G2,
    G4,
    G8,
    G16,
}

impl AccelRange {
    pub fn full_scale_g(self) -> f64 {
        match self {
            AccelRange::G2 => 2.0,
            AccelRange::G4 => 4.0,
            AccelRange::G8 => 8.0,
            AccelRange::G16 => 16.0,
        }
    }
}

/// One axis of the LSM6DSL accelerometer (DevKit, reference §7.1), in g. Ranges ±2/4/8/16 g
/// are **UNCONFIRMED** in the reference. 16-bit output, so one LSB is full scale / 32768.
/// **Assumed:** zero-g offset ±40 mg used as the accuracy bound (sensitivity error left out);
/// RMS noise 1.8 mg (90 µg/√Hz over a 400 Hz bandwidth); 0.65 mA for a 20 ms one-shot;
/// conversion 20 ms.
pub fn lsm6dsl_accel(range: AccelRange) -> SensorSpec {
    let fs = range.full_scale_g();
    SensorSpec {
        name: "LSM6DSL acceleration",
        unit: "g",
        range_min: -fs,
        range_max: fs,
        resolution: fs / 32_768.0,
        accuracy: 0.040,
        accuracy_band_min: -fs,
        accuracy_band_max: fs,
        accuracy_out_of_band: 0.040,
        noise_sd: 0.0018,
        conversion_time: SimDuration::from_millis(20),
        energy_per_sample_uj: energy_uj(650.0, 0.020),
    }
}

/// One axis of the LSM6DSL gyroscope (DevKit, reference §7.1), in dps, at the ±2000 dps range
/// (the widest of the **UNCONFIRMED** ±125..2000 dps ranges). 16-bit output.
/// **Assumed:** zero-rate offset ±10 dps as the accuracy bound; RMS noise 0.075 dps;
/// 0.9 mA for a 20 ms one-shot (gyro + accel); conversion 20 ms.
pub fn lsm6dsl_gyro() -> SensorSpec {
    SensorSpec {
        name: "LSM6DSL angular rate",
        unit: "dps",
        range_min: -2_000.0,
        range_max: 2_000.0,
        resolution: 2_000.0 / 32_768.0,
        accuracy: 10.0,
        accuracy_band_min: -2_000.0,
        accuracy_band_max: 2_000.0,
        accuracy_out_of_band: 10.0,
        noise_sd: 0.075,
        conversion_time: SimDuration::from_millis(20),
        energy_per_sample_uj: energy_uj(900.0, 0.020),
    }
}

/// One axis of the DevKit magnetometer, in gauss. The part is LIS2MDL or LIS3MDL — the sources
/// disagree (reference §7.1, **UNCONFIRMED**); this follows the LIS2MDL: ±50 gauss
/// (**UNCONFIRMED**), 1.5 mgauss per LSB.
/// **Assumed:** offset after hard-iron calibration ±60 mgauss as the accuracy bound; RMS noise
/// 3 mgauss; 200 µA for a 10 ms one-shot; conversion 10 ms.
pub fn devkit_magnetometer() -> SensorSpec {
    SensorSpec {
        name: "LIS2MDL magnetic field",
        unit: "gauss",
        range_min: -50.0,
        range_max: 50.0,
        resolution: 0.0015,
        accuracy: 0.060,
        accuracy_band_min: -50.0,
        accuracy_band_max: 50.0,
        accuracy_out_of_band: 0.060,
        noise_sd: 0.003,
        conversion_time: SimDuration::from_millis(10),
        energy_per_sample_uj: energy_uj(200.0, 0.010),
    }
}

/// BME280 temperature (Raspberry Pi, reference §7.2): −40..+85 °C, ±1.0 °C over the 0–65 °C
/// full-accuracy band (±0.5 °C at 25 °C is the typical unit, not the population bound),
/// resolution 0.01 °C, 3.6 µA at 1 Hz for all three channels (split in three).
/// **Assumed:** ±1.5 °C outside 0–65 °C; RMS noise 0.005 °C; forced-mode conversion 10 ms.
/// Self-heating ("reads high", §7.2) is left to the offset fault.
pub fn bme280_temperature() -> SensorSpec {
    SensorSpec {
        name: "BME280 temperature",
        unit: "degC",
        range_min: -40.0,
        range_max: 85.0,
        resolution: 0.01,
        accuracy: 1.0,
        accuracy_band_min: 0.0,
        accuracy_band_max: 65.0,
        accuracy_out_of_band: 1.5,
        noise_sd: 0.005,
        conversion_time: SimDuration::from_millis(10),
        energy_per_sample_uj: energy_uj(3.6, 1.0 / 3.0),
    }
}

/// BME280 relative humidity (reference §7.2): 0–100 %RH, ±3 %RH, resolution 0.008 %RH.
/// **Assumed:** the ±3 %RH band is 20–80 %RH and ±5 %RH outside it; RMS noise 0.02 %RH;
/// conversion 10 ms.
pub fn bme280_humidity() -> SensorSpec {
    SensorSpec {
        name: "BME280 humidity",
        unit: "%RH",
        range_min: 0.0,
        range_max: 100.0,
        resolution: 0.008,
        accuracy: 3.0,
        accuracy_band_min: 20.0,
        accuracy_band_max: 80.0,
        accuracy_out_of_band: 5.0,
        noise_sd: 0.02,
        conversion_time: SimDuration::from_millis(10),
        energy_per_sample_uj: energy_uj(3.6, 1.0 / 3.0),
    }
}

/// BME280 pressure (reference §7.2): 300–1100 hPa, ±1 hPa absolute, resolution 0.18 Pa
/// (0.0018 hPa).
/// **Assumed:** the accuracy band is the whole range; RMS noise 1.3 Pa (0.013 hPa);
/// conversion 10 ms.
pub fn bme280_pressure() -> SensorSpec {
    SensorSpec {
        name: "BME280 pressure",
        unit: "hPa",
        range_min: 300.0,
        range_max: 1100.0,
        resolution: 0.0018,
        accuracy: 1.0,
        accuracy_band_min: 300.0,
        accuracy_band_max: 1100.0,
        accuracy_out_of_band: 1.0,
        noise_sd: 0.013,
        conversion_time: SimDuration::from_millis(10),
        energy_per_sample_uj: energy_uj(3.6, 1.0 / 3.0),
    }
}

/// The DS18B20's programmable resolution (reference §7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ds18b20Resolution {
    Bits9,
    Bits10,
    Bits11,
    Bits12,
}

impl Ds18b20Resolution {
    pub const ALL: [Ds18b20Resolution; 4] = [
        Ds18b20Resolution::Bits9,
        Ds18b20Resolution::Bits10,
        Ds18b20Resolution::Bits11,
        Ds18b20Resolution::Bits12,
    ];

    /// One LSB: 0.5/0.25/0.125/0.0625 °C (reference §7.2).
    pub fn step_c(self) -> f64 {
        match self {
            Ds18b20Resolution::Bits9 => 0.5,
            Ds18b20Resolution::Bits10 => 0.25,
            Ds18b20Resolution::Bits11 => 0.125,
            Ds18b20Resolution::Bits12 => 0.0625,
        }
    }

    /// Conversion time: 93.75 ms at 9 bits doubling to 750 ms at 12 bits (reference §7.2).
    pub fn conversion_time(self) -> SimDuration {
        match self {
            Ds18b20Resolution::Bits9 => SimDuration::from_micros(93_750),
            Ds18b20Resolution::Bits10 => SimDuration::from_micros(187_500),
            Ds18b20Resolution::Bits11 => SimDuration::from_micros(375_000),
            Ds18b20Resolution::Bits12 => SimDuration::from_millis(750),
        }
    }

    /// Parses a bit count, 9 to 12.
    pub fn from_bits(bits: u8) -> Option<Self> {
        match bits {
            9 => Some(Ds18b20Resolution::Bits9),
            10 => Some(Ds18b20Resolution::Bits10),
            11 => Some(Ds18b20Resolution::Bits11),
            12 => Some(Ds18b20Resolution::Bits12),
            _ => None,
        }
    }
}

/// DS18B20 1-Wire temperature probe (Raspberry Pi, reference §7.2): −55..+125 °C, ±0.5 °C over
/// −10..+85 °C, 9–12-bit resolution with conversion 93.75–750 ms.
/// **Assumed:** ±2 °C outside −10..+85 °C (the datasheet's typical-error curve); RMS noise
/// 0.02 °C; 1 mA active current during conversion.
pub fn ds18b20(resolution: Ds18b20Resolution) -> SensorSpec {
    let t = resolution.conversion_time();
    SensorSpec {
        name: "DS18B20 temperature",
        unit: "degC",
        range_min: -55.0,
        range_max: 125.0,
        resolution: resolution.step_c(),
        accuracy: 0.5,
        accuracy_band_min: -10.0,
        accuracy_band_max: 85.0,
        accuracy_out_of_band: 2.0,
        noise_sd: 0.02,
        conversion_time: t,
        energy_per_sample_uj: energy_uj(1_000.0, t.as_secs_f64()),
    }
}

/// The collar's body-temperature probe. The reference gives no part for it (§7.3 names the
/// tracker's GNSS and LoRa only), so everything here is **assumed**: a sealed digital
/// thermistor probe against the skin under the collar, accuracy ±0.2 °C over 30–45 °C
/// (medical-grade thermistor class) and ±0.5 °C outside, range 0–60 °C, resolution 0.01 °C,
/// RMS noise 0.02 °C, 20 ms conversion at 150 µA.
/// **Left out:** the gap between skin and core temperature and its dependence on weather.
pub fn collar_body_probe() -> SensorSpec {
    SensorSpec {
        name: "collar body-temperature probe",
        unit: "degC",
        range_min: 0.0,
        range_max: 60.0,
        resolution: 0.01,
        accuracy: 0.2,
        accuracy_band_min: 30.0,
        accuracy_band_max: 45.0,
        accuracy_out_of_band: 0.5,
        noise_sd: 0.02,
        conversion_time: SimDuration::from_millis(20),
        energy_per_sample_uj: energy_uj(150.0, 0.020),
    }
}

/// Type-K thermocouple with a cold-junction-compensating converter for the mixing tank. The
/// reference has no tank figures, so this is **assumed** from the common MAX31855-class
/// converter: 14-bit, 0.25 °C per LSB, specified −200..+1350 °C, ±2 °C over −200..+700 °C
/// and ±4 °C above, conversion 100 ms at 1.5 mA; RMS noise 0.1 °C (thermocouple pickup in an
/// industrial enclosure).
/// **Left out:** probe tolerance class and lead resistance, open-circuit and short-to-ground
/// detection (use the dead/dropout faults).
pub fn thermocouple_type_k() -> SensorSpec {
    SensorSpec {
        name: "type-K thermocouple",
        unit: "degC",
        range_min: -200.0,
        range_max: 1350.0,
        resolution: 0.25,
        accuracy: 2.0,
        accuracy_band_min: -200.0,
        accuracy_band_max: 700.0,
        accuracy_out_of_band: 4.0,
        noise_sd: 0.1,
        conversion_time: SimDuration::from_millis(100),
        energy_per_sample_uj: energy_uj(1_500.0, 0.100),
    }
}

/// Compound-range gauge pressure transducer on the mixing tank's headspace. The reference has
/// no tank figures, so this is **assumed** from common industrial transducers: −100..+250 kPa
/// gauge, ±0.25 % of the 350 kPa span (±0.875 kPa), 0.01 kPa resolution, RMS noise 0.05 kPa,
/// 2 ms conversion at 5 mA from the logger's supply.
/// **Left out:** temperature coefficient of the zero and span, and long-term zero drift (use
/// the drift fault).
pub fn pressure_transducer_gauge() -> SensorSpec {
    SensorSpec {
        name: "gauge pressure transducer",
        unit: "kPa",
        range_min: -100.0,
        range_max: 250.0,
        resolution: 0.01,
        accuracy: 0.875,
        accuracy_band_min: -100.0,
        accuracy_band_max: 250.0,
        accuracy_out_of_band: 0.875,
        noise_sd: 0.05,
        conversion_time: SimDuration::from_millis(2),
        energy_per_sample_uj: energy_uj(5_000.0, 0.002),
    }
}

/// Every scalar spec in this module, for table-driven tests and reports.
pub fn all_scalar_specs() -> Vec<SensorSpec> {
    let mut v = vec![
        hts221_temperature(),
        hts221_humidity(),
        lps22hb_pressure(),
        lsm6dsl_accel(AccelRange::G2),
        lsm6dsl_accel(AccelRange::G16),
        lsm6dsl_gyro(),
        devkit_magnetometer(),
        bme280_temperature(),
        bme280_humidity(),
        bme280_pressure(),
        collar_body_probe(),
        thermocouple_type_k(),
        pressure_transducer_gauge(),
    ];
    v.extend(Ds18b20Resolution::ALL.iter().map(|r| ds18b20(*r)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_spec_is_self_consistent() {
        for s in all_scalar_specs() {
            s.validate().unwrap_or_else(|e| panic!("{e}"));
            assert!(s.bias_bound() > 0.0, "{} leaves no room for bias", s.name);
        }
    }

    #[test]
    fn ds18b20_conversion_time_doubles_per_bit() {
        let t: Vec<u64> = Ds18b20Resolution::ALL
            .iter()
            .map(|r| r.conversion_time().as_nanos())
            .collect();
        assert_eq!(t[0], 93_750_000);
        assert!(t.windows(2).all(|w| w[1] == 2 * w[0]));
        assert_eq!(
            Ds18b20Resolution::from_bits(12),
            Some(Ds18b20Resolution::Bits12)
        );
        assert_eq!(Ds18b20Resolution::from_bits(13), None);
    }
}
