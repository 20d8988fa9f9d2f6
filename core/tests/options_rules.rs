//! The option rules every face shares: a concurrency of 0 (or above the maximum) is an
//! error, never read as another value; time options are finite and not negative.

use std::time::Duration;

use lanepool::batch::{
    check_concurrency, check_millis, BatchOptions, OptionsError, MAX_CONCURRENCY,
};
use lanepool::Pool;

#[test]
fn concurrency_zero_is_invalid_not_one() {
    let options = BatchOptions::new().concurrency(0);
    assert_eq!(
        options.concurrency,
        Some(0),
        "the builder keeps what it was given"
    );
    assert_eq!(options.validate(), Err(OptionsError::ConcurrencyTooLow(0)));
    assert_eq!(
        options.validate().unwrap_err().to_string(),
        "concurrency must be at least 1, got 0"
    );
}

#[test]
fn the_drivers_refuse_invalid_options_before_any_handler_runs() {
    let pool = Pool::new(1).unwrap();
    let event = serde_json::json!({"Records": [{"eventSource": "aws:sqs", "messageId": "m0"}]});
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let result = pool.process_event(&event, &BatchOptions::new().concurrency(0), |_| {
        calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok::<(), String>(())
    });
    let error = result.unwrap_err();
    assert!(
        matches!(
            error,
            lanepool::batch::BatchError::Options(OptionsError::ConcurrencyTooLow(0))
        ),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "invalid options: concurrency must be at least 1, got 0"
    );
    assert_eq!(calls.into_inner(), 0);
}

#[test]
fn concurrency_range() {
    assert_eq!(check_concurrency(1), Ok(1));
    assert_eq!(
        check_concurrency(MAX_CONCURRENCY as i128),
        Ok(MAX_CONCURRENCY)
    );
    assert_eq!(
        check_concurrency(MAX_CONCURRENCY as i128 + 1),
        Err(OptionsError::ConcurrencyTooHigh {
            requested: MAX_CONCURRENCY as i128 + 1,
            max: MAX_CONCURRENCY
        })
    );
    assert_eq!(
        check_concurrency(-3),
        Err(OptionsError::ConcurrencyTooLow(-3))
    );
    let too_many = BatchOptions::new()
        .concurrency(usize::MAX)
        .validate()
        .unwrap_err();
    assert!(
        too_many.to_string().contains("at most 1000000"),
        "{too_many}"
    );
}

#[test]
fn time_options() {
    assert_eq!(check_millis("m", 0.0), Ok(Duration::ZERO));
    assert_eq!(check_millis("m", 1.5), Ok(Duration::from_micros(1_500)));
    assert_eq!(check_millis("m", 1e300), Ok(Duration::MAX));
    assert!(matches!(
        check_millis("deadlineMarginMs", -1.0),
        Err(OptionsError::NegativeMillis { ref option, value }) if option == "deadlineMarginMs" && value == -1.0
    ));
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(
            matches!(
                check_millis("m", bad),
                Err(OptionsError::NonFiniteMillis { .. })
            ),
            "{bad}"
        );
    }
}
