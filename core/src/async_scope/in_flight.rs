//! [`InFlight`]: a set of owned futures that are all polled on every poll.

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::pool::drop_catching;

/// A boxed, `Send` future borrowing for `'a`: the unit [`InFlight`] owns.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A set of owned in-flight futures, each tagged with a caller-chosen `usize` id.
///
/// This is the reusable core of [`AsyncScope`](super::AsyncScope), meant for any driver that has
/// to run several futures inside one task (the batch driver's records, for instance):
///
/// - [`poll_all`](Self::poll_all) polls **every** future in the set, each time, with the caller's
///   context. No future is starved while another one holds a lock it waits for, which is the
///   "snoozing" trap of `buffer_unordered`, where a future that is not polled keeps a lock held.
///   All futures share the caller's waker: any wake-up re-polls the whole set, so the cost of a
///   poll is linear in [`len`](Self::len). Keep the set bounded (a concurrency limit).
/// - Dropping the set drops (cancels) every future still in it: none outlives it.
/// - If a future panics while being polled, it is removed from the set and dropped (a panic of
///   its `Drop` is contained) before the panic propagates out of `poll_all`, so it is never
///   polled again; the other futures stay in the set.
///
/// Limits and admission (which future to push next) are the caller's business.
pub(crate) struct InFlight<'a, T> {
    futures: Vec<(usize, BoxFuture<'a, T>)>,
}

impl<'a, T> InFlight<'a, T> {
    /// An empty set.
    pub(crate) fn new() -> Self {
        InFlight {
            futures: Vec::new(),
        }
    }

    /// Adds a future under `id` (ids need not be unique; they are handed back with the output).
    /// It is first polled by the next [`poll_all`](Self::poll_all).
    pub(crate) fn push(&mut self, id: usize, future: BoxFuture<'a, T>) {
        self.futures.push((id, future));
    }

    /// Number of futures in the set (not yet completed).
    pub(crate) fn len(&self) -> usize {
        self.futures.len()
    }

    /// Whether the set is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.futures.is_empty()
    }

    /// Polls every future once and appends `(id, output)` to `done` for those that completed;
    /// they leave the set. Returns the number that completed.
    pub(crate) fn poll_all_into(
        &mut self,
        cx: &mut Context<'_>,
        done: &mut Vec<(usize, T)>,
    ) -> usize {
        let before = done.len();
        let mut i = 0;
        while i < self.futures.len() {
            // A future that panics leaves the set before the panic goes on, so it is never
            // polled again. Caught and resumed rather than detected in a guard's `Drop` with
            // `thread::panicking()`, which is also true when this set is polled (normally) from
            // a destructor running during some other unwind.
            let polled = catch_unwind(AssertUnwindSafe(|| self.futures[i].1.as_mut().poll(cx)));
            let poll = match polled {
                Ok(poll) => poll,
                Err(payload) => {
                    // Its `Drop` is user code and may panic too: contained, so the first panic
                    // is the one that propagates (a second unwind would abort).
                    drop_catching(self.futures.swap_remove(i));
                    resume_unwind(payload);
                }
            };
            match poll {
                Poll::Ready(output) => {
                    let (id, _future) = self.futures.swap_remove(i);
                    done.push((id, output));
                }
                Poll::Pending => i += 1,
            }
        }
        done.len() - before
    }

    /// Like [`poll_all_into`](Self::poll_all_into), returning the completed `(id, output)` pairs
    /// (no allocation when none completed).
    #[allow(dead_code)] // part of the reusable surface for the batch driver
    pub(crate) fn poll_all(&mut self, cx: &mut Context<'_>) -> Vec<(usize, T)> {
        let mut done = Vec::new();
        self.poll_all_into(cx, &mut done);
        done
    }

    /// Drops (cancels) every future in the set.
    pub(crate) fn clear(&mut self) {
        self.futures.clear();
    }
}

impl<T> Default for InFlight<'_, T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    struct CountDrop(Arc<AtomicUsize>);
    impl Drop for CountDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn polls_all_and_drops_rest() {
        let drops = Arc::new(AtomicUsize::new(0));
        let mut set: InFlight<'_, usize> = InFlight::new();
        set.push(7, Box::pin(async { 70 }));
        let guard = CountDrop(drops.clone());
        set.push(
            8,
            Box::pin(async move {
                let _g = guard;
                std::future::pending::<()>().await;
                80
            }),
        );
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(set.poll_all(&mut cx), vec![(7, 70)]);
        assert_eq!(set.len(), 1);
        assert!(set.poll_all(&mut cx).is_empty());
        drop(set);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn panicking_future_is_removed() {
        let mut set: InFlight<'_, u8> = InFlight::new();
        set.push(0, Box::pin(std::future::pending()));
        set.push(1, Box::pin(async { panic!("boom") }));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| set.poll_all(&mut cx)));
        assert!(r.is_err());
        assert_eq!(set.len(), 1);
        assert!(set.poll_all(&mut cx).is_empty());
    }
}
