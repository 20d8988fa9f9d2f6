"""Hostile handlers: each one ends as its own record's failure, and the batch goes on."""

from __future__ import annotations

import asyncio
import gc

import pytest

import lanepool
from conftest import sqs_event

POOL = lanepool.Pool(workers=4)
MODES = ["sync", "async", "run_batch_async"]


def run(mode: str, event, body, **kwargs) -> lanepool.BatchReport:
    """Runs `body(record)` as a sync or async handler; returns the report."""
    kwargs.setdefault("raise_on_full_batch_failure", False)
    if mode == "sync":
        return POOL.run_batch(event, body, **kwargs)

    async def handler(record):
        await asyncio.sleep(0)
        body(record)

    if mode == "async":
        return POOL.run_batch(event, handler, **kwargs)
    return asyncio.run(POOL.run_batch_async(event, handler, **kwargs))


class Unprintable(Exception):
    """An exception whose ``__str__`` and ``__repr__`` raise."""

    def __str__(self) -> str:
        raise RuntimeError("__str__ raised")

    def __repr__(self) -> str:
        raise RuntimeError("__repr__ raised")


@pytest.mark.parametrize("mode", MODES)
def test_exception_whose_str_and_repr_raise(mode):
    def body(record):
        if record["messageId"] == "m1":
            raise Unprintable()

    report = run(mode, sqs_event(3), body)
    assert report.response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    (failure,) = report.failures
    assert isinstance(failure.exception, Unprintable) and failure.reason == "error"
    # the failure still prints, naming the exception's type
    text = repr(failure)
    assert "m1" in text and "Unprintable" in text
    assert report.summary["error"] == 1


@pytest.mark.parametrize("mode", MODES)
def test_exception_with_a_10_mb_message(mode):
    big = "x" * (10 * 1024 * 1024)

    def body(record):
        if record["messageId"] == "m0":
            raise ValueError(big)

    report = run(mode, sqs_event(3), body)
    assert report.response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    (failure,) = report.failures
    assert failure.exception.args[0] is big
    assert len(repr(failure)) < 1000  # readable: the exception's repr is shortened
    assert "ValueError" in repr(failure)


def mutators():
    """Handlers that vandalise the event they belong to (set per test with `bind`)."""

    def delete_fields(event, record):
        for other in event["Records"]:
            if other is not record:
                other.clear()

    def replace_records(event, record):
        records = event["Records"]
        for i in range(len(records)):
            if records[i] is not record:
                records[i] = {"eventSource": "aws:kinesis", "messageId": 42}

    def clear_records(event, record):
        event["Records"].clear()

    def drop_records_key(event, record):
        event.pop("Records", None)
        event["Records"] = None

    return [delete_fields, replace_records, clear_records, drop_records_key]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("mutate", mutators(), ids=lambda f: f.__name__)
def test_handlers_mutating_the_event(mode, mutate):
    # a FIFO batch: lanes and identifiers were decoded before any handler ran
    event = sqs_event(6, group="g")
    for i in (1, 3, 5):
        event["Records"][i]["attributes"]["MessageGroupId"] = "h"
    seen: list = []

    def body(record):
        seen.append(record.get("messageId"))
        if len(seen) == 1:  # the first call vandalises the event, then fails
            mutate(event, record)
            raise ValueError("after vandalism")

    report = run(mode, event, body)
    # the first record started (m0 or m1) failed and skipped the rest of its lane; the other
    # lane's records all ran, vandalised or not
    failed = report.failures
    first = failed[0].item_identifier
    assert first in ("m0", "m1") and failed[0].reason == "error"
    lane = ["m0", "m2", "m4"] if first == "m0" else ["m1", "m3", "m5"]
    other = ["m1", "m3", "m5"] if first == "m0" else ["m0", "m2", "m4"]
    assert report.response == {"batchItemFailures": [{"itemIdentifier": i} for i in lane]}
    assert report.succeeded == other
    assert [f.reason for f in failed] == ["error", "skipped", "skipped"]


@pytest.mark.parametrize("mode", MODES)
def test_handler_mutating_its_own_record_and_the_response_still_uses_decoded_ids(mode):
    def body(record):
        record["messageId"] = None
        record["attributes"] = "gone"
        if record["body"] == "2":
            raise KeyError("x")

    report = run(mode, sqs_event(4), body)
    assert report.response == {"batchItemFailures": [{"itemIdentifier": "m2"}]}


class Halt(BaseException):
    """A BaseException that is not an Exception."""


@pytest.mark.parametrize("mode", MODES)
def test_custom_base_exception_halts_and_propagates(mode):
    def body(record):
        if record["messageId"] == "m0":
            raise Halt("stop")

    with pytest.raises(Halt):
        run(mode, sqs_event(3, group="g"), body)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("mode", MODES)
def test_exception_with_a_raising_del_and_cyclic_traceback(mode):
    class Sticky(Exception):
        def __del__(self):
            raise RuntimeError("__del__ raised")

    def body(record):
        if record["messageId"] == "m1":
            err = Sticky("cycle")
            err.self_ref = err
            raise err

    report = run(mode, sqs_event(3), body)
    assert report.response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    del report
    gc.collect()
    report = run(mode, sqs_event(2), lambda r: None)
    assert report.succeeded == ["m0", "m1"]


class AwaitableThing:
    """Awaitable through its type's `__await__`, though it is no coroutine."""

    def __await__(self):
        yield from ()


class ClaimsEverything:
    """Answers every attribute looked up on the instance, `__await__` included; its type is
    not awaitable, so `await` would fail on it."""

    def __getattr__(self, name):
        return lambda *a: None


def test_sync_handler_returning_an_awaitable_fails_its_record_and_the_coroutine_is_closed():
    async def work(record):
        ran.append(record["messageId"])

    def sync_looking(record):  # an async function behind a plain decorator
        coro = work(record)
        coros.append(coro)
        return coro

    ran: list = []
    coros: list = []
    report = POOL.run_batch(sqs_event(3), sync_looking, raise_on_full_batch_failure=False)
    assert [(f.item_identifier, f.reason) for f in report.failures] == [("m0", "error"), ("m1", "error"), ("m2", "error")]
    for f in report.failures:
        assert isinstance(f.exception, TypeError) and "returned an awaitable" in str(f.exception)
    assert ran == []  # never run, and closed: no "never awaited" warning either
    assert all(c.cr_frame is None for c in coros)

    report = POOL.run_batch(sqs_event(2), lambda r: AwaitableThing(), raise_on_full_batch_failure=False)
    assert [f.reason for f in report.failures] == ["error", "error"]


@pytest.mark.parametrize(
    "value", [("success", None, {}), 7, "text", [1], {"a": 1}, object(), ClaimsEverything()], ids=repr
)
def test_sync_handler_returning_a_plain_value_succeeds(value):
    report = POOL.run_batch(sqs_event(3), lambda r: value, raise_on_full_batch_failure=False)
    assert report.failures == [] and report.succeeded == ["m0", "m1", "m2"]


@pytest.mark.parametrize(
    "value", [("success", None, {}), 7, object(), ClaimsEverything()], ids=repr
)
def test_plain_value_from_a_handler_on_the_asyncio_driver_succeeds_too(value):
    """The asyncio driver decides what to await by the result's type, as the sync path does:
    an object that only claims `__await__` through `__getattr__` is a plain value."""

    async def run():
        return await POOL.run_batch_async(sqs_event(3), lambda r: value, raise_on_full_batch_failure=False)

    report = asyncio.run(run())
    assert report.failures == [] and report.succeeded == ["m0", "m1", "m2"]
    awaited = asyncio.run(POOL.run_batch_async(sqs_event(2), lambda r: AwaitableThing(),
                                               raise_on_full_batch_failure=False))
    assert awaited.failures == [] and awaited.succeeded == ["m0", "m1"]

