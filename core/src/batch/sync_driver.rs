//! The thread-pool driver: sync handlers on the pool's workers, the caller taking part.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::{BatchError, BatchOptions, BatchReport, BatchRun, RecordError, Step};
use crate::event::{BatchPlan, BatchRecord};
use crate::lanes::Ticket;
use crate::limit::LimitedCall;
use crate::pool::{drop_catching, take_panic_message, Pool};

/// The report of a Rust driver: failures keep the handler's error or its panic message.
pub type RecordReport<E> = BatchReport<RecordError<E>>;
/// What a Rust driver's batch call returns.
pub type BatchResult<E> = Result<RecordReport<E>, BatchError<RecordError<E>>>;

/// Lets a handler stop the batch: no record starts after [`Halt::halt`]; running ones finish.
/// (The Python face uses it for `KeyboardInterrupt` and `SystemExit`.)
#[derive(Debug, Default)]
pub struct Halt(AtomicBool);

impl Halt {
    /// Stops new records from starting.
    pub fn halt(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether the batch was halted.
    pub fn is_halted(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// How a runner of [`Pool::run_plan_gated`] enters and leaves a binding's context.
///
/// A runner takes records one after another until the batch is done. [`run`](RunnerGate::run)
/// wraps a whole runner (every record it runs, and its waits); [`block`](RunnerGate::block)
/// wraps every wait of the runner for other runners' completions or a retry's backoff. The
/// Python face attaches the GIL in `run` (once per runner, not per record) and detaches it in
/// `block`, so a runner keeps the GIL across consecutive records.
///
/// The driver never blocks inside `run` while holding what another runner needs in order to
/// leave `block`: the run's lock is only held for the scheduler's short steps, never across a
/// `block` boundary, and a completion bumps a generation counter so that a runner that saw
/// "wait" and released its lock and context first still cannot miss the wake-up. (The run's
/// lock is taken inside `run`, and failed attempts' errors `E` may be dropped under it: a gate
/// whose context can be lost while code runs, as the GIL can in Python code, must make sure
/// dropping an `E` there runs none; the Python face keeps a second reference to each error.
/// The errors a retry replaces are dropped outside the lock, a panic of their `Drop` caught.)
///
/// ```
/// use lanepool::batch::{BatchOptions, RunnerGate};
/// use lanepool::event::BatchPlan;
/// use lanepool::Pool;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// #[derive(Default)]
/// struct Count { runners: AtomicUsize }
/// impl RunnerGate for Count {
///     fn run<R>(&self, f: impl FnOnce() -> R) -> R {
///         self.runners.fetch_add(1, Ordering::SeqCst);
///         f()
///     }
/// }
/// let gate = Count::default();
/// let plan = BatchPlan::from_parts(None, (0..8).map(|i| (format!("r{i}"), None)));
/// let pool = Pool::new(2).unwrap();
/// let report = pool
///     .run_plan_gated(plan, &BatchOptions::new(), &gate, |_, _| Ok::<(), ()>(()))
///     .unwrap();
/// assert_eq!(report.succeeded().len(), 8);
/// assert_eq!(gate.runners.load(Ordering::SeqCst), 2);
/// ```
pub trait RunnerGate: Sync {
    /// Runs one runner's whole loop (default: as is).
    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        f()
    }

    /// Runs one blocking wait of a runner, inside [`run`](RunnerGate::run) (default: as is).
    fn block<R>(&self, f: impl FnOnce() -> R) -> R {
        f()
    }
}

/// The gate of [`Pool::run_plan`]: no context to enter or leave.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoGate;

impl RunnerGate for NoGate {}

struct State<E> {
    run: BatchRun<RecordError<E>>,
}

/// What runners wait on: a generation counter bumped on every completion of the batch and
/// whenever a shared limit hands the call a slot. A runner told to wait reads it under the
/// run's lock, releases the lock (and then its gate), and sleeps only if it is unchanged once
/// it holds the bell's lock: no wake-up is lost in between. Its own `Arc`, so a limit's
/// wake-up hook (`'static`) can ring it from another call's thread; its lock is taken last,
/// and nothing else is locked under it.
#[derive(Default)]
struct Bell {
    generation: Mutex<u64>,
    wake: Condvar,
}

impl Bell {
    fn ring(&self) {
        let mut generation = self.generation.lock();
        *generation = generation.wrapping_add(1);
        self.wake.notify_all();
    }

    fn seen(&self) -> u64 {
        *self.generation.lock()
    }
}

struct Shared<E> {
    state: Mutex<State<E>>,
    bell: Arc<Bell>,
    halt: Halt,
    /// The call's share of a shared limit, if any (dropped with `Shared`, after every runner
    /// has returned: whatever it still holds is given back, also when a runner unwound).
    call: Option<LimitedCall>,
}

impl Pool {
    /// Runs a batch of typed records with a sync handler on this pool and returns its report.
    ///
    /// At most `options.concurrency` (default: the pool's workers) handlers run at once; the
    /// calling thread runs records too. A handler that returns `Err` or panics fails its
    /// record (after its retries) and skips the rest of its lane. The call returns only when
    /// every handler it started has returned.
    ///
    /// ```
    /// use lanepool::{batch::BatchOptions, event::BatchRecord, Pool};
    /// use std::borrow::Cow;
    /// struct Msg { id: String, group: &'static str }
    /// impl BatchRecord for Msg {
    ///     fn item_identifier(&self) -> Option<Cow<'_, str>> { Some(Cow::Borrowed(&self.id)) }
    ///     fn lane_key(&self) -> Option<Cow<'_, str>> { Some(Cow::Borrowed(self.group)) }
    /// }
    /// let pool = Pool::new(4).unwrap();
    /// let records: Vec<Msg> = (0..6)
    ///     .map(|i| Msg { id: format!("m{i}"), group: if i % 2 == 0 { "even" } else { "odd" } })
    ///     .collect();
    /// let report = pool
    ///     .process(&records, &BatchOptions::new(), |m| if m.id == "m2" { Err("bad") } else { Ok(()) })
    ///     .unwrap();
    /// // m2 failed, so the rest of the "even" lane (m4) is skipped; the "odd" lane is untouched.
    /// assert_eq!(report.response().batch_item_failures, ["m2", "m4"]);
    /// ```
    pub fn process<R, E, H>(
        &self,
        records: &[R],
        options: &BatchOptions,
        handler: H,
    ) -> BatchResult<E>
    where
        R: BatchRecord + Sync,
        E: Send,
        H: Fn(&R) -> Result<(), E> + Sync,
    {
        let plan = BatchPlan::from_records(records, options.ordering)?;
        self.run_plan(plan, options, |ticket, _| handler(&records[ticket.index]))
    }

    /// Runs a Lambda event given as JSON (`{"Records": [...]}`) with a sync handler that gets
    /// each record's own `serde_json::Value`.
    ///
    /// ```
    /// use lanepool::{batch::BatchOptions, Pool};
    /// let event = serde_json::json!({"Records": [
    ///     {"eventSource": "aws:sqs", "messageId": "a", "body": "ok"},
    ///     {"eventSource": "aws:sqs", "messageId": "b", "body": "poison"},
    /// ]});
    /// let pool = Pool::new(2).unwrap();
    /// let report = pool
    ///     .process_event(&event, &BatchOptions::new(), |r| match r["body"].as_str() {
    ///         Some("poison") => Err("poison message"),
    ///         _ => Ok(()),
    ///     })
    ///     .unwrap();
    /// assert_eq!(report.response().to_json(), r#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#);
    /// ```
    pub fn process_event<E, H>(
        &self,
        event: &serde_json::Value,
        options: &BatchOptions,
        handler: H,
    ) -> BatchResult<E>
    where
        E: Send,
        H: Fn(&serde_json::Value) -> Result<(), E> + Sync,
    {
        let plan = BatchPlan::decode(event, options.ordering)?;
        let records = BatchPlan::records(&event)?;
        self.run_plan(plan, options, |ticket, _| handler(records[ticket.index]))
    }

    /// Runs a decoded batch: `handler(ticket, halt)` runs record `ticket.index`. The faces
    /// use this with their own record objects.
    ///
    /// ```
    /// use lanepool::{batch::BatchOptions, event::BatchPlan, Pool};
    /// let plan = BatchPlan::from_parts(None, (0..3).map(|i| (format!("r{i}"), None)));
    /// let pool = Pool::new(2).unwrap();
    /// let report = pool
    ///     .run_plan(plan, &BatchOptions::new(), |t, _| if t.index == 1 { Err(()) } else { Ok(()) })
    ///     .unwrap();
    /// assert_eq!(report.succeeded(), ["r0", "r2"]);
    /// ```
    pub fn run_plan<E, H>(
        &self,
        plan: BatchPlan,
        options: &BatchOptions,
        handler: H,
    ) -> BatchResult<E>
    where
        E: Send,
        H: Fn(Ticket, &Halt) -> Result<(), E> + Sync,
    {
        self.run_plan_gated(plan, options, &NoGate, handler)
    }

    /// [`run_plan`](Pool::run_plan) with a [`RunnerGate`]: each runner's loop runs inside
    /// `gate.run`, each of its blocking waits inside `gate.block`. A binding uses it to keep a
    /// per-runner context (the Python face: the GIL) across records.
    ///
    /// ```
    /// use lanepool::{batch::{BatchOptions, NoGate}, event::BatchPlan, Pool};
    /// let plan = BatchPlan::from_parts(None, (0..3).map(|i| (format!("r{i}"), None)));
    /// let pool = Pool::new(2).unwrap();
    /// let report = pool
    ///     .run_plan_gated(plan, &BatchOptions::new(), &NoGate, |t, _| {
    ///         if t.index == 0 { Err("no") } else { Ok(()) }
    ///     })
    ///     .unwrap();
    /// assert_eq!(report.succeeded(), ["r1", "r2"]);
    /// ```
    pub fn run_plan_gated<E, G, H>(
        &self,
        plan: BatchPlan,
        options: &BatchOptions,
        gate: &G,
        handler: H,
    ) -> BatchResult<E>
    where
        E: Send,
        G: RunnerGate,
        H: Fn(Ticket, &Halt) -> Result<(), E> + Sync,
    {
        // A sync handler cannot be stopped: an attempt timeout is refused before anything runs.
        options.check_for(false).map_err(BatchError::Options)?;
        let run = BatchRun::new(plan, options, self.workers());
        let runners = run.concurrency().min(run.len());
        let bell = Arc::new(Bell::default());
        let call = options.in_flight_limit.as_ref().map(|limit| {
            let call = limit.register();
            let bell = Arc::clone(&bell);
            call.set_wake_hook(move || bell.ring());
            call
        });
        let shared = Shared {
            state: Mutex::new(State { run }),
            bell,
            halt: Halt::default(),
            call,
        };
        if runners > 0 {
            self.scope(|s| {
                for _ in 0..runners {
                    s.spawn(|_| gate.run(|| run_records(&shared, gate, &handler)));
                }
            });
        }
        let Shared { state, call, .. } = shared;
        drop(call);
        state.into_inner().run.finish()
    }
}

/// One runner: takes records from the shared run until it is done. Runs inside `gate.run`.
fn run_records<E, G, H>(shared: &Shared<E>, gate: &G, handler: &H)
where
    G: RunnerGate,
    H: Fn(Ticket, &Halt) -> Result<(), E>,
{
    let mut st = shared.state.lock();
    loop {
        if shared.halt.is_halted() {
            st.run.halt();
        }
        let step = match &shared.call {
            Some(call) => st.run.step_limited(call),
            None => st.run.step(),
        };
        match step {
            Step::Run(ticket) => {
                // A retry replaced the record's last error: dropped outside the lock, with a
                // panic of its `Drop` contained, so the record still runs and ends.
                let displaced = st.run.take_displaced();
                let result = MutexGuard::unlocked(&mut st, || {
                    displaced.into_iter().for_each(|e| drop(drop_catching(e)));
                    match catch_unwind(AssertUnwindSafe(|| handler(ticket, &shared.halt))) {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(RecordError::Error(e)),
                        Err(payload) => Err(RecordError::Panic(take_panic_message(payload))),
                    }
                });
                st.run
                    .complete(ticket.index, result)
                    .expect("the ticket's record is running");
                if let Some(call) = &shared.call {
                    // The record's slot: every started record holds one, so `NotHeld` cannot
                    // happen. A waiting call it is handed to is woken by its hook.
                    let _ = call.release();
                }
                shared.bell.ring();
            }
            Step::Wait(timeout) => {
                let seen = shared.bell.seen();
                // Never hold the lock across the gate: leaving `block` may wait for a context
                // (the GIL) that a thread waiting for this lock holds.
                MutexGuard::unlocked(&mut st, || {
                    gate.block(|| {
                        let mut generation = shared.bell.generation.lock();
                        if *generation == seen {
                            match timeout {
                                Some(t) => {
                                    shared.bell.wake.wait_for(&mut generation, t);
                                }
                                None => shared.bell.wake.wait(&mut generation),
                            }
                        }
                    })
                });
            }
            Step::Done => {
                shared.bell.ring();
                return;
            }
        }
    }
}
