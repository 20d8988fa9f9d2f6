"""A coordinator: fan out 200 jobs to a downstream service that throttles bursts, hangs now and
then and fails some calls transiently, and collect every result (lanepool's ``run_jobs_async``).

The downstream refuses a call when more than 100 calls started in the last second
("throttled"), never answers the first call of a few jobs ("hung") and fails the first call of
some others ("transient"). A naive fan-out starts everything at once: half the jobs are
throttled, and the hung calls hold the coordinator until its deadline. With a start rate below
the downstream's limit, an attempt timeout and retries, every job ends right. The same fan-out
as ``examples/rust/src/coordinator.rs`` and ``examples/node/coordinator.js``.

    python examples/python/coordinator.py           # a table
    python examples/python/coordinator.py --json    # one JSON object (what scripts/demo shows)
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import deque
from typing import Any

import lanepool

JOBS = 200
DOWNSTREAM_PER_SECOND = 100
HUNG_JOBS = (3, 40, 90)


def flaky(job: int) -> bool:
    """Whether ``job``'s first call fails transiently."""
    return job % 23 == 5


class Throttled(Exception):
    """Too many calls started in the last second."""


class Unavailable(Exception):
    """A transient failure (a 503): the next call succeeds."""


class Downstream:
    """A simulated downstream service, counting what it saw."""

    def __init__(self) -> None:
        self.window: deque[float] = deque()  # start times of the calls of the last second
        self.calls: dict[int, int] = {}  # job -> calls so far (the attempt)
        self.throttled = 0
        self.unavailable = 0
        self.hung = 0

    async def call(self, job: int) -> int:
        """One call for ``job``: its result, ``job * 2``."""
        attempt = self.calls[job] = self.calls.get(job, 0) + 1
        now = time.monotonic()
        while self.window and now - self.window[0] >= 1.0:
            self.window.popleft()
        self.window.append(now)
        if len(self.window) > DOWNSTREAM_PER_SECOND:
            self.throttled += 1
            raise Throttled(f"job {job}")
        if attempt == 1 and job in HUNG_JOBS:
            self.hung += 1
            await asyncio.Event().wait()  # never answers (until cancelled)
        if attempt == 1 and flaky(job):
            self.unavailable += 1
            raise Unavailable(f"job {job}")
        await asyncio.sleep(0.02)  # the work
        return job * 2


class Remaining:
    """A Lambda-like context with ``ms`` milliseconds left from now."""

    def __init__(self, ms: float) -> None:
        self.until = time.monotonic() + ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self.until - time.monotonic()) * 1000)


async def fan_out(pool: lanepool.Pool, name: str, **options: Any) -> dict[str, Any]:
    """Fans ``JOBS`` jobs out to a fresh downstream with ``options``; the run as a JSON row."""
    downstream = Downstream()
    start = time.monotonic()
    report = await pool.run_jobs_async(downstream.call, range(JOBS), **options)
    took = time.monotonic() - start
    s = report.summary
    return {
        "name": name,
        "succeeded": s["succeeded"],
        "error": s["error"],
        "timeout": s["timeout"],
        "deadline": s["deadline"],
        "skipped": s["skipped"],
        "retries": s["retries"],
        "throttled": downstream.throttled,
        "transient": downstream.unavailable,
        "hung": downstream.hung,
        "wall_s": took,
        "ok": report.ok,
        "results_right": all(r == job * 2 for job, r in enumerate(report.results)),
    }


async def run() -> list[dict[str, Any]]:
    """The naive fan-out (everything at once, no retries, no timeout: the hung calls run until
    the deadline) and the coordinated one."""
    pool = lanepool.Pool(workers=JOBS)
    naive = await fan_out(pool, "naive fan-out", concurrency=JOBS, context=Remaining(1500), deadline_margin_ms=0)
    coordinated = await fan_out(
        pool,
        "coordinated",
        concurrency=32,
        # Bursts of 45, then 45 per second: at most 90 starts in any second, retries included.
        max_per_second=45,
        attempt_timeout_ms=300,
        retries=3,
        retry_backoff_ms=20,
        context=Remaining(30_000),
        deadline_margin_ms=0,
    )
    return [naive, coordinated]


def main() -> None:
    runs = asyncio.run(run())
    if "--json" in sys.argv[1:]:
        print(json.dumps({"face": "python", "jobs": JOBS, "runs": runs}))
        return
    columns = ("succeeded", "error", "timeout", "deadline", "throttled", "transient", "hung")
    print(f"{f'{JOBS} jobs':<22} " + " ".join(f"{c:>9}" for c in columns) + f" {'wall time':>10}")
    for r in runs:
        print(f"{r['name']:<22} " + " ".join(f"{r[c]:>9}" for c in columns) + f" {r['wall_s']:>8.2f} s")
    coordinated = runs[1]
    print(f"coordinated: {coordinated['retries']} retries, every job ok: {coordinated['ok']}")


if __name__ == "__main__":
    main()
