//! Batch processing: options, one batch's run state, the report, and the drivers.
//!
//! A batch goes decode ([`crate::event::BatchPlan`]) → schedule ([`BatchRun`] over
//! [`crate::lanes::LaneScheduler`]) → drive (the thread pool: [`crate::Pool::process`]; any
//! async executor: [`process_async`]) → report ([`BatchReport`]). A plain list of jobs (a
//! coordinator's fan-out) runs on the same scheduler: [`crate::Pool::run_jobs`],
//! [`run_jobs_async`] → [`JobReport`].

mod async_driver;
mod jobs;
mod options;
mod report;
mod run;
mod sync_driver;

pub use crate::limit::InFlightLimit;
pub use async_driver::{
    process_async, process_event_async, run_plan_async, DEFAULT_ASYNC_CONCURRENCY,
};
pub use jobs::{run_jobs_async, run_jobs_keyed_async, JobContext, JobError, JobFailure, JobReport};
pub use options::{BatchOptions, MaxPerSecond, OptionsError, DEFAULT_DEADLINE_MARGIN};
pub use report::{BatchReport, BatchResponse, BatchSummary, Failure, ItemIdentifier};
pub use run::{BatchRun, Step};
pub use sync_driver::{BatchResult, Halt, NoGate, RecordReport, RunnerGate};

use crate::event::EventError;

/// Why a batch call returned no report.
#[derive(Debug, thiserror::Error)]
pub enum BatchError<E> {
    /// The event is malformed; no handler ran.
    #[error("malformed event: {0}")]
    Event(#[from] EventError),
    /// Every record of a non-empty batch failed; the report says how.
    #[error("every record of the batch failed ({} records)", .0.summary().records)]
    AllFailed(Box<BatchReport<E>>),
    /// The options cannot be used with this driver (an attempt timeout for sync handlers, an
    /// invalid start rate); nothing ran.
    #[error("invalid options: {0}")]
    Options(OptionsError),
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
