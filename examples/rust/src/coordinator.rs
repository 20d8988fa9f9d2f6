//! A coordinator: fan out 200 jobs to a downstream service that throttles bursts, hangs now
//! and then and fails some calls transiently, and collect every result.
//!
//! The downstream refuses a call when more than 100 calls started in the last second
//! ("throttled"), never answers the first call of a few jobs ("hung"), and fails the first
//! call of some others ("transient"). A naive fan-out starts everything at once: half the jobs
//! are throttled, and the hung calls hold the coordinator until its deadline. With a start
//! rate below the downstream's limit, an attempt timeout and retries, every job ends right.
//!
//! The same fan-out as `examples/python/coordinator.py` and `examples/node/coordinator.js`;
//! `src/bin/coordinator.rs` prints it as a table (`--json`: one JSON object, as theirs do):
//!
//! ```text
//! cargo run --release -p lanepool-example --bin coordinator
//! ```
//!
//! `tests/coordinator.rs` runs [`run`] and checks its counts against the downstream's own.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lanepool::batch::{run_jobs_async, BatchOptions, JobReport};
use lanepool::lanes::Backoff;

/// Calls the downstream accepts per second before it throttles.
pub const DOWNSTREAM_PER_SECOND: usize = 100;

/// Why a downstream call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// Too many calls started in the last second.
    Throttled,
    /// A transient failure (a 503): the next call succeeds.
    Unavailable,
}

/// A simulated downstream service.
pub struct Downstream {
    /// Start times of the calls of the last second.
    window: Mutex<VecDeque<Instant>>,
    /// Jobs whose first call never answers.
    hangs: Vec<usize>,
    /// Calls refused as throttled.
    pub throttled: AtomicUsize,
    /// Calls failed transiently.
    pub unavailable: AtomicUsize,
    /// Calls that hung (until they were cancelled).
    pub hung: AtomicUsize,
}

impl Downstream {
    /// A downstream whose first call of each job in `hangs` never answers.
    pub fn new(hangs: Vec<usize>) -> Self {
        Downstream {
            window: Mutex::new(VecDeque::new()),
            hangs,
            throttled: AtomicUsize::new(0),
            unavailable: AtomicUsize::new(0),
            hung: AtomicUsize::new(0),
        }
    }

    /// Whether `job`'s first call fails transiently.
    pub fn flaky(job: usize) -> bool {
        job % 23 == 5
    }

    /// One call for `job` (attempt `attempt`): its result, `job * 2`.
    pub async fn call(&self, job: usize, attempt: u32) -> Result<usize, CallError> {
        {
            let now = Instant::now();
            let mut window = self.window.lock().unwrap();
            while window
                .front()
                .is_some_and(|&t| now.duration_since(t) >= Duration::from_secs(1))
            {
                window.pop_front();
            }
            window.push_back(now);
            if window.len() > DOWNSTREAM_PER_SECOND {
                self.throttled.fetch_add(1, Ordering::SeqCst);
                return Err(CallError::Throttled);
            }
        }
        if attempt == 1 && self.hangs.contains(&job) {
            self.hung.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
        }
        if attempt == 1 && Self::flaky(job) {
            self.unavailable.fetch_add(1, Ordering::SeqCst);
            return Err(CallError::Unavailable);
        }
        lanepool::timer::sleep(Duration::from_millis(20)).await; // the work
        Ok(job * 2)
    }
}

/// One fan-out's outcome: the report and what the downstream saw.
pub struct Run {
    /// The jobs' report.
    pub report: JobReport<usize, CallError>,
    /// Calls the downstream throttled.
    pub throttled: usize,
    /// Calls that failed transiently.
    pub unavailable: usize,
    /// Calls that hung.
    pub hung: usize,
    /// Wall time of the fan-out.
    pub took: Duration,
}

/// The jobs whose first call hangs.
pub fn hung_jobs() -> Vec<usize> {
    vec![3, 40, 90]
}

/// Fans `jobs` jobs out to a fresh downstream with `options`.
pub fn fan_out(jobs: usize, options: &BatchOptions) -> Run {
    let downstream = Downstream::new(hung_jobs());
    let items: Vec<usize> = (0..jobs).collect();
    let start = Instant::now();
    // Any executor drives the fan-out: the timeouts, the start rate and the backoff run on
    // lanepool's own timer. Here a current-thread tokio runtime, as a Lambda program has one.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let report = runtime
        .block_on(run_jobs_async(&items, options, |job, ctx| {
            downstream.call(*job, ctx.attempt)
        }))
        .expect("valid options");
    Run {
        report,
        throttled: downstream.throttled.load(Ordering::SeqCst),
        unavailable: downstream.unavailable.load(Ordering::SeqCst),
        hung: downstream.hung.load(Ordering::SeqCst),
        took: start.elapsed(),
    }
}

/// The naive fan-out (everything at once, no retries, no timeout: the hung calls run until
/// the deadline) and the coordinated one, over `jobs` jobs.
pub fn run(jobs: usize) -> (Run, Run) {
    let naive = BatchOptions::new()
        .concurrency(jobs.max(1))
        .remaining_time(Duration::from_millis(1500))
        .deadline_margin(Duration::ZERO);
    let coordinated = BatchOptions::new()
        .concurrency(32)
        // Bursts of 45, then 45 per second: at most 90 starts in any second, retries
        // included, under the downstream's 100.
        .max_per_second(45.0)
        .attempt_timeout(Duration::from_millis(300))
        .retries(3)
        .backoff(Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(200),
            seed: 7,
        })
        .remaining_time(Duration::from_secs(30))
        .deadline_margin(Duration::ZERO);
    (fan_out(jobs, &naive), fan_out(jobs, &coordinated))
}
