//! Runs every conformance vector in `tests/vectors/` through the thread-pool driver and the
//! async driver. The format and the checks are described in `tests/vectors/README.md`.
//! Vectors with `jobs` run through `Pool::run_jobs_keyed` and `run_jobs_keyed_async`; on the
//! thread pool, a vector with `attempt_timeout_ms` checks that the option is refused.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lanepool::batch::{
    remaining_time, run_jobs_keyed_async, run_plan_async, BatchError, BatchOptions, BatchResult,
    ContextError, ContextReading, ContextValue, JobError, JobReport, OptionsError, RecordError,
};
use lanepool::event::{BatchPlan, EventError, KeyError, KeyValue, LaneOrdering};
use lanepool::lanes::{Backoff, Outcome, Ticket};
use lanepool::Pool;
use serde_json::Value;

struct Vector {
    name: String,
    json: Value,
}

fn vectors() -> Vec<Vector> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    let mut out: Vec<Vector> = std::fs::read_dir(&dir)
        .expect("tests/vectors exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| Vector {
            name: p.file_stem().unwrap().to_string_lossy().into_owned(),
            json: serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(
        out.len() >= 30,
        "expected the full vector set, found {}",
        out.len()
    );
    out
}

/// The handler the vector describes, recording every call.
struct TestHandler {
    fail_attempts: HashMap<String, u32>,
    fail_always: HashSet<String>,
    sleep_ms: HashMap<String, u64>,
    /// Per attempt (the last repeating), before `sleep_ms`.
    sleep_attempts_ms: HashMap<String, Vec<u64>>,
    default_sleep_ms: u64,
    ids: Vec<String>,
    origin: Instant,
    /// (record, attempt, start, end)
    calls: Mutex<Vec<(usize, u32, Duration, Duration)>>,
}

impl TestHandler {
    fn new(spec: &Value, ids: Vec<String>) -> Self {
        let map_u64 = |v: &Value| -> HashMap<String, u64> {
            v.as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                        .collect()
                })
                .unwrap_or_default()
        };
        TestHandler {
            fail_attempts: map_u64(&spec["fail_attempts"])
                .into_iter()
                .map(|(k, v)| (k, v as u32))
                .collect(),
            fail_always: spec["fail_always"]
                .as_array()
                .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default(),
            sleep_ms: map_u64(&spec["sleep_ms"]),
            sleep_attempts_ms: spec["sleep_attempts_ms"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            let list = v.as_array().unwrap();
                            (
                                k.clone(),
                                list.iter().map(|x| x.as_u64().unwrap()).collect(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            default_sleep_ms: spec["default_sleep_ms"].as_u64().unwrap_or(0),
            ids,
            origin: Instant::now(),
            calls: Mutex::new(Vec::new()),
        }
    }

    fn sleep_for(&self, t: Ticket) -> Duration {
        let id = &self.ids[t.index];
        if let Some(list) = self.sleep_attempts_ms.get(id) {
            let at = (t.attempt as usize - 1).min(list.len() - 1);
            return Duration::from_millis(list[at]);
        }
        Duration::from_millis(*self.sleep_ms.get(id).unwrap_or(&self.default_sleep_ms))
    }

    fn result_for(&self, t: Ticket) -> Result<(), String> {
        let id = &self.ids[t.index];
        let fails = self.fail_always.contains(id)
            || self.fail_attempts.get(id).is_some_and(|&n| t.attempt <= n);
        if fails {
            Err(format!("{id} attempt {} failed", t.attempt))
        } else {
            Ok(())
        }
    }

    /// Starts recording one call: the call's end is taken when the returned guard drops, on
    /// return or when the call is cancelled (its future dropped).
    fn begin(&self, t: Ticket) -> CallRecord<'_> {
        CallRecord {
            handler: self,
            ticket: t,
            start: self.origin.elapsed(),
        }
    }
}

/// One handler call in progress; dropping it records the call with its end time.
struct CallRecord<'h> {
    handler: &'h TestHandler,
    ticket: Ticket,
    start: Duration,
}

impl Drop for CallRecord<'_> {
    fn drop(&mut self) {
        let end = self.handler.origin.elapsed();
        let t = self.ticket;
        self.handler
            .calls
            .lock()
            .unwrap()
            .push((t.index, t.attempt, self.start, end));
    }
}

fn options_of(v: &Value) -> BatchOptions {
    let o = &v["options"];
    let mut options = BatchOptions::new()
        .ordering(match o["ordering"].as_str() {
            Some("unordered") => LaneOrdering::Unordered,
            Some("key") => LaneOrdering::Key,
            _ => LaneOrdering::Auto,
        })
        .concurrency(o["concurrency"].as_u64().unwrap_or(4) as usize)
        .retries(o["retries"].as_u64().unwrap_or(0) as u32)
        .backoff(Backoff {
            base: Duration::from_millis(o["retry_backoff_ms"].as_u64().unwrap_or(1)),
            ..Backoff::default()
        })
        .raise_on_full_batch_failure(o["raise_on_full_batch_failure"].as_bool().unwrap_or(true))
        .deadline_margin(Duration::from_millis(
            o["deadline_margin_ms"].as_u64().unwrap_or(0),
        ));
    if let Some(cancel) = o["cancel_at_deadline"].as_bool() {
        options = options.cancel_at_deadline(cancel);
    }
    if let Some(ms) = o["attempt_timeout_ms"].as_u64() {
        options = options.attempt_timeout(Duration::from_millis(ms));
    }
    if let Some(rate) = o["max_per_second"].as_f64() {
        options = options.max_per_second(rate);
    }
    // Zero or negative: the context's time is already up (Lambda Managed Instances).
    if let Some(ms) = o["remaining_time_ms"].as_i64() {
        options = options.remaining_millis(ms);
    }
    options
}

/// The remaining time of the vector's `options.context` by the core's context rule, read
/// as a face reads such a context; `Ok(None)` without one.
fn context_of(v: &Value) -> Result<Option<Duration>, ContextError> {
    const METHOD: &str = "getRemainingTimeInMillis";
    let returned = |value| ContextReading::Returned {
        method: METHOD,
        value,
    };
    let reading = match v["options"]["context"].as_str() {
        None => return Ok(None),
        Some("missing-method") => ContextReading::MissingMethod {
            method: METHOD,
            absent: "None",
            context: "object {awsRequestId}",
        },
        Some("returns-string") => returned(ContextValue::Other("string '30000'")),
        Some("returns-boolean") => returned(ContextValue::Other("boolean true")),
        Some("returns-nan") => returned(ContextValue::Number(f64::NAN)),
        Some("returns-infinity") => returned(ContextValue::Number(f64::INFINITY)),
        Some(other) => panic!("unknown options.context {other:?}"),
    };
    remaining_time(reading)
}

/// The vector's plan. With `group_key`, the key function returns the value found at that
/// dotted path as it is (absent: `null`), and the core's key rule judges it.
fn plan_of(v: &Value) -> Result<BatchPlan, EventError> {
    if let Some(jobs) = v["jobs"].as_array() {
        return BatchPlan::jobs_keyed(jobs.iter().map(job_key));
    }
    let event = &v["event"];
    match v["options"]["group_key"].as_str() {
        Some(path) => BatchPlan::decode_with_keys(event, |_, record| {
            let found = path.split('.').try_fold(*record, |r, part| r.get(part));
            Ok::<_, Infallible>(found.map_or(KeyValue::None, KeyValue::from))
        })
        .map_err(|e| match e {
            KeyError::Event(e) => e,
            KeyError::Key { error, .. } => match error {},
        }),
        None => BatchPlan::decode(event, options_of(v).ordering),
    }
}

/// A job's key: its `key` field as it is (absent: no key).
fn job_key(job: &Value) -> KeyValue {
    job.get("key").map_or(KeyValue::None, KeyValue::from)
}

/// A jobs report in a batch report's shape (identifiers: the indices as decimal strings), after
/// checking that each job has a result exactly when it succeeded, and that it is its index.
fn jobs_as_batch(
    name: &str,
    report: JobReport<usize, String>,
) -> lanepool::batch::BatchReport<RecordError<String>> {
    for (i, (result, outcome)) in report.results().iter().zip(report.outcomes()).enumerate() {
        let succeeded = matches!(outcome, Outcome::Succeeded { .. });
        assert_eq!(*result, succeeded.then_some(i), "{name}: result of job {i}");
    }
    let summary = *report.summary();
    let ids = (0..report.len()).map(|i| i.to_string()).collect();
    let outcomes = report.outcomes().to_vec();
    let stats = lanepool::lanes::SchedulerStats::default();
    let rebuilt = lanepool::batch::BatchReport::new(ids, outcomes, None, stats, summary.duration);
    assert_eq!(
        rebuilt.summary().failed(),
        summary.failed(),
        "{name}: summary"
    );
    rebuilt
}

#[derive(Clone, Copy, Debug)]
enum Driver {
    Pool,
    Async,
}

fn run(vector: &Vector, driver: Driver, pool: &Pool) {
    let v = &vector.json;
    let name = &vector.name;
    let expect = &v["expect"];
    let plan = match plan_of(v) {
        Err(e) => {
            assert_eq!(
                expect["error"]["kind"], "EventError",
                "{name}: unexpected {e}"
            );
            assert_eq!(
                expect["error"]["index"].as_u64().map(|i| i as usize),
                e.index(),
                "{name}: index of {e}"
            );
            assert_eq!(
                expect["error"]["field"].as_str(),
                e.field(),
                "{name}: field of {e}"
            );
            if let Some(group) = expect["error"].get("group") {
                assert_eq!(group.as_str(), e.group(), "{name}: group of {e}");
                assert!(
                    e.to_string().contains(group.as_str().unwrap()),
                    "{name}: {e}"
                );
            }
            return;
        }
        Ok(plan) => plan,
    };
    assert_ne!(
        expect["error"]["kind"], "EventError",
        "{name}: decoded a malformed event"
    );
    if matches!(driver, Driver::Pool) && v["options"]["attempt_timeout_ms"].is_u64() {
        // A sync handler cannot be stopped: the thread pool refuses an attempt timeout.
        let options = options_of(v);
        let refused = match v["jobs"].as_array() {
            Some(jobs) => matches!(
                pool.run_jobs(jobs, &options, |_, _| Ok::<_, ()>(())),
                Err(JobError::Options(OptionsError::TimeoutNeedsAsync))
            ),
            None => matches!(
                pool.run_plan(plan, &options, |_, _| Ok::<_, ()>(())),
                Err(BatchError::Options(OptionsError::TimeoutNeedsAsync))
            ),
        };
        assert!(refused, "{name}: the thread pool took an attempt timeout");
        return;
    }
    if matches!(driver, Driver::Pool) && v["handler"]["async_only"] == true {
        // Sync handlers cannot be interrupted at the deadline: the rule is for async ones.
        return;
    }
    let mut options = options_of(v);
    match context_of(v) {
        Err(e) => {
            assert_eq!(
                expect["error"]["kind"], "ContextError",
                "{name}: unexpected {e}"
            );
            assert!(
                e.to_string().contains("getRemainingTimeInMillis"),
                "{name}: {e}"
            );
            return; // before any handler
        }
        Ok(Some(remaining)) => options = options.remaining_time(remaining),
        Ok(None) => {}
    }
    assert_ne!(
        expect["error"]["kind"], "ContextError",
        "{name}: read a context that gives no usable time"
    );
    let lanes = plan.lanes().to_vec();
    let handler = TestHandler::new(&v["handler"], plan.identifiers().to_vec());
    let jobs = v["jobs"].as_array();
    let result: BatchResult<String> = match (driver, jobs) {
        (Driver::Pool, Some(jobs)) => pool
            .run_jobs_keyed(
                jobs,
                &options,
                |job| Some(job_key(job)),
                |_, ctx| {
                    let t = Ticket {
                        index: ctx.index,
                        attempt: ctx.attempt,
                    };
                    let _call = handler.begin(t);
                    std::thread::sleep(handler.sleep_for(t));
                    handler.result_for(t).map(|()| ctx.index)
                },
            )
            .map(|report| jobs_as_batch(name, report))
            .map_err(|e| panic!("{name}: {e}")),
        (Driver::Async, Some(jobs)) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_time()
                .build()
                .unwrap();
            rt.block_on(run_jobs_keyed_async(
                jobs,
                &options,
                |job| Some(job_key(job)),
                |_, ctx| {
                    let handler = &handler;
                    async move {
                        let t = Ticket {
                            index: ctx.index,
                            attempt: ctx.attempt,
                        };
                        let _call = handler.begin(t);
                        tokio::time::sleep(handler.sleep_for(t)).await;
                        handler.result_for(t).map(|()| ctx.index)
                    }
                },
            ))
            .map(|report| jobs_as_batch(name, report))
            .map_err(|e| panic!("{name}: {e}"))
        }
        (Driver::Pool, None) => pool.run_plan(plan, &options, |t, _| {
            let _call = handler.begin(t);
            std::thread::sleep(handler.sleep_for(t));
            handler.result_for(t)
        }),
        (Driver::Async, None) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_time()
                .build()
                .unwrap();
            rt.block_on(run_plan_async(plan, &options, |t| {
                let handler = &handler;
                async move {
                    let _call = handler.begin(t);
                    tokio::time::sleep(handler.sleep_for(t)).await;
                    handler.result_for(t)
                }
            }))
        }
    };
    let returned_at = handler.origin.elapsed();
    if let Some(ms) = expect["returns_within_ms"].as_u64() {
        assert!(
            returned_at <= Duration::from_millis(ms),
            "{name} ({driver:?}): returned after {returned_at:?}, more than {ms} ms"
        );
    }
    let report = match (result, expect["error"]["kind"].as_str()) {
        (Ok(report), None) => report,
        (Err(BatchError::AllFailed(report)), Some("BatchFailed")) => *report,
        (Ok(_), Some(kind)) => panic!("{name} ({driver:?}): expected {kind}, got a report"),
        (Err(e), _) => panic!("{name} ({driver:?}): unexpected error {e}"),
    };
    if jobs.is_none() {
        assert_eq!(
            report.response().to_value()["batchItemFailures"],
            expect["batchItemFailures"],
            "{name} ({driver:?}): batchItemFailures"
        );
    }
    let outcomes = expect["outcomes"].as_array().unwrap();
    assert_eq!(
        outcomes.len(),
        report.outcomes().len(),
        "{name}: outcome count"
    );
    for (i, (want, got)) in outcomes.iter().zip(report.outcomes()).enumerate() {
        let got_name = got.reason().map_or("succeeded", |r| r.as_str());
        assert_eq!(
            want["itemIdentifier"],
            report.identifiers()[i].as_str(),
            "{name}: id {i}"
        );
        assert_eq!(
            want["outcome"], got_name,
            "{name} ({driver:?}): outcome of record {i}"
        );
        assert_eq!(
            want["attempts"].as_u64().unwrap() as u32,
            got.attempts(),
            "{name} ({driver:?}): attempts of record {i}"
        );
        if let Some(RecordError::Panic(p)) = got.error() {
            panic!("{name}: record {i} panicked: {p}");
        }
    }
    // Every handler call is accounted for, no two records of a lane overlapped, and each
    // lane's records started in event order.
    let calls = handler.calls.into_inner().unwrap();
    for &(index, attempt, _, end) in &calls {
        assert!(
            end <= returned_at,
            "{name} ({driver:?}): record {index} attempt {attempt} ended after the call returned"
        );
    }
    for (i, outcome) in report.outcomes().iter().enumerate() {
        let n = calls.iter().filter(|c| c.0 == i).count() as u32;
        assert_eq!(n, outcome.attempts(), "{name}: calls of record {i}");
    }
    // Start times (the start rate), within the vector's stated tolerance.
    if let Some(starts) = expect["attempt_starts_ms"].as_object() {
        let tolerance = Duration::from_millis(expect["start_tolerance_ms"].as_u64().unwrap());
        let ids = report.identifiers();
        for (id, want) in starts {
            let index = ids.iter().position(|i| i == id).unwrap();
            let mut got: Vec<(u32, Duration)> = calls
                .iter()
                .filter(|c| c.0 == index)
                .map(|c| (c.1, c.2))
                .collect();
            got.sort();
            let want: Vec<Duration> = want
                .as_array()
                .unwrap()
                .iter()
                .map(|ms| Duration::from_millis(ms.as_u64().unwrap()))
                .collect();
            assert_eq!(got.len(), want.len(), "{name} ({driver:?}): starts of {id}");
            for ((attempt, start), want) in got.into_iter().zip(want) {
                assert!(
                    start + tolerance >= want && start <= want + tolerance,
                    "{name} ({driver:?}): {id} attempt {attempt} started at {start:?}, expected {want:?} ± {tolerance:?}"
                );
            }
        }
    }
    let mut by_lane: HashMap<u32, Vec<(usize, Duration, Duration)>> = HashMap::new();
    for &(index, _, start, end) in &calls {
        if let Some(lane) = lanes[index] {
            by_lane.entry(lane).or_default().push((index, start, end));
        }
    }
    for (lane, mut runs) in by_lane {
        runs.sort_by_key(|r| r.1);
        for pair in runs.windows(2) {
            assert!(
                pair[0].2 <= pair[1].1,
                "{name}: lane {lane} overlapped: {pair:?}"
            );
            assert!(
                pair[0].0 <= pair[1].0,
                "{name}: lane {lane} out of order: {pair:?}"
            );
        }
    }
}

#[test]
fn every_vector_on_the_thread_pool() {
    let pool = Pool::new(4).unwrap();
    for vector in vectors() {
        run(&vector, Driver::Pool, &pool);
    }
}

#[test]
fn every_vector_on_the_async_driver() {
    let pool = Pool::new(1).unwrap();
    for vector in vectors() {
        run(&vector, Driver::Async, &pool);
    }
}
