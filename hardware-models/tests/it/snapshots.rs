//! Golden outputs for one seed: a 24-hour room-thermal trace under a fixed HVAC schedule, and a
//! cow's 24-hour temperature and position summary from its collar.

use geometry::Polygon;
use hardware::actuator::{Relay, RelaySpec};
use hardware::collar::{Collar, CollarConfig, CollarSpec};
use hardware::gnss::GnssOutcome;
use hardware::parts;
use hardware::sensor::{Sensor, SensorUnit};
use hardware::world::cow::{episodes, CowConfig, EpisodeKind};
use hardware::world::room::{HvacMode, Room, RoomSpec};
use serde::Serialize;
use sim::{Epoch, Seed, SimDuration, SimTime, StreamKey};

const SEED: Seed = Seed(2026);

fn r2(x: f64) -> f64 {
    libm::round(x * 100.0) / 100.0
}

#[derive(Serialize)]
struct RoomRow {
    utc: String,
    outdoor_c: f64,
    room_c: f64,
    hts221_c: Option<f64>,
    heat_on: bool,
    heat_pump_kwh: f64,
}

/// Heating on 06:00–09:00 and 17:00–22:00 UTC.
fn heat_scheduled(t: SimTime) -> bool {
    let h = Epoch::DEFAULT.hour_of_day(t);
    (6..9).contains(&h) || (17..22).contains(&h)
}

#[test]
fn a_room_under_a_fixed_hvac_schedule_follows_its_24_hour_trace() {
    let spec = RoomSpec::default();
    let mut room = Room::new(spec, 16.0, SimTime::ZERO).unwrap();
    let mut relay = Relay::new(RelaySpec::heat_pump(), SimTime::ZERO);
    let mut make = SEED.stream(StreamKey::new("room", 1, "manufacture"));
    let mut sensor = SensorUnit::manufacture(parts::hts221_temperature(), &mut make).unwrap();
    let mut run = SEED.stream(StreamKey::new("room", 1, "run"));
    let step = SimDuration::from_mins(5);
    let mut rows = Vec::new();
    let mut t = SimTime::ZERO;
    while t <= SimTime::from_secs(86_400) {
        relay.handle_command(t, heat_scheduled(t));
        if t.as_secs() % 3_600 == 0 {
            rows.push(RoomRow {
                utc: Epoch::DEFAULT.utc(t).to_string(),
                outdoor_c: r2(spec.outdoor_c(t)),
                room_c: r2(room.temperature_c()),
                hts221_c: sensor.measure(t, room.temperature_c(), &mut run).value(),
                heat_on: relay.is_on(),
                heat_pump_kwh: r2(relay.energy_j(t) / 3.6e6),
            });
        }
        let mode = if relay.is_on() {
            HvacMode::Heating
        } else {
            HvacMode::Off
        };
        let next = t + step;
        room.advance(next, mode.thermal_w(relay.spec().power_w));
        relay.handle_timeout(next);
        t = next;
    }
    // The heated periods are warmer than the unheated night.
    let at = |h: usize| rows[h].room_c;
    assert!(
        at(9) > at(6) + 2.0 && at(22) > at(17) + 2.0,
        "{} {} {} {}",
        at(6),
        at(9),
        at(17),
        at(22)
    );
    insta::assert_yaml_snapshot!("room_24h_fixed_hvac_schedule", rows);
}

#[derive(Serialize)]
struct CowRow {
    utc: String,
    true_temp_c: f64,
    probe_c: Option<f64>,
    febrile: bool,
    stuck: bool,
    resting: bool,
    east_m: f64,
    north_m: f64,
    gnss: String,
}

#[derive(Serialize)]
struct CowSummary {
    seed: u64,
    cow_id: u64,
    baseline_c: f64,
    probe_bias_c: f64,
    fever_episodes: Vec<String>,
    stuck_episodes: Vec<String>,
    hourly: Vec<CowRow>,
    distance_walked_m: f64,
    fixes: u32,
    no_fixes: u32,
    max_fix_error_m: f64,
    energy_sleep_mj: f64,
    energy_sample_mj: f64,
    energy_fix_mj: f64,
}

#[test]
fn a_cows_24_hour_temperature_and_position_summary_is_stable() {
    let cfg = CollarConfig {
        cow: CowConfig {
            fever_per_cow_day: 0.3,
            stuck_per_cow_day: 0.05,
            ..CowConfig::default()
        },
        ..CollarConfig::default()
    };
    let pasture = Polygon::rectangle("pasture", 800.0, 600.0).unwrap();
    let id = 7;
    // Summarise the UTC day on which the cow's first fever starts, so the trace shows one.
    let horizon = SimTime::from_secs(365 * 86_400);
    let fevers = episodes(
        SEED,
        id,
        EpisodeKind::Fever,
        &cfg.cow,
        SimTime::ZERO,
        horizon,
    );
    let day_start = SimTime::from_secs(fevers[0].start.as_secs() / 86_400 * 86_400);
    let day_end = day_start + SimDuration::from_hours(24);
    let fmt = |e: &hardware::world::cow::Episode| {
        format!(
            "{} .. {}",
            Epoch::DEFAULT.utc(e.start),
            Epoch::DEFAULT.utc(e.end)
        )
    };
    let overlaps = |e: &&hardware::world::cow::Episode| e.start < day_end && e.end > day_start;

    let spec = CollarSpec::new(cfg.clone(), pasture.clone()).unwrap();
    let mut collar = Collar::new(SEED, id, &spec, SimTime::ZERO).unwrap();
    let mut t = SimTime::ZERO;
    let step = SimDuration::from_mins(5);
    while t + step <= day_start {
        t += step;
        collar.update(t, &spec);
    }
    let ledger_start = *collar.battery().ledger();
    let mut hourly = Vec::new();
    let (mut fixes, mut no_fixes, mut max_err, mut walked) = (0, 0, 0.0f64, 0.0f64);
    let mut last_pos = collar.cow().position();
    while t < day_end {
        t += step;
        let s = collar.update(t, &spec);
        let pos = collar.cow().position();
        walked += pos.distance_m(last_pos);
        last_pos = pos;
        let gnss = match s.gnss {
            GnssOutcome::Fix(f) => {
                fixes += 1;
                max_err = max_err.max(f64::from(f.error_m));
                format!(
                    "fix error {:.1} m after {:.1} s",
                    f.error_m,
                    f.ttff.as_secs_f64()
                )
            }
            GnssOutcome::NoFix { time_on, .. } => {
                no_fixes += 1;
                format!("no fix after {time_on:?}")
            }
        };
        if t.as_secs() % 3_600 == 0 {
            hourly.push(CowRow {
                utc: Epoch::DEFAULT.utc(t).to_string(),
                true_temp_c: r2(f64::from(s.true_body_temp_c)),
                probe_c: s.body_temp.value().map(r2),
                febrile: collar.cow().is_febrile(t),
                stuck: collar.cow().is_stuck(t),
                resting: collar.cow().is_resting(),
                east_m: r2(pos.east_m),
                north_m: r2(pos.north_m),
                gnss,
            });
        }
    }
    let l = collar.battery().ledger();
    let millijoules =
        |u: hardware::battery::EnergyUse| r2((l.get(u) - ledger_start.get(u)) as f64 / 1e3);
    let summary = CowSummary {
        seed: SEED.0,
        cow_id: id,
        baseline_c: r2(f64::from(collar.cow().baseline_c())),
        probe_bias_c: r2(f64::from(collar.probe_bias_c())),
        fever_episodes: fevers.iter().filter(overlaps).map(fmt).collect(),
        stuck_episodes: episodes(
            SEED,
            id,
            EpisodeKind::Stuck,
            &cfg.cow,
            SimTime::ZERO,
            horizon,
        )
        .iter()
        .filter(overlaps)
        .map(fmt)
        .collect(),
        hourly,
        distance_walked_m: r2(walked),
        fixes,
        no_fixes,
        max_fix_error_m: r2(max_err),
        energy_sleep_mj: millijoules(hardware::battery::EnergyUse::Sleep),
        energy_sample_mj: millijoules(hardware::battery::EnergyUse::Sample),
        energy_fix_mj: millijoules(hardware::battery::EnergyUse::Fix),
    };
    assert_eq!(summary.hourly.len(), 24);
    assert!(summary
        .hourly
        .iter()
        .any(|r| r.febrile && r.true_temp_c >= 39.5));
    assert_eq!(fixes + no_fixes, 288);
    insta::assert_yaml_snapshot!("cow_24h_summary", summary);
}
