//! Process-level behaviour of `Pool`: threads joined on drop, idle workers use no CPU, fork
//! safety, the Lambda memory variable. These look at the whole process (/proc/self), so they
//! run one at a time (a lock) in their own test binary. Linux only; not for Miri.
#![cfg(target_os = "linux")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use lanepool::pool::Pool;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Waits up to 2 s for the thread count to reach `want` (an exited thread may linger in
/// /proc for a moment after its join).
fn settle_thread_count(want: usize) -> usize {
    let start = Instant::now();
    loop {
        let n = thread_count();
        if n == want || start.elapsed() > Duration::from_secs(2) {
            return n;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// The thread count once it stopped changing (threads of tests that just ended may still be
/// leaving).
fn stable_thread_count() -> usize {
    let mut last = thread_count();
    loop {
        thread::sleep(Duration::from_millis(30));
        let n = thread_count();
        if n == last {
            return n;
        }
        last = n;
    }
}

/// utime + stime, in clock ticks, of this process's threads whose name starts with `prefix`.
fn cpu_ticks_of_threads(prefix: &str) -> (u64, usize) {
    let mut ticks = 0;
    let mut threads = 0;
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = entry.unwrap().path();
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !stat[open + 1..close].starts_with(prefix) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // After "(comm)": state is field 3 of stat(5), utime 14, stime 15.
        ticks += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        threads += 1;
    }
    (ticks, threads)
}

fn busy_scope(pool: &Pool) -> usize {
    let n = AtomicUsize::new(0);
    pool.scope(|s| {
        for _ in 0..200 {
            s.spawn(|s| {
                n.fetch_add(1, Ordering::Relaxed);
                s.spawn(|_| {
                    n.fetch_add(1, Ordering::Relaxed);
                });
            });
        }
    });
    n.into_inner()
}

#[test]
fn dropping_a_pool_joins_its_threads() {
    let _serial = serial();
    let baseline = stable_thread_count();
    for round in 0..5 {
        let pool = Pool::new(4).unwrap();
        assert_eq!(
            settle_thread_count(baseline + 4),
            baseline + 4,
            "round {round}: workers started"
        );
        let clone = pool.clone();
        assert_eq!(busy_scope(&pool), 400);
        drop(pool);
        // A clone keeps the workers alive.
        assert_eq!(thread_count(), baseline + 4);
        assert_eq!(busy_scope(&clone), 400);
        drop(clone);
        assert_eq!(
            settle_thread_count(baseline),
            baseline,
            "round {round}: threads leaked"
        );
    }
}

#[test]
fn idle_workers_use_no_cpu() {
    let _serial = serial();
    let pool = Pool::builder()
        .workers(2)
        .thread_name("lp-idle")
        .build()
        .unwrap();
    for _ in 0..20 {
        assert_eq!(busy_scope(&pool), 400);
    }
    thread::sleep(Duration::from_millis(50));
    let (before, threads) = cpu_ticks_of_threads("lp-idle");
    assert_eq!(threads, 2);
    thread::sleep(Duration::from_millis(400));
    let (after, _) = cpu_ticks_of_threads("lp-idle");
    // Two spinning threads would burn ~80 ticks (100 Hz) here.
    assert!(
        after - before <= 2,
        "idle workers used {} ticks in 400 ms",
        after - before
    );
}

#[test]
fn lambda_memory_size_limits_the_default_workers() {
    let _serial = serial();
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    std::env::set_var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128");
    assert_eq!(Pool::default_workers(), 1);
    std::env::set_var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "10240");
    assert_eq!(Pool::default_workers(), cpus.min(6));
    std::env::set_var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "not a number");
    assert_eq!(Pool::default_workers(), cpus);
    std::env::remove_var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
    assert_eq!(Pool::default_workers(), cpus);
    std::env::set_var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769");
    assert_eq!(Pool::builder().build().unwrap().workers(), 1);
    std::env::remove_var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
}

/// In the forked child: the pool must start fresh workers and run scopes that need them.
fn child_checks(pool: &Pool) -> i32 {
    let before = thread_count(); // only the forking thread exists in the child
    if before != 1 {
        return 10;
    }
    if busy_scope(pool) != 400 {
        return 11;
    }
    // Two tasks that must run at once: the caller plus a live (new) worker.
    let arrived = AtomicUsize::new(0);
    let start = Instant::now();
    let mut timed_out = false;
    pool.scope(|s| {
        for _ in 0..2 {
            s.spawn(|_| {
                arrived.fetch_add(1, Ordering::SeqCst);
                while arrived.load(Ordering::SeqCst) < 2 {
                    if start.elapsed() > Duration::from_secs(10) {
                        return;
                    }
                    std::hint::spin_loop();
                }
            });
        }
    });
    if arrived.load(Ordering::SeqCst) < 2 || start.elapsed() > Duration::from_secs(10) {
        timed_out = true;
    }
    if timed_out {
        return 12;
    }
    if thread_count() != 1 + pool.workers() {
        return 13;
    }
    0
}

#[test]
fn a_forked_child_gets_fresh_workers() {
    let _serial = serial();
    let pool = Pool::new(2).unwrap();
    assert_eq!(busy_scope(&pool), 400);
    let code = common::in_forked_child(Duration::from_secs(30), || child_checks(&pool));
    assert_eq!(code, 0, "child check failed");
    // The parent's pool is untouched.
    assert_eq!(busy_scope(&pool), 400);
}
