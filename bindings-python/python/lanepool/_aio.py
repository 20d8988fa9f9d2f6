"""The asyncio driver: runs async record handlers over the core's scheduler.

The scheduling rules (lanes, skips, retries, deadline, the all-failed rule, and which
exceptions stop the call) stay in Rust, in ``BatchRun``; this loop only starts handler tasks
when told to and reports their results.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping
from typing import Any, TypeVar

from ._lanepool import BatchReport, BatchRun, Options
from ._lanepool import Pool as _CorePool

_RUN, _WAIT, _DONE = 0, 1, 2

_T = TypeVar("_T")


_INLINE = 32
"""Attempts one worker runs back to back without suspending before it yields to the loop
once, so that a batch of handlers that never wait does not hold the loop for the whole batch."""


@types.coroutine
def _in_context(context: contextvars.Context, coro: Any, yielded: Any) -> Generator[Any, Any, Any]:
    """The rest of ``await coro``, whose first step (run by the worker) yielded ``yielded``,
    with each step run in ``context``: an attempt runs in its own copy of the caller's
    context, as a task of its own would, inside the worker's task.

    It hands what the coroutine yields (the future it waits for, or None) on to the task
    unchanged and passes what the task sends or throws back in (a cancellation too), so the
    coroutine waits, and is cancelled, as if the task ran it directly.
    """
    send, throw, run = coro.send, coro.throw, context.run
    while True:
        try:
            value = yield yielded
        except GeneratorExit:  # the worker's coroutine is closed: close this one too
            run(coro.close)
            raise
        except BaseException as exc:  # noqa: BLE001 - handed to the coroutine, as a task would
            try:
                yielded = run(throw, exc)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            yielded = run(send, value)
        except StopIteration as stop:
            return stop.value


async def _await(awaitable: Any) -> Any:
    """``await awaitable``, for an awaitable that is no coroutine (``await`` checks it)."""
    return await awaitable


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
    from . import _is_async

    run, records = pool.start_batch(event, handler, options, _is_async(handler))
    try:
        return await _drive(run, records, handler, results, options.attempt_timeout_ms)
    finally:
        run.close()  # gives back any slot of the pool's limit still held (a no-op once finished)


async def run_jobs(
    pool: _CorePool,
    items: list[Any],
    key: Callable[[Any], object] | None,
    fn: Callable[[Any], object] | Callable[[Any], Awaitable[object]],
    options: Options,
    results: list[Any],
) -> BatchReport:
    """Runs a list of jobs on the running loop as :func:`run_batch` runs a batch (the core's
    jobs plan: job ``i`` is identified by ``"i"``, in the lane ``key(item)`` gives), storing
    each succeeded job's value in ``results`` at its index."""
    from . import _is_async

    run, records = pool.start_jobs(items, key, fn, options, _is_async(fn))
    try:
        return await _drive(run, records, fn, results, options.attempt_timeout_ms)
    finally:
        run.close()


async def _drive(
    run: BatchRun,
    records: list[Any],
    handler: Callable[[Any], object] | Callable[[Any], Awaitable[object]],
    results: list[Any] | None,
    attempt_timeout_ms: float | None = None,
) -> BatchReport:
    """The driver: asks the core what to do (``run.step()``) and starts a worker task for
    each record it may start; sleeps while nothing is to be done.

    A worker runs its record, then reports it and asks for the next one in a single call
    (``run.complete_step``) and, while the core has one to start at once, runs that one in
    the same task: a handler that does not wait costs no task, future or trip through the
    loop of its own. A worker ends (and wakes the driver) as soon as the core answers
    anything else, so the driver alone waits for timers, the deadline and the pool's limit.

    ``running`` maps each worker to the record whose attempt it runs (every entry is one
    attempt in flight). The driver cancels workers only at the deadline or when its own
    caller is cancelled; it then sets ``stopping`` first, and a stopped worker leaves the
    report of its attempt to the driver (``_cancel_running``) and ends.

    With ``attempt_timeout_ms`` the driver also asks the core, whenever it looks, which
    attempts ran past their timeout (``run.timed_out()``) and cancels their workers; such a
    worker, once its attempt ended, reports it with ``run.time_out`` (not as a failure of its
    own) and ends.
    """
    if results is not None and len(results) != len(records):
        raise ValueError(
            f"results must be a list of {len(records)} items (one per record), got {len(results)}"
        )
    loop = asyncio.get_running_loop()
    running: dict[asyncio.Task[BaseException | None], int] = {}  # worker -> record index
    finished: deque[asyncio.Task[BaseException | None]] = deque()  # workers that ended
    waiter: asyncio.Future[None] | None = None  # what this loop sleeps on while nothing finished
    woken = False  # the pool's limit handed this call a slot since it last looked
    stopping = False  # the driver is cancelling the running workers (see above)
    timing_out: set[int] = set()  # records whose attempt's worker was cancelled for its timeout
    # Each attempt runs in its own copy of this (the caller's) context, as it would in a task
    # of its own: what one handler sets in a ContextVar is not seen by the next.
    base = contextvars.copy_context()
    complete_step = run.complete_step

    async def worker(index: int) -> BaseException | None:
        # Returns None once it reported every attempt it ran; when stopped, the outcome of
        # the attempt it was running, which the driver reports.
        task = asyncio.current_task()
        assert task is not None
        inline = 0
        while True:
            context = base.copy()
            try:
                if inline >= _INLINE:  # let the loop run others once (inside the attempt: a
                    inline = 0  # cancellation here ends it before its handler ran)
                    await asyncio.sleep(0)
                result = context.run(handler, records[index])
                if hasattr(type(result), "__await__"):  # by type, as `await` and the sync path
                    if type(result) is not types.CoroutineType:
                        result = context.run(_await, result)
                    try:  # its first step here: one that never waits ends in it
                        yielded = context.run(result.send, None)
                    except StopIteration as stop:
                        result = stop.value
                    else:
                        result = await _in_context(context, result, yielded)
                outcome: BaseException | None = None
                if results is not None:
                    results[index] = result
            except BaseException as exc:  # noqa: BLE001 - every failure is the record's (or a halt)
                outcome = exc
            if stopping:
                return outcome
            if index in timing_out:  # cancelled by the driver: the attempt timed out
                timing_out.discard(index)
                del running[task]
                if outcome is None or isinstance(outcome, asyncio.CancelledError):
                    outcome = TimeoutError(
                        f"lanepool: the attempt ran past attempt_timeout_ms ({attempt_timeout_ms} ms)"
                    )
                run.time_out(index, outcome)
                return None
            if getattr(task, "_must_cancel", False):  # cancelled, not delivered yet
                # A handler cancelled this task and returned before the cancellation reached
                # it: the attempt ends cancelled, as its own task would have, and the worker
                # ends (it would end cancelled at its next step anyway).
                del running[task]
                run.complete(index, asyncio.CancelledError() if outcome is None else outcome)
                return None
            kind, value = complete_step(index, outcome)
            if outcome is not None and waiter is not None:
                _wake(waiter)  # a failure may have set a retry timer: the driver looks again
            if kind != _RUN:
                # Anything but a record to start now (a wait, a retry's backoff, the end) is
                # the driver's to handle: the worker ends, and its ending wakes the driver.
                del running[task]
                return None
            index = value
            running[task] = index
            inline += 1

    def on_done(task: asyncio.Task[BaseException | None]) -> None:
        finished.append(task)
        if waiter is not None:
            _wake(waiter)

    def start(index: int) -> None:
        task = loop.create_task(worker(index))
        task.add_done_callback(on_done)
        running[task] = index

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
                start(value)
                continue
            if kind == _DONE:
                break
            timeout = value
            if attempt_timeout_ms is not None and running:
                due = run.timed_out()
                if due:
                    for task, index in running.items():
                        if index in due and index not in timing_out:
                            timing_out.add(index)
                            task.cancel()
                    # The core names them until their workers report them: sleep on those
                    # workers' ends, not on the (elapsed) timeout.
                    timeout = None if timeout is None else max(timeout, 0.005)
            if finished:
                while finished:
                    task = finished.popleft()
                    error = None if task.cancelled() else task.exception()
                    if error is not None:  # a worker that failed itself (a bug): stop the call
                        raise error
                continue
            if running and run.cancel_due():
                stopping = True
                try:
                    await _cancel_running(run, running)
                finally:
                    stopping = False
                continue
            if woken:  # a slot was handed over while this loop was busy: ask again
                woken = False
                continue
            if not running and not limited:
                # A retry waits for its backoff with nothing in flight.
                await asyncio.sleep(timeout if timeout is not None else 0)
                continue
            # Sleep until a worker ends, the limit hands over a slot, or the core's next
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
        stopping = True
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
    return run_private(lambda: run_batch(pool, event, handler, options, results))


def run_private(make: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Runs the coroutine ``make()`` returns to completion on a private event loop (on a
    helper thread when this thread already runs a loop) and returns its result."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_private(make())
    # This thread already runs a loop: use a private one on a helper thread.
    box: list[tuple[bool, Any]] = []

    def target() -> None:
        try:
            coro = make()
            box.append((True, _run_private(coro)))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            box.append((False, exc))

    thread = threading.Thread(target=target, name="lanepool-asyncio")
    thread.start()
    thread.join()
    ok, value = box[0]
    if ok:
        result: _T = value
        return result
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
