"""Type stubs for lanepool.powertools (needs aws-lambda-powertools >= 3)."""

import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.exceptions import SQSFifoMessageGroupCircuitBreakerError

from . import BatchReport, Pool

__all__ = ["ParallelBatchProcessor", "SkippedRecordError", "DeadlineRecordError", "default_pool"]

class SkippedRecordError(SQSFifoMessageGroupCircuitBreakerError):
    """A record not processed because an earlier record of its lane failed."""

    item_identifier: str | None
    index: int | None
    def __init__(self, message: str = "", item_identifier: str | None = None, index: int | None = None) -> None: ...

class DeadlineRecordError(Exception):
    """A record not started (or, async, stopped) because the invocation's deadline came first."""

    item_identifier: str | None
    index: int | None
    def __init__(self, message: str = "", item_identifier: str | None = None, index: int | None = None) -> None: ...

def default_pool() -> Pool:
    """The pool of processors created with ``pool=None``: one per process."""

class ParallelBatchProcessor(BatchProcessor):
    """Powertools' ``BatchProcessor`` with the records scheduled by lanepool (lanes, bounded
    parallelism, deadline, retries); results and state in event order."""

    pool: Pool | None
    ordering: Literal["auto", "unordered"]
    group_key: Callable[[Mapping[str, Any]], str | None] | None
    retries: int
    deadline_margin_ms: float
    retry_backoff_ms: float
    log_summary: bool
    cancel_at_deadline: bool
    report: BatchReport | None
    def __init__(
        self,
        event_type: EventType,
        model: Any | None = None,
        raise_on_entire_batch_failure: bool = True,
        logger: logging.Logger | None = None,
        *,
        pool: Pool | None = None,
        ordering: Literal["auto", "unordered"] = "auto",
        group_key: Callable[[Mapping[str, Any]], str | None] | None = None,
        retries: int = 0,
        deadline_margin_ms: float = 500,
        retry_backoff_ms: float = 100,
        log_summary: bool = False,
        cancel_at_deadline: bool = True,
    ) -> None: ...
    def process(self) -> list[tuple[Any, ...]]: ...
    def async_process(self) -> list[tuple[Any, ...]]: ...
