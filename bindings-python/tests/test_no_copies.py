"""Handlers get the event's own record objects, also in a big event: nothing is copied or
serialised on the way (benches/python/bench.py rows (f) and (g) time it)."""

from __future__ import annotations

import asyncio

import pytest

import lanepool

POOL = lanepool.Pool(workers=4)
MODES = ["sync", "async", "run_batch_async"]


def big_event() -> dict:
    """10 records with 600 KB bodies: a 6 MB event."""
    return {
        "Records": [
            {"eventSource": "aws:sqs", "messageId": f"m{i}", "body": str(i) * 600_000}
            for i in range(10)
        ]
    }


@pytest.mark.parametrize("mode", MODES)
def test_handlers_get_the_events_own_records_and_bodies(mode):
    event = big_event()
    seen: dict = {}

    def note(record):
        seen[record["messageId"]] = (record, record["body"])

    if mode == "sync":
        report = POOL.run_batch(event, note)
    else:

        async def handler(record):
            note(record)

        if mode == "async":
            report = POOL.run_batch(event, handler)
        else:
            report = asyncio.run(POOL.run_batch_async(event, handler))
    assert len(report.succeeded) == 10
    for i, record in enumerate(event["Records"]):
        got, body = seen[f"m{i}"]
        assert got is record and body is record["body"]
