//! [`InFlightLimit`]: a limit on handlers in flight across every batch call that shares it,
//! with free slots handed to the waiting calls in turn.
//!
//! A batch call's own `concurrency` bounds that call. When one execution environment serves
//! many invocations at once (Lambda Managed Instances: `AWS_LAMBDA_MAX_CONCURRENCY` of them),
//! one pool created at INIT is shared by all of them, and the downstream load is what they
//! run together. An `InFlightLimit` created once, next to the pool, and given to every call
//! ([`crate::batch::BatchOptions::in_flight_limit`]) bounds that sum.
//!
//! ## Fairness
//!
//! The limit knows calls, not records. A call that could start a record (its lanes and its own
//! `concurrency` allowing) but finds no free slot joins the *rotation*, once, at its back.
//! A refused call says how many records it could start now (its lanes and `concurrency`
//! allowing). A slot given back while calls wait is not put back in the pool: it is handed to
//! the call at the front of the rotation (reserved for it, and its wake-up hook called), which
//! moves to the back if it wants more. So while `k` calls wait, slots go to them in turn, one
//! at a time: no call gets a second slot before every other waiting call got one, and a
//! waiting call is served within `k - 1` hand-overs to others; a 10-record call that
//! starts while a 10,000-record call runs gets every `k`-th free slot, not the ones the big
//! call leaves. A call never takes a free slot while another waits (no barging), and a slot
//! is never left free while a call waits (work-conserving).
//!
//! ## Driving it without Rust futures
//!
//! The type is plain state behind a lock, `Clone + Send + Sync`, with no runtime: a driver
//! [`registers`](InFlightLimit::register) each call, gets a [`LimitedCall`], and
//! - asks [`LimitedCall::try_acquire`] before starting a record (the batch drivers do it
//!   through [`crate::lanes::LaneScheduler::next_if`] / [`LimitedCall::next`], so a record
//!   that gets no slot is not started and not counted as an attempt);
//! - calls [`LimitedCall::release`] when that record's handler ends (it says which waiting
//!   call got the slot, and has already called that call's hook);
//! - sets a wake-up hook ([`LimitedCall::set_waker`] for a `std::task::Waker`,
//!   [`LimitedCall::set_wake_hook`] for any function: an event-loop callback) that is called,
//!   outside the limit's lock, when a slot is handed to the call;
//! - drops the `LimitedCall` when the call ends (returns, is cancelled or unwinds): every slot
//!   it still holds or has reserved is released and it leaves the rotation.
//!
//! [`LimitedCall::acquire`] is the Rust-async convenience: a future that resolves once the
//! call holds one more slot.
//!
//! ```
//! use lanepool::limit::InFlightLimit;
//! let limit = InFlightLimit::new(1).unwrap();
//! let big = limit.register();
//! let small = limit.register();
//! assert!(big.try_acquire());         // a free slot: taken at once
//! assert!(!big.try_acquire());        // full: big waits (joins the rotation)
//! assert!(!small.try_acquire());      // small waits behind it
//! assert_eq!(big.release(), Ok(Some(big.id())));   // handed to the longest waiting call
//! assert!(big.try_acquire());         // ... which takes it
//! assert!(!big.try_acquire());        // and joins again, behind small
//! assert_eq!(big.release(), Ok(Some(small.id()))); // so the next slot is small's
//! assert!(small.try_acquire());
//! assert!(!small.try_acquire());      // small wants another one: behind big
//! drop(small);                        // a call that ends gives back what it holds
//! assert_eq!(limit.in_flight(), 1);   // the slot, now reserved for big
//! assert!(big.has_reserved());
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use parking_lot::Mutex;

use crate::lanes::{LaneScheduler, Next};
use crate::pool::drop_catching;

/// Why a limit could not be made or a slot not given back.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// A limit of 0 slots would never let anything run.
    #[error("an in-flight limit needs at least 1 slot")]
    Zero,
    /// [`LimitedCall::release`] was called by a call that holds no slot.
    #[error("the call holds no slot to release")]
    NotHeld,
}

/// One registered call of an [`InFlightLimit`] (see [`LimitedCall::id`]).
///
/// ```
/// use lanepool::limit::InFlightLimit;
/// let limit = InFlightLimit::new(2).unwrap();
/// let (a, b) = (limit.register(), limit.register());
/// assert_ne!(a.id(), b.id());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(u64);

impl CallId {
    /// The id as a number (unique within its limit; never reused).
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// let limit = InFlightLimit::new(1).unwrap();
    /// assert_eq!(limit.register().id().get() + 1, limit.register().id().get());
    /// ```
    pub fn get(self) -> u64 {
        self.0
    }
}

type Hook = Arc<dyn Fn() + Send + Sync>;

#[derive(Clone)]
enum Wake {
    Waker(Waker),
    Hook(Hook),
}

impl Wake {
    /// Runs the hook with a panic contained: the limit's counts are already right, and a
    /// driver must not unwind out of its bookkeeping because a waker did.
    fn wake(self) {
        let result = catch_unwind(AssertUnwindSafe(|| match self {
            Wake::Waker(waker) => waker.wake(),
            Wake::Hook(hook) => hook(),
        }));
        if let Err(payload) = result {
            drop(drop_catching(payload));
        }
    }
}

#[derive(Default)]
struct Entry {
    /// Slots this call's handlers hold.
    held: usize,
    /// Slots handed to this call, not yet taken by `try_acquire`.
    reserved: usize,
    /// Slots the call could still use when it was last refused, less those handed to it
    /// since: while above 0 the call is in the rotation.
    want: usize,
    wake: Option<Wake>,
}

struct State {
    limit: usize,
    /// Slots held by handlers or reserved for a woken call (never above `limit`).
    taken: usize,
    next_id: u64,
    calls: HashMap<CallId, Entry>,
    /// Calls waiting for a slot, longest waiting first; each at most once.
    rotation: VecDeque<CallId>,
    peak: usize,
}

impl State {
    /// A slot was given back: hand it to the call at the front of the rotation (which goes
    /// to the back if it wants more), or free it.
    fn hand_over(&mut self) -> Option<(CallId, Option<Wake>)> {
        while let Some(next) = self.rotation.pop_front() {
            if let Some(entry) = self.calls.get_mut(&next) {
                entry.reserved += 1;
                entry.want = entry.want.saturating_sub(1);
                if entry.want > 0 {
                    self.rotation.push_back(next);
                }
                // Last: the counts and the rotation are right even if a waker's clone panics.
                return Some((next, entry.wake.clone()));
            }
        }
        self.taken -= 1;
        None
    }
}

/// A limit on handlers in flight across every batch call that shares it, with free slots
/// handed to waiting calls in turn (see the [module docs](self)). Cloning it shares the same
/// limit; create one at INIT, next to the pool.
///
/// ```
/// use lanepool::batch::{process_event_async, BatchOptions};
/// use lanepool::limit::InFlightLimit;
/// // at INIT: at most 8 handlers in flight across all concurrent invocations
/// let limit = InFlightLimit::new(8).unwrap();
/// // per invocation: this call runs up to 4 at once, within the shared 8
/// let options = BatchOptions::new().concurrency(4).in_flight_limit(limit.clone());
/// let event = serde_json::json!({"Records": [
///     {"eventSource": "aws:sqs", "messageId": "a"},
///     {"eventSource": "aws:sqs", "messageId": "b"},
/// ]});
/// let report = futures::executor::block_on(process_event_async(&event, &options, |_| async {
///     Ok::<(), ()>(())
/// }))
/// .unwrap();
/// assert_eq!(report.succeeded(), ["a", "b"]);
/// assert_eq!(limit.in_flight(), 0);
/// ```
#[derive(Clone)]
pub struct InFlightLimit {
    state: Arc<Mutex<State>>,
}

impl InFlightLimit {
    /// A limit of `slots` handlers in flight at once (at least 1).
    ///
    /// ```
    /// use lanepool::limit::{InFlightLimit, LimitError};
    /// assert_eq!(InFlightLimit::new(64).unwrap().limit(), 64);
    /// assert_eq!(InFlightLimit::new(0).unwrap_err(), LimitError::Zero);
    /// ```
    pub fn new(slots: usize) -> Result<Self, LimitError> {
        if slots == 0 {
            return Err(LimitError::Zero);
        }
        Ok(InFlightLimit {
            state: Arc::new(Mutex::new(State {
                limit: slots,
                taken: 0,
                next_id: 0,
                calls: HashMap::new(),
                rotation: VecDeque::new(),
                peak: 0,
            })),
        })
    }

    /// Registers one call. Its slots are released, and it leaves the rotation, when the
    /// returned [`LimitedCall`] is dropped.
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// let limit = InFlightLimit::new(2).unwrap();
    /// let call = limit.register();
    /// assert_eq!(limit.calls(), 1);
    /// drop(call);
    /// assert_eq!(limit.calls(), 0);
    /// ```
    pub fn register(&self) -> LimitedCall {
        let mut st = self.state.lock();
        let id = CallId(st.next_id);
        st.next_id += 1;
        st.calls.insert(id, Entry::default());
        LimitedCall {
            limit: self.clone(),
            id,
        }
    }

    /// The most slots in flight at once.
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// assert_eq!(InFlightLimit::new(3).unwrap().limit(), 3);
    /// ```
    pub fn limit(&self) -> usize {
        self.state.lock().limit
    }

    /// Slots taken now: held by running handlers, or handed to a call that has not taken it
    /// yet. Never above [`limit`](Self::limit).
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// let limit = InFlightLimit::new(3).unwrap();
    /// let call = limit.register();
    /// assert!(call.try_acquire());
    /// assert_eq!(limit.in_flight(), 1);
    /// ```
    pub fn in_flight(&self) -> usize {
        self.state.lock().taken
    }

    /// The most slots taken at once since the limit was made.
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// let limit = InFlightLimit::new(3).unwrap();
    /// let call = limit.register();
    /// assert!(call.try_acquire() && call.try_acquire());
    /// call.release().unwrap();
    /// assert_eq!((limit.in_flight(), limit.peak_in_flight()), (1, 2));
    /// ```
    pub fn peak_in_flight(&self) -> usize {
        self.state.lock().peak
    }

    /// Calls registered now.
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// let limit = InFlightLimit::new(1).unwrap();
    /// let _a = limit.register();
    /// assert_eq!(limit.calls(), 1);
    /// ```
    pub fn calls(&self) -> usize {
        self.state.lock().calls.len()
    }

    /// The calls waiting for a slot, longest waiting first (the rotation).
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// let limit = InFlightLimit::new(1).unwrap();
    /// let (a, b) = (limit.register(), limit.register());
    /// assert!(a.try_acquire());
    /// assert!(!b.try_acquire());
    /// assert_eq!(limit.waiting(), [b.id()]);
    /// ```
    pub fn waiting(&self) -> Vec<CallId> {
        self.state.lock().rotation.iter().copied().collect()
    }
}

impl fmt::Debug for InFlightLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.lock();
        f.debug_struct("InFlightLimit")
            .field("limit", &st.limit)
            .field("in_flight", &st.taken)
            .field("calls", &st.calls.len())
            .field("waiting", &st.rotation.len())
            .finish()
    }
}

/// Two handles are equal when they share one limit.
impl PartialEq for InFlightLimit {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.state, &other.state)
    }
}

impl Eq for InFlightLimit {}

/// One call's membership of an [`InFlightLimit`]: what it holds, whether it waits, how to wake
/// it. Dropping it releases every slot it holds or has reserved, hands them to the waiting
/// calls and leaves the rotation, so a call that returns, is cancelled or unwinds leaks
/// nothing.
///
/// ```
/// use lanepool::limit::InFlightLimit;
/// let limit = InFlightLimit::new(1).unwrap();
/// let call = limit.register();
/// assert!(call.try_acquire());
/// assert_eq!(call.held(), 1);
/// assert_eq!(call.release(), Ok(None)); // nobody waits: the slot is free again
/// assert_eq!(limit.in_flight(), 0);
/// ```
pub struct LimitedCall {
    limit: InFlightLimit,
    id: CallId,
}

impl LimitedCall {
    /// This call's id (what [`release`](Self::release) names).
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// let limit = InFlightLimit::new(1).unwrap();
    /// let call = limit.register();
    /// assert_eq!(limit.register().id().get(), call.id().get() + 1);
    /// ```
    pub fn id(&self) -> CallId {
        self.id
    }

    /// The limit this call belongs to.
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// let limit = InFlightLimit::new(1).unwrap();
    /// assert_eq!(*limit.register().limit(), limit);
    /// ```
    pub fn limit(&self) -> &InFlightLimit {
        &self.limit
    }

    /// Takes one slot if this call may have one now: a slot handed to it, or a free slot when
    /// no call waits. Otherwise it joins the rotation (if not in it yet) and its hook is
    /// called when a slot is handed to it; call `try_acquire` again then. The same as
    /// [`try_acquire_for(1)`](Self::try_acquire_for).
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// let limit = InFlightLimit::new(1).unwrap();
    /// let (a, b) = (limit.register(), limit.register());
    /// assert!(a.try_acquire());
    /// assert!(!b.try_acquire());
    /// assert!(b.is_waiting());
    /// ```
    pub fn try_acquire(&self) -> bool {
        self.try_acquire_for(1)
    }

    /// [`try_acquire`](Self::try_acquire) by a call that could use `wanted` slots now (at
    /// least 1): when refused, it stays in the rotation until that many have been handed to
    /// it, one per round, each time going to the back, so waiting calls are served in turn,
    /// one slot at a time.
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// let limit = InFlightLimit::new(2).unwrap();
    /// let (a, b, c) = (limit.register(), limit.register(), limit.register());
    /// assert!(a.try_acquire() && a.try_acquire());
    /// assert!(!b.try_acquire_for(2)); // b could start 2 records
    /// assert!(!c.try_acquire_for(2)); // so could c
    /// assert_eq!(a.release(), Ok(Some(b.id())));
    /// assert_eq!(a.release(), Ok(Some(c.id()))); // c's turn, not b's second slot
    /// assert_eq!(limit.waiting(), [b.id(), c.id()]);
    /// ```
    pub fn try_acquire_for(&self, wanted: usize) -> bool {
        let mut st = self.limit.state.lock();
        let st = &mut *st;
        let free = st.taken < st.limit && st.rotation.is_empty();
        let Some(entry) = st.calls.get_mut(&self.id) else {
            return false;
        };
        if entry.reserved > 0 {
            entry.reserved -= 1;
            entry.held += 1;
            return true;
        }
        if free {
            entry.held += 1;
            st.taken += 1;
            st.peak = st.peak.max(st.taken);
            return true;
        }
        if entry.want == 0 {
            st.rotation.push_back(self.id);
        }
        entry.want = wanted.max(1);
        false
    }

    /// Gives back one slot this call holds (its handler ended). When calls wait, the slot is
    /// handed to the one that waited longest and its hook is called (after the lock is
    /// released, with a panic of the hook contained); the answer names it. `None`: the slot
    /// is free.
    ///
    /// ```
    /// use lanepool::limit::{InFlightLimit, LimitError};
    /// let limit = InFlightLimit::new(1).unwrap();
    /// let call = limit.register();
    /// assert_eq!(call.release(), Err(LimitError::NotHeld));
    /// ```
    pub fn release(&self) -> Result<Option<CallId>, LimitError> {
        let handed = {
            let mut st = self.limit.state.lock();
            match st.calls.get_mut(&self.id) {
                Some(entry) if entry.held > 0 => entry.held -= 1,
                _ => return Err(LimitError::NotHeld),
            }
            st.hand_over()
        };
        Ok(handed.map(|(id, wake)| {
            if let Some(wake) = wake {
                wake.wake();
            }
            id
        }))
    }

    /// Leaves the rotation, and gives back a slot handed to this call and not taken (to the
    /// next waiting call, whose id is returned): for a call that no longer wants a slot, such
    /// as one whose records all ended at the deadline. [`LimitedCall::next`] does this itself.
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// let limit = InFlightLimit::new(1).unwrap();
    /// let (a, b, c) = (limit.register(), limit.register(), limit.register());
    /// assert!(a.try_acquire());
    /// assert!(!b.try_acquire() && !c.try_acquire());
    /// assert_eq!(a.release(), Ok(Some(b.id()))); // reserved for b ...
    /// assert_eq!(b.stand_down(), Some(c.id()));  // ... which passes it on
    /// assert!(c.try_acquire());
    /// ```
    pub fn stand_down(&self) -> Option<CallId> {
        let mut handed = Vec::new();
        {
            let mut st = self.limit.state.lock();
            let entry = st.calls.get_mut(&self.id)?;
            let reserved = std::mem::take(&mut entry.reserved);
            let queued = std::mem::take(&mut entry.want) > 0;
            if queued {
                let id = self.id;
                st.rotation.retain(|&c| c != id);
            }
            for _ in 0..reserved {
                handed.push(st.hand_over());
            }
        }
        let mut first = None;
        for (id, wake) in handed.into_iter().flatten() {
            first.get_or_insert(id);
            if let Some(wake) = wake {
                wake.wake();
            }
        }
        first
    }

    /// Sets the `Waker` woken when a slot is handed to this call (an async driver sets it on
    /// every poll, before it asks for a slot, so no hand-over is missed).
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// use std::sync::{atomic::{AtomicUsize, Ordering}, Arc};
    /// use std::task::{Wake, Waker};
    /// struct Count(AtomicUsize);
    /// impl Wake for Count {
    ///     fn wake(self: Arc<Self>) { self.0.fetch_add(1, Ordering::SeqCst); }
    /// }
    /// let count = Arc::new(Count(AtomicUsize::new(0)));
    /// let limit = InFlightLimit::new(1).unwrap();
    /// let (a, b) = (limit.register(), limit.register());
    /// b.set_waker(&Waker::from(count.clone()));
    /// assert!(a.try_acquire() && !b.try_acquire());
    /// a.release().unwrap();
    /// assert_eq!(count.0.load(Ordering::SeqCst), 1);
    /// ```
    pub fn set_waker(&self, waker: &Waker) {
        let old = {
            let mut st = self.limit.state.lock();
            match st.calls.get_mut(&self.id) {
                Some(Entry {
                    wake: Some(Wake::Waker(old)),
                    ..
                }) if old.will_wake(waker) => None,
                Some(entry) => entry.wake.replace(Wake::Waker(waker.clone())),
                None => None,
            }
        };
        drop(drop_catching(old));
    }

    /// Sets a function called when a slot is handed to this call: the hook of a driver
    /// without Rust futures (an event loop's thread-safe callback, a condition variable). It
    /// runs on the thread that gave the slot back, outside the limit's lock; it should only
    /// schedule the call's next step.
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// use std::sync::{atomic::{AtomicBool, Ordering}, Arc};
    /// let woken = Arc::new(AtomicBool::new(false));
    /// let limit = InFlightLimit::new(1).unwrap();
    /// let (a, b) = (limit.register(), limit.register());
    /// let flag = woken.clone();
    /// b.set_wake_hook(move || flag.store(true, Ordering::SeqCst));
    /// assert!(a.try_acquire() && !b.try_acquire());
    /// a.release().unwrap();
    /// assert!(woken.load(Ordering::SeqCst));
    /// ```
    pub fn set_wake_hook(&self, hook: impl Fn() + Send + Sync + 'static) {
        let hook: Hook = Arc::new(hook);
        let mut new = Some(Wake::Hook(hook));
        let old = {
            let mut st = self.limit.state.lock();
            match (st.calls.get_mut(&self.id), new.take()) {
                (Some(entry), wake) => entry.wake.replace(wake.expect("taken once")),
                (None, wake) => wake,
            }
        };
        drop(drop_catching(old));
    }

    /// Slots this call's handlers hold now.
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// let limit = InFlightLimit::new(2).unwrap();
    /// let call = limit.register();
    /// assert!(call.try_acquire());
    /// assert_eq!(call.held(), 1);
    /// ```
    pub fn held(&self) -> usize {
        let st = self.limit.state.lock();
        st.calls.get(&self.id).map_or(0, |e| e.held)
    }

    /// Whether this call is in the rotation, waiting for a slot.
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// let limit = InFlightLimit::new(1).unwrap();
    /// let call = limit.register();
    /// assert!(call.try_acquire());
    /// assert!(!call.is_waiting());
    /// ```
    pub fn is_waiting(&self) -> bool {
        let st = self.limit.state.lock();
        st.calls.get(&self.id).is_some_and(|e| e.want > 0)
    }

    /// Slots this call still waits for: how many it could use when last refused, less those
    /// handed to it since (0: not waiting).
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// let limit = InFlightLimit::new(1).unwrap();
    /// let (a, b) = (limit.register(), limit.register());
    /// assert!(a.try_acquire() && !b.try_acquire_for(3));
    /// assert_eq!(b.wanted(), 3);
    /// a.release().unwrap();
    /// assert_eq!(b.wanted(), 2);
    /// ```
    pub fn wanted(&self) -> usize {
        let st = self.limit.state.lock();
        st.calls.get(&self.id).map_or(0, |e| e.want)
    }

    /// Whether a slot has been handed to this call and not taken yet.
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// let limit = InFlightLimit::new(1).unwrap();
    /// let (a, b) = (limit.register(), limit.register());
    /// assert!(a.try_acquire() && !b.try_acquire());
    /// a.release().unwrap();
    /// assert!(b.has_reserved());
    /// ```
    pub fn has_reserved(&self) -> bool {
        let st = self.limit.state.lock();
        st.calls.get(&self.id).is_some_and(|e| e.reserved > 0)
    }

    /// One step of a batch's lane scheduler under this limit: like
    /// [`LaneScheduler::next`], but a record starts only with a slot of the limit
    /// ([`LaneScheduler::next_if`] with [`try_acquire`](Self::try_acquire)); when nothing
    /// could start, the call [stands down](Self::stand_down). Release the slot of every
    /// [`Next::Run`] when its handler ends. This is the one place the drivers (and the faces)
    /// combine the two.
    ///
    /// ```
    /// use lanepool::lanes::{LaneScheduler, Next, SchedulerConfig};
    /// use lanepool::limit::InFlightLimit;
    /// use std::time::Duration;
    /// let limit = InFlightLimit::new(1).unwrap();
    /// let call = limit.register();
    /// let config = SchedulerConfig { concurrency: 4, ..Default::default() };
    /// let mut s: LaneScheduler<()> = LaneScheduler::new(vec![None, None], config);
    /// let now = Duration::ZERO;
    /// let Next::Run(t) = call.next(&mut s, now) else { panic!() };
    /// assert_eq!(call.next(&mut s, now), Next::Wait { until: None }); // one slot only
    /// s.complete(t.index, Ok(()), now).unwrap();
    /// call.release().unwrap();
    /// assert!(matches!(call.next(&mut s, now), Next::Run(_)));
    /// ```
    pub fn next<E>(&self, scheduler: &mut LaneScheduler<E>, now: Duration) -> Next {
        let mut asked = false;
        let next = scheduler.next_if(now, |startable| {
            asked = true;
            self.try_acquire_for(startable)
        });
        if !asked {
            self.stand_down();
        }
        next
    }

    /// A future that resolves once this call holds one more slot (the Rust-async
    /// convenience; the batch drivers use [`next`](Self::next) instead). Dropping it before
    /// it resolves leaves the rotation.
    ///
    /// ```
    /// use lanepool::limit::InFlightLimit;
    /// let limit = InFlightLimit::new(1).unwrap();
    /// let call = limit.register();
    /// futures::executor::block_on(call.acquire());
    /// assert_eq!(call.held(), 1);
    /// call.release().unwrap();
    /// ```
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire {
            call: self,
            done: false,
        }
    }
}

impl fmt::Debug for LimitedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LimitedCall")
            .field("id", &self.id)
            .field("held", &self.held())
            .field("waiting", &self.is_waiting())
            .finish()
    }
}

impl Drop for LimitedCall {
    fn drop(&mut self) {
        let (wake, handed) = {
            let mut st = self.limit.state.lock();
            let Some(entry) = st.calls.remove(&self.id) else {
                return;
            };
            if entry.want > 0 {
                let id = self.id;
                st.rotation.retain(|&c| c != id);
            }
            let handed: Vec<_> = (0..entry.held + entry.reserved)
                .filter_map(|_| st.hand_over())
                .collect();
            (entry.wake, handed)
        };
        // The call's own hook (a closure's captures may be user types) is dropped outside the
        // lock, a panic of its `Drop` contained; then the calls given its slots are woken.
        drop(drop_catching(wake));
        for (_, wake) in handed {
            if let Some(wake) = wake {
                wake.wake();
            }
        }
    }
}

/// The future of [`LimitedCall::acquire`].
///
/// ```
/// use lanepool::limit::InFlightLimit;
/// let limit = InFlightLimit::new(1).unwrap();
/// let (a, b) = (limit.register(), limit.register());
/// assert!(a.try_acquire());
/// let waiting = b.acquire();
/// drop(waiting); // never polled to the end: b is not left in the rotation
/// assert!(!b.is_waiting());
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'c> {
    call: &'c LimitedCall,
    done: bool,
}

impl Future for Acquire<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.call.set_waker(cx.waker());
        if self.call.try_acquire() {
            self.done = true;
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.call.stand_down();
        }
    }
}
