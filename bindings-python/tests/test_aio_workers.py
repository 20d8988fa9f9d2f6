"""The asyncio driver runs several records in one worker task (lanepool/_aio.py): each attempt
still behaves as if it had a task of its own (its own context, cancellation, timeouts), and
the loop still gets to run other work during a batch of handlers that never wait."""

from __future__ import annotations

import asyncio
import contextvars
import sys

import pytest
from conftest import sqs_event

import lanepool

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


@pytest.mark.parametrize("workers", [1, 3])
def test_each_attempt_runs_in_its_own_copy_of_the_callers_context(workers):
    seen = []

    async def handler(record):
        seen.append(VAR.get())
        VAR.set(record["messageId"])  # must not leak into the next record of this worker
        await asyncio.sleep(0)
        assert VAR.get() == record["messageId"]  # kept across its own suspension

    async def main():
        VAR.set("caller")
        report = await lanepool.Pool(workers=workers).run_batch_async(sqs_event(50), handler)
        return report, VAR.get()

    report, after = asyncio.run(main())
    assert report.summary["succeeded"] == 50
    assert seen == ["caller"] * 50
    assert after == "caller"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is 3.11+")
def test_a_timeout_inside_a_handler_fails_that_record_only():
    async def handler(record):
        if record["body"] == "3":
            async with asyncio.timeout(0.01):
                await asyncio.sleep(5)
        else:
            async with asyncio.timeout(5):
                await asyncio.sleep(0)

    report = asyncio.run(
        lanepool.Pool(workers=2).run_batch_async(sqs_event(20), handler, raise_on_full_batch_failure=False)
    )
    assert report.response == {"batchItemFailures": [{"itemIdentifier": "m3"}]}
    assert isinstance(report.failures[0].exception, TimeoutError)


def test_a_handler_that_cancels_its_task_and_returns_stops_the_call():
    # As when each attempt was a task of its own: the attempt ends cancelled, and a
    # CancelledError (no Exception) stops the call: no record starts after it.
    seen = []

    async def handler(record):
        seen.append(record["messageId"])
        if record["body"] == "2":
            task = asyncio.current_task()
            assert task is not None
            task.cancel()

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(lanepool.Pool(workers=1).run_batch_async(sqs_event(6), handler))
    assert seen == ["m0", "m1", "m2"]


def test_other_tasks_run_during_a_batch_of_handlers_that_never_wait():
    ticks = []
    calls = 0

    async def handler(record):
        nonlocal calls
        calls += 1

    async def ticker():
        while True:
            ticks.append(calls)
            await asyncio.sleep(0)

    async def main():
        tick = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        await lanepool.Pool(workers=2).process_async(sqs_event(1000), handler)
        tick.cancel()

    asyncio.run(main())
    during = [t for t in ticks if 0 < t < 1000]
    assert len(during) >= 10, ticks[:20]


def test_a_worker_failing_a_record_with_retries_still_retries_it_on_time():
    attempts: dict[str, int] = {}

    async def handler(record):
        key = record["messageId"]
        attempts[key] = attempts.get(key, 0) + 1
        if key == "m1" and attempts[key] == 1:
            raise ValueError("first attempt")

    report = asyncio.run(
        lanepool.Pool(workers=2).run_batch_async(sqs_event(40), handler, retries=1, retry_backoff_ms=5)
    )
    assert report.response == {"batchItemFailures": []}
    assert attempts["m1"] == 2
    assert sum(attempts.values()) == 41


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is 3.11+")
def test_a_task_group_failing_in_one_handler_leaves_the_next_records_of_its_worker_alone():
    async def child(fail: bool) -> None:
        await asyncio.sleep(0)
        if fail:
            raise ValueError("child")
        await asyncio.sleep(5)

    async def handler(record):
        if record["body"] == "1":
            async with asyncio.TaskGroup() as group:  # cancels this task, then uncancels it
                group.create_task(child(True))
                group.create_task(child(False))
        else:
            async with asyncio.timeout(5):  # would misread a cancellation left on the task
                await asyncio.sleep(0)

    report = asyncio.run(
        lanepool.Pool(workers=1).run_batch_async(sqs_event(5), handler, raise_on_full_batch_failure=False)
    )
    assert report.response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert isinstance(report.failures[0].exception, lanepool.ExceptionGroup)
