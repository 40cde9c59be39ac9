"""Streaming reader for MediaWiki XML exports (``*.xml``, ``*.xml.bz2``, ``*.xml.gz``, pages-articles).

Memory stays bounded: the XML is fed to expat in 1 MiB chunks, each ``<page>`` is released as soon as
it is read, and at most ``2 × workers`` batches are in flight in the parser pool.

Bytes that are not valid UTF-8, and control characters XML forbids, are replaced by U+FFFD before
the XML parser sees them, so one bad title becomes one rejected page instead of a dead dump.
A dump that is cut off or corrupt raises ``SourceError`` naming the file and the last page read,
after every page before it has been handed on.
"""

from __future__ import annotations

import bz2
import codecs
import hashlib
import multiprocessing
import re
import xml.etree.ElementTree as ET
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from schemas.errors import SourceError
from schemas.pages import PageRecord, PageReject
from tasks.ingest.wikitext import Namespaces, parse_page

CHUNK = 1 << 20
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_DATE_IN_NAME = re.compile(r"(20\d{6})")


@dataclass(frozen=True, slots=True)
class RawPage:
    title: str
    namespace: int
    page_id: int | None
    revision_id: int | None
    timestamp: str | None
    redirect: str | None
    text: str


@dataclass(frozen=True, slots=True)
class SiteInfo:
    wiki: str
    namespaces: dict[str, int]


def _chunks(path: Path) -> Iterator[bytes]:
    """Decompressed bytes in chunks. bz2 and gzip go through raw decompressors (multi-stream aware) so
    a truncated file still yields everything decompressed before ``EOFError`` is raised (``GzipFile.read``
    would drop the partial chunk it was filling)."""
    lower = path.name.lower()
    if lower.endswith(".gz"):   # one zlib decompressor per member; small feeds: a corrupt span loses one feed
        yield from _decompressed(path, lambda: zlib.decompressobj(wbits=31), CHUNK >> 4)
    elif lower.endswith(".bz2"):    # concatenated streams (pbzip2-style dumps) each get a new decompressor
        yield from _decompressed(path, bz2.BZ2Decompressor, CHUNK)
    else:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk


def _decompressed(path: Path, new: Callable[[], Any], feed: int) -> Iterator[bytes]:
    """Feed ``path`` to decompressors from ``new`` (``decompress``/``eof``/``unused_data``), one per stream."""
    decomp, fed = new(), False
    with path.open("rb") as f:
        while raw := f.read(feed):
            while raw:
                if decomp.eof:
                    decomp, fed = new(), False
                try:
                    out = decomp.decompress(raw)
                except zlib.error as err:
                    raise OSError(f"corrupt gzip data: {err}") from err
                fed = True
                if out:
                    yield out
                raw = decomp.unused_data if decomp.eof else b""
    if fed and not decomp.eof:
        raise EOFError("compressed file ended before the end-of-stream marker was reached")


def fingerprint(path: Path) -> str:
    """Cheap content identity of a (possibly 20 GB) dump: size plus its first and last MiB."""
    h = hashlib.sha256()
    size = path.stat().st_size
    h.update(str(size).encode())
    with path.open("rb") as f:
        h.update(f.read(CHUNK))
        if size > CHUNK:
            f.seek(max(size - CHUNK, CHUNK))
            h.update(f.read(CHUNK))
    return h.hexdigest()[:24]


def dump_date(path: Path) -> str | None:
    m = _DATE_IN_NAME.search(path.name)
    return m.group(1) if m else None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(el: ET.Element, name: str) -> str | None:
    for child in el:
        if _local(child.tag) == name:
            return child.text
    return None


def _to_int(v: str | None) -> int | None:
    return int(v) if v and v.strip().isdigit() else None


def _page(el: ET.Element) -> RawPage:
    title = _child_text(el, "title") or ""
    redirect = None
    rev_id = timestamp = text = None
    for child in el:
        tag = _local(child.tag)
        if tag == "redirect":
            redirect = child.get("title")
        elif tag == "revision":
            rev_id = _child_text(child, "id")
            timestamp = _child_text(child, "timestamp")
            text = _child_text(child, "text")
    return RawPage(title, _to_int(_child_text(el, "ns")) or 0, _to_int(_child_text(el, "id")),
                   _to_int(rev_id), timestamp, redirect, text or "")


def _siteinfo(el: ET.Element) -> SiteInfo:
    wiki = _child_text(el, "dbname") or "enwiki"
    names = dict(Namespaces.english().by_name)
    for child in el:
        if _local(child.tag) == "namespaces":
            for ns in child:
                key = ns.get("key", "")
                if key.lstrip("-").isdigit() and int(key) != 0 and ns.text:
                    names[ns.text.strip().lower().replace("_", " ")] = int(key)
    return SiteInfo(wiki, names)


def _events(path: Path) -> Iterator[tuple[str, ET.Element]]:
    """``(event, element)`` pairs from the sanitised byte stream."""
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for chunk in _chunks(path):
        parser.feed(_ILLEGAL_XML.sub("\ufffd", decoder.decode(chunk)))
        yield from cast(Iterator[tuple[str, ET.Element]], parser.read_events())
    parser.feed(_ILLEGAL_XML.sub("\ufffd", decoder.decode(b"", final=True)))
    parser.close()
    yield from cast(Iterator[tuple[str, ET.Element]], parser.read_events())


def iter_dump(path: Path) -> Iterator[SiteInfo | RawPage]:
    """Yield the ``SiteInfo`` then every page, in file order.

    Raises:
        SourceError: unreadable, truncated or malformed file; the message names the file and the
            last page read completely.
    """
    root: ET.Element | None = None
    last, count = "(none)", 0
    site: SiteInfo | None = None
    try:
        for event, el in _events(path):
            if event == "start":
                root = el if root is None else root
                continue
            tag = _local(el.tag)
            if tag == "siteinfo":
                site = _siteinfo(el)
                yield site
            elif tag == "page":
                if site is None:
                    site = SiteInfo("enwiki", Namespaces.english().by_name)
                    yield site
                page = _page(el)
                last, count = page.title, count + 1
                yield page
                assert root is not None
                root.clear()  # release the page: memory stays flat over a 20 GB dump
    except (EOFError, OSError) as err:
        raise SourceError(
            f"{path}: truncated or corrupt file ({err}) after {count} pages; last page read: {last!r}"
        ) from err
    except ET.ParseError as err:
        raise SourceError(
            f"{path}: malformed XML ({err}) after {count} pages; last page read: {last!r}"
        ) from err
    if root is None or _local(root.tag) != "mediawiki":
        raise SourceError(f"{path}: not a MediaWiki XML export (root element missing or wrong)")


ParsedBatch = list[PageRecord | PageReject]


def _parse_batch(wiki: str, namespaces: dict[str, int], pages: list[RawPage]) -> ParsedBatch:
    ns = Namespaces(namespaces)
    return [
        parse_page(wiki, p.title, p.namespace, p.text, ns, page_id=p.page_id, revision_id=p.revision_id,
                   timestamp=p.timestamp, redirect=p.redirect)
        for p in pages
    ]


def _batches(items: Iterator[SiteInfo | RawPage], size: int) -> Iterator[tuple[SiteInfo, list[RawPage]]]:
    """Group pages into batches; on a source error, hand on the partial batch before re-raising."""
    site = SiteInfo("enwiki", Namespaces.english().by_name)
    batch: list[RawPage] = []
    try:
        for item in items:
            if isinstance(item, SiteInfo):
                site = item
                continue
            batch.append(item)
            if len(batch) >= size:
                yield site, batch
                batch = []
    except SourceError:
        if batch:
            yield site, batch
        raise
    if batch:
        yield site, batch


def parse_dump(path: Path, *, workers: int, batch_pages: int) -> Iterator[tuple[str, ParsedBatch]]:
    """Parse a dump into ``(wiki, batch)`` tuples in file order, with ``workers`` processes.

    Raises:
        SourceError: as ``iter_dump``, after every batch read before the fault has been yielded.
    """
    batches = _batches(iter_dump(path), batch_pages)
    if workers <= 1:
        for site, raw in batches:
            yield site.wiki, _parse_batch(site.wiki, site.namespaces, raw)
        return
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending: deque[tuple[str, Future[ParsedBatch]]] = deque()
        try:
            for site, raw in batches:
                pending.append((site.wiki, pool.submit(_parse_batch, site.wiki, site.namespaces, raw)))
                while len(pending) >= 2 * workers:
                    wiki, fut = pending.popleft()
                    yield wiki, fut.result()
        except SourceError:
            while pending:  # everything read before the fault still gets committed
                wiki, fut = pending.popleft()
                yield wiki, fut.result()
            raise
        while pending:
            wiki, fut = pending.popleft()
            yield wiki, fut.result()
