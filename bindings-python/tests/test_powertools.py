"""lanepool.powertools.ParallelBatchProcessor against Powertools' own processors.

The same random events (a seeded generator driven by hypothesis) go through Powertools'
processors and lanepool's, and every answer is compared: the response, the result tuples, and
the success_messages / fail_messages / exceptions lists, in event order.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import subprocess
import sys
import threading
import time
import warnings

import pytest
from conftest import Context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lanepool

# Powertools (with pydantic: aws-lambda-powertools[parser]) is installed by test.sh; a missing
# one is an error here, never a silent skip.
from aws_lambda_powertools.utilities.batch import (  # noqa: E402
    AsyncBatchProcessor,
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    async_batch_processor,
    async_process_partial_response,
    batch_processor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.exceptions import (  # noqa: E402
    BatchProcessingError,
    SQSFifoMessageGroupCircuitBreakerError,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord  # noqa: E402
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord  # noqa: E402
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord  # noqa: E402
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel  # noqa: E402
from pydantic import BaseModel, Json  # noqa: E402

from lanepool._lanepool import Options  # noqa: E402
from lanepool.powertools import (  # noqa: E402
    DeadlineRecordError,
    ParallelBatchProcessor,
    SkippedRecordError,
    default_pool,
)

POOL = lanepool.Pool(workers=4)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------- events


def sqs_record(i: int, payload: dict, group: str | None = None, body: str | None = None) -> dict:
    attributes = {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": "1700000000000",
        "SenderId": "AIDAEXAMPLE",
        "ApproximateFirstReceiveTimestamp": "1700000000001",
    }
    arn = "arn:aws:sqs:us-east-1:123456789012:q"
    if group is not None:
        attributes.update(
            MessageGroupId=group, MessageDeduplicationId=f"d{i}", SequenceNumber=str(10**19 + i)
        )
        arn += ".fifo"
    return {
        "messageId": f"m{i:03d}",
        "receiptHandle": f"h{i}",
        "body": json.dumps(payload) if body is None else body,
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": "d41d8cd98f00b204e9800998ecf8427e",
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": "us-east-1",
    }


def kinesis_record(i: int, payload: dict, key: str) -> dict:
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": key,
            "sequenceNumber": f"4959{i:06d}",
            "data": base64.b64encode(json.dumps(payload).encode()).decode(),
            "approximateArrivalTimestamp": 1700000000.0,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:4959{i:06d}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/r",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s",
    }


def dynamodb_record(i: int, payload: dict, key: str) -> dict:
    return {
        "eventID": f"e{i}",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"pk": {"S": key}},
            "NewImage": {
                "pk": {"S": key},
                "n": {"N": str(payload["n"])},
                "fail": {"BOOL": payload["fail"]},
                "sleep": {"BOOL": payload["sleep"]},
            },
            "SequenceNumber": f"{100000 + i}",
            "SizeBytes": 26,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024",
    }


def random_event(seed: int, kind: str) -> dict:
    """A random batch of `kind` ("sqs", "fifo", "kinesis", "dynamodb"): 1..30 records in up to
    5 lanes, random failures, a few records that sleep so completion order is shuffled."""
    rng = random.Random(seed)
    n = rng.randint(1, 30)
    fail_rate = rng.choice([0.0, 0.1, 0.3, 0.7, 1.0])
    lanes = [f"k{j}" for j in range(rng.randint(1, 5))]
    records = []
    for i in range(n):
        payload = {"n": i, "fail": rng.random() < fail_rate, "sleep": rng.random() < 0.2}
        lane = rng.choice(lanes)
        if kind == "sqs":
            records.append(sqs_record(i, payload))
        elif kind == "fifo":
            records.append(sqs_record(i, payload, group=lane))
        elif kind == "kinesis":
            records.append(kinesis_record(i, payload, lane))
        else:
            records.append(dynamodb_record(i, payload, lane))
    return {"Records": records}


# ---------------------------------------------------------------- handlers


def payload_of(record) -> dict:
    if isinstance(record, SQSRecord):
        return record.json_body
    if isinstance(record, KinesisStreamRecord):
        return record.kinesis.data_as_json()
    if isinstance(record, DynamoDBRecord):
        image = record.dynamodb.new_image
        return {"n": int(image["n"]), "fail": image["fail"], "sleep": image["sleep"]}
    if isinstance(record, SqsRecordModel):
        return record.body.model_dump()
    raise AssertionError(f"unexpected record type {type(record)!r}")


def record_handler(record):
    payload = payload_of(record)
    if payload["sleep"]:
        time.sleep(0.002)
    if payload["fail"]:
        raise ValueError(f"record {payload['n']} failed")
    return f"ok {payload['n']}"


async def async_record_handler(record):
    payload = payload_of(record)
    await asyncio.sleep(0.002 if payload["sleep"] else 0)
    if payload["fail"]:
        raise ValueError(f"record {payload['n']} failed")
    return f"ok {payload['n']}"


# ---------------------------------------------------------------- comparing


def ident(message) -> str:
    """The identifier of a success/fail message (raw dict, data class or model)."""
    if isinstance(message, dict):
        raw = message
    elif hasattr(message, "raw_event"):
        raw = message.raw_event
    else:
        raw = message.model_dump(by_alias=True)
    if "messageId" in raw:
        return raw["messageId"]
    if "kinesis" in raw:
        return raw["kinesis"]["sequenceNumber"]
    return raw["dynamodb"]["SequenceNumber"]


def run(processor, event, handler, context=None, use_async=False):
    """(response or the BatchProcessingError, result tuples, processor state)."""
    results = []
    error = None
    try:
        with processor(event["Records"], handler, lambda_context=context):
            results = processor.async_process() if use_async else processor.process()
    except BatchProcessingError as exc:
        error = exc
    state = {
        "success": [ident(m) for m in processor.success_messages],
        "fail": [ident(m) for m in processor.fail_messages],
        "fail_types": [type(m) for m in processor.fail_messages],
        "exceptions": list(processor.exceptions),
    }
    return (processor.response() if error is None else error), results, state


def assert_same(ours, theirs, skipped_ok=False):
    """Every answer equal; with `skipped_ok`, Powertools' group circuit breaker against our
    SkippedRecordError (a subclass of it)."""
    (r1, res1, s1), (r2, res2, s2) = ours, theirs
    if isinstance(r2, BatchProcessingError):
        assert isinstance(r1, BatchProcessingError), r1
        assert len(r1.child_exceptions) == len(r2.child_exceptions)
    else:
        assert r1 == r2
    assert [(e[0], ident(e[2])) for e in res1] == [(e[0], ident(e[2])) for e in res2]
    for e1, e2 in zip(res1, res2):
        if e1[0] == "success":
            assert e1[1] == e2[1]
        elif skipped_ok and "SQSFifoMessageGroupCircuitBreakerError" in e2[1]:
            assert "SkippedRecordError" in e1[1]
        else:
            assert e1[1] == e2[1]
    assert s1["success"] == s2["success"]
    assert s1["fail"] == s2["fail"]
    assert s1["fail_types"] == s2["fail_types"]
    assert len(s1["exceptions"]) == len(s2["exceptions"]) == len(s1["fail"])
    for (t1, v1, tb1), (t2, v2, tb2) in zip(s1["exceptions"], s2["exceptions"]):
        if skipped_ok and t2 is SQSFifoMessageGroupCircuitBreakerError:
            assert t1 is SkippedRecordError and isinstance(v1, t2)
            assert tb1 is None and tb2 is None
        else:
            assert t1 is t2 and str(v1) == str(v2)
            assert (tb1 is None) == (tb2 is None)


def in_event_order(answer, event):
    """Powertools' AsyncBatchProcessor fills its lists (and so its response) in completion
    order; lanepool's are in event order. Sorts Powertools' answer into event order."""
    response, results, state = answer
    ids = [ident(r) for r in event["Records"]]
    pos = {x: i for i, x in enumerate(ids)}
    if not isinstance(response, BatchProcessingError):
        response = {"batchItemFailures": sorted(response["batchItemFailures"], key=lambda f: pos[f["itemIdentifier"]])}
    fails = sorted(zip(state["fail"], state["fail_types"], state["exceptions"]), key=lambda t: pos[t[0]])
    state = {
        "success": sorted(state["success"], key=pos.__getitem__),
        "fail": [f[0] for f in fails],
        "fail_types": [f[1] for f in fails],
        "exceptions": [f[2] for f in fails],
    }
    return response, results, state


SOURCES = {"sqs": EventType.SQS, "kinesis": EventType.KinesisDataStreams, "dynamodb": EventType.DynamoDBStreams}

# ---------------------------------------------------------------- import


def test_importing_lanepool_does_not_import_powertools():
    code = (
        "import sys, lanepool; "
        "bad = [m for m in sys.modules if m.startswith(('aws_lambda_powertools', 'pydantic'))]; "
        "assert not bad, bad; "
        "import lanepool.powertools; "
        "assert 'aws_lambda_powertools' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_is_a_batch_processor_for_every_event_type():
    assert issubclass(ParallelBatchProcessor, BatchProcessor)
    for event_type in EventType:  # Kafka too: tests/test_kafka.py
        assert ParallelBatchProcessor(event_type).event_type == event_type
    with pytest.raises(ValueError, match="ordering"):
        ParallelBatchProcessor(EventType.SQS, ordering="fifo")


# ---------------------------------------------------------------- random events against Powertools


@pytest.mark.parametrize("kind", ["sqs", "kinesis", "dynamodb"])
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_unordered_matches_batch_processor(kind, seed):
    event = random_event(seed, kind)
    theirs = run(BatchProcessor(SOURCES[kind]), event, record_handler)
    ours = run(ParallelBatchProcessor(SOURCES[kind], pool=POOL, ordering="unordered"), event, record_handler)
    assert_same(ours, theirs)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_default_lanes_match_sqs_fifo_skip_group(seed):
    event = random_event(seed, "fifo")
    theirs = run(SqsFifoPartialProcessor(skip_group_on_error=True), event, record_handler)
    ours = run(ParallelBatchProcessor(EventType.SQS, pool=POOL), event, record_handler)
    assert_same(ours, theirs, skipped_ok=True)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_default_lanes_match_sqs_fifo_skip_group_async(seed):
    """Async handlers through lanepool's asyncio driver, lanes kept, against Powertools' sync
    FIFO processor running the sync twin of the handler (it has no async FIFO processor)."""
    event = random_event(seed, "fifo")
    theirs = run(SqsFifoPartialProcessor(skip_group_on_error=True), event, record_handler)
    ours = run(ParallelBatchProcessor(EventType.SQS, pool=POOL), event, async_record_handler, use_async=True)
    assert_same(ours, theirs, skipped_ok=True)


class _AfterSuper:
    """A ``failure_handler`` override that works after calling ``super()`` (as Powertools' docs
    show for metrics): its work must happen for every failed record."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.counted = []

    def failure_handler(self, record, exception):
        entry = super().failure_handler(record, exception)
        self.counted.append(ident(record))
        return entry


class CountingParallel(_AfterSuper, ParallelBatchProcessor):
    pass


class CountingFifo(_AfterSuper, SqsFifoPartialProcessor):
    pass


@pytest.mark.parametrize("use_async", [False, True])
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_overridden_failure_handler_runs_to_its_end_and_lanes_still_skip(use_async, seed):
    """process() / async_process() run Powertools' per-record method directly unless
    failure_handler is overridden; with an override the code after super() runs for every
    failure and lanepool still sees them."""
    event = random_event(seed, "fifo")
    theirs_processor = CountingFifo(skip_group_on_error=True)
    theirs = run(theirs_processor, event, record_handler)
    ours_processor = CountingParallel(EventType.SQS, pool=POOL)
    handler = async_record_handler if use_async else record_handler
    ours = run(ours_processor, event, handler, use_async=use_async)
    assert_same(ours, theirs, skipped_ok=True)
    assert sorted(ours_processor.counted) == sorted(theirs_processor.counted)
    assert sorted(ours_processor.counted) == sorted(ours[2]["fail"])


def test_failure_handler_override_without_super_still_fails_the_lane():
    class OwnEntries(ParallelBatchProcessor):
        def failure_handler(self, record, exception):
            return ("fail", f"own: {exception[1]}", record)

    records = [sqs_record(i, {"n": i, "fail": i == 1, "sleep": False}, group="g") for i in range(3)]
    processor = OwnEntries(EventType.SQS, pool=POOL)
    with processor(records, record_handler):
        results = processor.process()
    assert [r[0] for r in results] == ["success", "fail", "fail"]
    assert results[1][1] == "own: record 1 failed"
    assert processor.response() == {
        "batchItemFailures": [{"itemIdentifier": "m001"}, {"itemIdentifier": "m002"}]
    }


def test_results_list_of_the_wrong_length_is_refused_before_any_handler():
    called = []
    records = [sqs_record(i, {"n": i}) for i in range(3)]
    with pytest.raises(ValueError, match="results must be a list of 3 items"):
        POOL._run_batch({"Records": records}, called.append, Options(), results=[None])
    assert called == []


@pytest.mark.parametrize("kind", ["sqs", "kinesis", "dynamodb"])
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_async_unordered_matches_async_batch_processor(kind, seed):
    event = random_event(seed, kind)
    theirs = in_event_order(run(AsyncBatchProcessor(SOURCES[kind]), event, async_record_handler, use_async=True), event)
    ours = run(
        ParallelBatchProcessor(SOURCES[kind], pool=POOL, ordering="unordered"),
        event,
        async_record_handler,
        use_async=True,
    )
    assert_same(ours, theirs)


@pytest.mark.parametrize("kind", ["kinesis", "dynamodb"])
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_kinesis_dynamodb_lanes_skip_only_the_failed_lane(kind, seed):
    """Powertools has no ordering for these: the reference is BatchProcessor with the rest of a
    failed lane turned into skips, which is what lanepool's lanes give."""
    event = random_event(seed, kind)
    lane_of = (
        (lambda r: r["kinesis"]["partitionKey"]) if kind == "kinesis" else (lambda r: r["dynamodb"]["Keys"]["pk"]["S"])
    )
    failed_lanes: set = set()
    expected = []
    for r in event["Records"]:
        payload = payload_of(KinesisStreamRecord(r) if kind == "kinesis" else DynamoDBRecord(r))
        lane = lane_of(r)
        if lane in failed_lanes:
            expected.append("skipped")
        elif payload["fail"]:
            failed_lanes.add(lane)
            expected.append("error")
        else:
            expected.append("success")
    processor = ParallelBatchProcessor(SOURCES[kind], pool=POOL, raise_on_entire_batch_failure=False)
    with processor(event["Records"], record_handler):
        results = processor.process()
    got = []
    for entry in results:
        if entry[0] == "success":
            got.append("success")
        else:
            got.append("skipped" if "SkippedRecordError" in entry[1] else "error")
    assert got == expected
    assert [type(e[1]) for e in processor.exceptions] == [
        SkippedRecordError if x == "skipped" else ValueError for x in expected if x != "success"
    ]


# ---------------------------------------------------------------- pydantic model, poison record


class Order(BaseModel):
    n: int
    fail: bool
    sleep: bool


class OrderRecord(SqsRecordModel):
    body: Json[Order]  # type: ignore[assignment]


def poisoned(seed: int, fifo: bool) -> dict:
    event = random_event(seed, "fifo" if fifo else "sqs")
    rng = random.Random(seed ^ 0x5EED)
    for i in rng.sample(range(len(event["Records"])), k=min(2, len(event["Records"]))):
        event["Records"][i]["body"] = "not json {"  # fails OrderRecord validation
    return event


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_model_with_poison_records_matches_batch_processor(seed):
    event = poisoned(seed, fifo=False)
    seen = []

    def handler(record: OrderRecord):
        seen.append(type(record))
        return record_handler(record)

    theirs = run(BatchProcessor(EventType.SQS, model=OrderRecord), event, handler)
    ours = run(ParallelBatchProcessor(EventType.SQS, model=OrderRecord, pool=POOL, ordering="unordered"), event, handler)
    assert_same(ours, theirs)
    assert set(seen) <= {OrderRecord}
    # The poison records are failures carried as data classes, as Powertools does.
    assert SQSRecord in ours[2]["fail_types"]


def test_model_poison_record_skips_its_fifo_group():
    records = [
        sqs_record(0, {}, group="a", body="not json {"),  # poison: fails validation
        sqs_record(1, {"n": 1, "fail": False, "sleep": False}, group="a"),
        sqs_record(2, {"n": 2, "fail": False, "sleep": False}, group="b"),
        sqs_record(3, {"n": 3, "fail": False, "sleep": False}, group="a"),
    ]
    event = {"Records": records}
    theirs = run(SqsFifoPartialProcessor(model=OrderRecord, skip_group_on_error=True), event, record_handler)
    processor = ParallelBatchProcessor(EventType.SQS, model=OrderRecord, pool=POOL)
    ours = run(processor, event, record_handler)
    assert_same(ours, theirs, skipped_ok=True)
    assert ours[0] == {"batchItemFailures": [{"itemIdentifier": "m000"}, {"itemIdentifier": "m001"}, {"itemIdentifier": "m003"}]}
    assert [type(m) for m in processor.fail_messages] == [SQSRecord, OrderRecord, OrderRecord]
    assert processor.exceptions[0][0].__name__ == "ValidationError"


# ---------------------------------------------------------------- the ways Powertools is used


def fifo_fixture():
    records = [
        sqs_record(0, {"n": 0, "fail": False, "sleep": True}, group="a"),
        sqs_record(1, {"n": 1, "fail": True, "sleep": False}, group="b"),
        sqs_record(2, {"n": 2, "fail": False, "sleep": False}, group="a"),
        sqs_record(3, {"n": 3, "fail": False, "sleep": False}, group="b"),
        sqs_record(4, {"n": 4, "fail": False, "sleep": False}, group="c"),
    ]
    return {"Records": records}


EXPECTED = {"batchItemFailures": [{"itemIdentifier": "m001"}, {"itemIdentifier": "m003"}]}


def test_process_partial_response_and_lambda_context_injection():
    processor = ParallelBatchProcessor(EventType.SQS, pool=POOL)
    context = Context(60_000)
    contexts = []

    def handler(record: SQSRecord, lambda_context):
        contexts.append(lambda_context)
        return record_handler(record)

    assert process_partial_response(fifo_fixture(), handler, processor, context) == EXPECTED
    assert contexts and all(c is context for c in contexts)


def test_context_manager_form():
    event = fifo_fixture()
    processor = ParallelBatchProcessor(EventType.SQS, pool=POOL)
    with processor(event["Records"], record_handler, lambda_context=Context(60_000)):
        results = processor.process()
    assert [e[0] for e in results] == ["success", "fail", "success", "fail", "success"]
    assert [e[1] for e in results if e[0] == "success"] == ["ok 0", "ok 2", "ok 4"]
    assert processor.response() == EXPECTED
    assert [ident(m) for m in processor.success_messages] == ["m000", "m002", "m004"]
    assert [ident(m) for m in processor.fail_messages] == ["m001", "m003"]
    assert [e[0] for e in processor.exceptions] == [ValueError, SkippedRecordError]
    skipped = processor.exceptions[1][1]
    assert (skipped.item_identifier, skipped.index) == ("m003", 3)
    assert isinstance(skipped, SQSFifoMessageGroupCircuitBreakerError)
    assert processor.report.failures[1].reason == "skipped"


def test_batch_processor_decorators():
    processor = ParallelBatchProcessor(EventType.SQS, pool=POOL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")

        @batch_processor(record_handler=record_handler, processor=processor)
        def lambda_handler(event, context):
            return processor.response()

        @async_batch_processor(record_handler=async_record_handler, processor=processor)
        def async_lambda_handler(event, context):
            return processor.response()

        assert lambda_handler(fifo_fixture(), Context(60_000)) == EXPECTED
        assert async_lambda_handler(fifo_fixture(), Context(60_000)) == EXPECTED


def test_async_process_partial_response_bounded_and_in_lanes():
    pool = lanepool.Pool(workers=3)
    processor = ParallelBatchProcessor(EventType.SQS, pool=pool)
    lock = threading.Lock()
    state = {"in_flight": 0, "peak": 0, "order": []}

    async def handler(record: SQSRecord):
        with lock:
            state["in_flight"] += 1
            state["peak"] = max(state["peak"], state["in_flight"])
            state["order"].append((record.attributes.message_group_id, record.message_id))
        await asyncio.sleep(0.005)
        with lock:
            state["in_flight"] -= 1

    records = [sqs_record(i, {"n": i}, group=f"g{i % 6}") for i in range(30)]
    response = async_process_partial_response({"Records": records}, handler, processor, {})
    assert response == {"batchItemFailures": []}
    assert state["peak"] == 3
    for g in range(6):
        ids = [m for grp, m in state["order"] if grp == f"g{g}"]
        assert ids == sorted(ids)


def test_lanes_run_in_parallel():
    pool = lanepool.Pool(workers=4)
    records = [sqs_record(i, {"n": i, "fail": False, "sleep": False}, group=f"g{i % 4}") for i in range(16)]

    def handler(record):
        time.sleep(0.02)

    t0 = time.perf_counter()
    process_partial_response({"Records": records}, handler, ParallelBatchProcessor(EventType.SQS, pool=pool), {})
    elapsed = time.perf_counter() - t0
    assert elapsed < 16 * 0.02 * 0.6, elapsed  # sequential would be 0.32 s; lanes: ~0.08 s


# ---------------------------------------------------------------- all failed, context, deadline, pool


@pytest.mark.parametrize("use_async", [False, True])
def test_all_failed_raises_batch_processing_error(use_async):
    records = [sqs_record(i, {"n": i, "fail": True, "sleep": False}, group="g") for i in range(3)]
    records.append(sqs_record(3, {"n": 3, "fail": True, "sleep": False}))
    event = {"Records": records}
    handler = async_record_handler if use_async else record_handler
    partial = async_process_partial_response if use_async else process_partial_response
    processor = ParallelBatchProcessor(EventType.SQS, pool=POOL)
    with pytest.raises(BatchProcessingError) as info:
        partial(event, handler, processor, {})
    assert [e[0] for e in info.value.child_exceptions] == [ValueError, SkippedRecordError, SkippedRecordError, ValueError]

    quiet = ParallelBatchProcessor(EventType.SQS, pool=POOL, raise_on_entire_batch_failure=False)
    response = partial(event, handler, quiet, {})
    assert response == {"batchItemFailures": [{"itemIdentifier": f"m{i:03d}"} for i in range(4)]}


@pytest.mark.parametrize("context", [None, {}, object()])
def test_context_without_remaining_time_means_no_deadline(context):
    processor = ParallelBatchProcessor(EventType.SQS, pool=POOL, deadline_margin_ms=10**9)
    records = [sqs_record(i, {"n": i, "fail": False, "sleep": False}) for i in range(5)]
    with processor(records, record_handler, lambda_context=context):
        processor.process()
    assert processor.response() == {"batchItemFailures": []}
    assert len(processor.success_messages) == 5
    assert process_partial_response({"Records": records}, record_handler, processor, context) == {
        "batchItemFailures": []
    }


def test_deadline_records_fail_with_deadline_record_error():
    processor = ParallelBatchProcessor(
        EventType.SQS, pool=lanepool.Pool(workers=1), deadline_margin_ms=500, raise_on_entire_batch_failure=False
    )
    records = [sqs_record(i, {"n": i, "fail": False, "sleep": False}) for i in range(4)]

    def slow(record):
        time.sleep(0.15)

    with processor(records, slow, lambda_context=Context(700)):
        results = processor.process()
    statuses = [e[0] for e in results]
    assert statuses[0] == "success" and "fail" in statuses
    deadline = [exc for exc in processor.exceptions if exc[0] is DeadlineRecordError]
    assert deadline and len(deadline) == statuses.count("fail")
    assert [ident(m) for m in processor.fail_messages] == [
        r["messageId"] for r, s in zip(records, statuses) if s == "fail"
    ]


def test_retries_go_through_powertools_again():
    attempts: dict = {}

    def flaky(record: SQSRecord):
        attempts[record.message_id] = attempts.get(record.message_id, 0) + 1
        if attempts[record.message_id] == 1:
            raise RuntimeError("first attempt")
        return "ok"

    processor = ParallelBatchProcessor(EventType.SQS, pool=POOL, retries=1, retry_backoff_ms=1)
    records = [sqs_record(i, {"n": i}, group="g") for i in range(3)]
    assert process_partial_response({"Records": records}, flaky, processor, {}) == {"batchItemFailures": []}
    assert attempts == {"m000": 2, "m001": 2, "m002": 2}
    assert processor.exceptions == [] and len(processor.success_messages) == 3


def test_default_pool_is_one_per_process():
    a = ParallelBatchProcessor(EventType.SQS)
    b = ParallelBatchProcessor(EventType.SQS)
    assert a.pool is None and b.pool is None
    records = [sqs_record(0, {"n": 0, "fail": False, "sleep": False})]
    assert process_partial_response({"Records": records}, record_handler, a, {}) == {"batchItemFailures": []}
    assert default_pool() is default_pool()
    assert isinstance(default_pool(), lanepool.Pool)


def test_malformed_event_raises_event_error_before_any_handler():
    called = []
    processor = ParallelBatchProcessor(EventType.SQS, pool=POOL)
    with pytest.raises(lanepool.EventError):
        process_partial_response({"Records": [{"eventSource": "aws:sqs"}]}, called.append, processor, {})
    assert called == []


def test_processor_is_reusable_and_state_is_per_batch():
    processor = ParallelBatchProcessor(EventType.SQS, pool=POOL)
    assert process_partial_response(fifo_fixture(), record_handler, processor, {}) == EXPECTED
    ok = {"Records": [sqs_record(9, {"n": 9, "fail": False, "sleep": False})]}
    assert process_partial_response(ok, record_handler, processor, {}) == {"batchItemFailures": []}
    assert processor.fail_messages == [] and processor.exceptions == []
    assert processor._failed_exc == {}


def test_options_are_checked_when_the_processor_is_made():
    import lanepool._lanepool as core

    processor = ParallelBatchProcessor(EventType.SQS, pool=POOL, retries=2)
    assert processor.options.retries == 2
    assert processor.options.deadline_margin_ms == core.DEFAULT_DEADLINE_MARGIN_MS
    assert processor.options.retry_backoff_ms == core.DEFAULT_RETRY_BACKOFF_MS
    assert processor.options.raise_on_full_batch_failure is False  # Powertools' rule applies
    with pytest.raises(ValueError, match="ordering"):
        ParallelBatchProcessor(EventType.SQS, ordering="fifo")
    with pytest.raises(ValueError, match="retries"):
        ParallelBatchProcessor(EventType.SQS, retries=-1)
