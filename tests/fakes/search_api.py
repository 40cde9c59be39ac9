"""A Serper/Jina/Lens-compatible search API on 127.0.0.1 (real HTTP, one thread per request), answering from
real local backends, with seeded fault injection.

Routes (what ``toolenv.backends.remote`` speaks):

- ``POST /search {q, num, ...}`` → ``{"organic": [{title, link, snippet}]}`` from a ``TextSearch``
  (the warehouse's ``TextIndex``); the snippet is the first ``snippet_chars`` of the hit's text;
- ``GET /r/<page url>`` → the page text (from ``pages``, else the text of a search hit served earlier);
  404 for an unknown page;
- ``POST /lens {image: base64 PNG, num}`` → ``{"visual_matches": [{title, link, source}]}`` from an
  ``ImageSearch`` (the warehouse's ``ImageIndex``; ``source`` carries the caption).

With ``api_key`` set, ``/search`` and ``/lens`` answer 401 unless ``X-API-KEY`` matches (counted in
``counts["unauthorized"]``), so a test sees the key really travelled in the header.

Faults: with ``fault_rate`` > 0 a request gets a fault with that probability, decided by a hash of
``fault_seed``, the request (method, path, body) and how many times that same request came before — so the
plan does not depend on thread scheduling, and a retried request may succeed. Kinds (``FAULT_KINDS``):
``429`` (with ``Retry-After``), ``500``, ``drop`` (the connection closes with no response), ``slow`` (the
reply comes ``slow_s`` seconds late — set it past the client's timeout), ``truncated`` (a JSON body cut in
half). Every injected fault is in ``faults``; ``counts`` counts requests per route and per outcome.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from PIL import Image

from tests.fakes.http import BackgroundHTTPServer
from toolenv import ImageSearch, TextSearch

FAULT_KINDS: tuple[str, ...] = ("429", "500", "drop", "slow", "truncated")


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault: the route (``search``/``reader``/``lens``), the kind, the request path."""

    route: str
    kind: str
    path: str


class SearchAPIServer(BackgroundHTTPServer):
    """Start with ``with SearchAPIServer(...) as srv`` (or ``start``/``stop``); URLs from ``search_url``,
    ``reader_url`` and ``lens_url``."""

    def __init__(self, text: TextSearch | None = None, image: ImageSearch | None = None, *,
                 pages: Mapping[str, str] | None = None, api_key: str | None = None, fault_rate: float = 0.0,
                 fault_seed: int = 0, fault_kinds: tuple[str, ...] = FAULT_KINDS, slow_s: float = 1.0,
                 snippet_chars: int = 200) -> None:
        self.text = text
        self.image = image
        self.pages: dict[str, str] = dict(pages or {})
        self.api_key = api_key
        self.fault_rate = fault_rate
        self.fault_seed = fault_seed
        self.fault_kinds = fault_kinds
        self.slow_s = slow_s
        self.snippet_chars = snippet_chars
        self.faults: list[Fault] = []
        self.counts: Counter[str] = Counter()
        self.served: list[tuple[str, str]] = []      # (route, query or url) of each clean 200
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._listen(self._handler(), name="search-api")

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def search_url(self) -> str:
        return self.base_url

    @property
    def reader_url(self) -> str:
        return self.base_url + "/r/"

    @property
    def lens_url(self) -> str:
        return self.base_url + "/lens"

    def fault_counts(self) -> Counter[str]:
        with self._lock:
            return Counter(f.kind for f in self.faults)

    # ------------------------------------------------------------------ behaviour
    def _fault(self, route: str, method: str, path: str, body: bytes) -> str | None:
        if not self.fault_rate or not self.fault_kinds:
            return None
        request = hashlib.sha256(method.encode() + b" " + path.encode() + b"\x00" + body).hexdigest()
        with self._lock:
            nth = self._seen[request]
            self._seen[request] += 1
        draw = hashlib.sha256(f"{self.fault_seed}|{request}|{nth}".encode()).digest()
        if int.from_bytes(draw[:8], "big") / 2**64 >= self.fault_rate:
            return None
        kind = self.fault_kinds[int.from_bytes(draw[8:12], "big") % len(self.fault_kinds)]
        with self._lock:
            self.faults.append(Fault(route, kind, path))
            self.counts[f"fault:{kind}"] += 1
        return kind

    def _search(self, body: dict[str, Any]) -> tuple[int, Any]:
        if self.text is None:
            return 404, {"message": "no text backend"}
        q = str(body.get("q", ""))
        hits = self.text.search(q, top_k=int(body.get("num", 5)), hl=str(body.get("hl", "en")))
        with self._lock:
            for h in hits:
                self.pages.setdefault(h.url, h.text)
            self.served.append(("search", q))
        return 200, {"searchParameters": {"q": q}, "organic": [
            {"title": h.title, "link": h.url, "snippet": h.text[: self.snippet_chars], "position": i}
            for i, h in enumerate(hits, 1)]}

    def _lens(self, body: dict[str, Any]) -> tuple[int, Any]:
        if self.image is None:
            return 404, {"message": "no image backend"}
        try:
            img = Image.open(io.BytesIO(base64.b64decode(str(body["image"])))).convert("RGB")
        except (KeyError, ValueError, OSError):
            return 400, {"message": "image must be a base64-encoded image"}
        hits = self.image.search(img, top_k=int(body.get("num", 5)))
        with self._lock:
            self.served.append(("lens", f"{img.width}x{img.height}"))
        return 200, {"visual_matches": [{"position": i, "title": h.title, "link": h.url, "source": h.caption}
                                        for i, h in enumerate(hits, 1)]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _reply(self, status: int, payload: bytes, content_type: str,
                       headers: Mapping[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                with contextlib.suppress(OSError):   # the client gave up (timeout)
                    self.wfile.write(payload)

            def _serve(self, route: str, body: bytes, answer: Any) -> None:
                with server._lock:
                    server.counts[route] += 1
                if route != "reader" and server.api_key is not None \
                        and self.headers.get("X-API-KEY") != server.api_key:
                    with server._lock:
                        server.counts["unauthorized"] += 1
                    self._reply(401, b'{"message": "bad api key"}', "application/json")
                    return
                fault = server._fault(route, self.command, self.path, body)
                if fault == "drop":
                    self.close_connection = True
                    return
                if fault == "429":
                    self._reply(429, b'{"message": "rate limited"}', "application/json", {"Retry-After": "1"})
                    return
                if fault == "500":
                    self._reply(500, b'{"message": "internal error"}', "application/json")
                    return
                if fault == "slow":
                    time.sleep(server.slow_s)
                status, data = answer()
                if isinstance(data, str):
                    payload, ctype = data.encode(), "text/plain; charset=utf-8"
                else:
                    payload, ctype = json.dumps(data).encode(), "application/json"
                if fault == "truncated":
                    payload = payload[: max(1, len(payload) // 2)]
                with server._lock:
                    server.counts[f"{route}:{status}"] += 1
                self._reply(status, payload, ctype)

            def _body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def do_POST(self) -> None:
                raw = self._body()
                path = self.path.split("?", 1)[0]
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    self._reply(400, b'{"message": "body is not JSON"}', "application/json")
                    return
                if path == "/search":
                    self._serve("search", raw, lambda: server._search(body))
                elif path == "/lens":
                    self._serve("lens", raw, lambda: server._lens(body))
                else:
                    self._reply(404, b'{"message": "not found"}', "application/json")

            def do_GET(self) -> None:
                if not self.path.startswith("/r/"):
                    self._reply(404, b"not found", "text/plain")
                    return
                url = urllib.parse.unquote(self.path[len("/r/"):])

                def page() -> tuple[int, str]:
                    with server._lock:
                        text = server.pages.get(url)
                        if text is not None:
                            server.served.append(("reader", url))
                    return (404, "page not found") if text is None else (200, text)

                self._serve("reader", b"", page)

        return Handler
