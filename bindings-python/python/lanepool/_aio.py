"""The asyncio driver: runs async record handlers over the core's scheduler.

The scheduling rules (lanes, skips, retries, deadline, the all-failed rule) stay in Rust, in
``BatchRun``; this loop only starts handler tasks when told to and reports their results.
"""

from __future__ import annotations

import asyncio
import threading

from ._lanepool import start_batch

_RUN, _WAIT, _DONE = 0, 1, 2


async def _attempt(handler, record):
    """One attempt: None on success, else the exception (never raises, but for cancellation)."""
    try:
        result = handler(record)
        if hasattr(result, "__await__"):
            await result
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # noqa: BLE001 - every failure is the record's (or a halt)
        return exc
    return None


async def run_batch(workers, event, handler, options):
    """Runs one batch on the running loop with at most ``workers`` handlers in flight."""
    run, records = start_batch(event, workers, *options)
    loop = asyncio.get_running_loop()
    running: dict = {}
    interrupt = None
    try:
        while True:
            kind, value = run.step()
            if kind == _RUN:
                task = loop.create_task(_attempt(handler, records[value]))
                running[task] = value
                continue
            if kind == _DONE:
                break
            if not running:
                # A retry waits for its backoff with nothing in flight.
                await asyncio.sleep(value if value is not None else 0)
                continue
            done, _ = await asyncio.wait(
                running, timeout=value, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                index = running.pop(task)
                if task.cancelled():
                    exc = asyncio.CancelledError()
                else:
                    exc = task.result()
                if exc is not None and not isinstance(exc, Exception):
                    # KeyboardInterrupt, SystemExit, ...: no record starts any more, running
                    # ones finish, then it propagates.
                    if interrupt is None:
                        interrupt = exc
                    run.halt()
                run.complete(index, exc)
    except BaseException:
        # Our caller was cancelled (or the loop is going down): stop every handler before
        # leaving, so none runs after this call returned.
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)
        raise
    if interrupt is not None:
        try:
            raise interrupt
        finally:
            interrupt = None
    return run.finish()


def run_sync(workers, event, handler, options):
    """Runs :func:`run_batch` to completion on a private event loop and returns its result."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_private(run_batch(workers, event, handler, options))
    # This thread already runs a loop: use a private one on a helper thread.
    box: list = []

    def target():
        try:
            box.append((True, _run_private(run_batch(workers, event, handler, options))))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            box.append((False, exc))

    thread = threading.Thread(target=target, name="lanepool-asyncio")
    thread.start()
    thread.join()
    ok, value = box[0]
    if ok:
        return value
    raise value


def _run_private(coro):
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
