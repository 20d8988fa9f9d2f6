"""Property tests: random SQS FIFO events, groups and failure patterns."""

from __future__ import annotations

import asyncio

from conftest import Recorder, vector_lane
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lanepool

POOLS = {n: lanepool.Pool(workers=n) for n in (1, 2, 3, 5)}


@st.composite
def batches(draw):
    n = draw(st.integers(min_value=0, max_value=24))
    groups = draw(st.lists(st.sampled_from([None, "a", "b", "c", "d"]), min_size=n, max_size=n))
    records = []
    for i, group in enumerate(groups):
        record = {
            "messageId": f"m{i}",
            "eventSource": "aws:sqs",
            "body": str(i),
            "attributes": {} if group is None else {"MessageGroupId": group},
        }
        records.append(record)
    ids = [r["messageId"] for r in records]
    fail_always = draw(st.lists(st.sampled_from(ids), unique=True)) if ids else []
    fail_attempts = (
        draw(st.dictionaries(st.sampled_from(ids), st.integers(min_value=1, max_value=3))) if ids else {}
    )
    sleep_ms = draw(st.dictionaries(st.sampled_from(ids), st.sampled_from([1, 2, 3]))) if ids else {}
    retries = draw(st.integers(min_value=0, max_value=2))
    workers = draw(st.sampled_from(sorted(POOLS)))
    handler = {"fail_always": fail_always, "fail_attempts": fail_attempts, "sleep_ms": sleep_ms}
    return {"Records": records}, handler, retries, workers


def model(event, handler, retries):
    """The expected outcomes, straight from the rules (no deadline)."""
    failed_lanes = set()
    outcomes = []
    for r in event["Records"]:
        rid, lane = r["messageId"], r["attributes"].get("MessageGroupId")
        if lane is not None and lane in failed_lanes:
            outcomes.append({"itemIdentifier": rid, "outcome": "skipped", "attempts": 0})
            continue
        if rid in handler["fail_always"]:
            needed = None
        else:
            needed = handler["fail_attempts"].get(rid, 0) + 1
        if needed is None or needed > retries + 1:
            outcomes.append({"itemIdentifier": rid, "outcome": "error", "attempts": retries + 1})
            if lane is not None:
                failed_lanes.add(lane)
        else:
            outcomes.append({"itemIdentifier": rid, "outcome": "succeeded", "attempts": needed})
    return outcomes


def run(mode, event, handler, retries, workers):
    recorder = Recorder(handler)
    pool = POOLS[workers]
    kwargs = dict(retries=retries, retry_backoff_ms=0, raise_on_full_batch_failure=False)
    if mode == "sync":
        report = pool.run_batch(event, recorder.sync, **kwargs)
    elif mode == "async":
        report = pool.run_batch(event, recorder.async_, **kwargs)
    else:
        report = asyncio.run(pool.run_batch_async(event, recorder.async_, **kwargs))
    return report, recorder


def check(event, handler, retries, workers, report, recorder):
    records = event["Records"]
    expected = model(event, handler, retries)
    assert report.outcomes == expected
    # every record exactly once (per attempt): call counts equal the attempts
    for o in expected:
        assert recorder.counts.get(o["itemIdentifier"], 0) == o["attempts"]
    assert len(recorder.calls) == sum(o["attempts"] for o in expected)
    # per-group order and no overlap within a group
    recorder.check_lanes(records, vector_lane({}))
    assert recorder.peak <= workers
    assert report.response == {
        "batchItemFailures": [{"itemIdentifier": o["itemIdentifier"]} for o in expected if o["outcome"] != "succeeded"]
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_sync_and_async_agree_with_the_rules(case):
    event, handler, retries, workers = case
    outcomes = []
    for mode in ("sync", "async", "run_batch_async"):
        report, recorder = run(mode, event, handler, retries, workers)
        check(event, handler, retries, workers, report, recorder)
        outcomes.append((report.outcomes, report.response, report.summary["lanes"]))
    assert outcomes[0] == outcomes[1] == outcomes[2]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", None]), max_size=40), st.sampled_from(sorted(POOLS)))
def test_custom_group_key_lanes(bodies, workers):
    event = {
        "Records": [
            {"messageId": f"m{i}", "eventSource": "aws:sqs", "body": b} for i, b in enumerate(bodies)
        ]
    }
    recorder = Recorder({"default_sleep_ms": 1})
    seen = []
    report = POOLS[workers].run_batch(
        event, recorder.sync, group_key=lambda r: seen.append(r) or r["body"]
    )
    assert report.succeeded == [f"m{i}" for i in range(len(bodies))]
    assert all(a is b for a, b in zip(seen, event["Records"]))
    recorder.check_lanes(event["Records"], lambda r: r["body"])
    assert report.summary["lanes"] == len({b for b in bodies if b is not None})
