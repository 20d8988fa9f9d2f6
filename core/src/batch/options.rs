//! [`BatchOptions`]: how one batch runs, in a builder.

use std::time::{Duration, Instant, SystemTime};

use crate::event::LaneOrdering;
use crate::lanes::{Backoff, SchedulerConfig};
use crate::limit::InFlightLimit;

/// Default time kept back before the deadline to return the response.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// How one batch runs.
///
/// ```
/// use lanepool::batch::BatchOptions;
/// use lanepool::event::LaneOrdering;
/// use std::time::Duration;
/// let options = BatchOptions::new()
///     .ordering(LaneOrdering::Unordered)
///     .concurrency(16)
///     .retries(2)
///     .remaining_time(Duration::from_secs(30))
///     .deadline_margin(Duration::from_secs(1));
/// assert_eq!(options.retries, 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchOptions {
    /// How records are put into lanes.
    pub ordering: LaneOrdering,
    /// Most handlers in flight at once (`None`: the pool's workers).
    pub concurrency: Option<usize>,
    /// Retries after a failed attempt.
    pub retries: u32,
    /// Retry backoff (base, cap, jitter seed).
    pub backoff: Backoff,
    /// When the invocation ends (Lambda's deadline), if known.
    pub deadline: Option<Instant>,
    /// Time kept back before `deadline`: no record starts after `deadline - margin`.
    pub deadline_margin: Duration,
    /// Whether a non-empty batch in which no record succeeded is an error.
    pub raise_on_full_batch_failure: bool,
    /// Whether to print the summary as one JSON log line to stdout.
    pub log_summary: bool,
    /// Whether async handlers still running at `deadline - margin` are cancelled (their
    /// futures dropped, their records reported `deadline`) instead of awaited. Default:
    /// `true`. Sync handlers cannot be interrupted and are always awaited.
    pub cancel_at_deadline: bool,
    /// A limit on handlers in flight shared with other calls (`None`: this call's
    /// `concurrency` only). See [`BatchOptions::in_flight_limit`].
    pub in_flight_limit: Option<InFlightLimit>,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            ordering: LaneOrdering::Auto,
            concurrency: None,
            retries: 0,
            backoff: Backoff::default(),
            deadline: None,
            deadline_margin: DEFAULT_DEADLINE_MARGIN,
            raise_on_full_batch_failure: true,
            log_summary: false,
            cancel_at_deadline: true,
            in_flight_limit: None,
        }
    }
}

/// An instant `ago` before now, or now when the clock cannot go back that far (either way
/// a deadline that has passed when a batch starts).
fn past_instant(ago: Duration) -> Instant {
    let now = Instant::now();
    now.checked_sub(ago).unwrap_or(now)
}

impl BatchOptions {
    /// The defaults: lanes by source, the pool's concurrency, no retries, no deadline, a
    /// 500 ms margin, all-failed is an error, no log line.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how records are put into lanes.
    pub fn ordering(mut self, ordering: LaneOrdering) -> Self {
        self.ordering = ordering;
        self
    }

    /// Sets the most handlers in flight at once (at least 1).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = Some(concurrency.max(1));
        self
    }

    /// Sets the retries after a failed attempt.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Sets the retry backoff's base delay.
    pub fn retry_backoff(mut self, base: Duration) -> Self {
        self.backoff.base = base;
        self
    }

    /// Sets the whole retry backoff.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets the invocation's deadline.
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Sets the deadline from the time remaining now (Lambda's `getRemainingTimeInMillis`).
    pub fn remaining_time(self, remaining: Duration) -> Self {
        self.deadline(Instant::now() + remaining)
    }

    /// Sets the deadline from a wall-clock time (the `deadline` of `lambda_runtime`'s
    /// `Context`, as milliseconds since the Unix epoch, converts with
    /// `UNIX_EPOCH + Duration::from_millis(ms)`). A time already past is a deadline that has
    /// passed: nothing starts.
    pub fn deadline_at(self, at: SystemTime) -> Self {
        let remaining = at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        self.remaining_time(remaining)
    }

    /// Sets the time kept back before the deadline.
    pub fn deadline_margin(mut self, margin: Duration) -> Self {
        self.deadline_margin = margin;
        self
    }

    /// Sets whether a batch in which no record succeeded is an error.
    pub fn raise_on_full_batch_failure(mut self, raise: bool) -> Self {
        self.raise_on_full_batch_failure = raise;
        self
    }

    /// Sets whether async handlers still running at the deadline are cancelled (default) or
    /// awaited. Turn it off for handlers that must not be stopped half-way, such as a
    /// non-idempotent write that is not safe to repeat.
    pub fn cancel_at_deadline(mut self, cancel: bool) -> Self {
        self.cancel_at_deadline = cancel;
        self
    }

    /// Shares `limit` with every other call given it: handlers in flight across all of them
    /// stay within it, free slots going to the waiting calls in turn (see
    /// [`crate::limit`]), while this call's own `concurrency` still holds. Waiting for a slot
    /// is not an attempt: a record that gets none before the deadline ends as `deadline` with
    /// 0 attempts; the summary says how long records waited
    /// ([`BatchSummary::slot_wait`](crate::batch::BatchSummary::slot_wait)).
    ///
    /// ```
    /// use lanepool::batch::{BatchOptions, InFlightLimit};
    /// let limit = InFlightLimit::new(64).unwrap(); // once, at INIT
    /// let options = BatchOptions::new().concurrency(16).in_flight_limit(limit.clone());
    /// assert_eq!(options.in_flight_limit, Some(limit));
    /// ```
    pub fn in_flight_limit(mut self, limit: InFlightLimit) -> Self {
        self.in_flight_limit = Some(limit);
        self
    }

    /// Sets the deadline from a remaining time in milliseconds that may be zero or negative,
    /// as a Lambda context reports it (`getRemainingTimeInMillis`; Lambda Managed Instances
    /// do not stop an invocation at its timeout, so the time may already be up). Zero or
    /// less: the deadline has passed, nothing starts and every record is reported `deadline`.
    ///
    /// ```
    /// use lanepool::batch::{BatchOptions, Step, BatchRun};
    /// use lanepool::event::BatchPlan;
    /// let plan = BatchPlan::from_parts(None, [("a".to_string(), None)]);
    /// let options = BatchOptions::new().remaining_millis(-5).raise_on_full_batch_failure(false);
    /// let mut run: BatchRun<()> = BatchRun::new(plan, &options, 4);
    /// assert_eq!(run.step(), Step::Done);
    /// assert_eq!(run.finish().unwrap().summary().deadline, 1);
    /// ```
    pub fn remaining_millis(self, ms: i64) -> Self {
        match u64::try_from(ms) {
            Ok(ms) => self.remaining_time(Duration::from_millis(ms)),
            Err(_) => self.deadline(past_instant(Duration::from_millis(ms.unsigned_abs()))),
        }
    }

    /// Sets whether the summary is logged as one JSON line.
    pub fn log_summary(mut self, log: bool) -> Self {
        self.log_summary = log;
        self
    }

    /// The scheduler configuration for a batch whose clock starts at `origin`, with
    /// `default_concurrency` when none was set.
    ///
    /// ```
    /// use lanepool::batch::BatchOptions;
    /// use std::time::{Duration, Instant};
    /// let origin = Instant::now();
    /// let options = BatchOptions::new()
    ///     .deadline(origin + Duration::from_millis(700))
    ///     .deadline_margin(Duration::from_millis(300));
    /// let config = options.scheduler_config(origin, 4);
    /// assert_eq!(config.deadline, Some(Duration::from_millis(400)));
    /// assert_eq!(config.concurrency, 4);
    /// ```
    pub fn scheduler_config(&self, origin: Instant, default_concurrency: usize) -> SchedulerConfig {
        SchedulerConfig {
            concurrency: self.concurrency.unwrap_or(default_concurrency).max(1),
            retries: self.retries,
            backoff: self.backoff,
            deadline: self.deadline.map(|d| {
                d.checked_sub(self.deadline_margin)
                    .map_or(Duration::ZERO, |d| d.saturating_duration_since(origin))
            }),
        }
    }
}
