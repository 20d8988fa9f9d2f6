//! Soak: one pool, many invocations of mixed events (SQS, SQS FIFO, Kinesis, DynamoDB) with
//! random failures, retries and panics, on the sync and the async driver. After warm-up,
//! resident memory grows by less than 5 MB, threads and open file descriptors do not grow, and
//! every response matches a reference model.
//!
//! `LANEPOOL_SOAK_INVOCATIONS` sets the count (default 300, a few seconds; `scripts/soak` runs
//! 5,000 and prints the figures).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use lanepool::batch::{process_event_async, BatchError, BatchOptions};
use lanepool::lanes::Backoff;
use lanepool::Pool;
use serde_json::{json, Value};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Sqs,
    Fifo,
    Kinesis,
    DynamoDb,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Behaviour {
    Ok,
    Fail,
    Panic,
    /// Fails its first `n` attempts.
    Flaky(u32),
}

fn behaviour_of(record: &Value) -> Behaviour {
    let body = match record["eventSource"].as_str() {
        Some("aws:kinesis") => record["kinesis"]["data"].as_str(),
        Some("aws:dynamodb") => record["dynamodb"]["NewImage"]["body"]["S"].as_str(),
        _ => record["body"].as_str(),
    };
    match body.unwrap_or("") {
        "fail" => Behaviour::Fail,
        "panic" => Behaviour::Panic,
        b if b.starts_with("flaky") => Behaviour::Flaky(b[5..].parse().unwrap()),
        _ => Behaviour::Ok,
    }
}

fn body(b: Behaviour) -> String {
    match b {
        Behaviour::Ok => "ok".into(),
        Behaviour::Fail => "fail".into(),
        Behaviour::Panic => "panic".into(),
        Behaviour::Flaky(n) => format!("flaky{n}"),
    }
}

/// One invocation's event, with each record's id, lane (model) and behaviour.
struct Invocation {
    event: Value,
    ids: Vec<String>,
    lanes: Vec<Option<String>>,
    behaviours: Vec<Behaviour>,
}

fn invocation(rng: &mut Rng, n: u64) -> Invocation {
    let kind = [Kind::Sqs, Kind::Fifo, Kind::Kinesis, Kind::DynamoDb][rng.below(4) as usize];
    let size = 1 + rng.below(20) as usize;
    let lanes_n = 1 + rng.below(4);
    let mut records = Vec::with_capacity(size);
    let (mut ids, mut lanes, mut behaviours) = (vec![], vec![], vec![]);
    for i in 0..size {
        let b = match rng.below(20) {
            0 => Behaviour::Fail,
            1 => Behaviour::Panic,
            2 | 3 => Behaviour::Flaky(1 + rng.below(2) as u32),
            _ => Behaviour::Ok,
        };
        let id = format!("{n}-{i}-{}", rng.below(1_000_000));
        let key = format!("k{}", rng.below(lanes_n));
        let (record, lane) = match kind {
            Kind::Sqs => (
                json!({"eventSource": "aws:sqs", "messageId": id, "body": body(b),
                       "attributes": {"ApproximateReceiveCount": "1"}}),
                None,
            ),
            Kind::Fifo => (
                json!({"eventSource": "aws:sqs", "messageId": id, "body": body(b),
                       "attributes": {"MessageGroupId": key}}),
                Some(key),
            ),
            Kind::Kinesis => (
                json!({"eventSource": "aws:kinesis",
                       "kinesis": {"sequenceNumber": id, "partitionKey": key, "data": body(b)}}),
                Some(key),
            ),
            Kind::DynamoDb => (
                json!({"eventSource": "aws:dynamodb", "eventName": "INSERT",
                       "dynamodb": {"SequenceNumber": id, "Keys": {"pk": {"S": key}},
                                    "NewImage": {"body": {"S": body(b)}}}}),
                Some(key),
            ),
        };
        records.push(record);
        ids.push(id);
        lanes.push(lane);
        behaviours.push(b);
    }
    Invocation {
        event: json!({ "Records": records }),
        ids,
        lanes,
        behaviours,
    }
}

/// The reference model: the response (failed identifiers in order) and each record's calls.
fn expected(inv: &Invocation, retries: u32) -> (Vec<String>, Vec<u32>) {
    let mut failed_lanes: Vec<&str> = Vec::new();
    let mut response = Vec::new();
    let mut calls = Vec::new();
    for (i, b) in inv.behaviours.iter().enumerate() {
        let lane = inv.lanes[i].as_deref();
        if lane.is_some_and(|l| failed_lanes.contains(&l)) {
            response.push(inv.ids[i].clone());
            calls.push(0);
            continue;
        }
        let (ok, n) = match *b {
            Behaviour::Ok => (true, 1),
            Behaviour::Fail | Behaviour::Panic => (false, retries + 1),
            Behaviour::Flaky(k) if k <= retries => (true, k + 1),
            Behaviour::Flaky(_) => (false, retries + 1),
        };
        calls.push(n);
        if !ok {
            response.push(inv.ids[i].clone());
            if let Some(l) = lane {
                failed_lanes.push(l);
            }
        }
    }
    (response, calls)
}

fn handle(record: &Value, attempt: &AtomicU32) -> Result<(), String> {
    let n = attempt.fetch_add(1, Ordering::SeqCst);
    match behaviour_of(record) {
        Behaviour::Ok => Ok(()),
        Behaviour::Fail => Err("failed".into()),
        Behaviour::Panic => panic!("handler panicked on purpose"),
        Behaviour::Flaky(k) if n < k => Err(format!("flaky attempt {n}")),
        Behaviour::Flaky(_) => Ok(()),
    }
}

#[derive(Debug, Clone, Copy)]
struct Figures {
    rss_kb: u64,
    threads: usize,
    fds: usize,
}

fn figures() -> Figures {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let count = |p: &str| std::fs::read_dir(p).unwrap().count();
    Figures {
        rss_kb,
        threads: count("/proc/self/task"),
        fds: count("/proc/self/fd"),
    }
}

#[test]
#[cfg_attr(miri, ignore)] // reads /proc; thousands of batches
fn soak_mixed_events_memory_threads_and_fds_stay_flat() {
    let invocations: usize = std::env::var("LANEPOOL_SOAK_INVOCATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let warm_up = (invocations / 10).clamp(20, 500).min(invocations);
    // Panics are part of the load: keep them quiet (and cheap).
    std::panic::set_hook(Box::new(|_| {}));

    let pool = Pool::new(4).unwrap();
    let mut rng = Rng(0x5eed_50a4_1234_5678);
    let started = Instant::now();
    let mut base: Option<Figures> = None;
    let mut peak_rss = 0;
    let (mut records, mut sync_calls, mut async_calls) = (0usize, 0usize, 0usize);
    for n in 0..invocations {
        if n == warm_up {
            base = Some(figures());
        }
        let inv = invocation(&mut rng, n as u64);
        let retries = rng.below(3) as u32;
        let options = BatchOptions::new()
            .retries(retries)
            .backoff(Backoff {
                base: Duration::from_micros(200),
                max: Duration::from_millis(2),
                seed: n as u64,
            })
            .concurrency(1 + rng.below(8) as usize)
            .raise_on_full_batch_failure(rng.below(2) == 0);
        let attempts: Vec<AtomicU32> = inv.ids.iter().map(|_| AtomicU32::new(0)).collect();
        let records_of = inv.event["Records"].as_array().unwrap();
        let index_of = |r: &Value| {
            records_of
                .iter()
                .position(|x| std::ptr::eq(x, r))
                .expect("the handler gets the event's own record")
        };
        let result = if rng.below(3) == 0 {
            async_calls += 1;
            futures::executor::block_on(process_event_async(&inv.event, &options, |r| {
                let a = &attempts[index_of(r)];
                async move {
                    if rng_free_yield(a) {
                        lanepool::timer::sleep(Duration::from_micros(50)).await;
                    }
                    handle(r, a)
                }
            }))
        } else {
            sync_calls += 1;
            pool.process_event(&inv.event, &options, |r| handle(r, &attempts[index_of(r)]))
        };
        let (want, calls) = expected(&inv, retries);
        let report = match result {
            Ok(report) => {
                assert!(
                    !(options.raise_on_full_batch_failure && want.len() == inv.ids.len()),
                    "invocation {n}: all failed but no AllFailed"
                );
                report
            }
            Err(BatchError::AllFailed(report)) => {
                assert!(options.raise_on_full_batch_failure);
                assert_eq!(
                    want.len(),
                    inv.ids.len(),
                    "invocation {n}: AllFailed wrongly"
                );
                *report
            }
            Err(e) => panic!("invocation {n}: {e}"),
        };
        assert_eq!(
            report.response().batch_item_failures,
            want,
            "invocation {n}: wrong response"
        );
        let got_calls: Vec<u32> = attempts.iter().map(|a| a.load(Ordering::SeqCst)).collect();
        assert_eq!(got_calls, calls, "invocation {n}: wrong handler calls");
        records += inv.ids.len();
        if n % 50 == 0 {
            peak_rss = peak_rss.max(figures().rss_kb);
        }
    }
    let end = figures();
    let base = base.unwrap_or(end);
    let elapsed = started.elapsed();
    let growth_kb = end.rss_kb as i64 - base.rss_kb as i64;
    println!(
        "soak: {invocations} invocations ({sync_calls} sync, {async_calls} async), {records} records in {:.1} s; \
         after {warm_up} warm-up: VmRSS {} kB -> {} kB (growth {growth_kb} kB, peak sampled {} kB), \
         threads {} -> {}, fds {} -> {}",
        elapsed.as_secs_f64(),
        base.rss_kb,
        end.rss_kb,
        peak_rss.max(end.rss_kb),
        base.threads,
        end.threads,
        base.fds,
        end.fds
    );
    let _ = std::panic::take_hook();
    assert!(
        growth_kb < 5 * 1024,
        "resident memory grew by {growth_kb} kB"
    );
    assert!(
        end.threads <= base.threads,
        "threads grew: {base:?} -> {end:?}"
    );
    assert!(end.fds <= base.fds, "fds grew: {base:?} -> {end:?}");
}

/// Some async handlers really wait (through the timer thread), the others complete at once.
fn rng_free_yield(a: &AtomicU32) -> bool {
    (a as *const AtomicU32 as usize / 8).is_multiple_of(2)
}
