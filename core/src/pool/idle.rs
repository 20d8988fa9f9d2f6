//! The pool's idle workers: the list they park on, how a spawn wakes one, and how shutdown
//! stops them. Written against [`crate::sync`], so that the model check
//! (`core/tests/loom_pool.rs`, `scripts/loom`) explores this very code.
//!
//! # Protocol
//! - A worker that found no work lists itself (`idle`, then `idle_count`), issues
//!   `fence(SeqCst)`, checks `terminate` and whether any work is queued, and parks only if
//!   neither holds. Woken, it takes itself off the list unless a notifier already did.
//! - A spawner makes its task visible (queues it), issues `fence(SeqCst)` (the scope's
//!   `CountLatch::announce`), then [`notify_one`](IdleWorkers::notify_one) reads `idle_count`
//!   and, if it is not zero, takes one worker off the list and unparks it. The two fences are
//!   ordered one way or the other: either the worker's check sees the task, or the spawner's
//!   read sees the worker listed. A parker keeps a token, so an unpark that comes before the
//!   park is not lost.
//! - Shutdown sets `terminate` and unparks every worker, listed or not: a worker that has not
//!   parked yet finds the token, or sees `terminate` before it parks.
//!
//! The queues are not part of this type: finding and running work, and whether any is queued,
//! come in as closures.

use crate::sync::{fence, AtomicBool, AtomicUsize, Backoff, Mutex, Ordering, Parker, Unparker};

/// The idle list of a pool's workers, their unparkers, and the flag that stops them.
pub struct IdleWorkers {
    /// Indices of parked (or about to park) workers.
    idle: Mutex<Vec<usize>>,
    /// `idle.len()`, readable without the lock.
    idle_count: AtomicUsize,
    /// One per worker, to wake it.
    unparkers: Vec<Unparker>,
    /// Set once, by shutdown.
    terminate: AtomicBool,
}

impl IdleWorkers {
    /// No worker idle; worker `i` is woken through `unparkers[i]`.
    pub fn new(unparkers: Vec<Unparker>) -> IdleWorkers {
        IdleWorkers {
            idle: Mutex::new(Vec::with_capacity(unparkers.len())),
            idle_count: AtomicUsize::new(0),
            unparkers,
            terminate: AtomicBool::new(false),
        }
    }

    /// Wakes one parked worker, if any. Call after queuing a task.
    ///
    /// The caller must have issued `fence(SeqCst)` after queuing: it pairs with the fence in
    /// `sleep`, so either we see the worker on the idle list, or it sees the task before it parks.
    pub fn notify_one(&self) {
        if self.idle_count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let woken = {
            let mut idle = self.idle.lock();
            let w = idle.pop();
            self.idle_count.store(idle.len(), Ordering::SeqCst);
            w
        };
        if let Some(w) = woken {
            self.unparkers[w].unpark();
        }
    }

    /// Tells every worker to stop, and wakes them all.
    pub fn terminate(&self) {
        self.terminate.store(true, Ordering::SeqCst);
        for u in &self.unparkers {
            u.unpark();
        }
    }

    /// Worker `index`'s loop: `find_and_run()` finds queued work and runs it, and says whether
    /// it found any; with none, the worker spins a little, then parks (see `sleep`) until woken.
    /// Returns once [`terminate`](IdleWorkers::terminate) was called and no work was found.
    /// `any_work()` says whether work is queued.
    pub fn run_worker(
        &self,
        index: usize,
        parker: &Parker,
        mut find_and_run: impl FnMut() -> bool,
        any_work: impl Fn() -> bool,
    ) {
        let backoff = Backoff::new();
        loop {
            if find_and_run() {
                backoff.reset();
                continue;
            }
            if self.terminate.load(Ordering::Acquire) {
                return;
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            self.sleep(index, parker, &any_work);
            backoff.reset();
        }
    }

    /// Parks worker `index` unless `terminate` is set or `any_work()` holds once it is listed
    /// as idle; then leaves the list (unless a notifier already took it off).
    fn sleep(&self, index: usize, parker: &Parker, any_work: impl FnOnce() -> bool) {
        {
            let mut idle = self.idle.lock();
            idle.push(index);
            self.idle_count.store(idle.len(), Ordering::SeqCst);
        }
        fence(Ordering::SeqCst);
        if !self.terminate.load(Ordering::SeqCst) && !any_work() {
            parker.park();
        }
        // Leave the idle list unless a notifier already took us off it.
        let mut idle = self.idle.lock();
        if let Some(i) = idle.iter().position(|&w| w == index) {
            idle.swap_remove(i);
            self.idle_count.store(idle.len(), Ordering::SeqCst);
        }
    }
}
