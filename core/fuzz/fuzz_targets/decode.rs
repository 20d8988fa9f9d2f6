//! Arbitrary bytes, parsed as JSON, through `BatchPlan::decode` (both orderings) and, when
//! small, through `Pool::process_event` and `process_event_async`: every call ends in an
//! `EventError` naming a record that exists, or in a report with one outcome per record in
//! event order. Any panic is a bug.
#![no_main]

use std::sync::OnceLock;

use lanepool::batch::{process_event_async, BatchError, BatchOptions};
use lanepool::event::{BatchPlan, LaneOrdering};
use lanepool::Pool;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool::new(2).unwrap())
}

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let records = event
        .as_object()
        .and_then(|o| o.get("Records"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let plan = BatchPlan::decode(&event, LaneOrdering::Auto);
    let unordered = BatchPlan::decode(&event, LaneOrdering::Unordered);
    match &plan {
        Ok(plan) => {
            assert_eq!(plan.len(), records);
            assert!(plan.identifiers().iter().all(|id| !id.is_empty()));
            let u = unordered
                .as_ref()
                .expect("a valid event decodes unordered too");
            assert_eq!(u.identifiers(), plan.identifiers());
        }
        Err(e) => {
            if let Some(i) = e.index() {
                assert!(i < records, "error names record {i} of {records}");
            }
            assert!(!e.to_string().is_empty());
        }
    }
    if records > 16 {
        return; // decoding is what is fuzzed; keep the driver part tiny
    }
    // Fail every third record by position in the array.
    let all = event.get("Records").and_then(Value::as_array);
    let index_of = |r: &Value| {
        all.unwrap()
            .iter()
            .position(|x| std::ptr::eq(x, r))
            .unwrap()
    };
    let options = BatchOptions::new().raise_on_full_batch_failure(false);
    let handler = |r: &Value| {
        if index_of(r) % 3 == 2 {
            Err("bad")
        } else {
            Ok(())
        }
    };
    let sync = pool().process_event(&event, &options, handler);
    let asynch = futures_lite_block_on(process_event_async(&event, &options, |r| {
        let out = handler(r);
        async move { out }
    }));
    for result in [sync, asynch] {
        match (result, &plan) {
            (Ok(report), Ok(plan)) => {
                assert_eq!(report.identifiers(), plan.identifiers());
                assert_eq!(report.outcomes().len(), records);
            }
            (Err(BatchError::Event(e)), Err(want)) => assert_eq!(&e, want),
            (got, want) => panic!("driver {:?} vs decode {want:?}", got.map(|r| r.response())),
        }
    }
});

/// A minimal `block_on` (the async driver needs no runtime; its timers wake this thread).
fn futures_lite_block_on<F: std::future::Future>(fut: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
