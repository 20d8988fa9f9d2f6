//! Behaviour of `Pool::scope` / `Pool::try_scope`: borrowing, nesting, completion, panics,
//! concurrency, re-entrancy, and that a caller only runs its own scope's tasks.
//!
//! The small tests run under Miri too; the ones that sleep, time or spawn many tasks are ignored
//! there. Run them with
//! `MIRIFLAGS="-Zmiri-tree-borrows -Zmiri-ignore-leaks" cargo +nightly miri test -p lanepool --test pool_scope`:
//! crossbeam-epoch (under crossbeam-deque's `Worker`/`Stealer`) breaks the Stacked Borrows rules
//! in its intrusive list (`internal.rs`, `element_of`) and leaks its global collector's garbage
//! by design, so both flags are needed; with them all 10 Miri tests pass.

mod common;

use common::within;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use lanepool::pool::{panic_message, workers_for, Pool, PoolError, Scope, TaskFailure};

/// Spins until `cond` holds, failing after `limit`.
fn wait_until(limit: Duration, what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        thread::yield_now();
    }
}

#[test]
fn borrows_from_the_callers_stack() {
    let pool = Pool::new(2).unwrap();
    let input: Vec<u64> = (1..=10).collect();
    let mut output = vec![0_u64; input.len()];
    let total = AtomicUsize::new(0);
    pool.scope(|s| {
        for (slot, x) in output.iter_mut().zip(&input) {
            let total = &total;
            s.spawn(move |_| {
                *slot = x * x;
                total.fetch_add(*x as usize, Ordering::Relaxed);
            });
        }
    });
    assert_eq!(output, input.iter().map(|x| x * x).collect::<Vec<_>>());
    assert_eq!(total.load(Ordering::Relaxed), 55);
}

#[test]
fn scope_returns_the_body_value_and_runs_without_tasks() {
    let pool = Pool::new(1).unwrap();
    let local = String::from("not Send-bound");
    let r = pool.scope(|_| std::rc::Rc::new(local.len())); // R need not be Send
    assert_eq!(*r, 14);
}

fn tree(s: &Scope<'_, '_>, depth: u32, fanout: u32, count: &AtomicUsize) {
    count.fetch_add(1, Ordering::Relaxed);
    if depth > 0 {
        for _ in 0..fanout {
            s.spawn(move |s| tree(s, depth - 1, fanout, count));
        }
    }
}

#[test]
fn nested_spawns_three_deep() {
    let pool = Pool::new(2).unwrap();
    let count = AtomicUsize::new(0);
    // root + 2 + 4 + 8 nodes: depth 3 below the body.
    pool.scope(|s| s.spawn(|s| tree(s, 3, 2, &count)));
    assert_eq!(count.load(Ordering::Relaxed), 15);
}

#[test]
#[cfg_attr(miri, ignore)]
fn nested_spawns_six_deep_counted_right_after_return() {
    let pool = Pool::new(3).unwrap();
    for _ in 0..20 {
        let count = AtomicUsize::new(0);
        pool.scope(|s| s.spawn(|s| tree(s, 6, 3, &count)));
        // (3^7 - 1) / 2 nodes, all done the moment scope returns.
        assert_eq!(count.load(Ordering::Relaxed), 1093);
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn no_task_finishes_after_scope_returns() {
    let pool = Pool::new(2).unwrap();
    for round in 0..10_u64 {
        let finished: Vec<Mutex<Option<Instant>>> = (0..24).map(|_| Mutex::new(None)).collect();
        pool.scope(|s| {
            for (i, slot) in finished.iter().enumerate() {
                s.spawn(move |s| {
                    let ms = (i as u64 * 7 + round) % 5;
                    thread::sleep(Duration::from_millis(ms));
                    s.spawn(move |_| {
                        thread::sleep(Duration::from_millis(ms));
                        *slot.lock().unwrap() = Some(Instant::now());
                    });
                });
            }
        });
        let returned = Instant::now();
        for (i, slot) in finished.iter().enumerate() {
            let at = slot
                .lock()
                .unwrap()
                .unwrap_or_else(|| panic!("task {i} not finished"));
            assert!(at <= returned, "task {i} finished after scope returned");
        }
    }
}

#[derive(Debug, PartialEq)]
struct Payload(u32);

#[test]
fn task_panic_lets_others_finish_and_resumes_the_payload() {
    let pool = Pool::new(2).unwrap();
    let done = AtomicUsize::new(0);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            for i in 0..8 {
                let done = &done;
                s.spawn(move |_| {
                    if i == 3 {
                        std::panic::panic_any(Payload(3));
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                });
            }
        })
    }));
    let payload = caught.expect_err("the panic must reach the caller");
    assert_eq!(payload.downcast_ref::<Payload>(), Some(&Payload(3)));
    assert_eq!(done.load(Ordering::SeqCst), 7);
}

#[test]
#[cfg_attr(miri, ignore)]
fn slow_tasks_still_finish_when_another_panics_early() {
    let pool = Pool::new(2).unwrap();
    let done = AtomicUsize::new(0);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            s.spawn(|_| panic!("early"));
            for _ in 0..6 {
                s.spawn(|_| {
                    thread::sleep(Duration::from_millis(30));
                    done.fetch_add(1, Ordering::SeqCst);
                });
            }
        })
    }));
    assert_eq!(panic_message(&*caught.unwrap_err()), "early");
    assert_eq!(done.load(Ordering::SeqCst), 6);
}

#[test]
#[cfg_attr(miri, ignore)]
fn body_panic_is_resumed_only_after_all_tasks_finished() {
    let pool = Pool::new(2).unwrap();
    let done = AtomicUsize::new(0);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            for _ in 0..4 {
                s.spawn(|_| {
                    thread::sleep(Duration::from_millis(40));
                    done.fetch_add(1, Ordering::SeqCst);
                });
            }
            panic!("body");
        })
    }));
    assert_eq!(done.load(Ordering::SeqCst), 4);
    assert_eq!(panic_message(&*caught.unwrap_err()), "body");
}

#[test]
#[cfg_attr(miri, ignore)]
fn first_panic_wins_over_a_later_body_panic() {
    let pool = Pool::new(1).unwrap();
    let started = AtomicBool::new(false);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            s.spawn(|_| {
                started.store(true, Ordering::SeqCst);
                panic!("task first");
            });
            // The body runs on the caller: the task runs on the worker meanwhile.
            wait_until(Duration::from_secs(10), "task start", || {
                started.load(Ordering::SeqCst)
            });
            thread::sleep(Duration::from_millis(20));
            panic!("body later");
        })
    }));
    assert_eq!(panic_message(&*caught.unwrap_err()), "task first");
}

/// Two tasks that must run at the same time: needs the caller and a live worker.
fn rendezvous(pool: &Pool) {
    let arrived = AtomicUsize::new(0);
    pool.scope(|s| {
        for _ in 0..2 {
            s.spawn(|_| {
                arrived.fetch_add(1, Ordering::SeqCst);
                wait_until(Duration::from_secs(10), "a second thread", || {
                    arrived.load(Ordering::SeqCst) >= 2
                });
            });
        }
    });
}

#[test]
#[cfg_attr(miri, ignore)]
fn workers_survive_panicking_tasks() {
    let pool = Pool::new(1).unwrap();
    for _ in 0..20 {
        let r = catch_unwind(AssertUnwindSafe(|| {
            pool.scope(|s| {
                for _ in 0..10 {
                    s.spawn(|_| panic!("task"));
                }
            })
        }));
        assert!(r.is_err());
    }
    // The single worker is still alive: two tasks can run at once.
    within(Duration::from_secs(20), move || rendezvous(&pool));
}

#[test]
fn try_scope_collects_every_error_and_panic() {
    let pool = Pool::new(2).unwrap();
    let ran = AtomicUsize::new(0);
    let res = pool.try_scope(|s| {
        for i in 0..30_u32 {
            let ran = &ran;
            s.spawn(move |s| {
                ran.fetch_add(1, Ordering::SeqCst);
                if i % 10 == 0 {
                    s.spawn(move |_| Err(format!("nested {i}")));
                }
                match i % 3 {
                    0 => Err(format!("error {i}")),
                    1 if i % 7 == 1 => panic!("panic {i}"),
                    _ => Ok(()),
                }
            });
        }
        "body value"
    });
    assert_eq!(ran.load(Ordering::SeqCst), 30);
    let err = res.unwrap_err();
    let mut errors: Vec<String> = Vec::new();
    let mut panics: Vec<String> = Vec::new();
    for f in err.failures() {
        match f {
            TaskFailure::Error(e) => errors.push(e.clone()),
            TaskFailure::Panic(p) => panics.push(panic_message(&**p)),
        }
    }
    errors.sort();
    panics.sort();
    let mut want_errors: Vec<String> = (0..30)
        .filter(|i| i % 3 == 0)
        .map(|i| format!("error {i}"))
        .collect();
    want_errors.extend((0..30).step_by(10).map(|i| format!("nested {i}")));
    want_errors.sort();
    let mut want_panics: Vec<String> = (0..30)
        .filter(|i| i % 3 == 1 && i % 7 == 1)
        .map(|i| format!("panic {i}"))
        .collect();
    want_panics.sort();
    assert_eq!(errors, want_errors);
    assert_eq!(panics, want_panics);
    assert_eq!(err.len(), errors.len() + panics.len());
    assert!(err
        .to_string()
        .starts_with(&format!("{} tasks failed; first ", err.len())));
}

#[test]
fn try_scope_ok_and_body_panic() {
    let pool = Pool::new(1).unwrap();
    let ok = pool.try_scope(|s| {
        s.spawn(|_| Ok::<(), String>(()));
        11
    });
    assert_eq!(ok.unwrap(), 11);

    let done = AtomicBool::new(false);
    let err = pool
        .try_scope(|s| {
            s.spawn(|_| Err::<(), _>("task error"));
            s.spawn(|_| {
                done.store(true, Ordering::SeqCst);
                Ok(())
            });
            panic!("body panic");
        })
        .unwrap_err();
    assert!(done.load(Ordering::SeqCst));
    let failures = err.into_failures();
    assert_eq!(failures.len(), 2);
    assert!(matches!(failures[0], TaskFailure::Error("task error")));
    assert!(failures[1].is_panic(), "the body's panic comes last");
    assert_eq!(failures[1].message(), "body panic");
}

#[test]
#[cfg_attr(miri, ignore)]
fn try_scope_failures_are_in_completion_order() {
    let pool = Pool::new(2).unwrap();
    let err = pool
        .try_scope(|s| {
            s.spawn(|_| {
                thread::sleep(Duration::from_millis(150));
                Err("slow")
            });
            s.spawn(|_| Err("fast"));
        })
        .unwrap_err();
    let order: Vec<String> = err.failures().iter().map(|f| f.message()).collect();
    assert_eq!(order, ["fast", "slow"]);
}

#[test]
#[cfg_attr(miri, ignore)]
fn scopes_from_eight_threads_at_once() {
    let pool = Pool::new(2).unwrap();
    let grand_total = AtomicUsize::new(0);
    thread::scope(|t| {
        for id in 0..8_usize {
            let pool = &pool;
            let grand_total = &grand_total;
            t.spawn(move || {
                for round in 0..40_usize {
                    let count = AtomicUsize::new(0);
                    let n = 20 + (id * 7 + round) % 30;
                    pool.scope(|s| {
                        for _ in 0..n {
                            s.spawn(|s| {
                                count.fetch_add(1, Ordering::Relaxed);
                                s.spawn(|_| {
                                    count.fetch_add(1, Ordering::Relaxed);
                                });
                            });
                        }
                    });
                    assert_eq!(
                        count.load(Ordering::Relaxed),
                        2 * n,
                        "thread {id} round {round}"
                    );
                    grand_total.fetch_add(2 * n, Ordering::Relaxed);
                }
            });
        }
    });
    let want: usize = (0..8)
        .flat_map(|id| (0..40).map(move |r| 2 * (20 + (id * 7 + r) % 30)))
        .sum();
    assert_eq!(grand_total.load(Ordering::Relaxed), want);
}

#[test]
fn reentrant_scope_from_a_task() {
    let pool = Pool::new(1).unwrap();
    let count = AtomicUsize::new(0);
    pool.scope(|s| {
        s.spawn(|_| {
            pool.scope(|s2| {
                s2.spawn(|_| {
                    count.fetch_add(1, Ordering::SeqCst);
                });
            });
        });
    });
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
#[cfg_attr(miri, ignore)]
fn reentrant_scopes_three_deep_with_every_worker_busy() {
    const WORKERS: usize = 2;
    let count = within(Duration::from_secs(30), || {
        let pool = Pool::new(WORKERS).unwrap();
        let started = AtomicUsize::new(0);
        let count = AtomicUsize::new(0);
        pool.scope(|s| {
            for _ in 0..WORKERS {
                s.spawn(|_| {
                    // Hold every worker until all are inside a level-1 task.
                    started.fetch_add(1, Ordering::SeqCst);
                    wait_until(Duration::from_secs(10), "all workers busy", || {
                        started.load(Ordering::SeqCst) >= WORKERS
                    });
                    pool.scope(|s2| {
                        for _ in 0..3 {
                            s2.spawn(|_| {
                                pool.scope(|s3| {
                                    for _ in 0..3 {
                                        s3.spawn(|_| {
                                            count.fetch_add(1, Ordering::SeqCst);
                                        });
                                    }
                                });
                            });
                        }
                    });
                });
            }
            // The body runs on the caller, so the tasks above must be on the workers.
            wait_until(Duration::from_secs(10), "workers to start", || {
                started.load(Ordering::SeqCst) >= WORKERS
            });
        });
        count.into_inner()
    });
    assert_eq!(count, WORKERS * 9);
}

#[test]
#[cfg_attr(miri, ignore)]
fn caller_only_runs_its_own_scopes_tasks() {
    let pool = Pool::new(1).unwrap();
    let worker_busy = AtomicBool::new(false);
    let release_worker = AtomicBool::new(false);
    let long_queued = AtomicBool::new(false);
    let long_ran_on: Mutex<Option<thread::ThreadId>> = Mutex::new(None);
    let b_elapsed = thread::scope(|t| {
        // Scope A, on its own thread: occupy the only worker, queue a long task, and keep A's
        // caller busy in its body so the long task stays queued.
        t.spawn(|| {
            pool.scope(|s| {
                s.spawn(|_| {
                    worker_busy.store(true, Ordering::SeqCst);
                    wait_until(Duration::from_secs(20), "release", || {
                        release_worker.load(Ordering::SeqCst)
                    });
                });
                wait_until(Duration::from_secs(10), "worker busy", || {
                    worker_busy.load(Ordering::SeqCst)
                });
                s.spawn(|_| {
                    *long_ran_on.lock().unwrap() = Some(thread::current().id());
                    thread::sleep(Duration::from_millis(600));
                });
                long_queued.store(true, Ordering::SeqCst);
                wait_until(Duration::from_secs(20), "release", || {
                    release_worker.load(Ordering::SeqCst)
                });
            });
        });
        wait_until(Duration::from_secs(10), "long task queued", || {
            long_queued.load(Ordering::SeqCst)
        });
        // Scope B, from this thread: its own tasks are quick; it must not take A's long task.
        let start = Instant::now();
        let me = thread::current().id();
        pool.scope(|s| {
            for _ in 0..4 {
                s.spawn(|_| thread::sleep(Duration::from_millis(5)));
            }
        });
        let elapsed = start.elapsed();
        assert_ne!(
            *long_ran_on.lock().unwrap(),
            Some(me),
            "B's caller ran A's task"
        );
        release_worker.store(true, Ordering::SeqCst);
        elapsed
    });
    assert!(
        b_elapsed < Duration::from_millis(400),
        "scope B took {b_elapsed:?}: it waited on scope A's long task"
    );
    assert!(long_ran_on.lock().unwrap().is_some());
}

#[test]
#[cfg_attr(miri, ignore)]
fn many_small_scopes_in_a_row() {
    let pool = Pool::new(2).unwrap();
    for i in 0..3_000_usize {
        let count = AtomicUsize::new(0);
        pool.scope(|s| {
            for _ in 0..i % 5 {
                s.spawn(|_| {
                    count.fetch_add(1, Ordering::Relaxed);
                });
            }
        });
        assert_eq!(count.load(Ordering::Relaxed), i % 5);
    }
}

#[test]
fn clones_share_workers_and_builder_validates() {
    let pool = Pool::builder()
        .workers(2)
        .thread_name("lp-test")
        .build()
        .unwrap();
    let clone = pool.clone();
    assert_eq!(pool, clone);
    assert_eq!(clone.workers(), 2);
    assert_ne!(pool, Pool::new(1).unwrap());
    assert!(matches!(Pool::new(0), Err(PoolError::ZeroWorkers)));
    assert!(matches!(
        Pool::builder().thread_name("a\0b").workers(1).build(),
        Err(PoolError::InvalidThreadName)
    ));
    drop(pool);
    // The clone still works after the original is dropped.
    let n = AtomicUsize::new(0);
    clone.scope(|s| {
        s.spawn(|_| {
            n.fetch_add(1, Ordering::SeqCst);
        })
    });
    assert_eq!(n.into_inner(), 1);
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Pool>();
}

#[test]
fn workers_for_follows_the_lambda_cpu_share() {
    // Outside Lambda: the usable CPUs, at least one.
    assert_eq!(workers_for(4, None), 4);
    assert_eq!(workers_for(0, None), 1);
    // One vCPU per 1,769 MB, rounded up, 1..=6, and never more than the CPUs.
    assert_eq!(workers_for(2, Some(128)), 1);
    assert_eq!(workers_for(2, Some(1_769)), 1);
    assert_eq!(workers_for(2, Some(1_770)), 2);
    assert_eq!(workers_for(2, Some(10_240)), 2);
    assert_eq!(workers_for(8, Some(3_539)), 3);
    assert_eq!(workers_for(8, Some(5_307)), 3);
    assert_eq!(workers_for(8, Some(5_308)), 4);
    assert_eq!(workers_for(16, Some(10_240)), 6);
    assert_eq!(workers_for(16, Some(u64::MAX)), 6);
    assert_eq!(workers_for(4, Some(0)), 1);
    assert_eq!(Pool::workers_for(3, Some(1)), 1);
    let default = Pool::default_workers();
    assert!(default >= 1);
    assert!(default <= thread::available_parallelism().map_or(1, |n| n.get()));
}

#[test]
fn panic_message_renders_payloads() {
    let p = catch_unwind(|| panic!("static str")).unwrap_err();
    assert_eq!(panic_message(&*p), "static str");
    let p = catch_unwind(|| panic!("formatted {}", 1)).unwrap_err();
    assert_eq!(panic_message(&*p), "formatted 1");
    let p = catch_unwind(|| std::panic::panic_any(17_i32)).unwrap_err();
    assert_eq!(panic_message(&*p), "non-string panic payload");
    assert_eq!(panic_message(&p), "non-string panic payload");
}
