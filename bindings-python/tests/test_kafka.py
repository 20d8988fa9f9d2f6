"""Kafka batches (Amazon MSK, self-managed Apache Kafka): the pool's answers, a property test
of partition order, key lanes and skip-on-failure, and lanepool.powertools against Powertools'
own processors for EventType.Kafka on the same random events."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import threading
import time

import pytest
from aws_lambda_powertools.utilities.batch import (  # noqa: E402
    AsyncBatchProcessor,
    BatchProcessor,
    EventType,
    async_process_partial_response,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError  # noqa: E402
from aws_lambda_powertools.utilities.data_classes.kafka_event import KafkaEventRecord  # noqa: E402
from aws_lambda_powertools.utilities.parser.models.kafka import KafkaRecordModel  # noqa: E402
from conftest import identifier_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lanepool
from lanepool.powertools import ParallelBatchProcessor, SkippedRecordError  # noqa: E402

POOL = lanepool.Pool(workers=4)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def kafka_record(topic: str, partition: int, offset: int, payload: dict, key: str | None) -> dict:
    record = {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "timestamp": 1700000000000 + offset,
        "timestampType": "CREATE_TIME",
        "value": b64(json.dumps(payload)),
        "headers": [{"source": [108, 112]}],
    }
    if key is not None:
        record["key"] = b64(key)
    return record


def random_kafka_event(seed: int, source: str = "aws:kafka") -> dict:
    """1..30 records in 1..4 partitions of 1..2 topics (groups in a shuffled order), offsets
    rising within a partition, keys from a few values (or none), random failures, a few
    records that sleep so completion order is shuffled."""
    rng = random.Random(seed)
    fail_rate = rng.choice([0.0, 0.1, 0.3, 0.7, 1.0])
    partitions = rng.sample([(t, p) for t in ("orders", "payments") for p in range(3)], rng.randint(1, 4))
    records: dict[str, list] = {f"{t}-{p}": [] for t, p in partitions}
    offsets = {tp: rng.randint(0, 1000) for tp in records}
    for n in range(rng.randint(1, 30)):
        topic, partition = rng.choice(partitions)
        tp = f"{topic}-{partition}"
        payload = {"n": n, "fail": rng.random() < fail_rate, "sleep": rng.random() < 0.2}
        key = rng.choice(["user-1", "user-2", "user-3", None])
        records[tp].append(kafka_record(topic, partition, offsets[tp], payload, key))
        offsets[tp] += rng.randint(1, 3)
    records = {tp: group for tp, group in records.items() if group}
    event = {"eventSource": source, "records": records}
    if source == "aws:kafka":
        event["eventSourceArn"] = "arn:aws:kafka:us-east-1:123456789012:cluster/c/1"
    event["bootstrapServers"] = "b-1.c.kafka.us-east-1.amazonaws.com:9098"
    return event


def flat(event: dict) -> list:
    return [r for group in event["records"].values() for r in group]


def text_id(record) -> str:
    raw = record if isinstance(record, dict) else getattr(record, "raw_event", None)
    if raw is None:  # a parser model
        raw = record.model_dump()
    return f"{raw['topic']}-{raw['partition']}@{raw['offset']}"


def payload_of(record) -> dict:
    if isinstance(record, KafkaEventRecord):
        return record.json_value
    if isinstance(record, KafkaRecordModel):
        return json.loads(record.value)
    return json.loads(base64.b64decode(record["value"]))


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


# ---------------------------------------------------------------- the pool


def test_identifiers_are_objects_and_handlers_get_the_records_themselves():
    event = {
        "eventSource": "aws:kafka",
        "records": {
            "orders-1": [kafka_record("orders", 1, 3, {"fail": True}, "user-1")],
            "orders-0": [
                kafka_record("orders", 0, 15, {"fail": False}, "user-1"),
                kafka_record("orders", 0, 16, {"fail": False}, None),
            ],
        },
    }
    seen = []

    def handler(record):
        seen.append(record)
        if payload_of(record)["fail"]:
            raise RuntimeError("down")

    report = POOL.run_batch(event, handler)
    failed = {"partition": "orders-1", "offset": 3}
    assert report.response == {"batchItemFailures": [{"itemIdentifier": failed}]}
    assert report.succeeded == [{"partition": "orders-0", "offset": 15}, {"partition": "orders-0", "offset": 16}]
    assert [(f.item_identifier, f.index, f.reason) for f in report.failures] == [(failed, 0, "error")]
    assert [o["itemIdentifier"] for o in report.outcomes] == [failed, *report.succeeded]
    assert report.summary["source"] == "aws:kafka"
    records = flat(event)
    assert len(seen) == 3 and all(any(r is x for x in records) for r in seen)
    assert "orders-1" in repr(report.failures[0])


def test_malformed_kafka_record_names_index_field_and_group():
    event = {
        "eventSource": "aws:kafka",
        "records": {
            "orders-0": [kafka_record("orders", 0, 1, {}, None)],
            "orders-1": [dict(kafka_record("orders", 1, 2, {}, None), offset=-1)],
        },
    }
    calls = []
    with pytest.raises(lanepool.EventError) as info:
        POOL.process(event, calls.append)
    assert (info.value.index, info.value.field, info.value.group) == (1, "offset", "orders-1")
    assert "orders-1" in str(info.value) and "record 1" in str(info.value)
    assert calls == []
    assert info.value.group == type(info.value)(*info.value.__reduce__()[1]).group


def test_offsets_must_be_ints_not_bools_or_strings():
    for offset in (True, "15", 15.5, None):
        event = {
            "eventSource": "aws:kafka",
            "records": {"t-0": [dict(kafka_record("t", 0, 1, {}, None), offset=offset)]},
        }
        with pytest.raises(lanepool.EventError, match="offset"):
            POOL.process(event, lambda r: None)
    # an integer-valued float is an offset (JSON does not tell 15.0 from 15)
    event = {"eventSource": "aws:kafka", "records": {"t-0": [dict(kafka_record("t", 0, 1, {}, None), offset=15.0)]}}
    assert POOL.run_batch(event, lambda r: None).succeeded == [{"partition": "t-0", "offset": 15}]


def expected_outcomes(event: dict, ordering: str) -> dict:
    """The reference: partition lanes ("auto") or (partition, key) lanes ("key"); a failed
    record skips the rest of its lane; "unordered" skips nothing."""
    failed_lanes: set = set()
    outcome = {}
    for r in flat(event):
        tp = f"{r['topic']}-{r['partition']}"
        lane = None if ordering == "unordered" else (tp, r.get("key")) if ordering == "key" else tp
        if lane is not None and lane in failed_lanes:
            outcome[text_id(r)] = "skipped"
        elif payload_of(r)["fail"]:
            outcome[text_id(r)] = "error"
            if lane is not None:
                failed_lanes.add(lane)
        else:
            outcome[text_id(r)] = "succeeded"
    return outcome


@pytest.mark.parametrize("ordering", ["auto", "key", "unordered"])
@pytest.mark.parametrize("use_async", [False, True])
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), workers=st.integers(1, 6))
def test_partition_order_key_lanes_and_skip_on_failure(ordering, use_async, seed, workers):
    event = random_kafka_event(seed, random.Random(seed).choice(["aws:kafka", "SelfManagedKafka"]))
    lock = threading.Lock()
    running: dict = {}
    started: list = []
    overlaps: list = []

    def lane_of(record):
        tp = f"{record['topic']}-{record['partition']}"
        return None if ordering == "unordered" else (tp, record.get("key")) if ordering == "key" else tp

    def begin(record):
        lane = lane_of(record)
        with lock:
            if lane is not None and running.get(lane):
                overlaps.append(text_id(record))
            running[lane] = running.get(lane, 0) + 1
            started.append(record)

    def end(record):
        with lock:
            running[lane_of(record)] -= 1

    def handler(record):
        begin(record)
        try:
            return record_handler(record)
        finally:
            end(record)

    async def async_handler(record):
        begin(record)
        try:
            return await async_record_handler(record)
        finally:
            end(record)

    pool = lanepool.Pool(workers=workers)
    if use_async:
        report = asyncio.run(
            pool.run_batch_async(event, async_handler, ordering=ordering, raise_on_full_batch_failure=False)
        )
    else:
        report = pool.run_batch(event, handler, ordering=ordering, raise_on_full_batch_failure=False)
    want = expected_outcomes(event, ordering)
    assert {identifier_text(o["itemIdentifier"]): o["outcome"] for o in report.outcomes} == want
    assert [identifier_text(o["itemIdentifier"]) for o in report.outcomes] == [text_id(r) for r in flat(event)]
    assert overlaps == []  # no two records of one lane at once
    # each lane's records started in event (offset) order
    for lane in {lane_of(r) for r in flat(event)} - {None}:
        offsets = [r["offset"] for r in started if lane_of(r) == lane]
        assert offsets == sorted(offsets), lane
    assert len(started) == sum(1 for v in want.values() if v != "skipped")
    assert report.response["batchItemFailures"] == [
        {"itemIdentifier": {"partition": i.rsplit("@", 1)[0], "offset": int(i.rsplit("@", 1)[1])}}
        for i, o in want.items()
        if o != "succeeded"
    ]


# ---------------------------------------------------------------- Powertools


def run(processor, event, handler, use_async=False):
    """(response or the BatchProcessingError, result tuples, processor state)."""
    results = []
    error = None
    try:
        with processor(flat(event), handler):
            results = processor.async_process() if use_async else processor.process()
    except BatchProcessingError as exc:
        error = exc
    state = {
        "success": [text_id(m) for m in processor.success_messages],
        "fail": [text_id(m) for m in processor.fail_messages],
        "fail_types": [type(m) for m in processor.fail_messages],
        "exceptions": [(t, str(v)) for t, v, _ in processor.exceptions],
    }
    return (processor.response() if error is None else type(error)), [(e[0], e[1]) for e in results], state


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_unordered_matches_batch_processor(seed):
    event = random_kafka_event(seed)
    theirs = run(BatchProcessor(EventType.Kafka), event, record_handler)
    ours = run(ParallelBatchProcessor(EventType.Kafka, pool=POOL, ordering="unordered"), event, record_handler)
    assert ours == theirs


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_async_unordered_matches_async_batch_processor(seed):
    """Powertools' AsyncBatchProcessor lists in completion order: compared as sets."""
    event = random_kafka_event(seed)
    r2, res2, s2 = run(AsyncBatchProcessor(EventType.Kafka), event, async_record_handler, use_async=True)
    r1, res1, s1 = run(
        ParallelBatchProcessor(EventType.Kafka, pool=POOL, ordering="unordered"),
        event,
        async_record_handler,
        use_async=True,
    )
    if isinstance(r2, dict):
        key = lambda f: json.dumps(f, sort_keys=True)  # noqa: E731
        assert sorted(map(key, r1["batchItemFailures"])) == sorted(map(key, r2["batchItemFailures"]))
        # ours in event order
        order = {text_id(r): i for i, r in enumerate(flat(event))}
        ids = [f"{f['itemIdentifier']['partition']}@{f['itemIdentifier']['offset']}" for f in r1["batchItemFailures"]]
        assert ids == sorted(ids, key=order.__getitem__)
    else:
        assert r1 is r2
    assert sorted(res1) == sorted(res2)
    assert sorted(s1["success"]) == sorted(s2["success"]) and sorted(s1["fail"]) == sorted(s2["fail"])


@pytest.mark.parametrize("ordering", ["auto", "key"])
@pytest.mark.parametrize("use_async", [False, True])
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_lanes_report_the_set_powertools_reports_plus_the_skipped(ordering, use_async, seed):
    """With lanes the reference is BatchProcessor(EventType.Kafka) (which attempts every
    record): the records it reports failed are reported by us as "error" unless an earlier
    failure of their lane skipped them, and the rest of a failed lane is added as skipped."""
    event = random_kafka_event(seed)
    _, _, their_state = run(BatchProcessor(EventType.Kafka), event, record_handler)
    handler = async_record_handler if use_async else record_handler
    processor = ParallelBatchProcessor(EventType.Kafka, pool=POOL, ordering=ordering)
    ours, _, state = run(processor, event, handler, use_async=use_async)
    want = expected_outcomes(event, ordering)
    theirs_failed = set(their_state["fail"])
    errors = {i for i, o in want.items() if o == "error"}
    skipped = {i for i, o in want.items() if o == "skipped"}
    assert state["fail"] == [i for i, o in want.items() if o != "succeeded"]  # event order
    assert errors <= theirs_failed <= errors | skipped
    assert set(state["fail"]) == theirs_failed | skipped
    types = dict(zip(state["fail"], (t for t, _ in state["exceptions"]), strict=True))
    assert {i for i, t in types.items() if t is SkippedRecordError} == skipped
    if isinstance(ours, dict):
        assert [identifier_text(f["itemIdentifier"]) for f in ours["batchItemFailures"]] == state["fail"]
    else:
        assert ours is BatchProcessingError and not (set(want) - set(state["fail"]))


def test_process_partial_response_drop_in_with_model_and_self_managed():
    event = random_kafka_event(7, "SelfManagedKafka")
    rng = random.Random(1)
    for r in flat(event):
        r["value"] = b64(json.dumps({"n": r["offset"], "fail": rng.random() < 0.5, "sleep": False}))
    flat(event)[0]["value"] = b64(json.dumps({"n": 0, "fail": False, "sleep": False}))
    theirs = process_partial_response(event, record_handler, BatchProcessor(EventType.Kafka), {})
    ours = process_partial_response(
        event, record_handler, ParallelBatchProcessor(EventType.Kafka, pool=POOL, ordering="unordered"), {}
    )
    assert ours == theirs
    with_model = process_partial_response(
        event,
        record_handler,
        ParallelBatchProcessor(EventType.Kafka, model=KafkaRecordModel, pool=POOL, ordering="unordered"),
        {},
    )
    assert with_model == theirs
    async_ours = async_process_partial_response(
        event, async_record_handler, ParallelBatchProcessor(EventType.Kafka, pool=POOL, ordering="unordered"), {}
    )
    assert async_ours == theirs
    # the shape Lambda expects for Kafka
    for item in theirs["batchItemFailures"]:
        assert set(item["itemIdentifier"]) == {"partition", "offset"}
        assert isinstance(item["itemIdentifier"]["offset"], int)


def test_records_of_one_partition_apart_are_refused_before_any_handler():
    records = [kafka_record("t", 0, 1, {}, None), kafka_record("t", 1, 1, {}, None), kafka_record("t", 0, 2, {}, None)]
    calls = []
    processor = ParallelBatchProcessor(EventType.Kafka, pool=POOL)
    with pytest.raises(lanepool.EventError, match="record 2") as info:
        with processor(records, calls.append):
            processor.process()
    assert (info.value.index, info.value.field, info.value.group) == (2, "partition", "t-0")
    assert calls == []
