#!/usr/bin/env bash
# Runs the demo (scripts/demo: builds what is missing, then every face on every bundled event) into
# a temporary directory and asserts, independently of the demo's own check, that
#   * every face wrote a response file for every bundled event, equal (as JSON) to
#     examples/events/<event>.expected.json; for the Kafka event also the run with ordering key,
#     <face>-kafka.key.json, equal to examples/events/kafka.key.expected.json;
#   * lanepool's opt-in summary log holds one JSON line per batch whose figures match the response;
#   * the table was printed;
#   * every face's coordinator example wrote <face>-coordinator.json: its coordinated run ended all
#     200 jobs right (each result the job's own, nothing throttled, each hung and transient call
#     retried) and its naive fan-out did not (throttled errors, the hung calls held to the
#     deadline); the coordinator table was printed.
# Run from anywhere: bash tests/demo/test_demo.sh
# LANEPOOL_DEMO_FACES="node rust" (a subset; default all three) checks only those faces.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT="$(mktemp -d "${TMPDIR:-/tmp}/lanepool-demo.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT

FACES="${LANEPOOL_DEMO_FACES:-python node rust}"
LANEPOOL_DEMO_OUT="$OUT" LANEPOOL_DEMO_FACES="$FACES" bash scripts/demo >"$OUT/demo.txt" 2>&1 || {
  cat "$OUT/demo.txt"
  echo "FAIL: scripts/demo exited non-zero" >&2
  exit 1
}

python3 - "$OUT" $FACES <<'PY'
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
events = Path("examples/events")
faces = sys.argv[2:]
# (event, ordering, response file suffix, expected file), in the order the demo runs them per face.
runs = [(name, "auto", "", f"{name}.expected.json")
        for name in ["sqs-fifo", "sqs-standard", "kinesis", "dynamodb", "kafka"]]
runs.append(("kafka", "key", ".key", "kafka.key.expected.json"))
problems = []


def record_count(event: dict) -> int:
    if "Records" in event:
        return len(event["Records"])
    return sum(len(group) for group in event["records"].values())  # Kafka


for face in faces:
    for name, _ordering, suffix, expected_name in runs:
        got_file = out / f"{face}-{name}{suffix}.json"
        want = json.loads((events / expected_name).read_text())
        if not got_file.exists():
            problems.append(f"{got_file}: missing")
            continue
        got = json.loads(got_file.read_text())
        if got != want:
            # Kafka identifiers are objects: compare them as JSON text.
            got_ids = [json.dumps(i["itemIdentifier"], sort_keys=True) for i in got.get("batchItemFailures", [])]
            want_ids = [json.dumps(i["itemIdentifier"], sort_keys=True) for i in want.get("batchItemFailures", [])]
            problems.append(
                f"{got_file}: differs from {expected_name} "
                f"({len(got_ids)} vs {len(want_ids)} identifiers; "
                f"extra {sorted(set(got_ids) - set(want_ids))[:3]}, "
                f"missing {sorted(set(want_ids) - set(got_ids))[:3]})")

# One summary line per batch, in run order (faces in order, runs in order).
lines = [json.loads(l) for l in (out / "summary.log").read_text().splitlines() if l.startswith("{")]
summaries = [l for l in lines if l.get("message") == "lanepool batch summary"]
if len(summaries) != len(faces) * len(runs):
    problems.append(f"summary.log: {len(summaries)} summary lines, want {len(faces) * len(runs)}")
else:
    for i, s in enumerate(summaries):
        name, ordering, _suffix, expected_name = runs[i % len(runs)]
        event = json.loads((events / f"{name}.json").read_text())
        want = json.loads((events / expected_name).read_text())
        records, failed = record_count(event), len(want["batchItemFailures"])
        if (s["records"], s["failed"], s["succeeded"]) != (records, failed, records - failed):
            problems.append(f"summary line {i + 1} ({name}, ordering {ordering}): {s}")

text = (out / "demo.txt").read_text()
if "speed-up" not in text or text.count(" yes ") != len(faces) * len(runs):
    problems.append("the table is missing or not every row says '= expected: yes'")

for face in faces:
    path = out / f"{face}-coordinator.json"
    if not path.exists():
        problems.append(f"{path}: missing")
        continue
    obj = json.loads(path.read_text())
    runs_by_name = {r["name"]: r for r in obj.get("runs", [])}
    naive, coord = runs_by_name.get("naive fan-out"), runs_by_name.get("coordinated")
    if obj.get("face") != face or obj.get("jobs") != 200 or naive is None or coord is None:
        problems.append(f"{path}: not a coordinator object for {face} with 200 jobs and both runs")
        continue
    if not (coord["ok"] and coord["results_right"] and coord["succeeded"] == 200
            and coord["throttled"] == 0 and coord["hung"] == 3
            and coord["retries"] == coord["transient"] + 3 and coord["error"] == 0):
        problems.append(f"{path}: the coordinated run did not end every job right: {coord}")
    if naive["ok"] or naive["throttled"] < 100 or naive["error"] < naive["throttled"] or naive["wall_s"] < 1.4:
        problems.append(f"{path}: the naive fan-out should be throttled and held to its deadline: {naive}")
if "every job right" not in text or text.count("coordinated ") < len(faces):
    problems.append("the coordinator table is missing or lacks a face's coordinated row")

if problems:
    print((out / "demo.txt").read_text())
    for p in problems:
        print("FAIL:", p, file=sys.stderr)
    sys.exit(1)
print(f"demo test: {len(faces)} faces ({', '.join(faces)}) x {len(runs)} runs (Kafka with ordering auto "
      f"and key) match the expected responses; "
      f"{len(summaries)} summary log lines; each face's coordinator ended its 200 jobs right")
PY
