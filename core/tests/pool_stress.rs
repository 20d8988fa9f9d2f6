//! Stress tests of the completion and panic paths: thousands of scopes with random spawn trees
//! and random panics/errors, from several threads at once, on pools of several sizes. Every
//! tree is derived from a seed, so the expected node count and failures are known exactly.

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;

use lanepool::pool::{Pool, Scope, TaskFailure, TryScope};

/// splitmix64: the children and fate of a node come from its seed alone.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Fate {
    Ok,
    Panic,
    Error,
}

/// How many children a node at `depth` has, and what becomes of it.
fn node(seed: u64, depth: u32) -> (u64, Fate) {
    let r = mix(seed);
    let children = if depth >= 4 { 0 } else { r % 5 };
    let fate = match (r >> 8) % 23 {
        0 => Fate::Panic,
        1 => Fate::Error,
        _ => Fate::Ok,
    };
    (children, fate)
}

fn child_seed(seed: u64, i: u64) -> u64 {
    mix(seed ^ (i + 1).wrapping_mul(0x1000_0000_01B3))
}

/// Walks the tree sequentially: (nodes, seeds of failing nodes).
fn expected(seed: u64, depth: u32, nodes: &mut usize, failing: &mut Vec<(u64, Fate)>) {
    let (children, fate) = node(seed, depth);
    *nodes += 1;
    if fate != Fate::Ok {
        failing.push((seed, fate));
    }
    for i in 0..children {
        expected(child_seed(seed, i), depth + 1, nodes, failing);
    }
}

fn run_node(s: &Scope<'_, '_>, seed: u64, depth: u32, count: &AtomicUsize) {
    let (children, fate) = node(seed, depth);
    // Spawn first, so a panic here never loses the subtree.
    for i in 0..children {
        s.spawn(move |s| run_node(s, child_seed(seed, i), depth + 1, count));
    }
    count.fetch_add(1, Ordering::Relaxed);
    if fate != Fate::Ok {
        std::panic::panic_any(seed);
    }
}

fn run_try_node(
    s: &TryScope<'_, '_, u64>,
    seed: u64,
    depth: u32,
    count: &AtomicUsize,
) -> Result<(), u64> {
    let (children, fate) = node(seed, depth);
    for i in 0..children {
        s.spawn(move |s| run_try_node(s, child_seed(seed, i), depth + 1, count));
    }
    count.fetch_add(1, Ordering::Relaxed);
    match fate {
        Fate::Ok => Ok(()),
        Fate::Panic => std::panic::panic_any(seed),
        Fate::Error => Err(seed),
    }
}

fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(|_| {})));
}

fn iterations(full: usize) -> usize {
    if cfg!(miri) {
        10
    } else {
        full
    }
}

/// One scope: `roots` trees spawned from the body; checks count and the resumed panic.
fn check_scope(pool: &Pool, seed: u64) {
    let roots = seed % 6;
    let mut nodes = 0;
    let mut failing = Vec::new();
    for r in 0..roots {
        expected(child_seed(seed, r), 0, &mut nodes, &mut failing);
    }
    let count = AtomicUsize::new(0);
    let result = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            for r in 0..roots {
                let count = &count;
                s.spawn(move |s| run_node(s, child_seed(seed, r), 0, count));
            }
        })
    }));
    assert_eq!(
        count.load(Ordering::Relaxed),
        nodes,
        "seed {seed}: nodes run by return"
    );
    match result {
        Ok(()) => assert!(failing.is_empty(), "seed {seed}: a panic was lost"),
        Err(payload) => {
            let got = *payload.downcast::<u64>().expect("original payload");
            assert!(
                failing.iter().any(|&(s, _)| s == got),
                "seed {seed}: unknown payload"
            );
        }
    }
}

/// One try_scope: every failure collected, each exactly once.
fn check_try_scope(pool: &Pool, seed: u64) {
    let roots = seed % 6;
    let mut nodes = 0;
    let mut failing = Vec::new();
    for r in 0..roots {
        expected(child_seed(seed, r), 0, &mut nodes, &mut failing);
    }
    let count = AtomicUsize::new(0);
    let result = pool.try_scope(|s| {
        for r in 0..roots {
            let count = &count;
            s.spawn(move |s| run_try_node(s, child_seed(seed, r), 0, count));
        }
        seed
    });
    assert_eq!(count.load(Ordering::Relaxed), nodes, "seed {seed}");
    match result {
        Ok(v) => {
            assert_eq!(v, seed);
            assert!(failing.is_empty(), "seed {seed}: failures lost");
        }
        Err(e) => {
            let mut got: Vec<(u64, Fate)> = e
                .into_failures()
                .into_iter()
                .map(|f| match f {
                    TaskFailure::Error(s) => (s, Fate::Error),
                    TaskFailure::Panic(p) => (*p.downcast::<u64>().unwrap(), Fate::Panic),
                })
                .collect();
            got.sort_by_key(|&(s, _)| s);
            failing.sort_by_key(|&(s, _)| s);
            assert_eq!(got, failing, "seed {seed}");
        }
    }
}

#[test]
fn random_trees_and_panics_on_one_thread() {
    quiet_panics();
    for workers in [1, 2, 4] {
        let pool = Pool::new(workers).unwrap();
        for i in 0..iterations(700) as u64 {
            check_scope(&pool, mix(i * 31 + workers as u64));
        }
    }
}

#[test]
fn random_try_scopes_on_one_thread() {
    quiet_panics();
    let pool = Pool::new(2).unwrap();
    for i in 0..iterations(2_000) as u64 {
        check_try_scope(&pool, mix(i ^ 0xABCD));
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn random_trees_from_four_threads_and_nested_scopes() {
    quiet_panics();
    let pool = Pool::new(2).unwrap();
    thread::scope(|t| {
        for id in 0..4_u64 {
            let pool = &pool;
            t.spawn(move || {
                for i in 0..500_u64 {
                    let seed = mix(id << 32 | i);
                    if i % 3 == 0 {
                        // A scope inside a task of another scope (re-entrant).
                        pool.scope(|s| {
                            s.spawn(move |_| check_try_scope(pool, seed));
                            s.spawn(move |_| check_scope(pool, mix(seed)));
                        });
                    } else if i % 2 == 0 {
                        check_scope(pool, seed);
                    } else {
                        check_try_scope(pool, seed);
                    }
                }
            });
        }
    });
}

#[test]
#[cfg_attr(miri, ignore)]
fn pools_created_and_dropped_while_busy_elsewhere() {
    quiet_panics();
    let seen = Mutex::new(HashSet::new());
    thread::scope(|t| {
        for id in 0..3_u64 {
            let seen = &seen;
            t.spawn(move || {
                for i in 0..40_u64 {
                    let pool = Pool::new(1 + (i % 3) as usize).unwrap();
                    for j in 0..5 {
                        check_scope(&pool, mix(id * 1_000 + i * 10 + j));
                    }
                    seen.lock().unwrap().insert((id, i));
                }
            });
        }
    });
    assert_eq!(seen.into_inner().unwrap().len(), 120);
}

/// Owned scopes limit the threads running their tasks to the pool's workers, and a worker
/// takes tasks from the injector in batches into its own deque: a worker refused a place with
/// tasks left in its deque must hand them back, or they are lost and the wait never returns.
/// Many outside threads, each waiting on its own scopes (and so holding a place while it helps),
/// with tasks long enough for the places to be full often.
#[test]
#[cfg_attr(miri, ignore)] // thousands of scopes: too slow under Miri
fn stress_owned_scopes_never_lose_a_batch_of_tasks() {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let pool = Pool::new(2).unwrap();
        let handles: Vec<_> = (0..6)
            .map(|t| {
                let pool = pool.clone();
                thread::spawn(move || {
                    let mut total = 0;
                    for i in 0..400 {
                        let scope = pool.owned_scope();
                        let count = std::sync::Arc::new(AtomicUsize::new(0));
                        let tasks = 3 + (i + t) % 9;
                        for k in 0..tasks {
                            let count = std::sync::Arc::clone(&count);
                            scope.spawn(move |_| {
                                // A little work, varied, so that threads overlap.
                                let mut x = k as u64;
                                for _ in 0..(k % 4) * 200 {
                                    x = mix(x);
                                }
                                std::hint::black_box(x);
                                count.fetch_add(1, Ordering::SeqCst);
                            });
                        }
                        scope.wait();
                        assert_eq!(count.load(Ordering::SeqCst), tasks);
                        total += tasks;
                    }
                    total
                })
            })
            .collect();
        let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        let _ = done_tx.send(total);
    });
    let total = done_rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("owned scopes hung: tasks were lost");
    assert!(total > 0);
}
