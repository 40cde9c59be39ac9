"""Pages and what hangs off them (links, aliases, image references): batch upserts via Arrow."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from schemas.pages import PageRecord
from warehouse.db import Connection

_MAP = pa.map_(pa.string(), pa.string())


def page_body(page: PageRecord) -> str | None:
    """The page's body text as the search indexes quote it: the sentences that carry its links, in page order,
    each once, minus those already in its lead, joined by a blank line; None when there are none. (Migration 015
    fills rows written before it with the same text, in SQL.)"""
    lead = page.lead_text or ""
    seen: dict[str, None] = {}
    for link in page.links:
        if link.sentence and link.sentence not in seen and link.sentence not in lead:
            seen[link.sentence] = None
    return "\n\n".join(seen) if seen else None


def _pages_table(pages: Sequence[PageRecord], source_id: str) -> pa.Table:
    return pa.table(
        {
            "wiki": [p.wiki for p in pages],
            "title": [p.title for p in pages],
            "namespace": pa.array([p.namespace for p in pages], pa.int32()),
            "page_id": pa.array([p.page_id for p in pages], pa.int64()),
            "revision_id": pa.array([p.revision_id for p in pages], pa.int64()),
            "revision_timestamp": [p.revision_timestamp for p in pages],
            "redirect_target": [p.redirect_target for p in pages],
            "is_disambiguation": [p.is_disambiguation for p in pages],
            "lead_text": [p.lead_text for p in pages],
            "body_text": pa.array([page_body(p) for p in pages], pa.string()),
            "infobox_type": [p.infobox_type for p in pages],
            "infobox": pa.array([list(p.infobox.items()) for p in pages], _MAP),
            "source_id": [source_id] * len(pages),
        }
    )


def _children(pages: Sequence[PageRecord]) -> tuple[pa.Table, pa.Table, pa.Table]:
    links: dict[str, list[object]] = {k: [] for k in
                                      ("wiki", "src_title", "ordinal", "target", "anchor_text", "sentence",
                                       "infobox_key")}
    aliases: dict[str, list[object]] = {k: [] for k in ("wiki", "title", "alias", "kind")}
    images: dict[str, list[object]] = {k: [] for k in
                                       ("wiki", "title", "ordinal", "file_name", "role", "caption")}
    for p in pages:
        for i, link in enumerate(p.links):
            for k, v in zip(links, (p.wiki, p.title, i, link.target, link.anchor_text, link.sentence,
                                    link.infobox_key), strict=True):
                links[k].append(v)
        for alias, kind in dict.fromkeys(p.aliases):
            for k, a in zip(aliases, (p.wiki, p.title, alias, kind), strict=True):
                aliases[k].append(a)
        for i, img in enumerate(p.images):
            row: tuple[object, ...] = (p.wiki, p.title, i, img.file_name, img.role, img.caption)
            for k, x in zip(images, row, strict=True):
                images[k].append(x)
    return (
        pa.table({**links, "ordinal": pa.array(links["ordinal"], pa.int32())}),
        pa.table(aliases, schema=pa.schema([(k, pa.string()) for k in aliases])),
        pa.table({**images, "ordinal": pa.array(images["ordinal"], pa.int32())}),
    )


def upsert_pages(con: Connection, pages: Sequence[PageRecord], source_id: str) -> int:
    """Replace these pages (keyed by wiki + title) and everything that hangs off them, in one
    transaction. Later duplicates in the batch win. Returns the number of pages written."""
    latest = {(p.wiki, p.title): p for p in pages}
    batch = list(latest.values())
    if not batch:
        return 0
    page_tbl = _pages_table(batch, source_id)
    link_tbl, alias_tbl, image_tbl = _children(batch)
    keys = pa.table({"wiki": [p.wiki for p in batch], "title": [p.title for p in batch]})
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("_keys", keys)
        # A first ingest replaces nothing: skip the deletes, whose scans of ``links`` grow with the warehouse
        # (one per batch would make an ingest quadratic in its size).
        existing = con.execute("SELECT count(*) FROM pages p JOIN _keys k ON p.wiki = k.wiki AND p.title = k.title"
                               ).fetchall()[0][0]
        for table, col in (("links", "src_title"), ("aliases", "title"), ("image_refs", "title"),
                           ("pages", "title")) if existing else ():
            con.execute(
                f"DELETE FROM {table} WHERE (wiki, {col}) IN (SELECT (wiki, title) FROM _keys)"  # noqa: S608 - fixed identifiers
            )
        for name, tbl in (("pages", page_tbl), ("links", link_tbl), ("aliases", alias_tbl),
                          ("image_refs", image_tbl)):
            if tbl.num_rows:
                con.register("_batch", tbl)
                cols = ", ".join(tbl.column_names)
                con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM _batch")  # noqa: S608 - column names from our own Arrow schema
                con.unregister("_batch")
        con.unregister("_keys")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(batch)


def refresh_degrees(con: Connection) -> int:
    """Recompute ``page_degrees`` (distinct in-corpus neighbours, redirects resolved)."""
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM page_degrees")
    con.execute(
        """
        INSERT INTO page_degrees
        WITH art AS (SELECT wiki, title, row_number() OVER (PARTITION BY wiki ORDER BY title) AS id
                     FROM pages WHERE namespace = 0 AND redirect_target IS NULL),
        e AS (  -- distinct edges as id pairs: a hash table of integers, not of title strings
            SELECT DISTINCT s.wiki, s.id AS src, d.id AS dst FROM resolved_links r
            JOIN art s ON s.wiki = r.wiki AND s.title = r.src_title
            JOIN art d ON d.wiki = r.wiki AND d.title = r.dst_title
            WHERE s.id <> d.id
        )
        SELECT a.wiki, a.title, coalesce(i.n, 0)::INTEGER, coalesce(o.n, 0)::INTEGER
        FROM art a
        LEFT JOIN (SELECT wiki, dst AS id, count(*) AS n FROM e GROUP BY ALL) i ON i.wiki = a.wiki AND i.id = a.id
        LEFT JOIN (SELECT wiki, src AS id, count(*) AS n FROM e GROUP BY ALL) o ON o.wiki = a.wiki AND o.id = a.id
        """
    )
    con.execute("COMMIT")
    return int(con.execute("SELECT count(*) FROM page_degrees").fetchall()[0][0])
