"""Bad input is refused up front with an error naming what is wrong and where: a handler that is
not callable, options and context methods of the wrong type; events given as any Mapping."""

from __future__ import annotations

import asyncio
import re
import types
from collections.abc import Iterator, Mapping
from typing import Any
from unittest.mock import MagicMock

import pytest

import lanepool

# Powertools is installed by test.sh; a missing one is an error here, never a silent skip.
from aws_lambda_powertools.utilities.batch import (  # noqa: E402
    EventType,
    async_process_partial_response,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes import (  # noqa: E402
    DynamoDBStreamEvent,
    KinesisStreamEvent,
    SQSEvent,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord  # noqa: E402

from lanepool.powertools import ParallelBatchProcessor  # noqa: E402

pool = lanepool.Pool(workers=4)


def sqs(n: int, group: str | None = None) -> dict:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "eventSource": "aws:sqs",
                "body": str(i),
                "attributes": {"MessageGroupId": group} if group else {},
            }
            for i in range(n)
        ]
    }


def kinesis(n: int) -> dict:
    return {
        "Records": [
            {
                "eventSource": "aws:kinesis",
                "kinesis": {"partitionKey": f"k{i % 2}", "sequenceNumber": f"s{i}", "data": ""},
            }
            for i in range(n)
        ]
    }


def dynamodb(n: int) -> dict:
    return {
        "Records": [
            {"eventSource": "aws:dynamodb", "dynamodb": {"Keys": {"pk": {"S": f"k{i % 2}"}}, "SequenceNumber": f"{i}"}}
            for i in range(n)
        ]
    }


class Ctx:
    """A Lambda context whose get_remaining_time_in_millis returns `value`."""

    def __init__(self, value: object) -> None:
        self.value = value

    def get_remaining_time_in_millis(self) -> Any:
        return self.value


# ---------------------------------------------------------------- handlers that are not callable

NOT_CALLABLE = [5, None, "handler"]


def described(value: object) -> str:
    return "None" if value is None else f"{type(value).__name__} {value!r}"


@pytest.mark.parametrize("handler", NOT_CALLABLE)
@pytest.mark.parametrize("method", ["process", "run_batch"])
def test_sync_entry_points_refuse_a_handler_that_is_not_callable(method, handler):
    keyed = []  # group_key is called while the event is decoded: it must not be reached

    def key(record):
        keyed.append(record)
        return None

    message = f"handler must be callable, got {described(handler)}"
    with pytest.raises(TypeError, match=re.escape(message)):
        getattr(pool, method)(sqs(2), handler, group_key=key)
    assert keyed == []


@pytest.mark.parametrize("handler", NOT_CALLABLE)
@pytest.mark.parametrize("method", ["process_async", "run_batch_async"])
def test_async_entry_points_refuse_a_handler_that_is_not_callable(method, handler):
    keyed = []

    def key(record):
        keyed.append(record)
        return None

    message = f"handler must be callable, got {described(handler)}"
    with pytest.raises(TypeError, match=re.escape(message)):
        asyncio.run(getattr(pool, method)(sqs(2), handler, group_key=key))
    assert keyed == []


def test_map_refuses_a_function_that_is_not_callable_before_reading_items():
    read = []

    def items() -> Iterator[int]:
        for i in range(3):
            read.append(i)
            yield i

    with pytest.raises(TypeError, match=re.escape("fn must be callable, got int 3")):
        pool.map(3, items())  # type: ignore[arg-type]
    assert read == []


def test_spawn_refuses_a_function_that_is_not_callable():
    with pool.scope() as s:
        with pytest.raises(TypeError, match=re.escape("func must be callable, got str 'f'")):
            s.spawn("f")  # type: ignore[arg-type]
        task = s.spawn(len, "abc")
    assert task.result() == 3  # the scope still works; nothing failed in it


@pytest.mark.parametrize("use_async", [False, True])
def test_processor_refuses_a_record_handler_that_is_not_callable(use_async):
    keyed = []

    def key(record):
        keyed.append(record)
        return None

    processor = ParallelBatchProcessor(EventType.SQS, pool=pool, group_key=key)
    run = async_process_partial_response if use_async else process_partial_response
    with pytest.raises(TypeError, match=re.escape("record_handler must be callable, got int 5")):
        run(sqs(2), 5, processor, Ctx(60_000))
    with pytest.raises(TypeError, match=re.escape("record_handler must be callable, got None")):
        with processor(sqs(2)["Records"], None):
            processor.process()
    assert keyed == []
    assert process_partial_response(sqs(2), lambda record: None, processor, {}) == {"batchItemFailures": []}


# ---------------------------------------------------------------- type errors name the parameter

OPTION_TYPE_ERRORS = [
    ({"retries": "4"}, "retries must be an int, got str '4'"),
    ({"retries": True}, "retries must be an int, got bool True"),
    ({"retries": 1.0}, "retries must be an int, got float 1.0"),
    ({"ordering": 5}, 'ordering must be "auto", "unordered" or "key", got int 5'),
    ({"group_key": "pk"}, "group_key must be callable or None, got str 'pk'"),
    ({"deadline_margin_ms": "500"}, "deadline_margin_ms must be a number of milliseconds, got str '500'"),
    ({"retry_backoff_ms": None}, "retry_backoff_ms must be a number of milliseconds, got None"),
    ({"raise_on_full_batch_failure": "no"}, "raise_on_full_batch_failure must be a bool, got str 'no'"),
    ({"log_summary": 1}, "log_summary must be a bool, got int 1"),
    ({"cancel_at_deadline": None}, "cancel_at_deadline must be a bool, got None"),
]


@pytest.mark.parametrize(("options", "message"), OPTION_TYPE_ERRORS, ids=lambda v: str(v)[:40])
def test_option_type_errors_name_the_option(options, message):
    calls = []
    with pytest.raises(TypeError, match=re.escape(message)):
        pool.process(sqs(1), calls.append, **options)
    with pytest.raises(TypeError, match=re.escape(message)):
        asyncio.run(pool.process_async(sqs(1), calls.append, **options))
    assert calls == []


# raise_on_full_batch_failure is no processor option (Powertools' raise_on_entire_batch_failure)
PROCESSOR_TYPE_ERRORS = [case for case in OPTION_TYPE_ERRORS if "raise_on_full_batch_failure" not in case[0]]


@pytest.mark.parametrize(("options", "message"), PROCESSOR_TYPE_ERRORS, ids=lambda v: str(v)[:40])
def test_processor_option_type_errors_name_the_option(options, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        ParallelBatchProcessor(EventType.SQS, pool=pool, **options)


@pytest.mark.parametrize(
    ("workers", "message"),
    [
        ("4", "workers must be an int, got str '4'"),
        (4.0, "workers must be an int, got float 4.0"),
        (True, "workers must be an int, got bool True"),
    ],
)
def test_workers_type_errors(workers, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        lanepool.Pool(workers=workers)
    with pytest.raises(ValueError, match=re.escape("workers must be at least 1, got 0")):
        lanepool.Pool(workers=0)


def test_out_of_range_counts_are_value_errors_naming_them():
    with pytest.raises(ValueError, match="retries is out of range"):
        pool.process(sqs(1), print, retries=10**30)
    with pytest.raises(ValueError, match="retries must be a non-negative int, got -1"):
        pool.process(sqs(1), print, retries=-1)
    with pytest.raises(ValueError, match="workers is out of range"):
        lanepool.Pool(workers=10**30)
    with pytest.raises(ValueError, match="deadline_margin_ms must be a finite number of milliseconds, got inf"):
        pool.process(sqs(1), print, deadline_margin_ms=float("inf"))


@pytest.mark.parametrize(
    ("context", "error", "message"),
    [
        (Ctx("30000"), TypeError, "context.get_remaining_time_in_millis() must return a number of milliseconds, "
         "got str '30000'"),
        (Ctx(None), TypeError, "context.get_remaining_time_in_millis() must return a number of milliseconds, got None"),
        (Ctx(True), TypeError, "context.get_remaining_time_in_millis() must return a number of milliseconds, "
         "got bool True"),
        # A MagicMock's method returns a MagicMock (which converts to 1.0: 1 ms, every record
        # "deadline"): refused, naming it.
        (MagicMock(), TypeError, "context.get_remaining_time_in_millis() must return a number of milliseconds, "
         "got MagicMock <MagicMock name='mock.get_remaining_time_in_millis()'"),
        (Ctx(float("nan")), ValueError, "context.get_remaining_time_in_millis() must return a number of "
         "milliseconds, got nan"),
        (object(), TypeError, "context must have get_remaining_time_in_millis() (a Lambda context) or be None, "
         "got object <object object at"),
    ],
    ids=["str", "None", "bool", "MagicMock", "nan", "no-method"],
)
def test_context_errors_name_the_context_method(context, error, message):
    calls = []
    with pytest.raises(error, match=re.escape(message)):
        pool.process(sqs(2), calls.append, context=context)
    with pytest.raises(error, match=re.escape(message)):
        asyncio.run(pool.run_batch_async(sqs(2), calls.append, context=context))
    assert calls == []


def test_context_remaining_time_numbers():
    # ints and floats (any numbers.Real) are read; a time too large for a deadline is none
    import fractions

    for value in (60_000, 60_000.5, fractions.Fraction(60_000), float("inf"), 10.0**300):
        assert pool.process(sqs(2), lambda r: None, context=Ctx(value)) == {"batchItemFailures": []}
    report = pool.run_batch(sqs(2), lambda r: None, context=Ctx(100), raise_on_full_batch_failure=False)
    assert [f.reason for f in report.failures] == ["deadline", "deadline"]  # 100 ms < 500 ms margin
    mock = MagicMock()
    mock.get_remaining_time_in_millis.return_value = 60_000  # a configured mock is a context
    assert pool.process(sqs(2), lambda r: None, context=mock) == {"batchItemFailures": []}


# ---------------------------------------------------------------- events as mappings


class Frozen(Mapping[str, Any]):
    """A read-only Mapping that is not a dict."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def deep(value: Any, wrap) -> Any:
    """`value` with every dict in it wrapped by `wrap` (lists kept as lists)."""
    if isinstance(value, dict):
        return wrap({k: deep(v, wrap) for k, v in value.items()})
    if isinstance(value, list):
        return [deep(v, wrap) for v in value]
    return value


WRAPS = {"mappingproxy": types.MappingProxyType, "Mapping subclass": Frozen}
SOURCES = {"sqs-fifo": lambda: sqs(4, group="g"), "kinesis": lambda: kinesis(4), "dynamodb": lambda: dynamodb(4)}


def assert_own_records(seen: list, records: list, report: lanepool.BatchReport) -> None:
    """The handler got the caller's own record objects, one call per attempt."""
    own = {id(r) for r in records}
    assert seen and all(id(r) in own for r in seen)
    assert len(seen) == sum(o["attempts"] for o in report.outcomes)


def fail_second(record) -> None:
    ids = ("m1", "s1", "1")
    rid = (
        record.get("messageId")
        or record.get("kinesis", {}).get("sequenceNumber")
        or record.get("dynamodb", {}).get("SequenceNumber")
    )
    if rid in ids:
        raise ValueError(rid)


@pytest.mark.parametrize("wrap", WRAPS.values(), ids=WRAPS.keys())
@pytest.mark.parametrize("source", SOURCES.keys())
def test_events_and_records_may_be_any_mapping(wrap, source):
    raw = SOURCES[source]()
    expected = pool.run_batch(raw, fail_second, raise_on_full_batch_failure=False)
    event = deep(raw, wrap)
    seen = []

    def handler(record):
        seen.append(record)
        fail_second(record)

    report = pool.run_batch(event, handler, raise_on_full_batch_failure=False)
    assert report.response == expected.response and report.outcomes == expected.outcomes
    assert len(report.failures) >= 2  # the failed record and (in its lane) those after it
    assert_own_records(seen, event["Records"], report)
    aio = asyncio.run(pool.run_batch_async(event, handler, raise_on_full_batch_failure=False))
    assert aio.outcomes == expected.outcomes


def test_group_key_gets_mapping_records():
    event = {"Records": [types.MappingProxyType(r) for r in sqs(3)["Records"]]}
    keys = []

    def key(record):
        keys.append(type(record))
        return record["body"]

    assert pool.process(event, lambda r: None, group_key=key) == {"batchItemFailures": []}
    assert keys == [types.MappingProxyType] * 3


POWERTOOLS_EVENTS = {
    "SQSEvent": (SQSEvent, lambda: sqs(4, group="g")),
    "KinesisStreamEvent": (KinesisStreamEvent, lambda: kinesis(4)),
    "DynamoDBStreamEvent": (DynamoDBStreamEvent, lambda: dynamodb(4)),
}


@pytest.mark.parametrize("name", POWERTOOLS_EVENTS.keys())
def test_powertools_event_data_classes_are_events(name):
    cls, make = POWERTOOLS_EVENTS[name]
    raw = make()
    expected = pool.run_batch(raw, fail_second, raise_on_full_batch_failure=False)
    event = cls(raw)
    seen = []

    def handler(record):
        seen.append(record)
        fail_second(record)

    report = pool.run_batch(event, handler, raise_on_full_batch_failure=False)
    assert report.response == expected.response and report.outcomes == expected.outcomes
    assert_own_records(seen, event.raw_event["Records"], report)  # the raw event's own dicts
    aio = asyncio.run(pool.run_batch_async(event, handler, raise_on_full_batch_failure=False))
    assert aio.outcomes == expected.outcomes


def test_powertools_record_data_classes_are_records():
    records = [SQSRecord(r) for r in sqs(3, group="g")["Records"]]
    seen = []
    assert pool.process({"Records": records}, seen.append) == {"batchItemFailures": []}
    assert seen == records and all(a is b for a, b in zip(seen, records))


def test_a_mapping_context_means_no_deadline():
    for context in ({}, types.MappingProxyType({}), Frozen({})):
        assert pool.process(sqs(2), lambda r: None, context=context, deadline_margin_ms=10**9) == {
            "batchItemFailures": []
        }


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([], "event: expected a dict (or Mapping), got list"),
        ({"Records": [5]}, "record 0: expected a dict (or Mapping), got int"),
        ({"Records": {}}, "event: field `Records`: expected a list (or tuple), got dict"),
        (
            {"Records": [{"eventSource": "aws:sqs", "messageId": 7}]},
            "record 0: field `messageId`: expected a str, got int",
        ),
        (types.MappingProxyType({"Records": "x"}), "event: field `Records`: expected a list (or tuple), got str"),
    ],
)
def test_event_errors_speak_of_python_types(event, message):
    with pytest.raises(lanepool.EventError, match=re.escape(message)):
        pool.process(event, lambda r: None)
