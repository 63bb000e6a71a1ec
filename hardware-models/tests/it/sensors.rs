//! Statistical acceptance of every sensor part: over a population of manufactured units and at
//! least 10,000 samples, the error stays within the datasheet accuracy, readings are multiples
//! of the resolution, and readings saturate at the range.

use hardware::parts::{self, Ds18b20Resolution};
use hardware::sensor::{Sensor, SensorSpec, SensorUnit};
use rand_core::RngCore;
use sim::{Seed, SimDuration, SimTime, StreamKey};

const UNITS: u64 = 100;
const SAMPLES_PER_UNIT: u64 = 100;

fn is_multiple_of(v: f64, step: f64) -> bool {
    let k = v / step;
    (k - libm::round(k)).abs() < 1e-6
}

struct Population {
    samples: u64,
    max_err_in_band: f64,
    max_err_out_of_band: f64,
    unit_mean_errors: Vec<f64>,
}

/// Manufactures `UNITS` units and samples each `SAMPLES_PER_UNIT` times at true values spread
/// over the accuracy band, plus the same number out of band where the range allows.
fn population(spec: &SensorSpec, seed: u64) -> Population {
    let seed = Seed(seed);
    let mut p = Population {
        samples: 0,
        max_err_in_band: 0.0,
        max_err_out_of_band: 0.0,
        unit_mean_errors: Vec::new(),
    };
    for id in 0..UNITS {
        let mut make = seed.stream(StreamKey::new("sensor", id, "manufacture"));
        let mut unit = SensorUnit::manufacture(spec.clone(), &mut make).expect("valid spec");
        let mut run = seed.stream(StreamKey::new("sensor", id, "run"));
        let mut sum = 0.0;
        for i in 0..SAMPLES_PER_UNIT {
            let u = sim::rng::unit_f64(&mut run);
            let truth =
                spec.accuracy_band_min + u * (spec.accuracy_band_max - spec.accuracy_band_min);
            let truth = truth.clamp(spec.range_min, spec.range_max);
            let now = SimTime::from_secs(i);
            let r = unit.measure(now, truth, &mut run);
            let v = r.value().expect("a healthy unit always reads");
            assert!(
                is_multiple_of(v, spec.resolution),
                "{}: {v} is not a multiple of {}",
                spec.name,
                spec.resolution
            );
            assert!(
                v >= spec.range_min && v <= spec.range_max,
                "{}: {v} outside the range",
                spec.name
            );
            let err = v - truth;
            sum += err;
            p.max_err_in_band = p.max_err_in_band.max(err.abs());
            p.samples += 1;
            // Out of band, where the output range extends beyond the band.
            let below = spec.range_min < spec.accuracy_band_min;
            let above = spec.range_max > spec.accuracy_band_max;
            if below || above {
                let u = sim::rng::unit_f64(&mut run);
                let truth = if above && (!below || run.next_u32() & 1 == 0) {
                    spec.accuracy_band_max + u * (spec.range_max - spec.accuracy_band_max)
                } else {
                    spec.range_min + u * (spec.accuracy_band_min - spec.range_min)
                };
                // Stay a whole accuracy away from the range ends so saturation does not mask
                // the error.
                if truth > spec.range_min + spec.accuracy_out_of_band
                    && truth < spec.range_max - spec.accuracy_out_of_band
                {
                    let v = unit.measure(now, truth, &mut run).value().expect("reads");
                    p.max_err_out_of_band = p.max_err_out_of_band.max((v - truth).abs());
                    p.samples += 1;
                }
            }
        }
        p.unit_mean_errors.push(sum / SAMPLES_PER_UNIT as f64);
    }
    p
}

fn sd(v: &[f64]) -> f64 {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    libm::sqrt(v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64)
}

#[test]
fn every_part_stays_within_its_datasheet_accuracy_over_a_population() {
    for (k, spec) in parts::all_scalar_specs().iter().enumerate() {
        let p = population(spec, 1_000 + k as u64);
        assert!(
            p.samples >= 10_000,
            "{}: only {} samples",
            spec.name,
            p.samples
        );
        assert!(
            p.max_err_in_band <= spec.accuracy + 1e-9,
            "{}: in-band error {} exceeds ±{}",
            spec.name,
            p.max_err_in_band,
            spec.accuracy
        );
        assert!(
            p.max_err_out_of_band <= spec.accuracy_out_of_band + 1e-9,
            "{}: out-of-band error {} exceeds ±{}",
            spec.name,
            p.max_err_out_of_band,
            spec.accuracy_out_of_band
        );
        // The population really is spread by per-unit bias: unit mean errors vary by a good
        // part of the bias bound, and the worst unit uses a good part of the accuracy.
        let spread = sd(&p.unit_mean_errors);
        assert!(
            spread > spec.bias_bound() / 4.0,
            "{}: unit bias spread {} too small",
            spec.name,
            spread
        );
        assert!(
            p.max_err_in_band > spec.accuracy / 3.0,
            "{}: worst error {} suspiciously small",
            spec.name,
            p.max_err_in_band
        );
    }
}

#[test]
fn every_part_saturates_at_its_range() {
    let mut rng = Seed(2).stream(StreamKey::new("sensor", 0, "saturate"));
    for spec in parts::all_scalar_specs() {
        let mut unit = SensorUnit::manufacture(spec.clone(), &mut rng).unwrap();
        let width = spec.range_max - spec.range_min;
        for _ in 0..100 {
            let hi = unit
                .measure(SimTime::ZERO, spec.range_max + width, &mut rng)
                .value()
                .unwrap();
            let lo = unit
                .measure(SimTime::ZERO, spec.range_min - width, &mut rng)
                .value()
                .unwrap();
            assert_eq!(hi, spec.reportable_max(), "{}", spec.name);
            assert_eq!(lo, spec.reportable_min(), "{}", spec.name);
        }
        assert!(
            spec.reportable_max() <= spec.range_max
                && spec.range_max - spec.reportable_max() < spec.resolution
        );
        assert!(
            spec.reportable_min() >= spec.range_min
                && spec.reportable_min() - spec.range_min < spec.resolution
        );
    }
}

#[test]
fn the_ds18b20_resolution_sets_the_step_and_the_conversion_time() {
    let mut rng = Seed(3).stream(StreamKey::new("sensor", 0, "ds18b20"));
    for res in Ds18b20Resolution::ALL {
        let mut unit = SensorUnit::manufacture(parts::ds18b20(res), &mut rng).unwrap();
        let now = SimTime::from_secs(100);
        let mut distinct = Vec::new();
        for i in 0..2_000 {
            let truth = 20.0 + f64::from(i) * 0.001;
            match unit.measure(now, truth, &mut rng) {
                hardware::Reading::Value { value, ready_at } => {
                    assert_eq!(ready_at, now + res.conversion_time());
                    assert!(is_multiple_of(value, res.step_c()));
                    if !distinct.contains(&value) {
                        distinct.push(value);
                    }
                }
                other => panic!("{other:?}"),
            }
        }
        // Two degrees swept: about 2 / step distinct codes.
        let expected = 2.0 / res.step_c();
        assert!(
            (distinct.len() as f64 - expected).abs() <= 3.0,
            "{res:?}: {} codes",
            distinct.len()
        );
    }
    assert_eq!(
        parts::ds18b20(Ds18b20Resolution::Bits9).conversion_time,
        SimDuration::from_micros(93_750)
    );
}
