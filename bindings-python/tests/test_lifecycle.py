"""No handler code after return, record identity, concurrency and the GIL, fork, asyncio."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

import lanepool

# Created at import, as a Lambda function does at INIT; used by the fork test's child.
POOL = lanepool.Pool(workers=4)


def fifo(n, groups=3):
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "eventSource": "aws:sqs",
                "body": "x" * i,
                "attributes": {"MessageGroupId": f"g{i % groups}"},
            }
            for i in range(n)
        ]
    }


MODES = ["sync", "async", "run_batch_async"]


def run(mode, event, handler, pool=POOL, **kwargs):
    if mode == "run_batch_async":
        return asyncio.run(pool.run_batch_async(event, handler, **kwargs))
    return pool.run_batch(event, handler, **kwargs)


def logging_handler(mode, log, fail=()):
    lock = threading.Lock()
    if mode == "sync":

        def handler(record):
            with lock:
                log.append(("start", record["messageId"], time.monotonic()))
            time.sleep(0.001 * (len(record["body"]) % 7))
            with lock:
                log.append(("end", record["messageId"], time.monotonic()))
            if record["messageId"] in fail:
                raise ValueError(record["messageId"])

        return handler

    async def ahandler(record):
        log.append(("start", record["messageId"], time.monotonic()))
        await asyncio.sleep(0.001 * (len(record["body"]) % 7))
        log.append(("end", record["messageId"], time.monotonic()))
        if record["messageId"] in fail:
            raise ValueError(record["messageId"])

    return ahandler


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fail", [(), ("m3",), tuple(f"m{i}" for i in range(20))])
def test_no_handler_code_runs_after_return(mode, fail):
    log = []
    try:
        run(mode, fifo(20), logging_handler(mode, log, fail), retries=1, retry_backoff_ms=1)
    except lanepool.BatchFailedError:
        assert len(fail) == 20
    returned = time.monotonic()
    snapshot = list(log)
    assert all(t <= returned for _, _, t in snapshot)
    assert sum(1 for e in snapshot if e[0] == "start") == sum(1 for e in snapshot if e[0] == "end")
    time.sleep(0.1)
    assert log == snapshot


def test_no_handler_code_runs_after_deadline_return():
    class Ctx:
        def __init__(self):
            self.end = time.monotonic() + 0.15

        def get_remaining_time_in_millis(self):
            return int((self.end - time.monotonic()) * 1000)

    log = []

    def handler(record):
        log.append(record["messageId"])
        time.sleep(0.03)
        log.append(record["messageId"])

    report = POOL.run_batch(fifo(40, groups=2), handler, context=Ctx(), deadline_margin_ms=50)
    snapshot = list(log)
    time.sleep(0.1)
    assert log == snapshot
    assert report.summary["deadline"] > 0
    assert all(f.reason == "deadline" and f.attempts == 0 for f in report.failures)


@pytest.mark.parametrize("mode", MODES)
def test_handlers_get_the_callers_record_objects(mode):
    event = fifo(10)
    seen = {}
    keys = []

    def note(record):
        seen[record["messageId"]] = record

    if mode == "sync":
        handler = note
    else:

        async def handler(record):
            note(record)

    run(mode, event, handler, group_key=lambda r: keys.append(r) or r["attributes"]["MessageGroupId"])
    for i, record in enumerate(event["Records"]):
        assert seen[f"m{i}"] is record
        assert keys[i] is record


def test_sync_handlers_run_in_parallel_while_caller_releases_the_gil():
    # 8 records sleeping 50 ms (time.sleep releases the GIL) on 4 workers: ~100 ms, not 400.
    event = {"Records": [{"messageId": f"m{i}", "eventSource": "aws:sqs"} for i in range(8)]}
    threads = set()

    def handler(record):
        threads.add(threading.get_ident())
        time.sleep(0.05)

    t0 = time.monotonic()
    report = POOL.run_batch(event, handler)
    elapsed = time.monotonic() - t0
    assert elapsed < 0.3, elapsed
    assert report.summary["peak_in_flight"] == 4
    assert len(threads) >= 2
    # the caller thread takes part in the work
    assert threading.get_ident() in threads or len(threads) <= 4


def test_other_python_threads_run_while_process_waits():
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.005)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        POOL.process(fifo(4, groups=1), lambda r: time.sleep(0.05))
    finally:
        stop.set()
        t.join()
    assert len(ticks) >= 10


def test_async_handlers_bounded_by_workers():
    pool = lanepool.Pool(workers=3)
    state = {"now": 0, "peak": 0}

    async def handler(record):
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        await asyncio.sleep(0.02)
        state["now"] -= 1

    event = {"Records": [{"messageId": f"m{i}", "eventSource": "aws:sqs"} for i in range(12)]}
    t0 = time.monotonic()
    assert pool.process(event, handler) == {"batchItemFailures": []}
    elapsed = time.monotonic() - t0
    assert state["peak"] == 3
    assert elapsed < 0.2, elapsed


def test_async_handler_with_process_inside_a_running_loop():
    async def handler(record):
        await asyncio.sleep(0)
        if record["messageId"] == "m1":
            raise ValueError

    async def main():
        return POOL.process(fifo(3), handler)  # sync call with an async handler, loop running

    assert asyncio.run(main()) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_process_async_and_cancellation():
    log = []

    async def handler(record):
        log.append(("start", record["messageId"]))
        try:
            await asyncio.sleep(1)
        finally:
            log.append(("end", record["messageId"]))

    async def main():
        task = asyncio.ensure_future(POOL.process_async(fifo(8), handler))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return list(log)

    snapshot = asyncio.run(main())
    starts = [m for k, m in snapshot if k == "start"]
    ends = [m for k, m in snapshot if k == "end"]
    assert len(starts) == 3 and sorted(starts) == sorted(ends)
    time.sleep(0.05)
    assert log == snapshot


def test_process_async_response():
    async def handler(record):
        if record["messageId"] == "m0":
            raise ValueError

    response = asyncio.run(POOL.process_async(fifo(4, groups=2), handler))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m2"}]}


def test_async_detection():
    import functools

    from lanepool import _is_async

    async def f(r):
        pass

    class C:
        async def m(self, r):
            pass

        async def __call__(self, r):
            pass

    assert _is_async(f) and _is_async(functools.partial(f)) and _is_async(C().m) and _is_async(C())
    assert not _is_async(print) and not _is_async(lambda r: None) and not _is_async(len)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_pool_created_at_import_works_in_a_forked_child():
    import warnings

    # the parent's workers are running
    assert POOL.process(fifo(8), lambda r: time.sleep(0.001)) == {"batchItemFailures": []}
    r, w = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # child
        status = 1
        try:
            os.close(r)
            threads = set()

            def handler(record):
                threads.add(threading.get_ident())
                time.sleep(0.02)
                if record["messageId"] == "m5":
                    raise ValueError

            t0 = time.monotonic()
            report = POOL.run_batch(fifo(16, groups=16), handler)
            elapsed = time.monotonic() - t0
            ok = (
                report.response == {"batchItemFailures": [{"itemIdentifier": "m5"}]}
                and len(threads) >= 2
                and elapsed < 0.25
                and POOL.map(lambda x: x + 1, range(10)) == list(range(1, 11))
            )
            with POOL.scope() as s:
                t = s.spawn(lambda: os.getpid())
            ok = ok and t.result() == os.getpid()
            os.write(w, f"{ok} {len(threads)} {elapsed:.3f}".encode())
            status = 0 if ok else 1
        finally:
            os._exit(status)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    message = os.read(r, 200).decode()
    os.close(r)
    assert os.waitstatus_to_exitcode(status) == 0, message
    # and the parent still works
    assert POOL.process(fifo(4), lambda r: None) == {"batchItemFailures": []}


def test_option_defaults_are_the_cores():
    """The options, their defaults and checks live in the Rust core (`_lanepool.Options`): an
    empty call gets the core's defaults, and the keywords lanepool's methods take (typed once,
    by `lanepool.BatchOptions`) are exactly the native class's, as its stub states them."""
    import ast
    import inspect
    import typing
    from pathlib import Path

    import lanepool._lanepool as core
    from lanepool import Pool

    assert (core.DEFAULT_DEADLINE_MARGIN_MS, core.DEFAULT_RETRY_BACKOFF_MS) == (500.0, 100.0)
    options = core.Options()
    assert options.deadline_margin_ms == core.DEFAULT_DEADLINE_MARGIN_MS
    assert options.retry_backoff_ms == core.DEFAULT_RETRY_BACKOFF_MS
    native = list(inspect.signature(core.Options).parameters)
    assert native == list(typing.get_type_hints(lanepool.BatchOptions))
    stub = ast.parse((Path(lanepool.__file__).parent / "_lanepool.pyi").read_text())
    (new,) = [
        node
        for cls in stub.body
        if isinstance(cls, ast.ClassDef) and cls.name == "Options"
        for node in cls.body
        if isinstance(node, ast.FunctionDef) and node.name == "__new__"
    ]
    assert [a.arg for a in new.args.kwonlyargs] == native
    for method in (Pool.process, Pool.run_batch, Pool.run_batch_async, Pool.process_async):
        kinds = [p.kind for p in inspect.signature(method).parameters.values()]
        assert kinds[-1] is inspect.Parameter.VAR_KEYWORD, method.__name__
    with pytest.raises(TypeError, match="retry"):
        POOL.process(fifo(1), lambda r: None, retry=1)  # a misspelt option is refused
