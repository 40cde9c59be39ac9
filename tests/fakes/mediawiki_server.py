"""A fake MediaWiki Action API, Commons API and upload host, served over real HTTP on 127.0.0.1.

Answers exactly the calls ``tasks.ingest.live`` makes, from in-memory pages, redirects and files:

* ``/w/api.php``: ``meta=siteinfo``; ``prop=info`` (formatversion 1, as wikipedia-api asks);
  ``prop=revisions|redirects`` with ``redirects=1`` and ``rdcontinue`` continuation
  (``max_per_response`` caps ``rdlimit=max`` so continuation is exercised); ``prop=imageinfo``
  (Commons files show up as ``missing`` + ``known`` with ``imagerepository=shared``, as on Wikipedia);
* ``/commons/w/api.php``: ``prop=imageinfo`` with ``extmetadata`` for files marked ``on_commons``;
* ``/upload/<name>``: the file bytes.

Faults are injected per title (or ``"*"`` for every request, or ``"upload:<name>"`` for a download):
an HTTP status (with ``Retry-After``) and/or a delay, for a number of requests or forever. Every
request is recorded as a ``Hit`` for counting and timing.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

WIKI_PATH = "/w/api.php"
COMMONS_PATH = "/commons/w/api.php"
UPLOAD_PREFIX = "/upload/"


def norm(title: str) -> str:
    t = " ".join(title.replace("_", " ").split())
    return t[:1].upper() + t[1:]


@dataclass
class FakePage:
    title: str
    text: str
    page_id: int
    rev_id: int
    ns: int = 0
    timestamp: str = "2024-05-01T12:00:00Z"


@dataclass
class FakeFile:
    name: str
    data: bytes
    width: int
    height: int
    license: str | None = "CC BY-SA 4.0"
    license_url: str | None = "https://creativecommons.org/licenses/by-sa/4.0"
    artist_html: str | None = None
    description_html: str | None = None
    on_commons: bool = True
    mime: str = "image/png"
    reported_size: int | None = None  # what imageinfo claims (defaults to len(data))


@dataclass
class Fault:
    status: int | None  # None: only the delay
    times: int | None  # None: forever
    retry_after: str | None = None
    delay: float = 0.0
    prop: str | None = None  # only requests whose ``prop`` contains this
    api: str | None = None  # only requests to this API (wiki | commons | upload)


@dataclass(frozen=True)
class Hit:
    api: str  # wiki | commons | upload
    params: dict[str, str]
    at: float
    status: int
    user_agent: str

    def titles(self) -> list[str]:
        if self.api == "upload":
            return [f"upload:{self.params['file']}"]
        return [norm(t) for t in self.params.get("titles", "").split("|") if t]


@dataclass
class FakeMediaWiki:
    """Use as a context manager; ``api_url`` / ``commons_api_url`` point at the running server."""

    pages: dict[str, FakePage] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)  # redirect title -> target title
    files: dict[str, FakeFile] = field(default_factory=dict)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    max_per_response: int = 500
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _next_id: int = 100

    # ------------------------------------------------------------------ setup
    def add_page(self, title: str, text: str, *, redirects: tuple[str, ...] = ()) -> FakePage:
        self._next_id += 1
        page = FakePage(title, text, self._next_id, self._next_id * 10)
        self.pages[title] = page
        for r in redirects:
            self.redirects[r] = title
        return page

    def add_file(self, file: FakeFile) -> None:
        self.files[file.name] = file

    def fail(self, key: str, status: int | None, *, times: int | None = None, retry_after: str | None = None,
             delay: float = 0.0, prop: str | None = None, api: str | None = None) -> None:
        self.faults.setdefault(key, []).append(Fault(status, times, retry_after, delay, prop, api))

    def count(self, api: str = "wiki", *, title: str | None = None, prop: str | None = None) -> int:
        return len(self.select(api, title=title, prop=prop))

    def select(self, api: str = "wiki", *, title: str | None = None, prop: str | None = None) -> list[Hit]:
        with self._lock:
            hits = list(self.hits)
        return [h for h in hits if h.api == api and (title is None or title in h.titles())
                and (prop is None or prop in h.params.get("prop", "").split("|"))]

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        return self.base_url + WIKI_PATH

    @property
    def commons_api_url(self) -> str:
        return self.base_url + COMMONS_PATH

    def __enter__(self) -> FakeMediaWiki:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ dispatch
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urlsplit(h.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        if url.path == WIKI_PATH:
            api = "wiki"
        elif url.path == COMMONS_PATH:
            api = "commons"
        elif url.path.startswith(UPLOAD_PREFIX):
            api, params = "upload", {"file": unquote(url.path[len(UPLOAD_PREFIX):])}
        else:
            self._send(h, "other", params, 404, b"not found", "text/plain")
            return
        fault = self._take_fault(api, Hit(api, params, 0.0, 0, "").titles(), params.get("prop", ""))
        if fault is not None and fault.delay:
            # recorded on arrival: the client times out and retries while this thread still sleeps, and the
            # test may count hits before it wakes (status 0: no answer in time)
            with self._lock:
                self.hits.append(Hit(api, params, time.monotonic(), 0, h.headers.get("User-Agent", "")))
            h.recorded = True  # type: ignore[attr-defined]
            time.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._send(h, api, params, fault.status, b"injected failure", "text/plain", headers)
        elif api == "upload":
            file = self.files.get(params["file"])
            status, body = (200, file.data) if file else (404, b"no such file")
            self._send(h, api, params, status, body, file.mime if file else "text/plain")
        else:
            body = json.dumps(self._api(api, params)).encode()
            self._send(h, api, params, 200, body, "application/json; charset=utf-8")

    def _take_fault(self, api: str, titles: list[str], prop: str) -> Fault | None:
        with self._lock:
            for key in [*titles, "*"]:
                for fault in self.faults.get(key, []):
                    if (fault.prop is not None and fault.prop not in prop.split("|")) or fault.api not in (None, api):
                        continue
                    if fault.times is not None:
                        if fault.times <= 0:
                            continue
                        fault.times -= 1
                    return fault
        return None

    def _send(self, h: BaseHTTPRequestHandler, api: str, params: dict[str, str], status: int, body: bytes,
              ctype: str, headers: dict[str, str] | None = None) -> None:
        if not getattr(h, "recorded", False):
            with self._lock:
                self.hits.append(Hit(api, params, time.monotonic(), status, h.headers.get("User-Agent", "")))
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    # ------------------------------------------------------------------ API answers
    def _api(self, api: str, params: dict[str, str]) -> dict[str, Any]:
        if params.get("action") != "query":
            return {"error": {"code": "badvalue", "info": "fake supports action=query only"}}
        if params.get("meta") == "siteinfo":
            return {"batchcomplete": True, "query": _SITEINFO}
        v2 = params.get("formatversion") == "2"
        query: dict[str, Any] = {}
        titles = self._titles(api, params, query)
        props = params.get("prop", "").split("|")
        entries = [self._entry(api, t, props, v2) for t in titles]
        if params.get("generator"):
            for i, entry in enumerate(entries, 1):
                entry["index"] = i
        body: dict[str, Any] = {"batchcomplete": True, "query": query}
        if "redirects" in props:
            body.update(self._redirect_lists(entries, params))
        if v2:
            query["pages"] = entries
        else:
            missing = iter(range(-1, -1000, -1))
            query["pages"] = {str(e["pageid"]) if "pageid" in e else str(next(missing)): e for e in entries}
        return body

    def _titles(self, api: str, params: dict[str, str], query: dict[str, Any]) -> list[str]:
        if params.get("generator") == "search":
            return self._search_files(api, params)
        out = []
        for raw in params.get("titles", "").split("|"):
            title = norm(raw)
            if title != raw:
                query.setdefault("normalized", []).append({"from": raw, "to": title})
            if params.get("redirects") and api == "wiki" and title in self.redirects:
                query.setdefault("redirects", []).append({"from": title, "to": self.redirects[title]})
                title = self.redirects[title]
            if title not in out:
                out.append(title)
        return out

    def _search_files(self, api: str, params: dict[str, str]) -> list[str]:
        """``generator=search`` in the File namespace: files whose name or description holds every
        query word (case-insensitive), in name order, at most ``gsrlimit``."""
        words = params.get("gsrsearch", "").lower().split()
        limit = int(params.get("gsrlimit", "10"))
        found = [f"File:{f.name}" for f in sorted(self.files.values(), key=lambda f: f.name)
                 if (api != "commons" or f.on_commons)
                 and all(w in f"{f.name} {f.description_html or ''}".lower() for w in words)]
        return found[:limit]

    def _entry(self, api: str, title: str, props: list[str], v2: bool) -> dict[str, Any]:
        if title.startswith("File:"):
            return self._file_entry(api, title)
        page = self.pages.get(title) if api == "wiki" else None
        if page is None:
            return {"ns": 0, "title": title, "missing": True if v2 else ""}
        entry: dict[str, Any] = {"pageid": page.page_id, "ns": page.ns, "title": page.title}
        if "info" in props:
            entry.update(contentmodel="wikitext", lastrevid=page.rev_id, length=len(page.text),
                         fullurl=f"{self.base_url}/wiki/{quote(page.title.replace(' ', '_'))}")
        if "revisions" in props:
            slot = {"contentmodel": "wikitext", "contentformat": "text/x-wiki",
                    ("content" if v2 else "*"): page.text}
            entry["revisions"] = [{"revid": page.rev_id, "parentid": page.rev_id - 1,
                                   "timestamp": page.timestamp, "slots": {"main": slot}}]
        return entry

    def _redirect_lists(self, entries: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
        """Attach ``redirects`` lists; at most ``rdlimit`` (capped) per response, then ``rdcontinue``."""
        limit = self.max_per_response if params.get("rdlimit", "max") == "max" else int(params["rdlimit"])
        limit = min(limit, self.max_per_response)
        start = int(params.get("rdcontinue", "0"))
        pending = [(e, r) for e in entries if "pageid" in e
                   for r in sorted(k for k, v in self.redirects.items() if v == e["title"])]
        for entry, red in pending[start:start + limit]:
            red_page = {"pageid": 9000 + sorted(self.redirects).index(red), "ns": 0, "title": red}
            entry.setdefault("redirects", []).append(red_page)
        if "rdcontinue" in params:  # revisions were complete in the first response
            for entry in entries:
                entry.pop("revisions", None)
        if start + limit < len(pending):
            return {"continue": {"rdcontinue": str(start + limit), "continue": "||revisions"}}
        return {}

    def _file_entry(self, api: str, title: str) -> dict[str, Any]:
        file = self.files.get(title.split(":", 1)[1])
        if file is None or (api == "commons" and not file.on_commons):
            return {"ns": 6, "title": title, "missing": True, "imagerepository": ""}
        entry: dict[str, Any] = {"ns": 6, "title": title}
        if api == "wiki" and file.on_commons:
            entry.update(missing=True, known=True, imagerepository="shared")
        else:
            entry.update(pageid=5000 + sorted(self.files).index(file.name), imagerepository="local")
        meta = {"LicenseShortName": file.license, "LicenseUrl": file.license_url, "Artist": file.artist_html,
                "ImageDescription": file.description_html}
        entry["imageinfo"] = [{
            "size": file.reported_size if file.reported_size is not None else len(file.data),
            "width": file.width, "height": file.height, "mime": file.mime,
            "url": f"{self.base_url}{UPLOAD_PREFIX}{quote(file.name)}",
            "descriptionurl": f"{self.base_url}/wiki/{quote(title.replace(' ', '_'), safe=':')}",
            "extmetadata": {k: {"value": v, "source": "commons-desc-page"} for k, v in meta.items() if v},
        }]
        return entry


_SITEINFO: dict[str, Any] = {
    "namespaces": {
        "-2": {"id": -2, "case": "first-letter", "name": "Media", "canonical": "Media"},
        "0": {"id": 0, "case": "first-letter", "name": "", "content": True},
        "6": {"id": 6, "case": "first-letter", "name": "File", "canonical": "File"},
        "10": {"id": 10, "case": "first-letter", "name": "Template", "canonical": "Template"},
        "14": {"id": 14, "case": "first-letter", "name": "Category", "canonical": "Category"},
    },
    "namespacealiases": [{"id": 6, "alias": "Image"}],
}


def closed_port_url() -> str:
    """An API URL on 127.0.0.1 where nothing listens."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{WIKI_PATH}"

