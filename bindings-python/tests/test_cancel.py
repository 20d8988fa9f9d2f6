"""Async handlers running at the deadline: cancelled and waited for (default), or awaited."""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import Context

import lanepool

POOL = lanepool.Pool(workers=4)


def sqs_event(n: int) -> dict:
    return {"Records": [{"eventSource": "aws:sqs", "messageId": f"m{i}"} for i in range(n)]}


class Counter:
    """Counts handler calls running, ended and those that got past their long sleep."""

    def __init__(self) -> None:
        self.running = 0
        self.ended = 0
        self.finished = 0

    async def handler(self, record, seconds: float = 5.0) -> None:
        self.running += 1
        try:
            await asyncio.sleep(seconds)
            self.finished += 1
        finally:
            self.running -= 1
            self.ended += 1


def check_cancelled(report, counter: Counter, n: int) -> None:
    assert [o["outcome"] for o in report.outcomes] == ["deadline"] * n
    assert [o["attempts"] for o in report.outcomes] == [1] * n
    assert all(isinstance(f.exception, asyncio.CancelledError) for f in report.failures)
    assert counter.running == 0 and counter.ended == n and counter.finished == 0


def test_process_async_cancels_running_handlers_at_the_deadline():
    counter = Counter()

    async def main():
        start = time.monotonic()
        report = await POOL.run_batch_async(
            sqs_event(4),
            counter.handler,
            context=Context(700),
            deadline_margin_ms=300,
            raise_on_full_batch_failure=False,
        )
        took = time.monotonic() - start
        await asyncio.sleep(0.3)  # the loop goes on: nothing of the batch may run now
        return report, took

    report, took = asyncio.run(main())
    assert took < 1.0  # the handlers would take 5 s
    check_cancelled(report, counter, 4)


def test_sync_call_with_async_handler_cancels_at_the_deadline():
    counter = Counter()
    start = time.monotonic()
    with pytest.raises(lanepool.BatchFailedError) as info:
        POOL.process(sqs_event(3), counter.handler, context=Context(700), deadline_margin_ms=300)
    assert time.monotonic() - start < 1.0
    time.sleep(0.2)
    check_cancelled(info.value.report, counter, 3)


def test_cancel_at_deadline_false_awaits_running_handlers():
    counter = Counter()

    async def handler(record):
        await counter.handler(record, 0.6)

    report = POOL.run_batch(
        sqs_event(2),
        handler,
        context=Context(500),
        deadline_margin_ms=300,  # the deadline is 200 ms in, the handlers take 600 ms
        cancel_at_deadline=False,
    )
    assert report.succeeded == ["m0", "m1"]
    assert counter.finished == 2 and counter.running == 0


def test_handler_swallowing_the_cancellation_is_waited_for():
    cleaned: list[str] = []

    async def handler(record):
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            await asyncio.sleep(0.2)  # cleanup that still awaits
            cleaned.append(record["messageId"])
            if record["messageId"] == "m1":
                raise ValueError("cleanup failed") from None
            # m0 swallows the cancellation and returns

    async def main():
        report = await POOL.run_batch_async(
            sqs_event(2),
            handler,
            context=Context(500),
            deadline_margin_ms=300,
            raise_on_full_batch_failure=False,
        )
        return report, list(cleaned)

    report, cleaned_at_return = asyncio.run(main())
    assert sorted(cleaned_at_return) == ["m0", "m1"]
    assert [(f.item_identifier, f.reason, f.attempts) for f in report.failures] == [
        ("m0", "deadline", 1),
        ("m1", "deadline", 1),
    ]
    m0, m1 = report.failures
    assert m0.exception is None  # it returned normally after the cancellation
    assert isinstance(m1.exception, ValueError)


def test_sync_handlers_are_awaited_at_the_deadline():
    ended: list[str] = []

    def handler(record):
        time.sleep(0.4)
        ended.append(record["messageId"])

    report = POOL.run_batch(
        sqs_event(2), handler, context=Context(500), deadline_margin_ms=300, cancel_at_deadline=True
    )
    assert report.succeeded == ["m0", "m1"] and len(ended) == 2


def test_records_waiting_for_a_slot_end_as_deadline_unstarted():
    counter = Counter()
    pool = lanepool.Pool(workers=1)
    report = pool.run_batch(
        sqs_event(3),
        counter.handler,
        context=Context(500),
        deadline_margin_ms=300,
        raise_on_full_batch_failure=False,
    )
    assert report.outcomes == [
        {"itemIdentifier": "m0", "outcome": "deadline", "attempts": 1},
        {"itemIdentifier": "m1", "outcome": "deadline", "attempts": 0},
        {"itemIdentifier": "m2", "outcome": "deadline", "attempts": 0},
    ]
    assert counter.ended == 1 and counter.running == 0


def test_parallel_batch_processor_reports_stopped_records():
    pytest.importorskip("aws_lambda_powertools")
    from aws_lambda_powertools.utilities.batch import EventType, async_process_partial_response

    from lanepool.powertools import DeadlineRecordError, ParallelBatchProcessor

    counter = Counter()
    processor = ParallelBatchProcessor(
        EventType.SQS, pool=POOL, deadline_margin_ms=300, raise_on_entire_batch_failure=False
    )
    event = {
        "Records": [
            {"eventSource": "aws:sqs", "messageId": f"m{i}", "body": "", "attributes": {}}
            for i in range(2)
        ]
    }
    response = async_process_partial_response(event, counter.handler, processor, Context(500))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]}
    assert counter.running == 0 and counter.finished == 0
    for _, exc, _ in processor.exceptions:
        assert isinstance(exc, DeadlineRecordError) and "was stopped" in str(exc)
        assert isinstance(exc.__cause__, asyncio.CancelledError)


def test_a_cancelled_handler_ending_with_a_base_exception_stops_the_call():
    """A handler cancelled at the deadline that ends with SystemExit (not the CancelledError it
    was sent) is no record failure: the call raises it, after every handler ended."""
    ended = []

    async def handler(record):
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            if record["messageId"] == "m1":
                raise SystemExit("stop") from None
            raise
        finally:
            ended.append(record["messageId"])

    with pytest.raises(SystemExit, match="stop"):
        POOL.run_batch(sqs_event(3), handler, context=Context(300), deadline_margin_ms=100)
    assert sorted(ended) == ["m0", "m1", "m2"]
