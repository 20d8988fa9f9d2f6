//! The coordinator example (`lanepool_example::coordinator`): 200 jobs fanned out to a
//! downstream that throttles bursts, hangs on a few calls and fails some transiently, naively
//! (everything at once) and with lanepool's start rate, attempt timeout and retries.
//!
//! ```text
//! cargo run --release -p lanepool-example --bin coordinator            # a table
//! cargo run --release -p lanepool-example --bin coordinator -- --json  # one JSON object
//! ```
//!
//! The JSON is the same object `examples/python/coordinator.py --json` and
//! `examples/node/coordinator.js --json` print; `scripts/demo` shows the three side by side.

use lanepool_example::coordinator::{run, Run};
use serde_json::{json, Value};

const JOBS: usize = 200;

/// One run as the JSON row every face's coordinator prints.
fn as_json(name: &str, run: &Run) -> Value {
    let s = run.report.summary();
    let results_right = run
        .report
        .results()
        .iter()
        .enumerate()
        .all(|(job, result)| *result == Some(job * 2));
    json!({
        "name": name,
        "succeeded": s.succeeded,
        "error": s.error,
        "timeout": s.timeout,
        "deadline": s.deadline,
        "skipped": s.skipped,
        "retries": s.retries,
        "throttled": run.throttled,
        "transient": run.unavailable,
        "hung": run.hung,
        "wall_s": run.took.as_secs_f64(),
        "ok": run.report.ok(),
        "results_right": results_right,
    })
}

fn row(name: &str, run: &Run) {
    let s = run.report.summary();
    println!(
        "{name:<22} {:>9} {:>6} {:>8} {:>9} {:>10} {:>10} {:>5} {:>8.2} s",
        s.succeeded,
        s.error,
        s.timeout,
        s.deadline,
        run.throttled,
        run.unavailable,
        run.hung,
        run.took.as_secs_f64()
    );
}

fn main() {
    let as_object = std::env::args().skip(1).any(|a| a == "--json");
    let (naive, coordinated) = run(JOBS);
    if as_object {
        let object = json!({
            "face": "rust",
            "jobs": JOBS,
            "runs": [as_json("naive fan-out", &naive), as_json("coordinated", &coordinated)],
        });
        println!("{object}");
        return;
    }
    println!(
        "{:<22} {:>9} {:>6} {:>8} {:>9} {:>10} {:>10} {:>5} {:>10}",
        format!("{JOBS} jobs"),
        "succeeded",
        "error",
        "timeout",
        "deadline",
        "throttled",
        "transient",
        "hung",
        "wall time"
    );
    row("naive fan-out", &naive);
    row("coordinated", &coordinated);
    let s = coordinated.report.summary();
    println!(
        "coordinated: max_per_second 45, attempt_timeout 300 ms, retries 3: {} retries, \
         {:.2} s waiting for the start rate, every job ok: {}",
        s.retries,
        s.rate_wait.as_secs_f64(),
        coordinated.report.ok()
    );
}
