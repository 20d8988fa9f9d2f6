//! Re-entrant use and lifecycle: a handler using the same pool inside (`process`, `scope`,
//! `process_event`, nested three deep, with every worker busy), one pool used from many threads
//! at once by concurrent `process` calls, and a pool dropped while idle (its threads joined).

mod common;

use common::within;

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use lanepool::batch::BatchOptions;
use lanepool::event::BatchRecord;
use lanepool::Pool;

/// Miri is far slower: smaller shapes and longer limits there.
const LIMIT: Duration = Duration::from_secs(if cfg!(miri) { 900 } else { 60 });

#[derive(Debug)]
struct Msg {
    id: String,
    group: Option<String>,
    fail: bool,
}

impl BatchRecord for Msg {
    fn item_identifier(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.id))
    }
    fn lane_key(&self) -> Option<Cow<'_, str>> {
        self.group.as_deref().map(Cow::Borrowed)
    }
}

fn msgs(prefix: &str, n: usize) -> Vec<Msg> {
    (0..n)
        .map(|i| Msg {
            id: format!("{prefix}{i}"),
            group: (i % 3 != 0).then(|| format!("g{}", i % 2)),
            fail: false,
        })
        .collect()
}

/// Waits (bounded) until `n` handlers are inside at once, so every worker (and the caller) is
/// busy when the nested calls start. Bounded, so a pool that never runs `n` at once is not
/// mistaken for a deadlock here: the test checks `peak` afterwards.
fn rendezvous(inside: &AtomicUsize, peak: &AtomicUsize, n: usize) {
    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
    let before = peak.fetch_max(now, Ordering::SeqCst);
    if before >= n {
        return; // the first `n` already met; later handlers go straight on
    }
    let start = Instant::now();
    // Miri runs threads far slower (and interleaves them itself): give them longer to meet.
    let bound = Duration::from_secs(if cfg!(miri) { 300 } else { 2 });
    while peak.load(Ordering::SeqCst) < n && start.elapsed() < bound {
        thread::yield_now();
    }
}

/// process -> scope -> process_event -> scope, each level's handlers blocking their workers
/// while they nest.
#[test]
fn process_scope_and_process_event_nested_three_deep_with_every_worker_busy() {
    let workers = 2;
    let pool = Pool::new(workers).unwrap();
    let leaves = within(LIMIT, move || {
        let leaves = AtomicUsize::new(0);
        let (inside, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
        // Concurrency above the worker count: the caller runs records too, and the rest wait.
        let options = BatchOptions::new().concurrency(workers + 1);
        let outer = msgs("o", 6);
        let report = pool
            .process(&outer, &options, |m| {
                rendezvous(&inside, &peak, workers + 1);
                // Level 2: a scope on the same pool from inside a handler.
                pool.scope(|s| {
                    for k in 0..3 {
                        let (pool, leaves, options) = (&pool, &leaves, &options);
                        let id = m.id.clone();
                        s.spawn(move |s| {
                            // Level 3: a whole event batch on the same pool from inside a task.
                            let event = serde_json::json!({"Records": (0..4).map(|j| serde_json::json!({
                                "eventSource": "aws:sqs",
                                "messageId": format!("{id}-{k}-{j}"),
                                "attributes": {"MessageGroupId": format!("{}", j % 2)},
                            })).collect::<Vec<_>>()});
                            let report = pool
                                .process_event(&event, options, |_| {
                                    // Level 4: a scope inside the innermost handler.
                                    pool.scope(|s| {
                                        s.spawn(|_| {
                                            leaves.fetch_add(1, Ordering::SeqCst);
                                        });
                                    });
                                    Ok::<(), ()>(())
                                })
                                .unwrap();
                            assert_eq!(report.summary().succeeded, 4);
                            s.spawn(|_| ());
                        });
                    }
                });
                inside.fetch_sub(1, Ordering::SeqCst);
                if m.fail {
                    Err(())
                } else {
                    Ok(())
                }
            })
            .unwrap();
        assert_eq!(report.summary().succeeded, 6);
        assert_eq!(
            peak.load(Ordering::SeqCst),
            workers + 1,
            "every worker and the caller were busy in handlers at once"
        );
        leaves.load(Ordering::SeqCst)
    });
    assert_eq!(leaves, 6 * 3 * 4);
}

/// Every worker blocked in a handler that itself calls `process` three levels down: the
/// nested callers run their own records, so nothing starves.
#[test]
fn process_nested_three_deep_on_a_one_worker_pool() {
    let pool = Pool::new(1).unwrap();
    let total = within(LIMIT, move || {
        let count = AtomicUsize::new(0);
        fn level(pool: &Pool, depth: u32, count: &AtomicUsize) {
            let records = msgs(&format!("d{depth}-"), 3);
            let report = pool
                .process(&records, &BatchOptions::new().concurrency(3), |_| {
                    if depth == 0 {
                        count.fetch_add(1, Ordering::SeqCst);
                    } else {
                        level(pool, depth - 1, count);
                    }
                    Ok::<(), ()>(())
                })
                .unwrap();
            assert_eq!(report.summary().succeeded, 3);
        }
        level(&pool, 3, &count);
        count.load(Ordering::SeqCst)
    });
    assert_eq!(total, 3usize.pow(4));
}

/// One pool, many threads calling `process` at once; every report is the right one.
#[test]
fn one_pool_from_many_threads_at_once() {
    let (threads, batches, size) = if cfg!(miri) { (3, 2, 6) } else { (12, 60, 40) };
    let pool = Pool::new(4).unwrap();
    within(LIMIT, move || {
        thread::scope(|ts| {
            for t in 0..threads {
                let pool = pool.clone();
                ts.spawn(move || {
                    for b in 0..batches {
                        let mut records = msgs(&format!("t{t}b{b}r"), size);
                        // One failure per batch, at a place that depends on thread and batch.
                        let bad = (t * 7 + b * 3) % size;
                        records[bad].fail = true;
                        let ran = AtomicUsize::new(0);
                        let options = BatchOptions::new().concurrency(1 + (t + b) % 6);
                        let report = pool
                            .process(&records, &options, |m| {
                                ran.fetch_add(1, Ordering::SeqCst);
                                if m.fail {
                                    Err(m.id.clone())
                                } else {
                                    Ok(())
                                }
                            })
                            .unwrap();
                        // Reference: the failed record's lane skips its later records.
                        let lane = records[bad].group.clone();
                        let expected: Vec<String> = records
                            .iter()
                            .enumerate()
                            .filter(|(i, r)| {
                                *i == bad || (*i > bad && lane.is_some() && r.group == lane)
                            })
                            .map(|(_, r)| r.id.clone())
                            .collect();
                        assert_eq!(report.response().batch_item_failures, expected);
                        assert_eq!(
                            ran.load(Ordering::SeqCst),
                            size - (expected.len() - 1),
                            "each started record ran exactly once"
                        );
                        assert_eq!(report.identifiers().len(), size);
                    }
                });
            }
        });
    });
}

/// Names of this process's threads (`/proc/self/task/*/comm`).
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .map(|dir| {
            dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
                .map(|s| s.trim().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Counts, when a pool worker thread exits, that its thread-local destructors ran (slowly, so
/// that a thread left running after `drop` returned would not have got there yet).
struct ExitMark(std::sync::Arc<AtomicUsize>);

impl Drop for ExitMark {
    fn drop(&mut self) {
        thread::sleep(Duration::from_millis(20));
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

thread_local! {
    static EXIT_MARK: std::cell::RefCell<Option<ExitMark>> = const { std::cell::RefCell::new(None) };
}

#[test]
#[cfg_attr(miri, ignore)] // reads /proc
fn a_pool_dropped_while_idle_joins_its_threads() {
    for round in 0..3 {
        let pool = Pool::builder()
            .workers(3)
            .thread_name("idledrop")
            .build()
            .unwrap();
        let clone = pool.clone();
        let mine = |names: &[String]| names.iter().filter(|n| n.starts_with("idledrop-")).count();
        // A new thread names itself once it runs: wait (bounded) for all three names.
        let t0 = Instant::now();
        while mine(&thread_names()) < 3 && t0.elapsed() < Duration::from_secs(5) {
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(mine(&thread_names()), 3, "round {round}: workers started");
        // Used (every worker gets an exit mark), then idle (workers parked), then dropped:
        // first a clone on another thread, then the last handle here.
        let exited = std::sync::Arc::new(AtomicUsize::new(0));
        let marked = parking_lot::Mutex::new(std::collections::HashSet::new());
        let t0 = Instant::now();
        while marked.lock().len() < 3 && t0.elapsed() < Duration::from_secs(5) {
            pool.scope(|s| {
                for _ in 0..6 {
                    s.spawn(|_| {
                        let me = thread::current().name().unwrap_or_default().to_owned();
                        if me.starts_with("idledrop-") && marked.lock().insert(me) {
                            let mark = ExitMark(exited.clone());
                            EXIT_MARK.with(|m| *m.borrow_mut() = Some(mark));
                        }
                        thread::sleep(Duration::from_millis(2));
                    });
                }
            });
        }
        assert_eq!(
            marked.lock().len(),
            3,
            "round {round}: every worker ran a task"
        );
        let records = msgs("x", 10);
        pool.process(&records, &BatchOptions::new(), |_| Ok::<(), ()>(()))
            .unwrap();
        thread::sleep(Duration::from_millis(20));
        thread::spawn(move || drop(clone)).join().unwrap();
        assert_eq!(mine(&thread_names()), 3, "a clone's drop keeps the workers");
        assert_eq!(
            exited.load(Ordering::SeqCst),
            0,
            "a clone's drop keeps the workers"
        );
        let t0 = Instant::now();
        drop(pool);
        let dropped = t0.elapsed();
        // Joined: every worker had finished exiting (its thread-locals destroyed) when drop
        // returned.
        assert_eq!(
            exited.load(Ordering::SeqCst),
            3,
            "round {round}: threads joined on drop"
        );
        assert!(dropped < Duration::from_secs(1), "drop took {dropped:?}");
        // And /proc stops listing them (the kernel wakes a joiner as the thread releases its
        // memory, a moment before that: bounded wait).
        let t0 = Instant::now();
        while mine(&thread_names()) > 0 && t0.elapsed() < Duration::from_millis(500) {
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(mine(&thread_names()), 0, "round {round}: threads gone");
    }
}

/// A small pool dropped right after a batch (Miri's version of the lifecycle test: the
/// workers' shutdown path, without /proc).
#[test]
fn a_pool_dropped_right_after_use_shuts_down() {
    for _ in 0..3 {
        let pool = Pool::new(2).unwrap();
        let records = msgs("y", 4);
        let report = pool
            .process(&records, &BatchOptions::new(), |_| Ok::<(), ()>(()))
            .unwrap();
        assert_eq!(report.summary().succeeded, 4);
        drop(pool);
    }
}
