"""A scripted OpenAI-compatible chat-completions server over real HTTP on 127.0.0.1.

``responder(messages) -> Reply`` decides each answer from the request (so tests script by prompt
content); a ``Reply`` is text (a normal completion, optionally with ``tool_calls`` whose arguments may be
malformed JSON) or an HTTP status with an optional ``Retry-After`` header (seconds, or any raw header
value such as an HTTP date). On top of the script:

- ``latency_s``: every response waits this long (the benchmark's 200 ms per call);
- ``fail_rate``: that fraction of requests, drawn from a seeded RNG, fails with 500 or with 429 +
  ``Retry-After: fail_retry_after`` (half each) before the script is consulted;
- counters: every request body, its status, ``body_counts`` (requests per body hash — the teacher
  client's memo key) and ``events`` (receive/respond times per request, monotonic clock) so tests can
  assert "zero repeated requests for completed calls" and "no retry came sooner than Retry-After";
  ``peak_in_flight`` is the most requests handled at once.

A ``ThreadingHTTPServer`` with HTTP/1.1 keep-alive and a deep accept queue, so 64 concurrent clients work.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from tasks.teacher.client import body_key


@dataclass(frozen=True)
class Reply:
    text: str = ""
    status: int = 200
    retry_after: float | str | None = None
    delay_s: float = 0.0
    tool_calls: tuple[tuple[str, str], ...] = ()     # (name, arguments text — need not be valid JSON)
    prompt_tokens: int = 10
    completion_tokens: int = 5


@dataclass(frozen=True)
class Event:
    body_hash: str
    received: float          # time.monotonic() when the request body was read
    responded: float         # time.monotonic() just before the response was written
    status: int
    retry_after: float | None


Responder = Callable[[list[dict[str, Any]]], Reply]


def echo(messages: list[dict[str, Any]]) -> Reply:
    """The default script: answer with the last message's text."""
    content = messages[-1]["content"] if messages else ""
    if isinstance(content, list):
        content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return Reply(f"echo: {content}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that timed out and hung up is part of the script, not a failure


class OpenAIServer:
    def __init__(self, responder: Responder | None = None, *, latency_s: float = 0.0, fail_rate: float = 0.0,
                 seed: int = 0, fail_retry_after: float = 0.05) -> None:
        self.responder = responder or echo
        self.latency_s = latency_s
        self.fail_rate = fail_rate
        self.fail_retry_after = fail_retry_after
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.events: list[Event] = []
        self.body_counts: Counter[str] = Counter()
        self.in_flight = 0
        self.peak_in_flight = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def _scripted(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            fail, kind = self._rng.random() < self.fail_rate, self._rng.random()
        if fail:
            return Reply(status=500) if kind < 0.5 else Reply(status=429, retry_after=self.fail_retry_after)
        return self.responder(body.get("messages", []))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                received, key = time.monotonic(), body_key(body)
                with server._lock:
                    server.requests.append(body)
                    server.body_counts[key] += 1
                    server.in_flight += 1
                    server.peak_in_flight = max(server.peak_in_flight, server.in_flight)
                try:
                    reply = server._scripted(body)
                    if server.latency_s + reply.delay_s:
                        time.sleep(server.latency_s + reply.delay_s)
                    self._respond(body, key, received, reply)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _respond(self, body: dict[str, Any], key: str, received: float, reply: Reply) -> None:
                if reply.status != 200:
                    payload = json.dumps({"error": {"message": f"scripted {reply.status}", "type": "server_error"}})
                else:
                    payload = json.dumps(_completion(body, reply, len(server.requests)))
                data = payload.encode()
                retry = reply.retry_after
                with server._lock:
                    server.statuses.append(reply.status)
                    server.events.append(Event(key, received, time.monotonic(), reply.status,
                                               retry if isinstance(retry, float | int) else None))
                self.send_response(reply.status)
                if retry is not None:
                    self.send_header("Retry-After", str(retry))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self._headers_buffer.extend((b"\r\n", data))  # type: ignore[attr-defined]
                self.flush_headers()                              # status, headers and body in one write

        return Handler

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> OpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _completion(body: dict[str, Any], reply: Reply, n: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [{"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": args}}
                                 for i, (name, args) in enumerate(reply.tool_calls)]
    else:
        message["content"] = reply.text
    return {
        "id": f"cmpl-{n}", "object": "chat.completion", "created": 0, "model": body.get("model", "scripted"),
        "choices": [{"index": 0, "finish_reason": "tool_calls" if reply.tool_calls else "stop", "message": message}],
        "usage": {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                  "total_tokens": reply.prompt_tokens + reply.completion_tokens},
    }


def main() -> None:
    """``python -m tests.fakes.openai_server [--latency S]``: serve the echo script in its own process
    (benchmarks keep the server off the client's GIL); prints the base URL, stops when stdin closes."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--latency", type=float, default=0.0)
    args = ap.parse_args()
    with OpenAIServer(latency_s=args.latency) as server:
        sys.stdout.write(server.base_url + "\n")
        sys.stdout.flush()
        sys.stdin.read()


if __name__ == "__main__":
    main()
