"""Jobs (``run_jobs`` / ``run_jobs_async``), ``map`` with async functions, the attempt timeout
and the start rate through the public API, and the coordinator example."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
from pathlib import Path

import pytest

import lanepool

POOL = lanepool.Pool(workers=4)
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "python" / "coordinator.py"


async def hang_first(n: int) -> int:
    if n == 0:
        await asyncio.sleep(5)
    return n * 10


def test_run_jobs_results_are_aligned_and_failures_name_the_item():
    report = POOL.run_jobs(lambda n: 10 // n, [5, 0, 2])
    assert report.results == [2, None, 5]
    assert [(f.index, f.item, f.reason, f.attempts) for f in report.failures] == [(1, 0, "error", 1)]
    assert isinstance(report.failures[0].exception, ZeroDivisionError)
    assert report.ok is False
    assert report.summary["succeeded"] == 2 and report.summary["error"] == 1


def test_every_job_failing_raises_nothing():
    report = POOL.run_jobs(lambda n: 1 // 0, [1, 2])
    assert report.results == [None, None] and not report.ok


def test_a_failed_job_skips_the_rest_of_its_key_only():
    calls: list[int] = []

    def job(n: int) -> int:
        calls.append(n)
        if n == 1:
            raise ValueError(n)
        return n

    report = POOL.run_jobs(job, [0, 1, 2, 3], key=lambda n: "a" if n < 3 else None, concurrency=1)
    assert report.results == [0, None, None, 3]
    assert [(f.index, f.reason) for f in report.failures] == [(1, "error"), (2, "skipped")]
    assert 2 not in calls


def test_the_attempt_timeout_cancels_and_skips_its_key():
    start = time.monotonic()
    report = POOL.run_jobs(hang_first, [0, 1, 2, 3], key=lambda n: "a" if n in (0, 2) else None,
                           attempt_timeout_ms=100)
    assert time.monotonic() - start < 2
    assert report.results == [None, 10, None, 30]
    assert [(f.index, f.reason) for f in report.failures] == [(0, "timeout"), (2, "skipped")]
    assert isinstance(report.failures[0].exception, TimeoutError)
    assert report.summary["timeout"] == 1


def test_a_timed_out_attempt_is_retried():
    calls: dict[int, int] = {}

    async def once_slow(n: int) -> int:
        calls[n] = calls.get(n, 0) + 1
        if calls[n] == 1:
            await asyncio.sleep(5)
        return n

    report = POOL.run_jobs(once_slow, [7], attempt_timeout_ms=50, retries=1, retry_backoff_ms=1)
    assert report.results == [7] and report.ok and report.summary["retries"] == 1


def test_a_timed_out_batch_record_is_reported_like_a_failed_one():
    async def handler(record: dict) -> None:
        if record["messageId"] == "m0":
            await asyncio.sleep(5)

    event = {"Records": [{"messageId": f"m{i}", "eventSource": "aws:sqs", "body": ""} for i in range(2)]}
    response = asyncio.run(POOL.process_async(event, handler, attempt_timeout_ms=50))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}


@pytest.mark.parametrize("call", ["run_jobs", "process"])
def test_the_attempt_timeout_with_a_sync_function_is_refused_before_anything_runs(call: str):
    ran: list[object] = []
    with pytest.raises(ValueError, match="attempt_timeout"):
        if call == "run_jobs":
            POOL.run_jobs(ran.append, [1], attempt_timeout_ms=10)
        else:
            POOL.process({"Records": [{"messageId": "m", "eventSource": "aws:sqs"}]}, ran.append,
                         attempt_timeout_ms=10)
    assert ran == []


def test_the_start_rate_spaces_the_starts():
    starts: list[float] = []

    async def job(n: int) -> int:
        starts.append(time.monotonic())
        return n

    origin = time.monotonic()
    report = POOL.run_jobs(job, range(6), max_per_second=10)  # bursts of 10: no wait
    assert report.ok and report.summary["rate_wait_ms"] == 0
    starts.clear()
    origin = time.monotonic()
    report = POOL.run_jobs(job, range(6), max_per_second=4)  # 4 at once, then one per 250 ms
    assert report.ok
    late = sorted(s - origin for s in starts)[4:]
    assert 0.2 <= late[0] and 0.45 <= late[1], late
    assert report.summary["rate_wait_ms"] > 0


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_a_bad_rate_is_refused(bad: float):
    with pytest.raises(ValueError, match="max_per_second"):
        POOL.run_jobs(hang_first, [1], max_per_second=bad)


def test_batch_only_options_are_refused_for_jobs():
    with pytest.raises(TypeError, match="ordering"):
        POOL.run_jobs(str, [1], ordering="unordered")  # type: ignore[call-arg]


def test_a_key_of_another_type_is_an_event_error_naming_the_item():
    with pytest.raises(lanepool.EventError) as raised:
        POOL.run_jobs(str, ["a", "b"], key=lambda item: 1.5 if item == "b" else "k")  # type: ignore[arg-type,return-value]
    assert raised.value.index == 1


def test_map_awaits_async_functions():
    async def double(n: int) -> int:
        await asyncio.sleep(0)
        return n * 2

    assert POOL.map(double, [1, 2, 3]) == [2, 4, 6]
    assert asyncio.run(POOL.map_async(double, [4])) == [8]

    async def fails(n: int) -> int:
        raise ValueError(n)

    with pytest.raises(lanepool.ExceptionGroup) as raised:
        POOL.map(fails, [1, 2])
    assert [e.args for e in raised.value.exceptions] == [(1,), (2,)]


def test_the_coordinator_ends_every_job_right_and_the_naive_fan_out_does_not():
    spec = importlib.util.spec_from_file_location("coordinator_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["coordinator_example"] = module
    spec.loader.exec_module(module)
    naive, coordinated = asyncio.run(module.run())
    assert coordinated["ok"] and coordinated["results_right"] and coordinated["succeeded"] == 200
    assert coordinated["throttled"] == 0 and coordinated["hung"] == 3
    assert coordinated["retries"] == coordinated["transient"] + 3
    assert not naive["ok"] and naive["throttled"] >= 100 and naive["error"] >= naive["throttled"]
    assert naive["deadline"] == naive["hung"] > 0 and naive["wall_s"] >= 1.4
