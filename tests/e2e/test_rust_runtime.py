"""End-to-end: examples/rust's Lambda binary (``src/bin/lambda.rs``) under lambda_runtime.

The binary is a whole custom runtime: ``lambda_runtime::run_concurrent`` (lambda_runtime's
Lambda Managed Instances mode, feature ``concurrency-tokio``) polls the Runtime API that
``runtime_api.py`` serves on 127.0.0.1, one invocation at a time when ``AWS_LAMBDA_MAX_CONCURRENCY``
is unset, and in that many tokio tasks at once when it is set. The checks are the Python suite's
(``test_python_runtime.py``): responses equal the expected ones, the record log shows nothing of an
invocation after its response, each record that should run ran once, lanes in event order; the
process is frozen with SIGSTOP between invocations (rounds, when concurrent). Kafka events run
with ``LANEPOOL_ORDERING`` unset (``auto``) and ``key``, a process each.

``LANEPOOL_E2E_RUST_BIN``: the binary (``tests/e2e/run.sh`` builds it with
``cargo build -p lanepool-example --bin lambda``); without it these tests are skipped, or fail
with ``LANEPOOL_E2E_REQUIRE_RUST=1``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runtime_api import RuntimeApi  # noqa: E402
from test_python_runtime import KAFKA_INVOCATIONS, Runtime, check_log, event_path, load  # noqa: E402

RUST_BIN = os.environ.get("LANEPOOL_E2E_RUST_BIN", "")
_MISSING = None if RUST_BIN and os.access(RUST_BIN, os.X_OK) else (
    f"no examples/rust lambda binary at LANEPOOL_E2E_RUST_BIN={RUST_BIN!r} (tests/e2e/run.sh builds it)")
if _MISSING and os.environ.get("LANEPOOL_E2E_REQUIRE_RUST") == "1":
    raise RuntimeError(_MISSING)
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")


class RustRuntime(Runtime):
    """The Rust binary as the runtime process (its own process group), and its Runtime API."""

    def __init__(self, tmp_path: Path, max_concurrency: int | None = None,
                 ordering: str | None = None):  # not Runtime's: another command
        self.log_path = tmp_path / "records.log"
        self.log_path.touch()
        self.out_path = tmp_path / "runtime.out"
        self.api = RuntimeApi(log_path=str(self.log_path), max_concurrency=max_concurrency)
        self.ordering = ordering or "auto"  # the example's default when LANEPOOL_ORDERING is unset
        env = dict(os.environ)
        env.pop("AWS_LAMBDA_MAX_CONCURRENCY", None)
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
        })
        if max_concurrency is not None:
            env["AWS_LAMBDA_MAX_CONCURRENCY"] = str(max_concurrency)
        self._out = open(self.out_path, "wb")
        self.proc = subprocess.Popen([RUST_BIN], env=env, stdout=self._out, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def run_rounds(self, tasks: int, rounds: list[list[str]]) -> None:
        """AWS_LAMBDA_MAX_CONCURRENCY mode: each round's events queued at once, served by the
        binary's polling tasks in parallel; the process is frozen between rounds."""
        self.api.wait_polls(tasks, timeout=60, alive=self.alive)  # every polling task asks for work
        invocations, handed = [], 0
        for names in rounds:
            batch = [(name, *load(event_path(name), self.ordering)) for name in names]
            batch = [(name, self.api.invoke(event), event, expected) for name, event, expected in batch]
            for name, request_id, event, expected in batch:
                invocations.append((name, request_id, event, expected,
                                    self.api.wait_result(request_id, timeout=60, alive=self.alive)))
            handed += len(names)
            self.api.wait_polls(tasks + handed, timeout=30, alive=self.alive)
            time.sleep(0.05)
            self.freeze_and_thaw()
        log = self.log_path.read_bytes()
        spans = {}
        for name, request_id, event, expected, result in invocations:
            self.check_result(name, event, expected, result)
            check_log(name, request_id, event, log, result.log_offset, ordering=self.ordering)
            times = [int(line.split()[3]) for line in log.decode().splitlines() if line.split()[1] == request_id]
            assert times, f"{name}: no record of it ran"
            spans[request_id] = (min(times), max(times))
        ordered = sorted(spans.values())
        overlapping = any(start < max(end for _, end in ordered[:i]) for i, (start, _) in enumerate(ordered) if i)
        assert overlapping, "no two invocations ran at the same time"
        assert 2 <= self.api.peak_in_flight <= tasks, f"{self.api.peak_in_flight} invocations out at once at most"


@pytest.fixture
def rust_runtime(tmp_path):
    runtimes = []

    def start(max_concurrency: int | None = None, ordering: str | None = None) -> RustRuntime:
        path = tmp_path / f"rt{len(runtimes)}"
        path.mkdir()
        runtimes.append(RustRuntime(path, max_concurrency, ordering))
        return runtimes[-1]

    try:
        yield start
    except BaseException:
        for rt in runtimes:
            print(rt.output())
        raise
    finally:
        for rt in runtimes:
            rt.close()


def test_one_at_a_time_frozen_between(rust_runtime):
    """AWS_LAMBDA_MAX_CONCURRENCY unset: run_concurrent polls one invocation at a time, as run does.
    FIFO, standard SQS, Kinesis, an all-poison batch (BatchFailedError), a deadline mid-batch."""
    rt = rust_runtime()
    rt.run(["fifo-1.json", "standard-1.json", "kinesis-1.json", "fifo-all-poison.json",
            ("sqs-fifo.json", 1200), "fifo-2.json"])


def test_managed_instances_concurrency(rust_runtime):
    """AWS_LAMBDA_MAX_CONCURRENCY=4: four polling tasks in one process, several invocations at once
    sharing the one Pool, the process frozen between rounds."""
    rt = rust_runtime(max_concurrency=4)
    rt.run_rounds(4, [
        ["fifo-1.json", "fifo-2.json", "fifo-3.json", "fifo-4.json"],
        ["standard-1.json", "kinesis-1.json", "fifo-all-poison.json", "fifo-2.json", "fifo-3.json", "fifo-1.json"],
        ["sqs-fifo.json", "sqs-standard.json", "kinesis.json", "dynamodb.json"],
        ["kafka-1.json", "kafka-2.json", "kafka-all-poison.json", "kafka.json"],
    ])


@pytest.mark.parametrize("ordering", [None, "key"],
                         ids=["auto", "key"])
def test_kafka(rust_runtime, ordering):
    """MSK batches with LANEPOOL_ORDERING unset (auto: a lane per topic-partition) and =key (a lane
    per topic-partition and record key; <name>.key.expected.json), one at a time, frozen between:
    two small batches, an all-poison one (BatchFailedError), FIFO, the 1,200-record sample."""
    rt = rust_runtime(ordering=ordering)
    rt.run(KAFKA_INVOCATIONS)


def test_kafka_key_concurrency(rust_runtime):
    """LANEPOOL_ORDERING=key with AWS_LAMBDA_MAX_CONCURRENCY=4: Kafka and FIFO invocations at once."""
    rt = rust_runtime(max_concurrency=4, ordering="key")
    rt.run_rounds(4, [
        ["kafka-1.json", "kafka-2.json", "fifo-1.json", "kafka-all-poison.json"],
        ["kafka.json", "kafka-2.json", "kafka-1.json"],
    ])
