//! [`BatchRun`]: one batch's state between decode and report, for any driver.

use std::time::{Duration, Instant};

use super::{BatchError, BatchOptions, BatchReport};
use crate::event::{BatchPlan, Identifiers, Source};
use crate::lanes::{LaneScheduler, Next, SchedulerError, Ticket};
use crate::limit::LimitedCall;

/// What a driver does next, with waits relative to now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Run this record now.
    Run(Ticket),
    /// Wait for a completion, or at most this long when `Some`, then ask again.
    Wait(Option<Duration>),
    /// Every record has its outcome; call [`BatchRun::finish`].
    Done,
}

/// One batch from decode to report: the plan, the lane scheduler, the clock and the options.
/// Plain state, no threads: the thread pool, the async driver and the Python and Node loops
/// all drive it the same way: `step()`, run the handler, `complete()`, ... `finish()`.
///
/// ```
/// use lanepool::batch::{BatchOptions, BatchRun, Step};
/// use lanepool::event::{BatchPlan, LaneOrdering};
/// let event = serde_json::json!({"Records": [
///     {"eventSource": "aws:sqs", "messageId": "a"},
///     {"eventSource": "aws:sqs", "messageId": "b"},
/// ]});
/// let plan = BatchPlan::decode(&event, LaneOrdering::Auto).unwrap();
/// let mut run: BatchRun<String> = BatchRun::new(plan, &BatchOptions::new(), 4);
/// while let Step::Run(ticket) = run.step() {
///     let result = if ticket.index == 1 { Err("boom".to_string()) } else { Ok(()) };
///     run.complete(ticket.index, result).unwrap();
/// }
/// let report = run.finish().unwrap();
/// assert_eq!(report.response().batch_item_failures, ["b"]);
/// ```
pub struct BatchRun<E> {
    /// The plan's identifiers: those it checked but did not read are named by the face
    /// ([`BatchRun::read_identifiers`]), those kept as parts by the core ([`BatchRun::into_report`]).
    identifiers: Identifiers,
    source: Option<Source>,
    scheduler: LaneScheduler<E>,
    origin: Instant,
    raise_on_full_batch_failure: bool,
    log_summary: bool,
    /// Time left before the deadline at `origin` (margin not taken off), for the report.
    remaining_at_start: Option<Duration>,
    deadline_margin: Duration,
}

impl<E> BatchRun<E> {
    /// Starts the batch's clock now. `default_concurrency` applies when the options set none.
    ///
    /// # Panics
    /// When the options are invalid ([`BatchOptions::validate`], such as a `concurrency` of
    /// 0): a mistake in the program, refused before anything runs rather than read as some
    /// other value. The bundled drivers check first ([`BatchOptions::check_for`]) and return
    /// [`BatchError::Options`]; the faces validate their callers' options first and
    /// raise their own error.
    ///
    /// ```should_panic
    /// use lanepool::batch::{BatchOptions, BatchRun};
    /// use lanepool::event::BatchPlan;
    /// let plan = BatchPlan::from_parts(None, [("a".to_string(), None)]);
    /// // panics: "invalid BatchOptions: concurrency must be at least 1, got 0"
    /// let _run: BatchRun<()> = BatchRun::new(plan, &BatchOptions::new().concurrency(0), 4);
    /// ```
    #[track_caller]
    pub fn new(plan: BatchPlan, options: &BatchOptions, default_concurrency: usize) -> Self {
        Self::with_origin(plan, options, default_concurrency, Instant::now())
    }

    /// Like [`BatchRun::new`] with the clock started at `origin` (the call's start).
    ///
    /// The options' attempt timeout and start rate go to the scheduler as they are; check
    /// them first with [`BatchOptions::check_for`] (an invalid rate is left out here). A
    /// driver given an attempt timeout must stop what [`BatchRun::timed_out`] names.
    /// # Panics
    /// As [`BatchRun::new`], when the options are invalid.
    #[track_caller]
    pub fn with_origin(
        plan: BatchPlan,
        options: &BatchOptions,
        default_concurrency: usize,
        origin: Instant,
    ) -> Self {
        if let Err(e) = options.validate() {
            panic!("lanepool: invalid BatchOptions: {e}");
        }
        let config = options.scheduler_config(origin, default_concurrency);
        let source = plan.source();
        let (identifiers, lanes) = plan.into_parts();
        let scheduler = LaneScheduler::new(lanes, config)
            .with_attempt_timeout(options.attempt_timeout)
            .with_start_rate(options.start_rate().ok().flatten());
        BatchRun {
            identifiers,
            source,
            scheduler,
            origin,
            raise_on_full_batch_failure: options.raise_on_full_batch_failure,
            log_summary: options.log_summary,
            remaining_at_start: options
                .deadline
                .map(|d| d.saturating_duration_since(origin)),
            deadline_margin: options.deadline_margin,
        }
    }

    /// Time since the batch started.
    pub fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// The instant the batch's clock started.
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// What to do next.
    pub fn step(&mut self) -> Step {
        self.step_at(self.now())
    }

    /// [`BatchRun::step`] at `now`, a time [`BatchRun::now`] gave: a driver that tells the
    /// core many things at once reads the clock once for all of them.
    ///
    /// ```
    /// use lanepool::batch::{BatchOptions, BatchRun, Step};
    /// use lanepool::event::BatchPlan;
    /// let mut run: BatchRun<()> = BatchRun::new(BatchPlan::jobs(2), &BatchOptions::new(), 4);
    /// let now = run.now();
    /// let (Step::Run(a), Step::Run(b)) = (run.step_at(now), run.step_at(now)) else { panic!() };
    /// run.complete_at(a.index, Ok(()), now).unwrap();
    /// run.complete_at(b.index, Ok(()), now).unwrap();
    /// assert_eq!(run.step_at(now), Step::Done);
    /// ```
    pub fn step_at(&mut self, now: Duration) -> Step {
        match self.scheduler.next(now) {
            Next::Run(ticket) => Step::Run(ticket),
            Next::Wait { until } => Step::Wait(until.map(|u| u.saturating_sub(now))),
            Next::Done => Step::Done,
        }
    }

    /// What to do next when the call shares an [`crate::limit::InFlightLimit`]: a record
    /// starts only with a slot of `call` (see [`LimitedCall::next`]); give the slot back with
    /// [`LimitedCall::release`] when its handler ends. A [`Step::Wait`] then also ends when
    /// `call`'s wake-up hook runs.
    ///
    /// ```
    /// use lanepool::batch::{BatchOptions, BatchRun, InFlightLimit, Step};
    /// use lanepool::event::BatchPlan;
    /// let limit = InFlightLimit::new(1).unwrap();
    /// let call = limit.register();
    /// let plan = BatchPlan::from_parts(None, (0..2).map(|i| (format!("r{i}"), None)));
    /// let mut run: BatchRun<()> = BatchRun::new(plan, &BatchOptions::new(), 4);
    /// let Step::Run(t) = run.step_limited(&call) else { panic!() };
    /// assert_eq!(run.step_limited(&call), Step::Wait(None)); // the one slot is taken
    /// run.complete(t.index, Ok(())).unwrap();
    /// call.release().unwrap();
    /// let Step::Run(t) = run.step_limited(&call) else { panic!() };
    /// run.complete(t.index, Ok(())).unwrap();
    /// call.release().unwrap();
    /// assert_eq!(run.step_limited(&call), Step::Done);
    /// ```
    pub fn step_limited(&mut self, call: &LimitedCall) -> Step {
        self.step_limited_at(call, self.now())
    }

    /// [`BatchRun::step_limited`] at `now` (see [`BatchRun::step_at`]).
    pub fn step_limited_at(&mut self, call: &LimitedCall, now: Duration) -> Step {
        match call.next(&mut self.scheduler, now) {
            Next::Run(ticket) => Step::Run(ticket),
            Next::Wait { until } => Step::Wait(until.map(|u| u.saturating_sub(now))),
            Next::Done => Step::Done,
        }
    }

    /// Records the result of the attempt running record `index`.
    pub fn complete(&mut self, index: usize, result: Result<(), E>) -> Result<(), SchedulerError> {
        self.complete_at(index, result, self.now())
    }

    /// [`BatchRun::complete`] at `now` (see [`BatchRun::step_at`]).
    pub fn complete_at(
        &mut self,
        index: usize,
        result: Result<(), E>,
        now: Duration,
    ) -> Result<(), SchedulerError> {
        self.scheduler.complete(index, result, now)
    }

    /// Takes the errors of failed attempts that retries replaced (see
    /// [`LaneScheduler::take_displaced`]): a driver drops them where a panic of their `Drop`
    /// is caught.
    pub fn take_displaced(&mut self) -> Vec<E> {
        self.scheduler.take_displaced()
    }

    /// The running records whose attempt has run longer than the attempt timeout, earliest
    /// first (see [`LaneScheduler::timed_out`]): stop each (drop its future, cancel its task,
    /// fire its abort signal) and report it with [`BatchRun::time_out`]. The next such time
    /// is already in [`Step::Wait`]'s wait.
    ///
    /// ```
    /// use lanepool::batch::{BatchOptions, BatchRun, Step};
    /// use lanepool::event::BatchPlan;
    /// use std::time::Duration;
    /// let plan = BatchPlan::jobs(1);
    /// let options = BatchOptions::new().attempt_timeout(Duration::from_millis(5));
    /// let mut run: BatchRun<()> = BatchRun::new(plan, &options, 4);
    /// let Step::Run(t) = run.step() else { panic!() };
    /// let Step::Wait(Some(wait)) = run.step() else { panic!() };
    /// assert!(wait <= Duration::from_millis(5));
    /// std::thread::sleep(wait);
    /// assert_eq!(run.timed_out(), [t.index]);
    /// run.time_out(t.index, None).unwrap();
    /// let report = run.into_report().unwrap();
    /// assert_eq!(report.summary().timeout, 1);
    /// ```
    pub fn timed_out(&self) -> Vec<usize> {
        self.scheduler.timed_out(self.now())
    }

    /// Records that the attempt running record `index` was stopped because it timed out,
    /// keeping `error` if stopping it produced one (see [`BatchRun::timed_out`] for an
    /// example). Without retries left the record ends as `timeout` and skips its lane.
    pub fn time_out(&mut self, index: usize, error: Option<E>) -> Result<(), SchedulerError> {
        self.time_out_at(index, error, self.now())
    }

    /// [`BatchRun::time_out`] at `now` (see [`BatchRun::step_at`]).
    pub fn time_out_at(
        &mut self,
        index: usize,
        error: Option<E>,
        now: Duration,
    ) -> Result<(), SchedulerError> {
        self.scheduler.time_out(index, error, now)
    }

    /// Takes back record `index`, handed out by a step but not started (see
    /// [`LaneScheduler::unstart`]).
    pub fn unstart(&mut self, index: usize) -> Result<(), SchedulerError> {
        self.scheduler.unstart(index)
    }

    /// Records that the attempt running record `index` was stopped at the deadline.
    pub fn cancel(&mut self, index: usize, error: Option<E>) -> Result<(), SchedulerError> {
        self.scheduler.cancel(index, error)
    }

    /// Stops starting records (running ones still complete).
    pub fn halt(&mut self) {
        self.scheduler.halt();
    }

    /// Whether the deadline has passed (drivers that can cancel running handlers use it).
    pub fn deadline_passed(&self) -> bool {
        self.scheduler.deadline_passed(self.now())
    }

    /// Time left until the deadline (`None`: no deadline).
    pub fn time_to_deadline(&self) -> Option<Duration> {
        self.scheduler
            .deadline()
            .map(|d| d.saturating_sub(self.now()))
    }

    /// The scheduler, for its counts.
    pub fn scheduler(&self) -> &LaneScheduler<E> {
        &self.scheduler
    }

    /// Most records in flight at once.
    pub fn concurrency(&self) -> usize {
        self.scheduler.concurrency()
    }

    /// Records in the batch.
    pub fn len(&self) -> usize {
        self.identifiers.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.identifiers.len() == 0
    }

    /// Gives the texts of identifiers a plan made by
    /// [`BatchPlan::decode_checked`](crate::event::BatchPlan::decode_checked) did not read,
    /// once every record has its outcome: `read(index)` is called, in index order, for each
    /// record the report names by identifier (every record that did not succeed, and with
    /// `all` every record), and the first error stops it. Without `all`, succeeded records
    /// keep an empty identifier (read them all for [`BatchReport::succeeded`]). Nothing is
    /// called for a plan whose identifiers were read.
    ///
    /// ```
    /// use lanepool::batch::{BatchOptions, BatchRun, Step};
    /// use lanepool::event::{BatchPlan, LaneOrdering};
    /// let event = serde_json::json!({"Records": [
    ///     {"eventSource": "aws:sqs", "messageId": "a"},
    ///     {"eventSource": "aws:sqs", "messageId": "b"},
    /// ]});
    /// let plan = BatchPlan::decode_checked(&event, LaneOrdering::Auto).unwrap();
    /// let mut run: BatchRun<()> = BatchRun::new(plan, &BatchOptions::new(), 4);
    /// while let Step::Run(t) = run.step() {
    ///     run.complete(t.index, if t.index == 1 { Err(()) } else { Ok(()) }).unwrap();
    /// }
    /// let mut asked = Vec::new();
    /// run.read_identifiers(false, |i| {
    ///     asked.push(i);
    ///     Ok::<_, ()>(event["Records"][i]["messageId"].as_str().unwrap().to_owned())
    /// })
    /// .unwrap();
    /// assert_eq!(asked, [1]);
    /// assert_eq!(run.finish().unwrap().response().batch_item_failures, ["b"]);
    /// ```
    ///
    /// # Errors
    /// The first error `read` returns, or [`SchedulerError::Unfinished`] (nothing read)
    /// while records have no outcome.
    pub fn read_identifiers<X>(
        &mut self,
        all: bool,
        read: impl FnMut(usize) -> Result<String, X>,
    ) -> Result<Result<(), X>, SchedulerError> {
        if !self.scheduler.is_done() {
            return Err(SchedulerError::Unfinished(self.scheduler.unfinished()));
        }
        if !self.identifiers.unread_by_face() {
            return Ok(Ok(()));
        }
        let scheduler = &self.scheduler;
        Ok(self
            .identifiers
            .name(|index| all || !succeeded(scheduler, index), read))
    }

    /// The report, without the all-failed rule (an error only if records are unfinished).
    pub fn into_report(self) -> Result<BatchReport<E>, SchedulerError> {
        let stats = self.scheduler.stats();
        let duration = self.origin.elapsed();
        // Identifiers kept as parts (Kafka's): those the response names are written now.
        let scheduler = &self.scheduler;
        let mut identifiers = self.identifiers;
        identifiers.name_from_parts(|index| !succeeded(scheduler, index));
        let outcomes = self.scheduler.into_outcomes()?;
        let report =
            BatchReport::with_identifiers(identifiers, outcomes, self.source, stats, duration)
                .with_deadline(self.remaining_at_start, self.deadline_margin);
        if self.log_summary {
            println!("{}", report.summary().to_log_line());
        }
        Ok(report)
    }

    /// The report, with the all-failed rule applied: a non-empty batch in which no record
    /// succeeded is [`BatchError::AllFailed`] unless the options turned that off.
    ///
    /// # Panics
    /// When records are unfinished: drive until [`Step::Done`] first.
    pub fn finish(self) -> Result<BatchReport<E>, BatchError<E>> {
        let raise = self.raise_on_full_batch_failure;
        let report = self
            .into_report()
            .expect("finish() is called after Step::Done");
        if raise && report.all_failed() {
            Err(BatchError::AllFailed(Box::new(report)))
        } else {
            Ok(report)
        }
    }
}

/// Whether record `index` succeeded (a finished record the report does not name).
fn succeeded<E>(scheduler: &LaneScheduler<E>, index: usize) -> bool {
    matches!(
        scheduler.outcome(index),
        Some(crate::lanes::Outcome::Succeeded { .. })
    )
}
