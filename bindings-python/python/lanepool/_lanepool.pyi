"""Type stubs for lanepool._lanepool, the Rust core of the package (checked by stubtest)."""

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, Literal, TypeAlias, TypeVar, final

from ._options import Context, GroupKey, ItemIdentifier, Ordering

__all__ = [
    "__version__",
    "DEFAULT_WORKERS",
    "Pool",
    "Scope",
    "Task",
    "Options",
    "BatchReport",
    "Failure",
    "BatchRun",
    "expect_callable",
    "DEFAULT_DEADLINE_MARGIN_MS",
    "DEFAULT_RETRY_BACKOFF_MS",
]

_T = TypeVar("_T")
_R = TypeVar("_R")

__version__: str
DEFAULT_WORKERS: int
DEFAULT_DEADLINE_MARGIN_MS: float
DEFAULT_RETRY_BACKOFF_MS: float

_Reason: TypeAlias = Literal["error", "skipped", "deadline", "timeout"]

@final
class Options:
    """The options of one batch call, checked when built."""

    def __new__(
        cls,
        *,
        context: Context = None,
        ordering: Ordering = "auto",
        group_key: GroupKey | None = None,
        retries: int = 0,
        deadline_margin_ms: float = ...,
        raise_on_full_batch_failure: bool = True,
        log_summary: bool = False,
        retry_backoff_ms: float = ...,
        cancel_at_deadline: bool = True,
        concurrency: int | None = None,
        attempt_timeout_ms: float | None = None,
        max_per_second: float | None = None,
    ) -> Options: ...
    def with_context(self, context: Context) -> Options: ...
    @property
    def context(self) -> Context: ...
    @property
    def ordering(self) -> Ordering: ...
    @property
    def group_key(self) -> GroupKey | None: ...
    @property
    def retries(self) -> int: ...
    @property
    def deadline_margin_ms(self) -> float: ...
    @property
    def raise_on_full_batch_failure(self) -> bool: ...
    @property
    def log_summary(self) -> bool: ...
    @property
    def retry_backoff_ms(self) -> float: ...
    @property
    def cancel_at_deadline(self) -> bool: ...
    @property
    def concurrency(self) -> int | None: ...
    @property
    def attempt_timeout_ms(self) -> float | None: ...
    @property
    def max_per_second(self) -> float | None: ...

@final
class Failure:
    """One record reported failed."""

    @property
    def item_identifier(self) -> ItemIdentifier: ...
    @property
    def index(self) -> int: ...
    @property
    def reason(self) -> _Reason: ...
    @property
    def exception(self) -> BaseException | None: ...
    @property
    def attempts(self) -> int: ...

@final
class BatchReport:
    """The full outcome of one batch."""

    @property
    def response(self) -> dict[str, list[dict[str, ItemIdentifier]]]: ...
    @property
    def succeeded(self) -> list[ItemIdentifier]: ...
    @property
    def failures(self) -> list[Failure]: ...
    @property
    def outcomes(self) -> list[dict[str, Any]]: ...
    @property
    def summary(self) -> dict[str, Any]: ...
    def log_line(self) -> str: ...
    def __len__(self) -> int: ...

@final
class Task(Generic[_T]):
    """A function spawned in a scope."""

    def done(self) -> bool: ...
    def result(self) -> _T: ...
    def exception(self) -> BaseException | None: ...

@final
class Scope:
    """Tasks spawned in it (nested ones too) finish before the `with` block is left."""

    def spawn(self, func: Callable[..., _R], /, *args: Any, **kwargs: Any) -> Task[_R]: ...
    def __enter__(self) -> Scope: ...
    def __exit__(self, _exc_type: object = None, exc: object = None, _tb: object = None) -> bool: ...

@final
class Pool:
    """The worker pool (Rust threads); `lanepool.Pool` wraps it."""

    def __new__(cls, workers: int | None = None, max_in_flight: int | None = None) -> Pool: ...
    @property
    def workers(self) -> int: ...
    @property
    def max_in_flight(self) -> int | None: ...
    @property
    def in_flight(self) -> int: ...
    def start_batch(
        self, event: Mapping[str, Any], handler: Callable[[Any], object], options: Options, cancellable: bool = True
    ) -> tuple[BatchRun, list[Any]]: ...
    def start_jobs(
        self,
        items: list[Any],
        key: Callable[[Any], object] | None,
        handler: Callable[[Any], object],
        options: Options,
        cancellable: bool = True,
    ) -> tuple[BatchRun, list[Any]]: ...
    def run_jobs(
        self,
        items: list[Any],
        key: Callable[[Any], object] | None,
        fn: Callable[[Any], object],
        options: Options,
        results: list[Any],
    ) -> BatchReport: ...
    @staticmethod
    def cpu_workers() -> int: ...
    def run_batch(
        self,
        event: Mapping[str, Any],
        handler: Callable[[Any], object],
        options: Options,
        results: list[Any] | None = None,
    ) -> BatchReport: ...
    def scope(self) -> Scope: ...
    def map(self, fn: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]: ...

@final
class BatchRun:
    """One batch's scheduling state, driven by the asyncio driver."""

    def step(self) -> tuple[int, Any]: ...  # (0, index: int) | (1, timeout: float | None) | (2, None)
    def complete(self, index: int, exception: BaseException | None = None) -> None: ...
    def complete_step(self, index: int, exception: BaseException | None = None) -> tuple[int, Any]: ...
    def cancel(self, index: int, exception: BaseException | None = None) -> None: ...
    def timed_out(self) -> list[int]: ...
    def time_out(self, index: int, exception: BaseException | None = None) -> None: ...
    def deadline_passed(self) -> bool: ...
    @property
    def time_to_deadline(self) -> float | None: ...
    def cancel_due(self) -> bool: ...
    @property
    def cancel_at_deadline(self) -> bool: ...
    def halt(self) -> None: ...
    @property
    def concurrency(self) -> int: ...
    @property
    def limited(self) -> bool: ...
    def set_wake(self, event_loop: object, callback: Callable[[], object]) -> None: ...
    def close(self) -> None: ...
    def finish(self) -> BatchReport: ...
def expect_callable(name: str, value: object) -> None:
    """Raises `TypeError` ("{name} must be callable, got int 5") unless `value` is callable."""
