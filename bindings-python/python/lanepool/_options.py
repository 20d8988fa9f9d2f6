"""The keyword options of a batch call, stated once for every method that takes them.

The defaults and the checks live in the Rust core (``lanepool._lanepool.BatchOptions``); this
module only names and types the keywords.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol, TypedDict

__all__ = [
    "BatchOptions",
    "Context",
    "LambdaContext",
    "Ordering",
    "GroupKey",
    "ItemIdentifier",
    "KafkaItemIdentifier",
]

Ordering = Literal["auto", "unordered", "key"]
GroupKey = Callable[[Any], "str | int | None"]
"""A lane key function: a ``str`` (the key, ``""`` too), an ``int`` (its decimal string: ``7``
and ``"7"`` are one lane) or None (unkeyed); the core's key rule judges what it returns."""


class KafkaItemIdentifier(TypedDict):
    """How Lambda names a Kafka record in the partial batch response."""

    partition: str
    """``"<topic>-<partition>"``."""
    offset: int
    """The record's offset."""


ItemIdentifier = str | KafkaItemIdentifier
"""A record's identifier: SQS ``messageId``, Kinesis / DynamoDB sequence number (``str``), or a
Kafka record's :class:`KafkaItemIdentifier`."""


class LambdaContext(Protocol):
    """What lanepool reads of a Lambda context: the time left in the invocation."""

    def get_remaining_time_in_millis(self) -> int: ...


Context = LambdaContext | Mapping[str, Any] | None
"""A batch's ``context``: a Lambda context, or None / ``{}`` for no deadline."""


class BatchOptions(TypedDict, total=False):
    """The keyword options of ``Pool.process`` / ``run_batch`` / ``run_batch_async`` /
    ``process_async`` (see :meth:`lanepool.Pool.run_batch` for what each one does; the
    defaults are the core's).

    >>> import lanepool
    >>> options: lanepool.BatchOptions = {"ordering": "unordered", "retries": 1}
    >>> lanepool.Pool(workers=2).process({"Records": []}, print, **options)
    {'batchItemFailures': []}
    """

    context: Context
    ordering: Ordering
    group_key: GroupKey | None
    retries: int
    deadline_margin_ms: float
    raise_on_full_batch_failure: bool
    log_summary: bool
    retry_backoff_ms: float
    cancel_at_deadline: bool
    concurrency: int | None
    attempt_timeout_ms: float | None
    max_per_second: float | None


class JobOptions(TypedDict, total=False):
    """The keyword options of ``Pool.run_jobs`` / ``run_jobs_async`` (see
    :meth:`lanepool.Pool.run_jobs`): the batch options that apply to a plain list.

    >>> import lanepool
    >>> options: lanepool.JobOptions = {"retries": 1, "concurrency": 4}
    >>> lanepool.Pool(workers=2).run_jobs(str.upper, ["a"], **options).results
    ['A']
    """

    context: Context
    retries: int
    deadline_margin_ms: float
    retry_backoff_ms: float
    cancel_at_deadline: bool
    concurrency: int | None
    attempt_timeout_ms: float | None
    max_per_second: float | None
