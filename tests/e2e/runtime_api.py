"""A small AWS Lambda Runtime API (2018-06-01) served on 127.0.0.1 for the end-to-end tests.

Endpoints, as Lambda's own:

* ``GET  /2018-06-01/runtime/invocation/next``: blocks until the test queues an event with
  :meth:`RuntimeApi.invoke`, then hands it out with the headers ``Lambda-Runtime-Aws-Request-Id``,
  ``Lambda-Runtime-Deadline-Ms``, ``Lambda-Runtime-Invoked-Function-Arn`` and
  ``Lambda-Runtime-Trace-Id``.
* ``POST /2018-06-01/runtime/invocation/{id}/response`` and ``/error``: the invocation's result.
* ``POST /2018-06-01/runtime/init/error``: the handler could not be loaded.

Each result is stored with the size of the example handler's record log
(``LANEPOOL_EXAMPLE_LOG``) at the moment the result arrived, so a test can tell which log lines
were written after the response was posted.

``max_concurrency`` (Lambda Managed Instances' ``AWS_LAMBDA_MAX_CONCURRENCY``): at most that many
invocations are out (handed out, no result yet) at a time, as Lambda sends an execution
environment no more; a ``GET /next`` beyond that waits for a result. ``None``: one runtime loop
asks for one invocation at a time anyway. ``peak_in_flight`` is the most that were out at once.

The Python tests use :class:`RuntimeApi` in-process. The Node tests run this file as a child
process, ``python3 runtime_api.py --serve [--log PATH] [--timeout-ms N] [--max-concurrency N]``,
driven by JSON lines (see :func:`serve`): one Runtime API, the same measurements, for both.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:lanepool-example"


@dataclass
class Result:
    request_id: str
    kind: str  # "response" | "error"
    body: object
    headers: dict
    log_offset: int  # size of the record log when the result arrived
    time_ns: int


@dataclass
class RuntimeApi:
    log_path: str | None = None
    timeout_ms: int = 60_000
    results: dict = field(default_factory=dict)
    init_errors: list = field(default_factory=list)
    polls: int = 0  # GET /next requests received so far
    handed_out: list = field(default_factory=list)  # request ids, in order
    deadlines_ms: dict = field(default_factory=dict)  # request id -> the Lambda-Runtime-Deadline-Ms sent
    max_concurrency: int | None = None  # at most this many invocations out at once (None: no limit)
    peak_in_flight: int = 0  # the most invocations out (handed out, no result yet) at once
    # Called (outside the lock) with ("poll" | "handed_out" | "result" | "init_error", details) as
    # each happens: serve() forwards them to the process that drives it.
    listener: object = None

    def __post_init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._cond = threading.Condition()
        self._slots = threading.Semaphore(self.max_concurrency) if self.max_concurrency else None
        self._in_flight: set = set()
        api = self

        def tell(kind: str, details: dict) -> None:
            if api.listener is not None:
                api.listener(kind, details)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        chunk = self.rfile.read(size + 2)[:size]
                        if size == 0:
                            # trailers until the blank line
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += chunk
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _reply(self, code: int, body: bytes = b"", headers: dict | None = None) -> None:
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    return self._reply(404, b'{"errorMessage":"not found"}')
                with api._cond:
                    api.polls += 1
                    polls = api.polls
                    api._cond.notify_all()
                tell("poll", {"polls": polls})
                if api._slots is not None:
                    api._slots.acquire()  # max_concurrency out: wait for a result
                item = api._queue.get()
                if item is None:  # shutting down: leave the client waiting no longer
                    self.close_connection = True
                    return self._reply(500, b'{"errorMessage":"runtime api stopped"}')
                request_id, event, timeout_ms = item
                deadline_ms = int(time.time() * 1000) + (timeout_ms or api.timeout_ms)
                with api._cond:
                    api.handed_out.append(request_id)
                    api.deadlines_ms[request_id] = deadline_ms
                    api._in_flight.add(request_id)
                    api.peak_in_flight = max(api.peak_in_flight, len(api._in_flight))
                    in_flight = len(api._in_flight)
                    api._cond.notify_all()
                tell("handed_out", {"request_id": request_id, "deadline_ms": deadline_ms, "in_flight": in_flight})
                body = json.dumps(event).encode()
                self._reply(200, body, {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                    "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0",
                })

            def do_POST(self) -> None:
                body = self._body()
                log_offset = os.path.getsize(api.log_path) if api.log_path and os.path.exists(api.log_path) else 0
                now = time.time_ns()
                try:
                    parsed = json.loads(body) if body else None
                except ValueError:
                    parsed = body.decode("utf-8", "replace")
                parts = self.path[len(PREFIX):].strip("/").split("/")
                if parts == ["init", "error"]:
                    with api._cond:
                        api.init_errors.append(parsed)
                        api._cond.notify_all()
                    tell("init_error", {"body": parsed})
                    return self._reply(202, b'{"status":"OK"}')
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    result = Result(parts[1], parts[2], parsed, dict(self.headers), log_offset, now)
                    with api._cond:
                        if parts[1] in api.results:
                            return self._reply(400, b'{"errorMessage":"result already posted"}')
                        api.results[parts[1]] = result
                        freed = parts[1] in api._in_flight
                        api._in_flight.discard(parts[1])
                        api._cond.notify_all()
                    if freed and api._slots is not None:
                        api._slots.release()
                    tell("result", {
                        "request_id": result.request_id, "kind": result.kind, "body": result.body,
                        "headers": result.headers, "log_offset": result.log_offset,
                        "time_ms": result.time_ns / 1e6,
                    })
                    return self._reply(202, b'{"status":"OK"}')
                self._reply(404, b'{"errorMessage":"not found"}')

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                pass  # a client killed at the end of a test: nothing to report

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def invoke(self, event: object, timeout_ms: int | None = None, request_id: str | None = None) -> str:
        """Queues an event for the next ``GET /next``; returns its request id (a new UUID unless
        given). The deadline sent is ``timeout_ms`` (default: the server's ``timeout_ms``) after the
        event is handed out."""
        request_id = request_id or str(uuid.uuid4())
        self._queue.put((request_id, event, timeout_ms))
        return request_id

    def wait(self, predicate, timeout: float, what: str, alive=lambda: True) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
                if not alive():
                    raise RuntimeError(f"runtime process exited while waiting for {what}")
                if self.init_errors:
                    raise RuntimeError(f"init error posted while waiting for {what}: {self.init_errors}")
                self._cond.wait(min(left, 0.2))

    def wait_result(self, request_id: str, timeout: float = 60, alive=lambda: True) -> Result:
        self.wait(lambda: request_id in self.results, timeout, f"the result of {request_id}", alive)
        return self.results[request_id]

    def wait_polls(self, count: int, timeout: float = 30, alive=lambda: True) -> None:
        """Waits until ``count`` ``GET /next`` requests have arrived (the runtime is idle)."""
        self.wait(lambda: self.polls >= count, timeout, f"GET /next number {count}", alive)

    def close(self) -> None:
        for _ in range(64):
            self._queue.put(None)
        if self._slots is not None:
            for _ in range(64):
                self._slots.release()
        self._server.shutdown()
        self._server.server_close()


def serve(argv: list[str] | None = None) -> int:
    """The Runtime API as a child process of another test (the Node suite), driven by JSON lines.

    On stdout, one object a line: ``{"type": "ready", "address": "127.0.0.1:PORT"}`` first, then
    as they happen ``{"type": "poll", "polls": N}``, ``{"type": "handed_out", "request_id",
    "deadline_ms", "in_flight"}``, ``{"type": "result", "request_id", "kind", "body", "headers",
    "log_offset", "time_ms"}`` and ``{"type": "init_error", "body"}``.
    On stdin, one command a line: ``{"invoke": {"request_id", "event", "timeout_ms"}}`` (the id is
    the caller's; ``timeout_ms`` may be null). End of input stops the server and the process."""
    ap = argparse.ArgumentParser(prog="runtime_api.py")
    ap.add_argument("--serve", action="store_true", required=True)
    ap.add_argument("--log", default=None, help="the handler's record log (LANEPOOL_EXAMPLE_LOG)")
    ap.add_argument("--timeout-ms", type=int, default=60_000)
    ap.add_argument("--max-concurrency", type=int, default=None)
    args = ap.parse_args(argv)

    out_lock = threading.Lock()

    def emit(kind: str, details: dict) -> None:
        line = json.dumps({"type": kind, **details}, separators=(",", ":")) + "\n"
        with out_lock:
            sys.stdout.write(line)
            sys.stdout.flush()

    api = RuntimeApi(log_path=args.log, timeout_ms=args.timeout_ms, max_concurrency=args.max_concurrency,
                     listener=emit)
    emit("ready", {"address": api.address})
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        if "invoke" in command:
            inv = command["invoke"]
            api.invoke(inv["event"], inv.get("timeout_ms"), inv["request_id"])
        else:
            print(f"runtime_api.py: unknown command {line[:200]!r}", file=sys.stderr)
            return 2
    api.close()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
