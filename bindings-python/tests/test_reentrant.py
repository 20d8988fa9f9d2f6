"""Re-entrant use: a pool used from its own handlers and tasks, from many threads at once,
and pools that go away leave no threads behind."""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import os
import sys
import threading
import time

import lanepool

WATCHDOG_S = 60.0


def run_watched(fn, timeout: float = WATCHDOG_S):
    """Runs `fn()` on a daemon thread; fails (with every thread's stack on stderr) if it has
    not returned within `timeout` seconds, so a deadlock fails instead of hanging."""
    box: list = []

    def target():
        try:
            box.append((True, fn()))
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            box.append((False, exc))

    thread = threading.Thread(target=target, daemon=True, name="watched")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        raise AssertionError(f"no result after {timeout} s: deadlock")
    ok, value = box[0]
    if not ok:
        raise value
    return value


def sqs_event(n: int, prefix: str = "m", groups: int = 0) -> dict:
    records = []
    for i in range(n):
        record = {"eventSource": "aws:sqs", "messageId": f"{prefix}{i}", "body": str(i)}
        if groups:
            record["attributes"] = {"MessageGroupId": f"g{i % groups}"}
        records.append(record)
    return {"Records": records}


def thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def quiet_thread_count(timeout: float = 5.0) -> int:
    """The thread count once it has held still for 200 ms: threads of pools collected by
    earlier tests may still be exiting, and a baseline taken while they do is too high."""
    end = time.monotonic() + timeout
    gc.collect()
    count = thread_count()
    still_since = time.monotonic()
    while time.monotonic() < end and time.monotonic() - still_since < 0.2:
        time.sleep(0.02)
        now = thread_count()
        if now != count:
            count, still_since = now, time.monotonic()
    return count


def settle_to(baseline: int, timeout: float = 5.0) -> int:
    """The thread count once it is back to `baseline` (or after `timeout` seconds)."""
    end = time.monotonic() + timeout
    while thread_count() > baseline and time.monotonic() < end:
        gc.collect()
        time.sleep(0.02)
    return thread_count()


def test_handler_using_the_same_pool_three_deep_with_every_worker_busy():
    pool = lanepool.Pool(workers=2)
    lock = threading.Lock()
    leaves: list = []

    def leaf(x):
        time.sleep(0.002)
        with lock:
            leaves.append(x)
        return x * 2

    def level3(record):  # a batch inside a batch inside a batch: map + scope inside
        with pool.scope() as s:
            task = s.spawn(lambda: sum(pool.map(leaf, range(3))))
        assert task.result() == 6

    def level2(record):
        time.sleep(0.005)  # keep every worker busy while the inner levels queue work
        response = pool.process(sqs_event(3, "c", groups=2), level3)
        assert response == {"batchItemFailures": []}

    def level1(record):
        time.sleep(0.005)
        assert pool.process(sqs_event(3, "b"), level2) == {"batchItemFailures": []}
        with pool.scope() as s:
            tasks = [s.spawn(pool.map, leaf, range(2)) for _ in range(2)]
        assert [t.result() for t in tasks] == [[0, 2], [0, 2]]

    response = run_watched(lambda: pool.process(sqs_event(4, groups=2), level1))
    assert response == {"batchItemFailures": []}
    # 4 outer records x (3 x 3 inner batches x 3 leaves + 2 maps x 2 leaves)
    assert len(leaves) == 4 * (3 * 3 * 3 + 4)


def test_async_handler_using_the_same_pool_from_its_loop():
    pool = lanepool.Pool(workers=2)

    async def inner(record):
        await asyncio.sleep(0.001)

    async def outer(record):
        await asyncio.sleep(0.001)
        # a sync call from inside a running loop: it runs on a private loop of its own
        assert pool.process(sqs_event(3, "i"), inner) == {"batchItemFailures": []}
        assert pool.map(lambda x: x + 1, range(3)) == [1, 2, 3]

    async def main():
        return await pool.process_async(sqs_event(4), outer)

    assert run_watched(lambda: asyncio.run(main())) == {"batchItemFailures": []}


def test_one_pool_from_many_python_threads_at_once():
    pool = lanepool.Pool(workers=3)
    errors: list = []

    def handler(record):
        if record["body"] == "3":
            raise ValueError("three")
        assert pool.map(lambda x: x * x, range(4)) == [0, 1, 4, 9]

    async def ahandler(record):
        await asyncio.sleep(0)
        handler(record)

    def worker(k: int):
        try:
            for j in range(15):
                h = ahandler if (k + j) % 3 == 0 else handler
                report = pool.run_batch(sqs_event(6, f"t{k}-", groups=2), h)
                ids = [f["itemIdentifier"] for f in report.response["batchItemFailures"]]
                assert ids == [f"t{k}-3", f"t{k}-5"], ids  # m3 fails and skips m5 (group g1)
                with pool.scope() as s:
                    task = s.spawn(sum, range(k + j))
                assert task.result() == sum(range(k + j))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def main():
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    run_watched(main)
    assert errors == []


def test_pool_dropped_while_idle_leaves_no_threads():
    baseline = quiet_thread_count()
    pool = lanepool.Pool(workers=4)
    assert pool.workers == 4
    assert thread_count() >= baseline + 4  # its four workers are running
    del pool
    assert settle_to(baseline) <= baseline


def test_pool_collected_after_use_leaves_no_threads():
    baseline = quiet_thread_count()
    pool = lanepool.Pool(workers=4)

    def handler(record):
        time.sleep(0.001)

    assert pool.process(sqs_event(16), handler) == {"batchItemFailures": []}
    assert pool.map(abs, range(-5, 5)) == [5, 4, 3, 2, 1, 0, 1, 2, 3, 4]
    with pool.scope() as scope:
        task = scope.spawn(time.sleep, 0.001)
    assert thread_count() > baseline  # its threads were running
    # a reference cycle, so only the collector frees it (a scope or task keeps its pool)
    holder: dict = {"pool": pool, "scope": scope, "task": task}
    holder["self"] = holder
    del pool, holder, scope, task
    assert settle_to(baseline) <= baseline
