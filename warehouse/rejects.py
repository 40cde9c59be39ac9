"""The stage writers' ``unit_rejects`` table (read through the ``rejects`` view, which adds the verdict-table
drops): every dropped unit of a stage, with its reason."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from warehouse.db import Connection


def upsert_rejects(con: Connection, stage: str, run_id: str,
                   rows: Sequence[tuple[str, str, str]]) -> int:
    """Write ``(unit_id, reason, detail)`` rows; a rerun overwrites the same units."""
    if not rows:
        return 0
    now = datetime.now(UTC)
    con.executemany(
        "INSERT OR REPLACE INTO unit_rejects VALUES (?, ?, ?, ?, ?, ?)",
        [[stage, unit, reason, detail, run_id, now] for unit, reason, detail in rows],
    )
    return len(rows)


def clear_rejects(con: Connection, stage: str, unit_prefix: str) -> None:
    """Forget a stage's earlier rejects for units starting with ``unit_prefix`` (before a redo)."""
    con.execute("DELETE FROM unit_rejects WHERE stage = ? AND starts_with(unit_id, ?)", [stage, unit_prefix])


def reject_reason(con: Connection, stage: str, unit_id: str) -> str | None:
    """The recorded reason for one unit, if it was rejected."""
    row = con.execute("SELECT reason FROM unit_rejects WHERE stage = ? AND unit_id = ?", [stage, unit_id]).fetchone()
    return str(row[0]) if row else None


def delete_reject(con: Connection, stage: str, unit_id: str) -> None:
    """Forget one unit's reject (it has since succeeded)."""
    con.execute("DELETE FROM unit_rejects WHERE stage = ? AND unit_id = ?", [stage, unit_id])
