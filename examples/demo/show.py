#!/usr/bin/env python3
"""Renders the demo: progress lines while a face's driver runs, then the table. Standard library only.

    <driver> 2>&1 >>LOG | show.py progress --face F --results R.jsonl
    show.py table --results R.jsonl --log LOG EVENT.json...
    show.py coordinator FACE-coordinator.json...

``progress`` reads the driver's protocol from stdin (``@progress <event> <done> <total>``,
``@result {json}``; anything else is passed through to stderr), draws one progress line per
event (updated in place on a terminal, a few plain lines otherwise) and appends each result to
R.jsonl. ``table`` prints the results, checks each response file against the expected one beside
its event (``<event>.expected.json``; for a run with another ordering than ``auto``,
``<event>.<ordering>.expected.json``, or for ``key`` the ``auto`` file when there is none: ``key``
changes only Kafka lanes; exit 1 when one differs) and shows the summary log lines lanepool wrote.
``coordinator`` prints the coordinator examples' runs (``examples/<face>/coordinator --json``: 200
jobs against a downstream that throttles, hangs and fails transiently, naively and with a start
rate, an attempt timeout and retries) side by side, and exits 1 unless every face's coordinated run
ended every job right.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

TTY = sys.stdout.isatty()


def _bar(done: int, total: int, width: int = 24) -> str:
    filled = width if total == 0 else done * width // total
    return "[" + "#" * filled + "." * (width - filled) + "]"


def progress(face: str, results: Path) -> int:
    current: str | None = None  # the event whose line is open (TTY: not yet ended by a newline)
    shown: dict[str, int] = {}  # plain output: events whose halfway line is printed
    started: dict[str, float] = {}

    def line(event: str, done: int, total: int, tail: str = "") -> str:
        return f"  {face:<7} {event:<14} {_bar(done, total)} {done:>5}/{total:<5} records{tail}"

    def close_open_line() -> None:
        nonlocal current
        if TTY and current is not None:
            sys.stdout.write("\n")
        current = None

    for raw in sys.stdin:
        text = raw.rstrip("\n")
        if text.startswith("@progress "):
            _, event, done_s, total_s = text.split()
            done, total = int(done_s), int(total_s)
            started.setdefault(event, time.monotonic())
            if TTY:
                if current not in (None, event):
                    close_open_line()
                current = event
                sys.stdout.write("\r\x1b[2K" + line(event, done, total))
            elif 0 < done < total and shown.get(event, 0) < done * 2 // total:
                shown[event] = 1  # plain output: one line halfway, one at the end
                sys.stdout.write(line(event, done, total) + "\n")
            sys.stdout.flush()
        elif text.startswith("@result "):
            result = json.loads(text[len("@result "):])
            with results.open("a") as f:
                f.write(json.dumps(result) + "\n")
            tail = f"  done in {result['duration_ms'] / 1000:.2f} s"
            event, total = result["event"], result["records"]
            if result.get("ordering", "auto") != "auto":
                event += "/" + result["ordering"]  # as the driver's progress lines name it
            sys.stdout.write(("\r\x1b[2K" if TTY else "") + line(event, total, total, tail) + "\n")
            current = None
            sys.stdout.flush()
        else:
            close_open_line()
            sys.stdout.flush()
            print(text, file=sys.stderr, flush=True)
    close_open_line()
    return 0


def print_table(header: list[str], body: list[list[str]], right_aligned: set[int]) -> None:
    """Prints rows under a header and a rule, columns padded to their widest cell (the columns in
    ``right_aligned`` padded on the left)."""
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        cells = [c.rjust(w) if i in right_aligned else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for row in body:
        print(fmt(row))


def expected_file(event: Path, ordering: str) -> Path | None:
    """The expected response of ``event`` run with ``ordering``, if there is one: its own file,
    else (``auto``, and ``key``, which changes only Kafka lanes) ``<event>.expected.json``."""
    names = [f"{event.stem}.{ordering}.expected.json"] if ordering != "auto" else []
    if ordering in ("auto", "key"):
        names.append(f"{event.stem}.expected.json")
    return next((event.with_name(n) for n in names if event.with_name(n).exists()), None)


def table(results: Path, log: Path, events: list[Path]) -> int:
    event_of = {e.stem: e for e in events}
    rows = [json.loads(l) for l in results.read_text().splitlines() if l.strip()]
    header = ["face", "event", "ordering", "records", "succeeded", "reported (error/skipped/deadline)",
              "in flight", "duration", "sequential", "speed-up", "= expected", "response file"]
    body = []
    mismatches = []
    for r in rows:
        reported = r["error"] + r["skipped"] + r["deadline"]
        speedup = r["sequential_ms"] / r["duration_ms"] if r["duration_ms"] else float("inf")
        response_file = Path(r["response_file"])
        ordering = r.get("ordering", "auto")
        event = event_of.get(r["event"])
        expected = expected_file(event, ordering) if event is not None else None
        if expected is not None:
            same = json.loads(response_file.read_text()) == json.loads(expected.read_text())
            verdict = "yes" if same else "NO"
            if not same:
                mismatches.append((response_file, expected))
        else:
            verdict = "-"
        try:
            shown_file = str(response_file.resolve().relative_to(Path.cwd()))
        except ValueError:
            shown_file = str(response_file)
        body.append([
            r["face"], r["event"], ordering, str(r["records"]), str(r["succeeded"]),
            f"{reported} ({r['error']}/{r['skipped']}/{r['deadline']})", str(r["peak_in_flight"]),
            f"{r['duration_ms'] / 1000:.2f} s", f"{r['sequential_ms'] / 1000:.2f} s",
            f"{speedup:.1f}x", verdict, shown_file,
        ])
    print_table(header, body, right_aligned={3, 4, 6, 7, 8, 9})
    print()
    print("sequential = the sum of the simulated I/O (10-30 ms) of every record the handler ran: what")
    print("processing the same records one at a time takes at least; speed-up = sequential / duration.")
    print("in flight = most handlers running at once (at most 16, and at most the lanes: FIFO groups,")
    print("Kinesis partition keys, DynamoDB items, Kafka topic-partitions, or with ordering key Kafka")
    print("(topic-partition, record key) pairs; a lane runs one record at a time).")
    print("= expected: the response file equals <event>.expected.json beside the event")
    print("(ordering key: <event>.key.expected.json where there is one).")

    lines = [l for l in log.read_text().splitlines() if l.startswith("{")] if log.exists() else []
    summaries = []
    for l in lines:
        try:
            obj = json.loads(l)
        except ValueError:
            continue
        if obj.get("message") == "lanepool batch summary":
            summaries.append(obj)
    print()
    print(f"lanepool's summary log (opt-in, one JSON line per batch): {len(summaries)} for "
          f"{len(rows)} batch{'es' if len(rows) != 1 else ''} in {log}; the first:")
    if summaries:
        print("  " + json.dumps(summaries[0], separators=(",", ":")))

    status = 0
    if len(summaries) != len(rows):
        print(f"expected one summary line per batch ({len(rows)}), found {len(summaries)}", file=sys.stderr)
        status = 1
    for got, want in mismatches:
        print(f"MISMATCH: {got} differs from {want}", file=sys.stderr)
        status = 1
    return status


def coordinated_problems(run: dict, jobs: int) -> list[str]:
    """What is wrong with a coordinated run: every job must end right, nothing throttled, each
    hung call cancelled by the attempt timeout and retried, each transient failure retried."""
    problems = []
    if not run["ok"] or run["succeeded"] != jobs:
        problems.append(f"{run['succeeded']} of {jobs} jobs succeeded")
    if not run["results_right"]:
        problems.append("a result is not the job's own")
    if run["throttled"]:
        problems.append(f"{run['throttled']} calls throttled")
    if run["retries"] != run["transient"] + run["hung"]:
        problems.append(f"{run['retries']} retries for {run['transient']} transient and {run['hung']} hung calls")
    return problems


def coordinator(files: list[Path]) -> int:
    header = ["face", "run", "jobs", "succeeded", "error", "timeout", "deadline", "skipped", "retries",
              "throttled", "transient", "hung", "wall time", "every job right"]
    body = []
    status = 0
    for f in files:
        obj = json.loads(f.read_text())
        for run in obj["runs"]:
            coordinated = run["name"] != "naive fan-out"
            problems = coordinated_problems(run, obj["jobs"]) if coordinated else []
            right = run["ok"] and run["results_right"]
            if problems:
                status = 1
                print(f"{obj['face']} coordinator: {'; '.join(problems)}", file=sys.stderr)
            body.append([obj["face"], run["name"], str(obj["jobs"]), *(str(run[k]) for k in (
                "succeeded", "error", "timeout", "deadline", "skipped", "retries", "throttled", "transient",
                "hung")), f"{run['wall_s']:.2f} s", "yes" if right and not problems else "no"])
    print_table(header, body, right_aligned=set(range(2, 13)))
    print()
    print("The downstream accepts 100 call starts per second (beyond: throttled), never answers the first")
    print("call of 3 jobs (hung) and fails the first call of some others (transient). naive fan-out: every")
    print("job at once, no retries, no timeout, 1.5 s left: throttled errors, and the hung calls hold the")
    print("call until its deadline. coordinated: concurrency 32, max_per_second 45, attempt timeout 300 ms,")
    print("retries 3: nothing throttled, each hung attempt cancelled and retried, every job right.")
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("progress")
    p.add_argument("--face", required=True)
    p.add_argument("--results", required=True, type=Path)
    t = sub.add_parser("table")
    t.add_argument("--results", required=True, type=Path)
    t.add_argument("--log", required=True, type=Path)
    t.add_argument("events", nargs="*", type=Path)
    c = sub.add_parser("coordinator")
    c.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    if args.command == "coordinator":
        return coordinator(args.files)
    if args.command == "progress":
        return progress(args.face, args.results)
    return table(args.results, args.log, args.events)


if __name__ == "__main__":
    sys.exit(main())
