//! Model check of the pool's synchronisation protocol under loom (`scripts/loom`, which builds
//! with `--cfg loom` and bounds preemptions with `LOOM_MAX_PREEMPTIONS`).
//!
//! loom runs each model below under every interleaving (and every value a load may read under
//! the memory model) up to the preemption bound, and fails the test on a panic (an assertion
//! below), on a deadlock (every thread blocked: a lost wake-up), or on a thread left running
//! at the end. What runs is the pool's own code: the scope's `CountLatch` (counting latch and
//! sleepers, `pool/latch.rs`) and the workers' `IdleWorkers` (idle list, `notify_one`, the
//! worker loop and its sleep, shutdown, `pool/idle.rs`), built against loom's atomics, mutex
//! and parker (`crate::sync`).
//!
//! The task queues (`crossbeam-deque`) are not loom-aware, so they are not in the model: a
//! [`Queue`] stands for them, a count of queued tasks that the protocol's closures read (the
//! scope's `queued()`/`has_work()`, the registry's `any_work()`) and that takers decrement.
//! It uses `Relaxed` only, the weakest ordering, so the protocol is checked not to lean on the
//! queues' own orderings for its wake-ups. A task's effects are an increment of
//! [`Model::effects`], also `Relaxed`: a waiter that returns must see every task's, which only
//! the latch's `AcqRel`/`Acquire` pairing gives it.
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
use std::time::Instant;

use lanepool::loom_model::{CountLatch, IdleWorkers, Parker};
use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use loom::sync::Arc;
use loom::thread;

/// The stand-in for a scope's queues: how many tasks are queued (see the module docs).
struct Queue {
    queued: AtomicUsize,
}

impl Queue {
    fn push(&self) {
        self.queued.fetch_add(1, Relaxed);
    }

    /// Takes one queued task, if any.
    fn take(&self) -> bool {
        self.queued
            .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    fn any(&self) -> bool {
        self.queued.load(Relaxed) != 0
    }
}

/// One scope: its latch, its queue, and what its tasks did.
struct Model {
    latch: CountLatch,
    queue: Queue,
    /// Each task adds 1 when it runs (`Relaxed`).
    effects: AtomicUsize,
}

impl Model {
    fn new() -> Model {
        Model {
            latch: CountLatch::new(),
            queue: Queue {
                queued: AtomicUsize::new(0),
            },
            effects: AtomicUsize::new(0),
        }
    }

    /// A spawn, as `ScopeState::push` does it: counted, queued, announced.
    fn spawn(&self) {
        self.latch.increment();
        self.queue.push();
        self.latch.announce();
    }

    /// A spawn that also wakes an idle worker, as `ScopeState::push` does with a pool.
    fn spawn_and_notify(&self, idle: &IdleWorkers) {
        self.spawn();
        idle.notify_one();
    }

    /// A task's body and completion, as `ScopeState::run` does it.
    fn complete(&self) {
        self.effects.fetch_add(1, Relaxed);
        self.latch.decrement_and_wake();
    }

    /// Takes one queued task and runs it, if one is queued.
    fn run_one(&self) -> bool {
        let took = self.queue.take();
        if took {
            self.complete();
        }
        took
    }

    /// The owner's helping wait, as `ScopeState::wait` with `force` (a `Pool::scope`): runs
    /// queued tasks, sleeps until nothing is pending or a task is queued. Then checks that
    /// it returned only at zero with the effects of all `tasks` tasks visible.
    fn wait_helping(&self, tasks: usize) {
        let parker = Parker::new();
        self.latch
            .wait(&parker, || self.run_one(), || self.queue.any());
        self.check_done(tasks);
    }

    /// A wait that never takes a task (an owned scope's waiter outside the pool while every
    /// place is taken: `has_work()` is false), so the tasks must finish elsewhere.
    fn wait_only(&self, tasks: usize) {
        let parker = Parker::new();
        self.latch.wait(&parker, || false, || false);
        self.check_done(tasks);
    }

    fn check_done(&self, tasks: usize) {
        assert_eq!(
            self.latch.load(Relaxed),
            0,
            "wait returned with tasks pending"
        );
        assert_eq!(
            self.effects.load(Relaxed),
            tasks,
            "wait returned before seeing every task's effects"
        );
    }
}

/// Runs `f` under `loom::model` and prints how many executions it explored, and how long it took.
fn model(name: &str, f: impl Fn() + Sync + Send + 'static) {
    let iterations = std::sync::Arc::new(StdAtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&iterations);
    let start = Instant::now();
    loom::model(move || {
        counted.fetch_add(1, StdOrdering::Relaxed);
        f();
    });
    println!(
        "loom: {name}: {} iterations in {:.1} s",
        iterations.load(StdOrdering::Relaxed),
        start.elapsed().as_secs_f64()
    );
}

/// The owner waits (helping) while a worker may take and run the one task: it returns only
/// after the task's decrement, sees its effect, and is woken if it parked.
#[test]
fn waiter_vs_completer() {
    model("waiter_vs_completer", || {
        let m = Arc::new(Model::new());
        m.spawn();
        let worker = {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                m.run_one();
            })
        };
        m.wait_helping(1);
        worker.join().unwrap();
    });
}

/// Two tasks finish concurrently on two threads while the owner waits without helping: the
/// two decrements race with the waiter's sleep; only the last wakes it, and it sees both
/// tasks' effects.
#[test]
fn two_completers_one_waiter() {
    model("two_completers_one_waiter", || {
        let m = Arc::new(Model::new());
        m.spawn();
        m.spawn();
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let m = Arc::clone(&m);
                thread::spawn(move || assert!(m.run_one(), "each worker takes one task"))
            })
            .collect();
        m.wait_only(2);
        for w in workers {
            w.join().unwrap();
        }
    });
}

/// A running task spawns a child while the owner waits, then finishes: the owner, perhaps
/// parked with a count of 1 and nothing queued, must be woken by the spawn (or see the child
/// queued) and run it, unless the other worker takes it; it returns after both.
#[test]
fn spawn_while_waiting() {
    model("spawn_while_waiting", || {
        let m = Arc::new(Model::new());
        // The parent task: counted, and already taken by `parent` (so never queued).
        m.latch.increment();
        let parent = {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                m.spawn();
                m.complete();
            })
        };
        let helper = {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                m.run_one();
            })
        };
        m.wait_helping(2);
        parent.join().unwrap();
        helper.join().unwrap();
    });
}

/// An idle worker (the pool's worker loop and sleep) against a spawn with `notify_one`: the
/// worker sees the task before it parks or is unparked, and runs it; the owner, not helping,
/// can only return once it did. Then shutdown stops the worker.
#[test]
fn idle_worker_vs_push() {
    model("idle_worker_vs_push", || {
        let parker = Parker::new();
        let idle = Arc::new(IdleWorkers::new(vec![parker.unparker().clone()]));
        let m = Arc::new(Model::new());
        let worker = {
            let (m, idle) = (Arc::clone(&m), Arc::clone(&idle));
            thread::spawn(move || {
                idle.run_worker(0, &parker, || m.run_one(), || m.queue.any());
            })
        };
        m.spawn_and_notify(&idle);
        m.wait_only(1);
        idle.terminate();
        worker.join().unwrap();
    });
}

/// Shutdown against a worker going to sleep with no work: the worker sees `terminate` or is
/// unparked, and its loop returns (loom fails a model whose thread never ends).
#[test]
fn shutdown_vs_sleep() {
    model("shutdown_vs_sleep", || {
        let parker = Parker::new();
        let idle = Arc::new(IdleWorkers::new(vec![parker.unparker().clone()]));
        let worker = {
            let idle = Arc::clone(&idle);
            thread::spawn(move || idle.run_worker(0, &parker, || false, || false))
        };
        idle.terminate();
        worker.join().unwrap();
    });
}

/// Two idle workers, one spawn: `notify_one` wakes one of them (or one sees the task), the
/// task runs, the owner returns, and shutdown stops both, whichever is still parked.
#[test]
fn two_idle_workers_one_push() {
    model("two_idle_workers_one_push", || {
        let parkers = [Parker::new(), Parker::new()];
        let idle = Arc::new(IdleWorkers::new(
            parkers.iter().map(|p| p.unparker().clone()).collect(),
        ));
        let m = Arc::new(Model::new());
        let workers: Vec<_> = parkers
            .into_iter()
            .enumerate()
            .map(|(index, parker)| {
                let (m, idle) = (Arc::clone(&m), Arc::clone(&idle));
                thread::spawn(move || {
                    idle.run_worker(index, &parker, || m.run_one(), || m.queue.any());
                })
            })
            .collect();
        m.spawn_and_notify(&idle);
        m.wait_only(1);
        idle.terminate();
        for w in workers {
            w.join().unwrap();
        }
    });
}
