//! One seed replays a run bit for bit; another seed gives another run.

use crate::workload::{self, WorkloadConfig};
use sim::{SimDuration, SimTime};

fn config(seed: u64) -> WorkloadConfig {
    // Loss on the radio, jittery latency, a gateway partition and 5 % of sensors crashing:
    // the workload exercises every source of randomness and every fault path.
    WorkloadConfig {
        seed,
        sensors: 300,
        duration: SimDuration::from_mins(90),
        ..WorkloadConfig::default()
    }
}

#[test]
fn the_same_seed_gives_the_same_trace_hash_and_another_seed_a_different_one() {
    let a = workload::run(config(7)).unwrap();
    let b = workload::run(config(7)).unwrap();
    let c = workload::run(config(8)).unwrap();
    assert_eq!(a, b, "same seed, same everything");
    assert_ne!(a.trace_hash, c.trace_hash);
    assert!(a.events > 10_000, "{a:?}");
    assert!(a
        .net_dropped
        .iter()
        .any(|(r, n)| *r == "partitioned" && *n > 0));
    assert!(a.net_dropped.iter().any(|(r, n)| *r == "loss" && *n > 0));
}

#[test]
fn running_in_steps_from_an_external_clock_gives_the_same_trace_as_one_run() {
    let end = SimTime::ZERO + config(3).duration;
    let mut whole = workload::build(config(3));
    whole.run_until(end).unwrap();

    let mut stepped = workload::build(config(3));
    let mut t = SimTime::ZERO;
    while t < end {
        // An outside clock ticking at an irregular 0.7 s, as a pacer or madsim would.
        t = (t + SimDuration::from_millis(700)).min(end);
        stepped.run_until(t).unwrap();
        if let Some(next) = stepped.next_event_time() {
            assert!(next > t);
        }
    }
    assert_eq!(whole.kernel().trace_hash(), stepped.kernel().trace_hash());
    assert_eq!(
        whole.kernel().events_processed(),
        stepped.kernel().events_processed()
    );
}

#[test]
fn the_trace_hash_of_a_pinned_run_does_not_change() {
    // A change here means every recorded run stops replaying: it must be deliberate.
    let r = workload::run(WorkloadConfig {
        seed: 1,
        sensors: 50,
        duration: SimDuration::from_mins(30),
        ..WorkloadConfig::default()
    })
    .unwrap();
    assert_eq!(r.trace_hash, "e577c2fe017bc122");
}
