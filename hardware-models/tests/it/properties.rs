//! Property tests: battery charge never rises without a charger; a dead sensor never yields a
//! reading; a stuck sensor repeats its value; the cow never leaves its pasture polygon.

use geometry::{Point, Polygon};
use hardware::battery::{BatterySpec, BatteryState, EnergyUse};
use hardware::fault::{Faulty, SensorFault};
use hardware::parts;
use hardware::sensor::{Sensor, SensorUnit};
use hardware::world::cow::{Cow, CowConfig};
use proptest::prelude::*;
use sim::{CompactRng, Ratio, Seed, SimDuration, SimTime};

fn any_use() -> impl Strategy<Value = EnergyUse> {
    prop_oneof![
        Just(EnergyUse::Sleep),
        Just(EnergyUse::Sample),
        Just(EnergyUse::Fix),
        Just(EnergyUse::Radio)
    ]
}

/// Any fault other than `Dead` and `StuckAt`, to combine with them.
fn other_fault() -> impl Strategy<Value = SensorFault> {
    prop_oneof![
        (-5.0f64..5.0).prop_map(|per_hour| SensorFault::Drift { per_hour }),
        (0.0f64..0.9).prop_map(|p| SensorFault::Dropout {
            ratio: Ratio::new(p).unwrap()
        }),
        (0.0f64..1.0, 0.0f64..50.0).prop_map(|(p, magnitude)| SensorFault::Spike {
            ratio: Ratio::new(p).unwrap(),
            magnitude
        }),
        (-10.0f64..10.0).prop_map(|delta| SensorFault::OffsetStep { delta }),
    ]
}

/// A star-shaped polygon around (0, 0): `n` vertices at increasing angles and random radii.
fn star_polygon() -> impl Strategy<Value = Polygon> {
    prop::collection::vec((0.2f32..1.0, 20.0f32..2_000.0), 3..12).prop_map(|spokes| {
        let n = spokes.len() as f32;
        let mut vertices = Vec::new();
        for (i, (jitter, r)) in spokes.iter().enumerate() {
            let angle = core::f32::consts::TAU * (i as f32 + 0.8 * jitter) / n;
            vertices.push(Point::new(
                f64::from(r * libm::cosf(angle)),
                f64::from(r * libm::sinf(angle)),
            ));
        }
        Polygon::from_points("star", &vertices).expect("a star polygon has area")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn battery_charge_never_rises_without_a_charger(
        li_ion in any::<bool>(),
        draws in prop::collection::vec((0u64..86_400 * 30, any_use(), 0.0f64..5e7, 0.0f64..500.0), 1..200),
    ) {
        let spec = if li_ion { BatterySpec::li_ion_18650() } else { BatterySpec::li_socl2_aa() };
        let mut b = BatteryState::new(SimTime::ZERO);
        let mut now = SimTime::ZERO;
        let mut last = b.remaining_uj(&spec, now);
        prop_assert_eq!(last, spec.capacity_uj());
        for (dt, use_, uj, ma) in draws {
            now += SimDuration::from_secs(dt);
            let before = b.remaining_uj(&spec, now);
            prop_assert!(before <= last);
            b.handle_draw(&spec, now, use_, uj, ma);
            let after = b.remaining_uj(&spec, now);
            prop_assert!(after <= before, "{} -> {}", before, after);
            let v = b.voltage(&spec, now, 0.0);
            prop_assert!((0.0..=4.2 + 1e-9).contains(&v));
            last = after;
        }
    }

    #[test]
    fn a_dead_sensor_never_yields_a_reading(
        seed in any::<u64>(),
        others in prop::collection::vec(other_fault(), 0..4),
        truths in prop::collection::vec(-100.0f64..200.0, 1..100),
    ) {
        let mut rng = CompactRng::from_seed_u64(seed);
        let unit = SensorUnit::manufacture(parts::ds18b20(parts::Ds18b20Resolution::Bits12), &mut rng).unwrap();
        let mut s = Faulty::new(unit);
        for f in others {
            s.handle_fault(SimTime::ZERO, f);
        }
        s.handle_fault(SimTime::from_secs(1), SensorFault::Dead);
        for (i, t) in truths.into_iter().enumerate() {
            let r = s.measure(SimTime::from_secs(2 + i as u64), t, &mut rng);
            prop_assert_eq!(r.value(), None);
        }
    }

    #[test]
    fn a_stuck_sensor_repeats_its_value(
        seed in any::<u64>(),
        others in prop::collection::vec(other_fault(), 0..4),
        truths in prop::collection::vec(-40.0f64..85.0, 2..100),
    ) {
        let mut rng = CompactRng::from_seed_u64(seed);
        let unit = SensorUnit::manufacture(parts::bme280_temperature(), &mut rng).unwrap();
        let mut s = Faulty::new(unit);
        for f in others {
            s.handle_fault(SimTime::ZERO, f);
        }
        s.handle_fault(SimTime::ZERO, SensorFault::StuckAt);
        let mut held = None;
        for (i, t) in truths.into_iter().enumerate() {
            if let Some(v) = s.measure(SimTime::from_secs(i as u64 * 60), t, &mut rng).value() {
                match held {
                    None => held = Some(v),
                    Some(h) => prop_assert_eq!(v, h),
                }
            }
        }
    }

    #[test]
    fn the_cow_never_leaves_its_pasture_polygon(
        seed in any::<u64>(),
        pasture in star_polygon(),
        steps in prop::collection::vec(1u64..7_200, 1..300),
        speed in 0.01f32..2.0,
    ) {
        let cfg = CowConfig {
            grazing_speed_m_s: speed,
            stuck_per_cow_day: 0.2,
            ..CowConfig::default()
        };
        let mut cow = Cow::new(Seed(seed), 1, &cfg, &pasture, SimTime::ZERO).unwrap();
        prop_assert!(pasture.contains_point(cow.position()));
        let mut rng = CompactRng::from_seed_u64(seed ^ 0x5eed);
        let mut now = SimTime::ZERO;
        for dt in steps {
            now += SimDuration::from_secs(dt);
            cow.advance(now, &cfg, &pasture, &mut rng);
            prop_assert!(pasture.contains_point(cow.position()), "left at {:?}: {:?}", now, cow.position());
        }
    }
}
