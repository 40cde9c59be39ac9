"""Reads and writes of the VQA pool: ``vqa_items`` in; ``pool_items``, ``pool_rejects``, ``enhancements`` and
the ``image_blobs`` rows of external and degraded images out.

The pool is a function of its inputs (``vqa_items``, the source files, the benchmarks, the config), so
``replace_pool`` swaps the whole pool in one transaction: a rerun leaves exactly the same rows.
Enhancements are upserted per item id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import pyarrow as pa

from schemas.pool import WIKI_SOURCE, Degradation, PoolItem, PoolReject
from warehouse.db import Connection

BlobRow = tuple[str, str, int, int, int, str]
"""An ``image_blobs`` row: (sha256, format, width, height, size_bytes, path relative to the data dir)."""

_WIKI_ITEMS = """
SELECT v.item_id, v.question, v.answer, v.image_sha256, v.image_path,
       list_sort(list_distinct(list_concat(v.answer_aliases, coalesce((SELECT list(a.alias) FROM all_aliases a
         WHERE a.wiki = v.wiki AND a.title = v.answer AND a.alias <> v.answer), [])))) AS aliases,
       v.path_id, v.wiki, v.domain, v.hops, v.answer_attribute, v.questions_hash, v.method,
       v.image_file_name, v.image_license, v.image_author, v.image_source_url, v.dump_date
FROM vqa_items v ORDER BY v.item_id
"""
_UPSERT_ITEMS = """
INSERT OR REPLACE INTO pool_items
SELECT item_id, run_id, source, question, answer, aliases, image_sha256, image_url, provenance, created_at
FROM _pool_rows
"""
_UPSERT_REJECTS = """
INSERT OR REPLACE INTO pool_rejects
SELECT item_id, run_id, source, stage, reason, benchmark, matched_id, matched_text, distance, detail, created_at
FROM _pool_rows
"""
_UPSERT_ENHANCEMENTS = """
INSERT OR REPLACE INTO enhancements
SELECT item_id, run_id, kind, params, original_sha256, degraded_sha256, width, height, size_bytes, created_at
FROM _pool_rows
"""
_PROVENANCE = ("path_id", "wiki", "domain", "hops", "answer_attribute", "questions_hash", "method",
               "image_file_name", "image_license", "image_author", "image_source_url", "dump_date")


def wiki_items(con: Connection) -> list[tuple[PoolItem, str | None]]:
    """Every accepted ``vqa_items`` row as a pool item (same ``item_id``; ``path_id`` and licence in
    ``provenance``; aliases of the answer when it is an article title), with its image's relative path."""
    out = []
    for r in con.execute(_WIKI_ITEMS).fetchall():
        prov = {k: (v if v is None or isinstance(v, int) else str(v)) for k, v in zip(_PROVENANCE, r[6:], strict=True)}
        item = PoolItem(item_id=str(r[0]), source=WIKI_SOURCE, question=str(r[1]), answer=str(r[2]),
                        aliases=tuple(str(a) for a in r[5] or ()), image_sha256=r[3], provenance=prov)
        out.append((item, None if r[4] is None else str(r[4])))
    return out


def _insert(con: Connection, sql: str, table: pa.Table) -> int:
    """Run ``sql`` (which reads the registered view ``_pool_rows``) over ``table``: one statement for any
    number of rows (``executemany`` costs ~10 ms a row on DuckDB)."""
    if not table.num_rows:
        return 0
    con.register("_pool_rows", table)
    try:
        con.execute(sql)
    finally:
        con.unregister("_pool_rows")
    return int(table.num_rows)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def upsert_blobs(con: Connection, blobs: Sequence[BlobRow]) -> int:
    """Add content-addressed image rows (an existing sha256 is left as it is)."""
    unique = list({b[0]: b for b in blobs}.values())
    cols = ("sha256", "format", "width", "height", "size_bytes", "path")
    table = pa.table({c: [b[i] for b in unique] for i, c in enumerate(cols)})
    return _insert(con, "INSERT OR IGNORE INTO image_blobs SELECT sha256, format, width, height, size_bytes, path"
                        " FROM _pool_rows", table)


def upsert_pool_items(con: Connection, run_id: str, items: Sequence[PoolItem]) -> int:
    """Upsert items on ``item_id`` (a later duplicate in ``items`` wins)."""
    rows = list({i.item_id: i for i in items}.values())
    table = pa.table({
        "item_id": [i.item_id for i in rows], "source": [i.source for i in rows],
        "question": [i.question for i in rows], "answer": [i.answer for i in rows],
        "aliases": pa.array([list(i.aliases) for i in rows], pa.list_(pa.string())),
        "image_sha256": pa.array([i.image_sha256 for i in rows], pa.string()),
        "image_url": pa.array([i.image_url for i in rows], pa.string()),
        "provenance": [json.dumps(i.provenance, sort_keys=True) for i in rows],
    })
    return _insert(con, _UPSERT_ITEMS, table.append_column("run_id", pa.array([run_id] * len(rows), pa.string()))
                   .append_column("created_at", pa.array([_now()] * len(rows), pa.timestamp("us"))))


def upsert_pool_rejects(con: Connection, run_id: str, rejects: Sequence[PoolReject]) -> int:
    """Upsert rejects on ``item_id`` (a later duplicate in ``rejects`` wins)."""
    rows = list({r.item_id: r for r in rejects}.values())
    text = ("item_id", "source", "stage", "reason", "benchmark", "matched_id", "matched_text")
    columns: dict[str, pa.Array] = {c: pa.array([getattr(r, c) for r in rows], pa.string()) for c in text}
    columns["distance"] = pa.array([r.distance for r in rows], pa.float64())
    columns["detail"] = pa.array([r.detail or None for r in rows], pa.string())
    columns["run_id"] = pa.array([run_id] * len(rows), pa.string())
    columns["created_at"] = pa.array([_now()] * len(rows), pa.timestamp("us"))
    return _insert(con, _UPSERT_REJECTS, pa.table(columns))


def replace_pool(con: Connection, run_id: str, items: Sequence[PoolItem], rejects: Sequence[PoolReject],
                 blobs: Sequence[BlobRow]) -> None:
    """Replace the pool (items and rejects) with this build's, atomically; add the new image rows."""
    con.execute("BEGIN TRANSACTION")
    try:
        upsert_blobs(con, blobs)
        con.execute("DELETE FROM pool_items")
        con.execute("DELETE FROM pool_rejects")
        upsert_pool_items(con, run_id, items)
        upsert_pool_rejects(con, run_id, rejects)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def pool_images(con: Connection, item_ids: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
    """``item_id → (image sha256, image path relative to the data dir)`` for the pool items among ``item_ids``
    (both ``None`` for a URL-only item; ids not in the pool are absent)."""
    con.register("_pool_ids", pa.table({"item_id": pa.array(list(item_ids), pa.string())}))
    try:
        rows = con.execute(
            "SELECT p.item_id, p.image_sha256, b.path FROM pool_items p"
            " LEFT JOIN image_blobs b ON b.sha256 = p.image_sha256"
            " WHERE p.item_id IN (SELECT item_id FROM _pool_ids)").fetchall()
    finally:
        con.unregister("_pool_ids")
    return {str(r[0]): (r[1], r[2]) for r in rows}


def replace_enhancements(con: Connection, run_id: str, item_ids: Sequence[str], rows: Sequence[Degradation],
                         blobs: Sequence[BlobRow]) -> int:
    """Make ``rows`` the enhancements among ``item_ids`` (an id of ``item_ids`` not in ``rows`` loses its
    earlier enhancement; ids outside ``item_ids`` are untouched), with the degraded images' blob rows."""
    con.execute("BEGIN TRANSACTION")
    try:
        upsert_blobs(con, blobs)
        con.register("_pool_ids", pa.table({"item_id": pa.array(list(item_ids), pa.string())}))
        try:
            con.execute("DELETE FROM enhancements WHERE item_id IN (SELECT item_id FROM _pool_ids)")
        finally:
            con.unregister("_pool_ids")
        latest = list({d.item_id: d for d in rows}.values())
        _insert(con, _UPSERT_ENHANCEMENTS, pa.table({
            "item_id": [d.item_id for d in latest], "run_id": [run_id] * len(latest),
            "kind": [d.kind for d in latest], "params": [json.dumps(d.params, sort_keys=True) for d in latest],
            "original_sha256": [d.original_sha256 for d in latest],
            "degraded_sha256": [d.degraded_sha256 for d in latest],
            "width": pa.array([d.width for d in latest], pa.int32()),
            "height": pa.array([d.height for d in latest], pa.int32()),
            "size_bytes": pa.array([d.size_bytes for d in latest], pa.int64()),
            "created_at": pa.array([_now()] * len(latest), pa.timestamp("us"))}))
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(rows)
