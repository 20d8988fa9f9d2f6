//! One running batch: the core's [`BatchRun`], driven by `lib/driver.js` through [`Batch::drive`],
//! and the report handed back by [`Batch::finish`]. Handlers' errors stay in JavaScript: the run
//! keeps `E = ()`.

use lanepool::batch::{BatchError, BatchReport, BatchRun, ItemIdentifier, Step};
use lanepool::event::Source;
use napi::bindgen_prelude::Either;
use napi::{sys, Env, JsObject, JsString, JsUnknown, NapiRaw, Result, ValueType};
use napi_derive::napi;

use crate::limit::{Joined, Limit};
use crate::{ms_of, typed_array, used};

/// A Kafka record's identifier as Lambda names it in the response.
#[napi(object)]
pub struct KafkaIdentifier {
    /// `"<topic>-<partition>"`.
    pub partition: String,
    /// The record's offset: a JavaScript number, exact (offsets read from JavaScript numbers
    /// are integers up to 2^53 - 1).
    pub offset: f64,
}

/// A record's identifier as Lambda names it: a string, or a Kafka record's object.
pub type Identifier = Either<String, KafkaIdentifier>;

/// The identifier whose text (as the report keeps it) is `text`, by the core's
/// [`ItemIdentifier::of`].
fn identifier(text: &str, source: Option<Source>) -> Identifier {
    identifier_of(ItemIdentifier::of(text, source))
}

fn identifier_of(id: ItemIdentifier<'_>) -> Identifier {
    match id {
        ItemIdentifier::Text(text) => Either::A(text.to_owned()),
        ItemIdentifier::Kafka { partition, offset } => Either::B(KafkaIdentifier {
            partition: partition.to_owned(),
            offset: offset as f64,
        }),
    }
}

/// One reported record; JavaScript adds the handler's `error`.
#[napi(object)]
pub struct FailureInfo {
    pub item_identifier: Identifier,
    pub index: u32,
    pub reason: String,
    pub attempts: u32,
}

/// Summary figures, as the core counts them.
#[napi(object)]
pub struct SummaryInfo {
    pub source: Option<String>,
    pub records: u32,
    pub succeeded: u32,
    pub failed: u32,
    pub error: u32,
    pub skipped: u32,
    pub deadline: u32,
    pub duration_ms: f64,
    pub peak_in_flight: u32,
    pub lanes: u32,
    pub retries: f64,
    /// Time records waited for a slot of the pool's `maxInFlight`, added up over records.
    pub slot_wait_ms: f64,
    /// The longest any one record waited for such a slot.
    pub slot_wait_max_ms: f64,
    /// Records whose last attempt ran past `attemptTimeoutMs`.
    pub timeout: u32,
    /// Time the start rate (`maxPerSecond`) held starts back.
    pub rate_wait_ms: f64,
}

/// The finished batch: the report's parts, and whether the all-failed rule fired.
#[napi(object)]
pub struct FinishInfo {
    /// The core's all-failed error message, when the rule fired.
    pub all_failed: Option<String>,
    pub batch_item_failures: Vec<Identifier>,
    /// Every failure (only for a full report or when the all-failed rule fired).
    pub failures: Option<Vec<FailureInfo>>,
    /// Identifiers that succeeded (only when asked for).
    pub succeeded: Option<Vec<Identifier>>,
    /// The counts (only for a full report or when the all-failed rule fired).
    pub summary: Option<SummaryInfo>,
    /// The core's one-line JSON summary (only when asked for).
    pub log_line: Option<String>,
}

/// What `finish()` hands back: only the response for a plain `process()` (each object crossing
/// to JavaScript costs more than a small record's run), the report's parts when they are read.
fn finish_info(
    report: &BatchReport<()>,
    all_failed: Option<String>,
    full: bool,
    log: bool,
) -> FinishInfo {
    let detailed = full || all_failed.is_some();
    let s = (detailed || log).then(|| report.summary());
    let source = report.summary().source;
    let response = report.response();
    FinishInfo {
        all_failed,
        batch_item_failures: response.item_identifiers().map(identifier_of).collect(),
        failures: detailed.then(|| {
            report
                .failures()
                .into_iter()
                .map(|f| FailureInfo {
                    item_identifier: identifier(f.item_identifier, source),
                    index: f.index as u32,
                    reason: f.reason.as_str().to_owned(),
                    attempts: f.attempts,
                })
                .collect()
        }),
        succeeded: full.then(|| {
            report
                .succeeded()
                .into_iter()
                .map(|text| identifier(text, source))
                .collect()
        }),
        summary: s.as_ref().filter(|_| detailed).map(|s| SummaryInfo {
            source: s.source.map(|x| x.as_str().to_owned()),
            records: s.records as u32,
            succeeded: s.succeeded as u32,
            failed: s.failed() as u32,
            error: s.error as u32,
            skipped: s.skipped as u32,
            deadline: s.deadline as u32,
            duration_ms: ms_of(s.duration),
            peak_in_flight: s.peak_in_flight as u32,
            lanes: s.lanes as u32,
            retries: s.retries as f64,
            slot_wait_ms: ms_of(s.slot_wait),
            slot_wait_max_ms: ms_of(s.slot_wait_max),
            timeout: s.timeout as u32,
            rate_wait_ms: ms_of(s.rate_wait),
        }),
        log_line: s.as_ref().filter(|_| log).map(|s| s.to_log_line()),
    }
}

/// One running batch: the core's [`BatchRun`] with errors kept in JavaScript, and its
/// membership of the pool's shared limit, if the pool has one ([`Batch::join`]).
#[napi]
pub struct Batch {
    // Dropped in this order: the run, then the membership (which gives back what it holds).
    run: Option<BatchRun<()>>,
    limited: Option<Joined>,
}

/// `drive()`'s final step codes (in `io[2 * cap]`), read by `lib/driver.js`: every record has
/// its outcome.
#[napi]
pub const STEP_DONE: f64 = -1.0;
/// Wait for a completion.
#[napi]
pub const STEP_WAIT: f64 = -2.0;
/// `STEP_WAIT_FOR - ms` (<= `STEP_WAIT_FOR`): wait for a completion or `ms` milliseconds.
#[napi]
pub const STEP_WAIT_FOR: f64 = -3.0;
/// The run list is full: call again after starting these.
#[napi]
pub const STEP_MORE: f64 = -0.5;

/// `drive()`'s completion codes are `index * ENDED_STRIDE + kind`, kind one of `ENDED_*`.
#[napi]
pub const ENDED_STRIDE: u32 = 8;
/// The attempt succeeded.
#[napi]
pub const ENDED_OK: u32 = 0;
/// The attempt failed.
#[napi]
pub const ENDED_ERR: u32 = 1;
/// The attempt gave up at the deadline.
#[napi]
pub const ENDED_DEADLINE: u32 = 2;
/// The attempt was stopped because it ran past the attempt timeout ([`Batch::timed_out`]
/// named it, its signal fired, and it has settled since).
#[napi]
pub const ENDED_TIMEOUT: u32 = 3;
/// The record was handed out but not started: the driver saw the deadline come while it ran
/// the handlers before it ([`lanepool::batch::BatchRun::unstart`]).
#[napi]
pub const ENDED_UNSTARTED: u32 = 4;

impl Batch {
    pub(crate) fn new(run: BatchRun<()>) -> Self {
        Batch {
            run: Some(run),
            limited: None,
        }
    }

    fn run(&mut self) -> Result<&mut BatchRun<()>> {
        self.run.as_mut().ok_or_else(used)
    }
}

fn protocol(e: impl std::fmt::Display) -> napi::Error {
    napi::Error::from_reason(format!("lanepool driver: {e}"))
}

#[napi]
impl Batch {
    /// Many steps in one call. `io` is a `Float64Array` of `2 * cap + 2`: its first `ended`
    /// entries are attempts that ended, in the order they ended (`index * ENDED_STRIDE + kind`, kind
    /// `ENDED_OK`, `ENDED_ERR`, `ENDED_DEADLINE`, `ENDED_TIMEOUT` or `ENDED_UNSTARTED`); the core is told each in turn, then
    /// asked what next until it says wait or done or `cap` records are to start. Those records
    /// go to `io[cap..cap + n]` (n returned, to be started in that order), the final step code
    /// to `io[2 * cap]` (`STEP_DONE`, `STEP_WAIT`, `STEP_WAIT_FOR - ms`, or `STEP_MORE`: call again).
    /// `io[2 * cap + 1]`: how many slot hand-overs of the pool's limit wait to be taken
    /// ([`Limit::take_woken`]); 0 without a limit.
    ///
    /// In a batch that [joined](Batch::join) its pool's limit a record starts only with a slot
    /// of it ([`BatchRun::step_limited`]), and each ended attempt gives its slot back, to the
    /// call the core hands it to.
    ///
    /// At most `limit` records start per call (1: the driver starts one, and a handler that
    /// ended at once is told before the core is asked again, as step by step). Right after a
    /// record started and filled the last free slot the core is not asked again (it could only
    /// say wait); a call that starts nothing still asks it, so a timer's call sees the deadline.
    #[napi]
    pub fn drive(&mut self, env: Env, io: JsUnknown, ended: u32, limit: u32) -> Result<u32> {
        // SAFETY: an argument value of this call; the slice is dropped before it returns.
        let io: &mut [f64] =
            unsafe { typed_array::typed(env.raw(), io.raw(), sys::TypedarrayType::float64_array)? };
        if io.len() < 4 || !io.len().is_multiple_of(2) || ended as usize > (io.len() - 2) / 2 {
            return Err(protocol("drive() buffer of the wrong size"));
        }
        let cap = (io.len() - 2) / 2;
        let limit = (limit as usize).clamp(1, cap);
        let Batch { run, limited } = self;
        let run = run.as_mut().ok_or_else(used)?;
        // One clock reading for everything this call tells and asks: what it tells ended in
        // the same turn of the event loop.
        let now = run.now();
        for &code in &io[..ended as usize] {
            if !(code >= 0.0 && code < 2f64.powi(53)) {
                return Err(protocol(format!("bad completion code {code}")));
            }
            let code = code as u64;
            let index = (code / u64::from(ENDED_STRIDE)) as usize;
            match (code % u64::from(ENDED_STRIDE)) as u32 {
                ENDED_OK => run.complete_at(index, Ok(()), now),
                ENDED_ERR => run.complete_at(index, Err(()), now),
                ENDED_DEADLINE => run.cancel(index, Some(())),
                ENDED_TIMEOUT => run.time_out_at(index, Some(()), now),
                ENDED_UNSTARTED => run.unstart(index),
                _ => return Err(protocol(format!("bad completion code {code}"))),
            }
            .map_err(protocol)?;
            if let Some(joined) = limited {
                joined.call.release().map_err(protocol)?;
            }
        }
        let mut started = 0usize;
        let code = loop {
            if started > 0 && run.scheduler().in_flight() >= run.concurrency() {
                break STEP_WAIT;
            }
            if started == limit {
                break STEP_MORE;
            }
            let step = match limited {
                Some(joined) => run.step_limited_at(&joined.call, now),
                None => run.step_at(now),
            };
            match step {
                Step::Run(ticket) => {
                    io[cap + started] = ticket.index as f64;
                    started += 1;
                }
                Step::Wait(None) => break STEP_WAIT,
                Step::Wait(Some(timeout)) => break STEP_WAIT_FOR - ms_of(timeout),
                Step::Done => break STEP_DONE,
            }
        };
        io[2 * cap] = code;
        io[2 * cap + 1] = limited.as_ref().map_or(0, |joined| joined.woken.len()) as f64;
        Ok(started as u32)
    }

    /// Joins the pool's shared limit, before the first `drive()`; returns this call's id (the
    /// id [`Limit::take_woken`] names when a slot is handed to it).
    #[napi]
    pub fn join(&mut self, limit: &Limit) -> Result<f64> {
        if self.limited.is_some() {
            return Err(protocol("join() twice"));
        }
        self.run()?;
        let (id, joined) = limit.join();
        self.limited = Some(joined);
        Ok(id)
    }

    /// Ends the batch without a report (the driver failed): gives back its slots of the
    /// pool's limit, which go to the waiting calls. Nothing after it but `finish()` errors.
    #[napi]
    pub fn close(&mut self) {
        self.run = None;
        self.limited = None;
    }

    /// The records whose running attempt has run past the attempt timeout, earliest first
    /// ([`BatchRun::timed_out`]): the driver fires their signals, and tells each with
    /// `ENDED_TIMEOUT` once its handler settled. Until then they are named again.
    #[napi]
    pub fn timed_out(&mut self) -> Result<Vec<u32>> {
        Ok(self
            .run()?
            .timed_out()
            .into_iter()
            .map(|i| i as u32)
            .collect())
    }

    /// Whether the deadline (margin taken off) has passed.
    #[napi]
    pub fn deadline_passed(&mut self) -> Result<bool> {
        Ok(self.run()?.deadline_passed())
    }

    /// Milliseconds until the deadline (margin taken off); -1: no deadline.
    #[napi]
    pub fn time_to_deadline(&mut self) -> Result<f64> {
        Ok(self.run()?.time_to_deadline().map_or(-1.0, ms_of))
    }

    /// The report, after `drive()` said `STEP_DONE`. `full`: include the succeeded identifiers;
    /// `log`: include the summary's log line. `kept`: the identifier texts `lib/decode.js`
    /// kept, one string per record, for a plan whose identifiers the core checked but did not
    /// read (see [`crate::projected`]): the report reads those it names (every one for
    /// `full`).
    #[napi]
    pub fn finish(&mut self, full: bool, log: bool, kept: Option<JsObject>) -> Result<FinishInfo> {
        let mut run = self.run.take().ok_or_else(used)?;
        if !run.scheduler().is_done() {
            self.run = Some(run);
            return Err(protocol("finish() before every record has its outcome"));
        }
        // Done: the membership of the pool's limit ends (anything still handed to it passes on).
        self.limited = None;
        let read = run
            .read_identifiers(full, |index| {
                let kept = kept
                    .as_ref()
                    .ok_or_else(|| protocol("finish() needs the kept identifiers"))?;
                let value: JsUnknown = kept.get_element(index as u32)?;
                if value.get_type()? != ValueType::String {
                    return Err(protocol(format!("kept identifier {index} is not a string")));
                }
                // SAFETY: checked just above to be a string.
                let text: JsString = unsafe { value.cast() };
                Ok(text.into_utf8()?.as_str()?.to_owned())
            })
            .map_err(protocol)?;
        read?;
        match run.finish() {
            Ok(report) => Ok(finish_info(&report, None, full, log)),
            Err(e) => {
                let text = e.to_string();
                match e {
                    BatchError::AllFailed(report) => {
                        Ok(finish_info(&report, Some(text), full, log))
                    }
                    BatchError::Event(_) | BatchError::Options(_) => Err(protocol(text)),
                }
            }
        }
    }
}
