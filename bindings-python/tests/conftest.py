"""Shared helpers: the recording test handlers of tests/vectors/README.md."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"


class Context:
    """A Lambda context whose remaining time counts down from `remaining_ms`."""

    def __init__(self, remaining_ms: float) -> None:
        self._deadline = time.monotonic() + remaining_ms / 1000.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def sqs_event(n: int, group: str | None = None) -> dict:
    """An SQS event of ``n`` records ``m0``, ``m1``, ... (bodies ``"0"``, ``"1"``, ...), all in
    message group ``group`` when given."""
    records = []
    for i in range(n):
        attributes = {"MessageGroupId": group} if group else {}
        records.append(
            {"eventSource": "aws:sqs", "messageId": f"m{i}", "body": str(i), "attributes": attributes}
        )
    return {"Records": records}


def is_kafka(record) -> bool:
    """Whether `record` is a Kafka record (no eventSource of its own; topic, partition, offset)."""
    return isinstance(record, dict) and "eventSource" not in record and "topic" in record


def identifier(record: dict) -> str:
    """A record's identifier as the vectors write it (Kafka: "<topic>-<partition>@<offset>")."""
    if is_kafka(record):
        return f"{record['topic']}-{record['partition']}@{record['offset']}"
    source = record.get("eventSource")
    if source == "aws:kinesis":
        return record["kinesis"]["sequenceNumber"]
    if source == "aws:dynamodb":
        return record["dynamodb"]["SequenceNumber"]
    return record["messageId"]


class Recorder:
    """The vector test handler: sleeps and fails per `spec`, logs every call."""

    def __init__(self, spec: dict | None = None) -> None:
        spec = spec or {}
        self.fail_attempts = spec.get("fail_attempts", {})
        self.fail_always = set(spec.get("fail_always", []))
        self.sleep_ms = spec.get("sleep_ms", {})
        self.default_sleep_ms = spec.get("default_sleep_ms", 0)
        self.sleep_attempts_ms = spec.get("sleep_attempts_ms", {})  # id -> sleep per attempt
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.calls: list[tuple[str, float, float]] = []  # (id, start, end)
        self.in_flight = 0
        self.peak = 0
        self.records: list = []  # the record objects handed to the handler

    def _begin(self, record) -> tuple[str, int, float]:
        rid = identifier(record)
        with self.lock:
            attempt = self.counts.get(rid, 0) + 1
            self.counts[rid] = attempt
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.records.append(record)
        return rid, attempt, time.monotonic()

    def _end(self, rid: str, start: float) -> None:
        """Logs the end of a call (in a ``finally``: also when it raised or was cancelled)."""
        end = time.monotonic()
        with self.lock:
            self.in_flight -= 1
            self.calls.append((rid, start, end))

    def _outcome(self, rid: str, attempt: int) -> None:
        if rid in self.fail_always or attempt <= self.fail_attempts.get(rid, 0):
            raise RuntimeError(f"{rid} attempt {attempt} fails")

    def _sleep_s(self, rid: str, attempt: int = 1) -> float:
        per_attempt = self.sleep_attempts_ms.get(rid)
        if per_attempt is not None and attempt <= len(per_attempt):
            return per_attempt[attempt - 1] / 1000.0
        return self.sleep_ms.get(rid, self.default_sleep_ms) / 1000.0

    def sync(self, record) -> None:
        rid, attempt, start = self._begin(record)
        try:
            delay = self._sleep_s(rid, attempt)
            if delay:
                time.sleep(delay)
        finally:
            self._end(rid, start)
        self._outcome(rid, attempt)

    async def async_(self, record) -> None:
        rid, attempt, start = self._begin(record)
        try:
            await asyncio.sleep(self._sleep_s(rid, attempt))  # cancellable; 0 still yields
        finally:
            self._end(rid, start)
        self._outcome(rid, attempt)

    def all_ended(self) -> bool:
        """Whether every call made so far has ended (returned, raised or been cancelled)."""
        with self.lock:
            return self.in_flight == 0 and len(self.calls) == sum(self.counts.values())

    def check_lanes(self, records: list, lane_of) -> None:
        """No two calls of one lane overlap; each lane's records start in event order."""
        index = {identifier(r): i for i, r in enumerate(records)}
        lanes: dict = {}
        for rid, start, end in self.calls:
            lane = lane_of(records[index[rid]])
            if lane is not None:
                lanes.setdefault(lane, []).append((start, end, index[rid]))
        for lane, calls in lanes.items():
            calls.sort()
            for (s0, e0, i0), (s1, e1, i1) in zip(calls, calls[1:]):
                assert s1 >= e0, f"lane {lane!r}: record {i1} started before record {i0} ended"
                assert i1 >= i0, f"lane {lane!r}: record {i1} started before record {i0}"


def identifier_text(item_identifier) -> str:
    """A reported identifier as the vectors write it: a str as it is, a Kafka record's
    `{"partition": ..., "offset": ...}` as "<partition>@<offset>"."""
    if isinstance(item_identifier, dict):
        return f"{item_identifier['partition']}@{item_identifier['offset']}"
    return item_identifier


def load_vectors() -> list:
    return [pytest.param(json.loads(p.read_text()), id=p.stem) for p in sorted(VECTORS.glob("*.json"))]


def dotted(record, path: str):
    value = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def vector_lane(options: dict):
    """The lane of a record per rule 5 of tests/vectors/README.md (None: unkeyed)."""
    group_key = options.get("group_key")
    ordering = options.get("ordering", "auto")

    def lane_of(record):
        if group_key is not None:
            return dotted(record, group_key)
        if ordering == "unordered":
            return None
        if is_kafka(record):
            partition = f"{record['topic']}-{record['partition']}"
            if ordering == "key":
                return (partition, record.get("key"))
            return partition
        source = record.get("eventSource")
        if source == "aws:sqs":
            return dotted(record, "attributes.MessageGroupId")
        if source == "aws:kinesis":
            return dotted(record, "kinesis.partitionKey")
        if source == "aws:dynamodb":
            return json.dumps(record["dynamodb"]["Keys"], sort_keys=True)
        return None

    return lane_of
