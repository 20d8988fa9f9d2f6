"""Fuzzes `pool.run_batch` with random and damaged Lambda events (run by test_fuzz.py in a
child process, so a crash fails the test instead of killing pytest).

    python fuzz_events.py [EXAMPLES]      # default: $LANEPOOL_FUZZ_EXAMPLES or 150

Every call must end in `lanepool.EventError` with the index and field of the reference model
below, or return the response the model predicts; any other outcome is a failure (exit 1).
"""

from __future__ import annotations

import asyncio
import os
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lanepool

POOL = lanepool.Pool(workers=3)
SOURCES = ("aws:sqs", "aws:kinesis", "aws:dynamodb")
ID_FIELD = {
    "aws:sqs": "messageId",
    "aws:kinesis": "kinesis.sequenceNumber",
    "aws:dynamodb": "dynamodb.SequenceNumber",
}


# ---------------------------------------------------------------- the reference model


class ModelError(Exception):
    """The EventError the model expects: (index, field)."""

    def __init__(self, index, field):
        super().__init__(index, field)
        self.index, self.field = index, field


def lookup(record, path: str):
    """The value at a dotted path, or a sentinel when a step is absent or not an object."""
    value = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


MISSING = object()


def text(record, index: int, path: str, allow_empty: bool = True) -> str:
    value = lookup(record, path)
    if value is MISSING or not isinstance(value, str) or (not allow_empty and not value):
        raise ModelError(index, path)
    return value


def lane_of(source: str, record, index: int):
    """The lane key (ordering auto) per the vectors README; None: unkeyed."""
    if source == "aws:sqs":
        value = lookup(record, "attributes.MessageGroupId")
        if value is MISSING or value is None:
            return None
        if not isinstance(value, str):
            raise ModelError(index, "attributes.MessageGroupId")
        return ("sqs", value)
    if source == "aws:kinesis":
        return ("kinesis", text(record, index, "kinesis.partitionKey"))
    keys = lookup(record, "dynamodb.Keys")
    if not isinstance(keys, dict) or not keys:
        raise ModelError(index, "dynamodb.Keys")
    canonical = []
    for name, value in keys.items():
        if not isinstance(value, dict) or len(value) != 1:
            raise ModelError(index, "dynamodb.Keys")
        ((tag, inner),) = value.items()
        if not isinstance(inner, str):
            raise ModelError(index, "dynamodb.Keys")
        canonical.append((name, tag, inner))
    return ("dynamodb", tuple(sorted(canonical)))


def model(event, ordering: str, fails: set[int]) -> list[str]:
    """The expected batchItemFailures identifiers, or raises ModelError."""
    if not isinstance(event, dict):
        raise ModelError(None, None)
    records = event.get("Records", MISSING)
    if not isinstance(records, list):
        raise ModelError(None, "Records")
    ids, lanes, batch_source = [], [], None
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise ModelError(index, None)
        source = record.get("eventSource", MISSING)
        if not isinstance(source, str) or source not in SOURCES:
            raise ModelError(index, "eventSource")
        if batch_source is None:
            batch_source = source
        elif source != batch_source:
            raise ModelError(index, "eventSource")
        ids.append(text(record, index, ID_FIELD[source], allow_empty=False))
        lanes.append(lane_of(source, record, index) if ordering == "auto" else None)
    failed_lanes: set = set()
    out = []
    for index, (rid, lane) in enumerate(zip(ids, lanes)):
        if lane is not None and lane in failed_lanes:
            out.append(rid)  # skipped: an earlier record of its lane failed
        elif index in fails:
            out.append(rid)
            if lane is not None:
                failed_lanes.add(lane)
    return out


# ---------------------------------------------------------------- strategies

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
short_ids = st.text(min_size=1, max_size=6)
keys = st.sampled_from(["a", "b", "c"])


def sqs_record(fifo: bool):
    def build(mid, group, body):
        attributes = {"ApproximateReceiveCount": "1"}
        if fifo:
            attributes["MessageGroupId"] = group
        return {"eventSource": "aws:sqs", "messageId": mid, "body": body, "attributes": attributes}

    return st.builds(build, short_ids, keys, st.text(max_size=10))


kinesis_record = st.builds(
    lambda seq, pk: {
        "eventSource": "aws:kinesis",
        "kinesis": {"sequenceNumber": seq, "partitionKey": pk, "data": "e30="},
    },
    short_ids,
    keys,
)
dynamodb_record = st.builds(
    lambda seq, pk, sk, swap: {
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "SequenceNumber": seq,
            "Keys": {"sk": {"N": sk}, "pk": {"S": pk}} if swap else {"pk": {"S": pk}, "sk": {"N": sk}},
        },
    },
    short_ids,
    keys,
    st.sampled_from(["1", "2"]),
    st.booleans(),
)
valid_events = st.one_of(
    st.lists(sqs_record(False), max_size=12),
    st.lists(sqs_record(True), max_size=12),
    st.lists(kinesis_record, max_size=12),
    st.lists(dynamodb_record, max_size=12),
)
PATHS = [
    "eventSource",
    "messageId",
    "attributes",
    "attributes.MessageGroupId",
    "kinesis",
    "kinesis.sequenceNumber",
    "kinesis.partitionKey",
    "dynamodb",
    "dynamodb.SequenceNumber",
    "dynamodb.Keys",
    "dynamodb.Keys.pk",
    "dynamodb.Keys.pk.S",
]
HUGE = "h" * 300_000
replacements = st.one_of(
    st.just("remove"),
    json_values,
    st.sampled_from(["", {}, [], None, HUGE, {"S": HUGE}, {"S": "x", "N": "1"}, "aws:s3"]),
)


@st.composite
def damaged_events(draw):
    records = draw(valid_events)
    for _ in range(draw(st.integers(0, 3))):
        if not records:
            break
        record = records[draw(st.integers(0, len(records) - 1))]
        path = draw(st.sampled_from(PATHS)).split(".")
        parent = record
        for part in path[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        new = draw(replacements)
        if new == "remove":
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = new
    if draw(st.booleans()) and records:  # a record replaced by any JSON value
        records[draw(st.integers(0, len(records) - 1))] = draw(json_values)
    return {"Records": records}


events = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(["Records", "records"]), json_values, max_size=2),
    st.builds(lambda rs: {"Records": rs}, st.lists(json_values, max_size=5)),
    damaged_events(),
    damaged_events(),
)


# ---------------------------------------------------------------- the property


def run(event, ordering: str, fails: set[int], is_async: bool):
    records = event.get("Records") if isinstance(event, dict) else None
    index_of = {id(r): i for i, r in enumerate(records)} if isinstance(records, list) else {}

    def body(record):
        if index_of[id(record)] in fails:
            raise ValueError("fails")

    async def abody(record):
        await asyncio.sleep(0)
        body(record)

    handler = abody if is_async else body
    return POOL.run_batch(event, handler, ordering=ordering, raise_on_full_batch_failure=False)


def check(event, ordering, fails, is_async) -> None:
    try:
        expected = model(event, ordering, fails)
    except ModelError as e:
        expected = e
    try:
        report = run(event, ordering, fails, is_async)
    except lanepool.EventError as e:
        assert isinstance(e.index, (int, type(None))) and isinstance(e.field, (str, type(None)))
        assert isinstance(expected, ModelError), f"unexpected {e!r}"
        assert (e.index, e.field) == (expected.index, expected.field), (e, expected.args)
        return
    assert not isinstance(expected, ModelError), f"expected EventError{expected.args}"
    got = [f["itemIdentifier"] for f in report.response["batchItemFailures"]]
    assert got == expected, (got, expected)


def main() -> int:
    examples = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("LANEPOOL_FUZZ_EXAMPLES", 150))

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        events,
        st.sampled_from(["auto", "unordered"]),
        st.sets(st.integers(0, 12), max_size=6),
        st.booleans(),
    )
    def fuzz(event, ordering, fails, is_async):
        check(event, ordering, fails, is_async)

    fuzz()
    print(f"fuzz_events: {examples} examples ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
