//! Property tests of the lane scheduler under a simulated driver: random batches, lanes,
//! failure patterns, completion orders and clocks.

use std::collections::HashMap;
use std::time::Duration;

use lanepool::lanes::{Backoff, LaneScheduler, Next, Outcome, SchedulerConfig};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Batch {
    lanes: Vec<Option<u32>>,
    /// Failing attempts before success (u32::MAX: always fails).
    fails: Vec<u32>,
    concurrency: usize,
    retries: u32,
    /// Which in-flight record completes next, as random picks.
    picks: Vec<usize>,
    deadline_ms: Option<u64>,
    step_ms: Vec<u64>,
}

fn batch() -> impl Strategy<Value = Batch> {
    (1usize..60, 1u32..6, 1usize..8, 0u32..3).prop_flat_map(|(n, lanes, concurrency, retries)| {
        (
            prop::collection::vec(prop::option::weighted(0.8, 0..lanes), n),
            prop::collection::vec(
                prop_oneof![6 => Just(0u32), 2 => Just(1u32), 1 => Just(2u32), 2 => Just(u32::MAX)],
                n,
            ),
            prop::collection::vec(any::<usize>(), 4 * n + 8),
            prop::option::weighted(0.3, 0u64..200),
            prop::collection::vec(0u64..15, 4 * n + 8),
        )
            .prop_map(move |(lanes, fails, picks, deadline_ms, step_ms)| Batch {
                lanes,
                fails,
                concurrency,
                retries,
                picks,
                deadline_ms,
                step_ms,
            })
    })
}

struct Trace {
    outcomes: Vec<Outcome<u32>>,
    /// (record, attempt, start time) in start order.
    starts: Vec<(usize, u32, Duration)>,
    peak: usize,
}

/// Drives the scheduler like a driver would, checking the invariants that hold at every step.
fn simulate(b: &Batch) -> Trace {
    let config = SchedulerConfig {
        concurrency: b.concurrency,
        retries: b.retries,
        backoff: Backoff {
            base: Duration::from_millis(3),
            max: Duration::from_millis(20),
            seed: 42,
        },
        deadline: b.deadline_ms.map(Duration::from_millis),
    };
    let mut s: LaneScheduler<u32> = LaneScheduler::new(b.lanes.clone(), config);
    let mut now = Duration::ZERO;
    let mut in_flight: Vec<(usize, u32)> = Vec::new();
    let mut starts = Vec::new();
    let mut attempts_made = vec![0u32; b.lanes.len()];
    let mut lane_busy: HashMap<u32, usize> = HashMap::new();
    let mut peak = 0;
    let (mut pick, mut step) = (0usize, 0usize);
    for _ in 0..100_000 {
        match s.next(now) {
            Next::Run(t) => {
                if let Some(d) = b.deadline_ms {
                    assert!(
                        now < Duration::from_millis(d),
                        "started at/after the deadline"
                    );
                }
                if let Some(lane) = b.lanes[t.index] {
                    assert!(
                        lane_busy.insert(lane, t.index).is_none(),
                        "two records of lane {lane} in flight"
                    );
                }
                attempts_made[t.index] += 1;
                assert_eq!(t.attempt, attempts_made[t.index], "attempt numbering");
                in_flight.push((t.index, t.attempt));
                peak = peak.max(in_flight.len());
                assert!(
                    in_flight.len() <= b.concurrency,
                    "over the concurrency limit"
                );
                starts.push((t.index, t.attempt, now));
            }
            Next::Wait { until } => {
                if in_flight.is_empty() {
                    let until = until.expect("nothing in flight, so a wake-up time is due");
                    assert!(until > now, "a wait must move time forward");
                    now = until;
                    continue;
                }
                let k = b.picks[pick % b.picks.len()] % in_flight.len();
                pick += 1;
                now += Duration::from_millis(b.step_ms[step % b.step_ms.len()]);
                step += 1;
                let (index, attempt) = in_flight.swap_remove(k);
                if let Some(lane) = b.lanes[index] {
                    lane_busy.remove(&lane);
                }
                let result = if attempt <= b.fails[index] {
                    Err(attempt)
                } else {
                    Ok(())
                };
                s.complete(index, result, now).unwrap();
            }
            Next::Done => {
                assert!(in_flight.is_empty(), "done while records are in flight");
                return Trace {
                    outcomes: s.into_outcomes().unwrap(),
                    starts,
                    peak,
                };
            }
        }
    }
    panic!("the scheduler did not finish");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_record_ends_exactly_once_with_the_right_outcome(b in batch().prop_filter("no deadline", |b| b.deadline_ms.is_none())) {
        let trace = simulate(&b);
        prop_assert_eq!(trace.outcomes.len(), b.lanes.len());
        // Reference model: walk each lane in order.
        let mut failed_lane: HashMap<u32, usize> = HashMap::new();
        for (i, outcome) in trace.outcomes.iter().enumerate() {
            let expected = match b.lanes[i].and_then(|l| failed_lane.get(&l).copied()) {
                Some(after) => Outcome::Skipped { after },
                None if b.fails[i] > b.retries => {
                    if let Some(l) = b.lanes[i] { failed_lane.insert(l, i); }
                    Outcome::Failed { error: b.retries + 1, attempts: b.retries + 1 }
                }
                None => Outcome::Succeeded { attempts: b.fails[i] + 1 },
            };
            prop_assert_eq!(outcome, &expected, "record {}", i);
        }
        let calls = trace.starts.iter().filter(|s| s.1 >= 1).count() as u32;
        prop_assert_eq!(calls, trace.outcomes.iter().map(|o| o.attempts()).sum::<u32>());
        prop_assert!(trace.peak <= b.concurrency);
    }

    #[test]
    fn lanes_start_in_event_order_and_stop_after_a_failure(b in batch()) {
        let trace = simulate(&b);
        let mut last_started: HashMap<u32, usize> = HashMap::new();
        for &(index, attempt, _) in &trace.starts {
            if let Some(lane) = b.lanes[index] {
                if attempt == 1 {
                    if let Some(prev) = last_started.insert(lane, index) {
                        prop_assert!(prev < index, "lane {} started {} after {}", lane, index, prev);
                        prop_assert!(!matches!(trace.outcomes[prev], Outcome::Failed { .. }),
                            "record {} of lane {} started after record {} failed", index, lane, prev);
                    }
                }
            }
        }
    }

    #[test]
    fn nothing_starts_after_the_deadline_and_unstarted_records_are_reported(b in batch().prop_filter("deadline", |b| b.deadline_ms.is_some())) {
        let trace = simulate(&b);
        let deadline = Duration::from_millis(b.deadline_ms.unwrap());
        for &(_, _, at) in &trace.starts {
            prop_assert!(at < deadline);
        }
        for (i, o) in trace.outcomes.iter().enumerate() {
            let started = trace.starts.iter().any(|s| s.0 == i);
            if let Outcome::Deadline { attempts, .. } = o {
                prop_assert_eq!(*attempts, 0);
                prop_assert!(!started, "record {} started yet reported deadline", i);
            }
            if !started {
                prop_assert!(matches!(o, Outcome::Deadline { .. } | Outcome::Skipped { .. }), "record {}: {:?}", i, o);
            }
        }
    }
}

#[test]
fn a_retry_holds_its_lane_until_it_is_done() {
    let config = SchedulerConfig {
        concurrency: 4,
        retries: 1,
        backoff: Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(10),
            seed: 1,
        },
        deadline: None,
    };
    let mut s: LaneScheduler<&str> = LaneScheduler::new(vec![Some(0), Some(0)], config);
    let t0 = Duration::ZERO;
    let Next::Run(first) = s.next(t0) else {
        panic!()
    };
    s.complete(first.index, Err("once"), t0).unwrap();
    // Record 1 must not start while record 0 waits for its retry.
    let Next::Wait { until: Some(due) } = s.next(t0) else {
        panic!("expected a timed wait")
    };
    assert!(due >= Duration::from_millis(5) && due <= Duration::from_millis(10));
    assert_eq!(
        s.next(due),
        Next::Run(lanepool::lanes::Ticket {
            index: 0,
            attempt: 2
        })
    );
    s.complete(0, Ok(()), due).unwrap();
    assert!(matches!(s.next(due), Next::Run(t) if t.index == 1));
    assert_eq!(s.stats().retries, 1);
}

#[test]
fn completing_a_record_that_is_not_running_is_an_error_not_a_panic() {
    let mut s: LaneScheduler<()> = LaneScheduler::new(vec![None], SchedulerConfig::default());
    assert!(s.complete(0, Ok(()), Duration::ZERO).is_err());
    assert!(s.cancel(5, None).is_err());
}

/// Replays `b` without retries or deadline, checking every start against a model: the record
/// started is the lowest-index one that could start (unkeyed and not started, or next in its
/// lane after records that all succeeded). Now and then a record handed out is given back
/// (`unstart`): the next start is again the lowest one.
fn lowest_first(b: &Batch, give_back: &[bool]) {
    let config = SchedulerConfig {
        concurrency: b.concurrency,
        ..SchedulerConfig::default()
    };
    let n = b.lanes.len();
    let mut s: LaneScheduler<u32> = LaneScheduler::new(b.lanes.clone(), config);
    let (mut started, mut succeeded) = (vec![false; n], vec![false; n]);
    let mut in_flight: Vec<usize> = Vec::new();
    let mut given_back = vec![0u32; n];
    let (mut pick, mut turn) = (0usize, 0usize);
    let now = Duration::ZERO;
    for _ in 0..100_000 {
        match s.next(now) {
            Next::Run(t) => {
                let startable = |i: usize| {
                    !started[i]
                        && b.lanes[i].is_none_or(|lane| {
                            (0..i).all(|j| b.lanes[j] != Some(lane) || succeeded[j])
                        })
                };
                let lowest = (0..n).find(|&i| startable(i));
                assert_eq!(
                    Some(t.index),
                    lowest,
                    "not the lowest record that could start"
                );
                turn += 1;
                if give_back[turn % give_back.len()] && given_back[t.index] < 3 {
                    given_back[t.index] += 1;
                    s.unstart(t.index).unwrap();
                    continue;
                }
                started[t.index] = true;
                in_flight.push(t.index);
            }
            Next::Wait { .. } => {
                let k = b.picks[pick % b.picks.len()] % in_flight.len();
                pick += 1;
                let index = in_flight.swap_remove(k);
                let ok = b.fails[index] == 0;
                succeeded[index] = ok;
                s.complete(index, if ok { Ok(()) } else { Err(1) }, now)
                    .unwrap();
            }
            Next::Done => {
                assert!(in_flight.is_empty());
                let outcomes = s.into_outcomes().unwrap();
                // a record given back and never started again has no attempt on record
                for (i, o) in outcomes.iter().enumerate() {
                    assert_eq!(o.attempts() > 0, started[i], "record {i}: {o:?}");
                }
                return;
            }
        }
    }
    panic!("the scheduler did not finish");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_lowest_record_that_can_start_starts_first(
        b in batch(),
        give_back in prop::collection::vec(prop::bool::weighted(0.2), 1..8),
    ) {
        lowest_first(&b, &give_back);
    }
}

#[test]
fn a_retry_cannot_be_given_back() {
    let config = SchedulerConfig {
        retries: 1,
        backoff: Backoff {
            base: Duration::ZERO,
            max: Duration::ZERO,
            seed: 1,
        },
        ..SchedulerConfig::default()
    };
    let mut s: LaneScheduler<()> = LaneScheduler::new(vec![None], config);
    let Next::Run(t) = s.next(Duration::ZERO) else {
        panic!()
    };
    s.complete(t.index, Err(()), Duration::ZERO).unwrap();
    let Next::Run(retry) = s.next(Duration::ZERO) else {
        panic!()
    };
    assert_eq!(retry.attempt, 2);
    assert_eq!(
        s.unstart(retry.index),
        Err(lanepool::lanes::SchedulerError::Retry(0))
    );
    assert_eq!(
        s.unstart(5),
        Err(lanepool::lanes::SchedulerError::NotRunning(5))
    );
}
