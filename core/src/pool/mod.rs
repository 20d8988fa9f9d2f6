//! Scoped thread pool: persistent workers, per-scope queues, counting latch.
//!
//! A [`Pool`] owns worker threads that are created once (in AWS Lambda: during the INIT phase)
//! and reused by every invocation. Idle workers park and use no CPU.
//!
//! [`Pool::scope`] runs a closure that may [`spawn`](Scope::spawn) tasks borrowing from the
//! caller's stack; it returns only when every task spawned inside it, nested ones included, has
//! finished. While it waits, the calling thread runs tasks of *its own* scope (never another
//! scope's, so a long task of an unrelated scope cannot delay its return).
//!
//! # Design
//! - Every scope has its own queues and a counting latch (the number of its queued or running
//!   tasks). A thread working on a scope (its owner, or a worker that took one of its tasks)
//!   pushes the tasks it spawns to a local LIFO deque whose stealer it publishes in the scope;
//!   other spawns go to the scope's injector. Threads take from their own deque, then the
//!   injector (in batches), then steal one task at a time from the other deques of *that scope*.
//!   The owner thus only ever runs its own scope's tasks; the pool's workers find scopes with
//!   queued work through the pool's registry (a scope registers on its first spawn, deregisters
//!   on return).
//! - Idle workers sit on a list and park on their own `Parker`; a spawn wakes one of them only
//!   when the list is non-empty (one fence and one load otherwise), and wakes the scope's owner if
//!   it parked waiting for running tasks.
//! - The synchronisation protocol is in two small types written against `crate::sync` (std,
//!   parking_lot and crossbeam normally; loom's under `--cfg loom`): the counting latch and its
//!   sleepers (`latch::CountLatch`), and the idle list, the worker loop's sleep and shutdown
//!   (`idle::IdleWorkers`). `scripts/loom` model-checks that very code
//!   (`core/tests/loom_pool.rs`): no lost wake-up, no deadlock, no early return.
//! - A task that panics is caught on the thread that ran it; the scope still waits for every
//!   other task, then resumes the first panic on the caller. [`Pool::try_scope`] collects task
//!   errors and panics instead.
//! - [`Pool::owned_scope`] gives the same machinery as a value ([`OwnedScope`]): `'static`
//!   tasks that start at once, a wait that helps with this scope's tasks only, any number of
//!   waiting threads, and a wait on drop.
//! - Re-entrancy: a task may call [`Pool::scope`] again on the same pool. The nested caller runs
//!   its own scope's tasks itself, so nesting with every worker busy still completes.
//! - Fork safety: the workers record the process id when started. A scope entered in a forked
//!   child (different [`std::process::id`]) abandons the parent's state (leaked, never joined)
//!   and starts fresh workers.
//!
//! ```
//! use lanepool::pool::Pool;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! let pool = Pool::new(2).unwrap();
//! let records = vec![1, 2, 3, 4];
//! let sum = AtomicUsize::new(0);
//! pool.scope(|s| {
//!     for r in &records {
//!         let sum = &sum;
//!         s.spawn(move |_| {
//!             sum.fetch_add(*r, Ordering::Relaxed);
//!         });
//!     }
//! });
//! assert_eq!(sum.into_inner(), 10);
//! ```

mod abort;
pub(crate) mod idle;
pub(crate) mod latch;
mod owned;
mod registry;
mod scope;

use std::fmt;
use std::mem;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

pub(crate) use abort::AbortIfPanic;
pub use owned::OwnedScope;
use registry::{Config, Inner};
pub(crate) use scope::{drop_catching, take_panic_message};
pub use scope::{panic_message, Scope, ScopeError, TaskFailure, TryScope};

/// Megabytes of function memory that AWS Lambda pairs with one vCPU of CPU share.
pub const LAMBDA_MB_PER_VCPU: u64 = 1_769;
/// The most vCPUs a Lambda function gets (at 10,240 MB).
pub const LAMBDA_MAX_VCPUS: usize = 6;
/// Environment variable in which AWS Lambda gives the function's memory size in MB.
pub const LAMBDA_MEMORY_ENV: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";

/// The most worker threads one [`Pool`] may have: 1,024.
///
/// Why this number:
/// - AWS Lambda allows 1,024 processes and threads in all in one execution environment, so a
///   larger pool cannot start there anyway.
/// - It is above the CPU count of the largest machines (several hundred vCPUs): worker
///   threads beyond the CPUs only help handlers that block, and a pool this size already
///   keeps 1,024 of them going.
/// - It stays far below the counts at which a process runs out of memory maps or thread
///   slots while a thread sets itself up (Linux's default `vm.max_map_count` of 65,530 is
///   reached at roughly 16,000 threads, each taking a stack, its guard page and a signal
///   stack), where the standard library aborts the process rather than returning an error.
///
/// A larger request is [`PoolError::TooManyWorkers`], checked before anything sized by the
/// count is allocated; a thread the system refuses below it is [`PoolError::Spawn`].
///
/// ```
/// use lanepool::pool::{Pool, PoolError, MAX_WORKERS};
/// assert_eq!(MAX_WORKERS, 1_024);
/// let err = Pool::new(MAX_WORKERS + 1).unwrap_err();
/// assert!(matches!(err, PoolError::TooManyWorkers { requested: 1_025, max: MAX_WORKERS }));
/// assert_eq!(err.to_string(), "a pool has at most 1024 worker threads, got 1025");
/// ```
pub const MAX_WORKERS: usize = 1_024;

/// Errors building a [`Pool`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// A pool needs at least one worker thread.
    #[error("a pool needs at least one worker thread")]
    ZeroWorkers,
    /// More worker threads than [`MAX_WORKERS`] were asked for.
    #[error("a pool has at most {max} worker threads, got {requested}")]
    TooManyWorkers {
        /// The worker count asked for.
        requested: usize,
        /// The most a pool may have ([`MAX_WORKERS`]).
        max: usize,
    },
    /// The thread name contains a NUL byte, which threads cannot be named with.
    #[error("worker thread name contains a NUL byte")]
    InvalidThreadName,
    /// The operating system refused to start a worker thread.
    #[error("failed to spawn worker thread: {0}")]
    Spawn(#[from] std::io::Error),
}

/// How many workers to use given `cpus` usable CPUs and, inside AWS Lambda, the function's
/// memory size in MB.
///
/// Lambda functions see 2 vCPUs but get CPU time in proportion to memory: one vCPU per
/// 1,769 MB, rounded up, at least 1 and at most 6. The result is the smaller of `cpus` and that
/// share, and never less than 1 nor more than [`MAX_WORKERS`].
///
/// ```
/// use lanepool::pool::workers_for;
///
/// assert_eq!(workers_for(8, None), 8);
/// assert_eq!(workers_for(2, Some(128)), 1);
/// assert_eq!(workers_for(2, Some(1_770)), 2);
/// assert_eq!(workers_for(16, Some(10_240)), 6);
/// assert_eq!(workers_for(0, None), 1);
/// assert_eq!(workers_for(4_096, None), lanepool::pool::MAX_WORKERS);
/// ```
pub fn workers_for(cpus: usize, lambda_memory_mb: Option<u64>) -> usize {
    let cpus = cpus.clamp(1, MAX_WORKERS);
    match lambda_memory_mb {
        Some(mb) => {
            let share = mb
                .div_ceil(LAMBDA_MB_PER_VCPU)
                .clamp(1, LAMBDA_MAX_VCPUS as u64);
            cpus.min(share as usize)
        }
        None => cpus,
    }
}

/// A persistent pool of worker threads running scoped tasks.
///
/// `Pool` is `Send + Sync`; cloning it is cheap and the clones share the same workers. The
/// workers stop and are joined when the last clone is dropped.
///
/// ```
/// use lanepool::pool::Pool;
///
/// let pool = Pool::new(2).unwrap();
/// let mut words = vec![String::from("a"), String::from("b")];
/// pool.scope(|s| {
///     for w in words.iter_mut() {
///         s.spawn(move |_| w.push('!'));
///     }
/// });
/// assert_eq!(words, ["a!", "b!"]);
/// ```
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

/// What every clone of a [`Pool`] shares.
struct Shared {
    /// The live worker state, from `Arc::into_raw`. Replaced only after a fork; a replaced value
    /// is leaked, so every pointer ever stored stays valid for as long as `Shared` lives.
    current: AtomicPtr<Inner>,
    config: Config,
    /// Serialises restarts after a fork (never touched in the process that made the pool).
    restart: Mutex<()>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let ptr = *self.current.get_mut();
        // SAFETY: `current` always holds a pointer from `Arc::into_raw` that owns one strong
        // count; this is the only place it is given back, and no one else can use it any more
        // (we have `&mut self`).
        let inner = unsafe { Arc::from_raw(ptr) };
        if inner.pid() == process::id() {
            inner.shutdown();
        } else {
            // Created in a parent process: its threads do not exist here, and its locks may be
            // held forever. Abandon it.
            mem::forget(inner);
        }
    }
}

/// Builder for a [`Pool`]: worker count, thread name, stack size.
///
/// ```
/// use lanepool::pool::Pool;
///
/// let pool = Pool::builder()
///     .workers(3)
///     .thread_name("records")
///     .stack_size(1 << 20)
///     .build()
///     .unwrap();
/// assert_eq!(pool.workers(), 3);
/// ```
#[derive(Debug, Clone)]
pub struct PoolBuilder {
    workers: Option<usize>,
    thread_name: String,
    stack_size: Option<usize>,
}

impl Default for PoolBuilder {
    fn default() -> Self {
        PoolBuilder {
            workers: None,
            thread_name: String::from("lanepool"),
            stack_size: None,
        }
    }
}

impl PoolBuilder {
    /// Sets the number of worker threads (default: [`Pool::default_workers`]); at least 1 and
    /// at most [`MAX_WORKERS`], checked by [`build`](PoolBuilder::build).
    ///
    /// ```
    /// let pool = lanepool::pool::Pool::builder().workers(1).build().unwrap();
    /// assert_eq!(pool.workers(), 1);
    /// ```
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// Sets the thread name prefix; worker `i` is named `"{name}-{i}"` (default `"lanepool"`).
    ///
    /// ```
    /// let pool = lanepool::pool::Pool::builder().thread_name("batch").build().unwrap();
    /// # drop(pool);
    /// ```
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }

    /// Sets each worker thread's stack size in bytes (default: the platform's).
    ///
    /// ```
    /// let pool = lanepool::pool::Pool::builder().stack_size(4 << 20).build().unwrap();
    /// # drop(pool);
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Starts the worker threads.
    ///
    /// # Errors
    /// [`PoolError::ZeroWorkers`] for zero workers, [`PoolError::TooManyWorkers`] for more
    /// than [`MAX_WORKERS`] (checked before anything is allocated for them),
    /// [`PoolError::InvalidThreadName`] for a name containing NUL, [`PoolError::Spawn`] when
    /// a thread cannot be started (those already started are stopped and joined).
    ///
    /// ```
    /// use lanepool::pool::{Pool, PoolError};
    ///
    /// assert!(matches!(Pool::builder().workers(0).build(), Err(PoolError::ZeroWorkers)));
    /// assert!(matches!(
    ///     Pool::builder().workers(usize::MAX).build(),
    ///     Err(PoolError::TooManyWorkers { requested: usize::MAX, .. })
    /// ));
    /// ```
    pub fn build(self) -> Result<Pool, PoolError> {
        let workers = self.workers.unwrap_or_else(Pool::default_workers);
        if workers == 0 {
            return Err(PoolError::ZeroWorkers);
        }
        if workers > MAX_WORKERS {
            return Err(PoolError::TooManyWorkers {
                requested: workers,
                max: MAX_WORKERS,
            });
        }
        if self.thread_name.contains('\0') {
            return Err(PoolError::InvalidThreadName);
        }
        let config = Config {
            workers,
            thread_name: self.thread_name,
            stack_size: self.stack_size,
        };
        let inner = Inner::start(&config)?;
        Ok(Pool {
            shared: Arc::new(Shared {
                current: AtomicPtr::new(Arc::into_raw(inner).cast_mut()),
                config,
                restart: Mutex::new(()),
            }),
        })
    }
}

impl Pool {
    /// A pool with `workers` worker threads named `lanepool-{i}`.
    ///
    /// # Errors
    /// [`PoolError::ZeroWorkers`] if `workers` is 0, [`PoolError::TooManyWorkers`] if it is
    /// above [`MAX_WORKERS`], [`PoolError::Spawn`] if a thread cannot be started.
    ///
    /// ```
    /// let pool = lanepool::pool::Pool::new(2).unwrap();
    /// assert_eq!(pool.workers(), 2);
    /// ```
    pub fn new(workers: usize) -> Result<Pool, PoolError> {
        Pool::builder().workers(workers).build()
    }

    /// A builder to choose the worker count, thread name and stack size.
    ///
    /// ```
    /// let pool = lanepool::pool::Pool::builder().workers(2).build().unwrap();
    /// assert_eq!(pool.workers(), 2);
    /// ```
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    /// The default worker count: the CPUs this process may use
    /// ([`std::thread::available_parallelism`], which honours cgroup quotas and affinity),
    /// lowered inside AWS Lambda to the CPU share its memory size gives
    /// (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, see [`workers_for`]).
    ///
    /// ```
    /// assert!(lanepool::pool::Pool::default_workers() >= 1);
    /// ```
    pub fn default_workers() -> usize {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let memory = std::env::var(LAMBDA_MEMORY_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok());
        workers_for(cpus, memory)
    }

    /// Same as the free function [`workers_for`].
    ///
    /// ```
    /// assert_eq!(lanepool::pool::Pool::workers_for(2, Some(512)), 1);
    /// ```
    pub fn workers_for(cpus: usize, lambda_memory_mb: Option<u64>) -> usize {
        workers_for(cpus, lambda_memory_mb)
    }

    /// The number of worker threads (the thread calling [`scope`](Pool::scope) helps too).
    ///
    /// ```
    /// assert_eq!(lanepool::pool::Pool::new(3).unwrap().workers(), 3);
    /// ```
    pub fn workers(&self) -> usize {
        self.shared.config.workers
    }

    /// Runs `f` with a [`Scope`] in which tasks borrowing from the caller can be spawned, and
    /// returns `f`'s result once every task spawned in the scope (nested ones too) has finished.
    ///
    /// `f` runs on the calling thread, which then runs queued tasks of this scope (and only of
    /// this scope) while it waits. It may be called from any thread, from several at once, and
    /// from inside a task of this pool.
    ///
    /// # Panics
    /// If `f` or a task panics, the other tasks still run to the end; then the first panic is
    /// resumed on the caller with its original payload. Worker threads are not affected.
    ///
    /// ```
    /// use lanepool::pool::Pool;
    /// use std::sync::Mutex;
    ///
    /// let pool = Pool::new(2).unwrap();
    /// let out = Mutex::new(Vec::new());
    /// let n = pool.scope(|s| {
    ///     s.spawn(|s| {
    ///         out.lock().unwrap().push(1);
    ///         s.spawn(|_| out.lock().unwrap().push(2));
    ///     });
    ///     7
    /// });
    /// let mut out = out.into_inner().unwrap();
    /// out.sort();
    /// assert_eq!((n, out), (7, vec![1, 2]));
    ///
    /// let caught = std::panic::catch_unwind(|| pool.scope(|s| s.spawn(|_| panic!("boom"))));
    /// assert_eq!(lanepool::pool::panic_message(&*caught.unwrap_err()), "boom");
    /// ```
    pub fn scope<'env, F, R>(&self, f: F) -> R
    where
        F: for<'scope> FnOnce(&Scope<'scope, 'env>) -> R,
    {
        scope::run_scope(self.inner(), f)
    }

    /// Like [`scope`](Pool::scope), but tasks return `Result<(), E>` and nothing panics out:
    /// every task error and panic (and a panic of `f` itself, last) is collected in a
    /// [`ScopeError`], in the order the tasks finished.
    ///
    /// ```
    /// use lanepool::pool::{Pool, TaskFailure};
    ///
    /// let pool = Pool::new(2).unwrap();
    /// let res = pool.try_scope(|s| {
    ///     s.spawn(|_| Err("bad record"));
    ///     s.spawn(|_| Ok(()));
    ///     s.spawn(|_| panic!("bug"));
    /// });
    /// let err = res.unwrap_err();
    /// let mut texts: Vec<String> = err.failures().iter().map(|f| f.message()).collect();
    /// texts.sort();
    /// assert_eq!(texts, ["bad record", "bug"]);
    ///
    /// assert_eq!(pool.try_scope(|s| { s.spawn(|_| Ok::<(), String>(())); 5 }).unwrap(), 5);
    /// ```
    pub fn try_scope<'env, F, R, E>(&self, f: F) -> Result<R, ScopeError<E>>
    where
        F: for<'scope> FnOnce(&TryScope<'scope, 'env, E>) -> R,
        E: Send,
    {
        let failures = Mutex::new(Vec::new());
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.scope(|s| f(&TryScope::new(s, &failures)))
        }));
        let mut failures = failures.into_inner();
        match result {
            Ok(r) if failures.is_empty() => Ok(r),
            Ok(_) => Err(ScopeError::new(failures)),
            Err(payload) => {
                failures.push(TaskFailure::Panic(payload));
                Err(ScopeError::new(failures))
            }
        }
    }

    /// The worker state of this process, restarting workers after a fork.
    fn inner(&self) -> &Inner {
        // SAFETY: see `Shared::current`: the pointee is valid while `self.shared` lives.
        unsafe { &*self.inner_ptr() }
    }

    /// The pointer from `Arc::into_raw` behind `inner`, with its provenance: an
    /// `Arc` rebuilt from it (see `owned_scope`) may free the allocation, which a pointer
    /// derived from a shared reference may not do (Miri, Tree Borrows).
    fn inner_ptr(&self) -> *const Inner {
        let ptr = self.shared.current.load(Ordering::Acquire);
        // SAFETY: see `Shared::current`: the pointee is valid while `self.shared` lives.
        if unsafe { (*ptr).pid() } == process::id() {
            ptr
        } else {
            self.restart_after_fork()
        }
    }

    #[cold]
    fn restart_after_fork(&self) -> *const Inner {
        let _guard = self.shared.restart.lock();
        let ptr = self.shared.current.load(Ordering::Acquire);
        // SAFETY: as in `inner_ptr`.
        if unsafe { (*ptr).pid() } == process::id() {
            return ptr; // another thread of this process restarted it meanwhile
        }
        // If threads cannot be started, scopes still work: their callers run every task.
        let fresh = Inner::start(&self.shared.config).unwrap_or_else(|_| Inner::without_workers());
        let fresh = Arc::into_raw(fresh).cast_mut();
        // The old value (and its strong count) is leaked on purpose: its threads do not exist in
        // this process and its locks may be held by threads that vanished in the fork.
        self.shared.current.store(fresh, Ordering::Release);
        fresh
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.shared.config.workers)
            .field("thread_name", &self.shared.config.thread_name)
            .finish_non_exhaustive()
    }
}

// A panic inside a scope never leaves the pool in a broken state: task and body panics are
// caught and the pool keeps working (tested), so a `&Pool` may cross `catch_unwind`.
impl std::panic::UnwindSafe for Pool {}
impl std::panic::RefUnwindSafe for Pool {}
// Likewise for an owned scope: a task's panic is caught and handed to a wait.
impl std::panic::UnwindSafe for OwnedScope {}
impl std::panic::RefUnwindSafe for OwnedScope {}

impl PartialEq for Pool {
    /// Two pools are equal when they are clones sharing the same workers.
    fn eq(&self, other: &Pool) -> bool {
        ptr::eq(&*self.shared, &*other.shared)
    }
}

impl Eq for Pool {}
