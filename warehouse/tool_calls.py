"""Reads and writes of the tool environment: the ``tool_calls`` memo, and the pages, aliases and images
its local search indexes are built from.

The memo stores successful tool results by request hash (``toolenv.cache.request_key``); the
``ToolCache`` adapter over these functions lives in ``tasks/tooling.py`` (warehouse and toolenv do not
import each other). Errors are never stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from warehouse.db import Connection


@dataclass(frozen=True, slots=True)
class ToolCallEntry:
    """One memoised tool result."""

    response: str
    images: tuple[bytes, ...]
    dropped_by_guard: int
    latency_ms: float
    tool: str | None
    hits: int


@dataclass(frozen=True, slots=True)
class ImageRow:
    """One (image, page) pair with its bytes' path relative to the data directory."""

    wiki: str
    sha256: str
    path: str
    title: str
    caption: str


def get_tool_call(con: Connection, request_hash: str, *, count_hit: bool = True,
                  now: datetime | None = None) -> ToolCallEntry | None:
    """The memoised result for ``request_hash``, or None. A hit bumps ``hits`` and ``last_used_at``
    unless ``count_hit`` is False (read-only connections)."""
    rows = con.execute(
        "SELECT response, images, dropped_by_guard, latency_ms, tool, hits FROM tool_calls WHERE request_hash = ?",
        [request_hash]).fetchall()
    if not rows:
        return None
    text, images, dropped, latency, tool, hits = rows[0]
    if count_hit:
        con.execute("UPDATE tool_calls SET hits = hits + 1, last_used_at = ? WHERE request_hash = ?",
                    [now or datetime.now(UTC), request_hash])
        hits += 1
    return ToolCallEntry(str(text), tuple(bytes(b) for b in images or ()), int(dropped), float(latency),
                         None if tool is None else str(tool), int(hits))


def put_tool_call(con: Connection, request_hash: str, *, tool: str | None, response: str,
                  images: Sequence[bytes], dropped_by_guard: int, latency_ms: float,
                  now: datetime | None = None) -> bool:
    """Store a successful result; the first entry for a hash wins (same request, same result).
    Returns True when a row was written."""
    written = con.execute(
        "INSERT INTO tool_calls (request_hash, tool, response, images, dropped_by_guard, latency_ms, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_hash) DO NOTHING RETURNING request_hash",
        [request_hash, tool, response, list(images), dropped_by_guard, latency_ms, now or datetime.now(UTC)]).fetchall()
    return bool(written)


def tool_call_counts(con: Connection) -> list[tuple[str | None, int, int]]:
    """``(tool, entries, hits)`` per tool, most entries first."""
    rows = con.execute("SELECT tool, count(*), coalesce(sum(hits), 0) FROM tool_calls GROUP BY tool"
                       " ORDER BY 2 DESC, 1").fetchall()
    return [(None if t is None else str(t), int(n), int(h)) for t, n, h in rows]


# ---------------------------------------------------------------- what the search indexes are built from
def wikis(con: Connection) -> list[str]:
    """Every wiki with at least one article."""
    rows = con.execute("SELECT DISTINCT wiki FROM pages WHERE namespace = 0 AND redirect_target IS NULL"
                       " ORDER BY wiki").fetchall()
    return [str(r[0]) for r in rows]


def text_corpus_digest(con: Connection, wiki: str | None) -> str:
    """A content digest of everything the text index holds for ``wiki`` (None: every wiki): article title,
    lead, infobox and body text (``pages.body_text``, the link sentences a document quotes), and every alias.
    Order-independent sums of MD5s, computed in SQL, so checking whether a saved index is current reads no text
    into Python."""
    pages = con.execute(
        "SELECT count(*), coalesce(sum(md5_number_lower(concat_ws(chr(31), wiki, title, coalesce(lead_text, ''),"
        " coalesce(infobox::VARCHAR, ''), coalesce(body_text, '')))::HUGEINT), 0) FROM pages"
        " WHERE namespace = 0 AND redirect_target IS NULL AND (?::VARCHAR IS NULL OR wiki = ?)",
        [wiki, wiki]).fetchall()[0]
    aliases = con.execute(
        "SELECT count(*), coalesce(sum(md5_number_lower(concat_ws(chr(31), wiki, title, alias, kind))::HUGEINT), 0)"
        " FROM all_aliases WHERE ?::VARCHAR IS NULL OR wiki = ?", [wiki, wiki]).fetchall()[0]
    return f"{pages[0]}:{pages[1]}:{aliases[0]}:{aliases[1]}"


def image_rows(con: Connection, wiki: str | None) -> list[ImageRow]:
    """Every (image with bytes, page showing it) pair of ``wiki`` (None: every wiki), in page order."""
    rows = con.execute(
        "SELECT r.wiki, f.sha256, b.path, r.title, coalesce(r.caption, '') FROM image_refs r"
        " JOIN image_files f ON f.wiki = r.wiki AND f.file_name = r.file_name"
        " JOIN image_blobs b ON b.sha256 = f.sha256"
        " WHERE ?::VARCHAR IS NULL OR r.wiki = ? ORDER BY r.wiki, r.title, r.ordinal", [wiki, wiki]).fetchall()
    return [ImageRow(str(w), str(s), str(p), str(t), str(c)) for w, s, p, t, c in rows]
