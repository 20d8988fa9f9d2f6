"""End-to-end: examples/python/handler.py under the real AWS runtime interface client.

``python -m awslambdaric handler.lambda_handler`` (the ``awslambdaric`` package from PyPI, as in
AWS's Python base images) runs in a child process against the Runtime API that
``runtime_api.py`` serves on 127.0.0.1. Between invocations, once the response is posted and the
client is back waiting on ``GET /next``, the child is frozen with SIGSTOP and thawed with SIGCONT,
as Lambda freezes an idle execution environment.

Asserted for each invocation: the posted response (or error) equals the expected one from
``tests/e2e/events/*.expected.json`` (computed by ``examples/events/generate.py`` from the
semantics); every record that should run (not skipped) started and ended exactly once, the others
never started; records of one lane ran one at a time, in event order; and no record of the
invocation started or ended after its response was posted (every log line of it lies before the
log offset taken when the response arrived).

Kafka (Amazon MSK) events run under both orderings the example takes from ``LANEPOOL_ORDERING``:
``auto`` (a lane per topic-partition; ``<name>.expected.json``) and ``key`` (a lane per
topic-partition and record key; ``<name>.key.expected.json``), a runtime process for each. The
record log names a Kafka record ``<topic>-<partition>@<offset>``
(``generate.kafka_record_id``); its lane is ``generate.kafka_lane(record, ordering)``.

Run with ``bash tests/e2e/run.sh`` (or ``pytest tests/e2e`` with a Python that has lanepool and
awslambdaric installed).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runtime_api import RuntimeApi  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EVENTS = Path(__file__).resolve().parent / "events"
EXAMPLE_DIR = REPO / "examples" / "python"

_spec = importlib.util.spec_from_file_location("lanepool_events", REPO / "examples" / "events" / "generate.py")
generate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate)

# tests/e2e/run.sh installs awslambdaric and sets LANEPOOL_E2E_REQUIRE_RIC=1: never skip there.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("awslambdaric") is None and os.environ.get("LANEPOOL_E2E_REQUIRE_RIC") != "1",
    reason="awslambdaric is not installed (tests/e2e/run.sh installs it)",
)


def is_kafka(event: dict) -> bool:
    return event.get("eventSource") == "aws:kafka"


def expected_path(path: Path, event: dict, ordering: str = "auto") -> Path:
    """``<name>.expected.json``; a Kafka event under ordering ``key``: ``<name>.key.expected.json``
    (other sources have the same lanes under ``key`` as under ``auto``)."""
    suffix = ".key.expected.json" if is_kafka(event) and ordering == "key" else ".expected.json"
    return path.with_name(path.stem + suffix)


def load(path: Path, ordering: str = "auto") -> tuple[dict, dict]:
    event = json.loads(path.read_text())
    return event, json.loads(expected_path(path, event, ordering).read_text())


def event_path(name: str) -> Path:
    """tests/e2e/events/<name>, else the bundled sample examples/events/<name>."""
    return EVENTS / name if (EVENTS / name).exists() else REPO / "examples" / "events" / name


def log_records(event: dict, ordering: str = "auto") -> list[tuple[str, object, str]]:
    """(id in the record log, lane or None, payload) of each record, in event order, from
    generate.py's rules: Kafka records by ``kafka_record_id`` and ``kafka_lane``."""
    if is_kafka(event):
        out = []
        for r in generate.kafka_records(event):
            value = r.get("value")
            payload = "" if value is None else base64.b64decode(value).decode()
            out.append((generate.kafka_record_id(r), generate.kafka_lane(r, ordering), payload))
        return out
    return [(generate._identifier(r), generate._lane(r), generate._payload(r)) for r in event["Records"]]


def records_that_run(event: dict, ordering: str = "auto") -> list[str]:
    """Identifiers of the records the handler is called for: all but the skipped ones."""
    failed_lanes, ran = set(), []
    for record_id, lane, payload in log_records(event, ordering):
        if lane is not None and lane in failed_lanes:
            continue
        ran.append(record_id)
        if "poison" in payload and lane is not None:
            failed_lanes.add(lane)
    return ran


def identifier_key(identifier: object) -> str:
    """An itemIdentifier as a hashable, comparable value (Kafka's is an object): JSON, sorted keys."""
    return json.dumps(identifier, sort_keys=True)


def group_pids(pgid: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def process_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


_SNAPSHOT: list[Path] = []


def lanepool_snapshot(tmp_root: Path) -> Path:
    """A copy of the installed lanepool package, put first on the child's path: a rebuild of the
    face during the run rewrites its native library in place, which would crash (SIGBUS) a process
    that has it mapped."""
    if not _SNAPSHOT:
        spec = importlib.util.find_spec("lanepool")
        assert spec is not None and spec.origin, "lanepool is not installed (run bash bindings-python/test.sh)"
        site = tmp_root / "lanepool-snapshot"
        site.mkdir()
        if spec.submodule_search_locations:
            src = Path(next(iter(spec.submodule_search_locations)))
            shutil.copytree(src, site / src.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(spec.origin, site / Path(spec.origin).name)
        _SNAPSHOT.append(site)
    return _SNAPSHOT[0]


class Runtime:
    """The child process running the example under awslambdaric, and its Runtime API."""

    def __init__(self, tmp_path: Path, max_concurrency: int | None = None, ordering: str | None = None):
        self.log_path = tmp_path / "records.log"
        self.log_path.touch()
        self.out_path = tmp_path / "runtime.out"
        self.api = RuntimeApi(log_path=str(self.log_path))
        self.ordering = ordering or "auto"  # the example's default when LANEPOOL_ORDERING is unset
        env = dict(os.environ)
        env.pop("LANEPOOL_ORDERING", None)
        if ordering is not None:
            env["LANEPOOL_ORDERING"] = ordering
        env.update({
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "LANEPOOL_EXAMPLE_LOG": str(self.log_path),
            "AWS_LAMBDA_FUNCTION_NAME": "lanepool-example",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/lanepool-example",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]e2e",
            "AWS_REGION": "us-east-1",
            "LAMBDA_TASK_ROOT": str(EXAMPLE_DIR),
            "PYTHONUNBUFFERED": "1",
        })
        env.pop("AWS_LAMBDA_MAX_CONCURRENCY", None)
        if max_concurrency is not None:
            # awslambdaric's multi-concurrency mode: it forks this many worker processes, each
            # importing the handler and polling GET /next on its own.
            env["AWS_LAMBDA_MAX_CONCURRENCY"] = str(max_concurrency)
        snapshot = lanepool_snapshot(tmp_path.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(EXAMPLE_DIR), str(snapshot), env.get("PYTHONPATH")) if p)
        self._out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "awslambdaric", "handler.lambda_handler"],
            cwd=EXAMPLE_DIR, env=env, stdout=self._out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: SIGSTOP reaches forked workers too
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.out_path.read_text(errors="replace")[-4000:]

    def close(self) -> None:
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)
        self._out.close()
        self.api.close()

    def freeze_and_thaw(self, frozen_s: float = 0.3) -> None:
        """SIGSTOP the idle runtime (response posted, client waiting on GET /next), then SIGCONT."""
        os.killpg(self.proc.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while any(process_state(pid) != "T" for pid in group_pids(self.proc.pid)):
            assert time.monotonic() < deadline, "the runtime process did not stop"
            time.sleep(0.005)
        size = self.log_path.stat().st_size
        time.sleep(frozen_s)
        assert self.log_path.stat().st_size == size, "a frozen process wrote to the record log"
        os.killpg(self.proc.pid, signal.SIGCONT)

    def run_concurrent(self, workers: int, rounds: list[list[str]]) -> None:
        """Multi-concurrency mode: each round's events are queued at once and served by the
        worker processes in parallel; the process group is frozen between rounds."""
        self.api.wait_polls(workers, timeout=60, alive=self.alive)  # every worker asks for work
        assert len(group_pids(self.proc.pid)) >= workers + 1, "awslambdaric did not fork its workers"
        invocations, handed = [], 0
        for names in rounds:
            batch = []
            for name in names:
                event, expected = load(event_path(name), self.ordering)
                batch.append((name, self.api.invoke(event), event, expected))
            for name, request_id, event, expected in batch:
                invocations.append((name, request_id, event, expected,
                                    self.api.wait_result(request_id, timeout=60, alive=self.alive)))
            handed += len(names)
            self.api.wait_polls(workers + handed, timeout=30, alive=self.alive)
            time.sleep(0.05)
            self.freeze_and_thaw()
        log = self.log_path.read_bytes()
        for name, request_id, event, expected, result in invocations:
            self.check_result(name, event, expected, result)
            check_log(name, request_id, event, log, result.log_offset, ordering=self.ordering)

    def check_result(self, name: str, event: dict, expected: dict, result) -> None:
        """The response equals the expected one; an all-failed batch is the error BatchFailedError."""
        if "error" in expected:
            assert result.kind == "error", f"{name}: expected an invocation error, got {result.body}"
            assert result.body["errorType"] == expected["error"], f"{name}: {result.body}"
        else:
            assert result.kind == "response", f"{name}: the handler failed: {result.body}\n{self.output()}"
            assert result.body == expected, (
                f"{name}: response differs from {expected_path(Path(name), event, self.ordering).name} "
                f"(LANEPOOL_ORDERING={self.ordering}): got {json.dumps(result.body)[:400]}")

    def run(self, names: list, freeze: bool = True) -> None:
        """Invokes each event in turn; asserts responses and the record log.

        An item is an event file name, or ``(name, timeout_ms)`` for an invocation whose deadline
        (``Lambda-Runtime-Deadline-Ms``) is that close: it must stop early (see check_deadline).
        """
        self.api.wait_polls(1, timeout=60, alive=self.alive)  # INIT done: the client asks for work
        invocations = []
        for n, item in enumerate(names, start=1):
            name, timeout_ms = item if isinstance(item, tuple) else (item, None)
            event, expected = load(event_path(name), self.ordering)
            request_id = self.api.invoke(event, timeout_ms)
            result = self.api.wait_result(request_id, timeout=60, alive=self.alive)
            # The client posts, then comes straight back to GET /next: Lambda freezes it there.
            self.api.wait_polls(n + 1, timeout=30, alive=self.alive)
            time.sleep(0.05)  # give a stray record (there must be none) a chance to show up in the log
            if freeze:
                self.freeze_and_thaw()
            invocations.append((name, timeout_ms, request_id, event, expected, result))

        log = self.log_path.read_bytes()
        for name, timeout_ms, request_id, event, expected, result in invocations:
            if timeout_ms is not None:
                check_deadline(name, request_id, event, log, result, self.api.deadlines_ms[request_id])
            else:
                self.check_result(name, event, expected, result)
                check_log(name, request_id, event, log, result.log_offset, ordering=self.ordering)


def log_lines(log: bytes, request_id: str) -> list[tuple[int, str, str, int]]:
    """(byte offset, phase, record id, time_ns) of the invocation's lines in the record log."""
    pos, lines = 0, []
    for raw in log.splitlines(keepends=True):
        phase, rid, record_id, ns = raw.decode().split()
        if rid == request_id:
            lines.append((pos, phase, record_id, int(ns)))
        pos += len(raw)
    return lines


def check_log(name: str, request_id: str, event: dict, log: bytes, offset_at_response: int,
              exact: bool = True, ordering: str = "auto") -> None:
    """Nothing after the response, no foreign records, each record at most once, lanes in order,
    and (``exact``) the records that ran are exactly those the semantics run; lanes and skipped
    records as ``ordering`` (the runtime's ``LANEPOOL_ORDERING``) makes them."""
    lines = [line[:3] for line in log_lines(log, request_id)]
    late = [(phase, rid) for pos, phase, rid in lines if pos >= offset_at_response]
    assert not late, f"{name}: {len(late)} record log lines written after the response was posted: {late[:5]}"

    # The example tags each line with the invocation current when the line is written, so a record
    # of an earlier invocation that ran on into this one shows up here as a foreign record.
    records = log_records(event, ordering)
    own = {record_id for record_id, _, _ in records}
    foreign = sorted({rid for _, _, rid in lines if rid not in own})
    assert not foreign, (
        f"{name}: records of another event ran during this invocation (an earlier invocation's record "
        f"still running after its response was posted?): {foreign[:5]}"
    )
    starts = [rid for _, phase, rid in lines if phase == "start"]
    ends = [rid for _, phase, rid in lines if phase == "end"]
    twice = sorted({rid for rid in starts if starts.count(rid) > 1})
    assert not twice, f"{name}: records started more than once: {twice[:5]}"
    assert sorted(starts) == sorted(ends), f"{name}: a record started but never ended (or the reverse)"
    if exact:
        expect_run = records_that_run(event, ordering)
        assert sorted(starts) == sorted(expect_run), (
            f"{name}: the records started are not the ones that should run (ordering {ordering}): "
            f"missing {sorted(set(expect_run) - set(starts))[:5]}, extra {sorted(set(starts) - set(expect_run))[:5]}")

    # Per lane: one record at a time, in event order.
    lane_of = {record_id: lane for record_id, lane, _ in records}
    order = {record_id: i for i, (record_id, _, _) in enumerate(records)}
    running: dict[str, str] = {}
    last: dict[str, int] = {}
    for _, phase, rid in lines:
        lane = lane_of[rid]
        if lane is None:
            continue
        if phase == "start":
            assert lane not in running, f"{name}: {rid} started while {running[lane]} of lane {lane} was running"
            assert order[rid] > last.get(lane, -1), f"{name}: lane {lane} ran out of event order"
            running[lane], last[lane] = rid, order[rid]
        else:
            assert running.pop(lane, None) == rid, f"{name}: unexpected end of {rid}"


DEADLINE_MARGIN_MS = 500  # lanepool's default deadline_margin_ms, which the example keeps
TOLERANCE_MS = 100  # between the scheduler's decision to start a record and the example's log line


def check_deadline(name: str, request_id: str, event: dict, log: bytes, result, deadline_ms: int) -> None:
    """An invocation whose deadline falls mid-batch: it answers before the deadline, starts nothing
    at or after deadline - margin, reports every record it did not finish (in event order), and
    still leaves nothing running after the response."""
    assert result.kind == "response", f"{name}: the handler failed: {result.body}"
    assert result.time_ns // 1_000_000 < deadline_ms, f"{name}: the response came after the deadline"
    check_log(name, request_id, event, log, result.log_offset, exact=False)

    ids = [generate._identifier(r) for r in event["Records"]]
    failed = [f["itemIdentifier"] for f in result.body["batchItemFailures"]]
    position = {rid: i for i, rid in enumerate(ids)}
    assert [position[f] for f in failed] == sorted(position[f] for f in failed), f"{name}: failures not in event order"
    assert len(set(failed)) == len(failed), f"{name}: a failure listed twice"

    cutoff_ns = (deadline_ms - DEADLINE_MARGIN_MS + TOLERANCE_MS) * 1_000_000
    lines = log_lines(log, request_id)
    started = {rid: ns for _, phase, rid, ns in lines if phase == "start"}
    ended = {rid: ns for _, phase, rid, ns in lines if phase == "end"}
    late_starts = [rid for rid, ns in started.items() if ns >= cutoff_ns]
    assert not late_starts, f"{name}: records started after deadline - margin: {late_starts[:5]}"
    not_started = [rid for rid in ids if rid not in started]
    assert not_started, f"{name}: the deadline was never reached (every record started): make the timeout shorter"
    assert set(not_started) <= set(failed), f"{name}: records that never ran are not reported"

    # Records that finished well before the cutoff have their ordinary outcome.
    expected_fail = {f["itemIdentifier"] for f in generate.expected(event)["batchItemFailures"]}
    for rid in ids:
        if rid in ended and ended[rid] < cutoff_ns - 2 * TOLERANCE_MS * 1_000_000:
            assert (rid in failed) == (rid in expected_fail), f"{name}: wrong outcome for {rid}, which finished in time"


@pytest.fixture
def runtime(tmp_path):
    rt = Runtime(tmp_path)
    try:
        yield rt
    except BaseException:
        print(rt.output())
        raise
    finally:
        rt.close()


def test_fifo_invocations_frozen_between(runtime):
    """Issue 3's end-to-end test: several SQS FIFO invocations, SIGSTOP/SIGCONT between them."""
    runtime.run(["fifo-1.json", "fifo-2.json", "fifo-3.json", "fifo-4.json", "fifo-1.json"])


def test_other_sources_and_all_failed(runtime):
    """Standard SQS, Kinesis, an all-poison batch (BatchFailedError posted to /error), then FIFO again."""
    runtime.run(["standard-1.json", "kinesis-1.json", "fifo-all-poison.json", "fifo-2.json"])


def test_deadline_mid_batch(runtime):
    """The 1,000-record FIFO sample (about 1.3 s of work) with a 1.2 s deadline: it stops starting
    records 500 ms before the deadline, reports the rest, answers in time; the next invocation is
    whole."""
    runtime.run([("sqs-fifo.json", 1200), "fifo-1.json"])


def test_multi_concurrency_mode(tmp_path):
    """awslambdaric with AWS_LAMBDA_MAX_CONCURRENCY=3 forks three workers, each with its own pool,
    serving invocations at the same time; the process group is frozen between rounds."""
    rt = Runtime(tmp_path, max_concurrency=3)
    try:
        rt.run_concurrent(3, [
            ["fifo-1.json", "fifo-2.json", "fifo-3.json"],
            ["fifo-4.json", "standard-1.json", "kinesis-1.json", "fifo-1.json"],
        ])
    except BaseException:
        print(rt.output())
        raise
    finally:
        rt.close()


def test_bundled_sample_events(runtime):
    """The sample events shipped in examples/events (1,000-record FIFO, standard SQS, Kinesis,
    DynamoDB streams)."""
    runtime.run(["sqs-fifo.json", "sqs-standard.json", "kinesis.json", "dynamodb.json"])


KAFKA_INVOCATIONS = ["kafka-1.json", "kafka-2.json", "kafka-all-poison.json", "fifo-1.json", "kafka-1.json", "kafka.json"]


def test_kafka_ordering_auto(runtime):
    """MSK batches (lanes per topic-partition, LANEPOOL_ORDERING unset: the default auto), an
    all-poison one (BatchFailedError), FIFO between them, then the bundled 1,200-record sample."""
    runtime.run(KAFKA_INVOCATIONS)


def test_kafka_ordering_key(tmp_path):
    """The same with LANEPOOL_ORDERING=key: a lane per topic-partition and record key, so other
    keys of a partition run on after a failure (<name>.key.expected.json); FIFO as under auto."""
    rt = Runtime(tmp_path, ordering="key")
    try:
        rt.run(KAFKA_INVOCATIONS)
    except BaseException:
        print(rt.output())
        raise
    finally:
        rt.close()


def test_kafka_expected_responses_differ_by_ordering():
    """The key round can tell the orderings apart: its expected responses are not auto's."""
    for name in ("kafka-1.json", "kafka-2.json", "kafka.json"):
        _, auto = load(event_path(name), "auto")
        event, key = load(event_path(name), "key")
        assert auto != key, f"{name}: the same expected response for ordering auto and key"
        assert auto == generate.kafka_expected(event, "auto") and key == generate.kafka_expected(event, "key")


def test_sample_events_are_up_to_date():
    """The committed events and expected results are what examples/events/generate.py produces."""
    subprocess.run([sys.executable, str(REPO / "examples" / "events" / "generate.py"), "--check"], check=True)
