"""What a new user meets first: the default pool's size, the CPU-bound pool, the version."""

from __future__ import annotations

import importlib.metadata
import re
import threading
import time
from pathlib import Path

import pytest

import lanepool

ROOT = Path(__file__).resolve().parents[2]
MEMORY_ENV = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"


def sqs(n: int) -> dict:
    return {"Records": [{"messageId": f"m{i}", "eventSource": "aws:sqs", "body": ""} for i in range(n)]}


@pytest.mark.parametrize("memory_mb", [None, "128", "512", "1769"])
def test_default_pool_has_16_workers_on_any_memory_size(monkeypatch, memory_mb):
    if memory_mb is None:
        monkeypatch.delenv(MEMORY_ENV, raising=False)
    else:
        monkeypatch.setenv(MEMORY_ENV, memory_mb)
    assert lanepool.Pool().workers == 16
    assert lanepool.DEFAULT_WORKERS == 16
    assert lanepool.Pool(workers=None).workers == 16


def test_default_pool_runs_sleeping_handlers_concurrently():
    """20 records that each sleep 50 ms (I/O: the GIL is released) take a fraction of what one
    worker would take (the sum of the calls' own durations), not all of it."""
    durations: list[float] = []
    lock = threading.Lock()

    def handler(record: dict) -> None:
        start = time.perf_counter()
        time.sleep(0.05)
        with lock:
            durations.append(time.perf_counter() - start)

    pool = lanepool.Pool()
    start = time.perf_counter()
    report = pool.run_batch(sqs(20), handler)
    elapsed = time.perf_counter() - start
    assert len(report.succeeded) == 20 and len(durations) == 20
    sequential = sum(durations)  # what a one-worker pool would take at least
    assert elapsed < sequential / 4, f"{elapsed:.3f} s for {sequential:.3f} s of handler time"
    assert report.summary["peak_in_flight"] > 4


@pytest.mark.parametrize("memory_mb", ["128", "512", "1769"])
def test_for_cpu_bound_takes_the_cpu_share_of_the_memory_size(monkeypatch, memory_mb):
    monkeypatch.setenv(MEMORY_ENV, memory_mb)
    pool = lanepool.Pool.for_cpu_bound()
    assert isinstance(pool, lanepool.Pool)
    assert pool.workers == 1  # up to 1,769 MB, Lambda gives at most one vCPU


def test_for_cpu_bound_outside_lambda_is_the_cpu_count(monkeypatch):
    import os

    monkeypatch.delenv(MEMORY_ENV, raising=False)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert 1 <= lanepool.Pool.for_cpu_bound().workers <= (cpus or 1)


def test_for_cpu_bound_returns_the_subclass():
    class MyPool(lanepool.Pool):
        __slots__ = ()

    assert type(MyPool.for_cpu_bound()) is MyPool


def test_version_is_the_package_metadata_and_the_workspace_version():
    version = lanepool.__version__
    assert isinstance(version, str)
    assert version == importlib.metadata.version("lanepool")
    cargo = (ROOT / "Cargo.toml").read_text()
    workspace = re.search(r'\[workspace\.package\][^\[]*?\nversion\s*=\s*"([^"]+)"', cargo)
    assert workspace is not None
    assert version == workspace.group(1)
