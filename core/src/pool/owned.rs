//! Owned scopes: a scope that is a value, not a call frame, for `'static` tasks.

use std::any::Any;
use std::fmt;
use std::panic::resume_unwind;
use std::sync::Arc;

use super::registry::Inner;
use super::scope::{in_pool, inside_owned_task, inside_owned_tasks, Enter, Job, ScopeState};
use super::Pool;
use crate::sync::Parker;

/// What every handle of one owned scope shares. Every queued or running task holds a clone of
/// the `Arc`, so it lives until the last task finished and the last handle is gone.
struct Core {
    /// Keeps the pool's workers (and `inner`'s owner) alive while the scope exists.
    _pool: Pool,
    inner: Arc<Inner>,
    state: Arc<ScopeState>,
}

impl Drop for Core {
    fn drop(&mut self) {
        // Nothing is pending (tasks hold a `Core`), so the registry can forget the scope.
        self.state.deregister(&self.inner);
    }
}

/// The last user handle waits when dropped.
struct WaitOnDrop(Arc<Core>);

impl Drop for WaitOnDrop {
    fn drop(&mut self) {
        if inside_owned_task(&self.0.state) {
            // Dropped by one of its own tasks (or by a task of a `Pool::scope` entered from
            // one, on any thread): waiting would wait for itself. The tasks still run to the
            // end on the workers.
            return;
        }
        if let Err(payload) = wait_helping(&self.0, true) {
            if !std::thread::panicking() {
                resume_unwind(payload);
            }
        }
    }
}

/// Waits with the calling thread running queued tasks of this scope (always if `force`, else
/// only while fewer than `workers` threads run them); then the first panic.
fn wait_helping(core: &Core, force: bool) -> Result<(), Box<dyn Any + Send>> {
    if core.state.pending() != 0 {
        let parker = Parker::new();
        let enter = Enter::new(&core.state);
        core.state.wait(&enter, &parker, force);
    }
    finish_wait(core)
}

fn finish_wait(core: &Core) -> Result<(), Box<dyn Any + Send>> {
    core.state.deregister_if_idle(&core.inner);
    match core.state.take_panic() {
        Some(payload) => Err(payload),
        None => Ok(()),
    }
}

/// A scope that is a value rather than a call frame: its tasks are `'static`, start at once on
/// the pool's workers, and may spawn more tasks through the `&OwnedScope` they get.
/// [`wait`](OwnedScope::wait) returns once every task spawned (nested ones too) finished,
/// running queued tasks of this scope (and only of this scope) on the calling thread meanwhile.
/// Given by [`Pool::owned_scope`].
///
/// Handles are `Clone`, `Send` and `Sync`: spawn and wait from any thread, several at once. The
/// scope may be used again after a wait.
///
/// # Dropping
/// Dropping the last handle returned by `owned_scope` (or cloned from it) waits, like a scope:
/// no work is left running unnoticed, and a task's panic not yet resumed by a wait is resumed
/// then (unless the thread is already panicking). The handles tasks get (and their clones) do
/// not wait when dropped; nor does the last handle when one of the scope's own tasks drops it
/// (it would wait for itself), at any depth: also from a task of a [`Pool::scope`] entered
/// inside one of them, whichever thread runs it. Then the tasks still run to the end on the
/// workers.
///
/// # Fork
/// An owned scope belongs to the process that made it. Used in a child made by `fork` (which
/// has none of the parent's worker threads), it still works, but its tasks run only on
/// threads that wait for it (`wait`, `try_wait`, `try_wait_on_workers`, or the drop of the
/// last handle): a task spawned there does not start by itself. Make owned scopes in the
/// child ([`Pool::owned_scope`] in the child starts fresh workers).
///
/// ```
/// use lanepool::pool::Pool;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let pool = Pool::new(2).unwrap();
/// let scope = pool.owned_scope();
/// let count = Arc::new(AtomicUsize::new(0));
/// for _ in 0..3 {
///     let count = Arc::clone(&count);
///     scope.spawn(move |s| {
///         count.fetch_add(1, Ordering::SeqCst);
///         let count = Arc::clone(&count);
///         s.spawn(move |_| {
///             count.fetch_add(10, Ordering::SeqCst);
///         });
///     });
/// }
/// scope.wait();
/// assert_eq!(count.load(Ordering::SeqCst), 33);
/// ```
#[derive(Clone)]
pub struct OwnedScope {
    core: Arc<Core>,
    /// Present in the handles that wait when the last of them is dropped.
    _waits: Option<Arc<WaitOnDrop>>,
}

impl Pool {
    /// A new, empty [`OwnedScope`] on this pool.
    ///
    /// ```
    /// let pool = lanepool::pool::Pool::new(1).unwrap();
    /// let scope = pool.owned_scope();
    /// scope.spawn(|_| println!("hello from a worker"));
    /// scope.wait();
    /// ```
    pub fn owned_scope(&self) -> OwnedScope {
        let inner = self.inner_ptr();
        // SAFETY: `inner` comes from `Arc::into_raw` (see `Shared::current`) and is valid, so
        // adding a strong count and taking an `Arc` for it is sound. Nothing between the two
        // calls can panic, so the count added is always owned by the `Arc` made.
        let inner = unsafe {
            Arc::increment_strong_count(inner);
            Arc::from_raw(inner)
        };
        let core = Arc::new(Core {
            _pool: self.clone(),
            inner,
            state: Arc::new(ScopeState::with_limit(self.workers())),
        });
        OwnedScope {
            _waits: Some(Arc::new(WaitOnDrop(Arc::clone(&core)))),
            core,
        }
    }
}

impl OwnedScope {
    /// Starts `f` on the pool's workers (at once, if one is idle). `f` gets a handle to this
    /// scope to spawn more tasks; a wait does not return before `f` finished.
    ///
    /// ```
    /// let pool = lanepool::pool::Pool::new(2).unwrap();
    /// let scope = pool.owned_scope();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// scope.spawn(move |_| tx.send(7).unwrap());
    /// // The task runs without anyone waiting.
    /// assert_eq!(rx.recv().unwrap(), 7);
    /// scope.wait();
    /// ```
    pub fn spawn<F>(&self, f: F)
    where
        F: FnOnce(&OwnedScope) + Send + 'static,
    {
        let core = Arc::clone(&self.core);
        let job: Job = Box::new(move || {
            let state = Arc::as_ptr(&core.state) as usize;
            inside_owned_tasks(&[state], move || {
                f(&OwnedScope { core, _waits: None });
            });
        });
        self.core.state.push(&self.core.inner, job);
    }

    /// Waits until every task spawned in this scope (nested ones too) finished, running queued
    /// tasks of this scope (never another scope's) on the calling thread meanwhile; so it may
    /// be called from inside a task of the pool, even with every worker busy.
    ///
    /// # Panics
    /// Once every task finished, resumes the first panic of a task since the last wait. Also
    /// panics when called from inside one of this scope's own tasks (it would wait forever).
    ///
    /// ```
    /// let pool = lanepool::pool::Pool::new(2).unwrap();
    /// let scope = pool.owned_scope();
    /// scope.spawn(|_| panic!("bad task"));
    /// let caught = std::panic::catch_unwind(|| scope.wait());
    /// assert_eq!(lanepool::pool::panic_message(&*caught.unwrap_err()), "bad task");
    /// scope.wait(); // the panic was resumed once
    /// ```
    pub fn wait(&self) {
        if let Err(payload) = self.try_wait() {
            resume_unwind(payload);
        }
    }

    /// Like [`wait`](OwnedScope::wait), but returns the first task panic instead of resuming
    /// it.
    ///
    /// ```
    /// let pool = lanepool::pool::Pool::new(1).unwrap();
    /// let scope = pool.owned_scope();
    /// scope.spawn(|_| panic!("oops"));
    /// let payload = scope.try_wait().unwrap_err();
    /// assert_eq!(lanepool::pool::panic_message(&*payload), "oops");
    /// ```
    pub fn try_wait(&self) -> Result<(), Box<dyn Any + Send>> {
        self.check_not_own_task();
        wait_helping(&self.core, true)
    }

    /// Like [`try_wait`](OwnedScope::try_wait), but a thread that is not already taking part in
    /// the pool (not a worker running a task, not inside [`Pool::scope`] or a helping wait)
    /// runs this scope's tasks only while fewer than `workers` threads run them: at most
    /// `workers` tasks of this scope run at once, the waiter counted. Inside the pool it helps
    /// as `try_wait` does (its thread already counts), so nested waits with every worker busy
    /// still finish. (The Python face's `with pool.scope()` uses this.)
    ///
    /// ```
    /// let pool = lanepool::pool::Pool::new(2).unwrap();
    /// let scope = pool.owned_scope();
    /// scope.spawn(|_| {});
    /// scope.try_wait_on_workers().unwrap();
    /// ```
    pub fn try_wait_on_workers(&self) -> Result<(), Box<dyn Any + Send>> {
        self.check_not_own_task();
        wait_helping(&self.core, in_pool())
    }

    /// Tasks spawned in this scope and not finished yet (queued or running).
    ///
    /// ```
    /// let pool = lanepool::pool::Pool::new(1).unwrap();
    /// let scope = pool.owned_scope();
    /// assert_eq!(scope.pending(), 0);
    /// ```
    pub fn pending(&self) -> usize {
        self.core.state.pending()
    }

    fn check_not_own_task(&self) {
        assert!(
            !inside_owned_task(&self.core.state),
            "OwnedScope::wait called from inside one of the scope's own tasks (it would wait \
             for itself)"
        );
    }
}

impl fmt::Debug for OwnedScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedScope")
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}
