"""Absurd pool sizes are a ValueError naming the maximum, never a crash of the process."""

from __future__ import annotations

import pytest

import lanepool


@pytest.mark.parametrize("workers", [1025, 100_000, 2**40, 2**63 - 1])
def test_too_many_workers_is_a_value_error_naming_the_maximum(workers: int) -> None:
    with pytest.raises(ValueError, match=f"at most 1024 worker threads, got {workers}"):
        lanepool.Pool(workers=workers)


def test_the_maximum_and_small_pools_start() -> None:
    assert lanepool.Pool(workers=1024).workers == 1024
    assert lanepool.Pool(workers=1).workers == 1
