"""The report of a list of jobs (``Pool.run_jobs``): each job's value, and what did not succeed."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from ._lanepool import BatchReport

_T = TypeVar("_T")

JobReason = Literal["error", "skipped", "deadline", "timeout"]
"""Why a job did not succeed: its function raised (after its retries), an earlier job of its key
failed, the deadline came first, or its last attempt ran past ``attempt_timeout_ms``."""


class JobFailure:
    """A job that did not succeed: ``index`` (in the items), ``item``, ``reason``, the
    ``exception`` its last attempt ended with (None when it never ran) and ``attempts``."""

    __slots__ = ("index", "item", "reason", "exception", "attempts")

    def __init__(self, index: int, item: Any, reason: JobReason, exception: BaseException | None, attempts: int):
        self.index = index
        self.item = item
        self.reason: JobReason = reason
        self.exception = exception
        self.attempts = attempts

    def __repr__(self) -> str:
        return (
            f"JobFailure(index={self.index}, item={self.item!r}, reason={self.reason!r}, "
            f"exception={self.exception!r}, attempts={self.attempts})"
        )


class JobReport(Generic[_T]):
    """What ``Pool.run_jobs`` returns.

    - ``results``: a list aligned with the items: each job's value, or None where it did not
      succeed;
    - ``failures``: a :class:`JobFailure` per job that did not succeed, in item order;
    - ``summary``: the figures of a batch report's summary (``timeout`` and ``rate_wait_ms``
      included);
    - ``ok``: whether every job succeeded.

    >>> import lanepool
    >>> report = lanepool.Pool(workers=2).run_jobs(lambda n: 10 // n, [5, 0, 2])
    >>> report.results
    [2, None, 5]
    >>> report.failures[0].index, report.failures[0].reason, type(report.failures[0].exception)
    (1, 'error', <class 'ZeroDivisionError'>)
    >>> report.ok
    False
    """

    __slots__ = ("results", "failures", "summary", "ok")

    def __init__(self, items: list[Any], results: list[_T | None], report: BatchReport) -> None:
        self.failures = [
            JobFailure(f.index, items[f.index], f.reason, f.exception, f.attempts) for f in report.failures
        ]
        for failure in self.failures:
            results[failure.index] = None  # an attempt that timed out may have stored a value
        self.results: list[_T | None] = results
        self.summary: dict[str, Any] = report.summary
        self.ok = not self.failures

    def __repr__(self) -> str:
        return f"JobReport(jobs={len(self.results)}, failed={len(self.failures)}, ok={self.ok})"
