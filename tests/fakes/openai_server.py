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
- ``fault_rate``: the outside-fault mode. That fraction of requests (a seeded RNG of its own,
  ``fault_seed``) gets the next of ``fault_kinds`` in turn (so a short run sees every kind), logged
  in ``faults`` (body hash, kind) before it is served:
  ``429`` (+ ``Retry-After: fail_retry_after``), ``500``, ``drop`` (headers and half the body, then the
  connection is closed), ``timeout`` (the reply comes ``fault_delay_s`` late: past the client's timeout),
  ``truncated`` (a 200 whose JSON body is cut in half) and ``bad_tool_args`` (a 200 whose tool call has
  arguments of the wrong types, from ``bad_tool_call(messages)``; requests where that returns None
  rotate through the other kinds). ``fault_hashes()`` / ``ok_hashes()`` say which bodies got a
  fault / a clean 200.

A ``ThreadingHTTPServer`` with HTTP/1.1 keep-alive and a deep accept queue, so 64 concurrent clients work.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tasks.teacher.client import body_key
from tests.fakes.http import BackgroundHTTPServer


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
    fault: str | None = None     # the injected fault, if any


@dataclass(frozen=True)
class Fault:
    body_hash: str
    kind: str                # one of FAULT_KINDS


Responder = Callable[[list[dict[str, Any]]], Reply]
BadToolCall = Callable[[list[dict[str, Any]]], tuple[str, str] | None]
FAULT_KINDS = ("bad_tool_args", "429", "500", "drop", "timeout", "truncated")


def echo(messages: list[dict[str, Any]]) -> Reply:
    """The default script: answer with the last message's text."""
    content = messages[-1]["content"] if messages else ""
    if isinstance(content, list):
        content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return Reply(f"echo: {content}")


class OpenAIServer(BackgroundHTTPServer):
    def __init__(self, responder: Responder | None = None, *, latency_s: float = 0.0, fail_rate: float = 0.0,
                 seed: int = 0, fail_retry_after: float = 0.05, fault_rate: float = 0.0, fault_seed: int = 0,
                 fault_kinds: tuple[str, ...] = FAULT_KINDS, fault_delay_s: float = 1.5,
                 bad_tool_call: BadToolCall | None = None) -> None:
        self.responder = responder or echo
        self.fault_rate = fault_rate
        self.fault_kinds = fault_kinds
        self.fault_delay_s = fault_delay_s
        self.bad_tool_call = bad_tool_call
        self.faults: list[Fault] = []
        self._fault_rng = random.Random(fault_seed)
        self._fault_turn = [0, 0]     # requests where a bad tool call does not / does apply rotate separately
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
        self._listen(self._handler())

    def _scripted(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            fail, kind = self._rng.random() < self.fail_rate, self._rng.random()
        if fail:
            return Reply(status=500) if kind < 0.5 else Reply(status=429, retry_after=self.fail_retry_after)
        return self.responder(body.get("messages", []))

    def _fault(self, body: dict[str, Any], key: str) -> str | None:
        """The fault this request gets (logged), or None."""
        if not self.fault_rate:
            return None
        tool_ok = self.bad_tool_call is not None and self.bad_tool_call(body.get("messages", [])) is not None
        kinds = [k for k in self.fault_kinds if tool_ok or k != "bad_tool_args"] or ["500"]
        with self._lock:
            if self._fault_rng.random() >= self.fault_rate:
                return None
            kind = kinds[self._fault_turn[tool_ok] % len(kinds)]
            self._fault_turn[tool_ok] += 1
            self.faults.append(Fault(key, kind))
        return kind

    def fault_hashes(self) -> set[str]:
        """Bodies that got at least one fault."""
        with self._lock:
            return {f.body_hash for f in self.faults}

    def ok_hashes(self) -> set[str]:
        """Bodies that got a clean 200 at least once (a ``bad_tool_args`` reply is a 200 but not clean)."""
        with self._lock:
            return {e.body_hash for e in self.events if e.status == 200 and not e.fault}

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
                    fault = server._fault(body, key)
                    reply = _faulted(server, body, fault) if fault else server._scripted(body)
                    if server.latency_s + reply.delay_s:
                        time.sleep(server.latency_s + reply.delay_s)
                    self._respond(body, key, received, reply, fault)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _respond(self, body: dict[str, Any], key: str, received: float, reply: Reply,
                         fault: str | None = None) -> None:
                if reply.status != 200:
                    payload = json.dumps({"error": {"message": f"scripted {reply.status}", "type": "server_error"}})
                else:
                    payload = json.dumps(_completion(body, reply, len(server.requests)))
                data = payload.encode()
                length = len(data)
                if fault == "truncated":
                    data = data[:len(data) // 2]
                    length = len(data)
                elif fault == "drop":
                    data = data[:len(data) // 2]                  # Content-Length promises the whole body
                retry = reply.retry_after
                with server._lock:
                    server.statuses.append(reply.status)
                    server.events.append(Event(key, received, time.monotonic(), reply.status,
                                               retry if isinstance(retry, float | int) else None, fault))
                self.send_response(reply.status)
                if retry is not None:
                    self.send_header("Retry-After", str(retry))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(length))
                self._headers_buffer.extend((b"\r\n", data))  # type: ignore[attr-defined]
                try:
                    self.flush_headers()                          # status, headers and body in one write
                except OSError:
                    self.close_connection = True                  # the client hung up (it timed out)
                    return
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)

        return Handler

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def _faulted(server: OpenAIServer, body: dict[str, Any], fault: str) -> Reply:
    """The reply a faulted request gets (``drop`` and ``truncated`` are cut when written)."""
    if fault == "429":
        return Reply(status=429, retry_after=server.fail_retry_after)
    if fault == "500":
        return Reply(status=500)
    if fault == "timeout":
        return Reply("too late", delay_s=server.fault_delay_s)
    if fault == "bad_tool_args" and server.bad_tool_call is not None:
        call = server.bad_tool_call(body.get("messages", []))
        if call is not None:
            return Reply("<think>Search.</think>", tool_calls=(call,))
    return Reply("a reply that will not arrive whole")


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
