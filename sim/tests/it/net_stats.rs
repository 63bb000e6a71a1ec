//! Statistical tests of the network model, with bounds derived from the sample size.

use sim::net::{Latency, LinkProfile, Network, SendOutcome};
use sim::{Dist, Ratio, Seed, SimDuration, SimTime};

const N: u64 = 200_000;

fn link(profile: LinkProfile) -> (Network, sim::net::LinkId) {
    let mut net = Network::new(Seed(11));
    let a = net.add_node();
    let b = net.add_node();
    let p = net.add_profile(profile).unwrap();
    let l = net.add_link(a, b, p).unwrap();
    (net, l)
}

#[test]
fn the_observed_loss_ratio_is_within_five_standard_errors_of_the_configured_one() {
    let p = 0.1;
    let (mut net, l) = link(LinkProfile {
        loss: Ratio::new(p).unwrap(),
        ..LinkProfile::ideal(SimDuration::from_millis(5))
    });
    let lost = (0..N)
        .filter(|i| {
            matches!(
                net.send(SimTime::from_millis(*i), l, 10, 0),
                SendOutcome::Dropped(_)
            )
        })
        .count() as f64;
    let sd = (N as f64 * p * (1.0 - p)).sqrt();
    assert!((lost - N as f64 * p).abs() < 5.0 * sd, "lost {lost} of {N}");
    assert_eq!(net.stats(l).dropped_total(), lost as u64);
}

#[test]
fn latency_mean_and_tail_match_the_distribution_and_nothing_arrives_before_the_minimum() {
    let min = SimDuration::from_millis(40);
    let mean_ms = 20.0;
    let (mut net, l) = link(LinkProfile {
        latency: Latency {
            min,
            jitter_ms: Dist::exponential(mean_ms).unwrap(),
        },
        duplicate: Ratio::new(0.05).unwrap(),
        ..LinkProfile::ideal(SimDuration::ZERO)
    });
    let p99_ms = mean_ms * (100f64).ln();
    let (mut sum, mut above_p99, mut dups, mut reordered) = (0.0, 0u64, 0u64, 0u64);
    let mut last_arrival = SimTime::ZERO;
    for i in 0..N {
        let now = SimTime::from_millis(i);
        let SendOutcome::Delivered { at, duplicate_at } = net.send(now, l, 10, 0) else {
            panic!("no loss configured");
        };
        for t in std::iter::once(at).chain(duplicate_at) {
            assert!(
                t >= now + min,
                "arrived at {t:?}, sent at {now:?}, min latency {min:?}"
            );
        }
        dups += u64::from(duplicate_at.is_some());
        reordered += u64::from(at < last_arrival);
        last_arrival = last_arrival.max(at);
        let jitter = (at - now - min).as_millis_f64();
        sum += jitter;
        above_p99 += u64::from(jitter > p99_ms);
    }
    // Mean of an exponential: standard error = mean / sqrt(N).
    let mean = sum / N as f64;
    assert!(
        (mean - mean_ms).abs() < 5.0 * mean_ms / (N as f64).sqrt(),
        "mean jitter {mean}"
    );
    // The count above the true 99th percentile is Binomial(N, 0.01).
    let sd = (N as f64 * 0.01 * 0.99).sqrt();
    assert!(
        (above_p99 as f64 - N as f64 * 0.01).abs() < 5.0 * sd,
        "{above_p99} above p99"
    );
    let dup_sd = (N as f64 * 0.05 * 0.95).sqrt();
    assert!(
        (dups as f64 - N as f64 * 0.05).abs() < 5.0 * dup_sd,
        "{dups} duplicates"
    );
    // Packets 1 ms apart with 20 ms jitter overtake each other: reordering emerges.
    assert!(reordered > N / 10, "only {reordered} reordered");
}

#[test]
fn bandwidth_caps_throughput_at_the_configured_rate() {
    // 1 Mbit/s, 1,250-byte packets: at most 100 packets/s; offer 200/s for 10 s.
    let (mut net, l) = link(LinkProfile {
        bandwidth_bps: Some(1_000_000),
        queue_capacity_bytes: 12_500,
        ..LinkProfile::ideal(SimDuration::from_millis(1))
    });
    let mut last = SimTime::ZERO;
    let mut delivered = 0;
    for i in 0..2_000u64 {
        if let SendOutcome::Delivered { at, .. } =
            net.send(SimTime::from_millis(i * 5), l, 1_250, 0)
        {
            delivered += 1;
            last = last.max(at);
        }
    }
    let rate = delivered as f64 / last.as_secs_f64();
    assert!(rate <= 100.5, "{delivered} packets by {last:?}: {rate}/s");
    assert!(delivered >= 1_000, "only {delivered} of 2,000 got through");
    assert_eq!(
        net.stats(l).dropped(sim::net::DropReason::QueueFull),
        2_000 - delivered
    );
}
