//! A complete AWS Lambda SQS handler using lanepool with `lambda_runtime`.
//!
//! Records of one FIFO message group run in order, groups run in parallel (at most 16
//! handlers at once), a failed record skips the rest of its group, records not started
//! 500 ms before the invocation's deadline are reported, and the partial batch response
//! goes back to Lambda. Enable "Report batch item failures" on the event source mapping.
//!
//! Build: `cargo build -p lanepool --example lambda_sqs --features aws`.

use std::time::{Duration, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use lanepool::batch::{process_async, BatchOptions};

/// The record handler: your business logic for one message.
async fn handle_message(message: &SqsMessage) -> Result<(), String> {
    let body = message.body.as_deref().unwrap_or_default();
    if body.contains("poison") {
        return Err(format!("cannot process {body:?}"));
    }
    tokio::time::sleep(Duration::from_millis(20)).await; // stands in for real I/O
    Ok(())
}

async fn function_handler(event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let deadline = UNIX_EPOCH + Duration::from_millis(event.context.deadline);
    let options = BatchOptions::new()
        .concurrency(16)
        .deadline_at(deadline)
        .deadline_margin(Duration::from_millis(500))
        .log_summary(true);
    let report = process_async(&event.payload.records, &options, handle_message).await?;
    Ok(SqsBatchResponse::from(&report.response()))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(function_handler)).await
}
