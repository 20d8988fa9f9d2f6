//! Pool overhead benchmark: lanepool's `Pool::scope` against `rayon::scope` (on a rayon pool of
//! the same size) and `std::thread::scope` with one chunk per thread.
//!
//! Run with `cargo bench -p lanepool --bench pool`. A plain `main` timing with `Instant`; every
//! figure is the median of several runs. Ratios below 1.0 mean lanepool is faster.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lanepool::pool::{Pool, Scope};

const TASKS: usize = 10_000;
const DEPTH: u32 = 13; // 2^14 - 1 = 16,383 tasks
const RUNS: usize = 31;

fn median(mut f: impl FnMut()) -> Duration {
    for _ in 0..3 {
        f(); // warm up
    }
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

fn lp_tree(s: &Scope<'_, '_>, depth: u32, n: &AtomicUsize) {
    n.fetch_add(1, Ordering::Relaxed);
    if depth > 0 {
        s.spawn(move |s| lp_tree(s, depth - 1, n));
        s.spawn(move |s| lp_tree(s, depth - 1, n));
    }
}

fn rayon_tree<'a>(s: &rayon::Scope<'a>, depth: u32, n: &'a AtomicUsize) {
    n.fetch_add(1, Ordering::Relaxed);
    if depth > 0 {
        s.spawn(move |s| rayon_tree(s, depth - 1, n));
        s.spawn(move |s| rayon_tree(s, depth - 1, n));
    }
}

fn std_tree(depth: u32, n: &AtomicUsize) {
    n.fetch_add(1, Ordering::Relaxed);
    if depth > 0 {
        std_tree(depth - 1, n);
        std_tree(depth - 1, n);
    }
}

/// Busy work of roughly a microsecond.
fn work(i: usize) -> u64 {
    let mut x = i as u64;
    for _ in 0..200 {
        x = black_box(
            x.wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407),
        );
    }
    x
}

fn report(name: &str, lp: Duration, rayon: Duration, std: Duration) {
    println!(
        "{name:<28} lanepool {:>9.1?}  rayon {:>9.1?}  std::thread::scope {:>9.1?}  lanepool/rayon {:>5.2}  lanepool/std {:>5.2}",
        lp,
        rayon,
        std,
        lp.as_secs_f64() / rayon.as_secs_f64(),
        lp.as_secs_f64() / std.as_secs_f64(),
    );
}

fn main() {
    let workers = Pool::default_workers();
    let pool = Pool::new(workers).unwrap();
    let rp = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .unwrap();
    // lanepool's caller helps, rayon's waits: give std::thread::scope the same total threads.
    let std_threads = workers + 1;
    println!("workers: {workers} (+ caller for lanepool); median of {RUNS} runs");

    let n = AtomicUsize::new(0);
    let flat_lp = median(|| {
        pool.scope(|s| {
            for _ in 0..TASKS {
                s.spawn(|_| {
                    n.fetch_add(1, Ordering::Relaxed);
                });
            }
        })
    });
    let flat_rayon = median(|| {
        rp.scope(|s| {
            for _ in 0..TASKS {
                s.spawn(|_| {
                    n.fetch_add(1, Ordering::Relaxed);
                });
            }
        })
    });
    let flat_std = median(|| {
        std::thread::scope(|s| {
            for t in 0..std_threads {
                let n = &n;
                s.spawn(move || {
                    for _ in (t..TASKS).step_by(std_threads) {
                        n.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        })
    });
    report("10,000 empty tasks", flat_lp, flat_rayon, flat_std);

    let tree_lp = median(|| pool.scope(|s| lp_tree(s, DEPTH, &n)));
    let tree_rayon = median(|| rp.scope(|s| rayon_tree(s, DEPTH, &n)));
    let tree_std = median(|| {
        std::thread::scope(|s| {
            // One subtree per thread at the top levels.
            let mut roots = vec![DEPTH];
            while roots.len() < std_threads {
                let d = roots.pop().unwrap();
                n.fetch_add(1, Ordering::Relaxed);
                roots.insert(0, d - 1);
                roots.insert(0, d - 1);
            }
            for d in roots {
                let n = &n;
                s.spawn(move || std_tree(d, n));
            }
        })
    });
    report("nested binary tree, 16,383", tree_lp, tree_rayon, tree_std);

    let sink = AtomicUsize::new(0);
    let work_lp = median(|| {
        pool.scope(|s| {
            for i in 0..TASKS {
                let sink = &sink;
                s.spawn(move |_| {
                    sink.fetch_add(work(i) as usize & 1, Ordering::Relaxed);
                });
            }
        })
    });
    let work_rayon = median(|| {
        rp.scope(|s| {
            for i in 0..TASKS {
                let sink = &sink;
                s.spawn(move |_| {
                    sink.fetch_add(work(i) as usize & 1, Ordering::Relaxed);
                });
            }
        })
    });
    let work_std = median(|| {
        std::thread::scope(|s| {
            for t in 0..std_threads {
                let sink = &sink;
                s.spawn(move || {
                    for i in (t..TASKS).step_by(std_threads) {
                        sink.fetch_add(work(i) as usize & 1, Ordering::Relaxed);
                    }
                });
            }
        })
    });
    report("10,000 tasks of ~1 us", work_lp, work_rayon, work_std);

    let small_lp = median(|| {
        pool.scope(|s| {
            for _ in 0..4 {
                s.spawn(|_| {
                    n.fetch_add(1, Ordering::Relaxed);
                });
            }
        })
    });
    let small_rayon = median(|| {
        rp.scope(|s| {
            for _ in 0..4 {
                s.spawn(|_| {
                    n.fetch_add(1, Ordering::Relaxed);
                });
            }
        })
    });
    let small_std = median(|| {
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    n.fetch_add(1, Ordering::Relaxed);
                });
            }
        })
    });
    report("scope of 4 empty tasks", small_lp, small_rayon, small_std);
    black_box(n.load(Ordering::Relaxed));
}
