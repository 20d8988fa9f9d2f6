"""The core's hostile-bookkeeping paths as the Python face reaches them: a retried exception
whose ``__del__`` raises, a scope's last reference dropped by a nested task on another worker,
and a whole call cancelled before its deadline. Each call must return, and no record or task
may run after it returned."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

import pytest

import lanepool
from conftest import sqs_event

POOL = lanepool.Pool(workers=2)
HANG_LIMIT_S = 30


def finishes(fn, limit_s: float = HANG_LIMIT_S):
    """Runs ``fn`` on a daemon thread; fails (instead of hanging the run) after ``limit_s``."""
    out: dict = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as exc:  # handed back to the test
            out["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(limit_s)
    assert not t.is_alive(), f"did not finish within {limit_s} s (deadlock?)"
    if "error" in out:
        raise out["error"]
    return out.get("value")


class RaisingDel(Exception):
    """An exception whose finaliser raises."""

    def __del__(self):
        raise RuntimeError("__del__ raised")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("mode", ["sync", "async", "run_batch_async"])
def test_a_retried_exception_whose_del_raises_still_ends_its_record(mode):
    attempts: dict[str, int] = {}

    def body(record):
        n = attempts[record["messageId"]] = attempts.get(record["messageId"], 0) + 1
        if record["messageId"] == "m0" and n == 1:
            raise RaisingDel("first attempt")

    async def async_body(record):
        await asyncio.sleep(0)
        body(record)

    kwargs = dict(retries=1, retry_backoff_ms=10)
    if mode == "sync":
        report = finishes(lambda: POOL.run_batch(sqs_event(2), body, **kwargs))
    elif mode == "async":
        report = finishes(lambda: POOL.run_batch(sqs_event(2), async_body, **kwargs))
    else:
        report = finishes(lambda: asyncio.run(POOL.run_batch_async(sqs_event(2), async_body, **kwargs)))
    gc.collect()
    assert report.succeeded == ["m0", "m1"]
    assert attempts == {"m0": 2, "m1": 1}


def test_a_scope_whose_last_reference_a_nested_task_drops_on_another_worker_does_not_wait():
    owner = {}
    holder = []
    dropped_on = []

    def item(_):
        if threading.get_ident() == owner["ident"]:
            time.sleep(0.2)
        elif holder:
            dropped_on.append(threading.get_ident())
            holder.clear()  # the last reference to the scope: must not wait for itself

    def task():
        owner["ident"] = threading.get_ident()
        POOL.map(item, range(4))

    def run():
        scope = POOL.scope()
        scope.spawn(task)
        holder.append(scope)
        del scope
        deadline = time.monotonic() + HANG_LIMIT_S
        while holder and time.monotonic() < deadline:
            time.sleep(0.01)

    finishes(run)
    assert not holder, "the nested task never dropped the scope"
    assert dropped_on and dropped_on[0] != owner["ident"]


def test_a_call_cancelled_before_its_deadline_returns_and_runs_nothing_after():
    started: list[str] = []

    async def handler(record):
        started.append(record["messageId"])
        await asyncio.sleep(0.05)

    async def main():
        with pytest.raises((asyncio.TimeoutError, TimeoutError)):
            await asyncio.wait_for(POOL.process_async(sqs_event(6, group="one-lane"), handler), 0.08)
        seen = list(started)
        await asyncio.sleep(0.2)
        return seen

    seen = finishes(lambda: asyncio.run(main()))
    assert 1 <= len(seen) < 6
    assert started == seen, "a record started after the call was cancelled"
    assert seen == [f"m{i}" for i in range(len(seen))]
