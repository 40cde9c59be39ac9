"""Remote search adapters (httpx): a Serper-style web search + Jina-style page reader, and a Lens-style
reverse image search. They implement the same ports as the local indexes.

Failures map to ``BackendTimeout`` (no answer within ``timeout_s``) and ``BackendError`` (unreachable,
HTTP ≥ 400, malformed payload); API keys never appear in messages. A page that cannot be read falls back
to the search snippet, as in the released code. Secrets are passed in by the caller (from ``Settings``).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from PIL import Image

from toolenv.backends.base import ImageHit, PageReader, SearchHit
from toolenv.errors import BackendError, BackendTimeout, ToolError
from toolenv.images import encode_png

log = logging.getLogger(__name__)


class _Http:
    """One httpx client with our error mapping. Closing the adapter closes the client."""

    def __init__(self, what: str, timeout_s: float, headers: dict[str, str],
                 transport: httpx.BaseTransport | None) -> None:
        self.what = what
        self.timeout_s = timeout_s
        self.client = httpx.Client(timeout=httpx.Timeout(timeout_s), headers=headers, transport=transport,
                                   follow_redirects=True)

    def send(self, method: str, url: str, *, json: dict[str, Any] | None = None) -> httpx.Response:
        try:
            resp = self.client.request(method, url, json=json)
        except httpx.TimeoutException as err:
            raise BackendTimeout(f"{self.what} timed out after {self.timeout_s:g} s") from err
        except httpx.HTTPError as err:
            raise BackendError(f"{self.what} unreachable ({type(err).__name__})") from err
        if resp.status_code == 429:
            raise BackendError(f"{self.what} rate-limited (HTTP 429)")
        if resp.status_code >= 400:
            raise BackendError(f"{self.what} returned HTTP {resp.status_code}: {resp.text[:200]}")
        return resp

    def send_json(self, method: str, url: str, *, json: dict[str, Any] | None = None) -> dict[str, Any]:
        resp = self.send(method, url, json=json)
        try:
            data = resp.json()
        except ValueError as err:
            raise BackendError(f"{self.what} returned a malformed payload (not JSON)") from err
        if not isinstance(data, dict):
            raise BackendError(f"{self.what} returned a malformed payload (not a JSON object)")
        return data

    def close(self) -> None:
        self.client.close()


def _list_field(data: dict[str, Any], key: str, what: str) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise BackendError(f"{what} returned a malformed payload ({key!r} is not a list)")
    return [v for v in value if isinstance(v, dict)]


def _read_or_snippet(reader: PageReader, url: str, snippet: str) -> str:
    try:
        return reader.read(url) or snippet
    except ToolError as err:
        log.info("page read failed for %s (%s); using the snippet", url, err.message)
        return snippet


class JinaReader:
    """``GET {base_url}{page url}`` → the page as Markdown/text, cut to ``max_chars``."""

    def __init__(self, *, base_url: str = "https://r.jina.ai/", api_key: str | None = None, timeout_s: float = 30.0,
                 max_chars: int = 20_000, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.max_chars = max_chars
        self._http = _Http("page reader", timeout_s, headers, transport)

    def read(self, url: str) -> str:
        return self._http.send("GET", self.base_url + url).text[: self.max_chars]

    def close(self) -> None:
        self._http.close()


class SerperSearch:
    """Serper-style search: ``POST {base_url}/search {q, location, hl, num}`` → ``organic[{title, link,
    snippet}]``; each of the first ``top_k`` pages is read with ``reader`` (in parallel) when given."""

    def __init__(self, api_key: str, *, base_url: str = "https://google.serper.dev", reader: PageReader | None = None,
                 timeout_s: float = 15.0, location: str = "United States",
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.reader = reader
        self.location = location
        self._http = _Http("search API", timeout_s, {"X-API-KEY": api_key}, transport)

    @property
    def fingerprint(self) -> str:
        return f"serper:{self.base_url}:{self.location}:{'reader' if self.reader else 'snippets'}"

    def search(self, query: str, top_k: int = 5, hl: str = "en") -> list[SearchHit]:
        body = {"q": query, "location": self.location, "hl": hl, "num": min(top_k, 20)}
        data = self._http.send_json("POST", f"{self.base_url}/search", json=body)
        rows = [r for r in _list_field(data, "organic", "search API") if isinstance(r.get("link"), str)][:top_k]
        texts = [str(r.get("snippet", "")) for r in rows]
        reader = self.reader
        if reader is not None and rows:
            with ThreadPoolExecutor(max_workers=len(rows)) as pool:
                texts = list(pool.map(lambda url, snip: _read_or_snippet(reader, url, snip),
                                      [str(r["link"]) for r in rows], texts))
        return [SearchHit(title=str(r.get("title", "")), url=str(r["link"]), text=t) for r, t in zip(rows, texts,
                                                                                                      strict=True)]

    def close(self) -> None:
        self._http.close()


class LensImageSearch:
    """Lens-style reverse image search: ``POST {endpoint} {image: base64 PNG | url, num}`` →
    ``visual_matches[{title, link, source}]``. When ``publisher`` is given (uploads PNG bytes, returns a
    public URL — the released code's object-storage step), the URL is sent instead of the bytes."""

    def __init__(self, api_key: str, *, endpoint: str, timeout_s: float = 30.0, api_key_header: str = "X-API-KEY",
                 publisher: Callable[[bytes], str] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.endpoint = endpoint
        self.publisher = publisher
        self._http = _Http("image search API", timeout_s, {api_key_header: api_key}, transport)

    @property
    def fingerprint(self) -> str:
        return f"lens:{self.endpoint}"

    def search(self, image: Image.Image, top_k: int = 5) -> list[ImageHit]:
        png = encode_png(image)
        body: dict[str, Any] = {"num": top_k}
        if self.publisher is not None:
            body["url"] = self.publisher(png)
        else:
            body["image"] = base64.b64encode(png).decode()
        data = self._http.send_json("POST", self.endpoint, json=body)
        hits = []
        for m in _list_field(data, "visual_matches", "image search API")[:top_k]:
            if isinstance(m.get("link"), str):
                hits.append(ImageHit(title=str(m.get("title", "")), url=m["link"], caption=str(m.get("source", ""))))
        return hits

    def close(self) -> None:
        self._http.close()
