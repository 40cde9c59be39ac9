"""The stage writers' ``unit_rejects`` table (read through the ``rejects`` view, which adds the verdict-table
drops): every dropped unit of a stage, with its reason."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pyarrow as pa

from warehouse.db import Connection

_FEW = 8


def upsert_rejects(con: Connection, stage: str, run_id: str,
                   rows: Sequence[tuple[str, str, str]]) -> int:
    """Write ``(unit_id, reason, detail)`` rows; a rerun overwrites the same units (a later row for the same
    unit wins). One bulk statement: a row-by-row ``executemany`` cost ≈ 3 ms a row (5.7 of the 8 s of path
    sampling on a 2,000-page corpus, see BENCHMARKS.md "Cost growth")."""
    if not rows:
        return 0
    latest = {unit: (reason, detail) for unit, reason, detail in rows}
    now = datetime.now(UTC).replace(tzinfo=None)       # the column is a plain TIMESTAMP, in UTC
    if len(latest) <= _FEW:     # registering an Arrow table costs more than a few single-row statements
        con.executemany("INSERT OR REPLACE INTO unit_rejects VALUES (?, ?, ?, ?, ?, ?)",
                        [[stage, unit, reason, detail, run_id, now] for unit, (reason, detail) in latest.items()])
        return len(rows)
    batch = pa.table({"stage": [stage] * len(latest), "unit_id": list(latest),
                      "reason": [r for r, _ in latest.values()], "detail": [d for _, d in latest.values()],
                      "run_id": [run_id] * len(latest),
                      "created_at": pa.array([now] * len(latest), pa.timestamp("us"))})
    con.register("_rejects_batch", batch)
    try:
        con.execute("INSERT OR REPLACE INTO unit_rejects (stage, unit_id, reason, detail, run_id, created_at) "
                    "SELECT stage, unit_id, reason, detail, run_id, created_at FROM _rejects_batch")
    finally:
        con.unregister("_rejects_batch")
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
