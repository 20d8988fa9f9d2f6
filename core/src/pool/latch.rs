//! A scope's counting latch and the threads sleeping on it: the synchronisation protocol that
//! decides when a scope's owner (or an owned scope's waiter) may return, and that no waiter
//! misses the change it sleeps for. Written against [`crate::sync`], so that the model check
//! (`core/tests/loom_pool.rs`, `scripts/loom`) explores this very code.
//!
//! # Protocol
//! - `pending` counts the tasks spawned and not yet finished. A task is counted
//!   ([`increment`](CountLatch::increment), `SeqCst`) before it is queued, and uncounted
//!   ([`decrement_and_wake`](CountLatch::decrement_and_wake), `AcqRel`) only after it ran, so
//!   the count is not zero while a task is queued or running. A waiter returns only when it
//!   reads zero with `Acquire`: that read synchronises with the last decrement, whose `AcqRel`
//!   read-modify-write continues the release sequence of every earlier decrement, so every
//!   task's effects are visible to the waiter once it returns.
//! - Sleeping: a waiter lists itself (`sleepers`, then `sleeping` + 1), issues
//!   `fence(SeqCst)`, checks its condition once more and parks only if it does not hold. A
//!   thread that changes what waiters wait for (the last decrement; a newly queued task) issues
//!   `fence(SeqCst)` after the change, reads `sleeping` and, if it is not zero, unparks every
//!   listed sleeper. The two fences are ordered one way or the other: if the waker's comes
//!   first, the waiter's check sees the change; otherwise the waker's read sees the waiter
//!   counted. A parker keeps a token, so an unpark that comes before the park is not lost.
//!
//! The queues are not part of this type: a waiter's condition and the help it gives (running
//! queued tasks) come in as closures.

use crossbeam_utils::CachePadded;

use crate::sync::{fence, AtomicUsize, Backoff, Mutex, Ordering, Parker, Unparker};

/// Tasks spawned and not yet finished, and the threads parked until that changes.
///
/// `pending` is written by every spawn and every finished task, from every thread: it sits on
/// its own cache line, so that `sleeping` (which every spawn only reads) stays cached.
pub struct CountLatch {
    /// Tasks spawned and not yet finished (queued or running).
    pending: CachePadded<AtomicUsize>,
    /// Threads parked waiting (the caller of `Pool::scope`, or any number of threads waiting on
    /// an `OwnedScope`), by their parker's address.
    sleepers: Mutex<Vec<(usize, Unparker)>>,
    /// `sleepers.len()`, readable without the lock.
    sleeping: AtomicUsize,
}

impl Default for CountLatch {
    fn default() -> Self {
        CountLatch::new()
    }
}

impl CountLatch {
    /// A latch with nothing pending and no sleeper.
    pub fn new() -> CountLatch {
        CountLatch {
            pending: CachePadded::new(AtomicUsize::new(0)),
            sleepers: Mutex::new(Vec::new()),
            sleeping: AtomicUsize::new(0),
        }
    }

    /// Counts a task. Call before the task is queued (so the latch cannot reach zero while it
    /// is), then [`announce`](CountLatch::announce) once it is queued.
    #[inline]
    pub fn increment(&self) {
        self.pending.fetch_add(1, Ordering::SeqCst);
    }

    /// Uncounts a task that ran (its effects are then visible to a waiter that sees zero); the
    /// last one wakes the sleepers.
    #[inline]
    pub fn decrement_and_wake(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            fence(Ordering::SeqCst);
            self.wake_sleepers();
        }
    }

    /// Tasks spawned and not yet finished, read with `order`.
    #[inline]
    pub fn load(&self, order: Ordering) -> usize {
        self.pending.load(order)
    }

    /// Makes newly queued tasks known to sleepers: `fence(SeqCst)`, then unparks them if there
    /// are any. The fence also serves the pool's `IdleWorkers::notify_one` called right after.
    #[inline]
    pub fn announce(&self) {
        fence(Ordering::SeqCst);
        self.wake_sleepers();
    }

    /// Unparks every sleeper. Call after a `fence(SeqCst)` that follows the change they wait
    /// for (pairs with the fence in `sleep_unless`).
    #[inline]
    fn wake_sleepers(&self) {
        // Inlined: every spawn comes here, and almost always finds no sleeper.
        if self.sleeping.load(Ordering::Relaxed) != 0 {
            self.unpark_sleepers();
        }
    }

    #[cold]
    #[inline(never)]
    fn unpark_sleepers(&self) {
        for (_, u) in self.sleepers.lock().iter() {
            u.unpark();
        }
    }

    /// Parks the calling thread unless `ready()` holds once it is listed as a sleeper (so a
    /// change followed by a wake cannot be missed). May return without `ready()` holding (a
    /// token left from an earlier wake): callers check again.
    pub fn sleep_unless(&self, parker: &Parker, ready: impl FnOnce() -> bool) {
        let id = parker as *const Parker as usize;
        self.sleepers.lock().push((id, parker.unparker().clone()));
        self.sleeping.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if !ready() {
            parker.park();
        }
        self.sleeping.fetch_sub(1, Ordering::SeqCst);
        let mut sleepers = self.sleepers.lock();
        if let Some(i) = sleepers.iter().position(|(s, _)| *s == id) {
            sleepers.swap_remove(i);
        }
    }

    /// A helping wait: returns once nothing is pending, every task's effects visible.
    ///
    /// `help()` runs one queued task if it can take one and says whether it did; `work()` says
    /// whether a task is queued that `help()` could take. Between tries the caller spins a
    /// little, then sleeps until the count is zero or `work()` holds.
    #[inline]
    pub fn wait(&self, parker: &Parker, mut help: impl FnMut() -> bool, work: impl Fn() -> bool) {
        let backoff = Backoff::new();
        loop {
            // Take first, and read `pending` only when nothing is queued: every thread running
            // the scope's tasks writes `pending`, so reading it before every task would cost a
            // cache miss each time. A queued task is always counted in `pending`, so while one
            // is queued the count is not zero.
            if help() {
                backoff.reset();
                continue;
            }
            // Acquire: pairs with the `AcqRel` decrement of the last task to finish, so its
            // effects are visible once we return.
            if self.pending.load(Ordering::Acquire) == 0 {
                return;
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            self.sleep_unless(parker, || {
                self.pending.load(Ordering::SeqCst) == 0 || work()
            });
        }
    }
}
