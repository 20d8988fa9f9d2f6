"""Soak test: one pool, many invocations of mixed events; resources must not grow.

    python bindings-python/soak.py [--invocations N] [--seed S]     # N defaults to 5000

Each invocation is an SQS standard, SQS FIFO, Kinesis or DynamoDB event (built here) with
random failures and retries, run with a sync handler (`pool.run_batch`), an async one on a
private loop (`pool.run_batch` with an `async def`) or on a long-lived loop
(`pool.run_batch_async`). Every report is checked against a reference model of the rules
(lanes, skips, retries; tests/vectors/README.md). After a warm-up it prints RSS, OS threads
(/proc/self/task) and open fds (/proc/self/fd) before and after, and exits 1 if a response
was wrong, RSS grew by 5 MB or more, or threads or fds grew.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import sys
import time
from pathlib import Path

try:
    import lanepool
except ImportError:  # the editable build of bindings-python
    sys.path.insert(0, str(Path(__file__).resolve().parent / "python"))
    import lanepool

RSS_LIMIT_MB = 5.0
RETRIES = 2


class Context:
    """A Lambda context with plenty of time left (the deadline path, never reached)."""

    def get_remaining_time_in_millis(self) -> int:
        return 600_000


# ---------------------------------------------------------------- events


def make_event(rng: random.Random, n: int) -> tuple[dict, list, list]:
    """A random event of one source: (event, identifiers, lanes)."""
    kind = rng.choice(["sqs", "fifo", "kinesis", "dynamodb"])
    groups = [f"g{k}" for k in range(rng.randint(1, 4))]
    records, ids, lanes = [], [], []
    for i in range(n):
        group = rng.choice(groups)
        if kind in ("sqs", "fifo"):
            rid = f"msg-{i}-{rng.getrandbits(32):08x}"
            attributes = {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"}
            if kind == "fifo":
                attributes["MessageGroupId"] = group
            records.append(
                {
                    "messageId": rid,
                    "receiptHandle": "h" * 40,
                    "body": '{"n": %d, "pad": "%s"}' % (i, "x" * rng.randint(0, 500)),
                    "attributes": attributes,
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:soak",
                }
            )
            lanes.append(("sqs", group) if kind == "fifo" else None)
        elif kind == "kinesis":
            rid = str(49590338271490256608559692538361571095921575989136588898 + i)
            records.append(
                {
                    "eventSource": "aws:kinesis",
                    "kinesis": {"sequenceNumber": rid, "partitionKey": group, "data": "e30="},
                }
            )
            lanes.append(("kinesis", group))
        else:
            rid = f"{4421584500000000017450439091 + i}"
            keys = {"pk": {"S": group}, "sk": {"N": str(rng.randint(1, 2))}}
            if rng.random() < 0.5:
                keys = dict(reversed(list(keys.items())))
            records.append(
                {
                    "eventSource": "aws:dynamodb",
                    "eventName": "MODIFY",
                    "dynamodb": {"SequenceNumber": rid, "Keys": keys},
                }
            )
            lanes.append(("dynamodb", group, keys["sk"]["N"]))
        ids.append(rid)
    return {"Records": records}, ids, lanes


def expected_outcomes(ids, lanes, fail_first: list[int]) -> list[dict]:
    """The reference model: a record failing its first k attempts succeeds after k+1 when
    k <= RETRIES, else fails after RETRIES+1 and skips the rest of its lane."""
    failed_lanes: set = set()
    out = []
    for rid, lane, k in zip(ids, lanes, fail_first):
        if lane is not None and lane in failed_lanes:
            out.append({"itemIdentifier": rid, "outcome": "skipped", "attempts": 0})
        elif k <= RETRIES:
            out.append({"itemIdentifier": rid, "outcome": "succeeded", "attempts": k + 1})
        else:
            out.append({"itemIdentifier": rid, "outcome": "error", "attempts": RETRIES + 1})
            if lane is not None:
                failed_lanes.add(lane)
    return out


# ---------------------------------------------------------------- resources


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def snapshot() -> tuple[float, int, int]:
    gc.collect()
    return rss_mb(), threads(), fds()


# ---------------------------------------------------------------- the run


def invoke(pool, loop, rng: random.Random) -> str | None:
    """One invocation; returns a description of what was wrong, or None."""
    n = rng.randint(1, 30)
    event, ids, lanes = make_event(rng, n)
    fail_first = [
        rng.choice([0] * 12 + [1, 2, 3, 9]) for _ in range(n)
    ]  # 3 and 9: more than RETRIES
    records = event["Records"]
    index_of = {id(r): i for i, r in enumerate(records)}
    calls = [0] * n

    def body(record):
        i = index_of[id(record)]
        calls[i] += 1
        if calls[i] <= fail_first[i]:
            raise ValueError(f"record {i} attempt {calls[i]}")

    async def abody(record):
        await asyncio.sleep(0)
        body(record)

    options = dict(
        retries=RETRIES,
        retry_backoff_ms=0.2,
        raise_on_full_batch_failure=False,
        context=Context() if rng.random() < 0.5 else None,
    )
    mode = rng.choice(["sync", "sync", "async-private", "async-loop"])
    if mode == "sync":
        report = pool.run_batch(event, body, **options)
    elif mode == "async-private":
        report = pool.run_batch(event, abody, **options)
    else:
        report = loop.run_until_complete(pool.run_batch_async(event, abody, **options))
    expected = expected_outcomes(ids, lanes, fail_first)
    if report.outcomes != expected:
        return f"{mode}: outcomes {report.outcomes} != {expected}"
    failures = [{"itemIdentifier": o["itemIdentifier"]} for o in expected if o["outcome"] != "succeeded"]
    if report.response != {"batchItemFailures": failures}:
        return f"{mode}: response {report.response}"
    if calls != [o["attempts"] for o in expected]:
        return f"{mode}: handler calls {calls}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invocations", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    pool = lanepool.Pool(workers=4)
    loop = asyncio.new_event_loop()
    warmup = min(500, max(1, args.invocations // 5))
    errors: list[str] = []
    start = time.monotonic()
    before = None
    for k in range(args.invocations):
        if k == warmup:
            before = snapshot()
        problem = invoke(pool, loop, rng)
        if problem is not None:
            errors.append(f"invocation {k}: {problem}")
            if len(errors) >= 5:
                break
    after = snapshot()
    before = before or after
    took = time.monotonic() - start
    loop.close()
    growth = after[0] - before[0]
    print(f"soak: {args.invocations} invocations in {took:.1f} s ({warmup} warm-up), seed {args.seed}")
    print(f"  RSS     {before[0]:8.1f} MB -> {after[0]:8.1f} MB  (growth {growth:+.2f} MB, limit {RSS_LIMIT_MB} MB)")
    print(f"  threads {before[1]:8d}    -> {after[1]:8d}")
    print(f"  fds     {before[2]:8d}    -> {after[2]:8d}")
    if growth >= RSS_LIMIT_MB:
        errors.append(f"RSS grew by {growth:.2f} MB")
    if after[1] > before[1]:
        errors.append(f"threads grew from {before[1]} to {after[1]}")
    if after[2] > before[2]:
        errors.append(f"fds grew from {before[2]} to {after[2]}")
    for error in errors:
        print("FAIL", error)
    if not errors:
        print("soak: ok (every response matched the model)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
