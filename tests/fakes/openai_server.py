"""A scripted OpenAI-compatible chat-completions server over real HTTP on 127.0.0.1.

``responder(messages) -> Reply`` decides each answer from the request (so tests script by prompt
content); a ``Reply`` is either text (returned as a normal completion) or an HTTP status with an
optional ``Retry-After`` header. Every request is recorded for counting.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Reply:
    text: str = ""
    status: int = 200
    retry_after: float | None = None
    delay_s: float = 0.0


Responder = Callable[[list[dict[str, Any]]], Reply]


class OpenAIServer:
    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server._lock:
                    server.requests.append(body)
                reply = server.responder(body.get("messages", []))
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                with server._lock:
                    server.statuses.append(reply.status)
                if reply.status != 200:
                    payload = json.dumps({"error": {"message": f"scripted {reply.status}", "type": "server_error"}})
                    self.send_response(reply.status)
                    if reply.retry_after is not None:
                        self.send_header("Retry-After", str(reply.retry_after))
                else:
                    payload = json.dumps({
                        "id": f"cmpl-{len(server.requests)}", "object": "chat.completion", "created": 0,
                        "model": body.get("model", "scripted"),
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": reply.text}}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                    })
                    self.send_response(200)
                data = payload.encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

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
