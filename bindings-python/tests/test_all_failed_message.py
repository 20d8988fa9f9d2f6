"""The all-failed error says why no record succeeded: the core's message, with the records by
reason and, for deadline records, the remaining time at the start and the margin; the first
failed record's exception is its __cause__."""

from __future__ import annotations

import re

import pytest

import lanepool

pool = lanepool.Pool(workers=2)


def sqs(*ids: tuple[str, str | None]) -> dict:
    records = []
    for mid, group in ids:
        record: dict = {"messageId": mid, "eventSource": "aws:sqs", "body": mid}
        if group is not None:
            record["attributes"] = {"MessageGroupId": group}
        records.append(record)
    return {"Records": records}


class Ctx:
    """A Lambda context whose remaining time always reads as `ms`."""

    def __init__(self, ms: float) -> None:
        self.ms = ms

    def get_remaining_time_in_millis(self) -> float:
        return self.ms


def test_counts_by_reason_and_the_first_error_as_cause() -> None:
    def handler(record: dict) -> None:
        raise RuntimeError(f"bad record {record['messageId']}")

    event = sqs(("m0", "g"), ("m1", None), ("m2", "g"))
    with pytest.raises(lanepool.BatchFailedError) as info:
        pool.process(event, handler)
    assert str(info.value) == "every record of the batch failed (3 records: 2 error, 1 skipped)"
    assert isinstance(info.value.__cause__, RuntimeError)
    assert str(info.value.__cause__) == "bad record m0"


def test_one_record_is_singular() -> None:
    def handler(record: dict) -> None:
        raise ValueError("down")

    with pytest.raises(lanepool.BatchFailedError, match=re.escape("(1 record: 1 error)")):
        pool.process(sqs(("m0", None)), handler)


def test_deadline_records_say_the_remaining_time_and_the_margin() -> None:
    calls: list[dict] = []
    with pytest.raises(lanepool.BatchFailedError) as info:
        pool.process(sqs(("m0", None), ("m1", None)), calls.append, context=Ctx(1))
    assert calls == []
    message = str(info.value)
    # Measured at the batch's start, a moment after the context was read: 1 ms or 0 ms.
    assert re.fullmatch(
        r"every record of the batch failed \(2 records: 2 deadline; the remaining time was [01] ms "
        r"at the start and the deadline margin 500 ms\)",
        message,
    ), message
    assert info.value.report.summary["deadline"] == 2


def test_async_calls_give_the_same_message() -> None:
    import asyncio

    async def handler(record: dict) -> None:
        raise RuntimeError("nope")

    with pytest.raises(lanepool.BatchFailedError) as info:
        asyncio.run(pool.run_batch_async(sqs(("m0", "g"), ("m1", "g")), handler))
    assert str(info.value) == "every record of the batch failed (2 records: 1 error, 1 skipped)"
    assert str(info.value.__cause__) == "nope"
