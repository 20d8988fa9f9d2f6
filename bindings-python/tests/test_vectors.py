"""Every conformance vector of tests/vectors/, with sync and async handlers."""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import Context, Recorder, dotted, identifier_text, load_vectors, vector_lane

import lanepool

VECTORS = load_vectors()
_POOLS: dict[int, lanepool.Pool] = {}

def pool_for(concurrency: int) -> lanepool.Pool:
    if concurrency not in _POOLS:
        _POOLS[concurrency] = lanepool.Pool(workers=concurrency)
    return _POOLS[concurrency]


def test_vectors_present():
    assert len(VECTORS) >= 50
    ids = {p.id for p in VECTORS}
    assert any(i.startswith("kafka-") for i in ids) and any(i.startswith("custom-group-key-") for i in ids)


def event_records(event) -> list:
    """The event's records in event order: `Records`, or a Kafka event's `records` groups."""
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        return event["Records"]
    groups = event.get("records") if isinstance(event, dict) else None
    if isinstance(groups, dict):
        return [r for group in groups.values() if isinstance(group, list) for r in group]
    return []


def key_lane(options: dict):
    """Rule 5's lane, with a custom key as the core's key rule makes it: an integer is its
    decimal string (7 and "7" are one lane)."""
    lane_of = vector_lane(options)

    def lane(record):
        value = lane_of(record)
        if options.get("group_key") is not None and isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    return lane


class ShapedContext:
    """A context of a vector's `options.context` shape (tests/vectors/README.md)."""

    RETURNS = {
        "returns-string": "30000",
        "returns-boolean": True,
        "returns-nan": float("nan"),
        "returns-infinity": float("inf"),
    }

    def __init__(self, shape: str) -> None:
        self._value = self.RETURNS[shape]

    def get_remaining_time_in_millis(self):
        return self._value


class NoMethodContext:
    """A context without get_remaining_time_in_millis (and not a mapping)."""

    aws_request_id = "req-1"


def make_context(options: dict):
    """The call's context: of `options.context`'s shape, else counting down from
    `remaining_time_ms`, else None."""
    shape = options.get("context")
    if shape == "missing-method":
        return NoMethodContext()
    if shape is not None:
        return ShapedContext(shape)
    remaining = options.get("remaining_time_ms")
    return Context(remaining) if remaining is not None else None


CONTEXT_ERRORS = (TypeError, ValueError)


def call(mode: str, vector: dict, recorder: Recorder):
    """Runs the vector's event in `mode`; returns (report or exception, seconds taken)."""
    options = vector.get("options", {})
    pool = pool_for(options.get("concurrency", 4))
    group_key = options.get("group_key")
    kwargs = dict(
        ordering=options.get("ordering", "auto"),
        # the value found at the path, as it is (absent: None): the face judges it
        group_key=(lambda r: dotted(r, group_key)) if group_key is not None else None,
        retries=options.get("retries", 0),
        retry_backoff_ms=options.get("retry_backoff_ms", 1),
        raise_on_full_batch_failure=options.get("raise_on_full_batch_failure", True),
        deadline_margin_ms=options.get("deadline_margin_ms", 0),
        cancel_at_deadline=options.get("cancel_at_deadline", True),
        attempt_timeout_ms=options.get("attempt_timeout_ms"),
        max_per_second=options.get("max_per_second"),
        concurrency=options.get("concurrency"),
    )
    event = vector["event"]

    def timed(fn):
        ctx = make_context(options)
        start = time.monotonic()
        try:
            return fn(ctx), time.monotonic() - start
        except (lanepool.EventError, lanepool.BatchFailedError, *CONTEXT_ERRORS) as e:
            return e, time.monotonic() - start

    if mode == "sync":
        return timed(lambda ctx: pool.run_batch(event, recorder.sync, context=ctx, **kwargs))
    if mode == "async-handler":
        return timed(lambda ctx: pool.run_batch(event, recorder.async_, context=ctx, **kwargs))

    async def main():
        ctx = make_context(options)
        start = time.monotonic()
        try:
            report = await pool.run_batch_async(event, recorder.async_, context=ctx, **kwargs)
        except (lanepool.EventError, lanepool.BatchFailedError, *CONTEXT_ERRORS) as e:
            report = e
        return report, time.monotonic() - start

    return asyncio.run(main())


EVENT_VECTORS = [v for v in VECTORS if "jobs" not in v.values[0]]  # the others: test_job_vector


@pytest.mark.parametrize("mode", ["sync", "async-handler", "run_batch_async"])
@pytest.mark.parametrize("vector", EVENT_VECTORS)
def test_vector(vector: dict, mode: str):
    if mode == "sync" and vector.get("handler", {}).get("async_only"):
        pytest.skip("async_only: sync handlers cannot be interrupted and are awaited")
    recorder = Recorder(vector.get("handler"))
    expect = vector["expect"]
    error = expect.get("error")
    why = vector["description"]
    origin = time.monotonic()
    result, took = call(mode, vector, recorder)
    # nothing runs after the call: every handler call had ended when it returned
    assert recorder.all_ended(), f"{why}: a handler call was still running"
    if "returns_within_ms" in expect:
        assert took * 1000 < expect["returns_within_ms"], f"{why}: took {took * 1000:.0f} ms"
    if isinstance(result, (lanepool.EventError, *CONTEXT_ERRORS)):
        raised, report = result, None
    elif isinstance(result, lanepool.BatchFailedError):
        raised, report = result, result.report
    else:
        raised, report = None, result

    if error is None:
        assert raised is None, f"{why}: raised {raised!r}"
    elif error["kind"] == "ContextError":
        assert isinstance(raised, CONTEXT_ERRORS), f"{why}: got {raised!r}"
        assert not isinstance(raised, lanepool.EventError), why
        assert "get_remaining_time_in_millis" in str(raised), str(raised)
        assert recorder.calls == [], f"{why}: a handler ran"
        return
    elif error["kind"] == "EventError":
        assert isinstance(raised, lanepool.EventError), f"{why}: got {raised!r}"
        assert isinstance(raised, ValueError)
        assert (raised.index, raised.field) == (error.get("index"), error.get("field")), why
        if "group" in error:  # a Kafka event's records key, named in the message too
            assert raised.group == error["group"], why
            assert error["group"] in str(raised), why
        if error.get("index") is not None:
            assert f"record {error['index']}" in str(raised)
        if error.get("field") is not None:
            assert error["field"] in str(raised)
        assert recorder.calls == [], f"{why}: a handler ran"
        return
    else:
        assert error["kind"] == "BatchFailed"
        assert isinstance(raised, lanepool.BatchFailedError), f"{why}: got {raised!r}"
        assert raised.report is report

    assert report.response == {"batchItemFailures": expect["batchItemFailures"]}, why
    # Kafka identifiers are objects in the report; the vectors write them as text
    assert [dict(o, itemIdentifier=identifier_text(o["itemIdentifier"])) for o in report.outcomes] == expect[
        "outcomes"
    ], why
    records = event_records(vector["event"])
    for outcome in expect["outcomes"]:
        rid = outcome["itemIdentifier"]
        assert recorder.counts.get(rid, 0) == outcome["attempts"], f"{why}: calls of {rid}"
    # failures carry the reason, the attempts and the exception of the last attempt
    by_id = {o["itemIdentifier"]: o for o in expect["outcomes"]}
    for failure in report.failures:
        o = by_id[identifier_text(failure.item_identifier)]
        assert failure.reason == o["outcome"]
        assert failure.attempts == o["attempts"]
        assert records[failure.index] is not None
        if failure.reason == "error":
            assert isinstance(failure.exception, RuntimeError)
        elif failure.reason == "deadline" and failure.attempts:
            # cancelled at the deadline: the CancelledError its sleep raised is kept
            assert isinstance(failure.exception, asyncio.CancelledError), why
        elif failure.reason == "timeout":
            # cancelled for its timeout: a TimeoutError naming the option
            assert isinstance(failure.exception, TimeoutError), why
            assert "attempt_timeout_ms" in str(failure.exception)
        else:
            assert failure.exception is None
    assert [identifier_text(i) for i in report.succeeded] == [
        o["itemIdentifier"] for o in expect["outcomes"] if o["outcome"] == "succeeded"
    ]
    summary = report.summary
    assert summary["records"] == len(records)
    assert summary["succeeded"] == len(report.succeeded)
    assert summary["failed"] == len(expect["batchItemFailures"])
    recorder.check_lanes(records, key_lane(vector.get("options", {})))
    check_starts(vector, recorder, origin)
    assert recorder.peak <= vector.get("options", {}).get("concurrency", 4)
    # handlers got the caller's own record objects
    assert all(any(r is x for x in records) for r in recorder.records)


def check_starts(vector: dict, recorder: Recorder, origin: float) -> None:
    """The start rate: each attempt started at the vector's time, within its tolerance."""
    expect = vector["expect"]
    starts = expect.get("attempt_starts_ms")
    if starts is None:
        return
    tolerance = expect["start_tolerance_ms"]
    for rid, want in starts.items():
        got = sorted((start - origin) * 1000 for r, start, _end in recorder.calls if r == rid)
        assert len(got) == len(want), f"{vector['description']}: starts of {rid}: {got}"
        for attempt, (g, w) in enumerate(zip(got, want), 1):
            assert w - tolerance <= g <= w + tolerance, f"{rid} attempt {attempt} started at {g:.0f} ms, want {w} ms"


JOB_VECTORS = [v for v in VECTORS if "jobs" in v.values[0]]


def test_job_vectors_present():
    assert len(JOB_VECTORS) >= 5


@pytest.mark.parametrize("mode", ["sync", "run_jobs", "run_jobs_async"])
@pytest.mark.parametrize("vector", JOB_VECTORS)
def test_job_vector(vector: dict, mode: str):
    """A vector's list of jobs through ``run_jobs`` (a sync and an async ``fn``) and
    ``run_jobs_async``: job ``i`` is the item ``{"messageId": "i", ...}``, its key the job's."""
    handler_spec = vector.get("handler", {})
    if mode == "sync" and handler_spec.get("async_only"):
        pytest.skip("async_only: sync functions cannot be interrupted")
    if mode == "sync" and vector["expect"].get("attempt_starts_ms") and handler_spec.get("sleep_ms"):
        pytest.skip("start times with sleeping sync functions depend on the pool's threads")
    options = vector.get("options", {})
    pool = pool_for(options.get("concurrency", 4))
    recorder = Recorder(handler_spec)
    items = [{"messageId": str(i), **job} for i, job in enumerate(vector["jobs"])]
    kwargs = dict(
        key=lambda item: item.get("key"),
        retries=options.get("retries", 0),
        retry_backoff_ms=options.get("retry_backoff_ms", 1),
        deadline_margin_ms=options.get("deadline_margin_ms", 0),
        attempt_timeout_ms=options.get("attempt_timeout_ms"),
        max_per_second=options.get("max_per_second"),
        concurrency=options.get("concurrency"),
    )
    expect = vector["expect"]
    why = vector["description"]
    origin = time.monotonic()
    ctx = make_context(options)
    try:
        if mode == "sync":
            report = pool.run_jobs(recorder.sync, items, context=ctx, **kwargs)
        elif mode == "run_jobs":
            report = pool.run_jobs(recorder.async_, items, context=ctx, **kwargs)
        else:
            report = asyncio.run(pool.run_jobs_async(recorder.async_, items, context=ctx, **kwargs))
    except lanepool.EventError as e:
        error = expect["error"]
        assert error is not None and error["kind"] == "EventError", f"{why}: raised {e!r}"
        assert (e.index, e.field) == (error.get("index"), error.get("field")), why
        assert recorder.calls == [], f"{why}: a job ran"
        return
    took = time.monotonic() - origin
    assert expect["error"] is None, f"{why}: returned {report!r}"
    assert recorder.all_ended(), f"{why}: a call was still running"
    if "returns_within_ms" in expect:
        assert took * 1000 < expect["returns_within_ms"], f"{why}: took {took * 1000:.0f} ms"
    outcomes = {o["itemIdentifier"]: o for o in expect["outcomes"]}
    failures = {str(f.index): f for f in report.failures}
    for rid, o in outcomes.items():
        i = int(rid)
        assert recorder.counts.get(rid, 0) == o["attempts"], f"{why}: calls of {rid}"
        if o["outcome"] == "succeeded":
            assert rid not in failures, f"{why}: job {rid} failed: {failures.get(rid)}"
        else:
            f = failures[rid]
            assert (f.reason, f.attempts, f.item) == (o["outcome"], o["attempts"], items[i]), why
            assert report.results[i] is None
    assert report.ok == (not failures)
    assert report.summary["timeout"] == sum(1 for o in outcomes.values() if o["outcome"] == "timeout")
    check_starts(vector, recorder, origin)
