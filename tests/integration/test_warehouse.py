"""The DuckDB warehouse: migrations, idempotent upserts, one writer, snapshots, named queries."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from schemas.errors import WarehouseError
from schemas.pages import LinkRecord, PageRecord
from warehouse import db
from warehouse.pages import refresh_degrees, upsert_pages


def test_migrations_apply_once_and_are_idempotent(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    first = db.migrate(con)
    assert first == [v for v, _, _ in db.migrations()]
    assert db.migrate(con) == []
    for _, _, sql in db.migrations():  # the DDL itself is re-runnable
        con.execute(sql)
    con.close()


def test_unknown_migration_version_is_refused(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    db.migrate(con)
    con.execute("INSERT INTO schema_migrations VALUES (999, '999_future.sql', now())")
    with pytest.raises(WarehouseError, match="upgrade searchvl"):
        db.migrate(con)


def test_reupsert_leaves_the_same_rows(warehouse: db.Connection) -> None:
    pages = [PageRecord("enwiki", "A", 0, links=(LinkRecord("B", "b", "s"), LinkRecord("R", "r", "s"))),
             PageRecord("enwiki", "B", 0, links=(LinkRecord("A", "a", "s"),)),
             PageRecord("enwiki", "R", 0, redirect_target="B")]
    for _ in range(3):
        upsert_pages(warehouse, pages, "src")
    refresh_degrees(warehouse)
    counts = {n: c for n, _, c in db.table_counts(warehouse)}
    assert (counts["pages"], counts["links"], counts["page_degrees"]) == (3, 3, 2)
    degrees = warehouse.execute("SELECT title, in_degree, out_degree FROM page_degrees ORDER BY 1").fetchall()
    assert degrees == [("A", 1, 1), ("B", 1, 1)], "A→R→B counts once after redirect resolution"


HOLD = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("CREATE TABLE IF NOT EXISTS t AS SELECT 1 AS x")
    print("ready", flush=True)
    sys.stdin.readline()
""")


def test_second_writer_gets_a_clear_error_and_readers_get_a_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with db.connect(path) as con:
        con.execute("CREATE TABLE marker AS SELECT 42 AS answer")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseError, match="another process"), db.connect(path):
            pass
        with db.snapshot(path) as snap:
            assert snap.execute("SELECT answer FROM marker").fetchone() == (42,)
    finally:
        holder.communicate("\n", timeout=30)
    assert path.exists()


def test_every_named_query_runs_on_an_empty_warehouse(warehouse: db.Connection) -> None:
    for name in db.query_names():
        sql = db.load_query(name)
        params = {k: "enwiki" if k == "wiki" else None for k in re.findall(r"\$(\w+)", sql)} or None
        db.run_query(warehouse, name, params)


def test_bad_query_names_are_refused() -> None:
    with pytest.raises(WarehouseError):
        db.load_query("../secrets")
    with pytest.raises(WarehouseError, match="no named query"):
        db.load_query("nope")


def test_duckdb_memory_limit_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with db.connect(tmp_path / "w.duckdb") as con:
        default = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    monkeypatch.setenv("SEARCHVL_DUCKDB_MEMORY_LIMIT", "300MB")
    with db.connect(tmp_path / "w.duckdb") as con:
        capped = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert capped == "286.1 MiB" != default         # DuckDB prints 300 MB in MiB


def test_link_texts_by_source_and_ordinal(warehouse: db.Connection) -> None:
    from warehouse.graph import load_link_texts

    links = (LinkRecord("B", "bee", "A links to bee here."), LinkRecord("C", "sea", "And the sea.", "place"))
    upsert_pages(warehouse, [PageRecord("enwiki", "A", 0, links=links)], "t")
    assert load_link_texts(warehouse, "enwiki", ["A", "A"], [1, 0]) == [
        ("sea", "And the sea.", "place"), ("bee", "A links to bee here.", None)]
    with pytest.raises(LookupError, match="1 of 1 links"):
        load_link_texts(warehouse, "enwiki", ["A"], [7])
