//! A call whose time is already up (a Lambda Managed Instances context reports zero or
//! negative remaining time: nothing enforces the timeout) starts nothing, reports every record
//! `deadline` with 0 attempts and returns at once; the all-failed rule applies as for any
//! batch. The same holds under a shared limit, even one whose every slot is held: the call
//! does not wait for a slot. And a call whose deadline passes while it waits for a slot ends
//! its waiting records `deadline` with 0 attempts.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use common::{within, LIMIT};
use lanepool::batch::{run_plan_async, BatchError, BatchOptions, BatchResult, InFlightLimit};
use lanepool::event::BatchPlan;
use lanepool::lanes::Outcome;
use lanepool::Pool;

fn plan() -> BatchPlan {
    BatchPlan::from_parts(
        None,
        (0..6).map(|i| (format!("m{i}"), (i % 2 == 0).then(|| "lane".to_string()))),
    )
}

/// Every way to say "the time is up", each with the margin at 0 and at its default.
fn timed_out() -> Vec<(&'static str, BatchOptions)> {
    let past = Instant::now() - Duration::from_millis(20);
    let mut out = Vec::new();
    for margin in [Some(Duration::ZERO), None] {
        let base = match margin {
            Some(m) => BatchOptions::new().deadline_margin(m),
            None => BatchOptions::new(),
        };
        out.push((
            "remaining_time(0)",
            base.clone().remaining_time(Duration::ZERO),
        ));
        out.push(("remaining_millis(0)", base.clone().remaining_millis(0)));
        out.push(("remaining_millis(-5)", base.clone().remaining_millis(-5)));
        out.push((
            "remaining_millis(i64::MIN)",
            base.clone().remaining_millis(i64::MIN),
        ));
        out.push(("deadline(past)", base.clone().deadline(past)));
        out.push((
            "deadline_at(past)",
            base.clone()
                .deadline_at(SystemTime::now() - Duration::from_secs(1)),
        ));
    }
    out
}

fn check(name: &str, raise: bool, result: BatchResult<()>, calls: &AtomicUsize) {
    assert_eq!(calls.load(Ordering::SeqCst), 0, "{name}: a handler ran");
    let report = match (raise, result) {
        (true, Err(BatchError::AllFailed(report))) => *report,
        (false, Ok(report)) => report,
        (raise, other) => panic!("{name} (raise {raise}): {:?}", other.map(|_| ())),
    };
    assert_eq!(report.response().batch_item_failures.len(), 6, "{name}");
    for outcome in report.outcomes() {
        assert_eq!(
            *outcome,
            Outcome::Deadline {
                attempts: 0,
                error: None
            },
            "{name}"
        );
    }
    assert_eq!(report.summary().deadline, 6, "{name}");
}

/// A limit whose only slot another call holds for the whole test.
fn full_limit() -> (InFlightLimit, lanepool::limit::LimitedCall) {
    let limit = InFlightLimit::new(1).unwrap();
    let holder = limit.register();
    assert!(holder.try_acquire());
    (limit, holder)
}

#[test]
fn nothing_starts_on_either_driver() {
    within(LIMIT, || {
        let pool = Pool::new(2).unwrap();
        let (limit, _holder) = full_limit();
        for (name, options) in timed_out() {
            for raise in [true, false] {
                for limited in [false, true] {
                    let mut options = options.clone().raise_on_full_batch_failure(raise);
                    if limited {
                        options = options.in_flight_limit(limit.clone());
                    }
                    let calls = AtomicUsize::new(0);
                    let result = pool.run_plan(plan(), &options, |_, _| {
                        calls.fetch_add(1, Ordering::SeqCst);
                        Ok::<(), ()>(())
                    });
                    check(name, raise, result, &calls);
                    let calls = AtomicUsize::new(0);
                    let result =
                        futures::executor::block_on(run_plan_async(plan(), &options, |_| {
                            calls.fetch_add(1, Ordering::SeqCst);
                            async { Ok::<(), ()>(()) }
                        }));
                    check(name, raise, result, &calls);
                }
            }
        }
        assert_eq!(limit.calls(), 1, "only the holder is left");
        assert!(limit.waiting().is_empty());
    });
}

/// With every slot held elsewhere, a call with 80 ms left waits, then ends every record
/// `deadline` with 0 attempts: waiting is not an attempt, and the wait is in the summary.
#[test]
fn a_deadline_that_passes_while_waiting_for_a_slot() {
    within(LIMIT, || {
        let pool = Pool::new(2).unwrap();
        let (limit, holder) = full_limit();
        for driver in ["pool", "async"] {
            let options = BatchOptions::new()
                .deadline_margin(Duration::ZERO)
                .remaining_time(Duration::from_millis(80))
                .raise_on_full_batch_failure(false)
                .in_flight_limit(limit.clone());
            let calls = AtomicUsize::new(0);
            let result: BatchResult<()> = match driver {
                "pool" => pool.run_plan(plan(), &options, |_, _| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }),
                _ => futures::executor::block_on(run_plan_async(plan(), &options, |_| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async { Ok(()) }
                })),
            };
            let report = result.unwrap();
            assert_eq!(calls.load(Ordering::SeqCst), 0, "{driver}");
            assert!(report.outcomes().iter().all(|o| *o
                == Outcome::Deadline {
                    attempts: 0,
                    error: None
                }));
            let summary = report.summary();
            // The lane's head and the three unkeyed records could start (the lane's later
            // records never could): as many of them as the call's concurrency allows (2 on
            // the pool of 2, 4 async) waited, each until the deadline.
            assert!(
                summary.slot_wait_max > Duration::ZERO,
                "{driver}: {summary:?}"
            );
            assert!(
                summary.slot_wait >= summary.slot_wait_max * 2,
                "{driver}: {summary:?}"
            );
            let line: serde_json::Value = serde_json::from_str(&summary.to_log_line()).unwrap();
            assert!(line["slot_wait_ms"].as_f64().unwrap() > 0.0);
            assert!(line["slot_wait_max_ms"].as_f64().unwrap() > 0.0);
        }
        assert!(
            limit.waiting().is_empty(),
            "the timed-out calls left the rotation"
        );
        assert_eq!(limit.calls(), 1);
        drop(holder);
        assert_eq!(limit.in_flight(), 0);
    });
}
