"""Type stubs for lanepool."""

import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Generic, Literal, Protocol, TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")

Record = Any
Event = Mapping[str, Any]
Reason = Literal["error", "skipped", "deadline"]

class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...

class EventError(ValueError):
    """A malformed event, raised before any handler runs."""

    index: int | None
    field: str | None
    def __init__(self, message: str, index: int | None = ..., field: str | None = ...) -> None: ...

class BatchFailedError(Exception):
    """Every record of a non-empty batch failed; carries the report."""

    report: BatchReport
    def __init__(self, message: str, report: BatchReport) -> None: ...

if sys.version_info >= (3, 11):
    from builtins import BaseExceptionGroup as BaseExceptionGroup
    from builtins import ExceptionGroup as ExceptionGroup
else:
    _E = TypeVar("_E", bound=BaseException)
    class BaseExceptionGroup(BaseException, Generic[_E]):
        def __new__(cls, message: str, exceptions: Iterable[_E]) -> BaseExceptionGroup[_E]: ...
        @property
        def message(self) -> str: ...
        @property
        def exceptions(self) -> tuple[_E, ...]: ...
    class ExceptionGroup(BaseExceptionGroup[_E], Exception): ...

class Failure:
    """One record reported failed."""

    @property
    def item_identifier(self) -> str: ...
    @property
    def index(self) -> int: ...
    @property
    def reason(self) -> Reason: ...
    @property
    def exception(self) -> BaseException | None: ...
    @property
    def attempts(self) -> int: ...

class BatchReport:
    """The full outcome of one batch."""

    @property
    def response(self) -> dict[str, list[dict[str, str]]]: ...
    @property
    def succeeded(self) -> list[str]: ...
    @property
    def failures(self) -> list[Failure]: ...
    @property
    def outcomes(self) -> list[dict[str, Any]]: ...
    @property
    def summary(self) -> dict[str, Any]: ...
    def log_line(self) -> str: ...
    def __len__(self) -> int: ...

class Task(Generic[_T]):
    """A function spawned in a scope."""

    def done(self) -> bool: ...
    def result(self) -> _T: ...
    def exception(self) -> BaseException | None: ...

class Scope:
    """Tasks spawned in it (nested ones too) finish before the `with` block is left."""

    def spawn(self, fn: Callable[..., _R], /, *args: Any, **kwargs: Any) -> Task[_R]: ...
    def __enter__(self) -> Scope: ...
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool: ...

class Pool:
    """A pool of `workers` threads for record handlers, scope tasks and maps."""

    def __init__(self, workers: int | None = None) -> None: ...
    @property
    def workers(self) -> int: ...
    def process(
        self,
        event: Event,
        handler: Callable[[Record], object] | Callable[[Record], Awaitable[object]],
        *,
        context: LambdaContext | Mapping[str, Any] | None = None,
        ordering: Literal["auto", "unordered"] = "auto",
        group_key: Callable[[Record], str | None] | None = None,
        retries: int = 0,
        deadline_margin_ms: float = 500,
        raise_on_full_batch_failure: bool = True,
        log_summary: bool = False,
        retry_backoff_ms: float = 100,
        cancel_at_deadline: bool = True,
    ) -> dict[str, list[dict[str, str]]]: ...
    def run_batch(
        self,
        event: Event,
        handler: Callable[[Record], object] | Callable[[Record], Awaitable[object]],
        *,
        context: LambdaContext | Mapping[str, Any] | None = None,
        ordering: Literal["auto", "unordered"] = "auto",
        group_key: Callable[[Record], str | None] | None = None,
        retries: int = 0,
        deadline_margin_ms: float = 500,
        raise_on_full_batch_failure: bool = True,
        log_summary: bool = False,
        retry_backoff_ms: float = 100,
        cancel_at_deadline: bool = True,
    ) -> BatchReport: ...
    async def run_batch_async(
        self,
        event: Event,
        handler: Callable[[Record], Awaitable[object]] | Callable[[Record], object],
        *,
        context: LambdaContext | Mapping[str, Any] | None = None,
        ordering: Literal["auto", "unordered"] = "auto",
        group_key: Callable[[Record], str | None] | None = None,
        retries: int = 0,
        deadline_margin_ms: float = 500,
        raise_on_full_batch_failure: bool = True,
        log_summary: bool = False,
        retry_backoff_ms: float = 100,
        cancel_at_deadline: bool = True,
    ) -> BatchReport: ...
    async def process_async(
        self,
        event: Event,
        handler: Callable[[Record], Awaitable[object]] | Callable[[Record], object],
        *,
        context: LambdaContext | Mapping[str, Any] | None = None,
        ordering: Literal["auto", "unordered"] = "auto",
        group_key: Callable[[Record], str | None] | None = None,
        retries: int = 0,
        deadline_margin_ms: float = 500,
        raise_on_full_batch_failure: bool = True,
        log_summary: bool = False,
        retry_backoff_ms: float = 100,
        cancel_at_deadline: bool = True,
    ) -> dict[str, list[dict[str, str]]]: ...
    def scope(self) -> Scope: ...
    def map(self, fn: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]: ...
