//! Batch processing: options, one batch's run state, the report, and the drivers.
//!
//! A batch goes decode ([`crate::event::BatchPlan`]) → schedule ([`BatchRun`] over
//! [`crate::lanes::LaneScheduler`]) → drive (the thread pool: [`crate::Pool::process`]; any
//! async executor: [`process_async`]) → report ([`BatchReport`]). A plain list of jobs (a
//! coordinator's fan-out) runs on the same scheduler: [`crate::Pool::run_jobs`],
//! [`run_jobs_async`] → [`JobReport`].

mod async_driver;
mod context;
mod jobs;
mod options;
mod report;
mod run;
mod sync_driver;

pub use crate::limit::InFlightLimit;
pub use async_driver::{
    process_async, process_event_async, run_plan_async, DEFAULT_ASYNC_CONCURRENCY,
};
pub use context::{remaining_time, ContextError, ContextReading, ContextValue};
pub use jobs::{run_jobs_async, run_jobs_keyed_async, JobContext, JobError, JobFailure, JobReport};
pub use options::{
    check_concurrency, check_millis, BatchOptions, MaxPerSecond, OptionsError,
    DEFAULT_DEADLINE_MARGIN, MAX_CONCURRENCY,
};
pub use report::{BatchReport, BatchResponse, BatchSummary, Failure, ItemIdentifier};
pub use run::{BatchRun, Step};
pub use sync_driver::{BatchResult, Halt, NoGate, RecordReport, RunnerGate};

use std::fmt;

use crate::event::EventError;

/// Why a batch call returned no report.
///
/// The all-failed error says why no record succeeded: the count of each reason and, for
/// `deadline` records, the time left at the start and the margin
/// ([`BatchSummary::failure_breakdown`]). Its [`source`](std::error::Error::source) is the
/// error of the first record in event order that keeps one ([`BatchReport::first_error`]),
/// when the records' error type is an [`std::error::Error`].
///
/// ```
/// use lanepool::batch::{BatchError, BatchOptions};
/// use lanepool::Pool;
/// use std::error::Error;
/// let event = serde_json::json!({"Records": [
///     {"eventSource": "aws:sqs", "messageId": "m0", "attributes": {"MessageGroupId": "g"}},
///     {"eventSource": "aws:sqs", "messageId": "m1", "attributes": {"MessageGroupId": "g"}},
///     {"eventSource": "aws:sqs", "messageId": "m2"},
/// ]});
/// let pool = Pool::new(2).unwrap();
/// let err = pool
///     .process_event(&event, &BatchOptions::new(), |_| Err::<(), _>("bad record"))
///     .unwrap_err();
/// assert_eq!(err.to_string(), "every record of the batch failed (3 records: 2 error, 1 skipped)");
/// assert_eq!(err.source().unwrap().to_string(), "bad record");
/// assert!(matches!(err, BatchError::AllFailed(_)));
/// ```
#[derive(Debug)]
pub enum BatchError<E> {
    /// The event is malformed; no handler ran.
    Event(EventError),
    /// Every record of a non-empty batch failed; the report says how.
    AllFailed(Box<BatchReport<E>>),
    /// The options cannot be used with this driver (an attempt timeout for sync handlers, an
    /// invalid start rate, a concurrency of 0); nothing ran.
    Options(OptionsError),
}

impl<E> From<EventError> for BatchError<E> {
    fn from(e: EventError) -> Self {
        BatchError::Event(e)
    }
}

impl<E> fmt::Display for BatchError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::Event(e) => write!(f, "malformed event: {e}"),
            BatchError::AllFailed(report) => write!(
                f,
                "every record of the batch failed ({})",
                report.summary().failure_breakdown()
            ),
            BatchError::Options(e) => write!(f, "invalid options: {e}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for BatchError<E> {
    /// The event error, or the first kept error of an all-failed batch, in event order.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BatchError::Event(e) => Some(e),
            BatchError::AllFailed(report) => report
                .first_error()
                .and_then(|f| f.error)
                .map(|e| e as &(dyn std::error::Error + 'static)),
            BatchError::Options(e) => Some(e),
        }
    }
}

impl<E> BatchError<E> {
    /// The report, when the batch ran.
    pub fn report(&self) -> Option<&BatchReport<E>> {
        match self {
            BatchError::AllFailed(report) => Some(report),
            BatchError::Event(_) | BatchError::Options(_) => None,
        }
    }
}

/// A record's failure in the Rust drivers: the handler's error, or its panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError<E> {
    /// The handler returned this error.
    #[error("{0}")]
    Error(E),
    /// The handler panicked with this message.
    #[error("handler panicked: {0}")]
    Panic(String),
}
