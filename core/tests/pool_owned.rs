//! `Pool::owned_scope`: 'static tasks that start at once, nested spawns, helping waits, panics,
//! many threads, re-entrancy with every worker busy, drop waits, and a forked child.

mod common;

use common::within;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use lanepool::pool::{panic_message, OwnedScope, Pool};

/// How long a test may take before it counts as hung (Miri runs far slower).
const LIMIT: Duration = Duration::from_secs(if cfg!(miri) { 900 } else { 20 });
/// How soon a spawned task must have run without a wait (Miri runs some 1,000 times slower).
const PROMPTLY: Duration = Duration::from_secs(if cfg!(miri) { 120 } else { 5 });

#[test]
fn static_tasks_borrow_nothing_and_start_at_once() {
    within(LIMIT, || {
        let pool = Pool::new(2).unwrap();
        let scope = pool.owned_scope();
        let data: Box<[i32]> = Box::new([1, 2, 3]);
        let (tx, rx) = mpsc::channel();
        // Owns its data: no borrow of the caller's stack.
        scope.spawn(move |_| tx.send(data.iter().sum::<i32>()).unwrap());
        // Nobody waits yet: a worker runs it anyway.
        assert_eq!(rx.recv_timeout(PROMPTLY).unwrap(), 6);
        scope.wait();
        assert_eq!(scope.pending(), 0);
    });
}

#[test]
fn nested_spawns_are_waited_for() {
    within(LIMIT, || {
        let pool = Pool::new(3).unwrap();
        let scope = pool.owned_scope();
        let count = Arc::new(AtomicUsize::new(0));
        for _ in 0..10 {
            let count = Arc::clone(&count);
            scope.spawn(move |s| {
                for _ in 0..10 {
                    let count = Arc::clone(&count);
                    s.spawn(move |s| {
                        thread::sleep(Duration::from_micros(200));
                        let count = Arc::clone(&count);
                        s.spawn(move |_| {
                            count.fetch_add(1, Ordering::SeqCst);
                        });
                    });
                }
            });
        }
        scope.wait();
        assert_eq!(count.load(Ordering::SeqCst), 100);
    });
}

#[test]
fn wait_helps_with_its_own_tasks_and_returns_only_after_all() {
    within(LIMIT, || {
        let pool = Pool::new(1).unwrap();
        // Keep the only worker busy in an unrelated scope.
        let blocker = pool.owned_scope();
        let release = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicBool::new(false));
        {
            let (release, started) = (Arc::clone(&release), Arc::clone(&started));
            blocker.spawn(move |_| {
                started.store(true, Ordering::SeqCst);
                while !release.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(1));
                }
            });
        }
        while !started.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        let scope = pool.owned_scope();
        let ran_on = Arc::new(Mutex::new(Vec::new()));
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..20 {
            let (ran_on, done) = (Arc::clone(&ran_on), Arc::clone(&done));
            scope.spawn(move |_| {
                ran_on.lock().unwrap().push(thread::current().id());
                thread::sleep(Duration::from_millis(1));
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        scope.wait();
        // Returned only after all, and all ran on the waiting thread (the worker is busy with
        // another scope, which the waiter never helps).
        assert_eq!(done.load(Ordering::SeqCst), 20);
        let me = thread::current().id();
        assert!(ran_on.lock().unwrap().iter().all(|t| *t == me));
        assert!(!release.load(Ordering::SeqCst));
        release.store(true, Ordering::SeqCst);
        blocker.wait();
    });
}

#[test]
fn a_panic_is_resumed_after_every_task_finished() {
    within(LIMIT, || {
        let pool = Pool::new(2).unwrap();
        let scope = pool.owned_scope();
        let finished = Arc::new(AtomicUsize::new(0));
        for i in 0..8 {
            let finished = Arc::clone(&finished);
            scope.spawn(move |_| {
                if i == 3 {
                    panic!("task {i} failed");
                }
                thread::sleep(Duration::from_millis(20));
                finished.fetch_add(1, Ordering::SeqCst);
            });
        }
        let caught = catch_unwind(AssertUnwindSafe(|| scope.wait())).unwrap_err();
        assert_eq!(panic_message(&*caught), "task 3 failed");
        assert_eq!(finished.load(Ordering::SeqCst), 7);
        // Resumed once; the scope is usable again.
        scope.spawn(|_| {});
        scope.wait();
        scope.spawn(|_| panic!("again"));
        assert_eq!(panic_message(&*scope.try_wait().unwrap_err()), "again");
    });
}

#[test]
fn many_threads_spawn_and_wait_at_once() {
    within(LIMIT, || {
        let pool = Pool::new(4).unwrap();
        let scope = pool.owned_scope();
        let count = Arc::new(AtomicUsize::new(0));
        let threads = 8;
        let rounds = if cfg!(miri) { 5 } else { 50 };
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (scope, count, barrier) =
                    (scope.clone(), Arc::clone(&count), Arc::clone(&barrier));
                thread::spawn(move || {
                    barrier.wait();
                    for round in 0..rounds {
                        for _ in 0..20 {
                            let count = Arc::clone(&count);
                            scope.spawn(move |s| {
                                let count = Arc::clone(&count);
                                s.spawn(move |_| {
                                    count.fetch_add(1, Ordering::Relaxed);
                                });
                            });
                        }
                        if round % 10 == 0 {
                            scope.wait();
                        }
                    }
                    scope.wait();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        scope.wait();
        assert_eq!(count.load(Ordering::Relaxed), threads * rounds * 20);
    });
}

#[test]
fn many_scopes_from_many_threads() {
    within(LIMIT, || {
        let pool = Pool::new(2).unwrap();
        let scopes = if cfg!(miri) { 20 } else { 200 };
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let pool = pool.clone();
                thread::spawn(move || {
                    let mut total = 0;
                    for _ in 0..scopes {
                        let scope = pool.owned_scope();
                        let count = Arc::new(AtomicUsize::new(0));
                        for _ in 0..5 {
                            let count = Arc::clone(&count);
                            scope.spawn(move |_| {
                                count.fetch_add(1, Ordering::SeqCst);
                            });
                        }
                        scope.wait();
                        total += count.load(Ordering::SeqCst);
                    }
                    total
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), scopes * 5);
        }
    });
}

#[test]
fn reentrant_from_pool_tasks_with_every_worker_busy() {
    within(LIMIT, || {
        let pool = Pool::new(2).unwrap();
        let outer = pool.owned_scope();
        let total = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(Barrier::new(2));
        for _ in 0..2 {
            let (pool, total, barrier) = (pool.clone(), Arc::clone(&total), Arc::clone(&barrier));
            outer.spawn(move |_| {
                // Both workers are here: nobody else can run the inner tasks.
                barrier.wait();
                let inner = pool.owned_scope();
                for _ in 0..10 {
                    let total = Arc::clone(&total);
                    inner.spawn(move |_| {
                        total.fetch_add(1, Ordering::SeqCst);
                    });
                }
                inner.wait();
                // The wait that does not help outside the pool helps inside it.
                for _ in 0..10 {
                    let total = Arc::clone(&total);
                    inner.spawn(move |_| {
                        total.fetch_add(1, Ordering::SeqCst);
                    });
                }
                inner.try_wait_on_workers().unwrap();
                // And a borrowed scope inside it.
                pool.scope(|s| {
                    for _ in 0..10 {
                        s.spawn(|_| {
                            total.fetch_add(1, Ordering::SeqCst);
                        });
                    }
                });
            });
        }
        outer.wait();
        assert_eq!(total.load(Ordering::SeqCst), 60);
    });
}

#[test]
fn wait_on_workers_from_outside_keeps_to_the_worker_count() {
    within(LIMIT, || {
        let pool = Pool::new(3).unwrap();
        for _ in 0..20 {
            let scope = pool.owned_scope();
            let now = Arc::new(AtomicUsize::new(0));
            let peak = Arc::new(AtomicUsize::new(0));
            for _ in 0..12 {
                let (now, peak) = (Arc::clone(&now), Arc::clone(&peak));
                scope.spawn(move |_| {
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(1));
                    now.fetch_sub(1, Ordering::SeqCst);
                });
            }
            scope.try_wait_on_workers().unwrap();
            assert!(peak.load(Ordering::SeqCst) <= 3);
            // (Under Miri one thread may well run all twelve before another wakes.)
            assert!(cfg!(miri) || peak.load(Ordering::SeqCst) >= 2);
        }
        // With the only worker busy elsewhere, the waiter runs the tasks itself.
        let pool = Pool::new(1).unwrap();
        let blocker = pool.owned_scope();
        let (tx, rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel();
        blocker.spawn(move |_| {
            started_tx.send(()).unwrap();
            let _ = rx.recv();
        });
        started_rx.recv().unwrap();
        let scope = pool.owned_scope();
        let main = thread::current().id();
        let on_main = Arc::new(AtomicUsize::new(0));
        for _ in 0..5 {
            let on_main = Arc::clone(&on_main);
            scope.spawn(move |_| {
                if thread::current().id() == main {
                    on_main.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        scope.try_wait_on_workers().unwrap();
        assert_eq!(on_main.load(Ordering::SeqCst), 5);
        drop(tx);
        blocker.wait();
    });
}

#[test]
fn dropping_the_last_handle_waits() {
    within(LIMIT, || {
        let pool = Pool::new(2).unwrap();
        let done = Arc::new(AtomicUsize::new(0));
        {
            let scope = pool.owned_scope();
            let other = scope.clone();
            for _ in 0..4 {
                let done = Arc::clone(&done);
                other.spawn(move |_| {
                    thread::sleep(Duration::from_millis(20));
                    done.fetch_add(1, Ordering::SeqCst);
                });
            }
            drop(other); // not the last: returns at once
        }
        assert_eq!(done.load(Ordering::SeqCst), 4);

        // A panic not yet resumed is resumed by the drop.
        let caught = catch_unwind(AssertUnwindSafe(|| {
            let scope = pool.owned_scope();
            scope.spawn(|_| panic!("lost?"));
        }))
        .unwrap_err();
        assert_eq!(panic_message(&*caught), "lost?");
    });
}

#[test]
fn a_task_may_drop_the_last_handle_without_waiting_for_itself() {
    within(LIMIT, || {
        let pool = Pool::new(2).unwrap();
        let scope = pool.owned_scope();
        let (tx, rx) = mpsc::channel();
        let handle: Arc<Mutex<Option<OwnedScope>>> = Arc::new(Mutex::new(None));
        {
            let handle = Arc::clone(&handle);
            scope.spawn(move |s| {
                thread::sleep(Duration::from_millis(10));
                let last = handle.lock().unwrap().take();
                drop(last); // the last waiting handle, dropped inside its own task
                let tx2 = tx.clone();
                s.spawn(move |_| tx2.send(2).unwrap());
                tx.send(1).unwrap();
            });
        }
        *handle.lock().unwrap() = Some(scope);
        let mut got = vec![
            rx.recv_timeout(PROMPTLY).unwrap(),
            rx.recv_timeout(PROMPTLY).unwrap(),
        ];
        got.sort();
        assert_eq!(got, [1, 2]);
    });
}

#[test]
fn wait_inside_its_own_task_panics_instead_of_hanging() {
    within(LIMIT, || {
        let pool = Pool::new(1).unwrap();
        let scope = pool.owned_scope();
        let (tx, rx) = mpsc::channel();
        scope.spawn(move |s| {
            let r = catch_unwind(AssertUnwindSafe(|| s.wait()));
            tx.send(r.is_err()).unwrap();
        });
        scope.wait();
        assert!(rx.recv().unwrap());
    });
}

#[test]
fn spawn_after_wait_restarts_work_promptly() {
    within(LIMIT, || {
        let pool = Pool::new(2).unwrap();
        let scope = pool.owned_scope();
        for round in 0..200 {
            let (tx, rx) = mpsc::channel();
            scope.spawn(move |_| tx.send(round).unwrap());
            // Runs on a worker without a wait, every round (the scope re-registers).
            assert_eq!(rx.recv_timeout(PROMPTLY).unwrap(), round);
            scope.wait();
        }
    });
}

#[test]
fn an_owned_scope_keeps_working_after_pool_handles_are_dropped() {
    within(LIMIT, || {
        let pool = Pool::new(2).unwrap();
        let scope = pool.owned_scope();
        drop(pool);
        let count = Arc::new(AtomicUsize::new(0));
        for _ in 0..10 {
            let count = Arc::clone(&count);
            scope.spawn(move |_| {
                count.fetch_add(1, Ordering::SeqCst);
            });
        }
        scope.wait();
        assert_eq!(count.load(Ordering::SeqCst), 10);
    });
}

fn owned_sum(pool: &Pool) -> usize {
    let scope = pool.owned_scope();
    let total = Arc::new(AtomicUsize::new(0));
    for i in 0..100 {
        let total = Arc::clone(&total);
        scope.spawn(move |s| {
            let total = Arc::clone(&total);
            s.spawn(move |_| {
                total.fetch_add(i, Ordering::SeqCst);
            });
        });
    }
    scope.wait();
    total.load(Ordering::SeqCst)
}

#[test]
#[cfg_attr(miri, ignore)] // Miri cannot fork
fn a_forked_child_runs_owned_scopes_on_fresh_workers() {
    let pool = Pool::new(2).unwrap();
    assert_eq!(owned_sum(&pool), 4950);
    let code = common::in_forked_child(Duration::from_secs(30), || {
        if owned_sum(&pool) != 4950 {
            return 11;
        }
        // A task runs without a wait: there are live workers in the child.
        let scope = pool.owned_scope();
        let (tx, rx) = mpsc::channel();
        scope.spawn(move |_| tx.send(()).unwrap());
        if rx.recv_timeout(Duration::from_secs(10)).is_err() {
            return 12;
        }
        scope.wait();
        0
    });
    assert_eq!(code, 0, "child check failed");
    assert_eq!(owned_sum(&pool), 4950);
}
