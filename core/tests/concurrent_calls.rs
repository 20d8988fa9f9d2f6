//! Many batch calls at once on one runtime or one pool, as under Lambda Managed Instances:
//! `process_async` calls on one multi-thread tokio runtime, and `Pool::process` from several
//! threads on one `Pool`, with and without a shared `InFlightLimit`.
//!
//! Each call has its own records (identifiers prefixed by the call), lanes, failures, retries
//! and deadline. The tests check that each call keeps its own: its report lists exactly its
//! records with the outcomes its own rules give, its handler saw only its records, its lanes
//! never overlapped, its summary counts its own records, one call's deadline never cancelled
//! another's handlers, handlers in flight never exceeded the call's `concurrency` nor the
//! shared limit, and every slot came back (also from a panicking handler and a dropped call).

mod common;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{within, LIMIT};
use lanepool::batch::{process_async, BatchOptions, BatchResult, InFlightLimit, RecordError};
use lanepool::event::BatchRecord;
use lanepool::lanes::{Backoff, Outcome};
use lanepool::Pool;

/// How a test record's handler behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    Ok,
    /// Fails every attempt.
    Fail,
    /// Fails its first attempt, then succeeds.
    FailOnce,
    /// Panics on every attempt.
    Panic,
}

#[derive(Clone, Debug)]
struct Msg {
    id: String,
    group: Option<String>,
    sleep: Duration,
    act: Act,
}

impl BatchRecord for Msg {
    fn item_identifier(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.id))
    }
    fn lane_key(&self) -> Option<Cow<'_, str>> {
        self.group.as_deref().map(Cow::Borrowed)
    }
}

/// Handlers in flight now, and the most at once.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    fn enter(&self) -> GaugeGuard<'_> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        GaugeGuard(self)
    }
    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

struct GaugeGuard<'g>(&'g Gauge);

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One call of a scenario: its records, its options, what it saw.
struct Call {
    name: String,
    records: Vec<Msg>,
    concurrency: usize,
    /// Remaining time at the call's start, if it has a deadline.
    remaining: Option<Duration>,
    gauge: Gauge,
    /// (record index, attempt, start, end) of every handler call, ended or cancelled.
    calls: Mutex<Vec<(usize, u32, Instant, Instant)>>,
    /// A record of another call was handed to this call's handler.
    foreign: AtomicUsize,
}

impl Call {
    /// `n` records; `groups` > 0 puts record `i` in lane `i % groups`; `act(i)` and `sleep`.
    fn new(
        name: &str,
        n: usize,
        groups: usize,
        concurrency: usize,
        sleep: Duration,
        act: impl Fn(usize) -> Act,
    ) -> Call {
        Call {
            name: name.to_string(),
            records: (0..n)
                .map(|i| Msg {
                    id: format!("{name}-{i}"),
                    group: (groups > 0).then(|| format!("{name}-g{}", i % groups)),
                    sleep,
                    act: act(i),
                })
                .collect(),
            concurrency,
            remaining: None,
            gauge: Gauge::default(),
            calls: Mutex::new(Vec::new()),
            foreign: AtomicUsize::new(0),
        }
    }

    fn with_deadline(mut self, remaining: Duration) -> Call {
        self.remaining = Some(remaining);
        self
    }

    fn options(&self, limit: Option<&InFlightLimit>) -> BatchOptions {
        let mut options = BatchOptions::new()
            .concurrency(self.concurrency)
            .retries(1)
            .backoff(Backoff {
                base: Duration::from_millis(2),
                ..Backoff::default()
            })
            .deadline_margin(Duration::ZERO)
            .raise_on_full_batch_failure(false);
        if let Some(remaining) = self.remaining {
            options = options.remaining_time(remaining);
        }
        if let Some(limit) = limit {
            options = options.in_flight_limit(limit.clone());
        }
        options
    }

    fn index_of(&self, m: &Msg) -> Option<usize> {
        let prefix = format!("{}-", self.name);
        m.id.strip_prefix(&prefix)?.parse().ok()
    }

    /// Records one handler call; the end is taken when the guard drops (return or cancel).
    fn begin<'c>(&'c self, m: &Msg, global: &'c Gauge) -> CallGuard<'c> {
        let index = self.index_of(m);
        if index.is_none() {
            self.foreign.fetch_add(1, Ordering::SeqCst);
        }
        let index = index.unwrap_or(usize::MAX);
        let attempt = self
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.0 == index)
            .count() as u32
            + 1;
        CallGuard {
            call: self,
            index,
            attempt,
            start: Instant::now(),
            _own: self.gauge.enter(),
            _global: global.enter(),
        }
    }

    /// The outcome its own rules give record `i` when it ran (no deadline interfering):
    /// within a lane, a record that fails for good skips the later ones.
    fn expected(&self) -> Vec<&'static str> {
        let mut failed_lanes: HashMap<&str, ()> = HashMap::new();
        self.records
            .iter()
            .map(|m| {
                if let Some(g) = &m.group {
                    if failed_lanes.contains_key(g.as_str()) {
                        return "skipped";
                    }
                }
                match m.act {
                    Act::Ok | Act::FailOnce => "succeeded",
                    Act::Fail | Act::Panic => {
                        if let Some(g) = &m.group {
                            failed_lanes.insert(g.as_str(), ());
                        }
                        "error"
                    }
                }
            })
            .collect()
    }

    /// Everything a call must keep to itself, checked on its result.
    fn check(&self, result: BatchResult<String>, returned: Instant) {
        let name = &self.name;
        let report = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            self.foreign.load(Ordering::SeqCst),
            0,
            "{name}: saw a record of another call"
        );
        let ids: Vec<&str> = self.records.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(
            report.identifiers(),
            ids,
            "{name}: the report lists its own records"
        );
        assert!(
            self.gauge.peak() <= self.concurrency,
            "{name}: {} in flight, concurrency {}",
            self.gauge.peak(),
            self.concurrency
        );
        let calls = self.calls.lock().unwrap().clone();
        for (i, outcome) in report.outcomes().iter().enumerate() {
            let made = calls.iter().filter(|c| c.0 == i).count() as u32;
            assert_eq!(
                made,
                outcome.attempts(),
                "{name}: handler calls of record {i}"
            );
            if let Outcome::Deadline { attempts: 0, .. } = outcome {
                assert!(
                    self.remaining.is_some(),
                    "{name}: record {i} deadline without one"
                );
            }
            if let Some(RecordError::Panic(message)) = outcome.error() {
                assert_eq!(
                    self.records[i].act,
                    Act::Panic,
                    "{name}: record {i}: {message}"
                );
            }
        }
        for &(index, attempt, _, end) in &calls {
            assert!(
                end <= returned,
                "{name}: record {index} attempt {attempt} outlived the call"
            );
        }
        if self.remaining.is_none() {
            let got: Vec<&str> = report
                .outcomes()
                .iter()
                .map(|o| o.reason().map_or("succeeded", |r| r.as_str()))
                .collect();
            assert_eq!(got, self.expected(), "{name}: outcomes");
            let retried = self
                .records
                .iter()
                .zip(report.outcomes())
                .filter(|(m, o)| m.act != Act::Ok && o.attempts() == 2)
                .count() as u64;
            assert_eq!(report.summary().retries, retried, "{name}: retries");
        }
        let summary = report.summary();
        assert_eq!(
            summary.records,
            self.records.len(),
            "{name}: summary records"
        );
        assert_eq!(
            summary.succeeded + summary.failed(),
            self.records.len(),
            "{name}: summary counts"
        );
        assert!(
            summary.peak_in_flight <= self.concurrency,
            "{name}: summary peak"
        );
        // Lanes: no overlap, event order.
        let mut by_lane: HashMap<&str, Vec<(Instant, Instant, usize)>> = HashMap::new();
        for &(index, _, start, end) in &calls {
            if let Some(g) = &self.records[index].group {
                by_lane.entry(g).or_default().push((start, end, index));
            }
        }
        for (lane, mut runs) in by_lane {
            runs.sort();
            for pair in runs.windows(2) {
                assert!(pair[0].1 <= pair[1].0, "{name}: lane {lane} overlapped");
                assert!(pair[0].2 <= pair[1].2, "{name}: lane {lane} out of order");
            }
        }
    }

    fn result_of(&self, m: &Msg, attempt: u32) -> Result<(), String> {
        match m.act {
            Act::Ok => Ok(()),
            Act::Fail => Err(format!("{} failed", m.id)),
            Act::FailOnce if attempt == 1 => Err(format!("{} failed once", m.id)),
            Act::FailOnce => Ok(()),
            Act::Panic => panic!("{} panicked", m.id),
        }
    }
}

struct CallGuard<'c> {
    call: &'c Call,
    index: usize,
    attempt: u32,
    start: Instant,
    _own: GaugeGuard<'c>,
    _global: GaugeGuard<'c>,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        let end = Instant::now();
        self.call
            .calls
            .lock()
            .unwrap()
            .push((self.index, self.attempt, self.start, end));
    }
}

/// The scenario: a long call whose handlers outlive a short call's deadline, a big call, a
/// small one, lanes with failures, a panicking handler, retries.
fn scenario() -> Vec<Call> {
    let ms = Duration::from_millis;
    vec![
        // Handlers running across `short`'s deadline: never cancelled by it.
        Call::new("long", 4, 0, 2, ms(400), |_| Act::Ok),
        // A deadline of its own, 120 ms after its start, with 50 ms handlers.
        Call::new("short", 12, 0, 2, ms(50), |_| Act::Ok).with_deadline(ms(120)),
        Call::new("big", 60, 0, 4, ms(3), |i| {
            if i % 11 == 5 {
                Act::Fail
            } else {
                Act::Ok
            }
        }),
        Call::new("small", 6, 0, 3, ms(3), |i| {
            if i == 2 {
                Act::FailOnce
            } else {
                Act::Ok
            }
        }),
        // Three lanes; record 4 (lane 1) fails for good, skipping 7, 10, ... of lane 1.
        Call::new("fifo", 18, 3, 3, ms(2), |i| match i {
            4 => Act::Fail,
            6 => Act::FailOnce,
            _ => Act::Ok,
        }),
        Call::new("panics", 8, 2, 2, ms(2), |i| {
            if i == 3 {
                Act::Panic
            } else {
                Act::Ok
            }
        }),
    ]
}

/// Checks the deadline isolation of the scenario: `short` ended at its own deadline, before
/// `long`'s handlers ended, and none of `long`'s handlers was cut short.
fn check_deadlines(calls: &[Call], returned: &[Instant], cancels: bool) {
    let long = &calls[0];
    let short = &calls[1];
    let long_calls = long.calls.lock().unwrap().clone();
    assert_eq!(long_calls.len(), 4);
    for &(i, _, start, end) in &long_calls {
        assert!(
            end - start >= Duration::from_millis(400),
            "long-{i} was cut short after {:?}",
            end - start
        );
    }
    let first_long_end = long_calls.iter().map(|c| c.3).min().unwrap();
    if cancels {
        assert!(
            returned[1] < first_long_end,
            "short returned only after long's handlers ended"
        );
    }
    let short_calls = short.calls.lock().unwrap();
    assert!(
        short_calls.len() < short.records.len(),
        "short ran every record despite its deadline"
    );
}

/// Process-wide gauge of handlers in flight (each test checks its own limit).
fn run_async(limit: Option<&InFlightLimit>) -> (Vec<Call>, usize) {
    let calls = Arc::new(scenario());
    let global = Arc::new(Gauge::default());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let returned: Vec<Instant> = rt.block_on(async {
        let mut tasks = Vec::new();
        for k in 0..calls.len() {
            let calls = Arc::clone(&calls);
            let global = Arc::clone(&global);
            let options = calls[k].options(limit);
            tasks.push(tokio::spawn(async move {
                let call = &calls[k];
                let result = process_async(&call.records, &options, |m| {
                    let global = &*global;
                    async move {
                        let guard = call.begin(m, global);
                        tokio::time::sleep(m.sleep).await;
                        call.result_of(m, guard.attempt)
                    }
                })
                .await;
                let returned = Instant::now();
                call.check(result, returned);
                returned
            }));
        }
        let mut returned = Vec::new();
        for task in tasks {
            returned.push(task.await.expect("a call's checks failed"));
        }
        returned
    });
    let calls = Arc::try_unwrap(calls).ok().unwrap();
    check_deadlines(&calls, &returned, true);
    (calls, global.peak())
}

fn run_threads(pool: &Pool, limit: Option<&InFlightLimit>) -> (Vec<Call>, usize) {
    let calls = scenario();
    let global = Gauge::default();
    let returned: Vec<Instant> = std::thread::scope(|s| {
        let handles: Vec<_> = calls
            .iter()
            .map(|call| {
                let global = &global;
                s.spawn(move || {
                    let result = pool.process(&call.records, &call.options(limit), |m| {
                        let guard = call.begin(m, global);
                        std::thread::sleep(m.sleep);
                        call.result_of(m, guard.attempt)
                    });
                    let returned = Instant::now();
                    call.check(result, returned);
                    returned
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a call's checks failed"))
            .collect()
    });
    // Sync handlers are awaited at the deadline, so `short` may return after `long`.
    check_deadlines(&calls, &returned, false);
    let peak = global.peak();
    (calls, peak)
}

#[test]
fn async_calls_at_once_keep_to_themselves() {
    within(LIMIT, || {
        let (_, peak) = run_async(None);
        assert!(peak >= 2, "the calls overlapped");
    });
}

#[test]
fn async_calls_sharing_a_limit_stay_within_it() {
    within(LIMIT, || {
        let limit = InFlightLimit::new(4).unwrap();
        let (calls, peak) = run_async(Some(&limit));
        assert!(peak <= 4, "{peak} handlers in flight, the limit is 4");
        assert_eq!(limit.in_flight(), 0, "every slot came back");
        assert_eq!(limit.calls(), 0);
        assert!(limit.peak_in_flight() <= 4);
        assert_eq!(calls.len(), 6);
    });
}

#[test]
fn threads_calling_one_pool_keep_to_themselves() {
    within(LIMIT, || {
        let pool = Pool::new(3).unwrap();
        let (_, peak) = run_threads(&pool, None);
        assert!(peak >= 2, "the calls overlapped");
    });
}

#[test]
fn threads_sharing_a_limit_stay_within_it() {
    within(LIMIT, || {
        let pool = Pool::new(3).unwrap();
        let limit = InFlightLimit::new(3).unwrap();
        let (_, peak) = run_threads(&pool, Some(&limit));
        assert!(peak <= 3, "{peak} handlers in flight, the limit is 3");
        assert_eq!(limit.in_flight(), 0, "every slot came back");
        assert_eq!(limit.calls(), 0);
    });
}

async fn run(
    call: &'static Call,
    options: BatchOptions,
    global: &'static Gauge,
) -> BatchResult<String> {
    process_async(&call.records, &options, move |m| async move {
        let _guard = call.begin(m, global);
        tokio::time::sleep(m.sleep).await;
        Ok::<(), String>(())
    })
    .await
}

/// A call dropped half-way (its future cancelled) gives back every slot and its place in the
/// rotation: the next call gets the whole limit, and nothing of the dropped one runs on.
#[test]
fn a_dropped_call_gives_back_its_slots() {
    within(LIMIT, || {
        let limit = InFlightLimit::new(3).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let dropped = Call::new("dropped", 20, 0, 3, Duration::from_secs(5), |_| Act::Ok);
            let waiting = Call::new("waiting", 5, 0, 2, Duration::from_secs(5), |_| Act::Ok);
            let global = Gauge::default();
            let (a, b) = (dropped.options(Some(&limit)), waiting.options(Some(&limit)));
            let dropped: &'static Call = Box::leak(Box::new(dropped));
            let waiting: &'static Call = Box::leak(Box::new(waiting));
            let global: &'static Gauge = Box::leak(Box::new(global));
            let first = tokio::spawn(run(dropped, a, global));
            tokio::time::sleep(Duration::from_millis(50)).await;
            let second = tokio::spawn(run(waiting, b, global));
            tokio::time::sleep(Duration::from_millis(50)).await;
            // `dropped` holds every slot (its own concurrency is full, so it does not wait);
            // `waiting` waits for 2.
            assert_eq!(limit.in_flight(), 3);
            assert_eq!(limit.waiting().len(), 1);
            first.abort();
            assert!(first.await.unwrap_err().is_cancelled());
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert_eq!(limit.calls(), 1);
            assert_eq!(
                dropped.gauge.now.load(Ordering::SeqCst),
                0,
                "dropped handlers stopped"
            );
            assert_eq!(
                waiting.gauge.now.load(Ordering::SeqCst),
                2,
                "its slots went on"
            );
            assert_eq!(limit.in_flight(), 2);
            second.abort();
            let _ = second.await;
            assert_eq!(limit.in_flight(), 0);
            assert_eq!(limit.calls(), 0);
        });
    });
}
