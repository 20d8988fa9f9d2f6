"""Counts the tests a log of scripts/test shows: cargo test, pytest, node --test (spec or TAP
reporter), and the plain "N passed, N failed" lines of the project's own checks.

    python3 scripts/lib/test_counts.py LOG     # prints "passed failed skipped"
"""

from __future__ import annotations

import re
import sys

CARGO = re.compile(r"^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored")
PYTEST = re.compile(r"^=*\s*((?:\d+ [a-z]+(?:, )?)+) in [\d.]+s")
NODE = re.compile(r"^(?:ℹ|#) (pass|fail|skipped|todo) (\d+)$")
PLAIN = re.compile(r"^(?:\w+: )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$")


def counts(text: str) -> tuple[int, int, int]:
    passed = failed = skipped = 0
    for raw in text.splitlines():
        line = raw.strip()
        if m := CARGO.match(line):
            passed += int(m[1])
            failed += int(m[2])
            skipped += int(m[3])
        elif m := PYTEST.match(line):
            for n, word in (part.split(" ", 1) for part in m[1].split(", ")):
                if word == "passed":
                    passed += int(n)
                elif word in ("failed", "error", "errors"):
                    failed += int(n)
                elif word in ("skipped", "xfailed", "xpassed", "deselected"):
                    skipped += int(n)
        elif m := NODE.match(line):
            n = int(m[2])
            if m[1] == "pass":
                passed += n
            elif m[1] == "fail":
                failed += n
            else:
                skipped += n
        elif m := PLAIN.match(line):
            passed += int(m[1])
            failed += int(m[2])
            skipped += int(m[3] or 0)
    return passed, failed, skipped


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        print(*counts(f.read()))
