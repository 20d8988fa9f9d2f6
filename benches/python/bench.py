"""lanepool's Python face side by side with Powertools for AWS Lambda, ThreadPoolExecutor and
asyncio.gather + Semaphore, in one process.

    benches/.venv/bin/python benches/python/bench.py [--json out.json] [--quick] [--no-sweep] [--big-only]
                                                     [--kafka-only] [--async-only]

Also lanepool's Powertools processor (lanepool.powertools.ParallelBatchProcessor) on the same
batches: (d) on the FIFO batch against the lane ideal, (e) its cost per record over lanepool's
own `process` with a trivial handler. (f) a 6 MB event against a small one, (g) the cost per
record of a 10,000-record event against 100-record ones (`--big-only` runs just these two).
Kafka (`--kafka-only` runs just these three): (h) and (i) an MSK batch of 100 records over 5
partitions (2 keys each) x 20 ms with ordering "auto" and "key" against the lane ideal and
Powertools' `BatchProcessor(EventType.Kafka)` (sequential), (j) a trivial handler on 10,000
Kafka records; every contender of these runs in turn, round by round. (k) `process_async` with
a trivial coroutine on 10,000 records against `asyncio.gather` + `Semaphore` at 2, 4 and 10
workers, all six in turn, round by round (`--async-only` runs just these and the import figure).
The import figure: `import lanepool` in 20 fresh interpreters, from the installed layout.

Needs `aws-lambda-powertools` (scripts/bench installs it into benches/.venv) and lanepool: the
installed one, or else the editable build in bindings-python/python (bash bindings-python/test.sh).
Every figure is the median of several runs; ratios are lanepool / rival (below 1.0: lanepool is
faster, or closer to the ideal).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

try:
    import lanepool
except ImportError:  # reuse the editable build of bindings-python
    sys.path.insert(0, str(ROOT / "bindings-python" / "python"))
    import lanepool
from lanepool.powertools import ParallelBatchProcessor

from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    async_process_partial_response,
    process_partial_response,
)

SLEEP = 0.020


# ---------------------------------------------------------------- events

def sqs_record(i: int, group: str | None) -> dict:
    attributes = {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": "1700000000000",
        "SenderId": "AIDAEXAMPLE",
        "ApproximateFirstReceiveTimestamp": "1700000000001",
    }
    arn = "arn:aws:sqs:us-east-1:123456789012:bench"
    if group is not None:
        attributes["MessageGroupId"] = group
        attributes["MessageDeduplicationId"] = f"dedup-{i}"
        attributes["SequenceNumber"] = str(18800000000000000000 + i)
        arn += ".fifo"
    return {
        "messageId": f"msg-{i:06d}",
        "receiptHandle": f"handle-{i}",
        "body": '{"n": %d}' % i,
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": "d41d8cd98f00b204e9800998ecf8427e",
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": "us-east-1",
    }


def standard_event(n: int) -> dict:
    return {"Records": [sqs_record(i, None) for i in range(n)]}


def fifo_event(n: int, groups: int) -> dict:
    # Interleaved groups, as a FIFO queue delivers several groups in one batch.
    return {"Records": [sqs_record(i, f"group-{i % groups}") for i in range(n)]}


def big_event(n: int, body_bytes: int) -> dict:
    """A standard SQS event of `n` records whose bodies are `body_bytes` long."""
    event = standard_event(n)
    for i, record in enumerate(event["Records"]):
        record["body"] = ("%06d" % i) + "x" * (body_bytes - 6)
    return event


def kafka_event(n: int, partitions: int, keys: int) -> dict:
    """An MSK event of `n` records: record i in partition i % partitions of topic "bench", with
    key (i // partitions) % keys, offsets in order: every partition gets n / partitions records
    and every (partition, key) lane n / (partitions * keys)."""
    groups: dict[str, list[dict]] = {f"bench-{p}": [] for p in range(partitions)}
    for i in range(n):
        p = i % partitions
        groups[f"bench-{p}"].append({
            "topic": "bench",
            "partition": p,
            "offset": 1000 + i // partitions,
            "timestamp": 1700000000000 + i,
            "timestampType": "CREATE_TIME",
            "key": base64.b64encode(b"key-%d" % ((i // partitions) % keys)).decode(),
            "value": base64.b64encode(b'{"n": %d}' % i).decode(),
            "headers": [],
        })
    return {
        "eventSource": "aws:kafka",
        "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/bench/abc-1",
        "bootstrapServers": "b-1.bench.kafka.us-east-1.example:9098",
        "records": groups,
    }


def kafka_lanes(event: dict, ordering: str) -> list[list[dict]]:
    """The records of each lane in order: a topic-partition ("auto") or a (topic-partition,
    key) pair ("key")."""
    lanes: dict[tuple, list[dict]] = {}
    for tp, records in event["records"].items():
        for r in records:
            lanes.setdefault((tp,) if ordering == "auto" else (tp, r["key"]), []).append(r)
    return list(lanes.values())


def groups_of(event: dict) -> list[list[dict]]:
    groups: dict[str, list[dict]] = {}
    for r in event["Records"]:
        groups.setdefault(r["attributes"]["MessageGroupId"], []).append(r)
    return list(groups.values())


# ---------------------------------------------------------------- handlers

def trivial(record) -> None:
    return None


async def trivial_async(record) -> None:
    return None


def sleepy(record) -> None:
    time.sleep(SLEEP)


async def sleepy_async(record) -> None:
    await asyncio.sleep(SLEEP)


# ---------------------------------------------------------------- rivals (same work, same answer)

def tpe_run(executor: ThreadPoolExecutor, event: dict, handler) -> dict:
    records = event["Records"]
    futures = [executor.submit(handler, r) for r in records]
    failures = []
    for r, f in zip(records, futures):
        if f.exception() is not None:
            failures.append({"itemIdentifier": r["messageId"]})
    return {"batchItemFailures": failures}


def tpe_fifo_run(executor: ThreadPoolExecutor, event: dict, handler) -> dict:
    """One task per message group, records of a group in order, the rest skipped after a failure."""

    def run_group(group):
        for k, r in enumerate(group):
            try:
                handler(r)
            except Exception:
                return [x["messageId"] for x in group[k:]]
        return []

    failed = set()
    for f in [executor.submit(run_group, g) for g in groups_of(event)]:
        failed.update(f.result())
    return {
        "batchItemFailures": [
            {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["messageId"] in failed
        ]
    }


async def gather_run(event: dict, handler, limit: int) -> dict:
    sem = asyncio.Semaphore(limit)

    async def one(r):
        async with sem:
            await handler(r)

    results = await asyncio.gather(*(one(r) for r in event["Records"]), return_exceptions=True)
    return {
        "batchItemFailures": [
            {"itemIdentifier": r["messageId"]}
            for r, res in zip(event["Records"], results)
            if isinstance(res, BaseException)
        ]
    }


async def gather_fifo_run(event: dict, handler, limit: int) -> dict:
    sem = asyncio.Semaphore(limit)
    failed: set[str] = set()

    async def group_task(group):
        for k, r in enumerate(group):
            async with sem:
                try:
                    await handler(r)
                except Exception:
                    failed.update(x["messageId"] for x in group[k:])
                    return

    await asyncio.gather(*(group_task(g) for g in groups_of(event)))
    return {
        "batchItemFailures": [
            {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["messageId"] in failed
        ]
    }


def tpe_kafka_run(executor: ThreadPoolExecutor, event: dict, handler, ordering: str) -> dict:
    """One task per lane (topic-partition, or topic-partition and key), records in offset order,
    the rest of a lane skipped after a failure; failures in event order."""

    def run_lane(lane):
        for k, r in enumerate(lane):
            try:
                handler(r)
            except Exception:
                return [(r["topic"], r["partition"], x["offset"]) for x in lane[k:]]
        return []

    failed = set()
    for f in [executor.submit(run_lane, lane) for lane in kafka_lanes(event, ordering)]:
        failed.update(f.result())
    return {
        "batchItemFailures": [
            {"itemIdentifier": {"partition": f"{r['topic']}-{r['partition']}", "offset": r["offset"]}}
            for records in event["records"].values() for r in records
            if (r["topic"], r["partition"], r["offset"]) in failed
        ]
    }


def pt_kafka(event, handler):
    """Powertools' BatchProcessor for Kafka: one record at a time, every record attempted."""
    return process_partial_response(
        event=event, record_handler=handler, processor=BatchProcessor(event_type=EventType.Kafka)
    )


def pt_batch(event, handler):
    return process_partial_response(
        event=event, record_handler=handler, processor=BatchProcessor(event_type=EventType.SQS)
    )


def pt_fifo(event, handler):
    return process_partial_response(
        event=event, record_handler=handler, processor=SqsFifoPartialProcessor(skip_group_on_error=True)
    )


def pt_async(event, handler):
    return async_process_partial_response(
        event=event, record_handler=handler, processor=AsyncBatchProcessor(event_type=EventType.SQS)
    )


def lp_processor(pool, event, handler, ordering="auto"):
    """lanepool.powertools.ParallelBatchProcessor, used as Powertools' processors are."""
    return process_partial_response(
        event=event,
        record_handler=handler,
        processor=ParallelBatchProcessor(EventType.SQS, pool=pool, ordering=ordering),
    )


def lp_processor_async(pool, event, handler):
    return async_process_partial_response(
        event=event, record_handler=handler, processor=ParallelBatchProcessor(EventType.SQS, pool=pool)
    )


# ---------------------------------------------------------------- timing

def median_time(fn, runs: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        check(fn())
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        check(out)
    return statistics.median(times)


def medians_in_turn(cases: dict, runs: int, warmup: int = 1) -> dict:
    """Median seconds of several contenders run in turn (one run of each, round by round), so
    that warm-up, the collector and a busy machine weigh on all of them alike."""
    times: dict = {name: [] for name in cases}
    for round_ in range(warmup + runs):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            out = fn()
            t = time.perf_counter() - t0
            check(out)
            if round_ >= warmup:
                times[name].append(t)
    return {name: statistics.median(ts) for name, ts in times.items()}


def median_delta(fn, base, runs: int, warmup: int = 1) -> float:
    """Median over alternating runs of time(fn) - time(base): a small difference of two
    figures, measured in pairs so that drift on a busy machine cancels out."""
    for _ in range(warmup):
        check(fn())
        check(base())
    deltas = []
    for _ in range(runs):
        t0 = time.perf_counter()
        check(fn())
        t1 = time.perf_counter()
        check(base())
        t2 = time.perf_counter()
        deltas.append((t1 - t0) - (t2 - t1))
    return statistics.median(deltas)


def check(response) -> None:
    assert response == {"batchItemFailures": []}, response


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--big-only", action="store_true", help="only rows (f) and (g): big events, scaling")
    ap.add_argument("--kafka-only", action="store_true", help="only rows (h), (i) and (j): Kafka")
    ap.add_argument("--jobs-only", action="store_true", help="only rows (l): run_jobs_async against asyncio.gather")
    ap.add_argument("--async-only", action="store_true",
                    help="only rows (k): process_async against asyncio.gather, and the import figure")
    args = ap.parse_args()
    runs_fast = 3 if args.quick else 7
    runs_io = 1 if args.quick else 3

    results: dict = {"face": "python", "python": sys.version.split()[0], "rows": [], "sweep": {}}
    try:
        from importlib.metadata import version

        results["versions"] = {"aws-lambda-powertools": version("aws-lambda-powertools")}
    except Exception:  # pragma: no cover
        results["versions"] = {}
    rows = results["rows"]

    def row(case, unit, entries, primary, goal=None, ideal=None):
        """One case: every library's figure, and each ratio as primary lanepool variant / it."""
        lp = entries[primary]
        if ideal is not None:
            entries = {"ideal": ideal, **entries}
        rows.append(
            {
                "case": case,
                "unit": unit,
                "primary": primary,
                "lanepool": lp,
                "ideal": ideal,
                "goal": goal,
                "entries": [
                    {"name": k, "value": v, "ratio": (lp / v) if v else None} for k, v in entries.items()
                ],
            }
        )

    if args.big_only:
        loop = asyncio.new_event_loop()
        big_rows(row, loop, runs_fast)
        loop.close()
        print_rows(rows)
        return
    if args.jobs_only:
        jobs_rows(row, runs_fast, runs_io)
        print_rows(rows)
        return
    if args.async_only:
        async_rows(row, runs_fast)
        print_rows(rows)
        results["import_ms"] = import_time_ms(runs=IMPORT_RUNS)
        print_import(results["import_ms"])
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
            print(f"wrote {args.json}")
        return
    if args.kafka_only:
        kafka_rows(row, runs_io, runs_fast)
        print_rows(rows)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
            print(f"wrote {args.json}")
        return

    # (a) trivial handler, 10,000 records, µs per record.
    n = 10_000
    ev = standard_event(n)
    fev = fifo_event(n, 100)
    workers_a = os.cpu_count() or 2
    pool_a = lanepool.Pool(workers=workers_a)
    us = lambda s: s * 1e6 / n  # noqa: E731
    loop = asyncio.new_event_loop()
    a = {}
    with ThreadPoolExecutor(max_workers=workers_a) as ex:
        a["lanepool sync"] = us(median_time(lambda: pool_a.process(ev, trivial), runs_fast))
        pool_1 = lanepool.Pool(workers=1)
        a["lanepool sync, Pool(workers=1)"] = us(median_time(lambda: pool_1.process(ev, trivial), runs_fast))
        a["lanepool sync FIFO (100 groups)"] = us(median_time(lambda: pool_a.process(fev, trivial), runs_fast))
        a["lanepool unordered"] = us(
            median_time(lambda: pool_a.process(fev, trivial, ordering="unordered"), runs_fast)
        )
        a["lanepool async (process)"] = us(median_time(lambda: pool_a.process(ev, trivial_async), runs_fast))
        a["lanepool process_async"] = us(
            median_time(lambda: loop.run_until_complete(pool_a.process_async(ev, trivial_async)), runs_fast)
        )
        a["ThreadPoolExecutor"] = us(median_time(lambda: tpe_run(ex, ev, trivial), runs_fast))
        a["asyncio.gather+Semaphore"] = us(
            median_time(lambda: loop.run_until_complete(gather_run(ev, trivial_async, workers_a)), runs_fast)
        )
        a["Powertools BatchProcessor"] = us(median_time(lambda: pt_batch(ev, trivial), runs_fast))
        a["Powertools SqsFifoPartialProcessor"] = us(median_time(lambda: pt_fifo(fev, trivial), runs_fast))
        a["Powertools AsyncBatchProcessor"] = us(median_time(lambda: pt_async(ev, trivial_async), runs_fast))
        a["lanepool ParallelBatchProcessor"] = us(median_time(lambda: lp_processor(pool_a, ev, trivial), runs_fast))
        a["lanepool ParallelBatchProcessor FIFO (100 groups)"] = us(
            median_time(lambda: lp_processor(pool_a, fev, trivial), runs_fast)
        )
        # The price of Powertools' record wrapping and bookkeeping: the processor minus
        # lanepool's own process on the same batch, same pool (a small difference of two
        # noisy figures: the median of many pairs).
        pairs = runs_fast * 6
        e = {
            "standard SQS": us(median_delta(lambda: lp_processor(pool_a, ev, trivial),
                                            lambda: pool_a.process(ev, trivial), pairs)),
            "SQS FIFO (100 groups)": us(median_delta(lambda: lp_processor(pool_a, fev, trivial),
                                                     lambda: pool_a.process(fev, trivial), pairs)),
            "async handler (async_process - process_async)": us(median_delta(
                lambda: lp_processor_async(pool_a, ev, trivial_async),
                lambda: loop.run_until_complete(pool_a.process_async(ev, trivial_async)), pairs)),
        }
    row(
        f"(a) trivial handler, 10,000 records, {workers_a} workers",
        "us/record",
        a,
        "lanepool sync",
        goal="<= 3 us/record and below ThreadPoolExecutor",
    )
    row(
        f"(e) ParallelBatchProcessor minus lanepool's process, trivial handler, 10,000 records, {workers_a} workers",
        "us/record",
        e,
        "standard SQS",
        goal="<= 2 us/record (sync)",
    )

    # (b) 100 records x 20 ms, 10 workers: ideal 0.2 s.
    ev = standard_event(100)
    pool10 = lanepool.Pool(workers=10)
    b = {}
    with ThreadPoolExecutor(max_workers=10) as ex:
        b["lanepool sync (time.sleep)"] = median_time(lambda: pool10.process(ev, sleepy), runs_io)
        b["lanepool async (process)"] = median_time(lambda: pool10.process(ev, sleepy_async), runs_io)
        b["lanepool process_async"] = median_time(
            lambda: loop.run_until_complete(pool10.process_async(ev, sleepy_async)), runs_io
        )
        b["ThreadPoolExecutor(10)"] = median_time(lambda: tpe_run(ex, ev, sleepy), runs_io)
        b["asyncio.gather+Semaphore(10)"] = median_time(
            lambda: loop.run_until_complete(gather_run(ev, sleepy_async, 10)), runs_io
        )
        b["Powertools BatchProcessor (sequential)"] = median_time(lambda: pt_batch(ev, sleepy), runs_io, warmup=0)
        b["Powertools AsyncBatchProcessor (no limit)"] = median_time(lambda: pt_async(ev, sleepy_async), runs_io)
        b["lanepool ParallelBatchProcessor"] = median_time(lambda: lp_processor(pool10, ev, sleepy), runs_io)
        b["lanepool ParallelBatchProcessor (async_process)"] = median_time(
            lambda: lp_processor_async(pool10, ev, sleepy_async), runs_io
        )
    row("(b) 100 records x 20 ms, 10 workers", "s", b, "lanepool sync (time.sleep)",
        goal="within 10% of ideal 0.2 s", ideal=0.2)

    # (c) SQS FIFO: 100 records in 10 groups x 20 ms: ideal = largest group x 20 ms = 0.2 s.
    ev = fifo_event(100, 10)
    ideal_c = max(len(g) for g in groups_of(ev)) * SLEEP
    c = {}
    with ThreadPoolExecutor(max_workers=10) as ex:
        c["lanepool sync (time.sleep)"] = median_time(lambda: pool10.process(ev, sleepy), runs_io)
        c["lanepool async (process)"] = median_time(lambda: pool10.process(ev, sleepy_async), runs_io)
        c["lanepool process_async"] = median_time(
            lambda: loop.run_until_complete(pool10.process_async(ev, sleepy_async)), runs_io
        )
        c["ThreadPoolExecutor(10), task per group"] = median_time(lambda: tpe_fifo_run(ex, ev, sleepy), runs_io)
        c["asyncio.gather+Semaphore(10), task per group"] = median_time(
            lambda: loop.run_until_complete(gather_fifo_run(ev, sleepy_async, 10)), runs_io
        )
        c["Powertools SqsFifoPartialProcessor"] = median_time(lambda: pt_fifo(ev, sleepy), runs_io, warmup=0)
        c["lanepool ParallelBatchProcessor"] = median_time(lambda: lp_processor(pool10, ev, sleepy), runs_io)
        c["lanepool ParallelBatchProcessor (async_process)"] = median_time(
            lambda: lp_processor_async(pool10, ev, sleepy_async), runs_io
        )
    row("(c) SQS FIFO, 100 records in 10 groups x 20 ms, 10 workers", "s", c, "lanepool sync (time.sleep)",
        goal=f"within 10% of ideal {ideal_c:.1f} s", ideal=ideal_c)
    # (d) the same FIFO batch through Powertools' API: lanepool's processor against Powertools'.
    d = {k: c[k] for k in ("lanepool ParallelBatchProcessor", "lanepool ParallelBatchProcessor (async_process)",
                           "lanepool sync (time.sleep)", "Powertools SqsFifoPartialProcessor")}
    row("(d) Powertools API, SQS FIFO, 100 records in 10 groups x 20 ms, 10 workers", "s", d,
        "lanepool ParallelBatchProcessor", goal=f"within 10% of ideal {ideal_c:.1f} s", ideal=ideal_c)

    big_rows(row, loop, runs_fast)
    kafka_rows(row, runs_io, runs_fast)
    async_rows(row, runs_fast)
    jobs_rows(row, runs_fast, runs_io)

    # Import time and package size.
    results["import_ms"] = import_time_ms(runs=IMPORT_RUNS)
    results["sizes"] = sizes()

    # Sweep for the chart: batch duration against concurrency.
    if not args.no_sweep:
        results["sweep"] = sweep(loop, quick=args.quick)
    loop.close()

    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.json}")


def big_rows(row, loop, runs: int) -> None:
    """(f) a 6 MB event costs what a small one does (records are never copied or serialised);
    (g) the cost per record does not grow with the batch (10,000 records vs 100)."""
    pool = lanepool.Pool(workers=os.cpu_count() or 2)
    big, small = big_event(10, 600_000), big_event(10, 100)
    ms = lambda s: s * 1e3  # noqa: E731
    f = {
        "sync": ms(median_delta(lambda: pool.process(big, trivial),
                                lambda: pool.process(small, trivial), runs * 5)),
        "async (process)": ms(median_delta(lambda: pool.process(big, trivial_async),
                                           lambda: pool.process(small, trivial_async), runs * 5)),
        "process_async": ms(median_delta(
            lambda: loop.run_until_complete(pool.process_async(big, trivial_async)),
            lambda: loop.run_until_complete(pool.process_async(small, trivial_async)), runs * 5)),
    }
    row("(f) 6 MB event (10 records x 600 KB bodies) minus 10 small records, trivial handler",
        "ms", f, "sync", goal="<= 1 ms")
    many, few = standard_event(10_000), standard_event(100)
    repeat = 100  # 100 calls of 100 records: the same records handled as one 10,000 batch
    g = {
        "10,000 records, one call": median_time(lambda: pool.process(many, trivial), runs) * 1e6 / 10_000,
        "100 records, per call": median_time(
            lambda: [pool.process(few, trivial) for _ in range(repeat)][-1], runs
        ) * 1e6 / (100 * repeat),
    }
    row("(g) per-record cost, 10,000-record event vs 100-record events, trivial handler",
        "us/record", g, "10,000 records, one call", goal="ratio within 20% (<= 1.2)")


def kafka_rows(row, runs_io: int, runs_fast: int) -> None:
    """Kafka (Amazon MSK events). (h), (i): 100 records over 5 partitions with 2 keys each, 20 ms
    each, 10 workers, with ordering "auto" (5 lanes of 20: ideal 0.4 s) and "key" (10 lanes of
    10: ideal 0.2 s), against Powertools' BatchProcessor(EventType.Kafka), which runs one record
    at a time, and a ThreadPoolExecutor with a task per lane. (j) a trivial handler on 10,000
    records over 100 partitions (10 keys each), beside the standard SQS batch of as many
    records. Every contender runs in turn, round by round."""
    workers = 10
    ev = kafka_event(100, 5, 2)
    pool10 = lanepool.Pool(workers=workers)

    def ideal(ordering: str) -> float:
        # The longest lane, one record after another; never less than the records over the workers.
        longest = max(len(lane) for lane in kafka_lanes(ev, ordering))
        return max(longest, -(-100 // workers)) * SLEEP

    lp = {o: f"lanepool sync, ordering {o}" for o in ("auto", "key")}
    tpe = {"auto": "ThreadPoolExecutor(10), task per partition",
           "key": "ThreadPoolExecutor(10), task per partition key"}
    pt = "Powertools BatchProcessor(EventType.Kafka) (sequential)"
    with ThreadPoolExecutor(max_workers=workers) as ex:
        io = medians_in_turn(
            {
                lp["auto"]: lambda: pool10.process(ev, sleepy),
                lp["key"]: lambda: pool10.process(ev, sleepy, ordering="key"),
                tpe["auto"]: lambda: tpe_kafka_run(ex, ev, sleepy, "auto"),
                tpe["key"]: lambda: tpe_kafka_run(ex, ev, sleepy, "key"),
                pt: lambda: pt_kafka(ev, sleepy),
            },
            runs_io,
        )
    for letter, ordering, lanes in (("h", "auto", "5 partitions"), ("i", "key", "10 partition keys")):
        entries = {name: io[name] for name in (lp[ordering], tpe[ordering], pt)}
        row(f"({letter}) Kafka, 100 records over 5 partitions (2 keys each) x 20 ms, {workers} workers, "
            f"ordering {ordering} ({lanes})", "s", entries, lp[ordering],
            goal=f"within 10% of ideal {ideal(ordering):.1f} s", ideal=ideal(ordering))

    n = 10_000
    workers_j = os.cpu_count() or 2
    pool_j = lanepool.Pool(workers=workers_j)
    kev = kafka_event(n, 100, 10)
    sqs = standard_event(n)
    j = medians_in_turn(
        {
            "lanepool sync, Kafka, ordering auto": lambda: pool_j.process(kev, trivial),
            "lanepool sync, Kafka, ordering key": lambda: pool_j.process(kev, trivial, ordering="key"),
            "lanepool sync, standard SQS": lambda: pool_j.process(sqs, trivial),
            "Powertools BatchProcessor(EventType.Kafka)": lambda: pt_kafka(kev, trivial),
        },
        runs_fast,
    )
    row(f"(j) Kafka, trivial handler, 10,000 records over 100 partitions (10 keys each), {workers_j} workers",
        "us/record", {k: v * 1e6 / n for k, v in j.items()}, "lanepool sync, Kafka, ordering auto",
        goal="<= 3 us/record")


def async_rows(row, runs: int) -> None:
    """(k) `process_async` with a trivial coroutine on 10,000 SQS records against
    `asyncio.gather` + `Semaphore` bounding as many in flight, at 2, 4 and 10 workers: the six
    contenders run in turn, round by round, on one event loop; one row per worker count."""
    n = 10_000
    ev = standard_event(n)
    loop = asyncio.new_event_loop()
    counts = (2, 4, 10)
    lp = {w: f"lanepool process_async, Pool(workers={w})" for w in counts}
    ga = {w: f"asyncio.gather+Semaphore({w})" for w in counts}
    cases = {}
    for w in counts:
        pool = lanepool.Pool(workers=w)
        cases[lp[w]] = lambda pool=pool: loop.run_until_complete(pool.process_async(ev, trivial_async))
        cases[ga[w]] = lambda w=w: loop.run_until_complete(gather_run(ev, trivial_async, w))
    t = medians_in_turn(cases, runs * 2)
    loop.close()
    for w in counts:
        row(f"(k) process_async, trivial coroutine, 10,000 records, {w} workers", "us/record",
            {lp[w]: t[lp[w]] * 1e6 / n, ga[w]: t[ga[w]] * 1e6 / n}, lp[w],
            goal="at most asyncio.gather+Semaphore (ratio <= 1.0)")


async def gather_jobs(items: list, fn, limit: int) -> list:
    """The hand-written fan-out: ``asyncio.gather`` of every job under a ``Semaphore``."""
    sem = asyncio.Semaphore(limit)

    async def one(item):
        async with sem:
            return await fn(item)

    return await asyncio.gather(*(one(item) for item in items))


async def job_trivial(n: int) -> int:
    return n


async def job_sleepy(n: int) -> int:
    await asyncio.sleep(0.02)
    return n


def jobs_rows(row, runs_fast: int, runs_io: int) -> None:
    """(l) `run_jobs_async` on 1,000 jobs against `asyncio.gather` + `Semaphore`, in turn,
    round by round, on one event loop: a trivial coroutine at 10 in flight (µs per job), and
    20 ms each at 100 in flight (ideal: 10 waves of 20 ms, 0.2 s)."""
    n = 1_000
    items = list(range(n))
    loop = asyncio.new_event_loop()
    answer = {"batchItemFailures": []}  # what medians_in_turn checks: every job ended right

    def lp(pool, fn):
        report = loop.run_until_complete(pool.run_jobs_async(fn, items))
        assert report.ok and report.results == items
        return answer

    def ga(fn, limit):
        assert loop.run_until_complete(gather_jobs(items, fn, limit)) == items
        return answer

    pool10, pool100 = lanepool.Pool(workers=10), lanepool.Pool(workers=100)
    t = medians_in_turn({"lanepool run_jobs_async": lambda: lp(pool10, job_trivial),
                         "asyncio.gather+Semaphore(10)": lambda: ga(job_trivial, 10)}, runs_fast * 2)
    row("(l) run_jobs_async, 1,000 trivial jobs, 10 in flight", "us/record",
        {k: v * 1e6 / n for k, v in t.items()}, "lanepool run_jobs_async",
        goal="within noise of asyncio.gather+Semaphore (ratio <= 1.1)")
    t = medians_in_turn({"lanepool run_jobs_async": lambda: lp(pool100, job_sleepy),
                         "asyncio.gather+Semaphore(100)": lambda: ga(job_sleepy, 100)}, runs_io * 2)
    row("(l) run_jobs_async, 1,000 jobs x 20 ms, 100 in flight", "s", t, "lanepool run_jobs_async",
        goal="within 10% of ideal 0.2 s", ideal=0.2)
    loop.close()


def sweep(loop, quick: bool) -> dict:
    conc = [1, 2, 5, 10, 20, 50]
    std = standard_event(100)
    fifo = fifo_event(100, 10)
    out = {"concurrency": conc, "standard": {}, "fifo": {}}
    # Powertools' sync processors are sequential whatever the setting: measure once, plot flat.
    pt_std = median_time(lambda: pt_batch(std, sleepy), 1, warmup=0)
    pt_fifo_t = median_time(lambda: pt_fifo(fifo, sleepy), 1, warmup=0)
    out["standard"]["Powertools Python (BatchProcessor)"] = [pt_std] * len(conc)
    out["fifo"]["Powertools Python (SqsFifoPartialProcessor)"] = [pt_fifo_t] * len(conc)
    for key in ("lanepool Python", "ThreadPoolExecutor"):
        out["standard"][key] = []
        out["fifo"][key] = []
    for c in conc:
        pool = lanepool.Pool(workers=c)
        with ThreadPoolExecutor(max_workers=c) as ex:
            out["standard"]["lanepool Python"].append(median_time(lambda: pool.process(std, sleepy), 1, warmup=0))
            out["fifo"]["lanepool Python"].append(median_time(lambda: pool.process(fifo, sleepy), 1, warmup=0))
            out["standard"]["ThreadPoolExecutor"].append(median_time(lambda: tpe_run(ex, std, sleepy), 1, warmup=0))
            out["fifo"]["ThreadPoolExecutor"].append(median_time(lambda: tpe_fifo_run(ex, fifo, sleepy), 1, warmup=0))
        del pool
    return out


IMPORT_RUNS = 20


def import_time_ms(runs: int) -> dict:
    """`import lanepool` as a cold process does it, from the installed layout, in `runs` fresh
    interpreters each: the cumulative time of lanepool's line of `python -X importtime -c
    "import lanepool"` (median), and the wall time of `python -c "import lanepool"` minus that
    of `python -c "pass"`, the two run in turn (median of the differences)."""
    env = dict(os.environ)
    try:
        import importlib.util

        spec = importlib.util.find_spec("lanepool")
        pkg_parent = str(Path(spec.origin).parent.parent)
        # As pip does when it installs the wheel: the package's bytecode written beforehand, so
        # that no run compiles the sources (an editable build, or PYTHONDONTWRITEBYTECODE, would
        # otherwise make every fresh interpreter compile them).
        import compileall

        compileall.compile_dir(str(Path(spec.origin).parent), quiet=1)
        env["PYTHONPATH"] = pkg_parent + os.pathsep + env.get("PYTHONPATH", "")
    except Exception:
        pass

    def wall(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        return time.perf_counter() - t0

    values, walls, deltas = [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import lanepool"],
            capture_output=True, text=True, env=env, check=True,
        )
        walls.append(time.perf_counter() - t0)
        cum = None
        for line in p.stderr.splitlines():
            parts = [x.strip() for x in line.split("|")]
            if len(parts) == 3 and parts[2] == "lanepool":
                cum = int(parts[1])
        values.append(cum / 1000.0)
        deltas.append(wall("import lanepool") - wall("pass"))
    return {
        "lanepool_cumulative_ms": statistics.median(values),
        "interpreter_with_import_wall_ms": statistics.median(walls) * 1e3,
        "import_wall_delta_ms": statistics.median(deltas) * 1e3,
        "runs": runs,
    }


def sizes() -> dict:
    pkg = Path(lanepool.__file__).parent
    ext = sorted(pkg.glob("_lanepool*.so")) + sorted(pkg.glob("_lanepool*.pyd"))
    out = {"extension_bytes": ext[0].stat().st_size if ext else None, "wheel": None, "wheel_bytes": None}
    wheels = sorted((ROOT / "benches" / "out" / "wheels").glob("lanepool-*.whl"))
    if wheels:
        out["wheel"] = wheels[-1].name
        out["wheel_bytes"] = wheels[-1].stat().st_size
    return out


def print_rows(rows: list) -> None:
    for r in rows:
        print(f"\n{r['case']} [{r['unit']}]  goal: {r['goal']}")
        print(f"  {'':<58} {'value':>10}  {'ratio (' + r['primary'] + ' / this)':>10}")
        for e in r["entries"]:
            ratio = f"{e['ratio']:.2f}" if e["ratio"] is not None else "-"
            print(f"  {e['name']:<58} {e['value']:>10.4f}  {ratio:>10}")


def print_import(im: dict) -> None:
    print(f"\nimport lanepool, median of {im['runs']} fresh processes: -X importtime cumulative "
          f"{im['lanepool_cumulative_ms']:.2f} ms (goal <= 3 ms); wall time over a bare interpreter "
          f"{im['import_wall_delta_ms']:.2f} ms; interpreter + import (-X importtime) "
          f"{im['interpreter_with_import_wall_ms']:.1f} ms")


def print_table(results: dict) -> None:
    print(f"\nlanepool Python benches (Python {results['python']}, Powertools {results['versions'].get('aws-lambda-powertools')})")
    print_rows(results["rows"])
    print_import(results["import_ms"])
    s = results["sizes"]
    print(f"extension module: {s['extension_bytes']} bytes; wheel: {s['wheel']} {s['wheel_bytes']} bytes (goal < 2 MB)")
    if results.get("sweep"):
        sw = results["sweep"]
        print("\nsweep (s) concurrency:", sw["concurrency"])
        for panel in ("standard", "fifo"):
            for k, v in sw[panel].items():
                print(f"  {panel:<8} {k:<44} " + " ".join(f"{x:6.3f}" for x in v))


if __name__ == "__main__":
    main()
