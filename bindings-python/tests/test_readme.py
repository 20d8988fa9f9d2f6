"""The Python code blocks of bindings-python/README.md run, so a wrong example fails.

Each ```python block runs in a fresh namespace; a block that defines ``lambda_handler`` is
then invoked with a small SQS FIFO event and ``{}`` as the context (no deadline), and its
answer must be a partial batch response with no failures (the examples' handlers succeed).
A block preceded by a ``<!-- readme-test: skip REASON -->`` line is skipped with that reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(?:<!-- readme-test: skip (?P<skip>[^>]*?) -->\n)?```python\n(?P<code>.*?)```", re.DOTALL)


def blocks() -> list:
    text = README.read_text()
    found = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("code")) + 1
        marks = [pytest.mark.skip(reason=match["skip"])] if match["skip"] else []
        found.append(pytest.param(match["code"], id=f"README.md:{line}", marks=marks))
    return found


def fifo_event(n: int = 3) -> dict:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": "{}",
                "attributes": {
                    "MessageGroupId": "g",
                    "SequenceNumber": str(i),
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "0",
                    "SenderId": "s",
                    "ApproximateFirstReceiveTimestamp": "0",
                    "MessageDeduplicationId": f"d{i}",
                },
                "messageAttributes": {},
                "md5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q.fifo",
                "awsRegion": "us-east-1",
            }
            for i in range(n)
        ]
    }


def test_the_readme_has_python_examples():
    assert len(blocks()) >= 3


@pytest.mark.parametrize("code", blocks())
def test_readme_example_runs(code: str):
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(code, str(README), "exec"), namespace)
    handler = namespace.get("lambda_handler")
    if handler is not None:
        assert handler(fifo_event(), {}) == {"batchItemFailures": []}
