//! The core's thread pool, plus what the binding needs on top of it: `broadcast` (runners on
//! the pool, the caller being one of them) and `OwnedScope`, a scope that outlives a Rust call
//! frame (for Python's `with pool.scope() as s:`).
//!
//! `OwnedScope` is a stand-in until the core has one (`Pool::owned_scope`): its tasks run in a
//! borrowed `Pool::scope` held open by a host thread, which the scope starts on its first spawn.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

pub use lanepool::pool::Pool;

/// Runs `f(i)` for `i` in `0..runners` on the pool, `f(0)` on the calling thread, and returns
/// when every one returned.
pub fn broadcast<F: Fn(usize) + Sync>(pool: &Pool, runners: usize, f: F) {
    match runners {
        0 => {}
        1 => f(0),
        _ => pool.scope(|s| {
            let f = &f;
            for i in 1..runners {
                s.spawn(move |_| f(i));
            }
            f(0);
        }),
    }
}

type Job = Box<dyn FnOnce() + Send + 'static>;

thread_local! {
    /// How many counted tasks (scope tasks, batch handlers, map calls) this thread is inside.
    static IN_TASK: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Runs `f` as a counted task: a scope waited on inside it may run its tasks on this thread
/// without taking a slot (this thread already has one).
pub fn as_task<R>(f: impl FnOnce() -> R) -> R {
    struct Exit;
    impl Drop for Exit {
        fn drop(&mut self) {
            IN_TASK.with(|n| n.set(n.get() - 1));
        }
    }
    IN_TASK.with(|n| n.set(n.get() + 1));
    let _exit = Exit;
    f()
}

fn in_task() -> bool {
    IN_TASK.with(|n| n.get() > 0)
}

/// Starts pump tasks for owned scopes: one host thread per pool (per process) holds a
/// `Pool::scope` open for as long as the pool lives and spawns the pumps into it.
pub struct Dispatcher {
    pool: Pool,
    shared: Arc<DispatchShared>,
}

#[derive(Default)]
struct DispatchState {
    requests: VecDeque<Arc<Inner>>,
    /// The process whose host thread is running (none yet, or a forked child: start one).
    host_pid: Option<u32>,
    closing: bool,
}

#[derive(Default)]
struct DispatchShared {
    state: Mutex<DispatchState>,
    changed: Condvar,
}

impl Dispatcher {
    pub fn new(pool: Pool) -> Self {
        Dispatcher {
            pool,
            shared: Arc::default(),
        }
    }

    fn request(&self, scope: Arc<Inner>) {
        let mut st = self.shared.state.lock();
        st.requests.push_back(scope);
        let pid = std::process::id();
        if st.host_pid != Some(pid) {
            st.host_pid = Some(pid);
            let (pool, shared) = (self.pool.clone(), self.shared.clone());
            let started = std::thread::Builder::new()
                .name("lanepool-scopes".into())
                .spawn(move || host(&pool, &shared));
            if started.is_err() {
                // No thread: the scopes' waiters run every task themselves.
                st.host_pid = None;
                for scope in st.requests.drain(..) {
                    scope.state.lock().takers -= 1;
                    scope.changed.notify_all();
                }
            }
        }
        self.shared.changed.notify_one();
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.shared.state.lock().closing = true;
        self.shared.changed.notify_all();
    }
}

fn host(pool: &Pool, shared: &DispatchShared) {
    pool.scope(|s| loop {
        let requests: Vec<Arc<Inner>> = {
            let mut st = shared.state.lock();
            while st.requests.is_empty() && !st.closing {
                shared.changed.wait(&mut st);
            }
            if st.requests.is_empty() {
                return;
            }
            st.requests.drain(..).collect()
        };
        for scope in requests {
            s.spawn(move |_| pump(&scope));
        }
    });
}

#[derive(Default)]
struct State {
    /// Tasks spawned and not finished (nested ones included).
    pending: usize,
    /// Tasks not started yet.
    queue: VecDeque<Job>,
    /// Threads taking tasks from `queue`: pumps (running or requested) and the waiter.
    takers: usize,
}

struct Inner {
    dispatcher: Arc<Dispatcher>,
    workers: usize,
    state: Mutex<State>,
    /// Signals waiters: a task finished.
    changed: Condvar,
}

/// A scope not tied to a Rust call frame: `spawn` from anywhere (tasks too), `wait` once.
///
/// Tasks wait in the scope's own queue, from which up to `workers` takers run them: "pump"
/// tasks on the pool's threads, and the thread in `wait` (so a scope waited on inside a pool
/// task, with every worker busy, still completes).
#[derive(Clone)]
pub struct OwnedScope {
    inner: Arc<Inner>,
}

/// Decrements `pending` when a task ends, even by a panic.
struct Finished(Arc<Inner>);

impl Drop for Finished {
    fn drop(&mut self) {
        let mut st = self.0.state.lock();
        st.pending -= 1;
        if st.pending == 0 {
            self.0.changed.notify_all();
        }
    }
}

impl OwnedScope {
    pub fn new(dispatcher: &Arc<Dispatcher>) -> Self {
        OwnedScope {
            inner: Arc::new(Inner {
                workers: dispatcher.pool.workers(),
                dispatcher: dispatcher.clone(),
                state: Mutex::new(State::default()),
                changed: Condvar::new(),
            }),
        }
    }

    /// Starts `f` on the pool.
    pub fn spawn(&self, f: impl FnOnce(&OwnedScope) + Send + 'static) {
        let me = self.clone();
        let job: Job = Box::new(move || {
            let _finished = Finished(me.inner.clone());
            f(&me);
        });
        let more = {
            let mut st = self.inner.state.lock();
            st.pending += 1;
            st.queue.push_back(job);
            let more = st.takers < self.inner.workers.min(st.queue.len());
            if more {
                st.takers += 1;
            }
            more
        };
        if more {
            self.inner.dispatcher.request(self.inner.clone());
        }
    }

    /// Waits until every task spawned (nested ones too) finished, running queued ones itself:
    /// always when called inside a counted task (its thread already counts within `workers`),
    /// else while fewer than `workers` threads take tasks.
    pub fn wait(&self) {
        let inner = &self.inner;
        let mut st = inner.state.lock();
        loop {
            if st.pending == 0 {
                return;
            }
            if !st.queue.is_empty() && (in_task() || st.takers < inner.workers) {
                st.takers += 1;
                drop(st);
                take_tasks(inner);
                st = inner.state.lock();
            } else {
                inner.changed.wait(&mut st);
            }
        }
    }
}

/// A pump: runs queued tasks until the queue is empty.
fn pump(inner: &Inner) {
    take_tasks(inner);
    inner.changed.notify_all();
}

/// Runs queued tasks until the queue is empty, then gives up its taker slot.
fn take_tasks(inner: &Inner) {
    loop {
        let job = {
            let mut st = inner.state.lock();
            match st.queue.pop_front() {
                Some(job) => job,
                None => {
                    st.takers -= 1;
                    return;
                }
            }
        };
        as_task(job);
    }
}
