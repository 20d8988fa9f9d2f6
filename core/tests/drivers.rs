//! The batch drivers on real threads and executors: panics, deadlines, halting, limits,
//! re-entrant use, nothing running after return, and a stress run against a reference model.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lanepool::batch::{run_plan_async, BatchError, BatchOptions, RecordError};
use lanepool::event::BatchPlan;
use lanepool::lanes::Outcome;
use lanepool::Pool;

fn plan(lanes: &[Option<&str>]) -> BatchPlan {
    BatchPlan::from_parts(
        None,
        lanes
            .iter()
            .enumerate()
            .map(|(i, l)| (format!("r{i}"), l.map(str::to_owned))),
    )
}

struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    fn new() -> Self {
        Gauge {
            now: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }
    fn enter(&self) {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(n, Ordering::SeqCst);
    }
    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn a_panicking_handler_fails_its_record_and_the_batch_goes_on() {
    let pool = Pool::new(3).unwrap();
    let report = pool
        .run_plan(
            plan(&[None, Some("a"), Some("a"), None]),
            &BatchOptions::new(),
            |t, _| {
                if t.index == 1 {
                    std::panic::panic_any(42u8); // not a string payload
                }
                if t.index == 3 {
                    panic!("record {} exploded", t.index);
                }
                Ok::<(), ()>(())
            },
        )
        .unwrap();
    let o = report.outcomes();
    assert!(matches!(o[0], Outcome::Succeeded { .. }));
    assert!(matches!(&o[1], Outcome::Failed { error: RecordError::Panic(m), .. } if !m.is_empty()));
    assert!(matches!(o[2], Outcome::Skipped { after: 1 }));
    assert!(
        matches!(&o[3], Outcome::Failed { error: RecordError::Panic(m), .. } if m.contains("record 3 exploded"))
    );
    // The pool still works after panics.
    assert_eq!(pool.scope(|_| 7), 7);
}

#[test]
#[cfg_attr(miri, ignore)] // timing-sensitive or long: too slow under Miri
fn nothing_runs_after_the_sync_driver_returns() {
    let pool = Pool::new(4).unwrap();
    for _ in 0..20 {
        let ended = Mutex::new(Vec::new());
        let lanes: Vec<Option<&str>> = (0..40)
            .map(|i| [Some("a"), Some("b"), None][i % 3])
            .collect();
        let options = BatchOptions::new().concurrency(8);
        pool.run_plan(plan(&lanes), &options, |t, _| {
            std::thread::sleep(Duration::from_micros(200 * (t.index as u64 % 5)));
            ended.lock().unwrap().push(Instant::now());
            if t.index % 7 == 0 {
                Err(())
            } else {
                Ok(())
            }
        })
        .ok();
        let returned = Instant::now();
        let count = ended.lock().unwrap().len();
        std::thread::sleep(Duration::from_millis(5));
        let ended = ended.into_inner().unwrap();
        assert_eq!(ended.len(), count, "a handler ran after the call returned");
        assert!(ended.iter().all(|t| *t <= returned));
    }
}

#[test]
#[cfg_attr(miri, ignore)] // timing-sensitive or long: too slow under Miri
fn the_concurrency_limit_holds_and_is_reached_on_both_drivers() {
    let pool = Pool::new(4).unwrap();
    let gauge = Gauge::new();
    let options = BatchOptions::new().concurrency(3);
    pool.run_plan(plan(&[None; 24]), &options, |_, _| {
        gauge.enter();
        std::thread::sleep(Duration::from_millis(3));
        gauge.leave();
        Ok::<(), ()>(())
    })
    .unwrap();
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 3);

    let gauge = Gauge::new();
    let options = BatchOptions::new().concurrency(5);
    futures::executor::block_on(run_plan_async(plan(&[None; 40]), &options, |_| {
        let gauge = &gauge;
        async move {
            gauge.enter();
            lanepool::timer::sleep(Duration::from_millis(3)).await;
            gauge.leave();
            Ok::<(), ()>(())
        }
    }))
    .unwrap();
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 5);
}

#[test]
#[cfg_attr(miri, ignore)] // timing-sensitive or long: too slow under Miri
fn async_handlers_are_cancelled_at_the_deadline_by_default() {
    // Handlers that would run 5 s, 700 ms left, a 300 ms margin: the call returns in well
    // under a second with every record reported `deadline`, and nothing runs afterwards.
    let started = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let options = BatchOptions::new()
        .concurrency(4)
        .remaining_time(Duration::from_millis(700))
        .deadline_margin(Duration::from_millis(300))
        .raise_on_full_batch_failure(false);
    let t0 = Instant::now();
    let report = futures::executor::block_on(run_plan_async(plan(&[None; 8]), &options, |_| {
        let (started, finished) = (&started, &finished);
        async move {
            started.fetch_add(1, Ordering::SeqCst);
            lanepool::timer::sleep(Duration::from_secs(5)).await;
            finished.fetch_add(1, Ordering::SeqCst);
            Ok::<(), ()>(())
        }
    }))
    .unwrap();
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(900), "took {took:?}");
    assert!(
        took >= Duration::from_millis(350),
        "returned before the deadline: {took:?}"
    );
    assert_eq!(started.load(Ordering::SeqCst), 4);
    assert!(report
        .failures()
        .iter()
        .all(|f| f.reason == lanepool::lanes::Reason::Deadline));
    assert_eq!(report.failures().len(), 8);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(finished.load(Ordering::SeqCst), 0);
}

#[test]
#[cfg_attr(miri, ignore)] // timing-sensitive or long: too slow under Miri
fn without_cancellation_running_async_handlers_are_awaited() {
    let options = BatchOptions::new()
        .concurrency(2)
        .remaining_time(Duration::from_millis(100))
        .deadline_margin(Duration::from_millis(50))
        .cancel_at_deadline(false);
    let report =
        futures::executor::block_on(run_plan_async(plan(&[None; 4]), &options, |_| async {
            lanepool::timer::sleep(Duration::from_millis(120)).await;
            Ok::<(), ()>(())
        }))
        .unwrap();
    let reasons: Vec<_> = report.outcomes().iter().map(|o| o.reason()).collect();
    assert_eq!(
        reasons,
        [
            None,
            None,
            Some(lanepool::lanes::Reason::Deadline),
            Some(lanepool::lanes::Reason::Deadline)
        ]
    );
}

#[test]
fn a_halted_batch_starts_nothing_new() {
    let pool = Pool::new(2).unwrap();
    let calls = AtomicUsize::new(0);
    let options = BatchOptions::new().concurrency(1);
    let report = pool
        .run_plan(plan(&[None; 10]), &options, |t, halt| {
            calls.fetch_add(1, Ordering::SeqCst);
            if t.index == 2 {
                halt.halt();
            }
            Ok::<(), ()>(())
        })
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(report.summary().deadline, 7);
}

#[test]
fn the_all_failed_rule_carries_the_report() {
    let pool = Pool::new(2).unwrap();
    let err = pool
        .run_plan(
            plan(&[Some("a"), Some("a")]),
            &BatchOptions::new(),
            |_, _| Err("no"),
        )
        .unwrap_err();
    let BatchError::AllFailed(report) = err else {
        panic!("expected AllFailed")
    };
    assert_eq!(report.summary().error, 1);
    assert_eq!(report.summary().skipped, 1);
}

#[test]
fn handlers_can_use_the_same_pool_three_deep_with_every_worker_busy() {
    let pool = Pool::new(2).unwrap();
    let leaves = AtomicUsize::new(0);
    let options = BatchOptions::new().concurrency(4);
    fn level(pool: &Pool, options: &BatchOptions, depth: u32, leaves: &AtomicUsize) {
        let lanes = [Some("x"), None, Some("x"), None];
        pool.run_plan(plan(&lanes), options, |_, _| {
            if depth == 0 {
                leaves.fetch_add(1, Ordering::SeqCst);
            } else {
                level(pool, options, depth - 1, leaves);
            }
            Ok::<(), ()>(())
        })
        .unwrap();
    }
    level(&pool, &options, 3, &leaves);
    assert_eq!(leaves.load(Ordering::SeqCst), 4usize.pow(4));
}

/// A small deterministic generator so the stress run needs no extra dependency.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
#[cfg_attr(miri, ignore)] // timing-sensitive or long: too slow under Miri
fn stress_random_batches_on_threads_match_the_reference_model() {
    let pool = Pool::new(4).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..300 {
        let n = 1 + rng.below(50) as usize;
        let lane_count = 1 + rng.below(6);
        let lanes: Vec<Option<String>> = (0..n)
            .map(|_| (rng.below(5) > 0).then(|| format!("g{}", rng.below(lane_count))))
            .collect();
        let fails: Vec<bool> = (0..n).map(|_| rng.below(6) == 0).collect();
        let plan = BatchPlan::from_parts(
            None,
            lanes
                .iter()
                .enumerate()
                .map(|(i, l)| (format!("r{i}"), l.clone())),
        );
        let busy: Mutex<HashMap<String, usize>> = Mutex::new(HashMap::new());
        let options = BatchOptions::new()
            .concurrency(1 + rng.below(8) as usize)
            .raise_on_full_batch_failure(false);
        let report = pool
            .run_plan(plan, &options, |t, _| {
                if let Some(lane) = &lanes[t.index] {
                    let prev = busy.lock().unwrap().insert(lane.clone(), t.index);
                    assert!(prev.is_none(), "round {round}: lane {lane} overlapped");
                    std::thread::yield_now();
                    busy.lock().unwrap().remove(lane);
                }
                if fails[t.index] {
                    Err(())
                } else {
                    Ok(())
                }
            })
            .unwrap();
        let mut failed: HashMap<&str, usize> = HashMap::new();
        for (i, outcome) in report.outcomes().iter().enumerate() {
            let lane = lanes[i].as_deref();
            let expected = match lane.and_then(|l| failed.get(l)) {
                Some(_) => "skipped",
                None if fails[i] => {
                    if let Some(l) = lane {
                        failed.insert(l, i);
                    }
                    "error"
                }
                None => "succeeded",
            };
            let got = outcome.reason().map_or("succeeded", |r| r.as_str());
            assert_eq!(got, expected, "round {round}, record {i}");
        }
    }
}

/// A stand-in for Python's GIL: one lock a runner holds across its records (`run`) and gives
/// up only while it blocks (`block`) or while its handler "releases" it.
struct FakeGil {
    lock: parking_lot::Mutex<()>,
    runs: AtomicUsize,
    blocks: AtomicUsize,
    holders: AtomicUsize,
}

impl FakeGil {
    fn new() -> Self {
        FakeGil {
            lock: parking_lot::Mutex::new(()),
            runs: AtomicUsize::new(0),
            blocks: AtomicUsize::new(0),
            holders: AtomicUsize::new(0),
        }
    }
    fn acquire(&self) {
        std::mem::forget(self.lock.lock());
        assert_eq!(
            self.holders.fetch_add(1, Ordering::SeqCst),
            0,
            "two GIL holders"
        );
    }
    fn release(&self) {
        self.holders.fetch_sub(1, Ordering::SeqCst);
        // SAFETY: acquired by this thread in `acquire` (its guard forgotten).
        unsafe { self.lock.force_unlock() };
    }
    /// Like `Python::detach`.
    fn detached<R>(&self, f: impl FnOnce() -> R) -> R {
        self.release();
        let r = f();
        self.acquire();
        r
    }
}

impl lanepool::batch::RunnerGate for FakeGil {
    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        self.runs.fetch_add(1, Ordering::SeqCst);
        self.acquire();
        let r = f();
        self.release();
        r
    }
    fn block<R>(&self, f: impl FnOnce() -> R) -> R {
        self.blocks.fetch_add(1, Ordering::SeqCst);
        self.detached(f)
    }
}

#[test]
#[cfg_attr(miri, ignore)] // asserts a 10 s wall-clock bound Miri cannot meet; TSan runs it
fn a_gate_is_held_across_records_and_released_while_blocking_without_deadlock() {
    let pool = Pool::new(3).unwrap();
    for round in 0..30 {
        let gil = FakeGil::new();
        // Lanes force waits (one in flight per lane), retries force timed waits.
        let lanes: Vec<Option<String>> = (0..60)
            .map(|i| (i % 4 != 0).then(|| format!("g{}", i % 3)))
            .collect();
        let plan = BatchPlan::from_parts(
            None,
            lanes
                .iter()
                .enumerate()
                .map(|(i, l)| (format!("r{i}"), l.clone())),
        );
        let attempts: Vec<AtomicUsize> = (0..60).map(|_| AtomicUsize::new(0)).collect();
        let options = BatchOptions::new()
            .retries(1)
            .retry_backoff(Duration::from_micros(200))
            .raise_on_full_batch_failure(false);
        let start = Instant::now();
        let report = pool
            .run_plan_gated(plan, &options, &gil, |t, _| {
                // The handler runs holding the gate.
                assert_eq!(gil.holders.load(Ordering::SeqCst), 1);
                let n = attempts[t.index].fetch_add(1, Ordering::SeqCst);
                if t.index % 5 == 0 {
                    // Blocking work releases it, as Python's time.sleep does.
                    gil.detached(|| thread_sleep_us(50 + (round % 3) * 20));
                }
                if t.index % 7 == 3 && n == 0 {
                    return Err("first attempt fails");
                }
                Ok::<(), &str>(())
            })
            .unwrap();
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(report.succeeded().len(), 60, "round {round}");
        assert_eq!(gil.runs.load(Ordering::SeqCst), 3);
        assert_eq!(gil.holders.load(Ordering::SeqCst), 0);
        for (i, a) in attempts.iter().enumerate() {
            let want = if i % 7 == 3 { 2 } else { 1 };
            assert_eq!(a.load(Ordering::SeqCst), want, "record {i}");
        }
    }
}

fn thread_sleep_us(us: usize) {
    std::thread::sleep(Duration::from_micros(us as u64));
}

#[test]
fn run_plan_is_run_plan_gated_with_no_gate() {
    use lanepool::batch::NoGate;
    let pool = Pool::new(2).unwrap();
    let lanes = [Some("a"), Some("a"), None, Some("b"), Some("a")];
    let plain = pool
        .run_plan(plan(&lanes), &BatchOptions::new(), |t, _| {
            if t.index == 1 {
                Err("x")
            } else {
                Ok(())
            }
        })
        .unwrap();
    let gated = pool
        .run_plan_gated(plan(&lanes), &BatchOptions::new(), &NoGate, |t, _| {
            if t.index == 1 {
                Err("x")
            } else {
                Ok(())
            }
        })
        .unwrap();
    assert_eq!(plain.response(), gated.response());
    assert_eq!(plain.succeeded(), ["r0", "r2", "r3"]);
}
