"""Many batch calls in flight at once on one Pool (Lambda Managed Instances: one execution
environment serves several invocations at once), from several threads and from one asyncio
loop: each call keeps its own deadline, lanes, retries, summary and report; with
``max_in_flight`` the handlers in flight across the calls never exceed it, and a small call
that starts while a big one runs is not starved."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from conftest import Context

import lanepool


def sqs_event(call: str, n: int, groups: int = 0) -> dict:
    """`n` records named `<call>-<i>`; with `groups`, FIFO records in that many groups."""
    records = []
    for i in range(n):
        record = {"messageId": f"{call}-{i}", "eventSource": "aws:sqs", "body": call, "attributes": {}}
        if groups:
            record["attributes"]["MessageGroupId"] = f"{call}-g{i % groups}"
        records.append(record)
    return {"Records": records}


class Tracker:
    """Counts handlers in flight across every call, and which call each record ran for."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.seen: dict[str, list[str]] = {}  # call -> message ids its handler got
        self.attempts: dict[str, int] = {}

    def begin(self, call: str, record: dict) -> int:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.seen.setdefault(call, []).append(record["messageId"])
            attempt = self.attempts.get(record["messageId"], 0) + 1
            self.attempts[record["messageId"]] = attempt
            return attempt

    def end(self) -> None:
        with self.lock:
            self.in_flight -= 1


def check_call(call: str, n: int, report: lanepool.BatchReport, tracker: Tracker, failing: set[str]) -> None:
    """The report holds this call's records only, each once, with its own outcomes."""
    ids = [f"{call}-{i}" for i in range(n)]
    assert [o["itemIdentifier"] for o in report.outcomes] == ids
    assert {f.item_identifier for f in report.failures} == failing
    assert report.summary["records"] == n
    assert report.summary["failed"] == len(failing)
    assert sorted(tracker.seen.get(call, [])) == sorted(i for i in ids for _ in range(tracker.attempts.get(i, 0)))
    assert all(i.startswith(f"{call}-") for i in tracker.seen.get(call, []))


@pytest.mark.parametrize("max_in_flight", [None, 3])
def test_calls_from_several_threads_keep_their_own_reports(max_in_flight):
    pool = lanepool.Pool(workers=4, max_in_flight=max_in_flight)
    tracker = Tracker()
    calls = [f"c{k}" for k in range(6)]
    reports: dict[str, lanepool.BatchReport] = {}
    errors: list[BaseException] = []

    def handler_for(call: str):
        def handler(record: dict) -> None:
            attempt = tracker.begin(call, record)
            try:
                time.sleep(0.002)
            finally:
                tracker.end()
            i = int(record["messageId"].rsplit("-", 1)[1])
            if i == 1 and attempt == 1:
                raise RuntimeError("transient")  # retried: succeeds on attempt 2
            if i == 2 and call in ("c0", "c3"):
                raise RuntimeError("fails")  # skips the rest of its group (i % 3 == 2)

        return handler

    def run(call: str) -> None:
        try:
            reports[call] = pool.run_batch(
                sqs_event(call, 12, groups=3), handler_for(call), retries=1, retry_backoff_ms=1
            )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    for call in calls:
        failing = {f"{call}-{i}" for i in (2, 5, 8, 11)} if call in ("c0", "c3") else set()
        check_call(call, 12, reports[call], tracker, failing)
        reasons = {f.item_identifier: f.reason for f in reports[call].failures}
        if failing:
            assert reasons == {f"{call}-2": "error", **{f"{call}-{i}": "skipped" for i in (5, 8, 11)}}
        # record 1's one retry, and for c0 / c3 record 2's
        assert reports[call].summary["retries"] == (2 if failing else 1)
        assert reports[call].summary["lanes"] == 3
    if max_in_flight is not None:
        assert tracker.peak <= max_in_flight
        assert pool.in_flight == 0


@pytest.mark.parametrize("max_in_flight", [None, 2])
def test_one_threads_deadline_stops_only_its_own_records(max_in_flight):
    pool = lanepool.Pool(workers=2, max_in_flight=max_in_flight)
    tracker = Tracker()
    reports: dict[str, lanepool.BatchReport] = {}

    def handler_for(call: str):
        def handler(record: dict) -> None:
            tracker.begin(call, record)
            try:
                time.sleep(0.02)
            finally:
                tracker.end()

        return handler

    def run(call: str, **options) -> None:
        reports[call] = pool.run_batch(sqs_event(call, 20), handler_for(call), **options)

    late = threading.Thread(
        target=run,
        args=("late",),
        kwargs={"context": Context(120), "deadline_margin_ms": 50, "raise_on_full_batch_failure": False},
    )
    free = threading.Thread(target=run, args=("free",))
    late.start()
    free.start()
    late.join(timeout=60)
    free.join(timeout=60)
    assert reports["late"].summary["deadline"] > 0
    assert {f.reason for f in reports["late"].failures} == {"deadline"}
    assert all(f.item_identifier.startswith("late-") and f.attempts == 0 for f in reports["late"].failures)
    check_call("free", 20, reports["free"], tracker, set())  # no deadline of its own: all ran
    assert len(tracker.seen["late"]) == reports["late"].summary["succeeded"]
    if max_in_flight is not None:
        assert tracker.peak <= max_in_flight


@pytest.mark.parametrize("max_in_flight", [None, 4])
def test_asyncio_gather_of_calls_keeps_deadlines_apart(max_in_flight):
    """One call's deadline cancels only its own handlers; the others run to the end."""
    pool = lanepool.Pool(workers=4, max_in_flight=max_in_flight)
    tracker = Tracker()
    cancelled: list[str] = []

    def handler_for(call: str, sleep_s: float):
        async def handler(record: dict) -> None:
            tracker.begin(call, record)
            try:
                await asyncio.sleep(sleep_s)
            except asyncio.CancelledError:
                cancelled.append(record["messageId"])
                raise
            finally:
                tracker.end()
            if record["messageId"] == f"{call}-3":
                raise RuntimeError("fails")

        return handler

    async def main():
        short = pool.run_batch_async(
            sqs_event("short", 8),
            handler_for("short", 0.5),
            context=Context(150),
            deadline_margin_ms=50,
            raise_on_full_batch_failure=False,
        )
        others = [pool.run_batch_async(sqs_event(f"a{k}", 8, groups=2), handler_for(f"a{k}", 0.01)) for k in range(4)]
        return await asyncio.gather(short, *others)

    short, *others = asyncio.run(main())
    assert {f.reason for f in short.failures} == {"deadline"}
    assert short.summary["deadline"] == 8 and short.succeeded == []
    assert cancelled and all(c.startswith("short-") for c in cancelled)
    for k, report in enumerate(others):
        call = f"a{k}"
        # record 3 fails and skips record 5 and 7 of its group (odd indexes)
        check_call(call, 8, report, tracker, {f"{call}-3", f"{call}-5", f"{call}-7"})
        assert [f.reason for f in report.failures] == ["error", "skipped", "skipped"]
    if max_in_flight is not None:
        assert tracker.peak <= max_in_flight
        assert pool.in_flight == 0


def big_and_small(pool: lanepool.Pool, use_async: bool) -> tuple[float, float, lanepool.BatchReport]:
    """A 40-record call, then a 2-record call started once the big one fills the limit: the
    seconds each took, and the small call's report."""
    tracker = Tracker()
    started = threading.Event()

    def sync_handler(record: dict) -> None:
        tracker.begin(record["body"], record)
        started.set()
        try:
            time.sleep(0.02)
        finally:
            tracker.end()

    async def async_handler(record: dict) -> None:
        tracker.begin(record["body"], record)
        started.set()
        try:
            await asyncio.sleep(0.02)
        finally:
            tracker.end()

    times: dict[str, float] = {}
    reports: dict[str, lanepool.BatchReport] = {}

    if use_async:

        async def timed(call: str, n: int, delay: bool) -> None:
            if delay:
                for _ in range(10_000):  # bounded: a regression fails, never hangs
                    if started.is_set():
                        break
                    await asyncio.sleep(0.001)
                assert started.is_set()
            t0 = time.monotonic()
            reports[call] = await pool.run_batch_async(sqs_event(call, n), async_handler)
            times[call] = time.monotonic() - t0

        async def main() -> None:
            await asyncio.gather(timed("big", 40, False), timed("small", 2, True))

        asyncio.run(main())
    else:

        def timed_sync(call: str, n: int) -> None:
            t0 = time.monotonic()
            reports[call] = pool.run_batch(sqs_event(call, n), sync_handler)
            times[call] = time.monotonic() - t0

        big = threading.Thread(target=timed_sync, args=("big", 40))
        big.start()
        assert started.wait(10)
        timed_sync("small", 2)
        big.join(timeout=60)
    assert tracker.peak <= (pool.max_in_flight or 10**9)
    assert reports["big"].summary["succeeded"] == 40 and reports["small"].summary["succeeded"] == 2
    return times["small"], times["big"], reports["small"]


@pytest.mark.parametrize("use_async", [False, True])
def test_a_small_call_is_not_starved_by_a_big_one(use_async):
    # 2 slots for both calls: the big call alone needs 20 rounds of 20 ms; the small call gets
    # every other free slot, so it ends after about 2 rounds.
    pool = lanepool.Pool(workers=4, max_in_flight=2)
    small, big, report = big_and_small(pool, use_async)
    assert small < big / 3, (small, big)
    assert report.summary["slot_wait_ms"] > 0  # it did wait for the big call's slots
    assert report.summary["slot_wait_max_ms"] <= report.summary["slot_wait_ms"]
    assert pool.in_flight == 0


def test_no_limit_no_slot_wait():
    report = lanepool.Pool(workers=2).run_batch(sqs_event("c", 4), lambda r: None)
    assert report.summary["slot_wait_ms"] == 0 and report.summary["slot_wait_max_ms"] == 0


def test_a_cancelled_async_call_gives_its_slots_back():
    pool = lanepool.Pool(workers=4, max_in_flight=2)

    async def slow(record):
        await asyncio.sleep(10)

    async def main():
        task = asyncio.ensure_future(pool.run_batch_async(sqs_event("c", 4), slow))
        for _ in range(10_000):  # bounded: a regression fails, never hangs
            if pool.in_flight == 2:
                break
            await asyncio.sleep(0.001)
        assert pool.in_flight == 2
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pool.in_flight == 0
        # the pool still serves calls
        report = await pool.run_batch_async(sqs_event("d", 3), lambda r: None)
        assert len(report.succeeded) == 3

    asyncio.run(main())


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (0, ValueError, "max_in_flight must be at least 1, got 0"),
        (-3, ValueError, "max_in_flight must be at least 1, got -3"),
        (True, TypeError, "max_in_flight must be an int, got bool True"),
        ("8", TypeError, "max_in_flight must be an int, got str '8'"),
    ],
)
def test_bad_max_in_flight_is_refused(value, error, message):
    with pytest.raises(error, match=message):
        lanepool.Pool(workers=2, max_in_flight=value)


def test_max_in_flight_property():
    assert lanepool.Pool(workers=2).max_in_flight is None
    assert lanepool.Pool(workers=2, max_in_flight=5).max_in_flight == 5
    assert lanepool.Pool.for_cpu_bound(max_in_flight=3).max_in_flight == 3
