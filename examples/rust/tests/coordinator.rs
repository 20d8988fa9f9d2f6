//! Runs the coordinator example's logic (`src/coordinator.rs`, what `src/bin/coordinator.rs`
//! prints) and checks its counts against the downstream's own: the coordinated fan-out ends
//! every job right, the naive one does not.

use lanepool::batch::RecordError;
use lanepool::lanes::{Outcome, Reason};
use lanepool_example::coordinator::{hung_jobs, run, CallError, Downstream, DOWNSTREAM_PER_SECOND};

#[test]
fn the_coordinator_ends_every_job_right_and_the_naive_fan_out_does_not() {
    let jobs = 200;
    let (naive, coordinated) = run(jobs);

    // Coordinated: every job succeeded with its own result; nothing was throttled; every
    // hung call was cancelled by the attempt timeout and retried; each transient failure
    // was retried.
    let r = &coordinated.report;
    assert!(r.ok(), "{:?}", r.failures());
    for (job, result) in r.results().iter().enumerate() {
        assert_eq!(*result, Some(job * 2), "job {job}");
    }
    assert_eq!(coordinated.throttled, 0);
    assert_eq!(coordinated.hung, hung_jobs().len());
    let flaky = (0..jobs).filter(|&j| Downstream::flaky(j)).count();
    assert_eq!(coordinated.unavailable, flaky);
    assert_eq!(r.summary().retries as usize, flaky + hung_jobs().len());
    for &job in &hung_jobs() {
        assert_eq!(r.outcomes()[job], Outcome::Succeeded { attempts: 2 });
    }

    // Naive: everything at once, so the calls past the downstream's limit are throttled
    // (errors), and the hung calls it let through held the call until the deadline.
    let n = &naive.report;
    assert!(!n.ok());
    assert!(
        naive.throttled >= jobs - DOWNSTREAM_PER_SECOND,
        "{}",
        naive.throttled
    );
    let throttled = n
        .failures()
        .iter()
        .filter(|f| matches!(f.error, Some(RecordError::Error(CallError::Throttled))))
        .count();
    assert_eq!(throttled, naive.throttled);
    assert_eq!(n.summary().deadline, naive.hung);
    assert!(naive.hung > 0, "a hung call got through");
    assert_eq!(n.summary().error, naive.throttled + naive.unavailable);
    assert!(n
        .failures()
        .iter()
        .all(|f| matches!(f.reason, Reason::Error | Reason::Deadline)));
    assert!(
        naive.took >= std::time::Duration::from_millis(1500),
        "held until its deadline"
    );
}
