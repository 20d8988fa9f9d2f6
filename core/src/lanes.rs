//! The lane scheduler: which record runs next, and what became of each.
//!
//! [`LaneScheduler`] is plain logic with no threads, no clock and no runtime, so every driver
//! (the thread pool, the async driver, Python's asyncio loop, Node's event loop) shares it.
//! Drivers pass `now` in (time since the batch started, on any monotonic clock they like), so
//! tests control time exactly; randomness (retry jitter) comes from a seed.
//!
//! The rules it enforces:
//! - records of one lane run one at a time, in index order; unkeyed records run freely;
//! - at most `concurrency` records are in flight;
//! - a failed attempt is retried after an exponential, jittered backoff while attempts remain,
//!   and its lane waits for it;
//! - a record that fails for good skips every not-yet-started record of its lane;
//! - from the deadline on, nothing starts (not even a retry): records not started end as
//!   [`Outcome::Deadline`], records waiting for a retry end as [`Outcome::Failed`] (or
//!   [`Outcome::TimedOut`] when their last attempt timed out);
//! - with an attempt timeout ([`LaneScheduler::with_attempt_timeout`]), an attempt running
//!   longer is due to be stopped: the scheduler names it ([`LaneScheduler::timed_out`]), the
//!   driver stops it and reports it ([`LaneScheduler::time_out`]); it is retried like a failed
//!   attempt, and a record whose last attempt timed out ends as [`Outcome::TimedOut`] and
//!   skips the rest of its lane;
//! - with a start rate ([`LaneScheduler::with_start_rate`]), attempts (retries included)
//!   start at most `rate` per second on average, in bursts of at most `rate` (a token bucket
//!   on the driver's clock); a record the rate holds back past the deadline ends as
//!   [`Outcome::Deadline`].

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};
use std::time::Duration;

/// A lane's number within one batch (lane keys are interned by [`crate::event::BatchPlan`]).
pub type LaneId = u32;

/// No record: the end of a lane's chain of records (see [`LaneScheduler`]'s `lane_next`).
const NO_RECORD: u32 = u32::MAX;

/// Exponential backoff with jitter for retries.
///
/// The delay before retry `n` (after `n` failed attempts) is drawn uniformly from
/// `[d/2, d]` where `d = min(max, base * 2^(n-1))` ("equal jitter").
///
/// ```
/// use lanepool::lanes::Backoff;
/// use std::time::Duration;
/// let b = Backoff { base: Duration::from_millis(100), max: Duration::from_secs(2), seed: 7 };
/// let mut rng = b.rng();
/// let d = b.delay(3, &mut rng);
/// assert!(d >= Duration::from_millis(200) && d <= Duration::from_millis(400));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay scale of the first retry.
    pub base: Duration,
    /// Largest delay before jitter.
    pub max: Duration,
    /// Seed of the jitter sequence, so a batch's retry times are reproducible.
    pub seed: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(5),
            seed: 0x5eed_1a9e,
        }
    }
}

/// The jitter source of a [`Backoff`]: SplitMix64, small and seedable.
#[derive(Clone, Debug)]
pub struct JitterRng(u64);

impl JitterRng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Backoff {
    /// A fresh jitter sequence for this backoff's seed.
    pub fn rng(&self) -> JitterRng {
        JitterRng(self.seed)
    }

    /// The delay before the retry that follows `failed_attempts` failed attempts (1-based).
    pub fn delay(&self, failed_attempts: u32, rng: &mut JitterRng) -> Duration {
        let shift = failed_attempts.saturating_sub(1).min(30);
        let full = self.base.saturating_mul(1u32 << shift).min(self.max);
        let full_ns = full.as_nanos().min(u64::MAX as u128) as u64;
        let half = full_ns / 2;
        let jitter = if half == 0 {
            0
        } else {
            rng.next_u64() % (half + 1)
        };
        Duration::from_nanos(full_ns - half + jitter)
    }
}

/// How a scheduler runs one batch.
///
/// ```
/// use lanepool::lanes::SchedulerConfig;
/// let config = SchedulerConfig { concurrency: 8, retries: 2, ..SchedulerConfig::default() };
/// assert_eq!(config.deadline, None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// Most records in flight at once (at least 1).
    pub concurrency: usize,
    /// Retries after a failed attempt (attempts = 1 + retries).
    pub retries: u32,
    /// Delay between attempts.
    pub backoff: Backoff,
    /// From this time on (on the driver's clock, margin already taken off) nothing starts.
    pub deadline: Option<Duration>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            concurrency: 1,
            retries: 0,
            backoff: Backoff::default(),
            deadline: None,
        }
    }
}

/// What became of one record. Every record ends as exactly one of these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<E> {
    /// The handler succeeded on attempt `attempts`.
    Succeeded {
        /// Handler calls made for this record.
        attempts: u32,
    },
    /// The handler failed on its last attempt.
    Failed {
        /// The last attempt's error.
        error: E,
        /// Handler calls made for this record.
        attempts: u32,
    },
    /// Not started because an earlier record of its lane failed.
    Skipped {
        /// Index of the record whose failure skipped this one.
        after: usize,
    },
    /// Not started, or stopped, because the deadline passed.
    Deadline {
        /// Handler calls made (0 when it never started).
        attempts: u32,
        /// The error a stopped handler ended with, if any.
        error: Option<E>,
    },
    /// Its last attempt ran longer than the attempt timeout and was stopped.
    TimedOut {
        /// Handler calls made for this record (the timed-out one included).
        attempts: u32,
        /// The error the stopped attempt ended with, if any (a panic of its `Drop`).
        error: Option<E>,
    },
}

/// Why a record is reported failed: the `reason` every face shows.
///
/// ```
/// use lanepool::lanes::Reason;
/// assert_eq!(Reason::Skipped.as_str(), "skipped");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The handler failed.
    Error,
    /// An earlier record of its lane failed.
    Skipped,
    /// The deadline passed before it started (or while it ran, when cancelled).
    Deadline,
    /// Its last attempt ran longer than the attempt timeout and was stopped.
    Timeout,
}

impl Reason {
    /// The reason's name: `"error"`, `"skipped"`, `"deadline"` or `"timeout"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Error => "error",
            Reason::Skipped => "skipped",
            Reason::Deadline => "deadline",
            Reason::Timeout => "timeout",
        }
    }
}

impl<E> Outcome<E> {
    /// `None` for a success, else why the record is reported.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Outcome::Succeeded { .. } => None,
            Outcome::Failed { .. } => Some(Reason::Error),
            Outcome::Skipped { .. } => Some(Reason::Skipped),
            Outcome::Deadline { .. } => Some(Reason::Deadline),
            Outcome::TimedOut { .. } => Some(Reason::Timeout),
        }
    }

    /// Handler calls made for this record.
    pub fn attempts(&self) -> u32 {
        match self {
            Outcome::Succeeded { attempts }
            | Outcome::Failed { attempts, .. }
            | Outcome::Deadline { attempts, .. }
            | Outcome::TimedOut { attempts, .. } => *attempts,
            Outcome::Skipped { .. } => 0,
        }
    }

    /// The error kept with the outcome, if any.
    pub fn error(&self) -> Option<&E> {
        match self {
            Outcome::Failed { error, .. } => Some(error),
            Outcome::Deadline { error, .. } | Outcome::TimedOut { error, .. } => error.as_ref(),
            _ => None,
        }
    }

    /// Converts the kept error.
    pub fn map_error<F, G: FnOnce(E) -> F>(self, f: G) -> Outcome<F> {
        match self {
            Outcome::Succeeded { attempts } => Outcome::Succeeded { attempts },
            Outcome::Failed { error, attempts } => Outcome::Failed {
                error: f(error),
                attempts,
            },
            Outcome::Skipped { after } => Outcome::Skipped { after },
            Outcome::Deadline { attempts, error } => Outcome::Deadline {
                attempts,
                error: error.map(f),
            },
            Outcome::TimedOut { attempts, error } => Outcome::TimedOut {
                attempts,
                error: error.map(f),
            },
        }
    }
}

/// A record handed to a driver to run: call the handler for record `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// The record's index in the batch.
    pub index: usize,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
}

/// What a driver should do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Run this record now.
    Run(Ticket),
    /// Nothing can start now: wait for a completion, or until `until` (a retry falls due or
    /// the deadline passes, an attempt times out, the start rate allows a start), then ask
    /// again.
    Wait {
        /// When to ask again even if nothing completed.
        until: Option<Duration>,
    },
    /// Every record has its outcome and nothing is in flight.
    Done,
}

/// A driver broke the protocol (completed a record that was not running, ...).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SchedulerError {
    /// `complete` or `cancel` named a record that is not in flight.
    #[error("record {0} is not running")]
    NotRunning(usize),
    /// Outcomes were asked for while records were unfinished.
    #[error("{0} records have no outcome yet")]
    Unfinished(usize),
    /// [`LaneScheduler::unstart`] named a retry (only a first attempt can be taken back).
    #[error("record {0} is running a retry, which cannot be taken back")]
    Retry(usize),
}

/// Counts kept while a batch runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedulerStats {
    /// Records in the batch.
    pub records: usize,
    /// Distinct lanes (unkeyed records not counted).
    pub lanes: usize,
    /// Most records in flight at once.
    pub peak_in_flight: usize,
    /// Retry attempts started.
    pub retries: u64,
    /// Time records waited for a slot of a shared [`crate::limit::InFlightLimit`], added up
    /// over records: from the step at which a record could have started (its lane and the
    /// call's own `concurrency` allowing) but the limit had no slot, to its start, or to the
    /// end of its wait when it never started (deadline). Zero without a limit.
    pub slot_wait_total: Duration,
    /// The longest any one record waited for a shared slot.
    pub slot_wait_max: Duration,
    /// Time the batch was held back by its start rate: added up over the spans in which an
    /// attempt could have started (lanes and `concurrency` allowing) but the rate had no
    /// token. Zero without a rate.
    pub rate_wait_total: Duration,
    /// Attempts stopped by the attempt timeout (retried or not).
    pub timeouts: u64,
}

enum Slot<E> {
    /// Not started; queued in its lane or in the ready set.
    Waiting,
    Running {
        attempt: u32,
        /// When the attempt is due to be stopped (with an attempt timeout).
        due: Option<Duration>,
    },
    RetryWait {
        attempts: u32,
        last: LastFailure<E>,
    },
    Done(Outcome<E>),
}

/// How a record's last attempt failed, while it waits for its retry.
enum LastFailure<E> {
    Error(E),
    Timeout(Option<E>),
}

impl<E> LastFailure<E> {
    fn into_outcome(self, attempts: u32) -> Outcome<E> {
        match self {
            LastFailure::Error(error) => Outcome::Failed { error, attempts },
            LastFailure::Timeout(error) => Outcome::TimedOut { attempts, error },
        }
    }
}

/// A start rate: at most `per_second` attempt starts per second on average, in bursts of at
/// most `per_second` (at least 1): a token bucket of `max(1, floor(per_second))` tokens, full
/// at the start, one token coming back every `1 / per_second` seconds.
///
/// ```
/// use lanepool::lanes::StartRate;
/// use std::time::Duration;
/// let rate = StartRate::per_second(4.0).unwrap();
/// assert_eq!((rate.burst(), rate.interval()), (4, Duration::from_millis(250)));
/// assert_eq!(StartRate::per_second(0.5).unwrap().burst(), 1);
/// assert!(StartRate::per_second(0.0).is_err() && StartRate::per_second(f64::NAN).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartRate {
    interval: Duration,
    burst: u32,
}

/// A start rate that is not a positive, finite number of starts per second (or is so small
/// or so large that its interval is not representable: below one start in about 584 years,
/// above 10^9 per second).
///
/// ```
/// use lanepool::lanes::{InvalidRate, StartRate};
/// assert_eq!(StartRate::per_second(-2.0), Err(InvalidRate(-2.0)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error("max_per_second must be a finite number above 0 and at most 1e9, got {0}")]
pub struct InvalidRate(pub f64);

impl StartRate {
    /// The rate of `per_second` starts per second.
    pub fn per_second(per_second: f64) -> Result<Self, InvalidRate> {
        if !(per_second.is_finite() && per_second > 0.0 && per_second <= 1e9) {
            return Err(InvalidRate(per_second));
        }
        let interval =
            Duration::try_from_secs_f64(1.0 / per_second).map_err(|_| InvalidRate(per_second))?;
        Ok(StartRate {
            interval: interval.max(Duration::from_nanos(1)),
            burst: per_second.floor().clamp(1.0, u32::MAX as f64) as u32,
        })
    }

    /// Time for one token to come back: `1 / per_second`.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Most starts at once (the bucket's size): `max(1, floor(per_second))`.
    pub fn burst(&self) -> u32 {
        self.burst
    }
}

/// The token bucket of a [`StartRate`], as a virtual schedule (GCRA): `tat` is when the
/// bucket would be full again; a start is allowed at `t >= tat - (burst - 1) * interval`.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    rate: StartRate,
    tat: Duration,
}

impl Bucket {
    fn ready_at(&self) -> Duration {
        let slack = self
            .rate
            .interval
            .saturating_mul(self.rate.burst.saturating_sub(1));
        self.tat.saturating_sub(slack)
    }

    fn take(&mut self, now: Duration) {
        self.tat = self.tat.max(now).saturating_add(self.rate.interval);
    }
}

/// The records that may start now, lowest index first: a set of record indices as bits
/// (`words`), with a summary bit per word that holds any (`summary`), so that taking the
/// lowest is a scan of a few words, not a heap's sift, at any mix of records ready at the
/// start and records that became ready later (a lane's next record, a retry that fell due).
struct ReadyQueue {
    words: Vec<u64>,
    /// Bit `w % 64` of `summary[w / 64]`: `words[w]` is not zero.
    summary: Vec<u64>,
    /// No summary word below this one holds a bit.
    low: usize,
    len: usize,
}

impl ReadyQueue {
    /// A queue for records `0..records`, holding none.
    fn new(records: usize) -> Self {
        let words = records.div_ceil(64);
        ReadyQueue {
            words: vec![0; words],
            summary: vec![0; words.div_ceil(64)],
            low: 0,
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Adds record `index` (not already in the queue, below `records`).
    fn push(&mut self, index: usize) {
        let (w, bit) = (index / 64, 1u64 << (index % 64));
        debug_assert_eq!(self.words[w] & bit, 0, "record {index} is ready twice");
        self.words[w] |= bit;
        self.summary[w / 64] |= 1 << (w % 64);
        self.low = self.low.min(w / 64);
        self.len += 1;
    }

    fn pop(&mut self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        while self.summary[self.low] == 0 {
            self.low += 1;
        }
        let s = self.low;
        let w = s * 64 + self.summary[s].trailing_zeros() as usize;
        let word = self.words[w];
        let index = w * 64 + word.trailing_zeros() as usize;
        self.words[w] = word & (word - 1);
        if self.words[w] == 0 {
            self.summary[s] &= !(1 << (w % 64));
        }
        self.len -= 1;
        Some(index)
    }

    fn clear(&mut self) {
        self.words.fill(0);
        self.summary.fill(0);
        self.low = 0;
        self.len = 0;
    }
}

/// The lane scheduler of one batch. `E` is whatever the driver keeps as a failure
/// (an error value, a Python exception, ...).
///
/// ```
/// use lanepool::lanes::{LaneScheduler, Next, SchedulerConfig, Outcome};
/// use std::time::Duration;
/// // records 0 and 2 share lane 0; record 1 is unkeyed
/// let config = SchedulerConfig { concurrency: 4, ..Default::default() };
/// let mut s: LaneScheduler<&str> = LaneScheduler::new(vec![Some(0), None, Some(0)], config);
/// let t0 = Duration::ZERO;
/// let Next::Run(a) = s.next(t0) else { panic!() };
/// let Next::Run(b) = s.next(t0) else { panic!() };
/// assert_eq!((a.index, b.index), (0, 1));
/// assert_eq!(s.next(t0), Next::Wait { until: None }); // record 2 waits for record 0
/// s.complete(a.index, Err("boom"), t0).unwrap();       // lane 0 failed: record 2 is skipped
/// s.complete(b.index, Ok(()), t0).unwrap();
/// assert_eq!(s.next(t0), Next::Done);
/// let outcomes = s.into_outcomes().unwrap();
/// assert_eq!(outcomes[2], Outcome::Skipped { after: 0 });
/// ```
pub struct LaneScheduler<E> {
    lane_of: Vec<Option<LaneId>>,
    /// Per lane: its first record not yet handed to `ready` ([`NO_RECORD`]: none); the rest
    /// follow it in index order through `next_in_lane`.
    lane_next: Vec<u32>,
    /// Per record: the next record of its lane ([`NO_RECORD`]: it is the lane's last).
    next_in_lane: Vec<u32>,
    ready: ReadyQueue,
    retry_due: BinaryHeap<Reverse<(Duration, usize)>>,
    slots: Vec<Slot<E>>,
    unfinished: usize,
    in_flight: usize,
    expired: bool,
    config: SchedulerConfig,
    rng: JitterRng,
    stats: SchedulerStats,
    /// Errors of failed attempts that a retry has replaced, kept for the driver to drop
    /// ([`take_displaced`](Self::take_displaced)): the scheduler never drops an `E` itself,
    /// since its `Drop` may be user code that panics, and a panic inside `next` would leave the
    /// record in no queue.
    displaced: Vec<E>,
    /// When each start opportunity that a shared limit refused began to wait, oldest first:
    /// one entry per record that could start now but for the limit (at most `concurrency`).
    slot_waits: VecDeque<Duration>,
    /// The attempt timeout, if any.
    attempt_timeout: Option<Duration>,
    /// When each running attempt is due to be stopped, earliest first (with a timeout).
    attempt_due: BTreeSet<(Duration, usize)>,
    /// The start rate's bucket, if any.
    bucket: Option<Bucket>,
    /// Since when the rate has held back a start that could happen otherwise.
    rate_wait_since: Option<Duration>,
}

impl<E> LaneScheduler<E> {
    /// A scheduler for records whose lanes are `lane_of[i]` (`None`: unkeyed). Lane ids need
    /// not be dense, but dense ids (as [`crate::event::BatchPlan`] makes) use least memory.
    ///
    /// # Panics
    /// With `u32::MAX` records or more (no batch comes near: each record is counted in a
    /// `u32` of its lane's chain).
    pub fn new(lane_of: Vec<Option<LaneId>>, mut config: SchedulerConfig) -> Self {
        config.concurrency = config.concurrency.max(1);
        let lanes = lane_of
            .iter()
            .flatten()
            .map(|&l| l as usize + 1)
            .max()
            .unwrap_or(0);
        let records = lane_of.len();
        assert!(
            u32::try_from(records).is_ok_and(|n| n < NO_RECORD),
            "lanepool: at most {} records in one batch",
            NO_RECORD - 1
        );
        // Each lane's records are chained in index order: its last record so far, per lane.
        let mut lane_last: Vec<u32> = vec![NO_RECORD; lanes];
        let mut lane_next: Vec<u32> = vec![NO_RECORD; lanes];
        let mut next_in_lane: Vec<u32> = vec![NO_RECORD; if lanes > 0 { records } else { 0 }];
        // The records ready at the start: unkeyed ones and each lane's first.
        let mut ready = ReadyQueue::new(records);
        let mut used_lanes = 0;
        for (index, lane) in lane_of.iter().enumerate() {
            match lane {
                None => ready.push(index),
                Some(l) => {
                    let l = *l as usize;
                    let last = lane_last[l];
                    if last == NO_RECORD {
                        ready.push(index);
                        used_lanes += 1;
                    } else {
                        next_in_lane[last as usize] = index as u32;
                        if lane_next[l] == NO_RECORD {
                            lane_next[l] = index as u32;
                        }
                    }
                    lane_last[l] = index as u32;
                }
            }
        }
        LaneScheduler {
            slots: (0..records).map(|_| Slot::Waiting).collect(),
            lane_of,
            lane_next,
            next_in_lane,
            ready,
            retry_due: BinaryHeap::new(),
            unfinished: records,
            in_flight: 0,
            expired: false,
            rng: config.backoff.rng(),
            config,
            stats: SchedulerStats {
                records,
                lanes: used_lanes,
                ..SchedulerStats::default()
            },
            displaced: Vec::new(),
            slot_waits: VecDeque::new(),
            attempt_timeout: None,
            attempt_due: BTreeSet::new(),
            bucket: None,
            rate_wait_since: None,
        }
    }

    /// Sets the attempt timeout: an attempt running `timeout` or longer is due to be stopped
    /// ([`timed_out`](Self::timed_out) names it, [`attempt_deadline`](Self::attempt_deadline)
    /// says when the next one falls due, and [`Next::Wait`] wakes the driver then). Only a
    /// driver that can stop a running handler may set it. An attempt due at or after the
    /// batch's deadline is the deadline's: it is not named as timed out.
    ///
    /// ```
    /// use lanepool::lanes::{LaneScheduler, Next, Outcome, SchedulerConfig};
    /// use std::time::Duration;
    /// let ms = Duration::from_millis;
    /// let mut s: LaneScheduler<()> = LaneScheduler::new(vec![Some(0), Some(0)], SchedulerConfig::default())
    ///     .with_attempt_timeout(Some(ms(100)));
    /// let Next::Run(t) = s.next(ms(0)) else { panic!() };
    /// assert_eq!(s.next(ms(10)), Next::Wait { until: Some(ms(100)) });
    /// assert!(s.timed_out(ms(99)).is_empty());
    /// assert_eq!(s.timed_out(ms(100)), [t.index]);
    /// s.time_out(t.index, None, ms(100)).unwrap(); // the driver stopped it
    /// assert_eq!(s.next(ms(100)), Next::Done);       // no retries: it skips its lane
    /// let outcomes = s.into_outcomes().unwrap();
    /// assert_eq!(outcomes[0], Outcome::TimedOut { attempts: 1, error: None });
    /// assert_eq!(outcomes[1], Outcome::Skipped { after: 0 });
    /// ```
    pub fn with_attempt_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Sets a start rate (see [`StartRate`]): attempts, retries included, start at most that
    /// many per second on average, in bursts of at most that many, on the driver's clock. A
    /// record held back by the rate waits like one held back by `concurrency`; one that the
    /// rate cannot start before the deadline ends as [`Outcome::Deadline`] with the attempts
    /// it made. Time held back is counted in [`SchedulerStats::rate_wait_total`].
    ///
    /// ```
    /// use lanepool::lanes::{LaneScheduler, Next, SchedulerConfig, StartRate};
    /// use std::time::Duration;
    /// let ms = Duration::from_millis;
    /// let config = SchedulerConfig { concurrency: 8, ..Default::default() };
    /// let mut s: LaneScheduler<()> = LaneScheduler::new(vec![None; 3], config)
    ///     .with_start_rate(Some(StartRate::per_second(2.0).unwrap())); // bursts of 2, 500 ms
    /// assert!(matches!(s.next(ms(0)), Next::Run(_)));
    /// assert!(matches!(s.next(ms(0)), Next::Run(_)));
    /// assert_eq!(s.next(ms(0)), Next::Wait { until: Some(ms(500)) });
    /// assert!(matches!(s.next(ms(500)), Next::Run(_)));
    /// assert_eq!(s.stats().rate_wait_total, ms(500));
    /// ```
    pub fn with_start_rate(mut self, rate: Option<StartRate>) -> Self {
        self.bucket = rate.map(|rate| Bucket {
            rate,
            tat: Duration::ZERO,
        });
        self
    }

    /// The next thing for the driver to do at time `now`.
    pub fn next(&mut self, now: Duration) -> Next {
        self.next_if(now, |_| true)
    }

    /// Like [`next`](Self::next), with a second gate on starting: when a record could start
    /// now (its lane and `concurrency` allowing), `admit(startable)` is asked, once, whether
    /// it may (`startable`: how many records could start now, at least 1; a shared
    /// [`crate::limit::InFlightLimit`] says yes if it has a slot for this call). When it
    /// says no, nothing starts and nothing is counted as an attempt: the answer is
    /// [`Next::Wait`], whose `until` includes the deadline, so the driver wakes to end the
    /// batch on time even if no slot comes; the time until the record starts counts in
    /// [`SchedulerStats::slot_wait_total`]. `admit` is not called when nothing could start.
    ///
    /// ```
    /// use lanepool::lanes::{LaneScheduler, Next, SchedulerConfig};
    /// use std::time::Duration;
    /// let ms = Duration::from_millis;
    /// let config = SchedulerConfig { concurrency: 4, deadline: Some(ms(50)), ..Default::default() };
    /// let mut s: LaneScheduler<()> = LaneScheduler::new(vec![None, None], config);
    /// // no slot: nothing starts, and the driver is told to wake at the deadline
    /// assert_eq!(s.next_if(ms(0), |_| false), Next::Wait { until: Some(ms(50)) });
    /// let Next::Run(t) = s.next_if(ms(10), |startable| startable == 2) else { panic!() };
    /// assert_eq!(t.attempt, 1);
    /// // the other record never gets a slot: at the deadline it ends with 0 attempts
    /// s.complete(t.index, Ok(()), ms(20)).unwrap();
    /// assert_eq!(s.next_if(ms(50), |_| false), Next::Done);
    /// assert_eq!(s.stats().slot_wait_max, ms(50));
    /// assert_eq!(s.stats().slot_wait_total, ms(60)); // 10 ms + 50 ms
    /// ```
    pub fn next_if(&mut self, now: Duration, admit: impl FnOnce(usize) -> bool) -> Next {
        if !self.expired && self.config.deadline.is_some_and(|d| now >= d) {
            self.expire();
        }
        if self.unfinished == 0 {
            self.settle_slot_waits(0, now);
            self.end_rate_wait(now);
            return Next::Done;
        }
        while let Some(&Reverse((due, index))) = self.retry_due.peek() {
            if due > now {
                break;
            }
            self.retry_due.pop();
            self.ready.push(index);
        }
        let mut refused = false;
        // Records that could start now: ready, and within `concurrency`.
        let headroom = self
            .ready
            .len()
            .min(self.config.concurrency.saturating_sub(self.in_flight));
        let could_start = headroom > 0;
        // The start rate: when the bucket has no token yet, nothing starts until it has.
        let rate_ready = self
            .bucket
            .map(|b| b.ready_at())
            .filter(|&at| could_start && at > now);
        if rate_ready.is_some() {
            self.rate_wait_since.get_or_insert(now);
        } else {
            self.end_rate_wait(now);
        }
        if rate_ready.is_some() {
            // Held back by the rate, not by a shared limit: no slot is asked for.
        } else if could_start && !admit(headroom) {
            // Every record that could start now waits for a slot from now on (the ones that
            // already waited keep their start).
            self.settle_slot_waits(headroom, now);
            while self.slot_waits.len() < headroom {
                self.slot_waits.push_back(now);
            }
            refused = true;
        } else if !could_start {
            self.settle_slot_waits(0, now);
        } else if let Some(index) = self.ready.pop() {
            if let Some(since) = self.slot_waits.pop_front() {
                self.count_slot_wait(now.saturating_sub(since));
            }
            if let Some(bucket) = &mut self.bucket {
                bucket.take(now);
            }
            let attempt = match std::mem::replace(&mut self.slots[index], Slot::Waiting) {
                Slot::RetryWait { attempts, last } => {
                    self.stats.retries += 1;
                    match last {
                        LastFailure::Error(error) | LastFailure::Timeout(Some(error)) => {
                            self.displaced.push(error)
                        }
                        LastFailure::Timeout(None) => {}
                    }
                    attempts + 1
                }
                _ => 1,
            };
            let due = self.attempt_timeout.map(|t| now.saturating_add(t));
            if let Some(due) = due {
                self.attempt_due.insert((due, index));
            }
            self.slots[index] = Slot::Running { attempt, due };
            self.in_flight += 1;
            self.stats.peak_in_flight = self.stats.peak_in_flight.max(self.in_flight);
            return Next::Run(Ticket { index, attempt });
        }
        let next_retry = self.retry_due.peek().map(|Reverse((due, _))| *due);
        let deadline = self
            .config
            .deadline
            .filter(|_| (self.in_flight > 0 || refused || rate_ready.is_some()) && !self.expired);
        let until = [next_retry, deadline, rate_ready, self.attempt_deadline()]
            .into_iter()
            .flatten()
            .min();
        Next::Wait { until }
    }

    /// Records the result of the attempt running record `index`.
    pub fn complete(
        &mut self,
        index: usize,
        result: Result<(), E>,
        now: Duration,
    ) -> Result<(), SchedulerError> {
        let attempt = self.take_running(index)?;
        match result {
            Ok(()) => {
                self.finish(index, Outcome::Succeeded { attempts: attempt });
                self.advance_lane(index);
            }
            Err(error) => self.fail_attempt(index, attempt, LastFailure::Error(error), now),
        }
        Ok(())
    }

    /// Records that the driver stopped the attempt running record `index` because it timed
    /// out (see [`with_attempt_timeout`](Self::with_attempt_timeout)), keeping `error` (a
    /// panic of the stopped handler's `Drop`, say). It is retried after the backoff while
    /// attempts remain (the lane waits); otherwise the record ends as [`Outcome::TimedOut`]
    /// and skips the rest of its lane.
    ///
    /// ```
    /// use lanepool::lanes::{Backoff, LaneScheduler, Next, Outcome, SchedulerConfig};
    /// use std::time::Duration;
    /// let ms = Duration::from_millis;
    /// let backoff = Backoff { base: Duration::ZERO, ..Backoff::default() };
    /// let config = SchedulerConfig { retries: 1, backoff, ..Default::default() };
    /// let mut s: LaneScheduler<()> = LaneScheduler::new(vec![None], config)
    ///     .with_attempt_timeout(Some(ms(50)));
    /// let Next::Run(t) = s.next(ms(0)) else { panic!() };
    /// s.time_out(t.index, None, ms(50)).unwrap();
    /// let Next::Run(retry) = s.next(ms(50)) else { panic!() };
    /// assert_eq!(retry.attempt, 2);
    /// s.complete(retry.index, Ok(()), ms(60)).unwrap();
    /// assert_eq!(s.stats().timeouts, 1);
    /// assert_eq!(s.into_outcomes().unwrap()[0], Outcome::Succeeded { attempts: 2 });
    /// ```
    pub fn time_out(
        &mut self,
        index: usize,
        error: Option<E>,
        now: Duration,
    ) -> Result<(), SchedulerError> {
        let attempt = self.take_running(index)?;
        self.stats.timeouts += 1;
        self.fail_attempt(index, attempt, LastFailure::Timeout(error), now);
        Ok(())
    }

    /// The running records whose attempt is due to be stopped at `now`, earliest first: due
    /// at or before `now`, and before the batch's deadline (from the deadline on, running
    /// attempts are the deadline's). Empty without an attempt timeout.
    pub fn timed_out(&self, now: Duration) -> Vec<usize> {
        let limit = self.config.deadline.map_or(now, |d| {
            if now >= d {
                // Only attempts due before the deadline.
                d.saturating_sub(Duration::from_nanos(1))
            } else {
                now
            }
        });
        self.attempt_due
            .iter()
            .take_while(|(due, _)| *due <= limit)
            .map(|&(_, index)| index)
            .collect()
    }

    /// When the next running attempt is due to be stopped (`None`: none is, or no timeout):
    /// a driver that can stop handlers wakes then, or passes it on as its wake-up time.
    ///
    /// ```
    /// use lanepool::lanes::{LaneScheduler, Next, SchedulerConfig};
    /// use std::time::Duration;
    /// let ms = Duration::from_millis;
    /// let mut s: LaneScheduler<()> = LaneScheduler::new(vec![None], SchedulerConfig::default())
    ///     .with_attempt_timeout(Some(ms(30)));
    /// assert_eq!(s.attempt_deadline(), None);
    /// let Next::Run(_) = s.next(ms(5)) else { panic!() };
    /// assert_eq!(s.attempt_deadline(), Some(ms(35)));
    /// ```
    pub fn attempt_deadline(&self) -> Option<Duration> {
        self.attempt_due.first().map(|&(due, _)| due)
    }

    /// A failed attempt (an error or a timeout): retry it, or end the record and skip its lane.
    fn fail_attempt(&mut self, index: usize, attempt: u32, last: LastFailure<E>, now: Duration) {
        let due = if attempt <= self.config.retries && !self.expired {
            let due = now + self.config.backoff.delay(attempt, &mut self.rng);
            self.config
                .deadline
                .map_or(Some(due), |d| (due < d).then_some(due))
        } else {
            None
        };
        match due {
            Some(due) => {
                self.slots[index] = Slot::RetryWait {
                    attempts: attempt,
                    last,
                };
                self.retry_due.push(Reverse((due, index)));
            }
            None => {
                self.finish(index, last.into_outcome(attempt));
                self.skip_lane(index);
            }
        }
    }

    /// Records that the attempt running record `index` was stopped (its outcome is
    /// [`Outcome::Deadline`], keeping `error`). Its lane does not advance: the rest of it, if
    /// any, is skipped (after the deadline it is already `deadline`), since running it would
    /// run later records of the lane before this one is redelivered.
    pub fn cancel(&mut self, index: usize, error: Option<E>) -> Result<(), SchedulerError> {
        let attempts = self.take_running(index)?;
        self.finish(index, Outcome::Deadline { attempts, error });
        self.skip_lane(index);
        Ok(())
    }

    /// Takes back record `index`, handed out by [`next`](Self::next) but not started: a
    /// driver that was handed several records at once and saw the deadline come before it
    /// started them all gives the rest back, and asks again. The record waits again as if it
    /// had not been handed out (lowest index first; after the deadline it ends as
    /// [`Outcome::Deadline`] with no attempt); counts of starts already made
    /// ([`SchedulerStats::peak_in_flight`], a start rate's tokens) stay. Only a first attempt
    /// can be taken back ([`SchedulerError::Retry`]).
    ///
    /// ```
    /// use lanepool::lanes::{LaneScheduler, Next, Outcome, SchedulerConfig};
    /// use std::time::Duration;
    /// let ms = Duration::from_millis;
    /// let config = SchedulerConfig { concurrency: 2, deadline: Some(ms(10)), ..Default::default() };
    /// let mut s: LaneScheduler<()> = LaneScheduler::new(vec![None, None], config);
    /// let (Next::Run(a), Next::Run(b)) = (s.next(ms(0)), s.next(ms(0))) else { panic!() };
    /// s.complete(a.index, Ok(()), ms(10)).unwrap(); // ran until the deadline
    /// s.unstart(b.index).unwrap();                  // so b never started
    /// assert_eq!(s.next(ms(10)), Next::Done);
    /// let outcomes = s.into_outcomes().unwrap();
    /// assert_eq!(outcomes[1], Outcome::Deadline { attempts: 0, error: None });
    /// ```
    pub fn unstart(&mut self, index: usize) -> Result<(), SchedulerError> {
        if let Some(Slot::Running { attempt, .. }) = self.slots.get(index) {
            if *attempt > 1 {
                return Err(SchedulerError::Retry(index));
            }
        }
        self.take_running(index)?;
        self.slots[index] = Slot::Waiting;
        if self.expired {
            // Its lane's waiting records ended at the deadline already.
            self.finish(
                index,
                Outcome::Deadline {
                    attempts: 0,
                    error: None,
                },
            );
        } else {
            self.ready.push(index);
        }
        Ok(())
    }

    /// Takes the errors of failed attempts that retries have replaced since the last call.
    /// Drop them where a panic of their `Drop` is caught (the bundled drivers do, outside their
    /// locks); any not taken are dropped with the scheduler.
    ///
    /// ```
    /// use lanepool::lanes::{Backoff, LaneScheduler, Next, SchedulerConfig};
    /// use std::time::Duration;
    /// let backoff = Backoff { base: Duration::ZERO, ..Backoff::default() };
    /// let config = SchedulerConfig { retries: 1, backoff, ..Default::default() };
    /// let mut s: LaneScheduler<&str> = LaneScheduler::new(vec![None], config);
    /// let Next::Run(t) = s.next(Duration::ZERO) else { panic!() };
    /// s.complete(t.index, Err("first attempt"), Duration::ZERO).unwrap();
    /// let Next::Run(retry) = s.next(Duration::ZERO) else { panic!() };
    /// assert_eq!(retry.attempt, 2);
    /// assert_eq!(s.take_displaced(), ["first attempt"]);
    /// ```
    pub fn take_displaced(&mut self) -> Vec<E> {
        std::mem::take(&mut self.displaced)
    }

    /// Stops handing out work now, as if the deadline had passed: used when a driver must
    /// give up (a `KeyboardInterrupt`, a host shutting down). Running records still complete.
    pub fn halt(&mut self) {
        if !self.expired {
            self.expire();
        }
    }

    /// Whether the deadline has passed at `now` (drivers that can cancel use it).
    pub fn deadline_passed(&self, now: Duration) -> bool {
        self.config.deadline.is_some_and(|d| now >= d)
    }

    /// The deadline on the driver's clock, if any.
    pub fn deadline(&self) -> Option<Duration> {
        self.config.deadline
    }

    /// Most records in flight at once.
    pub fn concurrency(&self) -> usize {
        self.config.concurrency
    }

    /// Records in flight now.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Whether every record has its outcome.
    pub fn is_done(&self) -> bool {
        self.unfinished == 0
    }

    /// Records without an outcome yet.
    pub fn unfinished(&self) -> usize {
        self.unfinished
    }

    /// The outcome of record `index`, once it has one.
    ///
    /// ```
    /// use lanepool::lanes::{LaneScheduler, Next, Outcome, SchedulerConfig};
    /// use std::time::Duration;
    /// let mut s: LaneScheduler<()> = LaneScheduler::new(vec![None], SchedulerConfig::default());
    /// let Next::Run(t) = s.next(Duration::ZERO) else { panic!() };
    /// assert_eq!(s.outcome(0), None);
    /// s.complete(t.index, Ok(()), Duration::ZERO).unwrap();
    /// assert_eq!(s.outcome(0), Some(&Outcome::Succeeded { attempts: 1 }));
    /// ```
    pub fn outcome(&self, index: usize) -> Option<&Outcome<E>> {
        match self.slots.get(index) {
            Some(Slot::Done(outcome)) => Some(outcome),
            _ => None,
        }
    }

    /// Counts kept so far.
    pub fn stats(&self) -> SchedulerStats {
        self.stats
    }

    /// The lane of record `index`.
    pub fn lane_of(&self, index: usize) -> Option<LaneId> {
        self.lane_of.get(index).copied().flatten()
    }

    /// Every record's outcome, in index order; an error if any record is unfinished.
    pub fn into_outcomes(self) -> Result<Vec<Outcome<E>>, SchedulerError> {
        if self.unfinished > 0 {
            return Err(SchedulerError::Unfinished(self.unfinished));
        }
        Ok(self
            .slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Done(outcome) => outcome,
                _ => unreachable!("unfinished is 0"),
            })
            .collect())
    }

    /// Ends the slot waits beyond the first `keep` (their records can no longer start: the
    /// deadline passed, or the batch was halted), counting each as waited until `now`.
    fn settle_slot_waits(&mut self, keep: usize, now: Duration) {
        while self.slot_waits.len() > keep {
            if let Some(since) = self.slot_waits.pop_back() {
                self.count_slot_wait(now.saturating_sub(since));
            }
        }
    }

    /// Ends a span held back by the start rate, counting it.
    fn end_rate_wait(&mut self, now: Duration) {
        if let Some(since) = self.rate_wait_since.take() {
            let wait = now.saturating_sub(since);
            self.stats.rate_wait_total = self.stats.rate_wait_total.saturating_add(wait);
        }
    }

    fn count_slot_wait(&mut self, wait: Duration) {
        self.stats.slot_wait_total = self.stats.slot_wait_total.saturating_add(wait);
        self.stats.slot_wait_max = self.stats.slot_wait_max.max(wait);
    }

    fn take_running(&mut self, index: usize) -> Result<u32, SchedulerError> {
        match self.slots.get(index) {
            Some(Slot::Running { attempt, due }) => {
                let attempt = *attempt;
                if let Some(due) = *due {
                    self.attempt_due.remove(&(due, index));
                }
                self.in_flight -= 1;
                Ok(attempt)
            }
            _ => Err(SchedulerError::NotRunning(index)),
        }
    }

    fn finish(&mut self, index: usize, outcome: Outcome<E>) {
        self.slots[index] = Slot::Done(outcome);
        self.unfinished -= 1;
    }

    fn advance_lane(&mut self, index: usize) {
        if self.expired {
            return;
        }
        if let Some(lane) = self.lane_of[index] {
            let next = self.lane_next[lane as usize];
            if next != NO_RECORD {
                self.lane_next[lane as usize] = self.next_in_lane[next as usize];
                self.ready.push(next as usize);
            }
        }
    }

    fn skip_lane(&mut self, index: usize) {
        if let Some(lane) = self.lane_of[index] {
            let mut skipped = std::mem::replace(&mut self.lane_next[lane as usize], NO_RECORD);
            while skipped != NO_RECORD {
                self.finish(skipped as usize, Outcome::Skipped { after: index });
                skipped = self.next_in_lane[skipped as usize];
            }
        }
    }

    /// The deadline passed: nothing starts any more.
    fn expire(&mut self) {
        self.expired = true;
        self.retry_due.clear();
        self.ready.clear();
        self.lane_next.fill(NO_RECORD);
        for index in 0..self.slots.len() {
            let outcome = match std::mem::replace(&mut self.slots[index], Slot::Waiting) {
                Slot::Waiting => Outcome::Deadline {
                    attempts: 0,
                    error: None,
                },
                Slot::RetryWait { attempts, last } => last.into_outcome(attempts),
                other => {
                    self.slots[index] = other;
                    continue;
                }
            };
            self.finish(index, outcome);
        }
    }
}

#[cfg(test)]
mod ready_queue_tests {
    use super::ReadyQueue;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        /// The queue gives the lowest index it holds, as a sorted set does, across word and
        /// summary boundaries and with pushes below what was taken (a retry, a lane's next).
        #[test]
        fn gives_the_lowest_index_it_holds(
            records in 1usize..9000,
            ops in proptest::collection::vec((any::<bool>(), any::<u32>()), 0..400),
        ) {
            let mut queue = ReadyQueue::new(records);
            let mut model = BTreeSet::new();
            for (push, at) in ops {
                let index = at as usize % records;
                if push && !model.contains(&index) {
                    queue.push(index);
                    model.insert(index);
                } else {
                    prop_assert_eq!(queue.pop(), model.pop_first());
                }
                prop_assert_eq!(queue.len(), model.len());
            }
            queue.clear();
            prop_assert_eq!(queue.pop(), None);
        }
    }
}
