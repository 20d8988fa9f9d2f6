//! A runtime-agnostic async scope: run futures concurrently under a limit, inside one task.
//!
//! [`AsyncScope`] is a future that *owns* every future spawned on it (moro's model, without any
//! `unsafe`): spawned futures may borrow from the enclosing stack frame (`'a`), and they run only
//! while the scope future is polled, on whatever executor polls it (tokio, `futures::executor`,
//! smol, ...); the crate depends on no runtime.
//!
//! - **Completion.** The scope completes once every spawned future (including those spawned by
//!   spawned futures, through a [`Spawner`]) has completed, and yields their outputs in spawn
//!   order.
//! - **Limit.** At most `limit` spawned futures are in flight (started and not finished); the
//!   rest wait in a FIFO queue and are not polled at all until a slot frees. A limit of `0` is
//!   treated as `1`, like [`BatchOptions::concurrency`](crate::batch::BatchOptions::concurrency);
//!   pass `usize::MAX` for no limit.
//! - **No snoozing.** Each poll of the scope polls *every* in-flight future (they share the
//!   scope's waker), so a future holding a lock is never starved by another that waits for it,
//!   the trap of `buffer_unordered`. A poll therefore costs `O(in flight)`.
//! - **Cancellation.** Dropping the scope future drops every unfinished future, in flight or
//!   queued, before `drop` returns: none outlives the scope, none runs afterwards. A future
//!   spawned (through a [`Spawner`]) after the scope completed or was dropped is dropped at once
//!   without being polled ([`Spawner::is_closed`] tells).
//! - **Panics.** A panic in a spawned future propagates out of the scope's `poll` (the
//!   executor's usual handling applies: `block_on` unwinds, a tokio task reports a `JoinError`).
//!   The panicking future is dropped; polling the scope again after that panics.
//!
//! The fallible form, [`TryAsyncScope`] (or [`try_scope`]), runs every future to completion even
//! when some fail, and returns all the errors.
//!
//! ```
//! use lanepool::async_scope::AsyncScope;
//!
//! let names = vec!["a".to_string(), "bb".to_string(), "ccc".to_string()];
//! let lengths = futures::executor::block_on(async {
//!     let scope = AsyncScope::new(2);
//!     for name in &names {
//!         scope.spawn(async move { name.len() }); // borrows `names`
//!     }
//!     scope.await
//! });
//! assert_eq!(lengths, vec![1, 2, 3]);
//! ```

mod in_flight;

pub(crate) use in_flight::{BoxFuture, InFlight};

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

/// State shared by a scope and its spawners.
struct Shared<'a, T> {
    queue: Mutex<Queue<'a, T>>,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
}

struct Queue<'a, T> {
    /// Spawned, not yet started: `(spawn index, future)`.
    pending: VecDeque<(usize, BoxFuture<'a, T>)>,
    /// Spawn index of the next spawned future.
    next_index: usize,
    /// Set when the scope completed or was dropped: spawns are dropped from then on.
    closed: bool,
    /// The scope's task, woken by spawns from outside its own poll.
    waker: Option<Waker>,
}

impl<'a, T> Shared<'a, T> {
    fn spawn(&self, future: BoxFuture<'a, T>) {
        let mut queue = self.queue.lock();
        if queue.closed {
            drop(queue);
            drop(future); // outside the lock: its drop may spawn
            return;
        }
        let index = queue.next_index;
        queue.next_index += 1;
        queue.pending.push_back((index, future));
        let waker = queue.waker.clone();
        drop(queue);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// A future that runs spawned futures with a concurrency limit and completes with their outputs,
/// in spawn order, once all of them (nested spawns included) have completed.
///
/// It is `Unpin`, and `Send` when `T: Send`. See the [module docs](self) for the semantics
/// (limit, cancellation on drop, panics).
///
/// ```
/// use lanepool::async_scope::AsyncScope;
///
/// let scope = AsyncScope::new(4);
/// let spawner = scope.spawner();
/// scope.spawn(async move {
///     spawner.spawn(async { 2 }); // nested spawn, from inside a spawned future
///     1
/// });
/// assert_eq!(futures::executor::block_on(scope), vec![1, 2]);
/// ```
pub struct AsyncScope<'a, T> {
    shared: Arc<Shared<'a, T>>,
    limit: usize,
    in_flight: InFlight<'a, T>,
    /// The body of [`scope`]: polled with the spawned futures, not counted against the limit.
    body: Option<BoxFuture<'a, ()>>,
    results: Vec<Option<T>>,
    completed: Vec<(usize, T)>,
    /// Set while a poll runs: still set on entry means the previous poll panicked.
    polling: bool,
    done: bool,
}

impl<'a, T> AsyncScope<'a, T> {
    /// Creates an empty scope running at most `limit` futures at a time (`0` is treated as `1`;
    /// `usize::MAX` means no limit). Awaiting an empty scope yields an empty `Vec` at once.
    ///
    /// ```
    /// use lanepool::async_scope::AsyncScope;
    ///
    /// let scope: AsyncScope<'_, u32> = AsyncScope::new(8);
    /// assert!(futures::executor::block_on(scope).is_empty());
    /// ```
    pub fn new(limit: usize) -> Self {
        AsyncScope {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue {
                    pending: VecDeque::new(),
                    next_index: 0,
                    closed: false,
                    waker: None,
                }),
                in_flight: AtomicUsize::new(0),
                peak_in_flight: AtomicUsize::new(0),
            }),
            limit: limit.max(1),
            in_flight: InFlight::new(),
            body: None,
            results: Vec::new(),
            completed: Vec::new(),
            polling: false,
            done: false,
        }
    }

    /// Queues `future`; it starts (is first polled) once the scope is polled and a slot is free.
    /// Its output takes the next position in the scope's output.
    ///
    /// ```
    /// use lanepool::async_scope::AsyncScope;
    ///
    /// let scope = AsyncScope::new(1);
    /// scope.spawn(async { "first" });
    /// scope.spawn(async { "second" });
    /// assert_eq!(futures::executor::block_on(scope), ["first", "second"]);
    /// ```
    pub fn spawn(&self, future: impl Future<Output = T> + Send + 'a) {
        self.shared.spawn(Box::pin(future));
    }

    /// A cloneable, `Send + Sync` handle that spawns on this scope, for spawned futures (nested
    /// spawns) or other tasks.
    ///
    /// ```
    /// use lanepool::async_scope::AsyncScope;
    ///
    /// let scope = AsyncScope::new(2);
    /// let spawner = scope.spawner();
    /// for i in 0..3u64 {
    ///     let inner = spawner.clone();
    ///     spawner.spawn(async move {
    ///         inner.spawn(async move { i * 10 });
    ///         i
    ///     });
    /// }
    /// let mut out = futures::executor::block_on(scope);
    /// out.sort();
    /// assert_eq!(out, vec![0, 0, 1, 2, 10, 20]);
    /// ```
    pub fn spawner(&self) -> Spawner<'a, T> {
        Spawner {
            shared: self.shared.clone(),
        }
    }

    /// Number of spawned futures started and not yet completed, as of the scope's last poll.
    ///
    /// ```
    /// use lanepool::async_scope::AsyncScope;
    ///
    /// let scope = AsyncScope::new(2);
    /// scope.spawn(async { 1 });
    /// assert_eq!(scope.in_flight(), 0); // nothing starts before the scope is polled
    /// ```
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::Relaxed)
    }

    /// Highest [`in_flight`](Self::in_flight) seen so far; never above the limit.
    ///
    /// ```
    /// use lanepool::async_scope::AsyncScope;
    ///
    /// let scope = AsyncScope::new(2);
    /// let spawner = scope.spawner();
    /// for i in 0..5 {
    ///     scope.spawn(async move { i });
    /// }
    /// futures::executor::block_on(scope);
    /// assert_eq!(spawner.peak_in_flight(), 2);
    /// ```
    pub fn peak_in_flight(&self) -> usize {
        self.shared.peak_in_flight.load(Ordering::Relaxed)
    }

    /// The concurrency limit (after treating `0` as `1`).
    ///
    /// ```
    /// use lanepool::async_scope::AsyncScope;
    ///
    /// assert_eq!(AsyncScope::<()>::new(0).limit(), 1);
    /// assert_eq!(AsyncScope::<()>::new(16).limit(), 16);
    /// ```
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Moves queued futures into free slots; returns how many started.
    fn admit(&mut self) -> usize {
        let free = self.limit.saturating_sub(self.in_flight.len());
        if free == 0 {
            return 0;
        }
        let mut queue = self.shared.queue.lock();
        let take = free.min(queue.pending.len());
        for (index, future) in queue.pending.drain(..take) {
            self.in_flight.push(index, future);
        }
        drop(queue);
        if take > 0 {
            let now = self.in_flight.len();
            self.shared.in_flight.store(now, Ordering::Relaxed);
            self.shared.peak_in_flight.fetch_max(now, Ordering::Relaxed);
        }
        take
    }

    fn store_completed(&mut self) {
        for (index, output) in self.completed.drain(..) {
            if index >= self.results.len() {
                self.results.resize_with(index + 1, || None);
            }
            self.results[index] = Some(output);
        }
        self.shared
            .in_flight
            .store(self.in_flight.len(), Ordering::Relaxed);
    }

    /// Drops every unfinished future and refuses further spawns.
    fn close(&mut self) {
        let pending = {
            let mut queue = self.shared.queue.lock();
            queue.closed = true;
            queue.waker = None;
            std::mem::take(&mut queue.pending)
        };
        // Outside the lock: these drops may spawn (and are then dropped at once).
        drop(pending);
        self.body = None;
        self.in_flight.clear();
        self.shared.in_flight.store(0, Ordering::Relaxed);
    }
}

// Outputs are never pinned: the scope only moves them. Spawned futures are pinned in boxes.
impl<T> Unpin for AsyncScope<'_, T> {}

impl<T> Future for AsyncScope<'_, T> {
    type Output = Vec<T>;

    /// Polls the body (if any) and every in-flight future, starting queued ones as slots free.
    ///
    /// # Panics
    ///
    /// Propagates a panic of a spawned future; panics if polled again after that, or after it
    /// returned `Ready`.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<T>> {
        let this = self.get_mut();
        assert!(!this.done, "AsyncScope polled after completion");
        assert!(
            !this.polling,
            "AsyncScope polled after a spawned future panicked"
        );
        this.polling = true;
        {
            let mut queue = this.shared.queue.lock();
            match &queue.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => queue.waker = Some(cx.waker().clone()),
            }
        }
        loop {
            if let Some(body) = &mut this.body {
                if body.as_mut().poll(cx).is_ready() {
                    this.body = None;
                }
            }
            this.admit();
            let mut completed = std::mem::take(&mut this.completed);
            this.in_flight.poll_all_into(cx, &mut completed);
            this.completed = completed;
            this.store_completed();

            let queue = this.shared.queue.lock();
            let queued = queue.pending.len();
            if queued == 0 && this.in_flight.is_empty() && this.body.is_none() {
                drop(queue);
                this.polling = false;
                this.done = true;
                this.close();
                let results = std::mem::take(&mut this.results);
                return Poll::Ready(
                    results
                        .into_iter()
                        .map(|r| r.expect("every spawned future completed"))
                        .collect(),
                );
            }
            drop(queue);
            if queued > 0 && this.in_flight.len() < this.limit {
                // Spawned during this poll, or slots freed: start them now.
                continue;
            }
            this.polling = false;
            return Poll::Pending;
        }
    }
}

impl<T> Drop for AsyncScope<'_, T> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<T> fmt::Debug for AsyncScope<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncScope")
            .field("limit", &self.limit)
            .field("in_flight", &self.in_flight.len())
            .field("queued", &self.shared.queue.lock().pending.len())
            .field("done", &self.done)
            .finish()
    }
}

/// A cloneable, `Send + Sync` handle that spawns futures on an [`AsyncScope`].
///
/// It may be moved into spawned futures (nested spawns) or other tasks. A spawn after the scope
/// completed or was dropped drops the future without polling it: the scope completes as soon as
/// nothing is queued or running, so spawns from outside its own futures must happen before.
///
/// ```
/// use lanepool::async_scope::{AsyncScope, Spawner};
///
/// fn fan_out(spawner: Spawner<'_, u32>, depth: u32) {
///     if depth > 0 {
///         let inner = spawner.clone();
///         spawner.spawn(async move {
///             fan_out(inner, depth - 1);
///             depth
///         });
///     }
/// }
/// let scope = AsyncScope::new(3);
/// fan_out(scope.spawner(), 3);
/// assert_eq!(futures::executor::block_on(scope), vec![3, 2, 1]);
/// ```
pub struct Spawner<'a, T> {
    shared: Arc<Shared<'a, T>>,
}

impl<'a, T> Spawner<'a, T> {
    /// Queues `future` on the scope, like [`AsyncScope::spawn`].
    ///
    /// ```
    /// use lanepool::async_scope::AsyncScope;
    ///
    /// let scope = AsyncScope::new(1);
    /// scope.spawner().spawn(async { 5 });
    /// assert_eq!(futures::executor::block_on(scope), vec![5]);
    /// ```
    pub fn spawn(&self, future: impl Future<Output = T> + Send + 'a) {
        self.shared.spawn(Box::pin(future));
    }

    /// Whether the scope completed or was dropped (spawns are then dropped unpolled).
    ///
    /// ```
    /// use lanepool::async_scope::AsyncScope;
    ///
    /// let scope = AsyncScope::<u8>::new(1);
    /// let spawner = scope.spawner();
    /// assert!(!spawner.is_closed());
    /// drop(scope);
    /// assert!(spawner.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.queue.lock().closed
    }

    /// Number of the scope's futures in flight, as of its last poll.
    ///
    /// ```
    /// use lanepool::async_scope::AsyncScope;
    ///
    /// let scope = AsyncScope::new(4);
    /// let spawner = scope.spawner();
    /// let probe = spawner.clone();
    /// spawner.spawn(async move { probe.in_flight() });
    /// spawner.spawn(async { 0 });
    /// assert_eq!(futures::executor::block_on(scope)[0], 2);
    /// ```
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::Relaxed)
    }

    /// Highest number of the scope's futures in flight so far.
    ///
    /// ```
    /// use lanepool::async_scope::AsyncScope;
    ///
    /// let scope = AsyncScope::new(3);
    /// let spawner = scope.spawner();
    /// for _ in 0..10 {
    ///     spawner.spawn(async {});
    /// }
    /// futures::executor::block_on(scope);
    /// assert_eq!(spawner.peak_in_flight(), 3);
    /// ```
    pub fn peak_in_flight(&self) -> usize {
        self.shared.peak_in_flight.load(Ordering::Relaxed)
    }
}

impl<T> Clone for Spawner<'_, T> {
    fn clone(&self) -> Self {
        Spawner {
            shared: self.shared.clone(),
        }
    }
}

impl<T> fmt::Debug for Spawner<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawner")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Creates a scope whose `body` receives a [`Spawner`]; the returned future completes once the
/// body and every spawned future completed, with the spawned futures' outputs in spawn order.
///
/// The body runs inside the scope future and is polled with the spawned futures on every poll;
/// it does not count against `limit`.
///
/// ```
/// use lanepool::async_scope::scope;
///
/// let inputs = vec![1u64, 2, 3, 4];
/// let inputs = &inputs; // the body and the spawned futures borrow the caller's data
/// let squares = futures::executor::block_on(scope(2, |s| async move {
///     for x in inputs {
///         s.spawn(async move { x * x });
///     }
/// }));
/// assert_eq!(squares, vec![1, 4, 9, 16]);
/// ```
pub fn scope<'a, T, F, Fut>(limit: usize, body: F) -> AsyncScope<'a, T>
where
    F: FnOnce(Spawner<'a, T>) -> Fut,
    Fut: Future<Output = ()> + Send + 'a,
{
    let mut scope = AsyncScope::new(limit);
    scope.body = Some(Box::pin(body(scope.spawner())));
    scope
}

/// The fallible form of [`AsyncScope`]: spawned futures return `Result<T, E>`, a failure cancels
/// nothing, and the scope yields `Ok` with every output in spawn order when all succeeded, or
/// `Err` with **every** error, in spawn order (mirroring the thread pool's `try_scope`).
///
/// ```
/// use lanepool::async_scope::TryAsyncScope;
///
/// let scope = TryAsyncScope::new(2);
/// for i in 0..5u32 {
///     scope.spawn(async move { if i % 2 == 1 { Err(i) } else { Ok(i) } });
/// }
/// assert_eq!(futures::executor::block_on(scope), Err(vec![1, 3]));
/// ```
pub struct TryAsyncScope<'a, T, E> {
    inner: AsyncScope<'a, Result<T, E>>,
}

impl<'a, T, E> TryAsyncScope<'a, T, E> {
    /// Creates an empty fallible scope; `limit` as in [`AsyncScope::new`].
    ///
    /// ```
    /// use lanepool::async_scope::TryAsyncScope;
    ///
    /// let scope: TryAsyncScope<'_, u8, String> = TryAsyncScope::new(4);
    /// assert_eq!(futures::executor::block_on(scope), Ok(vec![]));
    /// ```
    pub fn new(limit: usize) -> Self {
        TryAsyncScope {
            inner: AsyncScope::new(limit),
        }
    }

    /// Queues a fallible future, like [`AsyncScope::spawn`].
    ///
    /// ```
    /// use lanepool::async_scope::TryAsyncScope;
    ///
    /// let scope = TryAsyncScope::<_, ()>::new(1);
    /// scope.spawn(async { Ok(1) });
    /// assert_eq!(futures::executor::block_on(scope), Ok(vec![1]));
    /// ```
    pub fn spawn(&self, future: impl Future<Output = Result<T, E>> + Send + 'a) {
        self.inner.spawn(future);
    }

    /// A spawner for nested spawns, like [`AsyncScope::spawner`].
    ///
    /// ```
    /// use lanepool::async_scope::TryAsyncScope;
    ///
    /// let scope = TryAsyncScope::<u8, &str>::new(1);
    /// let spawner = scope.spawner();
    /// scope.spawn(async move {
    ///     spawner.spawn(async { Err("nested failed") });
    ///     Ok(1)
    /// });
    /// assert_eq!(futures::executor::block_on(scope), Err(vec!["nested failed"]));
    /// ```
    pub fn spawner(&self) -> Spawner<'a, Result<T, E>> {
        self.inner.spawner()
    }

    /// See [`AsyncScope::in_flight`].
    ///
    /// ```
    /// let scope = lanepool::async_scope::TryAsyncScope::<(), ()>::new(1);
    /// assert_eq!(scope.in_flight(), 0);
    /// ```
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight()
    }

    /// See [`AsyncScope::peak_in_flight`].
    ///
    /// ```
    /// let scope = lanepool::async_scope::TryAsyncScope::<(), ()>::new(1);
    /// assert_eq!(scope.peak_in_flight(), 0);
    /// ```
    pub fn peak_in_flight(&self) -> usize {
        self.inner.peak_in_flight()
    }

    /// Turns into the underlying scope, whose output keeps every `Result` in spawn order.
    ///
    /// ```
    /// use lanepool::async_scope::TryAsyncScope;
    ///
    /// let scope = TryAsyncScope::new(2);
    /// scope.spawn(async { Ok(1) });
    /// scope.spawn(async { Err("no") });
    /// let all = futures::executor::block_on(scope.into_inner());
    /// assert_eq!(all, vec![Ok(1), Err("no")]);
    /// ```
    pub fn into_inner(self) -> AsyncScope<'a, Result<T, E>> {
        self.inner
    }
}

impl<T, E> Unpin for TryAsyncScope<'_, T, E> {}

impl<T, E> Future for TryAsyncScope<'_, T, E> {
    type Output = Result<Vec<T>, Vec<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let results = match Pin::new(&mut self.get_mut().inner).poll(cx) {
            Poll::Ready(results) => results,
            Poll::Pending => return Poll::Pending,
        };
        let mut oks = Vec::with_capacity(results.len());
        let mut errs = Vec::new();
        for result in results {
            match result {
                Ok(v) => oks.push(v),
                Err(e) => errs.push(e),
            }
        }
        Poll::Ready(if errs.is_empty() { Ok(oks) } else { Err(errs) })
    }
}

impl<T, E> fmt::Debug for TryAsyncScope<'_, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TryAsyncScope").field(&self.inner).finish()
    }
}

/// Like [`scope`], for fallible futures: see [`TryAsyncScope`].
///
/// ```
/// use lanepool::async_scope::try_scope;
///
/// let out = futures::executor::block_on(try_scope(4, |s| async move {
///     for word in ["1", "x", "3", "y"] {
///         s.spawn(async move { word.parse::<u8>().map_err(|_| word) });
///     }
/// }));
/// assert_eq!(out, Err(vec!["x", "y"]));
/// ```
pub fn try_scope<'a, T, E, F, Fut>(limit: usize, body: F) -> TryAsyncScope<'a, T, E>
where
    F: FnOnce(Spawner<'a, Result<T, E>>) -> Fut,
    Fut: Future<Output = ()> + Send + 'a,
{
    TryAsyncScope {
        inner: scope(limit, body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<X: Send + Sync>() {}
    fn assert_send<X: Send>() {}
    fn assert_unpin<X: Unpin>() {}

    #[test]
    fn auto_traits() {
        assert_send_sync::<Spawner<'static, String>>();
        assert_send::<AsyncScope<'static, String>>();
        assert_send::<TryAsyncScope<'static, String, String>>();
        assert_unpin::<AsyncScope<'static, std::rc::Rc<u8>>>();
    }
}
