//! The demo driver for the Rust face: runs Lambda events from files through
//! [`lanepool_example::record_handler`] on a [`lanepool::Pool`] and writes each partial batch
//! response.
//!
//! ```text
//! demo [--out-dir DIR] EVENT.json...     # writes DIR/rust-<event>.json (default examples/out)
//! LANEPOOL_ORDERING=key demo ...         # DIR/rust-<event>.key.json: the lanes of ordering `key`
//! ```
//!
//! The lanes are the example's ([`lanepool_example::ordering`], from `LANEPOOL_ORDERING`); for
//! an ordering other than `auto` the response file's name says it (`rust-kafka.key.json`).
//!
//! Protocol (what `scripts/demo` and `examples/demo/show.py` read, on stderr; one line each):
//! `@progress <event> <done> <total>` while a batch runs (done = handler calls finished), and
//! `@result {json}` when it ends. Stdout carries only lanepool's own summary log line per batch
//! (`BatchOptions::log_summary(true)`), as it would in Lambda.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use lanepool::batch::{BatchError, BatchOptions, BatchReport};
use lanepool::event::LaneOrdering;
use lanepool::Pool;
use lanepool_example::{io_ms, ordering, record_handler, record_id};
use serde_json::{json, Value};

const CONCURRENCY: usize = 16;

fn main() -> ExitCode {
    let mut out_dir = PathBuf::from("examples/out");
    let mut events = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out-dir" => out_dir = PathBuf::from(args.next().expect("--out-dir DIR")),
            "-h" | "--help" => {
                eprintln!("usage: demo [--out-dir DIR] EVENT.json...");
                return ExitCode::SUCCESS;
            }
            _ => events.push(PathBuf::from(arg)),
        }
    }
    if events.is_empty() {
        eprintln!("usage: demo [--out-dir DIR] EVENT.json...");
        return ExitCode::from(2);
    }
    std::fs::create_dir_all(&out_dir).expect("create the output directory");
    let ordering = match ordering() {
        Ok(ordering) => ordering,
        Err(message) => {
            eprintln!("demo (rust): {message}");
            return ExitCode::from(2);
        }
    };

    // Created once, as a Lambda function would at INIT, and reused for every batch.
    let pool = Pool::new(CONCURRENCY).expect("start the pool");
    for path in &events {
        if let Err(message) = run_one(&pool, path, &out_dir, ordering) {
            eprintln!("demo (rust): {}: {message}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// `auto`, `key` or `unordered`, as `LANEPOOL_ORDERING` spells it.
fn ordering_name(ordering: LaneOrdering) -> &'static str {
    match ordering {
        LaneOrdering::Auto => "auto",
        LaneOrdering::Key => "key",
        LaneOrdering::Unordered => "unordered",
    }
}

/// The number of records: `Records`, or a Kafka event's `records` arrays.
fn record_count(event: &Value) -> usize {
    if let Some(records) = event["Records"].as_array() {
        return records.len();
    }
    event["records"].as_object().map_or(0, |groups| {
        groups
            .values()
            .filter_map(Value::as_array)
            .map(Vec::len)
            .sum()
    })
}

fn run_one(pool: &Pool, path: &Path, out_dir: &Path, ordering: LaneOrdering) -> Result<(), String> {
    let event_name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or("bad event file name")?
        .to_owned();
    let (name, suffix) = match ordering {
        LaneOrdering::Auto => (event_name.clone(), String::new()),
        other => (
            format!("{event_name}/{}", ordering_name(other)),
            format!(".{}", ordering_name(other)),
        ),
    };
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let event: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let total = record_count(&event);

    let options = BatchOptions::new()
        .concurrency(CONCURRENCY)
        .ordering(ordering)
        .remaining_time(Duration::from_secs(60)) // as in a Lambda function with a 60 s timeout
        .log_summary(true);

    // Progress and the sequential estimate live here, around the example's record handler.
    let done = AtomicUsize::new(0);
    let simulated_io_ms = AtomicU64::new(0);
    let finished = AtomicBool::new(false);
    let (result, elapsed) = thread::scope(|s| {
        let ticker = s.spawn(|| {
            while !finished.load(Ordering::Acquire) {
                progress(&name, done.load(Ordering::Relaxed), total);
                thread::park_timeout(Duration::from_millis(100));
            }
        });
        let started = Instant::now();
        let result = pool.process_event(&event, &options, |record| {
            simulated_io_ms.fetch_add(io_ms(&record_id(record)), Ordering::Relaxed);
            let result = record_handler(record);
            done.fetch_add(1, Ordering::Relaxed);
            result
        });
        let elapsed = started.elapsed();
        finished.store(true, Ordering::Release);
        ticker.thread().unpark();
        (result, elapsed)
    });
    progress(&name, total, total);

    let (report, response) = match &result {
        Ok(report) => (report, report.response().to_value()),
        Err(BatchError::AllFailed(report)) => {
            let mut response = report.response().to_value();
            let failures = response["batchItemFailures"].take();
            (
                &**report,
                json!({"error": "BatchFailedError", "batchItemFailures": failures}),
            )
        }
        Err(error @ (BatchError::Event(_) | BatchError::Options(_))) => {
            return Err(error.to_string())
        }
    };
    let out = out_dir.join(format!("rust-{event_name}{suffix}.json"));
    let rendered = serde_json::to_string_pretty(&response).map_err(|e| e.to_string())? + "\n";
    std::fs::write(&out, rendered).map_err(|e| format!("{}: {e}", out.display()))?;
    result_line(
        &event_name,
        ordering_name(ordering),
        report,
        elapsed,
        simulated_io_ms.load(Ordering::Relaxed),
        &out,
    );
    Ok(())
}

fn progress(event: &str, done: usize, total: usize) {
    let _ = writeln!(std::io::stderr(), "@progress {event} {done} {total}");
}

fn result_line<E>(
    event: &str,
    ordering: &str,
    report: &BatchReport<E>,
    elapsed: Duration,
    sequential_ms: u64,
    out: &Path,
) {
    let s = report.summary();
    let line = json!({
        "face": "rust",
        "event": event,
        "ordering": ordering,
        "records": s.records,
        "succeeded": s.succeeded,
        "error": s.error,
        "skipped": s.skipped,
        "deadline": s.deadline,
        "duration_ms": elapsed.as_secs_f64() * 1000.0,
        "sequential_ms": sequential_ms,
        "peak_in_flight": s.peak_in_flight,
        "response_file": out.display().to_string(),
    });
    let _ = writeln!(std::io::stderr(), "@result {line}");
}
