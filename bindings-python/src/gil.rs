//! Attaching pool threads to the interpreter cheaply.
//!
//! `Python::attach` on a thread without a Python thread state creates one and destroys it
//! again on release: a few microseconds per call. Pool threads call into Python again and
//! again, so each keeps one thread state for its lifetime ("pinned"); later attaches then only
//! take and release the GIL. (The interpreter frees the states at exit; a forked child drops
//! the parent's, and its own new worker threads pin new ones.)

use std::cell::Cell;

use pyo3::{ffi, Python};

thread_local! {
    static PINNED: Cell<bool> = const { Cell::new(false) };
}

/// `Python::attach(f)`, first giving this thread a lasting thread state if it has none.
/// Must be called without the GIL (as `Python::attach` from a non-Python thread is).
pub fn attach<F, R>(f: F) -> R
where
    F: for<'py> FnOnce(Python<'py>) -> R,
{
    PINNED.with(|pinned| {
        if !pinned.get() {
            pinned.set(true);
            // SAFETY: only on a thread the interpreter does not know yet (no thread state), so
            // it cannot hold the GIL: Ensure creates a state and takes the GIL, SaveThread
            // releases the GIL and keeps the state, which stays this thread's from now on.
            unsafe {
                if ffi::PyGILState_GetThisThreadState().is_null() {
                    let _state = ffi::PyGILState_Ensure();
                    ffi::PyEval_SaveThread();
                }
            }
        }
    });
    Python::attach(f)
}

/// The `RunnerGate` of the Python face's sync batches: a runner attaches once and keeps the
/// GIL across its records; it detaches while it waits for other runners or a retry.
pub struct GilGate;

impl lanepool::batch::RunnerGate for GilGate {
    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        attach(|_py| f())
    }

    fn block<R>(&self, f: impl FnOnce() -> R) -> R {
        /// Takes the GIL back even if `f` unwinds.
        struct Restore(*mut ffi::PyThreadState);
        impl Drop for Restore {
            fn drop(&mut self) {
                // SAFETY: the state saved below, on this thread.
                unsafe { ffi::PyEval_RestoreThread(self.0) };
            }
        }
        // SAFETY: `block` is only called inside `run`, so this thread holds the GIL. The core's
        // blocking closure only locks and waits: it touches no Python object while detached.
        // (`Python::detach` cannot be used: it needs `f: Send`, which the trait does not give.)
        let _restore = Restore(unsafe { ffi::PyEval_SaveThread() });
        f()
    }
}
