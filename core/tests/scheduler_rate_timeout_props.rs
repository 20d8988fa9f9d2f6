//! Property tests of the lane scheduler's start rate and attempt timeout, on a simulated
//! clock: a driver model runs random batches (lanes, concurrency, retries, handler times and
//! results, a deadline) exactly as the async driver does (completions, then timeouts, then
//! the deadline's cancellations, then new starts), and checks that
//! - start times respect the token bucket: any `k` consecutive starts span at least
//!   `(k - burst) * interval`, and none starts at or after the deadline;
//! - an attempt running past its timeout is stopped exactly then, retried while retries
//!   remain, and a record whose last attempt timed out ends as `timeout` and skips the rest
//!   of its lane;
//! - every record ends exactly once, its attempts equal to its handler calls, records of one
//!   lane never overlap and start in order.

use std::time::Duration;

use lanepool::lanes::{Backoff, LaneScheduler, Next, Outcome, SchedulerConfig, StartRate};
use proptest::prelude::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A record: its lane, and per attempt (up to 3) its duration in ms and whether it succeeds.
type Record = (Option<u32>, Vec<(u64, bool)>);

#[derive(Clone, Debug)]
struct Batch {
    records: Vec<Record>,
    concurrency: usize,
    retries: u32,
    /// Starts per second (on the simulated clock).
    rate: Option<f64>,
    timeout_ms: Option<u64>,
    deadline_ms: Option<u64>,
}

fn batch() -> impl Strategy<Value = Batch> {
    let record = (
        prop::option::weighted(0.7, 0u32..3),
        prop::collection::vec((0u64..60, prop::bool::weighted(0.7)), 3),
    );
    (
        prop::collection::vec(record, 0..14),
        1usize..5,
        0u32..3,
        prop::option::of(prop::sample::select(vec![
            0.5, 1.0, 2.5, 10.0, 40.0, 100.0, 1000.0,
        ])),
        prop::option::of(5u64..50),
        prop::option::weighted(0.5, 0u64..400),
    )
        .prop_map(
            |(records, concurrency, retries, rate, timeout_ms, deadline_ms)| Batch {
                records,
                concurrency,
                retries,
                rate,
                timeout_ms,
                deadline_ms,
            },
        )
}

/// How an attempt ended in the simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Ok,
    Err,
    TimedOut,
    Cancelled,
}

#[derive(Debug)]
struct Attempt {
    record: usize,
    attempt: u32,
    start: Duration,
    end: Duration,
    how: End,
}

fn simulate(b: &Batch) -> (Vec<Outcome<()>>, Vec<Attempt>, Duration, Duration) {
    let config = SchedulerConfig {
        concurrency: b.concurrency,
        retries: b.retries,
        backoff: Backoff {
            base: ms(3),
            max: ms(20),
            seed: 9,
        },
        deadline: b.deadline_ms.map(ms),
    };
    let rate = b.rate.map(|r| StartRate::per_second(r).unwrap());
    let mut s: LaneScheduler<()> =
        LaneScheduler::new(b.records.iter().map(|r| r.0).collect(), config)
            .with_attempt_timeout(b.timeout_ms.map(ms))
            .with_start_rate(rate);
    let mut now = Duration::ZERO;
    // (record, attempt, start, natural end, succeeds)
    let mut running: Vec<(usize, u32, Duration, Duration, bool)> = Vec::new();
    let mut attempts = Vec::new();
    for _step in 0..100_000 {
        // Completions due now, then timeouts, then the deadline's cancellations.
        running.retain(|&(record, attempt, start, end, ok)| {
            if end > now {
                return true;
            }
            let how = if ok { End::Ok } else { End::Err };
            s.complete(record, if ok { Ok(()) } else { Err(()) }, now)
                .unwrap();
            attempts.push(Attempt {
                record,
                attempt,
                start,
                end,
                how,
            });
            false
        });
        for record in s.timed_out(now) {
            let at = running.iter().position(|r| r.0 == record).unwrap();
            let (_, attempt, start, _, _) = running.swap_remove(at);
            s.time_out(record, None, now).unwrap();
            attempts.push(Attempt {
                record,
                attempt,
                start,
                end: now,
                how: End::TimedOut,
            });
        }
        if s.deadline_passed(now) {
            for (record, attempt, start, _, _) in running.drain(..) {
                s.cancel(record, None).unwrap();
                attempts.push(Attempt {
                    record,
                    attempt,
                    start,
                    end: now,
                    how: End::Cancelled,
                });
            }
        }
        loop {
            match s.next(now) {
                Next::Run(t) => {
                    let (dur, ok) = b.records[t.index].1[(t.attempt - 1) as usize];
                    running.push((t.index, t.attempt, now, now + ms(dur), ok));
                }
                Next::Wait { until } => {
                    let next_end = running.iter().map(|r| r.3).min();
                    let wake = [until, next_end].into_iter().flatten().min();
                    let wake = wake.expect("a wait with nothing running and no wake-up time");
                    // `wake == now`: an attempt of no duration started now ends now.
                    assert!(wake >= now, "a wake-up in the past: {wake:?} at {now:?}");
                    now = wake;
                    break;
                }
                Next::Done => {
                    assert!(running.is_empty(), "done with records running");
                    let stats = s.stats();
                    return (
                        s.into_outcomes().unwrap(),
                        attempts,
                        stats.rate_wait_total,
                        now,
                    );
                }
            }
        }
    }
    panic!("the simulation did not finish");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn rate_and_timeout_rules_hold(b in batch()) {
        let (outcomes, attempts, rate_wait, end) = simulate(&b);
        prop_assert_eq!(outcomes.len(), b.records.len());

        // The bucket: sorted starts, any window of k starts spans (k - burst) intervals.
        let mut starts: Vec<Duration> = attempts.iter().map(|a| a.start).collect();
        starts.sort();
        if let Some(rate) = b.rate.map(|r| StartRate::per_second(r).unwrap()) {
            for i in 0..starts.len() {
                for j in i + 1..starts.len() {
                    let k = (j - i + 1) as u32;
                    let need = rate.interval() * k.saturating_sub(rate.burst());
                    prop_assert!(starts[j] - starts[i] >= need,
                        "starts {:?} and {:?} ({} starts) closer than {:?}", starts[i], starts[j], k, need);
                }
            }
        } else {
            prop_assert_eq!(rate_wait, Duration::ZERO);
        }
        prop_assert!(rate_wait <= end);
        if let Some(d) = b.deadline_ms.map(ms) {
            prop_assert!(starts.iter().all(|&t| t < d), "a start at or after the deadline");
        }

        // Timeouts: an attempt longer than the timeout is stopped exactly at it (unless the
        // deadline came first); no attempt runs past it.
        for a in &attempts {
            let natural = ms(b.records[a.record].1[(a.attempt - 1) as usize].0);
            match b.timeout_ms.map(ms) {
                Some(t) => {
                    prop_assert!(a.end - a.start <= t, "{:?} ran past its timeout", a);
                    let stopped_by_deadline = b.deadline_ms.is_some_and(|d| a.start + t >= ms(d));
                    if natural > t && !stopped_by_deadline {
                        prop_assert_eq!(a.how, End::TimedOut, "{:?}", a);
                        prop_assert_eq!(a.end, a.start + t);
                    }
                    if a.how == End::TimedOut {
                        prop_assert!(natural > t);
                    }
                }
                None => prop_assert!(a.how != End::TimedOut),
            }
        }

        // Every record once; its outcome follows its last attempt; attempts = calls.
        for (i, outcome) in outcomes.iter().enumerate() {
            let mine: Vec<&Attempt> = attempts.iter().filter(|a| a.record == i).collect();
            prop_assert_eq!(outcome.attempts() as usize, mine.len(), "record {}", i);
            for (n, a) in mine.iter().enumerate() {
                prop_assert_eq!(a.attempt as usize, n + 1);
            }
            let last = mine.iter().max_by_key(|a| a.attempt).map(|a| a.how);
            match (outcome, last) {
                (Outcome::Succeeded { .. }, Some(End::Ok)) => {}
                (Outcome::Failed { .. }, Some(End::Err)) => {}
                (Outcome::TimedOut { .. }, Some(End::TimedOut)) => {}
                (Outcome::Deadline { attempts: 0, .. }, None) => prop_assert!(b.deadline_ms.is_some()),
                (Outcome::Deadline { .. }, Some(End::Cancelled)) => {}
                (Outcome::Skipped { after }, None) => {
                    prop_assert!(*after < i);
                    prop_assert_eq!(b.records[*after].0, b.records[i].0);
                    prop_assert!(b.records[i].0.is_some());
                    prop_assert!(matches!(outcomes[*after],
                        Outcome::Failed { .. } | Outcome::TimedOut { .. } | Outcome::Deadline { .. }),
                        "record {} skipped after record {} that did not fail", i, after);
                }
                (o, l) => prop_assert!(false, "record {}: outcome {:?} after last attempt {:?}", i, o, l),
            }
            // A failure ends a record before its retries run out only at the deadline.
            if matches!(outcome, Outcome::Failed { .. } | Outcome::TimedOut { .. })
                && b.deadline_ms.is_none()
            {
                prop_assert_eq!(outcome.attempts(), 1 + b.retries);
            }
        }

        // Lanes: no overlap, starts in index order.
        let mut by_lane: Vec<&Attempt> = attempts.iter().filter(|a| b.records[a.record].0.is_some()).collect();
        by_lane.sort_by_key(|a| (b.records[a.record].0, a.start, a.end));
        for pair in by_lane.windows(2) {
            if b.records[pair[0].record].0 == b.records[pair[1].record].0 {
                prop_assert!(pair[0].end <= pair[1].start, "lane overlap {:?}", pair);
                prop_assert!(pair[0].record <= pair[1].record, "lane order {:?}", pair);
            }
        }
    }
}

/// The rate holds back retries too, and what it cannot start before the deadline is
/// `deadline`, with the time it held the batch back counted.
#[test]
fn the_rate_counts_retries_and_stops_at_the_deadline() {
    let config = SchedulerConfig {
        concurrency: 8,
        retries: 1,
        backoff: Backoff {
            base: Duration::ZERO,
            ..Backoff::default()
        },
        deadline: Some(ms(600)),
    };
    let rate = StartRate::per_second(2.0).unwrap(); // bursts of 2, a token every 500 ms
    let mut s: LaneScheduler<&str> =
        LaneScheduler::new(vec![None, None, None], config).with_start_rate(Some(rate));
    let Next::Run(a) = s.next(ms(0)) else {
        panic!()
    };
    let Next::Run(b) = s.next(ms(0)) else {
        panic!()
    };
    assert_eq!(
        s.next(ms(0)),
        Next::Wait {
            until: Some(ms(500))
        }
    );
    s.complete(a.index, Err("first"), ms(10)).unwrap();
    s.complete(b.index, Ok(()), ms(10)).unwrap();
    // Record 0's retry (due at once) and record 2 both wait for the token at 500 ms.
    assert_eq!(
        s.next(ms(10)),
        Next::Wait {
            until: Some(ms(500))
        }
    );
    let Next::Run(c) = s.next(ms(500)) else {
        panic!()
    };
    assert_eq!((c.index, c.attempt), (0, 2)); // the lowest index first: the retry
    s.complete(c.index, Ok(()), ms(510)).unwrap();
    // The next token comes at 1000 ms, past the deadline (600 ms): wake at the deadline.
    assert_eq!(
        s.next(ms(510)),
        Next::Wait {
            until: Some(ms(600))
        }
    );
    assert_eq!(s.next(ms(600)), Next::Done);
    assert_eq!(s.stats().rate_wait_total, ms(590)); // 0..500 and 510..600
    let outcomes = s.into_outcomes().unwrap();
    assert_eq!(outcomes[0], Outcome::Succeeded { attempts: 2 });
    assert_eq!(
        outcomes[2],
        Outcome::Deadline {
            attempts: 0,
            error: None
        }
    );
}

/// A record waiting for its retry after a timeout, when the deadline comes, ends as
/// `timeout` (not `error`) with the attempts it made; its lane is skipped.
#[test]
fn a_timed_out_record_waiting_for_a_retry_at_the_deadline_is_timeout() {
    let config = SchedulerConfig {
        concurrency: 2,
        retries: 3,
        backoff: Backoff {
            base: ms(100),
            max: ms(100),
            seed: 1,
        },
        deadline: Some(ms(70)),
    };
    let mut s: LaneScheduler<()> =
        LaneScheduler::new(vec![Some(0), Some(0)], config).with_attempt_timeout(Some(ms(20)));
    let Next::Run(t) = s.next(ms(0)) else {
        panic!()
    };
    assert_eq!(s.timed_out(ms(20)), [t.index]);
    s.time_out(t.index, None, ms(20)).unwrap();
    // The retry would come 50..100 ms later, at or after the deadline: the record ends now.
    assert_eq!(s.next(ms(20)), Next::Done);
    let outcomes = s.into_outcomes().unwrap();
    assert_eq!(
        outcomes[0],
        Outcome::TimedOut {
            attempts: 1,
            error: None
        }
    );
    assert_eq!(outcomes[1], Outcome::Skipped { after: 0 });
}

/// An attempt due at or after the deadline is the deadline's, not a timeout.
#[test]
fn a_timeout_at_the_deadline_is_the_deadlines() {
    let config = SchedulerConfig {
        deadline: Some(ms(50)),
        ..SchedulerConfig::default()
    };
    let mut s: LaneScheduler<()> =
        LaneScheduler::new(vec![None], config).with_attempt_timeout(Some(ms(50)));
    let Next::Run(t) = s.next(ms(0)) else {
        panic!()
    };
    assert!(s.timed_out(ms(60)).is_empty());
    assert!(s.deadline_passed(ms(60)));
    s.cancel(t.index, None).unwrap();
    assert_eq!(s.next(ms(60)), Next::Done);
}
