//! One scope case, for profilers: `scope-profile <lanepool|rayon|both> <nested|flat> [iterations]`.
//!
//! ```text
//! valgrind --tool=callgrind target-perf/release/scope-profile lanepool nested 200
//! target-perf/release/scope-profile both nested 2000
//! ```
//!
//! Runs the case `iterations` times (after two warm-up runs) on a pool of
//! `Pool::default_workers()` threads and prints the wall time per run, so that a profiler sees
//! only that case (and the pool's start-up). `both` alternates lanepool and rayon run by run (on
//! a shared machine both see the same load) and prints the medians and their ratio.

use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use lanepool::Pool;

mod scope_cases;
use scope_cases::scope_case;

fn lanepool_case(pool: &Pool, nested: bool, n: &AtomicUsize) {
    scope_case!(pool, nested, n)
}

fn rayon_case(pool: &rayon::ThreadPool, nested: bool, n: &AtomicUsize) {
    scope_case!(pool, nested, n)
}

fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map(String::as_str).unwrap_or("both");
    let case = args.get(2).map(String::as_str).unwrap_or("nested");
    let iterations: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100);
    let nested = match case {
        "nested" => true,
        "flat" => false,
        other => panic!("unknown case {other:?} (nested or flat)"),
    };
    let workers = Pool::default_workers();
    let n = AtomicUsize::new(0);
    let lanepool = matches!(which, "lanepool" | "both").then(|| Pool::new(workers).expect("pool"));
    let rayon = matches!(which, "rayon" | "both").then(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .build()
            .expect("rayon pool")
    });
    let (mut lp, mut ry) = (Vec::new(), Vec::new());
    for i in 0..iterations + 2 {
        if let Some(pool) = &lanepool {
            let t = timed(|| lanepool_case(pool, nested, &n));
            if i >= 2 {
                lp.push(t);
            }
        }
        if let Some(pool) = &rayon {
            let t = timed(|| rayon_case(pool, nested, &n));
            if i >= 2 {
                ry.push(t);
            }
        }
    }
    print!("{case} ({workers} workers, {iterations} runs):");
    if !lp.is_empty() {
        print!(" lanepool median {:?}", median(&mut lp));
    }
    if !ry.is_empty() {
        print!(" rayon median {:?}", median(&mut ry));
    }
    if !lp.is_empty() && !ry.is_empty() {
        let ratio = median(&mut lp).as_secs_f64() / median(&mut ry).as_secs_f64();
        print!(" lanepool/rayon {ratio:.3}");
    }
    println!();
}
