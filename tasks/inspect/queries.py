"""Read-only inspection of the warehouse: table counts, named queries, ad-hoc SQL.

Works while a run is writing: ``warehouse.db.snapshot`` falls back to a copy taken now.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from warehouse import db

Rows = tuple[list[str], list[tuple[Any, ...]]]


def tables(warehouse: Path) -> Rows:
    with db.snapshot(warehouse) as con:
        return ["name", "kind", "rows"], [tuple(r) for r in db.table_counts(con)]


def named(warehouse: Path, name: str, params: dict[str, Any] | Sequence[Any] | None = None) -> Rows:
    with db.snapshot(warehouse) as con:
        return db.run_query(con, name, params)


def query_names() -> list[str]:
    return db.query_names()


def sql(warehouse: Path, text: str) -> Rows:
    """Run one statement on a read-only connection (writes fail with DuckDB's own error)."""
    with db.snapshot(warehouse) as con:
        return db.run_sql(con, text)


def item(warehouse: Path, item_id: str) -> list[tuple[str, Rows]]:
    """Full provenance of one item (or trajectory), section by section."""
    from warehouse.items import item_sections

    with db.snapshot(warehouse) as con:
        return item_sections(con, item_id)


def item_with_turns(warehouse: Path, item_id: str
                    ) -> tuple[list[tuple[str, Rows]], dict[str, list[tuple[int, str, str, str | None, str | None,
                                                                           str | None]]]]:
    """``item`` plus every message of the item's trajectories (for the compact tree)."""
    from warehouse.items import item_sections, trajectory_turns

    with db.snapshot(warehouse) as con:
        sections = item_sections(con, item_id)
        ids = [str(r[0]) for name, (_, rows) in sections if name == "trajectories" for r in rows]
        return sections, trajectory_turns(con, ids)


def frame(name: str, data_dir: Path | str = "var", params: dict[str, Any] | Sequence[Any] | None = None
          ) -> pl.DataFrame:
    """A named query or a table/view of ``<data_dir>/warehouse.duckdb`` as a polars DataFrame, read from a
    read-only snapshot (safe while a run writes)::

        from tasks.inspect.queries import frame
        frame("funnel")                    # warehouse/sql/queries/funnel.sql
        frame("accepted_trajectories")     # any table or view
    """
    with db.snapshot(Path(data_dir) / "warehouse.duckdb") as con:
        out = pl.from_arrow(db.read_arrow(con, name, params))     # DuckDB → Arrow → polars
    assert isinstance(out, pl.DataFrame)
    return out


def latest_export(warehouse: Path) -> tuple[str, str] | None:
    """``(name, folder)`` of the newest export, if the warehouse exists and has one."""
    if not warehouse.exists():
        return None
    from warehouse.items import latest_export as latest

    with db.snapshot(warehouse) as con:
        return latest(con)
