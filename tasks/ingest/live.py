"""Live Wikipedia source: fetch the configured titles over HTTP and yield the same records as a dump.

Each page's wikitext goes through ``parse_page``, so a live page is indistinguishable from a dump
page; redirects to a fetched page become ``PageRecord(redirect_target=...)`` rows (aliases work as
with dumps); each page's infobox image arrives as an ``ImageBlob`` with its Commons licence.

**Pointing wikipedia-api elsewhere.** Wikipedia-API 0.16 has no endpoint setting: its
``BaseHTTPClient._build_url(language)`` hard-codes ``https://{language}.wikipedia.org/w/api.php``.
Its constructor does forward extra keyword arguments to ``httpx.Client`` and documents a custom
``transport`` among them, so we pass ``_ApiTransport(rebase=cfg.api_url)``: it rewrites every request
to ``cfg.api_url`` (scheme, host, port, path; the query string is kept) before sending it. No private
method is patched; the library's own request log still shows the wikipedia.org URL it built. The
library's retry loop is switched off (``max_retries=0``) and the same transport retries for it, so
one policy (``RetryPolicy``) governs every request this module makes.

**Requests made.**

1. once: ``action=query&meta=siteinfo&siprop=namespaces|namespacealiases`` on ``api_url`` -- proves
   the host answers (else ``SourceError``) and gives the wiki's namespace names for ``parse_page``;
2. per title, through wikipedia-api (``page.exists()``, i.e. ``prop=info&redirects=1``): existence
   and the canonical title after normalisation and redirect resolution;
3. per batch of <= 50 canonical titles: ``prop=revisions|redirects&rvprop=content|ids|timestamp
   &rvslots=main&rdprop=pageid|title&rdnamespace=0&rdlimit=max&redirects=1`` (continued until done);
   when the batch request fails for good it is repeated title by title, so one bad page becomes an
   ``http_error`` reject and the others land;
4. for the infobox images of that batch: ``prop=imageinfo&iiprop=url|size|mime|extmetadata`` on
   ``commons_api_url``; files Commons lacks (local, non-free files) are asked of ``api_url``;
5. a streamed ``GET`` of each image URL, capped at ``MAX_IMAGE_BYTES``.

``prop=pageimages|images`` are not used: the infobox image comes from the wikitext, as with dumps.
"""

from __future__ import annotations

import email.utils
import html
import logging
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import httpx
import wikipediaapi

from schemas.errors import SourceError
from schemas.pages import ImageBlob, ImageMeta, PageRecord, PageReject
from schemas.run_config import SourceConfig
from tasks.ingest.wikitext import Namespaces, normalise_title, parse_page

log = logging.getLogger(__name__)
Record = PageRecord | PageReject | ImageBlob
MAX_TITLES = 50  # titles per Action API query for clients without the apihighlimits right
MAX_IMAGE_BYTES = 50_000_000
MAX_CONTINUE = 50
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_TAG = re.compile(r"<[^>]+>")
_WS = re.compile(r"\s+")
_CONTENT = {"action": "query", "prop": "revisions|redirects", "rvprop": "content|ids|timestamp",
            "rvslots": "main", "rdprop": "pageid|title", "rdnamespace": "0", "rdlimit": "max", "redirects": "1"}
_IMAGEINFO = {"action": "query", "prop": "imageinfo", "iiprop": "url|size|mime|extmetadata",
              "iiextmetadatafilter": "LicenseShortName|LicenseUrl|Artist|ImageDescription"}


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per request (first try included), exponential backoff base, the longest wait
    (also caps ``Retry-After``) and the per-request timeout, all in seconds."""

    attempts: int = 4
    backoff: float = 0.5
    max_wait: float = 30.0
    timeout: float = 30.0


DEFAULT_POLICY = RetryPolicy()


def user_agent() -> str:
    """Descriptive User-Agent, as the Wikimedia User-Agent policy asks."""
    try:
        version = metadata.version("searchvl")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"searchvl/{version} (searchvl dataset builder; live Wikipedia ingest) httpx/{httpx.__version__}"


def _http_detail(status: int, url: str) -> str:
    return f"HTTP {status} from {url}" + (" (still failing after retries)" if status in _RETRY_STATUS else "")


class _FetchFailed(Exception):
    """A request failed for good (after retries); the message says how."""

    def __init__(self, detail: str, reason: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason


class _Unreachable(_FetchFailed):
    """The host does not accept connections (after retries)."""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _ApiTransport(httpx.BaseTransport):
    """Bounded retries with backoff on 429/5xx, timeouts and network errors (``Retry-After`` is
    honoured up to ``policy.max_wait``); with ``rebase``, every request goes to that URL instead."""

    def __init__(self, policy: RetryPolicy, rebase: str | None = None) -> None:
        self._inner = httpx.HTTPTransport()
        self._policy = policy
        self._rebase = httpx.URL(rebase) if rebase else None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._rebase is not None:
            base = self._rebase
            request.url = request.url.copy_with(scheme=base.scheme, host=base.host, port=base.port, path=base.path)
            request.headers["Host"] = base.netloc.decode("ascii")
        attempt = 0
        while True:
            attempt += 1
            wait = self._policy.backoff * 2 ** (attempt - 1)
            try:
                response = self._inner.handle_request(request)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as err:
                if attempt >= self._policy.attempts:
                    raise
                log.debug("%s %s: %s, retry %d", request.method, request.url.host, type(err).__name__, attempt)
            else:
                if response.status_code not in _RETRY_STATUS or attempt >= self._policy.attempts:
                    return response
                wait = _retry_after(response) or wait
                response.close()
                log.debug("%s %s: HTTP %d, retry %d", request.method, request.url.host, response.status_code,
                          attempt)
            time.sleep(min(wait, self._policy.max_wait))

    def close(self) -> None:
        self._inner.close()


def _api_get(client: httpx.Client, url: str, params: dict[str, str]) -> dict[str, Any]:
    """One Action API GET (retried by the transport); JSON body, or ``_FetchFailed``."""
    try:
        response = client.get(url, params={"format": "json", "formatversion": "2", **params})
    except httpx.ConnectError as err:
        raise _Unreachable(f"{type(err).__name__}: {err}") from err
    except httpx.TransportError as err:
        raise _FetchFailed(f"{type(err).__name__} from {url}") from err
    if response.status_code != 200:
        raise _FetchFailed(_http_detail(response.status_code, url))
    try:
        body = response.json()
    except ValueError as err:
        raise _FetchFailed(f"invalid JSON from {url}") from err
    if not isinstance(body, dict):
        raise _FetchFailed(f"unexpected JSON from {url}")
    if "error" in body:
        err_body = body["error"] if isinstance(body["error"], dict) else {}
        raise _FetchFailed(f"API error {err_body.get('code')}: {err_body.get('info')}"[:300])
    return body


def _query_pages(client: httpx.Client, url: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Run a ``prop`` query to the end of its continuation; pages in answer order, ``redirects``
    lists merged across continuations."""
    pages: dict[str, dict[str, Any]] = {}
    extra: dict[str, str] = {}
    for _ in range(MAX_CONTINUE):
        body = _api_get(client, url, {**params, **extra})
        for page in body.get("query", {}).get("pages", []):
            merged = pages.setdefault(str(page.get("title")), {})
            for key, value in page.items():
                if key == "redirects" and key in merged:
                    merged[key].extend(value)
                else:
                    merged.setdefault(key, value)
        if "continue" not in body:
            return list(pages.values())
        extra = {str(k): str(v) for k, v in body["continue"].items()}
    raise _FetchFailed(f"{url}: more than {MAX_CONTINUE} continuations")


@dataclass
class _Ctx:
    cfg: SourceConfig
    client: httpx.Client
    wapi: Any  # wikipediaapi.Wikipedia (untyped)
    ns: Namespaces
    seen_pages: set[str] = field(default_factory=set)
    seen_images: set[str] = field(default_factory=set)

    @property
    def wiki(self) -> str:
        return f"{self.cfg.language}wiki"


@contextmanager
def _clients(cfg: SourceConfig, policy: RetryPolicy) -> Iterator[tuple[httpx.Client, Any]]:
    timeout = httpx.Timeout(policy.timeout)
    ua = user_agent()
    wapi_transport = _ApiTransport(policy, rebase=cfg.api_url)
    wapi = wikipediaapi.Wikipedia(user_agent=ua, language=cfg.language, max_retries=0, timeout=timeout,
                                  transport=wapi_transport)
    with httpx.Client(headers={"User-Agent": ua}, timeout=timeout, transport=_ApiTransport(policy),
                      follow_redirects=True) as client:
        try:
            yield client, wapi
        finally:
            wapi_transport.close()


def _namespaces(client: httpx.Client, api_url: str) -> Namespaces:
    """The wiki's namespace names (canonical English names stay valid on every wiki)."""
    try:
        body = _api_get(client, api_url, {"action": "query", "meta": "siteinfo",
                                          "siprop": "namespaces|namespacealiases"})
    except _Unreachable as err:
        raise SourceError(f"live source: cannot reach the MediaWiki API at {api_url}: {err}") from err
    except _FetchFailed as err:
        raise SourceError(f"live source: the MediaWiki API at {api_url} does not answer: {err}") from err
    names = dict(Namespaces.english().by_name)
    query = body.get("query", {})
    for ns in query.get("namespaces", {}).values():
        for key in ("name", "canonical"):
            if ns.get(key) and int(ns.get("id", 0)) != 0:
                names[str(ns[key]).lower()] = int(ns["id"])
    for alias in query.get("namespacealiases", []):
        names[str(alias["alias"]).lower()] = int(alias["id"])
    return Namespaces(names)


def _resolve(ctx: _Ctx, title: str) -> str | PageReject:
    """Canonical title of an existing page (wikipedia-api: normalisation + redirects), else a reject."""
    page = ctx.wapi.page(title)
    url = ctx.cfg.api_url
    try:
        exists = bool(page.exists())
    except wikipediaapi.WikiConnectionError as err:
        raise SourceError(f"live source: the MediaWiki API at {url} stopped answering "
                          f"(while resolving {title!r})") from err
    except wikipediaapi.WikiHttpError as err:
        return PageReject(ctx.wiki, normalise_title(title), "http_error", _http_detail(err.status_code, url))
    except (wikipediaapi.WikipediaException, KeyError, TypeError, ValueError) as err:
        how = "timed out" if isinstance(err, wikipediaapi.WikiHttpTimeoutError) else type(err).__name__
        return PageReject(ctx.wiki, normalise_title(title), "http_error", f"{how} at {url}")
    if not exists:
        return PageReject(ctx.wiki, normalise_title(title), "not_found", f"no page {title!r} at {url}")
    return str(page.title)


def _fetch_wikitext(ctx: _Ctx, titles: Sequence[str]) -> tuple[list[dict[str, Any]], list[PageReject]]:
    """Pages with their latest revision and redirects; a batch that fails is retried title by title."""
    url = ctx.cfg.api_url
    try:
        return _query_pages(ctx.client, url, {**_CONTENT, "titles": "|".join(titles)}), []
    except _Unreachable as err:
        raise SourceError(f"live source: the MediaWiki API at {url} stopped answering: {err}") from err
    except _FetchFailed as err:
        if len(titles) == 1:
            return [], [PageReject(ctx.wiki, titles[0], "http_error", str(err))]
        log.warning("live: batch of %d titles failed (%s); fetching them one by one", len(titles), err)
    pages: list[dict[str, Any]] = []
    rejects: list[PageReject] = []
    for title in titles:
        got, bad = _fetch_wikitext(ctx, [title])
        pages += got
        rejects += bad
    return pages, rejects


def _page_records(ctx: _Ctx, page: dict[str, Any]) -> list[PageRecord | PageReject]:
    title = str(page.get("title"))
    revisions = page.get("revisions") or []
    if page.get("missing") or page.get("invalid") or not revisions:
        return [PageReject(ctx.wiki, title, "not_found", f"no page {title!r} at {ctx.cfg.api_url}")]
    rev = revisions[0]
    slot = (rev.get("slots") or {}).get("main") or {}
    text = slot.get("content", slot.get("*"))
    if not isinstance(text, str):
        return [PageReject(ctx.wiki, title, "no_content", "latest revision has no readable main-slot text")]
    record = parse_page(ctx.wiki, title, int(page.get("ns", 0)), text, ctx.ns, page_id=page.get("pageid"),
                        revision_id=rev.get("revid"), timestamp=rev.get("timestamp"))
    out: list[PageRecord | PageReject] = [record]
    if isinstance(record, PageRecord) and record.redirect_target is None:
        out += [PageRecord(ctx.wiki, str(r["title"]), int(r.get("ns", 0)), page_id=r.get("pageid"),
                           redirect_target=title) for r in page.get("redirects") or []]
    return out


def _plain(value: object) -> str | None:
    """Text of an extmetadata value: HTML tags stripped, entities decoded, whitespace collapsed."""
    if value is None:
        return None
    text = _WS.sub(" ", html.unescape(_TAG.sub(" ", str(value)))).strip()
    return text[:1000] or None


def _image_infos(ctx: _Ctx, names: Sequence[str]) -> tuple[dict[str, dict[str, Any]], str | None]:
    """``imageinfo`` per file name, from Commons first, then from the wiki itself (which also sees
    Commons files); plus the wiki's error, when its answer is missing."""
    found: dict[str, dict[str, Any]] = {}
    error: str | None = None
    for url in (ctx.cfg.commons_api_url, ctx.cfg.api_url):
        todo = [n for n in names if n not in found]
        error = None
        for start in range(0, len(todo), MAX_TITLES):
            chunk = todo[start:start + MAX_TITLES]
            try:
                pages = _query_pages(ctx.client, url, {**_IMAGEINFO,
                                                       "titles": "|".join(f"File:{n}" for n in chunk)})
            except _FetchFailed as err:
                log.warning("live: image metadata from %s failed: %s", url, err)
                error = str(err)
                continue
            for page in pages:
                if page.get("imageinfo"):
                    found[normalise_title(str(page["title"]).split(":", 1)[-1])] = page["imageinfo"][0]
    return found, error


def _download(ctx: _Ctx, url: str) -> bytes:
    """Image bytes, streamed and abandoned past ``MAX_IMAGE_BYTES``."""
    chunks: list[bytes] = []
    total = 0
    try:
        with ctx.client.stream("GET", url) as response:
            if response.status_code != 200:
                raise _FetchFailed(_http_detail(response.status_code, url))
            if int(response.headers.get("Content-Length") or 0) > MAX_IMAGE_BYTES:
                raise _FetchFailed(f"{response.headers['Content-Length']} bytes > limit {MAX_IMAGE_BYTES}",
                                   "too_large")
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > MAX_IMAGE_BYTES:
                    raise _FetchFailed(f"more than {MAX_IMAGE_BYTES} bytes at {url}", "too_large")
                chunks.append(chunk)
    except httpx.TransportError as err:
        raise _FetchFailed(f"{type(err).__name__} from {url}") from err
    return b"".join(chunks)


def _image_blob(ctx: _Ctx, name: str, info: dict[str, Any]) -> ImageBlob | PageReject:
    unit = f"File:{name}"
    url, size = info.get("url"), int(info.get("size") or 0)
    if not url:
        return PageReject(ctx.wiki, unit, "image_not_found", "imageinfo has no file URL")
    if size > MAX_IMAGE_BYTES:
        return PageReject(ctx.wiki, unit, "too_large", f"{size} bytes > limit {MAX_IMAGE_BYTES}")
    try:
        data = _download(ctx, str(url))
    except _FetchFailed as err:
        return PageReject(ctx.wiki, unit, err.reason or "image_fetch_failed", str(err))
    ext = info.get("extmetadata") or {}

    def meta(key: str) -> str | None:
        return _plain((ext.get(key) or {}).get("value"))

    return ImageBlob(ctx.wiki, ImageMeta(name, license=meta("LicenseShortName"), license_url=meta("LicenseUrl"),
                                         author=meta("Artist"), source_url=info.get("descriptionurl"),
                                         description=meta("ImageDescription")), data)


def _images(ctx: _Ctx, names: Sequence[str]) -> list[ImageBlob | PageReject]:
    infos, error = _image_infos(ctx, names)
    out: list[ImageBlob | PageReject] = []
    for name in names:
        info = infos.get(name)
        if info is None:
            reason, detail = ("image_fetch_failed", error) if error else ("image_not_found", "not on Commons or wiki")
            out.append(PageReject(ctx.wiki, f"File:{name}", reason, detail))
        else:
            out.append(_image_blob(ctx, name, info))
    return out


def _read_chunk(ctx: _Ctx, titles: Sequence[str]) -> list[Record]:
    out: list[Record] = []
    canonical: list[str] = []
    for title in titles:
        resolved = _resolve(ctx, title)
        if isinstance(resolved, PageReject):
            out.append(resolved)
        elif resolved not in ctx.seen_pages:
            ctx.seen_pages.add(resolved)
            canonical.append(resolved)
    pages, rejects = _fetch_wikitext(ctx, canonical) if canonical else ([], [])
    out += rejects
    image_names: list[str] = []
    for page in pages:
        for record in _page_records(ctx, page):
            out.append(record)
            if isinstance(record, PageRecord):
                name = next((i.file_name for i in record.images if i.role == "infobox"), None)
                if name and name not in ctx.seen_images:
                    ctx.seen_images.add(name)
                    image_names.append(name)
    if image_names:
        out += _images(ctx, image_names)
    return out


def read_live(cfg: SourceConfig, *, batch_pages: int, policy: RetryPolicy | None = None) -> Iterator[list[Record]]:
    """Batches of page records, redirect records, rejects and infobox images for ``cfg.titles``.

    A missing title is a ``not_found`` reject; a page whose requests keep failing is an
    ``http_error`` reject with the status; the rest of the titles go on.

    Raises:
        SourceError: the API host is unreachable (at the start, or stops answering mid-way).
    """
    policy = policy or DEFAULT_POLICY
    size = max(1, min(batch_pages, MAX_TITLES))
    with _clients(cfg, policy) as (client, wapi):
        ctx = _Ctx(cfg, client, wapi, _namespaces(client, cfg.api_url))
        titles = list(dict.fromkeys(cfg.titles))
        for start in range(0, len(titles), size):
            batch = _read_chunk(ctx, titles[start:start + size])
            log.info("live: %d/%d titles read from %s", min(start + size, len(titles)), len(titles),
                     cfg.api_url)
            if batch:
                yield batch


_RASTER_MIME = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def search_commons(cfg: SourceConfig, query: str, limit: int, *,
                   policy: RetryPolicy | None = None) -> list[ImageBlob | PageReject]:
    """Raster files on Commons whose page matches ``query`` (the File-namespace full-text search),
    best match first, downloaded with their licence metadata; at most ``limit``.

    One request: ``generator=search&gsrnamespace=6&gsrsearch=<query>&prop=imageinfo`` on
    ``cfg.commons_api_url`` (no continuation: the first ``limit`` hits are the candidates), then a
    streamed GET per file. Vector, PDF and video files are skipped (``unsupported_format``).

    Raises:
        SourceError: the search request itself failed after retries (the caller records it).
    """
    policy = policy or DEFAULT_POLICY
    params = {**_IMAGEINFO, "generator": "search", "gsrsearch": query, "gsrnamespace": "6",
              "gsrlimit": str(max(1, min(limit, MAX_TITLES)))}
    with _clients(cfg, policy) as (client, wapi):
        try:
            body = _api_get(client, cfg.commons_api_url, params)
        except _FetchFailed as err:
            raise SourceError(f"Commons search for {query!r} failed: {err}") from err
        ctx = _Ctx(cfg, client, wapi, Namespaces.english())
        pages = sorted(body.get("query", {}).get("pages", []), key=lambda p: int(p.get("index", 0)))
        out: list[ImageBlob | PageReject] = []
        for page in pages[:limit]:
            name = normalise_title(str(page.get("title", "")).split(":", 1)[-1])
            info = (page.get("imageinfo") or [{}])[0]
            if info.get("mime") not in _RASTER_MIME:
                out.append(PageReject(ctx.wiki, f"File:{name}", "unsupported_format", f"mime {info.get('mime')}"))
                continue
            out.append(_image_blob(ctx, name, info))
    return out
