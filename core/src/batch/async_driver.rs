//! The async driver: async handlers on any executor, with a concurrency limit.

use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::Poll;

use super::{BatchError, BatchOptions, BatchResult, BatchRun, RecordError, Step};
use crate::event::{BatchPlan, BatchRecord};
use crate::lanes::Ticket;
use crate::limit::{InFlightLimit, LimitedCall};
use crate::pool::{drop_catching, take_panic_message};
use crate::timer::{self, Sleep};

/// The handler futures in flight and the call's share of a shared limit. Fields drop in
/// order: the futures first (cancelling them), then the call, which gives back every slot it
/// still holds, so the limit is never exceeded and nothing leaks when the batch future is
/// dropped or unwinds.
struct Flight<F> {
    futures: Vec<(usize, Pin<Box<F>>)>,
    call: Option<LimitedCall>,
}

/// Gives back the slot of a handler that ended, when the call shares a limit.
fn release(call: &Option<LimitedCall>) {
    if let Some(call) = call {
        // Every started record holds a slot until here; `NotHeld` cannot happen.
        let _ = call.release();
    }
}

/// Handlers in flight at once when the options set no concurrency: async handlers mostly
/// wait on I/O, so this is higher than a CPU count.
pub const DEFAULT_ASYNC_CONCURRENCY: usize = 16;

/// Runs a batch of typed records with an async handler, under any executor (no runtime is
/// needed: timers come from lanepool's own timer thread).
///
/// Every in-flight handler future is owned by the returned future and polled whenever it is
/// woken, so none is starved. Handlers still running at the deadline are cancelled: their
/// futures are dropped and their records end as `deadline` (unless
/// [`BatchOptions::cancel_at_deadline`] is turned off, when they are awaited). With
/// [`BatchOptions::attempt_timeout`], an attempt running longer is cancelled the same way and
/// fails with reason `timeout` (retried while retries remain). Dropping the returned future
/// drops every handler future, so nothing outlives it.
///
/// ```
/// use lanepool::{batch::{process_async, BatchOptions}, event::BatchRecord};
/// use std::borrow::Cow;
/// struct Msg(&'static str);
/// impl BatchRecord for Msg {
///     fn item_identifier(&self) -> Option<Cow<'_, str>> { Some(Cow::Borrowed(self.0)) }
///     fn lane_key(&self) -> Option<Cow<'_, str>> { None }
/// }
/// let records = [Msg("a"), Msg("b")];
/// let report = futures::executor::block_on(process_async(&records, &BatchOptions::new(), |m| async move {
///     if m.0 == "b" { Err("bad") } else { Ok(()) }
/// }))
/// .unwrap();
/// assert_eq!(report.response().batch_item_failures, ["b"]);
/// ```
pub async fn process_async<'r, R, E, H, Fut>(
    records: &'r [R],
    options: &BatchOptions,
    handler: H,
) -> BatchResult<E>
where
    R: BatchRecord,
    H: Fn(&'r R) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let plan = BatchPlan::from_records(records, options.ordering)?;
    run_plan_async(plan, options, |ticket| handler(&records[ticket.index])).await
}

/// Runs a Lambda event given as JSON with an async handler that gets each record's own
/// `serde_json::Value`.
///
/// ```
/// use lanepool::batch::{process_event_async, BatchOptions};
/// let event = serde_json::json!({"Records": [
///     {"eventSource": "aws:kinesis", "kinesis": {"sequenceNumber": "1", "partitionKey": "k"}},
///     {"eventSource": "aws:kinesis", "kinesis": {"sequenceNumber": "2", "partitionKey": "k"}},
///     {"eventSource": "aws:kinesis", "kinesis": {"sequenceNumber": "3", "partitionKey": "other"}},
/// ]});
/// let options = BatchOptions::new();
/// let run = process_event_async(&event, &options, |r| async move {
///     if r["kinesis"]["sequenceNumber"] == "1" { Err("bad") } else { Ok(()) }
/// });
/// let report = futures::executor::block_on(run).unwrap();
/// // The failure of "1" skips "2" (same partition key).
/// assert_eq!(report.response().batch_item_failures, ["1", "2"]);
/// ```
pub async fn process_event_async<'r, E, H, Fut>(
    event: &'r serde_json::Value,
    options: &BatchOptions,
    handler: H,
) -> BatchResult<E>
where
    H: Fn(&'r serde_json::Value) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let plan = BatchPlan::decode(event, options.ordering)?;
    let records = BatchPlan::records(&event)?;
    run_plan_async(plan, options, |ticket| handler(records[ticket.index])).await
}

/// Runs a decoded batch with an async handler: `handler(ticket)` runs record `ticket.index`.
///
/// ```
/// use lanepool::batch::{run_plan_async, BatchOptions};
/// use lanepool::event::BatchPlan;
/// let plan = BatchPlan::from_parts(None, (0..4).map(|i| (format!("r{i}"), Some("one-lane".to_string()))));
/// let options = BatchOptions::new().concurrency(4);
/// let report = futures::executor::block_on(run_plan_async(plan, &options, |t| async move {
///     if t.index == 2 { Err(()) } else { Ok(()) }
/// })).unwrap();
/// assert_eq!(report.succeeded(), ["r0", "r1"]);
/// ```
pub async fn run_plan_async<E, H, Fut>(
    plan: BatchPlan,
    options: &BatchOptions,
    handler: H,
) -> BatchResult<E>
where
    H: Fn(Ticket) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    options.check_for(true).map_err(BatchError::Options)?;
    let mut run: BatchRun<RecordError<E>> = BatchRun::new(plan, options, DEFAULT_ASYNC_CONCURRENCY);
    let cancel_at_deadline = options.cancel_at_deadline;
    let mut flight = Flight {
        futures: Vec::new(),
        call: options
            .in_flight_limit
            .as_ref()
            .map(InFlightLimit::register),
    };
    let mut sleep: Option<Sleep> = None;
    poll_fn(|cx| loop {
        let Flight {
            futures: in_flight,
            call,
        } = &mut flight;
        if let Some(call) = call {
            // Before asking for a slot, so a slot handed over after a refusal wakes this task.
            call.set_waker(cx.waker());
        }
        let wait = loop {
            let step = match call {
                Some(call) => run.step_limited(call),
                None => run.step(),
            };
            match step {
                Step::Run(ticket) => {
                    // The error a retry replaced: its `Drop` may panic (contained).
                    run.take_displaced()
                        .into_iter()
                        .for_each(|e| drop(drop_catching(e)));
                    // A handler may panic before it returns its future: that fails its record.
                    match catch_unwind(AssertUnwindSafe(|| handler(ticket))) {
                        Ok(future) => in_flight.push((ticket.index, Box::pin(future))),
                        Err(payload) => {
                            let error = RecordError::Panic(take_panic_message(payload));
                            run.complete(ticket.index, Err(error))
                                .expect("the record is running");
                            release(call);
                        }
                    }
                }
                Step::Wait(wait) => break wait,
                Step::Done => return Poll::Ready(()),
            }
        };
        let mut completed = false;
        let mut i = 0;
        while i < in_flight.len() {
            let (index, future) = &mut in_flight[i];
            let polled = catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx)));
            let result = match polled {
                Ok(Poll::Pending) => {
                    i += 1;
                    continue;
                }
                Ok(Poll::Ready(Ok(()))) => Ok(()),
                Ok(Poll::Ready(Err(e))) => Err(RecordError::Error(e)),
                Err(payload) => Err(RecordError::Panic(take_panic_message(payload))),
            };
            let index = *index;
            // A value the finished future still holds may panic in its `Drop`: that fails the
            // record (unless it already failed) instead of unwinding out of the batch.
            let result = match drop_catching(in_flight.swap_remove(i)) {
                Some(message) if result.is_ok() => Err(RecordError::Panic(message)),
                _ => result,
            };
            run.complete(index, result).expect("the record is running");
            release(call);
            completed = true;
        }
        // Attempts past their timeout: dropping the future stops it; the scheduler retries it
        // or ends it as `timeout` (and the lane waits or is skipped).
        for index in run.timed_out() {
            if let Some(at) = in_flight.iter().position(|(i, _)| *i == index) {
                let (_, future) = in_flight.swap_remove(at);
                let error = drop_catching(future).map(RecordError::Panic);
                run.time_out(index, error).expect("the record is running");
                release(call);
                completed = true;
            }
        }
        if cancel_at_deadline && !in_flight.is_empty() && run.deadline_passed() {
            // Stop what still runs: dropping a future cancels it.
            for (index, future) in in_flight.drain(..) {
                let error = drop_catching(future).map(RecordError::Panic);
                run.cancel(index, error).expect("the record is running");
                release(call);
            }
            continue;
        }
        if completed {
            continue;
        }
        match wait {
            Some(timeout) => {
                let deadline = std::time::Instant::now() + timeout;
                let timer = sleep.get_or_insert_with(|| timer::sleep_until(deadline));
                // An earlier timer only wakes us early (we ask again); a later one is replaced.
                if timer.deadline() > deadline {
                    *timer = timer::sleep_until(deadline);
                }
                if Pin::new(timer).poll(cx).is_ready() {
                    sleep = None;
                    continue;
                }
            }
            None => sleep = None,
        }
        return Poll::Pending;
    })
    .await;
    run.finish()
}
