"""What every threaded local HTTP fake shares: a quiet ``ThreadingHTTPServer`` on 127.0.0.1 (a client that
hangs up is part of a script, not a failure) served from a daemon thread, with start/stop and ``with``."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # dropped or timed-out connections are part of the script


class BackgroundHTTPServer:
    """Base of the fakes: call ``_listen(handler)`` in ``__init__``; use ``with`` (or ``start``/``stop``)."""

    _httpd: QuietServer
    _thread: threading.Thread

    def _listen(self, handler: type[BaseHTTPRequestHandler], name: str | None = None) -> None:
        self._httpd = QuietServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=name, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
