"""Read the link graph's node and edge arrays, and infoboxes, for path sampling."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from warehouse.db import Connection, load_query


def wikis(con: Connection) -> list[str]:
    return [str(r[0]) for r in con.execute(load_query("wikis")).fetchall()]


def load_nodes(con: Connection, wiki: str) -> pa.Table:
    """Columns: title, infobox_type, in_degree, is_disambiguation, image_min_side (title order)."""
    return con.sql(load_query("graph_nodes"), params={"wiki": wiki}).to_arrow_table()


def iter_links(con: Connection, wiki: str, *, texts: bool, batch_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
    """Every article→article link of ``wiki`` (redirects resolved), unordered, in batches of ``batch_rows``:
    src, dst (node ids in title order), ordinal (on the source page), and with ``texts`` anchor_text, sentence,
    infobox_key. Memory is one batch however large the wiki (DuckDB streams the join; nothing is aggregated)."""
    cols = "*" if texts else "src, dst, ordinal"
    query = f"SELECT {cols} FROM ({load_query('graph_links')})"  # noqa: S608 - fixed column lists
    reader: pa.RecordBatchReader = con.sql(query, params={"wiki": wiki}).to_arrow_reader(batch_rows)
    yield from reader


def load_link_texts(con: Connection, wiki: str, src_titles: Sequence[str],
                    ordinals: Sequence[int]) -> list[tuple[str, str, str | None]]:
    """(anchor_text, sentence, infobox_key) of the links ``(src_titles[i], ordinals[i])``, in that order."""
    if not src_titles:
        return []
    keys = pa.table({"i": pa.array(range(len(src_titles)), pa.int64()), "src_title": pa.array(src_titles, pa.string()),
                     "ordinal": pa.array(ordinals, pa.int32())})
    con.register("_link_keys", keys)
    try:
        rows = con.execute(
            "SELECT k.i, l.anchor_text, l.sentence, l.infobox_key FROM _link_keys k"
            " JOIN links l ON l.wiki = $wiki AND l.src_title = k.src_title AND l.ordinal = k.ordinal",
            {"wiki": wiki}).fetchall()
    finally:
        con.unregister("_link_keys")
    found = {int(i): (str(a or ""), str(s or ""), None if k is None else str(k)) for i, a, s, k in rows}
    missing = len(src_titles) - len(found)
    if missing:
        raise LookupError(f"{missing} of {len(src_titles)} links are not in the warehouse (rewritten during the walk?)")
    return [found[i] for i in range(len(src_titles))]


def load_infoboxes(con: Connection, wiki: str, titles: Sequence[str]) -> dict[str, dict[str, str]]:
    """Infobox key/values (in page order) for the given titles (those with an infobox).

    One hash join against the title list: a call reads ``pages`` once, at a cost that barely grows with the
    list (``list_contains`` on each page row took 2.8× as long for 9,000 titles over 10,000 pages)."""
    if not titles:
        return {}
    rows = con.execute(
        "SELECT p.title, map_entries(p.infobox) FROM pages p"
        " JOIN (SELECT DISTINCT unnest($titles::VARCHAR[]) AS title) k ON k.title = p.title"
        " WHERE p.wiki = $wiki AND p.infobox IS NOT NULL",
        {"wiki": wiki, "titles": list(titles)},
    ).fetchall()
    return {str(t): {str(e["key"]): str(e["value"]) for e in entries} for t, entries in rows}


def as_int64(col: pa.ChunkedArray) -> npt.NDArray[np.int64]:
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.int64)
