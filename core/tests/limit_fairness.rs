//! The fairness measurement: how long a 10-record call takes when it starts while a
//! 2,000-record call holds a shared `InFlightLimit`, against running alone. It prints both
//! (run with `--nocapture` to see them); the only assertion is about order, not speed: the
//! small call ends while the big one still runs (without the rotation it would queue behind
//! the big call's waiting records).
//!
//! `cargo test -p lanepool --features aws --test limit_fairness -- --nocapture`

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{within, LIMIT};
use lanepool::batch::{run_plan_async, BatchOptions, BatchSummary, InFlightLimit};
use lanepool::event::BatchPlan;

const SLOTS: usize = 8;
const HANDLER: Duration = Duration::from_millis(5);

fn plan(name: &str, n: usize) -> BatchPlan {
    BatchPlan::from_parts(None, (0..n).map(|i| (format!("{name}-{i}"), None)))
}

async fn run(name: &str, n: usize, limit: &InFlightLimit) -> (Duration, BatchSummary) {
    let options = BatchOptions::new()
        .concurrency(16)
        .in_flight_limit(limit.clone());
    let start = Instant::now();
    let report = run_plan_async(plan(name, n), &options, |_| async {
        tokio::time::sleep(HANDLER).await;
        Ok::<(), ()>(())
    })
    .await
    .unwrap();
    assert_eq!(report.summary().succeeded, n);
    (start.elapsed(), *report.summary())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[test]
fn a_small_call_beside_a_big_one() {
    within(LIMIT, || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let limit = InFlightLimit::new(SLOTS).unwrap();
            let (alone, alone_summary) = run("alone", 10, &limit).await;

            let big_done = Arc::new(AtomicBool::new(false));
            let big = {
                let (limit, done) = (limit.clone(), Arc::clone(&big_done));
                tokio::spawn(async move {
                    let result = run("big", 2_000, &limit).await;
                    done.store(true, Ordering::SeqCst);
                    result
                })
            };
            tokio::time::sleep(Duration::from_millis(100)).await;
            let (beside, beside_summary) = run("small", 10, &limit).await;
            let big_running = !big_done.load(Ordering::SeqCst);
            let (big_took, big_summary) = big.await.unwrap();

            println!(
                "limit {SLOTS} slots, handlers {} ms, per-call concurrency 16",
                ms(HANDLER)
            );
            println!(
                "small call (10 records) alone:              {:7.1} ms (slot wait max {:.1} ms)",
                ms(alone),
                ms(alone_summary.slot_wait_max)
            );
            println!(
                "small call (10 records) beside a big one:   {:7.1} ms (slot wait total {:.1} ms, max {:.1} ms)",
                ms(beside),
                ms(beside_summary.slot_wait),
                ms(beside_summary.slot_wait_max)
            );
            println!(
                "big call (2,000 records):                   {:7.1} ms (slot wait total {:.1} ms, max {:.1} ms)",
                ms(big_took),
                ms(big_summary.slot_wait),
                ms(big_summary.slot_wait_max)
            );
            assert!(big_running, "the small call ended only after the big one");
            assert!(big_summary.slot_wait > Duration::ZERO, "the big call waited for slots");
            assert!(beside_summary.peak_in_flight <= SLOTS);
            assert_eq!(limit.in_flight(), 0);
        });
    });
}
