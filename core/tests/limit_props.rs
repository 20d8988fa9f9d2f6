//! Property tests of `InFlightLimit` with the lane scheduler, on a simulated clock: random
//! calls (sizes, lanes, start times, handler times, failures, retries, deadlines, own
//! concurrency, some dropped half-way) share one random limit, and a model kept by the test
//! checks every step:
//!
//! - handlers in flight never exceed the shared limit, nor a call's own `concurrency`;
//! - every record of a call that ends has exactly one outcome, and its attempts are the
//!   handler calls made for it (waiting for a slot is not an attempt; a record that never got
//!   a slot before its deadline ends `deadline` with 0 attempts);
//! - the limit's count and rotation equal the model's: slots are held only by running
//!   handlers or handed to a waiting call, a dropped call gives back all it held;
//! - no barging: a call takes a free slot only when no other call waits;
//! - work-conserving: while a call waits, every slot is taken;
//! - fairness (the bound `InFlightLimit` documents): a slot given back while calls wait goes
//!   to the call that has waited longest, so while `k` calls wait none gets a second slot
//!   before every other waiting one got one, and a waiting call is served within `k - 1`
//!   hand-overs to others.

use std::collections::VecDeque;
use std::time::Duration;

use lanepool::lanes::{Backoff, LaneScheduler, Next, Outcome, SchedulerConfig};
use lanepool::limit::{InFlightLimit, LimitedCall};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct CallSpec {
    start: u64,
    /// Per record: lane, handler time (ms), failing first attempts.
    records: Vec<(Option<u32>, u64, u32)>,
    concurrency: usize,
    retries: u32,
    deadline: Option<u64>,
    /// The call is dropped (cancelled) this long after its start, if it has not ended.
    dropped_after: Option<u64>,
}

#[derive(Clone, Debug)]
struct Spec {
    limit: usize,
    calls: Vec<CallSpec>,
    /// Seed of the order in which calls step within one tick.
    order_seed: u64,
}

fn call_spec() -> impl Strategy<Value = CallSpec> {
    let record = (
        prop_oneof![Just(None), (0u32..3).prop_map(Some)],
        1u64..8,
        prop_oneof![4 => Just(0u32), 1 => 1u32..3],
    );
    (
        0u64..40,
        prop::collection::vec(record, 1..30),
        1usize..6,
        0u32..3,
        prop_oneof![3 => Just(None), 1 => (5u64..150).prop_map(Some)],
        prop_oneof![5 => Just(None), 1 => (1u64..80).prop_map(Some)],
    )
        .prop_map(
            |(start, records, concurrency, retries, deadline, dropped_after)| CallSpec {
                start,
                records,
                concurrency,
                retries,
                deadline,
                dropped_after,
            },
        )
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        1usize..6,
        prop::collection::vec(call_spec(), 1..6),
        any::<u64>(),
    )
        .prop_map(|(limit, calls, order_seed)| Spec {
            limit,
            calls,
            order_seed,
        })
}

struct Live {
    spec: CallSpec,
    scheduler: LaneScheduler<u32>,
    call: Option<LimitedCall>,
    /// (record, attempt, ends at tick)
    running: Vec<(usize, u32, u64)>,
    calls_made: Vec<u32>,
    ended: bool,
    ever_waited: bool,
    /// Hand-overs to other calls since this call began to wait.
    passed_over: usize,
}

/// The test's own model of the limit.
#[derive(Default)]
struct Model {
    taken: usize,
    /// Waiting calls (indices into the spec's calls), longest waiting first.
    queue: VecDeque<usize>,
    reserved: Vec<usize>,
    held: Vec<usize>,
    /// Slots a waiting call still wants (what the limit says it asked for when refused, less
    /// hand-overs since).
    want: Vec<usize>,
}

impl Model {
    /// A slot is given back: to the front of the queue (back to the end if it wants more),
    /// else free.
    fn hand_over(&mut self, lives: &mut [Live]) -> Option<usize> {
        match self.queue.pop_front() {
            Some(to) => {
                self.reserved[to] += 1;
                self.want[to] -= 1;
                if self.want[to] > 0 {
                    self.queue.push_back(to);
                }
                for (i, live) in lives.iter_mut().enumerate() {
                    if i != to && self.queue.contains(&i) {
                        live.passed_over += 1;
                    }
                }
                lives[to].passed_over = 0;
                Some(to)
            }
            None => {
                self.taken -= 1;
                None
            }
        }
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z ^ (z >> 31)
    }
}

fn simulate(spec: &Spec) -> Result<(), TestCaseError> {
    let limit = InFlightLimit::new(spec.limit).unwrap();
    let n = spec.calls.len();
    let mut lives: Vec<Live> = spec
        .calls
        .iter()
        .map(|c| {
            let config = SchedulerConfig {
                concurrency: c.concurrency,
                retries: c.retries,
                backoff: Backoff {
                    base: ms(1),
                    max: ms(4),
                    seed: 7,
                },
                deadline: c.deadline.map(ms),
            };
            Live {
                scheduler: LaneScheduler::new(c.records.iter().map(|r| r.0).collect(), config),
                call: None,
                running: Vec::new(),
                calls_made: vec![0; c.records.len()],
                ended: false,
                ever_waited: false,
                passed_over: 0,
                spec: c.clone(),
            }
        })
        .collect();
    // Register in start order (ties: index), as calls arrive.
    let mut model = Model {
        reserved: vec![0; n],
        held: vec![0; n],
        want: vec![0; n],
        ..Model::default()
    };
    let mut rng = Rng(spec.order_seed);
    let mut tick = 0u64;
    while lives.iter().any(|l| !l.ended) {
        prop_assert!(tick < 50_000, "the simulation does not end");
        // 1. Handlers that end now give their slot back.
        for c in 0..n {
            let now = tick.saturating_sub(lives[c].spec.start);
            let mut i = 0;
            while i < lives[c].running.len() {
                let (index, attempt, end) = lives[c].running[i];
                if end != tick {
                    i += 1;
                    continue;
                }
                lives[c].running.swap_remove(i);
                let fails = attempt <= lives[c].spec.records[index].2;
                let result = if fails { Err(attempt) } else { Ok(()) };
                lives[c].scheduler.complete(index, result, ms(now)).unwrap();
                lives[c].scheduler.take_displaced();
                let to = lives[c].call.as_ref().unwrap().release().unwrap();
                model.held[c] -= 1;
                let expected = model.hand_over(&mut lives);
                prop_assert_eq!(
                    to.map(|id| id.get()),
                    expected.map(|e| lives[e].call.as_ref().unwrap().id().get()),
                    "a slot given back goes to the call that waited longest"
                );
            }
        }
        // 2. Calls dropped now give back all they hold and leave the rotation.
        for c in 0..n {
            let live = &lives[c];
            let due = live
                .spec
                .dropped_after
                .is_some_and(|d| live.spec.start + d == tick);
            if due && live.call.is_some() && !live.ended {
                let call = lives[c].call.take().unwrap();
                drop(call);
                lives[c].ended = true;
                lives[c].running.clear();
                model.queue.retain(|&q| q != c);
                model.want[c] = 0;
                let back = model.held[c] + model.reserved[c];
                model.held[c] = 0;
                model.reserved[c] = 0;
                for _ in 0..back {
                    model.hand_over(&mut lives);
                }
            }
        }
        // 3. Every started call steps until it must wait, in a random order.
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            order.swap(i, (rng.next() % (i as u64 + 1)) as usize);
        }
        for &c in &order {
            if lives[c].ended || lives[c].spec.start > tick {
                continue;
            }
            if lives[c].call.is_none() {
                lives[c].call = Some(limit.register());
            }
            let now = ms(tick - lives[c].spec.start);
            loop {
                let live = &mut lives[c];
                let call = live.call.as_ref().unwrap();
                let next = call.next(&mut live.scheduler, now);
                match next {
                    Next::Run(t) => {
                        if model.reserved[c] > 0 {
                            model.reserved[c] -= 1;
                        } else {
                            prop_assert!(
                                model.queue.is_empty(),
                                "call {} took a free slot while {:?} waited",
                                c,
                                model.queue
                            );
                            prop_assert!(model.taken < spec.limit);
                            model.taken += 1;
                        }
                        model.held[c] += 1;
                        live.calls_made[t.index] += 1;
                        let duration = live.spec.records[t.index].1;
                        live.running.push((t.index, t.attempt, tick + duration));
                        prop_assert!(
                            live.running.len() <= live.spec.concurrency,
                            "call {} runs {} handlers, its concurrency is {}",
                            c,
                            live.running.len(),
                            live.spec.concurrency
                        );
                    }
                    Next::Wait { .. } => {
                        let waiting = call.is_waiting();
                        let was_queued = model.queue.contains(&c);
                        if waiting && !was_queued {
                            model.queue.push_back(c);
                            live.ever_waited = true;
                            live.passed_over = 0;
                        }
                        if waiting {
                            // What it asked for: the records it could start now.
                            let want = call.wanted();
                            let room = live.spec.concurrency - live.running.len();
                            prop_assert!(want >= 1 && want <= room, "call {} wants {}", c, want);
                            model.want[c] = want;
                        } else {
                            model.queue.retain(|&q| q != c);
                            model.want[c] = 0;
                        }
                        // A slot handed to a call that then had nothing to start is passed on.
                        if !call.has_reserved() {
                            for _ in 0..std::mem::take(&mut model.reserved[c]) {
                                model.hand_over(&mut lives);
                            }
                        }
                        break;
                    }
                    Next::Done => {
                        prop_assert!(live.running.is_empty());
                        let call = live.call.take().unwrap();
                        prop_assert_eq!(call.held(), 0, "a finished call holds no slot");
                        drop(call);
                        model.queue.retain(|&q| q != c);
                        model.want[c] = 0;
                        for _ in 0..std::mem::take(&mut model.reserved[c]) {
                            model.hand_over(&mut lives);
                        }
                        lives[c].ended = true;
                        break;
                    }
                }
            }
        }
        // 4. The limit agrees with the model, and the bounds hold.
        let running: usize = lives.iter().map(|l| l.running.len()).sum();
        prop_assert!(running <= spec.limit, "{} handlers in flight", running);
        prop_assert_eq!(limit.in_flight(), model.taken);
        prop_assert!(model.taken <= spec.limit);
        let waiting: Vec<u64> = model
            .queue
            .iter()
            .map(|&c| lives[c].call.as_ref().unwrap().id().get())
            .collect();
        let limit_waiting: Vec<u64> = limit.waiting().iter().map(|id| id.get()).collect();
        prop_assert_eq!(limit_waiting, waiting, "the rotation");
        if !model.queue.is_empty() {
            prop_assert_eq!(model.taken, spec.limit, "a slot idles while a call waits");
        }
        for &c in &model.queue {
            prop_assert!(
                lives[c].passed_over < n,
                "call {} was passed over {} times while waiting",
                c,
                lives[c].passed_over
            );
        }
        tick += 1;
    }
    prop_assert_eq!(limit.in_flight(), 0, "every slot came back");
    prop_assert_eq!(limit.calls(), 0);
    // 5. Every call that ran to its end: one outcome per record, attempts = handler calls.
    for (c, live) in lives.into_iter().enumerate() {
        if live.spec.dropped_after.is_some() && !live.scheduler.is_done() {
            continue;
        }
        let stats = live.scheduler.stats();
        if !live.ever_waited {
            prop_assert_eq!(stats.slot_wait_total, Duration::ZERO, "call {}", c);
        } else {
            prop_assert!(stats.slot_wait_max >= ms(1), "call {} waited", c);
        }
        prop_assert!(stats.slot_wait_max <= stats.slot_wait_total);
        let calls_made = live.calls_made;
        let outcomes = live.scheduler.into_outcomes().unwrap();
        prop_assert_eq!(outcomes.len(), calls_made.len());
        for (i, outcome) in outcomes.iter().enumerate() {
            prop_assert_eq!(outcome.attempts(), calls_made[i], "call {} record {}", c, i);
            if let Outcome::Deadline { attempts: 0, .. } = outcome {
                prop_assert!(live.spec.deadline.is_some());
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn shared_limit_is_safe_and_fair(spec in spec()) {
        simulate(&spec)?;
    }
}

/// The 10,000-record call and the 10-record one: with one slot each round, the small call,
/// starting later, is served every second slot and ends long before the big one.
#[test]
fn a_big_call_does_not_starve_a_small_one() {
    let limit = InFlightLimit::new(4).unwrap();
    let config = |c| SchedulerConfig {
        concurrency: c,
        ..SchedulerConfig::default()
    };
    let mut big: LaneScheduler<()> = LaneScheduler::new(vec![None; 10_000], config(16));
    let mut small: LaneScheduler<()> = LaneScheduler::new(vec![None; 10], config(16));
    let (big_call, small_call) = (limit.register(), limit.register());
    // (scheduler 0 = big, 1 = small; record; ends at tick)
    let mut running: Vec<(usize, usize, u64)> = Vec::new();
    let mut small_done = None;
    let mut tick = 0u64;
    loop {
        let mut i = 0;
        while i < running.len() {
            if running[i].2 == tick {
                let (which, index, _) = running.swap_remove(i);
                let (s, call) = if which == 0 {
                    (&mut big, &big_call)
                } else {
                    (&mut small, &small_call)
                };
                s.complete(index, Ok(()), ms(tick)).unwrap();
                call.release().unwrap();
            } else {
                i += 1;
            }
        }
        // the big call steps first every tick, and the small one starts at tick 5
        while let Next::Run(t) = big_call.next(&mut big, ms(tick)) {
            running.push((0, t.index, tick + 3));
        }
        if tick >= 5 && small_done.is_none() {
            loop {
                match small_call.next(&mut small, ms(tick - 5)) {
                    Next::Run(t) => running.push((1, t.index, tick + 3)),
                    Next::Done => {
                        small_done = Some(tick);
                        break;
                    }
                    Next::Wait { .. } => break,
                }
            }
        }
        if small_done.is_some() {
            break;
        }
        tick += 1;
        assert!(tick < 100_000);
    }
    let done = small_done.unwrap();
    // alone it would take 3 rounds of 4 slots (9 ticks); sharing, it gets every second slot
    // of 4 per 3 ticks: 10 records in at most 5 rounds, plus the round it waits to enter
    assert!(done - 5 <= 6 * 3, "the small call ended at tick {done}");
    assert!(!big.is_done(), "the big call is still running");
    let stats = small.stats();
    assert!(stats.slot_wait_total > Duration::ZERO);
    assert!(stats.slot_wait_max <= ms(done - 5));
}
