//! A runtime-agnostic timer: [`sleep`] and [`sleep_until`] work under any executor.
//!
//! One timer thread (named `lanepool-timer`) is started lazily by the first [`Sleep`] that has to
//! wait. It keeps the pending deadlines in a binary heap and sleeps on a condition variable until
//! the earliest one; with nothing pending it parks indefinitely, so an idle process pays nothing.
//! Registering a sleep is one heap push under a short lock (`O(log n)`), so many thousands of
//! pending sleeps are cheap.
//!
//! A [`Sleep`] is ready once [`Instant::now`] has reached its deadline, never earlier. A dropped
//! `Sleep` releases its waker at once; its heap entry is discarded when it comes due, or earlier
//! when cancelled entries make up most of the heap.
//!
//! - **Wakers are contained.** A waker whose `wake` (or `Drop`) panics is the timer thread's
//!   problem only for that one wake-up: the panic is caught, and every other sleep still fires.
//! - **Fork.** The timer records the process it serves. In a child made by `fork` (which has
//!   none of the parent's threads), the first sleep that has to wait starts a fresh timer; a
//!   `Sleep` registered before the fork and polled in the child registers again with it.
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! let start = Instant::now();
//! futures::executor::block_on(lanepool::timer::sleep(Duration::from_millis(5)));
//! assert!(start.elapsed() >= Duration::from_millis(5));
//! ```

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::fmt;
use std::future::Future;
use std::mem;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::process;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::pool::{drop_catching, AbortIfPanic};

/// Returns a future that completes once `deadline` has been reached.
///
/// A deadline in the past completes on the first poll without touching the timer thread.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let deadline = Instant::now() + Duration::from_millis(5);
/// futures::executor::block_on(lanepool::timer::sleep_until(deadline));
/// assert!(Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        registered: None,
    }
}

/// Returns a future that completes once `duration` has elapsed from now.
///
/// A duration too large to represent as an [`Instant`] sleeps for about thirty years.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// futures::executor::block_on(lanepool::timer::sleep(Duration::from_millis(5)));
/// assert!(start.elapsed() >= Duration::from_millis(5));
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    let now = Instant::now();
    let deadline = now
        .checked_add(duration)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 24 * 3600));
    sleep_until(deadline)
}

/// Future returned by [`sleep`] and [`sleep_until`]: completes once its deadline is reached.
///
/// It is `Send`, `Sync` and `Unpin`, needs no runtime, and may be polled from any executor (even
/// a different one on each poll). Polling it again after completion returns `Ready` again.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let sleep = lanepool::timer::sleep(Duration::from_millis(1));
/// let deadline: Instant = sleep.deadline();
/// futures::executor::block_on(sleep);
/// assert!(Instant::now() >= deadline);
/// ```
pub struct Sleep {
    deadline: Instant,
    /// Registered with the timer thread on the first poll that has to wait.
    registered: Option<Registered>,
}

/// A [`Sleep`]'s place in a timer's heap.
struct Registered {
    entry: Arc<Entry>,
    /// The timer the entry is in: of this process, unless the process forked since.
    timer: &'static Timer,
}

impl Sleep {
    /// The instant at which this sleep completes.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let deadline = Instant::now() + Duration::from_secs(1);
    /// assert_eq!(lanepool::timer::sleep_until(deadline).deadline(), deadline);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has been reached (without polling).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// assert!(lanepool::timer::sleep_until(Instant::now()).is_elapsed());
    /// assert!(!lanepool::timer::sleep(Duration::from_secs(60)).is_elapsed());
    /// ```
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.registered.is_some())
            .finish()
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if Instant::now() >= this.deadline {
            return Poll::Ready(());
        }
        if let Some(registered) = &this.registered {
            if registered.timer.pid != process::id() {
                // Registered before a fork: that timer's thread does not exist here. Register
                // afresh with this process's timer (the old entry's lock is not touched: a
                // thread that vanished in the fork may hold it).
                if let Some(old) = this.registered.take() {
                    mem::forget(old.entry);
                }
            }
        }
        match &this.registered {
            Some(Registered { entry, .. }) => {
                let mut waker = entry.waker.lock();
                // The timer thread sets `fired` before taking the waker, under this lock.
                // `Instant` is monotonic, so a fired entry means the deadline has passed.
                if entry.fired.load(Ordering::Acquire) {
                    return Poll::Ready(());
                }
                match &*waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
            }
            None => {
                let entry = Arc::new(Entry {
                    fired: AtomicBool::new(false),
                    cancelled: AtomicBool::new(false),
                    waker: Mutex::new(Some(cx.waker().clone())),
                });
                let timer = timer();
                timer.register(this.deadline, entry.clone());
                this.registered = Some(Registered { entry, timer });
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        let Some(Registered { entry, timer }) = self.registered.take() else {
            return;
        };
        if timer.pid != process::id() {
            // The timer of the process we forked from: its locks may be held by a thread that
            // vanished in the fork. Leave it alone.
            mem::forget(entry);
            return;
        }
        if !entry.fired.load(Ordering::Acquire) {
            entry.cancelled.store(true, Ordering::Release);
            let waker = entry.waker.lock().take();
            timer.note_cancelled();
            drop(waker);
        }
    }
}

/// Shared between a registered [`Sleep`] and the timer thread.
struct Entry {
    fired: AtomicBool,
    cancelled: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

/// A heap item, ordered so that the earliest deadline is on top.
struct Item {
    deadline: Instant,
    seq: u64,
    entry: Arc<Entry>,
}

impl PartialEq for Item {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Item {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        // Reversed: BinaryHeap is a max-heap.
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

#[derive(Default)]
struct State {
    heap: BinaryHeap<Item>,
    seq: u64,
    /// Cancelled entries still in the heap (an estimate; exact enough to trigger compaction).
    cancelled: usize,
}

struct Timer {
    /// The process whose thread serves this timer.
    pid: u32,
    state: Mutex<State>,
    wakeup: Condvar,
}

/// Heaps smaller than this are never compacted: cancelled entries just expire.
const COMPACT_MIN: usize = 64;

/// The timer of this process: leaked, never freed, replaced (and the old one abandoned) only
/// in a child made by `fork`, which has none of its parent's threads.
static TIMER: AtomicPtr<Timer> = AtomicPtr::new(ptr::null_mut());

/// This process's timer, started on first use (and again in a forked child).
fn timer() -> &'static Timer {
    let current = TIMER.load(Ordering::Acquire);
    // SAFETY: a non-null `TIMER` comes from `Box::leak` in `start_timer` and is never freed.
    match unsafe { current.as_ref() } {
        Some(timer) if timer.pid == process::id() => timer,
        _ => start_timer(current),
    }
}

/// Installs a fresh timer in place of `current` (none yet, or a forked-from parent's) and
/// starts its thread. Lock-free, so that a fork taken while another thread starts the timer
/// cannot leave a lock held in the child.
#[cold]
fn start_timer(current: *mut Timer) -> &'static Timer {
    let fresh: &'static mut Timer = Box::leak(Box::new(Timer {
        pid: process::id(),
        state: Mutex::new(State::default()),
        wakeup: Condvar::new(),
    }));
    let fresh_ptr: *mut Timer = fresh;
    match TIMER.compare_exchange(current, fresh_ptr, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {}
        Err(_) => {
            // SAFETY: `fresh` was never published: this is its only pointer.
            drop(unsafe { Box::from_raw(fresh_ptr) });
            // Another thread installed one meanwhile (or forked it, in which case try again).
            return timer();
        }
    }
    let timer: &'static Timer = fresh;
    let started = std::thread::Builder::new()
        .name("lanepool-timer".into())
        .spawn(move || timer.run());
    if let Err(e) = started {
        // Give the next sleep a chance to start it (and never leave a timer without a thread).
        let _ = TIMER.compare_exchange(fresh_ptr, current, Ordering::AcqRel, Ordering::Acquire);
        panic!("lanepool: cannot start the timer thread: {e}");
    }
    timer
}

impl Timer {
    fn register(&self, deadline: Instant, entry: Arc<Entry>) {
        let mut state = self.state.lock();
        state.seq += 1;
        let seq = state.seq;
        let earliest = state.heap.peek().is_none_or(|top| deadline < top.deadline);
        state.heap.push(Item {
            deadline,
            seq,
            entry,
        });
        drop(state);
        if earliest {
            self.wakeup.notify_one();
        }
    }

    fn note_cancelled(&self) {
        let mut state = self.state.lock();
        state.cancelled += 1;
        if state.cancelled >= COMPACT_MIN && state.cancelled * 2 > state.heap.len() {
            state
                .heap
                .retain(|item| !item.entry.cancelled.load(Ordering::Acquire));
            state.cancelled = 0;
        }
    }

    /// The timer thread. A waker is user code: its `wake` (and the `Drop` of the waker it
    /// consumes) may panic; that is caught, so one bad waker never stops the timer for the
    /// rest of the process. Anything else panicking here would leave every later sleep hanging,
    /// so it aborts instead.
    fn run(&self) -> ! {
        let _guard = AbortIfPanic {
            section: "the timer thread",
        };
        let mut due: Vec<Arc<Entry>> = Vec::new();
        loop {
            let mut state = self.state.lock();
            loop {
                let now = Instant::now();
                while let Some(top) = state.heap.peek() {
                    if top.deadline > now {
                        break;
                    }
                    let item = state.heap.pop().expect("peeked");
                    if item.entry.cancelled.load(Ordering::Acquire) {
                        state.cancelled = state.cancelled.saturating_sub(1);
                    } else {
                        due.push(item.entry);
                    }
                }
                if !due.is_empty() {
                    break;
                }
                match state.heap.peek() {
                    Some(top) => {
                        let deadline = top.deadline;
                        self.wakeup.wait_until(&mut state, deadline);
                    }
                    None => self.wakeup.wait(&mut state),
                }
            }
            drop(state);
            // Wake outside the heap lock: a waker may poll in place and register a new sleep.
            for entry in due.drain(..) {
                let waker = {
                    let mut slot = entry.waker.lock();
                    entry.fired.store(true, Ordering::Release);
                    slot.take()
                };
                if let Some(waker) = waker {
                    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
                        drop_catching(payload);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_orders_earliest_first() {
        let now = Instant::now();
        let entry = || {
            Arc::new(Entry {
                fired: AtomicBool::new(false),
                cancelled: AtomicBool::new(false),
                waker: Mutex::new(None),
            })
        };
        let mut heap = BinaryHeap::new();
        for (i, ms) in [30u64, 10, 20].into_iter().enumerate() {
            heap.push(Item {
                deadline: now + Duration::from_millis(ms),
                seq: i as u64,
                entry: entry(),
            });
        }
        let order: Vec<u64> = std::iter::from_fn(|| heap.pop().map(|i| i.seq)).collect();
        assert_eq!(order, vec![1, 2, 0]);
    }
}
