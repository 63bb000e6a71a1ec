//! Runs the store benchmark's pipeline outside criterion, for callgrind and perf (see
//! `benches::store_pipeline`): `store_pipeline DEVICES READINGS` makes one pass through the
//! pool, then runs `READINGS` more in ten chunks and prints the fastest and the median
//! chunk's nanoseconds per reading, and the alerts raised.

use benches::store_pipeline::Pipeline;
use std::time::Instant;

fn main() {
    let usage = "usage: store_pipeline DEVICES READINGS";
    let mut args = std::env::args().skip(1);
    let mut number = |what: &str| -> u64 {
        let arg = args
            .next()
            .unwrap_or_else(|| panic!("{usage}: {what} missing"));
        arg.parse()
            .unwrap_or_else(|e| panic!("{usage}: {what} {arg:?}: {e}"))
    };
    let devices = u32::try_from(number("DEVICES")).expect("DEVICES fits a u32");
    let readings = number("READINGS");
    fleetsim::hugepages::reexec();
    let mut p = Pipeline::new(devices);
    p.run(p.pool.len() as u64);
    let chunks = 10;
    let chunk = (readings / chunks).max(1);
    let mut ns: Vec<f64> = (0..chunks)
        .map(|_| {
            let t0 = Instant::now();
            p.run(chunk);
            t0.elapsed().as_nanos() as f64 / chunk as f64
        })
        .collect();
    ns.sort_by(f64::total_cmp);
    println!(
        "{devices} collars: {:.1} ns per reading fastest, {:.1} median of {chunks} chunks; {} alerts",
        ns[0],
        ns[ns.len() / 2],
        p.engine.stats().alerts_raised
    );
}
