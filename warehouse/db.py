"""Connect, migrate and run named queries."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from schemas.errors import WarehouseError
from schemas.settings import Settings

Connection = duckdb.DuckDBPyConnection
_MIGRATION = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_QUERY_NAME = re.compile(r"^[a-z0-9_]+$")


def _sql_dir() -> Path:
    return Path(str(resources.files("warehouse") / "sql"))


def migrations() -> list[tuple[int, str, str]]:
    """All migrations as ``(version, file name, sql)`` in order."""
    out = []
    for f in sorted(_sql_dir().iterdir()):
        m = _MIGRATION.match(f.name)
        if m:
            out.append((int(m.group(1)), f.name, f.read_text(encoding="utf-8")))
    return out


def _rejects_table_to_unit_rejects(con: Connection) -> None:
    """Before 014: warehouses made before it keep the stage writers' drops in a table named ``rejects``, which
    014 turns into a view; rename the table to ``unit_rejects`` (what 001 now creates)."""
    kind = con.execute("SELECT table_type FROM information_schema.tables WHERE table_schema = 'main' "
                       "AND table_name = 'rejects'").fetchone()
    if kind and kind[0] == "BASE TABLE":
        con.execute("ALTER TABLE rejects RENAME TO unit_rejects")


# version -> a step run (in the migration's transaction) before its SQL, for what DDL cannot say re-runnably
_BEFORE: dict[int, Callable[[Connection], None]] = {14: _rejects_table_to_unit_rejects}


def migrate(con: Connection) -> list[int]:
    """Apply pending migrations in order; idempotent. Returns the versions applied now."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    rows = con.execute("SELECT version FROM schema_migrations").fetchall()
    done = {r[0] for r in rows}
    known = {v for v, _, _ in migrations()}
    if done - known:
        raise WarehouseError(
            f"warehouse has migrations {sorted(done - known)} this code does not know; upgrade searchvl"
        )
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            if version in _BEFORE:
                _BEFORE[version](con)
            con.execute(sql)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, datetime.now(UTC)]
            )
            con.execute("COMMIT")
        except duckdb.Error as err:
            con.execute("ROLLBACK")
            raise WarehouseError(f"migration {name} failed: {err}") from err
        applied.append(version)
    return applied


def _open(path: Path, read_only: bool) -> Connection:
    limit = Settings().duckdb_memory_limit
    try:
        return duckdb.connect(str(path), read_only=read_only, config={"memory_limit": limit} if limit else {})
    except duckdb.IOException as err:
        msg = str(err)
        if "lock" in msg.lower():
            raise WarehouseError(
                f"warehouse {path} is being written by another process; only one writer at a time "
                "(wait for it to finish, or read a snapshot with `searchvl inspect`)"
            ) from err
        raise WarehouseError(f"cannot open warehouse {path}: {msg}") from err
    except duckdb.Error as err:
        raise WarehouseError(f"cannot open warehouse {path}: {err}") from err


@contextmanager
def connect(path: Path, *, read_only: bool = False) -> Iterator[Connection]:
    """Open the warehouse (creating and migrating it when writable) and close it afterwards.

    Raises:
        WarehouseError: locked by another writer, unreadable, or a failed migration.
    """
    if read_only and not path.exists():
        raise WarehouseError(f"no warehouse at {path}; run `searchvl run` or `searchvl ingest` first")
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only)
    try:
        if not read_only:
            migrate(con)
        yield con
    finally:
        con.close()


@contextmanager
def snapshot(path: Path) -> Iterator[Connection]:
    """A read-only view that works while another process writes: opens the file directly when it
    can, else a copy of the file (and its WAL) taken now."""
    try:
        with connect(path, read_only=True) as con:
            yield con
            return
    except WarehouseError as err:
        if "another process" not in str(err):
            raise
    with tempfile.TemporaryDirectory(prefix="searchvl-snap-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        wal = path.with_name(path.name + ".wal")
        if wal.exists():
            shutil.copyfile(wal, copy.with_name(copy.name + ".wal"))
        with connect(copy, read_only=True) as con:  # a private copy; the original is never touched
            yield con


def load_query(name: str) -> str:
    """Text of ``warehouse/sql/queries/<name>.sql``."""
    if not _QUERY_NAME.match(name):
        raise WarehouseError(f"bad query name {name!r}")
    f = _sql_dir() / "queries" / f"{name}.sql"
    if not f.exists():
        raise WarehouseError(f"no named query {name!r}; see warehouse/sql/queries/")
    return f.read_text(encoding="utf-8")


def query_names() -> list[str]:
    return sorted(f.stem for f in (_sql_dir() / "queries").glob("*.sql"))


def run_query(
    con: Connection, name: str, params: Sequence[Any] | dict[str, Any] | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run a named query with bound parameters; returns ``(column names, rows)``."""
    cur = con.execute(load_query(name), params or [])
    cols = [d[0] for d in cur.description or []]
    return cols, cur.fetchall()


def run_sql(con: Connection, text: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run user SQL (the caller opens ``con`` read-only); DuckDB errors become ``WarehouseError``."""
    try:
        cur = con.execute(text)
        cols = [d[0] for d in cur.description or []]
        return cols, cur.fetchall() if cols else []
    except duckdb.Error as err:
        raise WarehouseError(f"query failed: {err}") from err


def table_counts(con: Connection) -> list[tuple[str, str, int]]:
    """``(name, table|view, rows)`` for every table and view in the main schema."""
    objs = con.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_schema = 'main' ORDER BY table_type, table_name"
    ).fetchall()
    out = []
    for name, kind in objs:
        ident = '"' + str(name).replace('"', '""') + '"'
        n = con.execute("SELECT count(*) FROM " + ident).fetchall()[0][0]  # noqa: S608 - quoted catalog name
        out.append((str(name), "view" if "VIEW" in str(kind) else "table", int(n)))
    return out


def read_arrow(con: Connection, name: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
    """A named query (``warehouse/sql/queries/<name>.sql``) or a table or view of the main schema, as a pyarrow
    Table (``polars.from_arrow`` takes it without a copy; nothing goes through pandas).

    Raises:
        WarehouseError: ``name`` is neither a named query nor a table or view.
    """
    if name in query_names():
        text = load_query(name)
        if params is None:                       # unset named parameters bind NULL (= "all")
            params = dict.fromkeys(re.findall(r"\$([a-z_]+)", text))
        return con.sql(text, params=params or None).to_arrow_table()
    names = {str(r[0]) for r in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = 'main'").fetchall()}
    if name not in names:
        raise WarehouseError(f"no named query, table or view {name!r}; see `searchvl inspect` and "
                             "`searchvl inspect queries`")
    ident = '"' + name.replace('"', '""') + '"'
    return con.sql("SELECT * FROM " + ident).to_arrow_table()  # noqa: S608 - a catalog name, quoted
