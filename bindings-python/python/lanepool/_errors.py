"""lanepool's exception classes (raised by the Rust core too)."""

from __future__ import annotations

import sys

__all__ = ["EventError", "BatchFailedError", "BaseExceptionGroup", "ExceptionGroup"]


class EventError(ValueError):
    """A malformed event, raised before any handler runs.

    ``index`` is the record's position in ``event["Records"]`` (None for a problem with the
    event itself) and ``field`` the dotted path of the field at fault, relative to the record
    (``"Records"`` at event level; None when the whole record or event is not an object).
    """

    index: int | None
    field: str | None

    def __init__(self, message: str, index: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.index = index
        self.field = field

    def __reduce__(self):  # keeps index and field through pickling
        return (type(self), (str(self), self.index, self.field))


class BatchFailedError(Exception):
    """Every record of a non-empty batch failed (with ``raise_on_full_batch_failure=True``).

    ``report`` is the batch's full :class:`lanepool.BatchReport`; ``report.response`` is the
    partial batch response listing every record.
    """

    def __init__(self, message: str, report) -> None:
        super().__init__(message)
        self.report = report

    def __reduce__(self):
        return (type(self), (str(self), self.report))


if sys.version_info >= (3, 11):
    import builtins

    BaseExceptionGroup = builtins.BaseExceptionGroup
    ExceptionGroup = builtins.ExceptionGroup
else:  # pragma: no cover - exercised on 3.10 only
    try:
        from exceptiongroup import BaseExceptionGroup, ExceptionGroup  # type: ignore
    except ImportError:

        class BaseExceptionGroup(BaseException):  # type: ignore[no-redef]
            """Python 3.11's BaseExceptionGroup, for 3.10: several exceptions at once."""

            def __new__(cls, message, exceptions):
                exceptions = tuple(exceptions)
                if not exceptions:
                    raise ValueError("second argument (exceptions) must be a non-empty sequence")
                if cls is BaseExceptionGroup and all(isinstance(e, Exception) for e in exceptions):
                    cls = ExceptionGroup
                self = super().__new__(cls, message, exceptions)
                self._message = message
                self._exceptions = exceptions
                return self

            def __init__(self, message, exceptions):
                super().__init__(message, tuple(exceptions))

            @property
            def message(self) -> str:
                return self._message

            @property
            def exceptions(self) -> tuple:
                return self._exceptions

            def derive(self, excs):
                return BaseExceptionGroup(self._message, excs)

            def subgroup(self, condition):
                match, _ = self.split(condition)
                return match

            def split(self, condition):
                if isinstance(condition, type) or isinstance(condition, tuple):
                    types = condition
                    condition = lambda e: isinstance(e, types)  # noqa: E731
                if condition(self):
                    return self, None
                match, rest = [], []
                for e in self._exceptions:
                    if isinstance(e, BaseExceptionGroup):
                        m, r = e.split(condition)
                        if m is not None:
                            match.append(m)
                        if r is not None:
                            rest.append(r)
                    elif condition(e):
                        match.append(e)
                    else:
                        rest.append(e)
                m = self.derive(match) if match else None
                r = self.derive(rest) if rest else None
                for g in (m, r):
                    if g is not None:
                        g.__cause__, g.__context__ = self.__cause__, self.__context__
                        g.__traceback__ = self.__traceback__
                return m, r

            def __str__(self) -> str:
                n = len(self._exceptions)
                return f"{self._message} ({n} sub-exception{'s' if n > 1 else ''})"

            def __repr__(self) -> str:
                return f"{type(self).__name__}({self._message!r}, {list(self._exceptions)!r})"

        class ExceptionGroup(BaseExceptionGroup, Exception):  # type: ignore[no-redef]
            """Python 3.11's ExceptionGroup, for 3.10: several exceptions, all `Exception`s."""

            def __new__(cls, message, exceptions):
                exceptions = tuple(exceptions)
                for e in exceptions:
                    if not isinstance(e, Exception):
                        raise TypeError("Cannot nest BaseExceptions in an ExceptionGroup")
                return super().__new__(cls, message, exceptions)

            def derive(self, excs):
                return ExceptionGroup(self._message, excs)
