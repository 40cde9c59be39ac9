"""The ``sources`` table: one row per ingested dump/ZIM/title list with progress and failure."""

from __future__ import annotations

from datetime import UTC, datetime

from warehouse.db import Connection


def upsert_source(con: Connection, source_id: str, kind: str, uri: str, run_id: str) -> None:
    con.execute(
        "INSERT OR REPLACE INTO sources (source_id, kind, uri, status, pages_committed, rejects, run_id,"
        " updated_at) VALUES (?, ?, ?, 'running', 0, 0, ?, ?)",
        [source_id, kind, uri, run_id, datetime.now(UTC)],
    )


def update_source(con: Connection, source_id: str, *, status: str, pages_committed: int, rejects: int,
                  last_page: str | None, wiki: str | None = None, dump_date: str | None = None,
                  error: str | None = None) -> None:
    con.execute(
        "UPDATE sources SET status = ?, pages_committed = ?, rejects = ?, last_page = ?,"
        " wiki = coalesce(?, wiki), dump_date = coalesce(?, dump_date), error = ?, updated_at = ?"
        " WHERE source_id = ?",
        [status, pages_committed, rejects, last_page, wiki, dump_date, error, datetime.now(UTC), source_id],
    )


def completed_ingest(con: Connection, source_id: str) -> tuple[str | None, int] | None:
    """``(ingest_key, pages_committed)`` of a completed ingest of ``source_id``, else None."""
    row = con.execute("SELECT ingest_key, pages_committed FROM sources WHERE source_id = ? AND status = 'completed'",
                      [source_id]).fetchone()
    return (None if row[0] is None else str(row[0]), int(row[1])) if row else None


def set_ingest_key(con: Connection, source_id: str, ingest_key: str | None) -> None:
    """Record what shaped a completed ingest, so a rerun with the same file and key can skip it."""
    con.execute("UPDATE sources SET ingest_key = ? WHERE source_id = ?", [ingest_key, source_id])
