"""Compare two warehouses by content: the same rows in every table, bookkeeping left out.

"Equal" means: the same base tables (views are derived, so they follow), the same columns, and for every
table outside run bookkeeping the same *multiset* of rows once the columns that record when, by which
run or how fast a row was written are dropped. Used to show that a merged sharded run equals a
single-worker run, and that a crashed-and-resumed run equals an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from warehouse.db import Connection, connect

BOOKKEEPING_TABLES = frozenset({"runs", "stage_stats", "schema_migrations"})
"""Tables about runs rather than data: they differ between any two runs and are never compared."""

VOLATILE_COLUMNS = frozenset({"run_id", "created_at", "updated_at", "started_at", "finished_at", "applied_at",
                              "last_used_at", "hits", "latency_ms"})
"""Columns saying when, in which run or how fast a row was written (or how often a memo entry was hit)."""

RUN_DERIVED_COLUMNS: dict[str, frozenset[str]] = {
    "exports": frozenset({"export_id", "folder", "bytes"}),
    "export_rows": frozenset({"export_id"}),
    "trajectory_turns": frozenset({"cached"}),   # served from tool_calls or not: a resumed run finds what the
}                                                # killed run cached; the observation itself is compared
"""Columns that follow from run ids or the data dir's location: an export's id hashes its rows' provenance,
which names the runs that wrote them, and so do the bytes of its parquet files; ``folder`` is an absolute
path (its name is compared in ``exports.name``). Which rows went to which config, split and shard file
(``export_rows``) and the counts (``exports``) are still compared."""

_SAMPLE = 3


def quote_ident(name: str) -> str:
    """A catalog identifier (database, table, column) as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def table_columns(con: Connection, db: str) -> dict[str, list[str]]:
    """``table -> column names`` (in order) of the main schema of attached database ``db``."""
    rows = con.execute(
        "SELECT t.table_name, c.column_name FROM duckdb_tables() t "
        "JOIN duckdb_columns() c ON c.database_name = t.database_name AND c.schema_name = t.schema_name "
        "AND c.table_name = t.table_name WHERE t.database_name = ? AND t.schema_name = 'main' "
        "ORDER BY t.table_oid, c.column_index", [db]).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(str(table), []).append(str(column))
    return out


def compared_columns(table: str, columns: Iterable[str]) -> list[str]:
    """The columns of ``table`` that carry data (volatile and run-derived columns removed), in order."""
    skip = VOLATILE_COLUMNS | RUN_DERIVED_COLUMNS.get(table, frozenset())
    return [c for c in columns if c not in skip]


def _only_in(con: Connection, table: str, cols: list[str], left: str, right: str) -> tuple[int, list[str]]:
    sel = ", ".join(quote_ident(c) for c in cols)
    t = quote_ident(table)
    diff = (f"SELECT {sel} FROM {quote_ident(left)}.{t} EXCEPT ALL "  # noqa: S608 - catalog identifiers, quoted
            f"SELECT {sel} FROM {quote_ident(right)}.{t}")
    n = con.execute(f"SELECT count(*) FROM ({diff})").fetchall()[0][0]  # noqa: S608 - built above from identifiers
    sample = [repr(r)[:200] for r in con.execute(f"{diff} LIMIT {_SAMPLE}").fetchall()] if n else []
    return int(n), sample


def diff_warehouses(a: Path, b: Path) -> list[str]:
    """Every difference in content between warehouses ``a`` and ``b``, one line each; empty when equal.

    Both files are opened read-only. Tables in ``BOOKKEEPING_TABLES`` and the ``VOLATILE_COLUMNS`` (and
    ``RUN_DERIVED_COLUMNS``) are left out; rows are compared as multisets, so a duplicated row is a difference.

    Raises:
        WarehouseError: a file is missing or cannot be opened.
    """
    with connect(a, read_only=True) as con:
        con.execute(f"ATTACH {_literal(b)} AS cmp_b (READ_ONLY)")
        try:
            left_db = str(con.execute("SELECT current_database()").fetchall()[0][0])
            return _diff(con, left_db, "cmp_b")
        finally:
            con.execute("DETACH cmp_b")


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _diff(con: Connection, left: str, right: str) -> list[str]:
    ta, tb = table_columns(con, left), table_columns(con, right)
    problems = [f"table {t}: only in a" for t in ta if t not in tb]
    problems += [f"table {t}: only in b" for t in tb if t not in ta]
    for table, cols_a in ta.items():
        if table in BOOKKEEPING_TABLES or table not in tb:
            continue
        if cols_a != tb[table]:
            problems.append(f"table {table}: columns differ: a has {cols_a}, b has {tb[table]}")
            continue
        cols = compared_columns(table, cols_a)
        n_a, rows_a = _only_in(con, table, cols, left, right)
        n_b, rows_b = _only_in(con, table, cols, right, left)
        if n_a or n_b:
            problems.append(f"table {table}: {n_a} row(s) only in a {rows_a}, {n_b} row(s) only in b {rows_b}")
    return problems

