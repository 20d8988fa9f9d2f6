//! The core's thread pool, plus what the binding needs on top of it: `broadcast` (runners on
//! the pool, the caller being one of them) and `OwnedScope`, a scope that outlives a Rust call
//! frame (for Python's `with pool.scope() as s:`).
//!
//! `OwnedScope` is a stand-in until the core has one (`Pool::owned_scope`): its tasks run in a
//! borrowed `Pool::scope` held open by a host thread, which the scope starts on its first spawn.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;

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

#[derive(Default)]
struct State {
    /// Tasks spawned and not finished (nested ones included).
    pending: usize,
    /// Tasks not yet handed to the host.
    queue: VecDeque<Job>,
    closing: bool,
    host: Option<JoinHandle<()>>,
}

struct Inner {
    pool: Pool,
    state: Mutex<State>,
    changed: Condvar,
}

/// A scope not tied to a Rust call frame: `spawn` from anywhere (tasks too), `wait` once.
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
    pub fn new(pool: &Pool) -> Self {
        OwnedScope {
            inner: Arc::new(Inner {
                pool: pool.clone(),
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
        let mut st = self.inner.state.lock();
        st.pending += 1;
        st.queue.push_back(job);
        if st.host.is_none() {
            let inner = self.inner.clone();
            st.host = Some(std::thread::spawn(move || host(&inner)));
        }
        self.inner.changed.notify_all();
    }

    /// Waits until every task spawned (nested ones too) finished.
    pub fn wait(&self) {
        let host = {
            let mut st = self.inner.state.lock();
            while st.pending > 0 {
                self.inner.changed.wait(&mut st);
            }
            st.closing = true;
            self.inner.changed.notify_all();
            st.host.take()
        };
        if let Some(host) = host {
            let _ = host.join();
        }
    }
}

/// Holds a pool scope open and spawns every queued task into it, until the scope closes.
fn host(inner: &Inner) {
    inner.pool.scope(|s| loop {
        let jobs: Vec<Job> = {
            let mut st = inner.state.lock();
            while st.queue.is_empty() && !st.closing {
                inner.changed.wait(&mut st);
            }
            if st.queue.is_empty() {
                return;
            }
            st.queue.drain(..).collect()
        };
        for job in jobs {
            s.spawn(move |_| job());
        }
    });
}
