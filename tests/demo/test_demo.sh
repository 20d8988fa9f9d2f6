#!/usr/bin/env bash
# Runs the demo (scripts/demo: builds what is missing, then every face on every bundled event) into
# a temporary directory and asserts, independently of the demo's own check, that
#   * every face wrote a response file for every bundled event, equal (as JSON) to
#     examples/events/<event>.expected.json;
#   * lanepool's opt-in summary log holds one JSON line per batch whose figures match the response;
#   * the table was printed.
# Run from anywhere: bash tests/demo/test_demo.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT="$(mktemp -d "${TMPDIR:-/tmp}/lanepool-demo.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT

LANEPOOL_DEMO_OUT="$OUT" LANEPOOL_DEMO_FACES="python node rust" bash scripts/demo >"$OUT/demo.txt" 2>&1 || {
  cat "$OUT/demo.txt"
  echo "FAIL: scripts/demo exited non-zero" >&2
  exit 1
}

python3 - "$OUT" <<'PY'
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
events = Path("examples/events")
faces = ["python", "node", "rust"]
names = ["sqs-fifo", "sqs-standard", "kinesis", "dynamodb"]
problems = []

for face in faces:
    for name in names:
        got_file = out / f"{face}-{name}.json"
        want = json.loads((events / f"{name}.expected.json").read_text())
        if not got_file.exists():
            problems.append(f"{got_file}: missing")
            continue
        got = json.loads(got_file.read_text())
        if got != want:
            got_ids = [i["itemIdentifier"] for i in got.get("batchItemFailures", [])]
            want_ids = [i["itemIdentifier"] for i in want.get("batchItemFailures", [])]
            problems.append(
                f"{got_file}: differs from {name}.expected.json "
                f"({len(got_ids)} vs {len(want_ids)} identifiers; "
                f"extra {sorted(set(got_ids) - set(want_ids))[:3]}, "
                f"missing {sorted(set(want_ids) - set(got_ids))[:3]})")

# One summary line per batch, in run order (faces in order, events in order).
lines = [json.loads(l) for l in (out / "summary.log").read_text().splitlines() if l.startswith("{")]
summaries = [l for l in lines if l.get("message") == "lanepool batch summary"]
if len(summaries) != len(faces) * len(names):
    problems.append(f"summary.log: {len(summaries)} summary lines, want {len(faces) * len(names)}")
else:
    for i, s in enumerate(summaries):
        name = names[i % len(names)]
        event = json.loads((events / f"{name}.json").read_text())
        want = json.loads((events / f"{name}.expected.json").read_text())
        records, failed = len(event["Records"]), len(want["batchItemFailures"])
        if (s["records"], s["failed"], s["succeeded"]) != (records, failed, records - failed):
            problems.append(f"summary line {i + 1} ({name}): {s}")

text = (out / "demo.txt").read_text()
if "speed-up" not in text or text.count(" yes ") != len(faces) * len(names):
    problems.append("the table is missing or not every row says '= expected: yes'")

if problems:
    print((out / "demo.txt").read_text())
    for p in problems:
        print("FAIL:", p, file=sys.stderr)
    sys.exit(1)
print(f"demo test: {len(faces)} faces x {len(names)} events match the expected responses; "
      f"{len(summaries)} summary log lines")
PY
