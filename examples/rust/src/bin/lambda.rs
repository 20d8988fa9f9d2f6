//! The example as a Lambda function (a custom runtime, `bootstrap`), ready for Lambda Managed
//! Instances: `lambda_runtime::run_concurrent` (feature `concurrency-tokio`) runs
//! `AWS_LAMBDA_MAX_CONCURRENCY` polling loops as tokio tasks in this one process when Lambda sets
//! that variable, so that many invocations run at once; without it, it runs one at a time like
//! `lambda_runtime::run`. Every invocation shares the one [`Pool`] made at INIT; calls side by
//! side on it each keep their own `concurrency` limit. Each batch runs on tokio's blocking
//! threads (the record handler is blocking code), and the invocation's deadline is kept.
//!
//! Any Lambda batch event (SQS, SQS FIFO, Kinesis, DynamoDB streams, Kafka) as JSON; the
//! response is `{"batchItemFailures": [...]}`; a batch in which every record failed is the error
//! `BatchFailedError`, as in the Python and Node examples.
//!
//! Build: `cargo build -p lanepool-example --bin lambda`. Knobs: `LANEPOOL_ORDERING` (`auto`, the
//! default; `key`; `unordered`), as in the Python and Node examples; and, for the end-to-end tests
//! (off by default), `LANEPOOL_EXAMPLE_LOG=/path`, which appends `start|end <request id> <record
//! id> <time_ns>` per record, as the other examples do.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use lanepool::batch::{BatchError, BatchOptions};
use lanepool::Pool;
use lanepool_example::{record_handler, record_id};
use serde_json::Value;

const CONCURRENCY: usize = 16;

static LOG: OnceLock<Option<File>> = OnceLock::new();

fn log(phase: &str, request_id: &str, record: &Value) {
    let Some(mut file) = LOG
        .get_or_init(|| {
            let path = std::env::var_os("LANEPOOL_EXAMPLE_LOG")?;
            OpenOptions::new().append(true).create(true).open(path).ok()
        })
        .as_ref()
    else {
        return;
    };
    let ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    // One write on an O_APPEND file: lines from concurrent records never interleave.
    let line = format!("{phase} {request_id} {} {ns}\n", record_id(record));
    let _ = file.write_all(line.as_bytes());
}

fn diagnostic(error_type: &str, error_message: String) -> Diagnostic {
    Diagnostic {
        error_type: error_type.to_owned(),
        error_message,
    }
}

async fn handler(pool: Arc<Pool>, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let LambdaEvent { payload, context } = event;
    let ordering =
        lanepool_example::ordering().map_err(|e| diagnostic("Runtime.Configuration", e))?;
    let options = BatchOptions::new()
        .ordering(ordering)
        .concurrency(CONCURRENCY)
        .deadline_at(UNIX_EPOCH + Duration::from_millis(context.deadline));
    let request_id = context.request_id;
    let result = tokio::task::spawn_blocking(move || {
        pool.process_event(&payload, &options, |record| {
            log("start", &request_id, record);
            let outcome = record_handler(record);
            log("end", &request_id, record);
            outcome
        })
        .map(|report| report.response().to_json())
    })
    .await
    .map_err(|e| diagnostic("Runtime.HandlerPanicked", e.to_string()))?;
    match result {
        Ok(json) => {
            serde_json::from_str(&json).map_err(|e| diagnostic("Runtime.Serialize", e.to_string()))
        }
        Err(err @ BatchError::AllFailed(_)) => Err(diagnostic("BatchFailedError", err.to_string())),
        Err(err) => Err(diagnostic("EventError", err.to_string())),
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let pool = Arc::new(Pool::new(CONCURRENCY)?); // INIT: once per process
    lambda_runtime::run_concurrent(service_fn(move |event| handler(pool.clone(), event))).await
}
