"""The demo driver for the Python face: runs Lambda events from files through the ready-to-copy
handler ``examples/python/handler.py`` (its ``POOL`` and ``record_handler``) and writes each
partial batch response.

    python examples/demo/driver.py [--out-dir DIR] EVENT.json...   # DIR/python-<event>.json
    LANEPOOL_ORDERING=key python examples/demo/driver.py ...       # DIR/python-<event>.key.json

It calls ``POOL.run_batch`` with the options ``lambda_handler`` uses (``context``, the handler's
``ORDERING`` from ``LANEPOOL_ORDERING``) plus ``log_summary=True``, so it gets the whole report;
for an ordering other than ``auto`` the response file's name says it. Progress and the sequential estimate come from a wrapper around
``record_handler`` (the handler itself stays copy-paste clean).

Protocol (read by ``scripts/demo`` / ``examples/demo/show.py``), on stderr, one line each:
``@progress <event> <done> <total>`` while a batch runs (done = handler calls finished), and
``@result {json}`` when it ends. Stdout carries only lanepool's summary log line per batch.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "examples" / "python"))

import lanepool  # noqa: E402
import handler  # noqa: E402  (examples/python/handler.py)


def _emit(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _record_count(event: dict) -> int:
    if isinstance(event.get("Records"), list):
        return len(event["Records"])
    return sum(len(g) for g in (event.get("records") or {}).values())  # Kafka


def run_one(path: Path, out_dir: Path) -> None:
    ordering = handler.ORDERING
    event_name = path.stem
    suffix = "" if ordering == "auto" else f".{ordering}"
    name = event_name if ordering == "auto" else f"{event_name}/{ordering}"
    event = json.loads(path.read_text())
    total = _record_count(event)

    lock = threading.Lock()
    counts = {"done": 0, "io_ms": 0}

    def record_handler(record: dict) -> None:
        io = handler.io_ms(handler._record_id(record))
        try:
            handler.record_handler(record)
        finally:
            with lock:
                counts["done"] += 1
                counts["io_ms"] += io

    finished = threading.Event()

    def ticker() -> None:
        while not finished.wait(0.1):
            _emit(f"@progress {name} {counts['done']} {total}")

    deadline = time.monotonic() + 60  # as in a Lambda function with a 60 s timeout
    context = types.SimpleNamespace(
        aws_request_id="demo",
        get_remaining_time_in_millis=lambda: int((deadline - time.monotonic()) * 1000),
    )
    _emit(f"@progress {name} 0 {total}")
    thread = threading.Thread(target=ticker, daemon=True)
    thread.start()
    started = time.perf_counter()
    try:
        report = handler.POOL.run_batch(event, record_handler, context=context, ordering=ordering,
                                        log_summary=True)
        response = report.response
    except lanepool.BatchFailedError as error:  # every record failed: the invocation fails
        report = error.report
        response = {"error": "BatchFailedError", **report.response}
    elapsed = time.perf_counter() - started
    finished.set()
    thread.join()
    _emit(f"@progress {name} {total} {total}")

    out = out_dir / f"python-{event_name}{suffix}.json"
    out.write_text(json.dumps(response, indent=2) + "\n")
    s = report.summary
    _emit("@result " + json.dumps({
        "face": "python",
        "event": event_name,
        "ordering": ordering,
        "records": s["records"],
        "succeeded": s["succeeded"],
        "error": s["error"],
        "skipped": s["skipped"],
        "deadline": s["deadline"],
        "duration_ms": elapsed * 1000,
        "sequential_ms": counts["io_ms"],
        "peak_in_flight": s["peak_in_flight"],
        "response_file": str(out),
    }))


def main() -> int:
    parser = argparse.ArgumentParser(description="lanepool demo driver (Python face)")
    parser.add_argument("--out-dir", default="examples/out", type=Path)
    parser.add_argument("events", nargs="+", type=Path)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for path in args.events:
        run_one(path, args.out_dir)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
