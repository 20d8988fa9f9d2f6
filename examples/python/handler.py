"""A ready-to-copy AWS Lambda handler that processes SQS, SQS FIFO, Kinesis, DynamoDB stream and
Kafka (Amazon MSK, self-managed) batches with lanepool, reporting partial batch failures.

Deploy: handler ``handler.lambda_handler``, with ``lanepool`` in the package; turn on
"Report batch item failures" (``ReportBatchItemFailures``) on the event source mapping.

* ``POOL`` is created once, at import (the INIT phase), and reused by every invocation.
* ``record_handler`` gets each record as the dict Lambda delivered. It stands in for real work: it
  waits 10-30 ms (as if calling another service; the duration is derived from the record's
  identifier, so runs are reproducible) and raises on a "poison" record, one whose payload (SQS
  ``body``, base64-decoded Kinesis ``data``, DynamoDB ``NewImage``, base64-decoded Kafka
  ``value``) contains ``poison``. Raising fails that record; in its lane (a FIFO message group,
  a Kinesis partition key, a DynamoDB item, a Kafka topic-partition) the later records are then
  skipped (and retried by Lambda), keeping their order.
* ``lambda_handler`` returns ``{"batchItemFailures": [{"itemIdentifier": ...}, ...]}`` (Kafka:
  ``{"itemIdentifier": {"partition": "<topic>-<partition>", "offset": <offset>}}``).

Knobs:

* ``LANEPOOL_ORDERING`` (default ``auto``): the lanes, ``auto`` (by source, Kafka: one per
  topic-partition), ``key`` (Kafka: one per topic-partition and record key, so keys of one
  partition run in parallel; other sources as ``auto``) or ``unordered``.
* for the end-to-end tests, off by default: ``LANEPOOL_EXAMPLE_LOG=/path`` appends one line per
  record start and end: ``start|end <request id> <record id> <time_ns>``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time

import lanepool

POOL = lanepool.Pool(workers=16)
ORDERING = os.environ.get("LANEPOOL_ORDERING", "auto")  # "auto", "key" (Kafka) or "unordered"

_LOG_PATH = os.environ.get("LANEPOOL_EXAMPLE_LOG")
_LOG_FD = os.open(_LOG_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if _LOG_PATH else None
_request_id = "-"  # the invocation being processed; the runtime runs one at a time per process


def _record_id(record: dict) -> str:
    if "messageId" in record:
        return record["messageId"]
    if "kinesis" in record:
        return record["kinesis"]["sequenceNumber"]
    if "offset" in record:  # Kafka: "<topic>-<partition>@<offset>"
        return f"{record['topic']}-{record['partition']}@{record['offset']}"
    return record.get("dynamodb", {}).get("SequenceNumber", "?")


def _payload(record: dict) -> str:
    if "body" in record:
        return record["body"]
    if "kinesis" in record:
        return base64.b64decode(record["kinesis"]["data"]).decode("utf-8", "replace")
    if "offset" in record:  # Kafka: the base64 value; null for a tombstone
        value = record.get("value")
        return "" if value is None else base64.b64decode(value).decode("utf-8", "replace")
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
    return POOL.process(event, record_handler, context=context, ordering=ORDERING)


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
    records = event.get("Records") or [r for g in (event.get("records") or {}).values() for r in g]
    print(f"{len(records)} records, {len(response['batchItemFailures'])} failures, "
          f"{elapsed * 1000:.0f} ms", file=sys.stderr)
