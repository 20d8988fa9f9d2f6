//! The thread-pool driver: sync handlers on the pool's workers, the caller taking part.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Condvar, Mutex};

use super::{BatchError, BatchOptions, BatchReport, BatchRun, RecordError, Step};
use crate::event::{BatchPlan, BatchRecord};
use crate::lanes::Ticket;
use crate::pool::{panic_message, Pool};

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

struct Shared<E> {
    run: Mutex<BatchRun<RecordError<E>>>,
    wake: Condvar,
    halt: Halt,
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
        let records = event["Records"].as_array().map_or(&[][..], Vec::as_slice);
        self.run_plan(plan, options, |ticket, _| handler(&records[ticket.index]))
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
        let run = BatchRun::new(plan, options, self.workers());
        let runners = run.concurrency().min(run.len());
        let shared = Shared {
            run: Mutex::new(run),
            wake: Condvar::new(),
            halt: Halt::default(),
        };
        if runners > 0 {
            self.scope(|s| {
                for _ in 0..runners {
                    s.spawn(|_| run_records(&shared, &handler));
                }
            });
        }
        shared.run.into_inner().finish()
    }
}

/// One runner: takes records from the shared run until it is done.
fn run_records<E, H>(shared: &Shared<E>, handler: &H)
where
    H: Fn(Ticket, &Halt) -> Result<(), E>,
{
    let mut run = shared.run.lock();
    loop {
        if shared.halt.is_halted() {
            run.halt();
        }
        match run.step() {
            Step::Run(ticket) => {
                let result = parking_lot::MutexGuard::unlocked(&mut run, || {
                    match catch_unwind(AssertUnwindSafe(|| handler(ticket, &shared.halt))) {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(RecordError::Error(e)),
                        Err(payload) => Err(RecordError::Panic(panic_message(&*payload))),
                    }
                });
                run.complete(ticket.index, result)
                    .expect("the ticket's record is running");
                shared.wake.notify_all();
            }
            Step::Wait(Some(timeout)) => {
                shared.wake.wait_for(&mut run, timeout);
            }
            Step::Wait(None) => shared.wake.wait(&mut run),
            Step::Done => {
                shared.wake.notify_all();
                return;
            }
        }
    }
}
