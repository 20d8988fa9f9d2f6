"""Exceptions and BaseExceptions raised by handlers; errors of the call itself."""

from __future__ import annotations

import asyncio
import pickle
import re
import threading
import time

import pytest
from conftest import Context

import lanepool

pool = lanepool.Pool(workers=4)


def sqs(n, group=None):
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


def run_mode(mode, event, handler, **kwargs):
    if mode == "run_batch_async":
        return asyncio.run(pool.run_batch_async(event, handler, **kwargs))
    return pool.run_batch(event, handler, **kwargs)


def make_handler(mode, body):
    """A handler running `body(record)` (sync) around an optional sleep."""
    if mode == "sync":

        def handler(record):
            body(record)

        return handler

    async def ahandler(record):
        await asyncio.sleep(0)
        body(record)

    return ahandler


MODES = ["sync", "async", "run_batch_async"]


@pytest.mark.parametrize("mode", MODES)
def test_exception_fails_only_its_record_and_is_kept(mode):
    err = KeyError("missing")

    def body(record):
        if record["messageId"] == "m1":
            raise err

    report = run_mode(mode, sqs(3), make_handler(mode, body))
    [failure] = report.failures
    assert (failure.item_identifier, failure.index, failure.reason) == ("m1", 1, "error")
    assert failure.exception is err
    assert failure.exception.__traceback__ is not None
    assert report.succeeded == ["m0", "m2"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit, GeneratorExit])
def test_base_exception_halts_and_propagates(mode, exc_type):
    # One lane (FIFO group), so records run one after another: nothing starts after m2.
    started = []

    def body(record):
        started.append(record["messageId"])
        if record["messageId"] == "m2":
            raise exc_type("stop")

    with pytest.raises(exc_type):
        run_mode(mode, sqs(6, group="g"), make_handler(mode, body), retries=2, retry_backoff_ms=0)
    assert started == ["m0", "m1", "m2"]


@pytest.mark.parametrize("mode", MODES)
def test_base_exception_lets_running_handlers_finish(mode):
    lock = threading.Lock()
    log = []

    if mode == "sync":

        def handler(record):
            with lock:
                log.append(("start", record["messageId"]))
            if record["messageId"] == "m0":
                time.sleep(0.02)
                raise KeyboardInterrupt
            time.sleep(0.1)
            with lock:
                log.append(("end", record["messageId"]))

    else:

        async def handler(record):
            log.append(("start", record["messageId"]))
            if record["messageId"] == "m0":
                await asyncio.sleep(0.02)
                raise KeyboardInterrupt
            await asyncio.sleep(0.1)
            log.append(("end", record["messageId"]))

    with pytest.raises(KeyboardInterrupt):
        run_mode(mode, sqs(12), handler)
    after = list(log)
    started = {m for kind, m in after if kind == "start"}
    ended = {m for kind, m in after if kind == "end"}
    # the records running when m0 raised (m1..m3 with 4 workers) finished before the call returned
    assert started - {"m0"} == ended
    assert 1 <= len(ended) <= 3
    time.sleep(0.15)
    assert log == after


def test_event_error_attributes_and_no_handler_call():
    calls = []
    event = {"Records": [{"eventSource": "aws:sqs", "messageId": "a"}, {"eventSource": "aws:sqs"}]}
    with pytest.raises(lanepool.EventError) as info:
        pool.process(event, calls.append)
    e = info.value
    assert isinstance(e, ValueError)
    assert (e.index, e.field) == (1, "messageId")
    assert str(e) == "record 1: field `messageId`: missing"
    assert calls == []
    e2 = pickle.loads(pickle.dumps(e))
    assert (type(e2), str(e2), e2.index, e2.field) == (lanepool.EventError, str(e), 1, "messageId")


@pytest.mark.parametrize(
    "event,index,field",
    [
        ([], None, None),
        ({}, None, "Records"),
        ({"Records": None}, None, "Records"),
        ({"Records": [1]}, 0, None),
        ({"Records": ({"eventSource": "aws:sqs", "messageId": 3},)}, 0, "messageId"),
    ],
)
def test_event_errors(event, index, field):
    for mode in ("sync", "async"):
        handler = (lambda r: None) if mode == "sync" else make_handler("async", lambda r: None)
        with pytest.raises(lanepool.EventError) as info:
            pool.process(event, handler)
        assert (info.value.index, info.value.field) == (index, field)


def test_tuple_records_are_accepted():
    event = {"Records": tuple(sqs(3)["Records"])}
    seen = []
    assert pool.process(event, seen.append) == {"batchItemFailures": []}
    assert sorted(id(r) for r in seen) == sorted(id(r) for r in event["Records"])


def test_batch_failed_error_carries_report():
    def handler(record):
        raise ValueError(record["messageId"])

    with pytest.raises(lanepool.BatchFailedError) as info:
        pool.process(sqs(3), handler)
    report = info.value.report
    assert report.response == {"batchItemFailures": [{"itemIdentifier": f"m{i}"} for i in range(3)]}
    assert [str(f.exception) for f in report.failures] == ["m0", "m1", "m2"]
    assert pool.process(sqs(2), handler, raise_on_full_batch_failure=False) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]
    }


def test_group_key_errors():
    event = sqs(3)
    # ints are keys (their decimal string: 5 and "5" are one lane)
    report = pool.run_batch(event, lambda r: None, group_key=lambda r: 5 if r["messageId"] == "m1" else "5")
    assert report.summary["lanes"] == 1
    # anything else is an EventError naming the record and the field, before any handler runs
    calls = []
    for bad, shown in [(True, "got bool"), (1.5, "got the number 1.5"), ({}, "got dict"), ([1], "got list")]:
        with pytest.raises(lanepool.EventError, match="record 1") as info:
            pool.process(event, calls.append, group_key=lambda r, bad=bad: bad if r["messageId"] == "m1" else "k")
        assert (info.value.index, info.value.field) == (1, "group_key")
        assert shown in str(info.value)
    assert calls == []

    def key(record):
        if record["messageId"] == "m2":
            raise LookupError("no key")
        return None

    with pytest.raises(LookupError) as raised:
        pool.process(event, calls.append, group_key=key)
    assert calls == []
    assert any("record 2" in n for n in getattr(raised.value, "__notes__", ["record 2"]))


def test_group_key_big_ints_and_int_valued_floats():
    event = sqs(4)
    keys = {"m0": 2**100, "m1": str(2**100), "m2": 7.0, "m3": 7}
    report = pool.run_batch(event, lambda r: None, group_key=lambda r: keys[r["messageId"]])
    assert report.summary["lanes"] == 2  # 2**100 and "2**100" are one lane; 7.0 and 7 another
    with pytest.raises(lanepool.EventError, match="beyond") as info:
        pool.process(event, lambda r: None, group_key=lambda r: 2.0**60)
    assert (info.value.index, info.value.field) == (0, "group_key")


def test_group_key_stops_at_the_first_key_error():
    seen = []

    def key(record):
        seen.append(record["messageId"])
        return 1.5 if record["messageId"] == "m1" else "k"

    with pytest.raises(lanepool.EventError) as info:
        pool.process(sqs(4), lambda r: None, group_key=key)
    assert info.value.index == 1
    assert seen == ["m0", "m1"]


def test_bad_options():
    with pytest.raises(ValueError, match="ordering"):
        pool.process(sqs(1), lambda r: None, ordering="fifo")
    with pytest.raises(ValueError, match="retries"):
        pool.process(sqs(1), lambda r: None, retries=-1)
    with pytest.raises(TypeError, match="get_remaining_time_in_millis"):
        pool.process(sqs(1), lambda r: None, context=object())
    with pytest.raises(ValueError, match="workers"):
        lanepool.Pool(workers=0)


def test_context_none_or_empty_dict_has_no_deadline():
    for context in (None, {}):
        assert pool.process(sqs(2), lambda r: None, context=context, deadline_margin_ms=10**9) == {
            "batchItemFailures": []
        }
    report = pool.run_batch(
        sqs(2), lambda r: None, context=Context(100), deadline_margin_ms=200, raise_on_full_batch_failure=False
    )
    assert [f.reason for f in report.failures] == ["deadline", "deadline"]


@pytest.mark.parametrize("mode", MODES)
def test_retries_keep_the_last_exception(mode):
    attempts = []

    def body(record):
        attempts.append(record["messageId"])
        raise ValueError(len(attempts))

    report = run_mode(
        mode, sqs(1), make_handler(mode, body), retries=2, retry_backoff_ms=0, raise_on_full_batch_failure=False
    )
    [failure] = report.failures
    assert failure.attempts == 3 and attempts == ["m0"] * 3
    assert failure.exception.args == (3,)
    assert report.summary["retries"] == 2


def test_report_objects():
    def handler(record):
        if record["messageId"] == "m1":
            raise ValueError("x")

    report = pool.run_batch(sqs(3), handler, raise_on_full_batch_failure=False)
    assert len(report) == 3
    assert repr(report.failures[0]) == (
        "Failure(item_identifier='m1', index=1, reason='error', exception=ValueError('x'), attempts=1)"
    )
    assert "records=3" in repr(report)
    summary = report.summary
    assert {k: summary[k] for k in ("source", "records", "succeeded", "failed", "error", "skipped", "deadline")} == {
        "source": "aws:sqs", "records": 3, "succeeded": 2, "failed": 1, "error": 1, "skipped": 0, "deadline": 0,
    }
    assert summary["peak_in_flight"] >= 1 and summary["duration_ms"] >= 0
    import json

    line = json.loads(report.log_line())
    assert line["records"] == 3 and line["failed"] == 1


def test_log_summary_prints_one_json_line(capfd):
    import json

    pool.process(sqs(2), lambda r: None, log_summary=True)
    out = capfd.readouterr().out.strip().splitlines()
    assert len(out) == 1 and json.loads(out[0])["records"] == 2


def test_empty_batch():
    calls = []
    assert pool.process({"Records": []}, calls.append) == {"batchItemFailures": []}
    assert calls == []


def test_sync_looking_handler_returning_a_coroutine_fails_its_record():
    async def real(record):
        return None

    def wrapper(record):  # a plain decorator around an async function
        return real(record)

    report = pool.run_batch(sqs(2), wrapper, raise_on_full_batch_failure=False)
    assert [f.reason for f in report.failures] == ["error", "error"]
    assert all(isinstance(f.exception, TypeError) for f in report.failures)
    assert "async def" in str(report.failures[0].exception)


# ---------------------------------------------------------------- BatchFailedError, explained

REASONS = ("error", "skipped", "deadline")


def check_all_failed_message(error: lanepool.BatchFailedError) -> None:
    """The message is the core's (shown unchanged): it names the report's record count, and
    where it breaks the records down by reason, exactly the report's counts."""
    message = str(error)
    assert error.args == (message,)
    summary = error.report.summary
    assert message.startswith("every record of the batch failed ("), message
    found = re.search(r"\((\d+) (records?)(?:: ([^;)]*))?", message)
    assert found is not None, message
    assert int(found.group(1)) == summary["records"] == len(error.report)
    if found.group(3) is not None:  # a breakdown: "2 error, 1 skipped"
        said = {reason: int(n) for n, reason in re.findall(r"(\d+) (\w+)", found.group(3))}
        assert said == {r: summary[r] for r in REASONS if summary[r]}, message


@pytest.mark.parametrize("mode", MODES)
def test_all_failed_has_the_first_error_in_event_order_as_cause(mode):
    """m0 fails last (it sleeps first), yet its exception is the cause: event order."""
    errors = {}

    def fail(record):
        rid = record["messageId"]
        errors[rid] = ValueError(f"bad {rid}")
        raise errors[rid]

    if mode == "sync":

        def handler(record):
            if record["messageId"] == "m0":
                time.sleep(0.05)
            fail(record)

    else:

        async def handler(record):
            if record["messageId"] == "m0":
                await asyncio.sleep(0.05)
            fail(record)

    with pytest.raises(lanepool.BatchFailedError) as info:
        run_mode(mode, sqs(3), handler)
    error = info.value
    assert error.__cause__ is errors["m0"]
    assert error.__cause__ is error.report.failures[0].exception
    assert error.__suppress_context__
    assert error.report.summary["error"] == 3
    check_all_failed_message(error)


@pytest.mark.parametrize("mode", MODES)
def test_all_failed_in_one_lane_counts_error_and_skipped(mode):
    def body(record):
        raise ValueError("bad")

    with pytest.raises(lanepool.BatchFailedError) as info:
        run_mode(mode, sqs(3, group="g"), make_handler(mode, body))
    error = info.value
    assert [f.reason for f in error.report.failures] == ["error", "skipped", "skipped"]
    assert isinstance(error.__cause__, ValueError) and str(error.__cause__) == "bad"
    check_all_failed_message(error)


@pytest.mark.parametrize("mode", MODES)
def test_all_failed_at_the_deadline_has_no_cause(mode):
    calls = []
    with pytest.raises(lanepool.BatchFailedError) as info:
        run_mode(mode, sqs(2), make_handler(mode, calls.append), context=Context(1))
    error = info.value
    assert calls == []
    assert [f.reason for f in error.report.failures] == ["deadline", "deadline"]
    assert error.__cause__ is None
    check_all_failed_message(error)


def test_all_failed_single_record_message():
    with pytest.raises(lanepool.BatchFailedError) as info:
        pool.process(sqs(1), make_handler("sync", lambda r: 1 / 0))
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    check_all_failed_message(info.value)
