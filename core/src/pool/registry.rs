//! Worker threads and the registry of scopes with queued work (idle parking: `idle`).

use std::ptr;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crossbeam_utils::Backoff;
use parking_lot::{Mutex, RwLock};

use super::abort::AbortIfPanic;
use super::idle::IdleWorkers;
use super::scope::{Enter, ScopeState};
use super::PoolError;
use crate::sync::Parker;

/// What a pool was built with; kept to restart workers after a fork.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) thread_name: String,
    pub(crate) stack_size: Option<usize>,
}

/// The workers of one pool in one process.
pub(crate) struct Inner {
    /// The process the worker threads were started in.
    pid: u32,
    /// Scopes that have spawned at least one task and not yet returned.
    scopes: RwLock<Vec<Arc<ScopeState>>>,
    /// The idle list, the workers' unparkers and the flag that stops them.
    idle: IdleWorkers,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl Inner {
    fn empty(workers: usize) -> (Inner, Vec<Parker>) {
        let parkers: Vec<Parker> = (0..workers).map(|_| Parker::new()).collect();
        let inner = Inner {
            pid: std::process::id(),
            scopes: RwLock::new(Vec::new()),
            idle: IdleWorkers::new(parkers.iter().map(|p| p.unparker().clone()).collect()),
            handles: Mutex::new(Vec::with_capacity(workers)),
        };
        (inner, parkers)
    }

    /// State with no worker threads: scope callers run all their tasks themselves.
    pub(crate) fn without_workers() -> Arc<Inner> {
        Arc::new(Inner::empty(0).0)
    }

    /// Starts `config.workers` threads. On failure, stops and joins those already started.
    pub(crate) fn start(config: &Config) -> Result<Arc<Inner>, PoolError> {
        let (inner, parkers) = Inner::empty(config.workers);
        let inner = Arc::new(inner);
        for (index, parker) in parkers.into_iter().enumerate() {
            let mut builder =
                thread::Builder::new().name(format!("{}-{index}", config.thread_name));
            if let Some(size) = config.stack_size {
                builder = builder.stack_size(size);
            }
            let worker = Arc::clone(&inner);
            match builder.spawn(move || worker.main_loop(index, parker)) {
                Ok(handle) => inner.handles.lock().push(handle),
                Err(e) => {
                    inner.shutdown();
                    return Err(PoolError::Spawn(e));
                }
            }
        }
        Ok(inner)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Stops the workers and joins them (except the calling thread, should it be one).
    pub(crate) fn shutdown(&self) {
        self.idle.terminate();
        let handles = std::mem::take(&mut *self.handles.lock());
        let me = thread::current().id();
        for h in handles {
            if h.thread().id() != me {
                // Workers catch task panics, so a join error cannot carry anything useful.
                let _ = h.join();
            }
        }
    }

    /// Makes `scope`'s queue visible to the workers.
    pub(crate) fn register(&self, scope: Arc<ScopeState>) {
        self.scopes.write().push(scope);
    }

    pub(crate) fn deregister(&self, scope: &ScopeState) {
        let mut scopes = self.scopes.write();
        if let Some(i) = scopes.iter().position(|s| ptr::eq(&**s, scope)) {
            scopes.swap_remove(i);
        }
    }

    /// Wakes one parked worker, if any. Call after pushing a task.
    ///
    /// The caller must have issued `fence(SeqCst)` after pushing: it pairs with the fence in
    /// the worker's sleep, so either we see the worker on the idle list, or it sees the task
    /// before it parks (see `IdleWorkers`).
    #[inline]
    pub(crate) fn notify_one(&self) {
        self.idle.notify_one();
    }

    /// A registered scope with queued tasks, scanning from `*start` round-robin.
    fn find_work(&self, start: &mut usize) -> Option<Arc<ScopeState>> {
        let scopes = self.scopes.read();
        let n = scopes.len();
        for k in 0..n {
            let i = (*start + k) % n;
            if scopes[i].has_work() {
                *start = i + 1;
                return Some(Arc::clone(&scopes[i]));
            }
        }
        None
    }

    fn any_work(&self) -> bool {
        self.scopes.read().iter().any(|s| s.has_work())
    }

    /// A worker's life. Task panics are caught inside `ScopeState::run`; anything else that
    /// panicked here would kill the worker with a task perhaps counted in a scope's `pending`
    /// (and leave the pool a worker short), so it aborts instead.
    fn main_loop(&self, index: usize, parker: Parker) {
        let guard = AbortIfPanic {
            section: "a worker's loop",
        };
        self.find_and_run(index, &parker);
        guard.disarm();
    }

    fn find_and_run(&self, index: usize, parker: &Parker) {
        let mut start = index;
        self.idle.run_worker(
            index,
            parker,
            || match self.find_work(&mut start) {
                Some(scope) => {
                    work_on(self, &scope);
                    true
                }
                None => false,
            },
            || self.any_work(),
        );
    }
}

/// Runs tasks of `scope` until it has none queued for a little while.
fn work_on(pool: &Inner, scope: &ScopeState) {
    let enter = Enter::new(scope);
    let backoff = Backoff::new();
    loop {
        if let Some(job) = scope.take(&enter, false) {
            scope.run(job);
            backoff.reset();
        } else if scope.is_pending() && !backoff.is_completed() {
            // More may be spawned soon by the tasks still running: stay a moment.
            backoff.snooze();
        } else {
            // Refused a place (a scope with a limit) with tasks still in our deque: hand
            // them to the threads that hold the places.
            enter.hand_back(pool);
            return;
        }
    }
}
