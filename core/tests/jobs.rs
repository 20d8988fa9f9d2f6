//! Jobs (`Pool::run_jobs`, `run_jobs_async`) and the attempt timeout and start rate through
//! the Rust drivers: results aligned with the items, lanes by key, no all-failed rule, the
//! options the sync driver refuses, and hostile `Drop`s of values, errors and futures.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use lanepool::batch::{
    process_async, run_jobs_async, run_jobs_keyed_async, BatchError, BatchOptions, JobError,
    OptionsError, RecordError,
};
use lanepool::event::{BatchPlan, KeyValue};
use lanepool::lanes::{Backoff, Outcome, Reason};
use lanepool::Pool;

fn block_on<F: Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

fn quick_retries(retries: u32) -> BatchOptions {
    BatchOptions::new().retries(retries).backoff(Backoff {
        base: Duration::ZERO,
        ..Backoff::default()
    })
}

#[test]
fn results_are_aligned_with_the_items_and_attempts_count_from_one() {
    let pool = Pool::new(3).unwrap();
    let items: Vec<u32> = (0..20).collect();
    let seen = Mutex::new(Vec::new());
    let report = pool
        .run_jobs(&items, &quick_retries(2).concurrency(3), |n, ctx| {
            seen.lock().unwrap().push((ctx.index, ctx.attempt));
            assert_eq!(*n as usize, ctx.index);
            match n % 5 {
                0 if ctx.attempt < 2 => Err(format!("{n} transient")),
                4 => Err(format!("{n} always")),
                _ => Ok(n * 100),
            }
        })
        .unwrap();
    for (i, result) in report.results().iter().enumerate() {
        let want = (i % 5 != 4).then_some(i as u32 * 100);
        assert_eq!(*result, want, "job {i}");
    }
    let failures = report.failures();
    assert_eq!(
        failures.iter().map(|f| f.index).collect::<Vec<_>>(),
        [4, 9, 14, 19]
    );
    for f in &failures {
        assert_eq!((f.reason, f.attempts), (Reason::Error, 3));
        assert!(matches!(f.error, Some(RecordError::Error(e)) if e.ends_with("always")));
    }
    assert!(!report.ok());
    assert_eq!(report.summary().succeeded, 16);
    assert_eq!(report.summary().error, 4);
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.len(), 20 + 4 + 4 * 2); // 20 first attempts, 4 retries, 4 * 2 retries
    assert!(seen.iter().all(|&(_, a)| (1..=3).contains(&a)));
    assert!(seen.contains(&(0, 1)) && seen.contains(&(0, 2)) && !seen.contains(&(0, 3)));
}

#[test]
fn no_job_succeeding_is_a_report_not_an_error() {
    let pool = Pool::new(2).unwrap();
    let report = pool
        .run_jobs(&[1, 2, 3], &BatchOptions::new(), |_, _| Err::<(), _>("no"))
        .unwrap();
    assert!(!report.ok());
    assert_eq!(report.results(), [None, None, None]);
    let report = block_on(run_jobs_async(
        &[1, 2],
        &BatchOptions::new(),
        |_, _| async { Err::<(), _>("no") },
    ))
    .unwrap();
    assert_eq!(report.summary().error, 2);
    let empty: [u8; 0] = [];
    let report = pool
        .run_jobs(&empty, &BatchOptions::new(), |_, _| Ok::<_, ()>(()))
        .unwrap();
    assert!(report.ok() && report.is_empty());
}

#[test]
fn keys_make_lanes_by_the_one_key_rule() {
    let pool = Pool::new(4).unwrap();
    // 7 and "7" are one lane; None is no lane.
    let keys = [
        KeyValue::Int(7),
        KeyValue::None,
        KeyValue::from("7"),
        KeyValue::from("b"),
        KeyValue::Int(7),
    ];
    let calls = AtomicUsize::new(0);
    let report = pool
        .run_jobs_keyed(
            &keys,
            &BatchOptions::new().concurrency(4),
            |k| Some(k.clone()),
            |_, ctx| {
                calls.fetch_add(1, Ordering::SeqCst);
                if ctx.index == 2 {
                    Err("lane 7 breaks")
                } else {
                    Ok(ctx.index)
                }
            },
        )
        .unwrap();
    assert_eq!(report.results(), [Some(0), Some(1), None, Some(3), None]);
    assert!(matches!(
        report.outcomes()[4],
        Outcome::Skipped { after: 2 }
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[test]
fn an_invalid_key_is_an_error_before_anything_runs() {
    let pool = Pool::new(2).unwrap();
    let items = [serde_json::json!("a"), serde_json::json!(true)];
    let calls = AtomicUsize::new(0);
    let err = pool
        .run_jobs_keyed(
            &items,
            &BatchOptions::new(),
            |v| Some(KeyValue::from(v)),
            |_, _| {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(())
            },
        )
        .unwrap_err();
    match err {
        JobError::Key(e) => assert_eq!((e.index(), e.field()), (Some(1), Some("group_key"))),
        other => panic!("{other:?}"),
    }
    let err = block_on(run_jobs_keyed_async(
        &items,
        &BatchOptions::new(),
        |v| Some(KeyValue::from(v)),
        |_, _| async { Ok::<_, ()>(()) },
    ))
    .unwrap_err();
    assert!(matches!(err, JobError::Key(_)));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn sync_drivers_refuse_an_attempt_timeout_and_every_driver_a_bad_rate() {
    let pool = Pool::new(2).unwrap();
    let calls = AtomicUsize::new(0);
    let timeout = BatchOptions::new().attempt_timeout(Duration::from_millis(10));
    let err = pool
        .run_jobs(&[1], &timeout, |_, _| {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(())
        })
        .unwrap_err();
    assert!(matches!(
        err,
        JobError::Options(OptionsError::TimeoutNeedsAsync)
    ));
    let plan = BatchPlan::jobs(2);
    let err = pool
        .run_plan(plan, &timeout, |_, _| {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(())
        })
        .unwrap_err();
    assert!(matches!(
        err,
        BatchError::Options(OptionsError::TimeoutNeedsAsync)
    ));
    assert!(err.to_string().contains("attempt_timeout"), "{err}");
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let bad = BatchOptions::new().max_per_second(rate);
        let err = pool
            .run_jobs(&[1], &bad, |_, _| {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(())
            })
            .unwrap_err();
        assert!(matches!(err, JobError::Options(OptionsError::Rate(_))));
        let err = block_on(run_jobs_async(&[1], &bad, |_, _| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(())
        }))
        .unwrap_err();
        assert!(matches!(err, JobError::Options(OptionsError::Rate(_))));
    }
    let zero = BatchOptions::new().attempt_timeout(Duration::ZERO);
    let err = block_on(run_jobs_async(&[1], &zero, |_, _| async {
        Ok::<_, ()>(())
    }))
    .unwrap_err();
    assert!(matches!(err, JobError::Options(OptionsError::ZeroTimeout)));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

/// A future that never completes.
async fn hang() {
    std::future::pending::<()>().await
}

#[test]
fn a_hung_attempt_times_out_and_is_retried() {
    let items: Vec<usize> = (0..4).collect();
    let options = quick_retries(1).attempt_timeout(Duration::from_millis(30));
    let report = block_on(run_jobs_keyed_async(
        &items,
        &options,
        // jobs 2 and 3 share a lane
        |n| (*n >= 2).then_some("lane"),
        |n, ctx| async move {
            match (*n, ctx.attempt) {
                (1, 1) => hang().await, // hangs once, then succeeds
                (2, _) => hang().await, // hangs every time
                _ => {}
            }
            Ok::<_, ()>(n * 10)
        },
    ))
    .unwrap();
    assert_eq!(report.results(), [Some(0), Some(10), None, None]);
    assert_eq!(
        report.outcomes()[1],
        Outcome::Succeeded { attempts: 2 },
        "retried after its timeout"
    );
    assert_eq!(
        report.outcomes()[2],
        Outcome::TimedOut {
            attempts: 2,
            error: None
        }
    );
    assert_eq!(report.outcomes()[3], Outcome::Skipped { after: 2 });
    let s = report.summary();
    assert_eq!((s.timeout, s.skipped, s.succeeded, s.retries), (1, 1, 2, 2));
}

#[test]
fn a_timed_out_record_is_in_the_partial_batch_response() {
    let event = serde_json::json!({"Records": [
        {"eventSource": "aws:sqs", "messageId": "a", "attributes": {"MessageGroupId": "g"}},
        {"eventSource": "aws:sqs", "messageId": "b", "attributes": {"MessageGroupId": "g"}},
        {"eventSource": "aws:sqs", "messageId": "c"},
    ]});
    let options = BatchOptions::new().attempt_timeout(Duration::from_millis(20));
    let report = block_on(lanepool::batch::process_event_async(
        &event,
        &options,
        |r| async move {
            if r["messageId"] == "a" {
                hang().await
            }
            Ok::<(), ()>(())
        },
    ))
    .unwrap();
    assert_eq!(report.response().batch_item_failures, ["a", "b"]);
    let failures = report.failures();
    assert_eq!(failures[0].reason, Reason::Timeout);
    assert_eq!(failures[1].reason, Reason::Skipped);
    let line: serde_json::Value = serde_json::from_str(&report.summary().to_log_line()).unwrap();
    assert_eq!(line["failed_by_reason"]["timeout"], 1);
    assert_eq!(line["failed"], 2);
}

/// A value whose `Drop` panics.
#[derive(Debug)]
struct Grenade(&'static str);

impl Drop for Grenade {
    fn drop(&mut self) {
        panic!("grenade {} went off", self.0);
    }
}

/// A job future whose own `Drop` panics once it has produced its value.
struct HostileJob(Option<Grenade>);

impl Future for HostileJob {
    type Output = Result<Grenade, Grenade>;
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(Ok(self.0.take().expect("polled once")))
    }
}

impl Drop for HostileJob {
    fn drop(&mut self) {
        panic!("the job future's Drop panicked");
    }
}

#[test]
fn hostile_drops_of_values_errors_and_futures_stay_inside_the_drivers() {
    // Errors whose Drop panics, replaced by retries; values returned to the caller.
    let pool = Pool::new(2).unwrap();
    let report = pool
        .run_jobs(&[0, 1, 2], &quick_retries(1), |n, ctx| {
            if (*n == 1 && ctx.attempt == 1) || *n == 2 {
                Err(Grenade("error"))
            } else {
                Ok(*n)
            }
        })
        .unwrap();
    assert_eq!(report.results(), [Some(0), Some(1), None]);
    // The caller owns the kept errors: forget them rather than let them go off here.
    std::mem::forget(report);

    // A job future that panics in its Drop after producing a value whose Drop panics: the
    // job fails with the future's panic, and the value is dropped inside the driver, its
    // own panic contained (never while another unwinds, which would abort).
    let report = block_on(run_jobs_async(&[0], &BatchOptions::new(), |_, _| {
        HostileJob(Some(Grenade("kept")))
    }))
    .unwrap();
    assert!(report.results()[0].is_none());
    assert!(matches!(&report.outcomes()[0],
        Outcome::Failed { error: RecordError::Panic(m), .. } if m.contains("Drop panicked")));

    // A batch of typed records still works alongside (no state leaks between calls).
    struct Msg;
    impl lanepool::event::BatchRecord for Msg {
        fn item_identifier(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some("m".into())
        }
        fn lane_key(&self) -> Option<std::borrow::Cow<'_, str>> {
            None
        }
    }
    let report = block_on(process_async(&[Msg], &BatchOptions::new(), |_| async {
        Ok::<(), ()>(())
    }))
    .unwrap();
    assert_eq!(report.summary().succeeded, 1);
}

#[test]
fn a_start_rate_spaces_the_jobs_of_a_burst() {
    // 6 jobs at 20 per second: a burst of 20 holds all six at once, so no wait...
    let pool = Pool::new(4).unwrap();
    let items = [0u8; 6];
    let report = pool
        .run_jobs(&items, &BatchOptions::new().max_per_second(20.0), |_, _| {
            Ok::<_, ()>(())
        })
        .unwrap();
    assert_eq!(report.summary().rate_wait, Duration::ZERO);
    // ... at 50 per second with bursts of 50, 60 jobs: the last 10 wait for tokens (one
    // every 20 ms), so the rate holds the batch back for at least 9 intervals (the bucket
    // is on the batch's clock: this is a lower bound, not a speed test).
    let items = [0u8; 60];
    let report = pool
        .run_jobs(&items, &BatchOptions::new().max_per_second(50.0), |_, _| {
            Ok::<_, ()>(())
        })
        .unwrap();
    assert!(report.ok());
    assert!(
        report.summary().rate_wait >= Duration::from_millis(180),
        "{:?}",
        report.summary().rate_wait
    );
}
