"""The asyncio driver: runs async record handlers over the core's scheduler.

The scheduling rules (lanes, skips, retries, deadline, the all-failed rule) stay in Rust, in
``BatchRun``; this loop only starts handler tasks when told to and reports their results.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque

from ._lanepool import start_batch

_RUN, _WAIT, _DONE = 0, 1, 2


async def _attempt(handler, record, results=None, index=0):
    """One attempt: None on success, else the exception it raised (never raises). With
    ``results``, a successful attempt's result is stored at ``results[index]``.

    A cancellation (at the deadline, or of the whole call) is returned like any other
    exception: the caller knows whether it cancelled the task and decides what it means.
    """
    try:
        result = handler(record)
        if hasattr(type(result), "__await__"):  # by type, as `await` and the sync path
            result = await result
    except BaseException as exc:  # noqa: BLE001 - every failure is the record's (or a halt)
        return exc
    if results is not None:
        results[index] = result
    return None


def _wake(waiter) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _outcome(task):
    """What a finished attempt task ended with: None, or the exception."""
    if task.cancelled():  # cancelled before its first step: the handler never saw it
        return asyncio.CancelledError()
    return task.result()


async def _cancel_running(run, running: dict) -> BaseException | None:
    """Cancels every running attempt at the deadline, waits until each one ended (one that
    swallows the cancellation is waited for) and reports them with ``run.cancel``; returns
    the first non-``Exception`` one raised (``KeyboardInterrupt``, ...), if any."""
    for task in running:
        task.cancel()
    await asyncio.wait(running)
    interrupt = None
    for task, index in running.items():
        exc = _outcome(task)
        if interrupt is None and exc is not None and not isinstance(exc, Exception):
            if not isinstance(exc, asyncio.CancelledError):
                interrupt = exc
        run.cancel(index, exc)
    running.clear()
    return interrupt


async def run_batch(workers, event, handler, options, cancel_at_deadline=True, results=None):
    """Runs one batch on the running loop with at most ``workers`` handlers in flight.

    With ``cancel_at_deadline``, handlers still running at ``deadline - margin`` are cancelled
    and awaited, and end as ``deadline``; otherwise they are awaited and end as they end.
    ``results`` (used by ``lanepool.powertools``): a list as long as the batch that receives
    each succeeded record's result at its index.
    """
    run, records = start_batch(event, workers, *options, cancel_at_deadline)
    if results is not None and len(results) != len(records):
        raise ValueError(
            f"results must be a list of {len(records)} items (one per record), got {len(results)}"
        )
    loop = asyncio.get_running_loop()
    running: dict = {}  # task -> record index
    finished: deque = deque()  # tasks done, not yet reported (filled by their done callback)
    waiter = None  # the future this loop sleeps on while nothing is finished

    def on_done(task):
        finished.append(task)
        if waiter is not None:
            _wake(waiter)

    interrupt = None
    try:
        while True:
            kind, value = run.step()
            if kind == _RUN:
                task = loop.create_task(_attempt(handler, records[value], results, value))
                task.add_done_callback(on_done)
                running[task] = value
                continue
            if kind == _DONE:
                break
            if finished:
                while finished:
                    task = finished.popleft()
                    index = running.pop(task, None)
                    if index is None:  # already reported by _cancel_running
                        continue
                    exc = _outcome(task)
                    if exc is not None and not isinstance(exc, Exception):
                        # KeyboardInterrupt, SystemExit, ...: no record starts any more,
                        # running ones finish, then it propagates.
                        if interrupt is None:
                            interrupt = exc
                        run.halt()
                    run.complete(index, exc)
                continue
            if running and run.cancel_due():
                halted = await _cancel_running(run, running)
                if interrupt is None:
                    interrupt = halted
                continue
            if not running:
                # A retry waits for its backoff with nothing in flight.
                await asyncio.sleep(value if value is not None else 0)
                continue
            # Sleep until a task finishes or the core's next timer (deadline, retry) is due.
            waiter = loop.create_future()
            timer = None if value is None else loop.call_later(value, _wake, waiter)
            try:
                await waiter
            finally:
                waiter = None
                if timer is not None:
                    timer.cancel()
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


def run_sync(workers, event, handler, options, cancel_at_deadline=True):
    """Runs :func:`run_batch` to completion on a private event loop and returns its result."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_private(run_batch(workers, event, handler, options, cancel_at_deadline))
    # This thread already runs a loop: use a private one on a helper thread.
    box: list = []

    def target():
        try:
            coro = run_batch(workers, event, handler, options, cancel_at_deadline)
            box.append((True, _run_private(coro)))
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
