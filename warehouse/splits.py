"""Reads and writes of the SFT/RL group split (``012_item_splits.sql``, ``rl_holdout``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from warehouse.db import Connection

SplitRow = tuple[str, str, str, tuple[str, ...], str | None, str | None, tuple[str, ...]]
"""``(item_id, question, answer, aliases, image_sha256, wiki, path node titles)``."""

_ITEMS = """
SELECT v.item_id, v.question, v.answer, v.aliases, v.image_sha256, p.wiki,
       list_transform(p.nodes, lambda n: n.title)
FROM pool_items v
LEFT JOIN paths p ON p.path_id = json_extract_string(v.provenance, '$.path_id')
"""


def _rows(con: Connection, where: str, params: list[object]) -> list[SplitRow]:
    rows = con.execute(_ITEMS + where + " ORDER BY v.item_id", params).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2]), tuple(r[3] or ()), r[4], r[5], tuple(r[6] or ())) for r in rows]


def kept_split_rows(con: Connection, filter_hash: str) -> list[SplitRow]:
    """The items this filter config kept, with what the split groups them by."""
    return _rows(con, " WHERE v.item_id IN (SELECT item_id FROM filter_outcomes WHERE filter_hash = ?"
                      " AND status = 'kept')", [filter_hash])


def split_rows(con: Connection, item_ids: Sequence[str]) -> list[SplitRow]:
    return _rows(con, " WHERE list_contains(?, v.item_id)", [list(item_ids)]) if item_ids else []


def write_splits(con: Connection, run_id: str, synthesis_hash: str,
                 rows: Sequence[tuple[str, str, str, tuple[str, ...], str, int]]) -> int:
    """Replace this config's ``item_splits`` with ``(item_id, side, rule, shared, group_key, group_size)`` rows
    and sync ``rl_holdout`` to the RL side, atomically. Returns how many RL items are new in ``rl_holdout``."""
    now = datetime.now(UTC)
    rl = [r[0] for r in rows if r[1] == "rl"]
    con.execute("BEGIN TRANSACTION")
    try:
        before = con.execute("SELECT count(*) FROM rl_holdout WHERE synthesis_hash = ? AND list_contains(?, item_id)",
                             [synthesis_hash, rl]).fetchone()
        con.execute("DELETE FROM item_splits WHERE synthesis_hash = ?", [synthesis_hash])
        if rows:
            con.executemany("INSERT INTO item_splits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [[r[0], synthesis_hash, r[1], r[2], list(r[3]), r[4], r[5], run_id, now] for r in rows])
        con.execute("DELETE FROM rl_holdout WHERE synthesis_hash = ? AND NOT list_contains(?, item_id)",
                    [synthesis_hash, rl])
        if rl:
            con.executemany("INSERT OR IGNORE INTO rl_holdout VALUES (?, ?, ?, ?)",
                            [[i, synthesis_hash, run_id, now] for i in rl])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(rl) - int(before[0] if before else 0)


def item_rules(con: Connection, synthesis_hash: str, item_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """``item_id -> (side, rule)`` of this synthesis config's split, for the given items."""
    if not item_ids:
        return {}
    rows = con.execute("SELECT item_id, side, rule FROM item_splits WHERE synthesis_hash = ?"
                       " AND list_contains(?, item_id)", [synthesis_hash, list(item_ids)]).fetchall()
    return {str(r[0]): (str(r[1]), str(r[2])) for r in rows}
