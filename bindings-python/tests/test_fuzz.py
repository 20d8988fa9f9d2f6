"""Random and damaged events, in a child process: every call ends in `EventError` (with the
index and field of a reference model) or the response the model predicts; a crash (segfault,
abort, a Rust panic crossing the FFI) kills only the child and fails this test.

LANEPOOL_FUZZ_EXAMPLES sets the number of examples (default 1000, about 5 s).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("fuzz_events.py")


def test_fuzzed_events_end_in_event_error_or_a_correct_response():
    examples = os.environ.get("LANEPOOL_FUZZ_EXAMPLES", "1000")
    child = subprocess.run(
        [sys.executable, str(SCRIPT), examples],
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = child.stdout[-5000:] + child.stderr[-5000:]
    assert child.returncode == 0, f"fuzz child exited with {child.returncode}:\n{output}"
    assert f"{examples} examples ok" in child.stdout
