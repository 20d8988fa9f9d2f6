//! The synchronisation primitives the pool's protocol types (`pool::latch`, `pool::idle`) are
//! written against: the real ones in every normal build, loom's under `--cfg loom`, so that the
//! code the model check explores (`core/tests/loom_pool.rs`, run by `scripts/loom`) is the code
//! that runs.
//!
//! Normally these are plain re-exports (std's atomics, `parking_lot::Mutex`, crossbeam's
//! `Parker`, `Unparker` and `Backoff`): no wrapper, no cost. Under loom:
//! - atomics and fences are loom's;
//! - [`Mutex`] wraps loom's with parking_lot's API (`lock` returns the guard; a poisoned lock
//!   is used as it is, since parking_lot's locks do not poison);
//! - [`Parker`]/[`Unparker`] keep one token, as crossbeam's do (an `unpark` before the `park`
//!   makes that `park` return at once; several `unpark`s leave one token), built from loom's
//!   `Mutex` and `Condvar` so that a parker may be made on one thread and parked on another, as
//!   the pool's worker parkers are;
//! - `Backoff` is complete at once: the pool's spinning before it sleeps only repeats the
//!   checks it then makes once more under the sleep handshake, so the model goes straight to
//!   that handshake (and explores fewer, equally relevant, interleavings).

#[cfg(not(loom))]
pub use crossbeam_utils::sync::{Parker, Unparker};
#[cfg(not(loom))]
pub use crossbeam_utils::Backoff;
#[cfg(not(loom))]
pub use parking_lot::Mutex;
#[cfg(not(loom))]
pub use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};

#[cfg(loom)]
pub use self::model::{Backoff, Mutex, Parker, Unparker};
#[cfg(loom)]
pub use loom::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};

#[cfg(loom)]
mod model {
    use std::sync::PoisonError;

    use loom::sync::{Arc, Condvar, MutexGuard};

    /// loom's mutex with parking_lot's API.
    #[derive(Debug)]
    pub struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        /// A new unlocked mutex holding `value`.
        pub fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }

        /// Locks, blocking until the lock is free.
        pub fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    /// The token a [`Parker`] and its [`Unparker`]s share.
    #[derive(Debug)]
    struct Token {
        available: loom::sync::Mutex<bool>,
        changed: Condvar,
    }

    /// Blocks the thread that calls [`park`](Parker::park) until the token is available, as
    /// `crossbeam_utils::sync::Parker` does.
    #[derive(Debug)]
    pub struct Parker {
        unparker: Unparker,
    }

    impl Parker {
        /// A parker without the token.
        #[allow(clippy::new_without_default)] // as crossbeam's `Parker::new`
        pub fn new() -> Parker {
            Parker {
                unparker: Unparker {
                    token: Arc::new(Token {
                        available: loom::sync::Mutex::new(false),
                        changed: Condvar::new(),
                    }),
                },
            }
        }

        /// Waits until the token is available, then takes it.
        pub fn park(&self) {
            let token = &self.unparker.token;
            let mut available = token
                .available
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            while !*available {
                available = token
                    .changed
                    .wait(available)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            *available = false;
        }

        /// The handle that makes the token available.
        pub fn unparker(&self) -> &Unparker {
            &self.unparker
        }
    }

    /// Makes its [`Parker`]'s token available, waking the thread parked on it if any.
    #[derive(Debug, Clone)]
    pub struct Unparker {
        token: Arc<Token>,
    }

    impl Unparker {
        /// Makes the token available (one token, however often it is called).
        pub fn unpark(&self) {
            *self
                .token
                .available
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = true;
            self.token.changed.notify_one();
        }
    }

    /// A backoff that is complete at once (see the module docs).
    #[derive(Debug)]
    pub struct Backoff;

    impl Backoff {
        /// A backoff (complete already).
        #[allow(clippy::new_without_default)] // as crossbeam's `Backoff::new`
        pub fn new() -> Backoff {
            Backoff
        }

        /// Starts again (nothing to do).
        pub fn reset(&self) {}

        /// Always true: the model never spins.
        pub fn is_completed(&self) -> bool {
            true
        }

        /// Yields to loom's scheduler (never called while `is_completed` holds).
        pub fn snooze(&self) {
            loom::thread::yield_now();
        }
    }
}
