"""The asyncio driver: runs async record handlers over the core's scheduler.

The scheduling rules (lanes, skips, retries, deadline, the all-failed rule, and which
exceptions stop the call) stay in Rust, in ``BatchRun``; this loop only starts handler tasks
when told to and reports their results.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

from ._lanepool import BatchReport, BatchRun, Options
from ._lanepool import Pool as _CorePool

_RUN, _WAIT, _DONE = 0, 1, 2

_T = TypeVar("_T")


async def _attempt(
    handler: Callable[[Any], object], record: Any, results: list[Any] | None = None, index: int = 0
) -> BaseException | None:
    """One attempt: None on success, else the exception it raised (never raises). With
    ``results``, a successful attempt's result is stored at ``results[index]``.

    A cancellation (at the deadline, or of the whole call) is returned like any other
    exception: the caller knows whether it cancelled the task and decides what it means.
    """
    try:
        result = handler(record)
        if hasattr(type(result), "__await__"):  # by type, as `await` and the sync path
            result = await result  # type: ignore[misc]
    except BaseException as exc:  # noqa: BLE001 - every failure is the record's (or a halt)
        return exc
    if results is not None:
        results[index] = result
    return None


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _outcome(task: asyncio.Task[BaseException | None]) -> BaseException | None:
    """What a finished attempt task ended with: None, or the exception."""
    if task.cancelled():  # cancelled before its first step: the handler never saw it
        return asyncio.CancelledError()
    return task.result()


async def _cancel_running(run: BatchRun, running: dict[asyncio.Task[BaseException | None], int]) -> None:
    """Cancels every running attempt at the deadline, waits until each one ended (one that
    swallows the cancellation is waited for) and reports them with ``run.cancel``."""
    for task in running:
        task.cancel()
    await asyncio.wait(running)
    for task, index in running.items():
        run.cancel(index, _outcome(task))
    running.clear()


async def run_batch(
    pool: _CorePool,
    event: Mapping[str, Any],
    handler: Callable[[Any], object] | Callable[[Any], Awaitable[object]],
    options: Options,
    results: list[Any] | None = None,
) -> BatchReport:
    """Runs one batch on the running loop with at most ``pool.workers`` handlers in flight
    (and within ``pool.max_in_flight``, shared with the pool's other calls, when set).

    With ``options.cancel_at_deadline``, handlers still running at ``deadline - margin`` are
    cancelled and awaited, and end as ``deadline``; otherwise they are awaited and end as they
    end. ``results`` (used by ``lanepool.powertools``): a list as long as the batch that
    receives each succeeded record's result at its index.
    """
    run, records = pool.start_batch(event, handler, options)
    try:
        return await _drive(run, records, handler, results)
    finally:
        run.close()  # gives back any slot of the pool's limit still held (a no-op once finished)


async def _drive(
    run: BatchRun,
    records: list[Any],
    handler: Callable[[Any], object] | Callable[[Any], Awaitable[object]],
    results: list[Any] | None,
) -> BatchReport:
    if results is not None and len(results) != len(records):
        raise ValueError(
            f"results must be a list of {len(records)} items (one per record), got {len(results)}"
        )
    loop = asyncio.get_running_loop()
    running: dict[asyncio.Task[BaseException | None], int] = {}  # task -> record index
    finished: deque[asyncio.Task[BaseException | None]] = deque()  # done, not yet reported
    waiter: asyncio.Future[None] | None = None  # what this loop sleeps on while nothing finished
    woken = False  # the pool's limit handed this call a slot since it last looked

    def on_done(task: asyncio.Task[BaseException | None]) -> None:
        finished.append(task)
        if waiter is not None:
            _wake(waiter)

    def on_slot() -> None:
        # Scheduled by the limit (from any thread) with loop.call_soon_threadsafe.
        nonlocal woken
        woken = True
        if waiter is not None:
            _wake(waiter)

    limited = run.limited
    if limited:
        run.set_wake(loop, on_slot)

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
            timeout = value
            if finished:
                while finished:
                    task = finished.popleft()
                    index = running.pop(task, None)
                    if index is not None:  # else already reported by _cancel_running
                        run.complete(index, _outcome(task))
                continue
            if running and run.cancel_due():
                await _cancel_running(run, running)
                continue
            if woken:  # a slot was handed over while this loop was busy: ask again
                woken = False
                continue
            if not running and not limited:
                # A retry waits for its backoff with nothing in flight.
                await asyncio.sleep(timeout if timeout is not None else 0)
                continue
            # Sleep until a task finishes, the limit hands over a slot, or the core's next
            # timer (deadline, retry) is due.
            waiter = loop.create_future()
            timer = None if timeout is None else loop.call_later(timeout, _wake, waiter)
            try:
                await waiter
            finally:
                waiter = None
                woken = False  # whatever woke it, the next step asks the limit again
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
    return run.finish()  # raises a handler's KeyboardInterrupt, SystemExit, ... instead


def run_sync(
    pool: _CorePool,
    event: Mapping[str, Any],
    handler: Callable[[Any], object] | Callable[[Any], Awaitable[object]],
    options: Options,
    results: list[Any] | None = None,
) -> BatchReport:
    """Runs :func:`run_batch` to completion on a private event loop and returns its result."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_private(run_batch(pool, event, handler, options, results))
    # This thread already runs a loop: use a private one on a helper thread.
    box: list[tuple[bool, Any]] = []

    def target() -> None:
        try:
            coro = run_batch(pool, event, handler, options, results)
            box.append((True, _run_private(coro)))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            box.append((False, exc))

    thread = threading.Thread(target=target, name="lanepool-asyncio")
    thread.start()
    thread.join()
    ok, value = box[0]
    if ok:
        report: BatchReport = value
        return report
    raise value


def _run_private(coro: Coroutine[Any, Any, _T]) -> _T:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
