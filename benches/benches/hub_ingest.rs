//! Hub ingest fast path (issue: simulated Azure IoT cloud, acceptance 5): one compact
//! telemetry publish from an authenticated device through the size check, the daily quota,
//! the D2C throttle, two route conditions (one reading `$body`), the endpoint append and the
//! PUBACK output. Target: ≤ 200 ns per message on one core.
//!
//! Two measurements of the same loop: `telemetry_fast_path` is criterion's wall-clock time;
//! `telemetry_fast_path_cpu` counts the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so
//! time the thread spends descheduled on a shared machine does not inflate it.

use criterion::{criterion_group, Criterion, Throughput};
use hub::{ConnId, EndpointConfig, Hub, HubConfig, HubOutput, RouteConfig, Tier};
use iot_messages::sas::{device_resource_uri, SasToken};
use iot_messages::telemetry::{SchemaSet, TelemetrySchema, Values};
use iot_messages::wire::hub_username;
use iot_messages::{DeviceId, Msg};
use sim::{Epoch, SimDuration, SimTime};
use std::hint::black_box;
use std::time::Duration;

const DEVICES: u32 = 1_000;
const KEY: [u8; 32] = [3; 32];

fn setup() -> (Hub, Vec<Msg>) {
    let schemas = SchemaSet::new(vec![TelemetrySchema::new(
        "collar",
        &["lat", "lon", "temp_c", "battery_v"],
        &[("kind", Some("collar"))],
    )
    .unwrap()]);
    let mut cfg = HubConfig::s1("bench-hub");
    // An S3 hub with 10 units throttles D2C at 60,000/s, above the bench's 50,000/s of
    // simulated time, so every message takes the accept path.
    cfg.tier = Tier::S3;
    cfg.units = 10;
    // A back end that keeps up: each partition holds at most 256 unread messages, so the
    // bench measures the hub, not cache misses on a log nobody reads.
    cfg.partition_capacity = 256;
    cfg.endpoints = vec![EndpointConfig {
        name: "alerts".into(),
        partitions: 1,
    }];
    cfg.routes = vec![
        RouteConfig {
            name: "fever".into(),
            condition: "$body.temp_c > 39.5".into(),
            endpoints: vec!["alerts".into()],
        },
        RouteConfig {
            name: "collars".into(),
            condition: "kind = 'collar'".into(),
            endpoints: vec!["events".into()],
        },
    ];
    let mut hub = Hub::new(cfg, schemas).unwrap();
    let mut msgs = Vec::new();
    for i in 0..DEVICES {
        let id = DeviceId::new(&format!("cow-{i:06}")).unwrap();
        hub.register_device(SimTime::ZERO, &id, &KEY, None).unwrap();
        let uri = device_resource_uri(hub.host(), id.as_str());
        let expiry = Epoch::DEFAULT.unix_secs() as u64 + 86_400 * 30;
        let connect = Msg::Connect {
            client_id: id.as_arc().clone(),
            username: hub_username(hub.host(), id.as_str()).into(),
            password: SasToken::sign(&uri, &KEY, expiry, None).into(),
            keep_alive_s: 1_177,
        };
        hub.handle_packet(SimTime::ZERO, ConnId(i), &connect);
        msgs.push(
            Msg::telemetry(
                hub.schemas(),
                1,
                id.as_arc().clone(),
                0,
                Values::new(0, &[47.1, 8.2, 38.0 + f64::from(i % 3), 3.9]),
            )
            .unwrap(),
        );
    }
    while hub.poll_output().is_some() {}
    (hub, msgs)
}

/// The calling thread's CPU time (Linux `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`).
fn thread_cpu_time() -> Duration {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock_id: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn bench(c: &mut Criterion) {
    let (mut hub, msgs) = setup();
    let mut now = SimTime::from_secs(1);
    let mut k = 0usize;
    let mut g = c.benchmark_group("hub_ingest");
    g.throughput(Throughput::Elements(1));
    g.bench_function("telemetry_fast_path", |b| {
        b.iter(|| {
            now += SimDuration::from_micros(20);
            let i = k % DEVICES as usize;
            k += 1;
            hub.handle_packet(now, ConnId(i as u32), black_box(&msgs[i]));
            match hub.poll_output() {
                Some(HubOutput::ToDevice { .. }) => {}
                other => panic!("expected a PUBACK, got {other:?}"),
            }
        })
    });
    g.bench_function("telemetry_fast_path_cpu", |b| {
        b.iter_custom(|iters| {
            let start = thread_cpu_time();
            for _ in 0..iters {
                now += SimDuration::from_micros(20);
                let i = k % DEVICES as usize;
                k += 1;
                hub.handle_packet(now, ConnId(i as u32), black_box(&msgs[i]));
                match hub.poll_output() {
                    Some(HubOutput::ToDevice { .. }) => {}
                    other => panic!("expected a PUBACK, got {other:?}"),
                }
            }
            thread_cpu_time() - start
        })
    });
    g.finish();
    assert_eq!(hub.counters().d2c_throttled, 0);
}

criterion_group!(benches, bench);
benches::bench_main!(benches);
