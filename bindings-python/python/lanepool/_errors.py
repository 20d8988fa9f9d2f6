"""lanepool's exception classes (raised by the Rust core too)."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see __init__.py)
if TYPE_CHECKING:
    from ._lanepool import BatchReport

__all__ = ["EventError", "BatchFailedError", "BaseExceptionGroup", "ExceptionGroup"]


class EventError(ValueError):
    """A malformed event, raised before any handler runs.

    ``index`` is the record's position in event order (``event["Records"]``, or a Kafka
    event's ``records`` groups one after another; None for a problem with the event itself),
    ``field`` the dotted path of the field at fault, relative to the record (``"Records"`` /
    ``"records"`` at event level, ``"group_key"`` for an invalid custom key; None when the whole
    record or event is not an object) and ``group`` the Kafka ``records`` key of the group the
    problem is in (None for other events).
    """

    index: int | None
    field: str | None
    group: str | None

    def __init__(
        self, message: str, index: int | None = None, field: str | None = None, group: str | None = None
    ) -> None:
        super().__init__(message)
        self.index = index
        self.field = field
        self.group = group

    def __reduce__(self) -> tuple[type[EventError], tuple[str, int | None, str | None, str | None]]:
        return (type(self), (str(self), self.index, self.field, self.group))  # attributes pickled


class BatchFailedError(Exception):
    """Every record of a non-empty batch failed (with ``raise_on_full_batch_failure=True``).

    ``report`` is the batch's full :class:`lanepool.BatchReport`; ``report.response`` is the
    partial batch response listing every record. The message is the Rust core's; ``__cause__``
    is the exception of the first failed record in event order (None when no record raised,
    e.g. every one was ``"deadline"``).
    """

    report: BatchReport

    def __init__(self, message: str, report: BatchReport) -> None:
        super().__init__(message)
        self.report = report

    def __reduce__(self) -> tuple[type[BatchFailedError], tuple[str, BatchReport]]:
        return (type(self), (str(self), self.report))


if sys.version_info >= (3, 11):
    from builtins import BaseExceptionGroup, ExceptionGroup
else:  # pragma: no cover - Python 3.10 only: the PyPI backport (a dependency there)
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup
