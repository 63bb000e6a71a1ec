//! Compression: ten million synthetic collar readings (a grazing walk with GNSS noise
//! and a body temperature with a daily cycle and sensor noise) fit in ≤ 10 bytes each.

use rand_core::RngCore;
use sim::{Epoch, Seed, SimDuration, SimTime, StreamKey};
use store::{DeviceIndex, IngestEvent, Schema, StoreConfig, TimeSeriesStore, TimestampSource};

fn normal(rng: &mut impl RngCore) -> f64 {
    sim::rng::standard_normal(rng)
}

/// One cow: position in metres from its herd centre, heading, a GNSS error that
/// wanders (reference §7.3: 4.7 m bias, SD 3.9 m) and a personal baseline temperature.
struct Cow {
    x_m: f64,
    y_m: f64,
    heading: f64,
    gnss_x_m: f64,
    gnss_y_m: f64,
    baseline_c: f64,
    phase_ms: u64,
}

const CENTRE_LAT: f64 = 46.95;
const CENTRE_LON: f64 = 7.45;
const M_PER_DEG_LAT: f64 = 111_320.0;

#[test]
fn ten_million_collar_readings_fit_in_ten_bytes_each() {
    let cows = 10_000u32;
    let rounds = 1_000u64;
    let interval = SimDuration::from_secs(300);
    let config = StoreConfig {
        timestamp: TimestampSource::EventTime,
        ..StoreConfig::default()
    };
    let mut store = TimeSeriesStore::new(config, Schema::collar(), Epoch::DEFAULT).unwrap();
    let mut rng = Seed(7).stream(StreamKey::new("test", 0, "collars"));
    let mut herd: Vec<Cow> = (0..cows)
        .map(|_| Cow {
            x_m: normal(&mut rng) * 500.0,
            y_m: normal(&mut rng) * 500.0,
            heading: sim::rng::unit_f64(&mut rng) * std::f64::consts::TAU,
            gnss_x_m: 0.0,
            gnss_y_m: 0.0,
            baseline_c: 38.6 + normal(&mut rng) * 0.2,
            phase_ms: rng.next_u64() % 300_000,
        })
        .collect();
    let m_per_deg_lon = M_PER_DEG_LAT * libm::cos(CENTRE_LAT.to_radians());
    for round in 0..rounds {
        let round_start = SimTime::ZERO + interval.saturating_mul(round);
        for (c, cow) in herd.iter_mut().enumerate() {
            // Grazing: mostly slow steps with a turning heading, sometimes resting.
            let speed_m_s = if rng.next_u32() % 4 == 0 {
                0.0
            } else {
                0.1 * sim::rng::unit_f64(&mut rng)
            };
            cow.heading += normal(&mut rng) * 0.6;
            cow.x_m += libm::cos(cow.heading) * speed_m_s * 300.0;
            cow.y_m += libm::sin(cow.heading) * speed_m_s * 300.0;
            cow.gnss_x_m = 0.8 * cow.gnss_x_m + normal(&mut rng) * 2.5;
            cow.gnss_y_m = 0.8 * cow.gnss_y_m + normal(&mut rng) * 2.5;
            let day_s = (round * 300) % 86_400;
            let temp = cow.baseline_c
                + 0.3 * libm::sin(day_s as f64 / 86_400.0 * std::f64::consts::TAU)
                + normal(&mut rng) * 0.05;
            // The fix takes 5-30 s, so the reading time wanders within the slot.
            let fix_ms = 5_000 + rng.next_u64() % 25_000;
            let event_time = round_start + SimDuration::from_millis(cow.phase_ms + fix_ms);
            let enqueued = event_time + SimDuration::from_millis(800 + rng.next_u64() % 1_500);
            let lat = CENTRE_LAT + (cow.y_m + cow.gnss_y_m) / M_PER_DEG_LAT;
            let lon = CENTRE_LON + (cow.x_m + cow.gnss_x_m) / m_per_deg_lon;
            let e = IngestEvent::new(
                DeviceIndex(c as u32),
                round as u32,
                event_time,
                enqueued,
                &[lat, lon, temp],
            );
            store
                .handle_ingest(round_start + interval, (c % 4) as u16, e, 110)
                .unwrap();
        }
        store.handle_timeout(round_start + interval);
    }
    store.handle_timeout(SimTime::ZERO + interval.saturating_mul(rounds + 1));
    let stats = store.storage_stats();
    assert_eq!(stats.events_live, u64::from(cows) * rounds);
    let per_event = stats.bytes_per_event();
    println!(
        "collar readings: {} events, sealed {} B, open {} B, headers {} B, {:.3} bytes/reading; \
         free pool pages {} B, device state {} B",
        stats.events_live,
        stats.sealed_bytes,
        stats.open_bytes,
        stats.block_header_bytes,
        per_event,
        stats.pool_free_bytes,
        stats.device_state_bytes
    );
    assert!(per_event <= 10.0, "{per_event} bytes per reading");
    // 288 million readings (a million cows for a day) at this rate fit in 3 GiB.
    assert!(per_event * 288e6 <= 3.0 * (1u64 << 30) as f64);
    assert_eq!(store.stats().backlog_depth, 0);
    assert_eq!(store.stats().duplicates_dropped, 0);
}
