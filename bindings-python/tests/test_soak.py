"""A short run of bindings-python/soak.py (resources flat, every response right), and the
leak it found: reports in reference cycles must be collectable."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

import lanepool

SOAK = Path(__file__).resolve().parents[1] / "soak.py"
POOL = lanepool.Pool(workers=2)


def test_short_soak():
    child = subprocess.run(
        [sys.executable, str(SOAK), "--invocations", "300"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stdout + child.stderr
    assert "every response matched the model" in child.stdout


class Sentinel:
    """Something to hold a weak reference to."""


@pytest.mark.parametrize("is_async", [False, True])
def test_report_in_a_reference_cycle_is_collected(is_async):
    event = {"Records": [{"eventSource": "aws:sqs", "messageId": "m0"}]}
    sentinel = Sentinel()
    alive = weakref.ref(sentinel)

    def body(record):
        raise ValueError("fails")

    async def abody(record):
        body(record)

    report = POOL.run_batch(event, abody if is_async else body, raise_on_full_batch_failure=False)
    exc = report.failures[0].exception
    exc.report, exc.sentinel = report, sentinel  # report -> exception -> report
    del report, exc, sentinel
    gc.collect()
    assert alive() is None


def test_failure_in_a_reference_cycle_is_collected():
    event = {"Records": [{"eventSource": "aws:sqs", "messageId": "m0"}]}
    sentinel = Sentinel()
    alive = weakref.ref(sentinel)

    async def abody(record):
        raise ValueError("fails")

    report = asyncio.run(POOL.run_batch_async(event, abody, raise_on_full_batch_failure=False))
    failure = report.failures[0]
    failure.exception.failure, failure.exception.sentinel = failure, sentinel
    del report, failure, sentinel
    gc.collect()
    assert alive() is None
