//! Jobs: a plain list of items run by the batch scheduler, for a coordinator's fan-out.
//!
//! A coordinator function fans out many jobs (invoke other functions, start tasks, call an
//! API per item), waits for all of them and collects their results. The same scheduler as a
//! batch runs them ([`BatchPlan::jobs`]): `concurrency`, `retries` with backoff, the
//! deadline, [`BatchOptions::attempt_timeout`] (async handlers) and
//! [`BatchOptions::max_per_second`] all hold, and an optional key per item gives lanes (one
//! lane per key, a failure skipping the rest of its lane, as in a batch; no key, no lane).
//!
//! Differences from a batch:
//! - a job is named by its index (its identifier text is the index as a decimal string);
//! - the handler returns a value, collected in [`JobReport::results`], aligned with the items;
//! - the all-failed rule does not apply: a report in which no job succeeded is still a
//!   report (`ok() == false`), never an error. The only errors are options a driver refuses
//!   and invalid keys ([`JobError`]), both before anything runs.

use std::future::Future;

use parking_lot::Mutex;

use super::{
    run_plan_async, BatchError, BatchOptions, BatchResult, BatchSummary, OptionsError, RecordError,
};
use crate::event::{BatchPlan, EventError, KeyValue};
use crate::lanes::{Outcome, Reason, Ticket};
use crate::pool::{drop_catching, Pool};

/// What a job's handler is told besides its item.
///
/// ```
/// use lanepool::batch::JobContext;
/// let ctx = JobContext { index: 3, attempt: 1 };
/// assert_eq!(ctx.attempt, 1); // the first attempt is 1, the first retry 2
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobContext {
    /// The item's index in the slice.
    pub index: usize,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
}

impl From<Ticket> for JobContext {
    fn from(t: Ticket) -> Self {
        JobContext {
            index: t.index,
            attempt: t.attempt,
        }
    }
}

/// Why a jobs call ran nothing.
///
/// ```
/// use lanepool::{batch::{BatchOptions, JobError}, Pool};
/// use std::time::Duration;
/// let pool = Pool::new(1).unwrap();
/// // A sync handler cannot be stopped, so an attempt timeout is refused before anything runs.
/// let options = BatchOptions::new().attempt_timeout(Duration::from_secs(1));
/// let err = pool.run_jobs(&[1, 2], &options, |n, _| Ok::<_, ()>(*n)).unwrap_err();
/// assert!(matches!(err, JobError::Options(_)));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The options cannot be used with this driver.
    #[error("invalid options: {0}")]
    Options(OptionsError),
    /// A key function returned a value that is not a key (at the job's index, field
    /// `group_key`).
    #[error("invalid job key: {0}")]
    Key(EventError),
}

/// One job that did not succeed.
///
/// ```
/// use lanepool::{batch::{BatchOptions, RecordError}, lanes::Reason, Pool};
/// let pool = Pool::new(1).unwrap();
/// let report = pool.run_jobs(&[0], &BatchOptions::new().retries(1).retry_backoff(std::time::Duration::ZERO),
///     |_, _| Err::<(), _>("down")).unwrap();
/// let f = &report.failures()[0];
/// assert_eq!((f.index, f.reason, f.attempts), (0, Reason::Error, 2));
/// assert!(matches!(f.error, Some(RecordError::Error("down"))));
/// ```
#[derive(Debug)]
pub struct JobFailure<'a, E> {
    /// The item's index.
    pub index: usize,
    /// Why: `error`, `skipped`, `deadline` or `timeout`.
    pub reason: Reason,
    /// The handler's error or panic, when one is kept.
    pub error: Option<&'a RecordError<E>>,
    /// Handler calls made for it.
    pub attempts: u32,
}

/// The outcome of a jobs call: one result per item, aligned with the items.
///
/// ```
/// use lanepool::{batch::BatchOptions, lanes::Reason, Pool};
/// let pool = Pool::new(2).unwrap();
/// let items = [1, 2, 3];
/// let report = pool
///     .run_jobs(&items, &BatchOptions::new(), |n, _| if *n == 2 { Err("two") } else { Ok(n * 10) })
///     .unwrap();
/// assert_eq!(report.results(), [Some(10), None, Some(30)]);
/// assert!(!report.ok());
/// let failures = report.failures();
/// assert_eq!((failures[0].index, failures[0].reason, failures[0].attempts), (1, Reason::Error, 1));
/// assert_eq!(report.summary().succeeded, 2);
/// ```
#[derive(Debug)]
pub struct JobReport<T, E> {
    results: Vec<Option<T>>,
    outcomes: Vec<Outcome<RecordError<E>>>,
    summary: BatchSummary,
}

impl<T, E> JobReport<T, E> {
    /// One entry per item: `Some(value)` where the job succeeded, `None` where it did not.
    ///
    /// ```
    /// use lanepool::{batch::BatchOptions, Pool};
    /// let pool = Pool::new(2).unwrap();
    /// let report = pool.run_jobs(&[3, 0], &BatchOptions::new(), |n, _| 12u32.checked_div(*n).ok_or("zero")).unwrap();
    /// assert_eq!(report.results(), [Some(4), None]);
    /// assert!(!report.ok() && report.len() == 2);
    /// ```
    pub fn results(&self) -> &[Option<T>] {
        &self.results
    }

    /// The results, taken out.
    ///
    /// ```
    /// use lanepool::{batch::BatchOptions, Pool};
    /// let pool = Pool::new(1).unwrap();
    /// let report = pool.run_jobs(&["a", "b"], &BatchOptions::new(), |s, _| Ok::<_, ()>(s.len())).unwrap();
    /// assert_eq!(report.into_results(), [Some(1), Some(1)]);
    /// ```
    pub fn into_results(self) -> Vec<Option<T>> {
        self.results
    }

    /// Every job's outcome, in item order.
    pub fn outcomes(&self) -> &[Outcome<RecordError<E>>] {
        &self.outcomes
    }

    /// Every job that did not succeed, in item order.
    pub fn failures(&self) -> Vec<JobFailure<'_, E>> {
        self.outcomes
            .iter()
            .enumerate()
            .filter_map(|(index, outcome)| {
                Some(JobFailure {
                    index,
                    reason: outcome.reason()?,
                    error: outcome.error(),
                    attempts: outcome.attempts(),
                })
            })
            .collect()
    }

    /// The summary figures (counts by reason, retries, waits, duration).
    pub fn summary(&self) -> &BatchSummary {
        &self.summary
    }

    /// Whether every job succeeded (an empty list too). `false` is not an error: the
    /// all-failed rule of batches does not apply to jobs.
    pub fn ok(&self) -> bool {
        self.summary.succeeded == self.summary.records
    }

    /// Jobs in the call.
    pub fn len(&self) -> usize {
        self.results.len()
    }

    /// Whether the call had no jobs.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }
}

/// The plan of `items` with lanes from `key` (none: unkeyed), by the one key rule.
fn keyed_plan<I, K, F>(items: &[I], key: F) -> Result<BatchPlan, JobError>
where
    K: Into<KeyValue>,
    F: Fn(&I) -> Option<K>,
{
    BatchPlan::jobs_keyed(items.iter().map(|item| KeyValue::from(key(item)))).map_err(JobError::Key)
}

/// One slot per item for the value of its successful attempt (at most one attempt succeeds).
/// Values still held when the slots drop (the call's future dropped half-way) are dropped
/// with a panic of their `Drop` contained, so it does not escape the call.
struct Slots<T>(Vec<Mutex<Option<T>>>);

impl<T> Slots<T> {
    fn new(n: usize) -> Self {
        Slots((0..n).map(|_| Mutex::new(None)).collect())
    }

    fn put(&self, index: usize, value: T) {
        // The slot is empty: only one attempt of a job succeeds, and it ends the job.
        let old = self.0[index].lock().replace(value);
        drop(drop_catching(old));
    }

    fn into_values(mut self) -> Vec<Option<T>> {
        std::mem::take(&mut self.0)
            .into_iter()
            .map(Mutex::into_inner)
            .collect()
    }
}

impl<T> Drop for Slots<T> {
    fn drop(&mut self) {
        for slot in self.0.drain(..) {
            drop(drop_catching(slot.into_inner()));
        }
    }
}

/// The report of a finished jobs call: the all-failed rule dropped, values kept only for the
/// jobs that succeeded (a value whose job then failed, because its future's `Drop` panicked,
/// is dropped here with a panic of its own `Drop` contained).
fn job_report<T, E>(result: BatchResult<E>, slots: Slots<T>) -> Result<JobReport<T, E>, JobError> {
    let report = match result {
        Ok(report) => report,
        Err(BatchError::AllFailed(report)) => *report,
        Err(BatchError::Options(e)) => return Err(JobError::Options(e)),
        Err(BatchError::Event(e)) => return Err(JobError::Key(e)),
    };
    let (_, outcomes, summary) = report.into_parts();
    let results = slots
        .into_values()
        .into_iter()
        .zip(&outcomes)
        .map(|(value, outcome)| match outcome {
            Outcome::Succeeded { .. } => value,
            _ => {
                drop(drop_catching(value));
                None
            }
        })
        .collect();
    Ok(JobReport {
        results,
        outcomes,
        summary,
    })
}

impl Pool {
    /// Runs one job per item with a sync handler on this pool and collects the results.
    ///
    /// The batch scheduler runs them: at most `options.concurrency` (default: the pool's
    /// workers) at once, `retries` with backoff, the deadline, and `max_per_second`. A handler
    /// that returns `Err` or panics fails its job (after its retries). No lanes: every job
    /// runs freely (see [`Pool::run_jobs_keyed`]). `attempt_timeout` is refused
    /// ([`JobError::Options`]): a sync handler cannot be stopped.
    ///
    /// ```
    /// use lanepool::{batch::BatchOptions, Pool};
    /// let pool = Pool::new(4).unwrap();
    /// let urls: Vec<String> = (0..10).map(|i| format!("https://example.com/{i}")).collect();
    /// let options = BatchOptions::new().concurrency(4).retries(2);
    /// let report = pool.run_jobs(&urls, &options, |url, ctx| {
    ///     assert!(ctx.attempt >= 1);
    ///     Ok::<_, String>(url.len())
    /// }).unwrap();
    /// assert!(report.ok());
    /// assert_eq!(report.results()[0], Some(21));
    /// ```
    pub fn run_jobs<I, T, E, H>(
        &self,
        items: &[I],
        options: &BatchOptions,
        handler: H,
    ) -> Result<JobReport<T, E>, JobError>
    where
        I: Sync,
        T: Send,
        E: Send,
        H: Fn(&I, JobContext) -> Result<T, E> + Sync,
    {
        self.run_jobs_plan(BatchPlan::jobs(items.len()), items, options, handler)
    }

    /// [`Pool::run_jobs`] with lanes: `key(item)` gives each job's key (`None`: no lane) by
    /// the one key rule ([`KeyValue`]: a string, an integer as its decimal string; anything
    /// else is [`JobError::Key`] before anything runs). Jobs of one key run one at a time, in
    /// item order, and a job that fails for good skips the rest of its key's jobs.
    ///
    /// ```
    /// use lanepool::{batch::BatchOptions, lanes::Reason, Pool};
    /// let pool = Pool::new(4).unwrap();
    /// let items = [("acme", 1), ("acme", 2), ("globex", 3), ("acme", 4)];
    /// let report = pool.run_jobs_keyed(&items, &BatchOptions::new(), |(tenant, _)| Some(*tenant), |(_, n), _| {
    ///     if *n == 2 { Err("bad") } else { Ok(*n) }
    /// }).unwrap();
    /// assert_eq!(report.results(), [Some(1), None, Some(3), None]);
    /// assert_eq!(report.failures()[1].reason, Reason::Skipped); // after item 1, same tenant
    /// ```
    pub fn run_jobs_keyed<I, K, T, E, F, H>(
        &self,
        items: &[I],
        options: &BatchOptions,
        key: F,
        handler: H,
    ) -> Result<JobReport<T, E>, JobError>
    where
        I: Sync,
        K: Into<KeyValue>,
        T: Send,
        E: Send,
        F: Fn(&I) -> Option<K>,
        H: Fn(&I, JobContext) -> Result<T, E> + Sync,
    {
        self.run_jobs_plan(keyed_plan(items, key)?, items, options, handler)
    }

    fn run_jobs_plan<I, T, E, H>(
        &self,
        plan: BatchPlan,
        items: &[I],
        options: &BatchOptions,
        handler: H,
    ) -> Result<JobReport<T, E>, JobError>
    where
        I: Sync,
        T: Send,
        E: Send,
        H: Fn(&I, JobContext) -> Result<T, E> + Sync,
    {
        let slots = Slots::new(items.len());
        let result = self.run_plan(plan, options, |ticket, _| {
            let value = handler(&items[ticket.index], ticket.into())?;
            slots.put(ticket.index, value);
            Ok(())
        });
        job_report(result, slots)
    }
}

/// Runs one job per item with an async handler, under any executor, and collects the
/// results: the async face of [`Pool::run_jobs`], with [`BatchOptions::attempt_timeout`]
/// (an attempt running longer is cancelled, its future dropped, and fails with reason
/// `timeout`; retried while retries remain). Default concurrency:
/// [`DEFAULT_ASYNC_CONCURRENCY`](crate::batch::DEFAULT_ASYNC_CONCURRENCY).
///
/// ```
/// use lanepool::batch::{run_jobs_async, BatchOptions};
/// use lanepool::lanes::Reason;
/// use std::time::Duration;
/// let items: Vec<u32> = (0..5).collect();
/// let options = BatchOptions::new()
///     .concurrency(8)
///     .attempt_timeout(Duration::from_millis(50))
///     .max_per_second(100.0);
/// let report = futures::executor::block_on(run_jobs_async(&items, &options, |n, _| async move {
///     if *n == 3 { std::future::pending::<()>().await } // a hung call
///     Ok::<_, String>(n * 2)
/// })).unwrap();
/// assert_eq!(report.results(), [Some(0), Some(2), Some(4), None, Some(8)]);
/// assert_eq!(report.failures()[0].reason, Reason::Timeout);
/// ```
pub async fn run_jobs_async<'i, I, T, E, H, Fut>(
    items: &'i [I],
    options: &BatchOptions,
    handler: H,
) -> Result<JobReport<T, E>, JobError>
where
    H: Fn(&'i I, JobContext) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    run_jobs_plan_async(BatchPlan::jobs(items.len()), items, options, handler).await
}

/// [`run_jobs_async`] with lanes by `key(item)`, as [`Pool::run_jobs_keyed`].
///
/// ```
/// use lanepool::batch::{run_jobs_keyed_async, BatchOptions};
/// let items = [Some(7), None, Some(7)];
/// let report = futures::executor::block_on(run_jobs_keyed_async(
///     &items, &BatchOptions::new(), |k| *k, |_, ctx| async move {
///         if ctx.index == 0 { Err("first fails") } else { Ok(ctx.index) }
///     },
/// )).unwrap();
/// // Item 2 shares key 7 with item 0, so it is skipped; item 1 has no key and runs.
/// assert_eq!(report.results(), [None, Some(1), None]);
/// ```
pub async fn run_jobs_keyed_async<'i, I, K, T, E, F, H, Fut>(
    items: &'i [I],
    options: &BatchOptions,
    key: F,
    handler: H,
) -> Result<JobReport<T, E>, JobError>
where
    K: Into<KeyValue>,
    F: Fn(&I) -> Option<K>,
    H: Fn(&'i I, JobContext) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    run_jobs_plan_async(keyed_plan(items, key)?, items, options, handler).await
}

async fn run_jobs_plan_async<'i, I, T, E, H, Fut>(
    plan: BatchPlan,
    items: &'i [I],
    options: &BatchOptions,
    handler: H,
) -> Result<JobReport<T, E>, JobError>
where
    H: Fn(&'i I, JobContext) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let slots = Slots::new(items.len());
    let result = run_plan_async(plan, options, |ticket| {
        let job = handler(&items[ticket.index], ticket.into());
        let slots = &slots;
        async move {
            // The job's future is dropped on its own, a panic of its `Drop` contained, so
            // that no value or error is dropped while a panic unwinds (that would abort).
            let mut job = Box::pin(job);
            let result = job.as_mut().await;
            let dropped = drop_catching(job);
            match (result, dropped) {
                (Ok(value), None) => {
                    slots.put(ticket.index, value);
                    Ok(())
                }
                (Ok(value), Some(message)) => {
                    drop(drop_catching(value));
                    // Nothing else is held here: the driver catches this as the job's panic.
                    std::panic::resume_unwind(Box::new(message))
                }
                (Err(error), _) => Err(error),
            }
        }
    })
    .await;
    job_report(result, slots)
}
