"""A ready-to-copy AWS Lambda handler that processes SQS, SQS FIFO, Kinesis and DynamoDB stream
batches with lanepool, reporting partial batch failures.

Deploy: handler ``handler.lambda_handler``, with ``lanepool`` in the package; turn on
"Report batch item failures" (``ReportBatchItemFailures``) on the event source mapping.

* ``POOL`` is created once, at import (the INIT phase), and reused by every invocation.
* ``record_handler`` gets each record as the dict Lambda delivered. It stands in for real work: it
  waits 10-30 ms (as if calling another service; the duration is derived from the record's
  identifier, so runs are reproducible) and raises on a "poison" record, one whose payload (SQS
  ``body``, base64-decoded Kinesis ``data``, DynamoDB ``NewImage``) contains ``poison``. Raising
  fails that record; in a FIFO message group or Kinesis partition key the later records of that
  lane are then skipped (and retried by Lambda), keeping their order.
* ``lambda_handler`` returns ``{"batchItemFailures": [{"itemIdentifier": ...}, ...]}``.

Knob (for the end-to-end tests; off by default): ``LANEPOOL_EXAMPLE_LOG=/path`` appends one line
per record start and end: ``start|end <request id> <record id> <time_ns>``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time

import lanepool

POOL = lanepool.Pool(workers=16)

_LOG_PATH = os.environ.get("LANEPOOL_EXAMPLE_LOG")
_LOG_FD = os.open(_LOG_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if _LOG_PATH else None
_request_id = "-"  # the invocation being processed; the runtime runs one at a time per process


def _record_id(record: dict) -> str:
    if "messageId" in record:
        return record["messageId"]
    if "kinesis" in record:
        return record["kinesis"]["sequenceNumber"]
    return record.get("dynamodb", {}).get("SequenceNumber", "?")


def _payload(record: dict) -> str:
    if "body" in record:
        return record["body"]
    if "kinesis" in record:
        return base64.b64decode(record["kinesis"]["data"]).decode("utf-8", "replace")
    return json.dumps(record.get("dynamodb", {}).get("NewImage", {}))


def _log(phase: str, record_id: str) -> None:
    if _LOG_FD is not None:
        # One write on an O_APPEND descriptor: lines from concurrent records never interleave.
        os.write(_LOG_FD, f"{phase} {_request_id} {record_id} {time.time_ns()}\n".encode())


def io_ms(record_id: str) -> int:
    """10-30 ms, the same for a given identifier every run (and in the Node example)."""
    return 10 + hashlib.sha256(record_id.encode()).digest()[0] % 21


def record_handler(record: dict) -> None:
    record_id = _record_id(record)
    _log("start", record_id)
    try:
        time.sleep(io_ms(record_id) / 1000)  # the I/O a real handler would do
        if "poison" in _payload(record):
            raise ValueError(f"poison record {record_id}")
    finally:
        _log("end", record_id)


def lambda_handler(event, context):
    global _request_id
    _request_id = getattr(context, "aws_request_id", "-")
    return POOL.process(event, record_handler, context=context)


if __name__ == "__main__":
    # Local run: python examples/python/handler.py examples/events/sqs-fifo.json
    import sys
    import types
    import uuid

    with open(sys.argv[1]) as f:
        event = json.load(f)
    deadline = time.monotonic() + 60
    context = types.SimpleNamespace(
        aws_request_id=str(uuid.uuid4()),
        get_remaining_time_in_millis=lambda: int((deadline - time.monotonic()) * 1000),
    )
    started = time.perf_counter()
    response = lambda_handler(event, context)
    elapsed = time.perf_counter() - started
    print(json.dumps(response, indent=2))
    print(f"{len(event['Records'])} records, {len(response['batchItemFailures'])} failures, "
          f"{elapsed * 1000:.0f} ms", file=sys.stderr)
