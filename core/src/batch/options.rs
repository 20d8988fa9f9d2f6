//! [`BatchOptions`]: how one batch runs, in a builder.

use std::time::{Duration, Instant, SystemTime};

use crate::event::LaneOrdering;
use crate::lanes::{Backoff, InvalidRate, SchedulerConfig, StartRate};
use crate::limit::InFlightLimit;

/// Default time kept back before the deadline to return the response.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// The most handlers in flight at once one call may ask for: 1,000,000.
///
/// A call never runs more handlers at once than its batch has records, and a Lambda batch
/// has at most 10,000 (SQS, Kinesis, DynamoDB streams, Kafka), so a larger value tunes
/// nothing: it is a mistake (`2**40` for `2**4`), and every face's integer types carry it
/// exactly (Node hands it over as a 32-bit integer).
///
/// ```
/// use lanepool::batch::{check_concurrency, MAX_CONCURRENCY};
/// assert_eq!(check_concurrency(MAX_CONCURRENCY as i128), Ok(MAX_CONCURRENCY));
/// assert!(check_concurrency(MAX_CONCURRENCY as i128 + 1).is_err());
/// ```
pub const MAX_CONCURRENCY: usize = 1_000_000;

/// A batch option whose value is out of its range: the one rule and message of every face
/// (Rust [`BatchOptions::validate`], Python `ValueError`, Node `RangeError`).
///
/// ```
/// use lanepool::batch::{BatchOptions, OptionsError};
/// let err = BatchOptions::new().concurrency(0).validate().unwrap_err();
/// assert_eq!(err, OptionsError::ConcurrencyTooLow(0));
/// assert_eq!(err.to_string(), "concurrency must be at least 1, got 0");
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// `concurrency` below 1: nothing could ever start.
    #[error("concurrency must be at least 1, got {0}")]
    ConcurrencyTooLow(i128),
    /// `concurrency` above [`MAX_CONCURRENCY`].
    #[error("concurrency must be at most {max}, got {requested}")]
    ConcurrencyTooHigh {
        /// The value given.
        requested: i128,
        /// [`MAX_CONCURRENCY`].
        max: usize,
    },
    /// A time option (in milliseconds) below zero.
    #[error("{option} must be a non-negative number of milliseconds, got {value}")]
    NegativeMillis {
        /// The option's name as the face spells it (`deadlineMarginMs`, `deadline_margin_ms`).
        option: String,
        /// The value given.
        value: f64,
    },
    /// A time option (in milliseconds) that is NaN or infinite.
    #[error("{option} must be a finite number of milliseconds, got {value}")]
    NonFiniteMillis {
        /// The option's name as the face spells it.
        option: String,
        /// The value given.
        value: f64,
    },
    /// `attempt_timeout` was set for sync handlers, which cannot be stopped.
    #[error("attempt_timeout needs async handlers: a sync handler cannot be stopped (use process_async / run_jobs_async)")]
    TimeoutNeedsAsync,
    /// `attempt_timeout` was zero.
    #[error("attempt_timeout must be more than zero")]
    ZeroTimeout,
    /// `max_per_second` was not a usable rate.
    #[error(transparent)]
    Rate(#[from] InvalidRate),
}

/// The concurrency `requested`, if it is from 1 to [`MAX_CONCURRENCY`]: the rule every
/// face applies to a concurrency or worker count it is given as a number.
///
/// ```
/// use lanepool::batch::{check_concurrency, OptionsError};
/// assert_eq!(check_concurrency(16), Ok(16));
/// assert_eq!(check_concurrency(-1), Err(OptionsError::ConcurrencyTooLow(-1)));
/// assert_eq!(
///     check_concurrency(1 << 40).unwrap_err().to_string(),
///     "concurrency must be at most 1000000, got 1099511627776"
/// );
/// ```
pub fn check_concurrency(requested: i128) -> Result<usize, OptionsError> {
    if requested < 1 {
        return Err(OptionsError::ConcurrencyTooLow(requested));
    }
    match usize::try_from(requested) {
        Ok(n) if n <= MAX_CONCURRENCY => Ok(n),
        _ => Err(OptionsError::ConcurrencyTooHigh {
            requested,
            max: MAX_CONCURRENCY,
        }),
    }
}

/// The duration of a time option given as `ms` milliseconds (`option`: its name, for the
/// message), if `ms` is finite and not negative; a time too long for a [`Duration`] is the
/// longest one.
///
/// ```
/// use lanepool::batch::check_millis;
/// use std::time::Duration;
/// assert_eq!(check_millis("deadlineMarginMs", 250.0), Ok(Duration::from_millis(250)));
/// assert_eq!(
///     check_millis("deadlineMarginMs", -5.0).unwrap_err().to_string(),
///     "deadlineMarginMs must be a non-negative number of milliseconds, got -5"
/// );
/// assert_eq!(
///     check_millis("retry_backoff_ms", f64::INFINITY).unwrap_err().to_string(),
///     "retry_backoff_ms must be a finite number of milliseconds, got inf"
/// );
/// ```
pub fn check_millis(option: &str, ms: f64) -> Result<Duration, OptionsError> {
    if !ms.is_finite() {
        return Err(OptionsError::NonFiniteMillis {
            option: option.to_owned(),
            value: ms,
        });
    }
    if ms < 0.0 {
        return Err(OptionsError::NegativeMillis {
            option: option.to_owned(),
            value: ms,
        });
    }
    Ok(Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::MAX))
}

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
    /// Longest one attempt of an async handler may run (`None`: no limit). See
    /// [`BatchOptions::attempt_timeout`].
    pub attempt_timeout: Option<Duration>,
    /// Most attempt starts per second (`None`: no rate), as given; checked when a call
    /// starts. See [`BatchOptions::max_per_second`].
    pub max_per_second: Option<MaxPerSecond>,
}

/// A start rate as given to [`BatchOptions::max_per_second`], before it is checked (equal
/// when the numbers are bit for bit equal, so options stay `Eq`).
///
/// ```
/// use lanepool::batch::MaxPerSecond;
/// assert_eq!(MaxPerSecond(5.0).start_rate().unwrap().burst(), 5);
/// assert!(MaxPerSecond(-1.0).start_rate().is_err());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct MaxPerSecond(pub f64);

impl PartialEq for MaxPerSecond {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for MaxPerSecond {}

impl MaxPerSecond {
    /// The checked rate.
    pub fn start_rate(self) -> Result<StartRate, InvalidRate> {
        StartRate::per_second(self.0)
    }
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
            attempt_timeout: None,
            max_per_second: None,
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

    /// Sets the most handlers in flight at once: from 1 to [`MAX_CONCURRENCY`]. The builder
    /// takes any value; [`validate`](BatchOptions::validate) says whether it is valid, and
    /// the drivers refuse invalid options before anything runs (0 is never read as 1).
    ///
    /// ```
    /// use lanepool::batch::BatchOptions;
    /// assert_eq!(BatchOptions::new().concurrency(8).concurrency, Some(8));
    /// assert!(BatchOptions::new().concurrency(0).validate().is_err());
    /// ```
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = Some(concurrency);
        self
    }

    /// Checks the options every face checks the same way: `concurrency`, when set, from 1 to
    /// [`MAX_CONCURRENCY`] ([`check_concurrency`]). The faces call it before a batch starts;
    /// so does [`BatchRun::new`](crate::batch::BatchRun::new), which every driver uses.
    ///
    /// # Errors
    /// The first option out of range, as an [`OptionsError`].
    ///
    /// ```
    /// use lanepool::batch::BatchOptions;
    /// assert_eq!(BatchOptions::new().validate(), Ok(()));
    /// assert_eq!(BatchOptions::new().concurrency(4).validate(), Ok(()));
    /// let err = BatchOptions::new().concurrency(0).validate().unwrap_err();
    /// assert_eq!(err.to_string(), "concurrency must be at least 1, got 0");
    /// ```
    pub fn validate(&self) -> Result<(), OptionsError> {
        if let Some(n) = self.concurrency {
            check_concurrency(n as i128)?;
        }
        Ok(())
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
    /// A time too long for the clock to reach is no deadline.
    ///
    /// ```
    /// use lanepool::batch::BatchOptions;
    /// use std::time::Duration;
    /// assert!(BatchOptions::new().remaining_time(Duration::from_secs(30)).deadline.is_some());
    /// assert!(BatchOptions::new().remaining_time(Duration::MAX).deadline.is_none());
    /// ```
    pub fn remaining_time(mut self, remaining: Duration) -> Self {
        self.deadline = Instant::now().checked_add(remaining);
        self
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

    /// Sets the longest one attempt of an async handler may run: an attempt still running
    /// after `timeout` is cancelled (its future dropped) and fails with reason `timeout`; it
    /// is retried while retries remain (the lane waits, as for any retry), and a record whose
    /// last attempt timed out is reported (reason `timeout`, in the partial batch response)
    /// and skips the rest of its lane. An attempt that would time out at or after the
    /// deadline is the deadline's (`cancel_at_deadline` decides). Sync handlers cannot be
    /// stopped: the sync drivers ([`crate::Pool::process`], [`crate::Pool::run_jobs`], ...)
    /// refuse it with [`BatchError::Options`](crate::batch::BatchError::Options) before
    /// anything runs; zero is refused too.
    ///
    /// ```
    /// use lanepool::batch::{run_plan_async, BatchOptions};
    /// use lanepool::event::BatchPlan;
    /// use std::time::Duration;
    /// let plan = BatchPlan::from_parts(None, [("slow".to_string(), None), ("fast".to_string(), None)]);
    /// let options = BatchOptions::new().attempt_timeout(Duration::from_millis(20));
    /// let report = futures::executor::block_on(run_plan_async(plan, &options, |t| async move {
    ///     if t.index == 0 { std::future::pending::<()>().await } // hangs
    ///     Ok::<(), ()>(())
    /// })).unwrap();
    /// assert_eq!(report.response().batch_item_failures, ["slow"]);
    /// assert_eq!(report.summary().timeout, 1);
    /// ```
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// Sets a start rate: attempts (retries included) start at most `per_second` per second
    /// on average, in bursts of at most `per_second` (at least 1): a token bucket, full at the
    /// start, on the batch's clock. It combines with lanes, `concurrency` and the deadline: no
    /// start is postponed past the deadline, and what the rate cannot start before it is
    /// reported `deadline`. The summary says how long the rate held the batch back
    /// ([`BatchSummary::rate_wait`](crate::batch::BatchSummary::rate_wait)). A rate that is
    /// not finite and above zero is refused with
    /// [`BatchError::Options`](crate::batch::BatchError::Options) when the call starts.
    ///
    /// ```
    /// use lanepool::{batch::BatchOptions, event::BatchPlan, Pool};
    /// use std::time::Instant;
    /// let pool = Pool::new(4).unwrap();
    /// let plan = BatchPlan::from_parts(None, (0..3).map(|i| (i.to_string(), None)));
    /// let options = BatchOptions::new().max_per_second(20.0); // bursts of 20: no wait here
    /// let report = pool.run_plan(plan, &options, |_, _| Ok::<(), ()>(())).unwrap();
    /// assert_eq!(report.summary().succeeded, 3);
    /// ```
    pub fn max_per_second(mut self, per_second: f64) -> Self {
        self.max_per_second = Some(MaxPerSecond(per_second));
        self
    }

    /// Checks the attempt timeout and start rate for a driver that can stop running handlers
    /// (`cancellable`: async ones) or not (sync ones); the bundled drivers call it first.
    pub fn check_for(&self, cancellable: bool) -> Result<(), OptionsError> {
        self.validate()?;
        if let Some(timeout) = self.attempt_timeout {
            if !cancellable {
                return Err(OptionsError::TimeoutNeedsAsync);
            }
            if timeout.is_zero() {
                return Err(OptionsError::ZeroTimeout);
            }
        }
        self.start_rate()?;
        Ok(())
    }

    /// The checked start rate, if one is set.
    ///
    /// ```
    /// use lanepool::batch::BatchOptions;
    /// assert_eq!(BatchOptions::new().start_rate(), Ok(None));
    /// assert_eq!(BatchOptions::new().max_per_second(2.5).start_rate().unwrap().unwrap().burst(), 2);
    /// ```
    pub fn start_rate(&self) -> Result<Option<StartRate>, InvalidRate> {
        self.max_per_second
            .map(MaxPerSecond::start_rate)
            .transpose()
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
