"""Powertools for AWS Lambda (Python) integration: lanepool's lanes and bounded parallelism
behind Powertools' batch utility.

``ParallelBatchProcessor`` is a subclass of Powertools' ``BatchProcessor``; swap it in and keep
your record handlers, data classes or parser models, ``process_partial_response`` /
``async_process_partial_response``, the ``batch_processor`` decorator and the context-manager
form::

    import lanepool
    from aws_lambda_powertools.utilities.batch import EventType, process_partial_response
    from lanepool.powertools import ParallelBatchProcessor

    processor = ParallelBatchProcessor(EventType.SQS, pool=lanepool.Pool())   # 16 workers

    def lambda_handler(event, context):
        return process_partial_response(event, record_handler, processor, context)

lanepool schedules the records (lanes by SQS FIFO message group, Kinesis partition key or
DynamoDB keys, or ``ordering="unordered"``; at most ``pool.workers`` at once; the rest of a
failed lane skipped; deadline; retries); each record goes through Powertools' own per-record
machinery (``_process_record`` / ``_async_process_record``: record conversion, model
validation, ``lambda_context`` injection, ``success_handler`` / ``failure_handler``), and the
processor's state is then assembled in event order.

Importing this module imports Powertools (``pip install "lanepool[powertools]"``); importing
``lanepool`` does not.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.exceptions import SQSFifoMessageGroupCircuitBreakerError

import lanepool
from lanepool._lanepool import Options, expect_callable
from lanepool._options import GroupKey, ItemIdentifier, Ordering

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import BatchTypeModels
    from typing_extensions import Unpack

ExceptionInfo = tuple[type[BaseException] | None, BaseException | None, Any]
Entry = tuple[Any, ...]
_T = TypeVar("_T")

__all__ = [
    "ParallelBatchProcessor",
    "ProcessorOptions",
    "SkippedRecordError",
    "DeadlineRecordError",
    "default_pool",
]


class SkippedRecordError(SQSFifoMessageGroupCircuitBreakerError):
    """A record not processed because an earlier record of its lane failed.

    A subclass of Powertools' ``SQSFifoMessageGroupCircuitBreakerError`` (what
    ``SqsFifoPartialProcessor(skip_group_on_error=True)`` reports for the same records), for
    every source. ``item_identifier`` and ``index`` name the record.
    """

    def __init__(
        self, message: str = "", item_identifier: ItemIdentifier | None = None, index: int | None = None
    ) -> None:
        super().__init__(message)
        self.item_identifier = item_identifier
        self.index = index


class DeadlineRecordError(Exception):
    """A record not started, or (async handlers) stopped, because the invocation's deadline
    (less ``deadline_margin_ms``) came first. ``item_identifier`` and ``index`` name the
    record; a stopped one has the exception its handler ended with as ``__cause__``."""

    def __init__(
        self, message: str = "", item_identifier: ItemIdentifier | None = None, index: int | None = None
    ) -> None:
        super().__init__(message)
        self.item_identifier = item_identifier
        self.index = index


class ProcessorOptions(TypedDict, total=False):
    """lanepool's keyword options of :class:`ParallelBatchProcessor` (the batch options less
    ``context``, which is the processor's ``lambda_context``, and the all-failed rule, which
    is Powertools')."""

    ordering: Ordering
    group_key: GroupKey | None
    retries: int
    deadline_margin_ms: float
    retry_backoff_ms: float
    log_summary: bool
    cancel_at_deadline: bool


class _RecordFailed(Exception):
    """Raised to lanepool for a record Powertools' machinery failed (lanepool then skips the
    rest of its lane, or retries it); carries Powertools' entry and exception info."""

    __slots__ = ("entry", "exc_info")

    def __init__(self, entry: Entry, exc_info: ExceptionInfo | None) -> None:
        super().__init__(entry[1])
        self.entry = entry
        self.exc_info = exc_info


_default_pool: lanepool.Pool | None = None
_default_lock = threading.Lock()


def default_pool() -> lanepool.Pool:
    """The pool used by processors created with ``pool=None``: one per process, created on
    first use with ``lanepool.Pool()`` (:data:`lanepool.DEFAULT_WORKERS`, 16 workers, for
    I/O-bound handlers; pass ``pool=lanepool.Pool.for_cpu_bound()`` for CPU-bound ones)."""
    global _default_pool
    pool = _default_pool
    if pool is None:
        with _default_lock:
            pool = _default_pool
            if pool is None:
                pool = _default_pool = lanepool.Pool()
    return pool


class ParallelBatchProcessor(BatchProcessor):
    """Powertools' ``BatchProcessor``, with the records scheduled by lanepool.

    The first four parameters are ``BatchProcessor``'s (``event_type``, ``model``,
    ``raise_on_entire_batch_failure``, ``logger``); the rest are keyword-only and lanepool's:

    - ``pool``: the :class:`lanepool.Pool` to run on; None uses :func:`default_pool`.
    - ``ordering``: ``"auto"`` (lanes by SQS FIFO message group, Kinesis partition key,
      DynamoDB keys, Kafka topic-partition; standard SQS records are unkeyed),
      ``"unordered"`` (no lanes, like ``BatchProcessor``) or ``"key"`` (Kafka: lanes by
      topic-partition and record key; other sources: as ``"auto"``).
    - ``group_key``: ``callable(raw_record_dict) -> str | int | None``, your own lanes
      (overrides ``ordering``).
    - ``retries`` / ``retry_backoff_ms``: extra attempts for a failing record (each one goes
      through Powertools' machinery again; its lane waits).
    - ``deadline_margin_ms``: no record starts later than this before the invocation's
      deadline (read from the ``lambda_context`` given to the processor; a context without
      ``get_remaining_time_in_millis``, such as ``{}`` or None, means no deadline).
    - ``log_summary``: print lanepool's one-line JSON summary of each batch.
    - ``cancel_at_deadline`` (``async_process`` only): ``async def`` handlers still running at
      the deadline are cancelled, waited for, and fail with :class:`DeadlineRecordError`;
      ``False`` awaits them. Sync handlers are always awaited.

    Sync record handlers go with ``process()`` / ``process_partial_response``; ``async def``
    handlers with ``async_process()`` / ``async_process_partial_response``. Results, the
    ``success_messages``, ``fail_messages`` and ``exceptions`` lists and ``response()`` are what
    Powertools' processors hold, in event order. A record skipped because an earlier record of
    its lane failed is a failure with :class:`SkippedRecordError`, one not started by the
    deadline with :class:`DeadlineRecordError`. When every record failed, leaving the ``with``
    block raises Powertools' ``BatchProcessingError`` unless
    ``raise_on_entire_batch_failure=False``. ``report`` is lanepool's ``BatchReport`` of the
    last batch (None before the first one); ``options`` holds lanepool's options, checked
    when the processor is made (``processor.options.retries``, ...).

    A malformed record (one lanepool cannot identify: ``lanepool.EventError``) raises before
    any handler runs.

    Kafka (``EventType.Kafka``): Powertools hands the processor the records flattened in event
    order; lanepool gets them back as a Kafka event (one ``records`` group per run of records
    of one topic-partition) and decodes them by the core's Kafka rules (lanes per
    topic-partition; ``ordering="key"``: per topic-partition and record key). The response
    names records as Powertools and Lambda do: ``{"partition": "<topic>-<partition>",
    "offset": <int>}``.
    """

    def __init__(
        self,
        event_type: EventType,
        model: BatchTypeModels | None = None,
        raise_on_entire_batch_failure: bool = True,
        logger: logging.Logger | None = None,
        *,
        pool: lanepool.Pool | None = None,
        **options: Unpack[ProcessorOptions],
    ) -> None:
        # Checked now (a bad option raises here); raise_on_full_batch_failure is off because
        # Powertools' _clean applies its own all-failed rule.
        self.options: Options = Options(raise_on_full_batch_failure=False, **options)
        super().__init__(event_type, model, raise_on_entire_batch_failure, logger)
        self.pool = pool
        self.report: lanepool.BatchReport | None = None
        # Exception info of failed entries, by id(entry), from failure_handler to the record's
        # lanepool handler (thread-safe: one dict operation each, under the GIL).
        self._failed_exc: dict[int, ExceptionInfo] = {}
        # True while process() runs _process_record directly on the pool (see process()).
        self._raise_failures = False

    def __call__(
        self, records: list[dict[str, Any]], handler: Callable[..., Any], lambda_context: Any = None
    ) -> ParallelBatchProcessor:
        """Powertools' ``processor(records, record_handler, lambda_context)`` (what
        ``process_partial_response`` and the ``batch_processor`` decorator call), refusing a
        ``record_handler`` that is not callable before any record runs."""
        expect_callable("record_handler", handler)
        super().__call__(records, handler, lambda_context)
        return self

    # Powertools' async per-record machinery, on this BatchProcessor subclass.
    if TYPE_CHECKING:  # Powertools types it for AsyncBatchProcessor's self only

        async def _async_process_record(self, record: dict[str, Any]) -> Entry: ...

    else:
        _async_process_record = AsyncBatchProcessor._async_process_record

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> Entry:
        entry: Entry = super().failure_handler(record, exception)
        if self._raise_failures:
            # Inside process()'s direct run: the record fails in lanepool's eyes (rest of its
            # lane skipped, retries) with Powertools' entry.
            raise _RecordFailed(entry, exception)
        self._failed_exc[id(entry)] = exception
        return entry

    # ------------------------------------------------------------------ running

    def _batch_options(self) -> Options:
        """This batch's options: the processor's, with the deadline of its ``lambda_context``."""
        context = getattr(self, "lambda_context", None)
        if not callable(getattr(context, "get_remaining_time_in_millis", None)):
            context = None
        return self.options.with_context(context)

    def _direct(self) -> bool:
        """Whether Powertools' per-record method can be lanepool's handler itself, with our
        ``failure_handler`` raising so that lanepool sees failures (no wrapper per record).
        Not when a subclass overrides ``failure_handler``: its code after ``super()`` must
        run, so ours must return."""
        return type(self).failure_handler is ParallelBatchProcessor.failure_handler

    def _event(self, records: list[Any]) -> dict[str, Any]:
        """The records as the Lambda event lanepool decodes: ``{"Records": records}``, or for
        Kafka the event Powertools flattened, its ``records`` groups rebuilt from each run of
        records of one ``"<topic>-<partition>"`` (the core checks every record against its
        group, as for any Kafka event). Event order stays the order of ``records``."""
        if self.event_type != EventType.Kafka:
            return {"Records": records}
        groups: dict[str, list[Any]] = {}
        last: str | None = None
        for index, raw in enumerate(records):
            key = _kafka_group(raw)
            if key != last and key in groups:
                raise lanepool.EventError(
                    f"record {index}: a Kafka record of {key!r} after records of another "
                    "partition: a Kafka batch lists each partition's records together",
                    index,
                    "partition",
                    key,
                )
            groups.setdefault(key, []).append(raw)
            last = key
        return {"eventSource": "aws:kafka", "records": groups}

    def _pool(self) -> lanepool.Pool:
        return self.pool if self.pool is not None else default_pool()

    def process(self) -> list[tuple[Any, ...]]:
        """Runs every record through Powertools' ``_process_record`` on the pool, lanes kept;
        returns Powertools' result tuples in event order."""
        records = self.records
        pool = self._pool()
        event = self._event(records)
        options = self._batch_options()
        if self._direct():
            return self._run_direct(
                records, lambda entries: pool._run_batch(event, self._process_record, options, results=entries)
            )

        successes: dict[int, Entry] = {}
        failed_exc = self._failed_exc
        process_record = self._process_record

        def run(raw: Any) -> None:
            entry: Entry = process_record(raw)
            if entry[0] == "success":
                successes[id(raw)] = entry
                return
            raise _RecordFailed(entry, failed_exc.pop(id(entry), None))

        try:
            report = pool._run_batch(event, run, options)
        finally:
            failed_exc.clear()
        return self._assemble(records, report, [successes.get(id(raw)) for raw in records])

    def async_process(self) -> list[tuple[Any, ...]]:
        """Runs every record through Powertools' ``_async_process_record`` (``async def``
        handlers) on lanepool's asyncio driver, at most ``pool.workers`` in flight, lanes
        kept; returns Powertools' result tuples in event order. Like Powertools, this is a
        sync call: in Lambda it runs on the thread's event loop (created once), elsewhere on
        ``asyncio.run``."""
        records = self.records
        pool = self._pool()
        event = self._event(records)
        options = self._batch_options()
        if self._direct():
            process_record = self._async_process_record
            return self._run_direct(
                records,
                lambda entries: _run_like_powertools(
                    pool._run_batch_async(event, process_record, options, results=entries)
                ),
            )

        successes: dict[int, Entry] = {}
        failed_exc = self._failed_exc
        async_process_record = self._async_process_record

        async def run(raw: Any) -> None:
            entry: Entry = await async_process_record(raw)
            # failure_handler ran with no await since, so the entry is this task's.
            if entry[0] == "success":
                successes[id(raw)] = entry
                return
            raise _RecordFailed(entry, failed_exc.pop(id(entry), None))

        try:
            report = _run_like_powertools(pool._run_batch_async(event, run, options))
        finally:
            failed_exc.clear()
        return self._assemble(records, report, [successes.get(id(raw)) for raw in records])

    def _run_direct(
        self, records: list[Any], run: Callable[[list[Any]], lanepool.BatchReport]
    ) -> list[tuple[Any, ...]]:
        """``run(entries)`` runs the batch with Powertools' per-record method as lanepool's
        handler, filling ``entries`` by index; our ``failure_handler`` raises meanwhile."""
        entries: list[Any] = [None] * len(records)
        self._raise_failures = True
        try:
            report = run(entries)
        finally:
            self._raise_failures = False
        return self._assemble(records, report, entries)

    # ------------------------------------------------------------------ assembling

    def _assemble(
        self, records: list[Any], report: lanepool.BatchReport, entries: list[Any]
    ) -> list[tuple[Any, ...]]:
        """Turns lanepool's report and Powertools' per-record entries into Powertools' state,
        in event order. ``entries`` holds each succeeded record's entry at its index; the
        failed ones' are filled in here, and the list is returned."""
        self.report = report
        failures = report.failures
        if not failures:  # the common case, kept cheap
            self.success_messages[:] = [entry[2] for entry in entries]
            self.fail_messages.clear()
            self.exceptions.clear()
            return entries
        exceptions: dict[int, ExceptionInfo] = {}
        for failure in failures:
            index = failure.index
            exc = failure.exception
            exc_info: ExceptionInfo
            if isinstance(exc, _RecordFailed):
                entry = exc.entry
                # None: failure_handler overridden without calling ours
                exc_info = exc.exc_info or (type(exc), exc, exc.__traceback__)
            else:
                shown = _shown(failure.item_identifier)
                if failure.reason == "skipped":
                    skipped = SkippedRecordError(
                        f"record {shown} was not processed: "
                        "an earlier record of its lane failed",
                        failure.item_identifier,
                        index,
                    )
                    exc_info = (SkippedRecordError, skipped, None)
                elif failure.reason == "deadline":
                    what = "was stopped" if failure.attempts else "was not started"
                    late = DeadlineRecordError(
                        f"record {shown} {what}: "
                        "the invocation's deadline came first",
                        failure.item_identifier,
                        index,
                    )
                    if exc is not None:  # the CancelledError (or what it ended with)
                        late.__cause__ = exc
                    exc_info = (DeadlineRecordError, late, None)
                else:  # raised outside Powertools' try (should not happen)
                    exc_info = (type(exc) if exc is not None else None, exc, getattr(exc, "__traceback__", None))
                entry = self.failure_handler(self._batch_record(records[index]), exc_info)
                self._failed_exc.pop(id(entry), None)
            entries[index] = entry
            exceptions[index] = exc_info
        # Rebuild the lists the per-record calls appended to in completion order.
        self.success_messages.clear()
        self.fail_messages.clear()
        self.exceptions.clear()
        for index, entry in enumerate(entries):
            if entry[0] == "success":
                self.success_messages.append(entry[2])
            else:
                self.fail_messages.append(entry[2])
                self.exceptions.append(exceptions[index])
        return entries

    def _batch_record(self, raw: Any) -> Any:
        """The record as Powertools hands it out: the model instance, or (when it does not
        validate, as for Powertools' poison records) the event source data class."""
        if self.model is not None:
            try:
                return self._to_batch_type(record=raw, event_type=self.event_type, model=self.model)
            except Exception:  # noqa: BLE001 - falls back like Powertools' poison-record path
                pass
        return self._to_batch_type(record=raw, event_type=self.event_type)


def _kafka_group(raw: Any) -> str:
    """The ``records`` key a Kafka record belongs to, from its own topic and partition (for a
    record without them, a key the core then reports the record under)."""
    if isinstance(raw, Mapping):
        return f"{raw.get('topic')}-{raw.get('partition')}"
    return "?"


def _shown(item_identifier: ItemIdentifier) -> str:
    """An identifier in a message: as it is, a Kafka record's as ``"<topic>-<partition>@<offset>"``."""
    if isinstance(item_identifier, dict):
        return f"{item_identifier['partition']}@{item_identifier['offset']}"
    return item_identifier


def _run_like_powertools(coro: Coroutine[Any, Any, _T]) -> _T:
    """Runs ``coro`` to completion the way Powertools' ``async_process`` does: in Lambda on the
    thread's event loop (created if there is none, and kept, so clients bound to it survive
    between invocations), elsewhere with ``asyncio.run``."""
    if os.getenv("LAMBDA_TASK_ROOT"):
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
        return loop.run_until_complete(loop.create_task(coro))
    return asyncio.run(coro)
