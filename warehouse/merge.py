"""Union a shard's warehouse into another (``searchvl merge``).

Every base table is copied in creation (= migration) order with ``INSERT OR IGNORE`` on its primary key,
so a row every shard wrote alike (pages, links, images: shards ingested the same sources, or were seeded
from one ingest, whose tables ``merge_from(shared=...)`` then skips) lands once,
rows only one shard wrote (its paths, questions, seed rejects) land as they are, ``runs`` and
``stage_stats`` keep one row per shard run, and merging the same shard twice changes nothing.

A key two shards wrote with different data (volatile columns aside, see ``warehouse.compare``) means the
shards did not run the same config on the same sources; the merge of that shard is rolled back and
raises. The memo tables are the exception: a request that failed in one shard and succeeded in another
keeps the first row seen, and a failed call is retried by the next stage that needs it anyway.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from schemas.errors import WarehouseError
from warehouse.compare import compared_columns
from warehouse.compare import quote_ident as _q
from warehouse.compare import table_columns as _columns
from warehouse.db import Connection

MEMO_TABLES = frozenset({"llm_calls", "tool_calls"})
_SKIP = frozenset({"schema_migrations"})


@dataclass
class MergeResult:
    """What merging one shard added: rows inserted per table, memo keys whose rows differed, and the
    relative paths (under the shard's data dir) of the image files its ``image_blobs`` rows name."""

    inserted: dict[str, int] = field(default_factory=dict)
    memo_conflicts: dict[str, int] = field(default_factory=dict)
    blob_paths: list[str] = field(default_factory=list)


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _versions(con: Connection, db: str) -> list[int]:
    rows = con.execute(f"SELECT version FROM {_q(db)}.schema_migrations ORDER BY version").fetchall()  # noqa: S608 - alias
    return [int(r[0]) for r in rows]


def _count(con: Connection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


@contextmanager
def attached(con: Connection, path: Path, alias: str) -> Iterator[str]:
    """``path`` attached read-only as ``alias`` for the block."""
    if not path.exists():
        raise WarehouseError(f"no warehouse at {path}")
    try:
        con.execute(f"ATTACH {_literal(path)} AS {_q(alias)} (READ_ONLY)")
    except duckdb.Error as err:
        raise WarehouseError(f"cannot open shard warehouse {path}: {err}") from err
    try:
        yield alias
    finally:
        con.execute(f"DETACH {_q(alias)}")


def merge_from(con: Connection, source: Path, alias: str = "shard", *,
               shared: frozenset[str] = frozenset()) -> MergeResult:
    """Insert every row of the warehouse file ``source`` that ``con``'s warehouse lacks (one transaction).

    ``shared`` names tables the shard received from the target's own ingest and never wrote (see
    ``tasks.shards.launch.seed_shard``): they are left out instead of compared row by row.

    Raises:
        WarehouseError: ``source`` is missing, was made by other migrations, lacks a table or column, or
            holds a different row under a key ``con`` already has (outside the memo tables).
    """
    target = str(con.execute("SELECT current_database()").fetchall()[0][0])
    with attached(con, source, alias):
        mine, theirs = _versions(con, target), _versions(con, alias)
        if mine != theirs:
            raise WarehouseError(f"shard warehouse {source} has migrations {theirs}, the target {mine}; "
                                 "open both with the same searchvl version first")
        cols_t, cols_s = _columns(con, target), _columns(con, alias)
        result = MergeResult()
        con.execute("BEGIN TRANSACTION")
        try:
            for table, cols in cols_t.items():
                if table in _SKIP or table in shared:
                    continue
                if cols_s.get(table) != cols:
                    raise WarehouseError(f"shard warehouse {source}: table {table} has columns "
                                         f"{cols_s.get(table)}, the target {cols}")
                result.inserted[table], conflicts = _merge_table(con, table, cols, target, alias)
                if conflicts and table in MEMO_TABLES:
                    result.memo_conflicts[table] = conflicts
                elif conflicts:
                    raise WarehouseError(f"shard warehouse {source}: {conflicts} row(s) of {table} differ from "
                                         "rows already merged under the same key; were the shards run with "
                                         "the same config and sources?")
            result.blob_paths = [str(r[0]) for r in con.execute(
                f"SELECT path FROM {_q(alias)}.image_blobs ORDER BY path").fetchall()]  # noqa: S608 - alias
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return result


def _has_key(con: Connection, db: str, table: str) -> bool:
    row = con.execute("SELECT count(*) FROM duckdb_constraints() WHERE database_name = ? AND schema_name = 'main' "
                      "AND table_name = ? AND constraint_type = 'PRIMARY KEY'", [db, table]).fetchone()
    return bool(row and row[0])


def _merge_table(con: Connection, table: str, cols: list[str], target: str, alias: str) -> tuple[int, int]:
    """Rows inserted, and source rows (data columns only) still missing afterwards: key conflicts."""
    all_cols = ", ".join(_q(c) for c in cols)
    data_cols = ", ".join(_q(c) for c in compared_columns(table, cols))
    dst, src = f"{_q(target)}.main.{_q(table)}", f"{_q(alias)}.main.{_q(table)}"
    before = _count(con, f"SELECT count(*) FROM {dst}")  # noqa: S608 - catalog identifiers, quoted
    if _has_key(con, target, table):
        con.execute(f"INSERT OR IGNORE INTO {dst} ({all_cols}) SELECT {all_cols} FROM {src}")  # noqa: S608 - same
    else:   # no key to ignore on: add the rows the target lacks (as a set)
        con.execute(f"INSERT INTO {dst} ({all_cols}) SELECT {all_cols} FROM {src} "  # noqa: S608 - same
                    f"EXCEPT SELECT {all_cols} FROM {dst}")
    inserted = _count(con, f"SELECT count(*) FROM {dst}") - before  # noqa: S608 - same
    conflicts = _count(con, f"SELECT count(*) FROM (SELECT {data_cols} FROM {src} "  # noqa: S608 - same
                            f"EXCEPT SELECT {data_cols} FROM {dst})")
    return inserted, conflicts
