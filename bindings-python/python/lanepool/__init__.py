"""lanepool: a worker pool for AWS Lambda batches (SQS, SQS FIFO, Kinesis, DynamoDB streams, Kafka).

Records of one lane (SQS FIFO message group, Kinesis partition key, DynamoDB item, Kafka
topic-partition) run one at
a time and in order; other records run concurrently on a pool of Rust threads. A failed record
skips the rest of its lane, records not started by the deadline are reported, and the result
is Lambda's partial batch response::

    import lanepool

    pool = lanepool.Pool()                   # 16 workers (I/O-bound handlers), at import time

    def record_handler(record: dict) -> None:
        ...                                  # raise to fail the record

    def lambda_handler(event, context):
        return pool.process(event, record_handler, context=context)
"""

from __future__ import annotations

from ._errors import BaseExceptionGroup, BatchFailedError, EventError, ExceptionGroup
from ._lanepool import DEFAULT_WORKERS, BatchReport, Failure, Scope, Task, __version__
from ._lanepool import Options as _NativeOptions
from ._lanepool import Pool as _CorePool

# `import lanepool` imports neither `typing` nor `collections.abc` (most of its import time,
# paid at every cold start): the names only types need are made on first use (__getattr__
# below), and type checkers see them here. (mypy and pyright take any `TYPE_CHECKING` as true.)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Mapping
    from typing import Any, TypeVar

    from typing_extensions import Self, Unpack

    from ._jobs import JobFailure, JobReport
    from ._options import BatchOptions, ItemIdentifier, JobOptions, KafkaItemIdentifier, LambdaContext

    Event = Mapping[str, Any]
    """A Lambda event: ``{"Records": [...]}``, or a Kafka event's ``{"records": {...}}``."""
    Handler = Callable[[Any], object] | Callable[[Any], Awaitable[object]]
    """A record handler, sync or ``async def``: called with each record, raises to fail it."""

    _T = TypeVar("_T")
    _R = TypeVar("_R")

__all__ = [
    "__version__",
    "DEFAULT_WORKERS",
    "Pool",
    "BatchOptions",
    "JobOptions",
    "JobReport",
    "JobFailure",
    "BatchReport",
    "Failure",
    "LambdaContext",
    "ItemIdentifier",
    "KafkaItemIdentifier",
    "Scope",
    "Task",
    "EventError",
    "BatchFailedError",
    "ExceptionGroup",
    "BaseExceptionGroup",
]

_OPTIONS_NAMES = ("BatchOptions", "JobOptions", "ItemIdentifier", "KafkaItemIdentifier", "LambdaContext")
_JOBS_NAMES = ("JobReport", "JobFailure")

if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        """The names for types, made (and kept) on first use: ``lanepool.BatchOptions``, ...,
        ``lanepool.Event`` and ``lanepool.Handler``."""
        if name in _OPTIONS_NAMES:
            from . import _options

            value = getattr(_options, name)
        elif name in _JOBS_NAMES:
            from . import _jobs

            value = getattr(_jobs, name)
        elif name in ("Event", "Handler"):
            from collections.abc import Awaitable, Callable, Mapping
            from typing import Any

            if name == "Event":
                value = Mapping[str, Any]
            else:
                value = Callable[[Any], object] | Callable[[Any], Awaitable[object]]
        else:
            raise AttributeError(f"module 'lanepool' has no attribute {name!r}")
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_OPTIONS_NAMES, *_JOBS_NAMES, "Event", "Handler"})

_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, without importing inspect


def _is_async(fn: object) -> bool:
    """Whether ``fn`` is an ``async def`` function (also through methods and partials)."""
    for _ in range(16):
        if getattr(fn, "_is_coroutine_marker", None) is not None:  # inspect.markcoroutinefunction
            return True
        code = getattr(fn, "__code__", None)
        if code is not None:
            return bool(code.co_flags & _CO_COROUTINE)
        for attr in ("__func__", "func"):  # bound method, functools.partial
            inner = getattr(fn, attr, None)
            if inner is not None:
                fn = inner
                break
        else:
            call = getattr(type(fn), "__call__", None)  # noqa: B004 - its code object, not callable()
            code = getattr(call, "__code__", None)
            return bool(code is not None and code.co_flags & _CO_COROUTINE)
    return False


_BATCH_ONLY = ("ordering", "group_key", "raise_on_full_batch_failure", "log_summary")


def _job_options(options: Mapping[str, Any]) -> _NativeOptions:
    """The native options of a ``run_jobs`` call, refusing the batch-only ones."""
    for name in _BATCH_ONLY:
        if name in options:
            raise TypeError(f"run_jobs() got an unexpected keyword argument {name!r} (an option of batches)")
    return _NativeOptions(**options)


def _map_result(report: JobReport[_R]) -> list[_R]:
    """``map``'s answer from a jobs report: the values, or an ``ExceptionGroup`` of the errors."""
    if report.failures:
        errors = [f.exception for f in report.failures if isinstance(f.exception, Exception)]
        for failure in report.failures:
            if failure.exception is not None and not isinstance(failure.exception, Exception):
                raise failure.exception  # KeyboardInterrupt, SystemExit, ...: as is
        raise ExceptionGroup(f"map: {len(report.failures)} of {len(report.results)} calls failed", errors)
    return report.results  # type: ignore[return-value]  # every job succeeded: no None left


class Pool:
    """A pool of ``workers`` threads that runs record handlers, scope tasks and maps.

    Create it once, at import time, and reuse it in every invocation. At most ``workers``
    handlers run at once; the calling thread releases the GIL while it waits and runs handlers
    itself. A pool used in a process forked from its creator restarts its threads there.

    ``workers=None`` gives :data:`DEFAULT_WORKERS` (16): sized for I/O-bound handlers (calls
    to other services, which release the GIL while they wait), the common case, on any memory
    size. For CPU-bound handlers use :meth:`for_cpu_bound` (one worker per CPU Lambda gives
    the function). ``workers`` must be an int of at least 1.

    ``max_in_flight`` (None: no such limit) bounds the handlers in flight at once across
    every call of the pool, sync and ``async def`` alike: for one pool shared by many
    invocations at once (Lambda Managed Instances), where each call's own bound (``workers``)
    does not bound their sum. Free slots go to the waiting calls in turn, so a small call that
    starts while a big one runs is not starved; the time records waited for a slot is in the
    summary (``slot_wait_ms``, ``slot_wait_max_ms``). An int of at least 1.

    >>> pool = Pool(workers=2)
    >>> pool
    lanepool.Pool(workers=2)
    >>> Pool().workers == DEFAULT_WORKERS == 16
    True
    >>> Pool(workers=4, max_in_flight=8)
    lanepool.Pool(workers=4, max_in_flight=8)
    """

    __slots__ = ("_core",)

    def __init__(self, workers: int | None = None, max_in_flight: int | None = None) -> None:
        self._core = _CorePool(workers, max_in_flight)

    @classmethod
    def for_cpu_bound(cls, *, max_in_flight: int | None = None) -> Self:
        """A pool for CPU-bound handlers: one worker per CPU the process may use, lowered
        inside AWS Lambda to the CPU share of the function's memory size
        (``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``: 1 worker up to 1,769 MB, 2 up to 3,538 MB, ...,
        at most 6). Python code holds the GIL, so more threads than CPUs would not run it
        faster; handlers that wait on I/O want :class:`Pool` (16 workers) instead.

        >>> import os
        >>> 1 <= Pool.for_cpu_bound().workers <= (os.cpu_count() or 1)
        True
        """
        return cls(_CorePool.cpu_workers(), max_in_flight)

    @property
    def workers(self) -> int:
        """Most handlers running at once in one call (the pool's threads, the caller counted;
        for ``async def`` handlers, the most in flight)."""
        return self._core.workers

    @property
    def max_in_flight(self) -> int | None:
        """Most handlers in flight at once across every call of the pool, or None."""
        return self._core.max_in_flight

    @property
    def in_flight(self) -> int:
        """Handlers in flight now across the pool's calls, counted by ``max_in_flight``
        (0 without it)."""
        return self._core.in_flight

    def __repr__(self) -> str:
        limit = self._core.max_in_flight
        extra = "" if limit is None else f", max_in_flight={limit}"
        return f"lanepool.Pool(workers={self._core.workers}{extra})"

    def process(self, event: Event, handler: Handler, **options: Unpack[BatchOptions]) -> dict[str, Any]:
        """Runs ``handler(record)`` for every record of a Lambda event; returns the partial
        batch response ``{"batchItemFailures": [{"itemIdentifier": ...}, ...]}``.

        See :meth:`run_batch` for the options (``cancel_at_deadline`` applies to ``async def``
        handlers; sync handlers are always awaited); this is ``run_batch(...).response``.

        >>> def handler(record):
        ...     if record["body"] == "bad":
        ...         raise ValueError("bad record")
        >>> event = {"Records": [
        ...     {"messageId": "m1", "eventSource": "aws:sqs", "body": "ok"},
        ...     {"messageId": "m2", "eventSource": "aws:sqs", "body": "bad"},
        ... ]}
        >>> Pool(workers=2).process(event, handler)
        {'batchItemFailures': [{'itemIdentifier': 'm2'}]}
        """
        return self.run_batch(event, handler, **options).response

    def run_batch(self, event: Event, handler: Handler, **options: Unpack[BatchOptions]) -> BatchReport:
        """Runs ``handler(record)`` for every record of a Lambda event; returns the full report.

        - ``handler`` gets each record object of ``event["Records"]`` (Kafka: of the lists of
          ``event["records"]``) itself (not a copy) and raises to fail it. An ``async def``
          handler runs to completion on a private event loop with at most ``workers`` in
          flight; this call still returns synchronously.

        Keyword options (all optional; :class:`lanepool.BatchOptions` types them):

        - ``context`` (None): the Lambda context (anything with
          ``get_remaining_time_in_millis()`` returning a number of milliseconds; anything else
          it returns, such as a bare ``MagicMock``'s, raises ``TypeError``). No record starts
          later than ``deadline_margin_ms`` (500) before the invocation's deadline; those are
          reported with reason ``"deadline"``. None (or ``{}``, any mapping): no deadline.
        - ``ordering`` (``"auto"``): ``"auto"`` (lanes by SQS FIFO message group, Kinesis
          partition key, DynamoDB keys, Kafka topic-partition), ``"unordered"`` (no lanes) or
          ``"key"`` (Kafka: lanes by topic-partition and record key; others: as ``"auto"``).
        - ``group_key`` (None): ``callable(record) -> str | int | None`` giving each record's
          lane (an int is its decimal string; None: no lane; anything else raises
          :class:`EventError` at field ``"group_key"``); overrides ``ordering``.
        - ``retries`` (0): extra attempts for a failing record, ``retry_backoff_ms`` (100)
          apart (doubling, jittered); its lane waits.
        - ``raise_on_full_batch_failure`` (True): raise :class:`BatchFailedError` when no
          record of a non-empty batch succeeded (Lambda then retries the whole batch).
        - ``log_summary`` (False): print the summary as one JSON log line.
        - ``cancel_at_deadline`` (True; ``async def`` handlers only): handlers still running at
          ``deadline - margin`` are cancelled (``asyncio.CancelledError`` at their next
          ``await``); the call still waits until each one ended (one that swallows the
          cancellation is waited for), and their records end as ``"deadline"`` with the
          exception they ended with on the report's failure. ``False``: they are awaited
          and end as they end. Sync handlers cannot be interrupted and are always awaited.

        ``event`` and its records are dicts or any other ``Mapping`` (Powertools' event data
        classes too). Raises (before any handler runs) ``TypeError`` for a ``handler`` that is
        not callable, :class:`EventError` for a malformed event, and ``ValueError`` /
        ``TypeError`` naming the option for a bad option. When every record failed (and
        ``raise_on_full_batch_failure``), :class:`BatchFailedError` has the first failed
        record's exception (in event order) as its ``__cause__``. A
        ``BaseException`` that is not an ``Exception`` (``KeyboardInterrupt``, ``SystemExit``)
        raised by a handler stops new records from starting, waits for running ones, and
        propagates. No handler runs after this call returned or raised.

        >>> event = {"Records": [
        ...     {"messageId": f"m{i}", "eventSource": "aws:sqs", "body": str(i)} for i in range(3)
        ... ]}
        >>> report = Pool(workers=2).run_batch(event, lambda record: None, retries=1)
        >>> report.succeeded
        ['m0', 'm1', 'm2']
        >>> report.summary["failed"]
        0
        """
        return self._run_batch(event, handler, _NativeOptions(**options))

    async def run_batch_async(
        self, event: Event, handler: Handler, **options: Unpack[BatchOptions]
    ) -> BatchReport:
        """Like :meth:`run_batch` for ``async def`` handlers, on the running event loop, with
        at most ``workers`` handlers in flight. (A sync handler runs inline on the loop.)

        With ``cancel_at_deadline`` (the default) handlers still running at ``deadline -
        margin`` are cancelled, waited for, and reported as ``"deadline"`` (exception: the
        ``CancelledError`` or whatever they ended with); ``False`` awaits them. Cancelling this
        call cancels the running handlers and waits for them.

        >>> import asyncio
        >>> async def handler(record):
        ...     await asyncio.sleep(0)
        >>> event = {"Records": [{"messageId": "m1", "eventSource": "aws:sqs", "body": ""}]}
        >>> asyncio.run(Pool(workers=2).run_batch_async(event, handler)).succeeded
        ['m1']
        """
        return await self._run_batch_async(event, handler, _NativeOptions(**options))

    async def process_async(
        self, event: Event, handler: Handler, **options: Unpack[BatchOptions]
    ) -> dict[str, Any]:
        """``(await run_batch_async(...)).response``: the partial batch response.

        Handlers still running at ``deadline - margin`` are cancelled and awaited (they end as
        ``"deadline"``) unless ``cancel_at_deadline=False``; see :meth:`run_batch_async`.

        >>> import asyncio
        >>> async def handler(record):
        ...     raise ValueError("fails")
        >>> event = {"Records": [{"messageId": "m1", "eventSource": "aws:sqs", "body": ""}]}
        >>> pool = Pool(workers=2)
        >>> asyncio.run(pool.process_async(event, handler, raise_on_full_batch_failure=False))
        {'batchItemFailures': [{'itemIdentifier': 'm1'}]}
        """
        return (await self.run_batch_async(event, handler, **options)).response

    def _run_batch(
        self,
        event: Event,
        handler: Handler,
        options: _NativeOptions,
        *,
        results: list[Any] | None = None,
    ) -> BatchReport:
        """:meth:`run_batch` with the options already built (``lanepool.powertools``'s path).

        ``results``: a list as long as the batch, in which each record's handler return value
        is stored at the record's index when it succeeds.
        """
        if _is_async(handler):
            from . import _aio

            return _aio.run_sync(self._core, event, handler, options, results)
        return self._core.run_batch(event, handler, options, results)

    async def _run_batch_async(
        self,
        event: Event,
        handler: Handler,
        options: _NativeOptions,
        *,
        results: list[Any] | None = None,
    ) -> BatchReport:
        """:meth:`run_batch_async` with the options already built (see :meth:`_run_batch`)."""
        from . import _aio

        return await _aio.run_batch(self._core, event, handler, options, results)

    def scope(self) -> Scope:
        """A scope for tasks: ``with pool.scope() as s: task = s.spawn(fn, *args, **kwargs)``.

        Leaving the ``with`` block waits until every task spawned in it (nested ones too)
        finished; if any failed, it then raises an ``ExceptionGroup`` of their exceptions.

        >>> with Pool(workers=2).scope() as s:
        ...     task = s.spawn(sum, [1, 2, 3])
        >>> task.result()
        6
        """
        return self._core.scope()

    def map(self, fn: Callable[[_T], _R] | Callable[[_T], Awaitable[_R]], items: Iterable[_T]) -> list[_R]:
        """``[fn(item) for item in items]`` on the pool, results in input order. If calls
        failed, raises (after every call finished) an ``ExceptionGroup`` of their exceptions.
        An ``async def`` ``fn`` is awaited, at most ``workers`` at once, on a private event
        loop (use :meth:`map_async` inside a running one).

        >>> Pool(workers=2).map(str.upper, ["a", "b"])
        ['A', 'B']
        >>> async def double(n):
        ...     return n * 2
        >>> Pool(workers=2).map(double, [1, 2])
        [2, 4]
        """
        if _is_async(fn):
            return _map_result(self.run_jobs(fn, items))
        return self._core.map(fn, items)  # type: ignore[arg-type]  # not async: a plain callable

    async def map_async(self, fn: Callable[[_T], Awaitable[_R]] | Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
        """:meth:`map` on the running event loop: ``[await fn(item) for item in items]``, at
        most ``workers`` at once, results in input order; if calls failed, raises an
        ``ExceptionGroup`` of their exceptions after every call ended.

        >>> import asyncio
        >>> async def double(n):
        ...     await asyncio.sleep(0)
        ...     return n * 2
        >>> asyncio.run(Pool(workers=2).map_async(double, [1, 2, 3]))
        [2, 4, 6]
        """
        return _map_result(await self.run_jobs_async(fn, items))

    def run_jobs(
        self,
        fn: Callable[[_T], _R] | Callable[[_T], Awaitable[_R]],
        items: Iterable[_T],
        *,
        key: Callable[[_T], str | int | None] | None = None,
        **options: Unpack[JobOptions],
    ) -> JobReport[_R]:
        """Runs ``fn(item)`` for every item on the batch scheduler (a coordinator's fan-out)
        and returns a :class:`JobReport`: ``results`` aligned with the items (None where a job
        did not succeed), ``failures``, ``summary`` and ``ok``.

        - ``key`` (None): ``callable(item) -> str | int | None``, each job's lane: jobs of one
          key run one at a time in item order (keys in parallel), and one that fails for good
          skips the rest of its key; None: no lane. Without ``key`` there are no lanes.
        - ``concurrency`` (the pool's ``workers``): most jobs in flight at once.
        - ``retries``, ``retry_backoff_ms``, ``context``, ``deadline_margin_ms``,
          ``cancel_at_deadline``: as for :meth:`run_batch`.
        - ``attempt_timeout_ms`` (None; ``async def`` ``fn`` only, else ``ValueError`` before
          anything runs): an attempt running longer is cancelled and fails with reason
          ``"timeout"``, retried if retries remain.
        - ``max_per_second`` (None): attempts (retries included) start at most that many per
          second on average, in bursts of at most that many; none is postponed past the
          deadline (what cannot start is reported ``"deadline"``).

        An ``async def`` ``fn`` runs on a private event loop (see :meth:`run_jobs_async`).
        Unlike a batch, a list in which every job failed raises nothing: the report says so.

        >>> report = Pool(workers=2).run_jobs(lambda job: job["n"] * 2, [{"n": 1}, {"n": 2}],
        ...                                   key=lambda job: "tenant-a")
        >>> report.results, report.ok
        ([2, 4], True)
        """
        from ._jobs import JobReport

        listed = list(items)
        native = _job_options(options)
        results: list[Any] = [None] * len(listed)
        if _is_async(fn):
            from . import _aio

            report = _aio.run_private(lambda: _aio.run_jobs(self._core, listed, key, fn, native, results))
        else:
            report = self._core.run_jobs(listed, key, fn, native, results)
        return JobReport(listed, results, report)

    async def run_jobs_async(
        self,
        fn: Callable[[_T], Awaitable[_R]] | Callable[[_T], _R],
        items: Iterable[_T],
        *,
        key: Callable[[_T], str | int | None] | None = None,
        **options: Unpack[JobOptions],
    ) -> JobReport[_R]:
        """:meth:`run_jobs` on the running event loop (a sync ``fn`` runs inline on it).
        Cancelling this call cancels the running jobs and waits for them.

        >>> import asyncio
        >>> async def call(n):
        ...     await asyncio.sleep(0)
        ...     return n + 1
        >>> report = asyncio.run(Pool(workers=2).run_jobs_async(call, [1, 2], max_per_second=100))
        >>> report.results
        [2, 3]
        """
        from . import _aio
        from ._jobs import JobReport

        listed = list(items)
        results: list[Any] = [None] * len(listed)
        report = await _aio.run_jobs(self._core, listed, key, fn, _job_options(options), results)
        return JobReport(listed, results, report)
