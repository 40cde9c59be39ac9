"""`rejects` is a view over the stage writers' `unit_rejects` and the verdict tables; a warehouse made before
migration 014 (a `rejects` table) is upgraded in place, keeping its rows."""

from __future__ import annotations

from pathlib import Path

import duckdb

from warehouse import db
from warehouse.rejects import upsert_rejects


def test_a_pre_014_warehouse_keeps_its_rejects(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                "applied_at TIMESTAMP NOT NULL)")
    for version, name, sql in db.migrations():
        if version >= 14:
            break
        con.execute(sql.replace("unit_rejects", "rejects") if version == 1 else sql)   # 001 as it was
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
    con.execute("INSERT INTO rejects VALUES ('ingest', 'enwiki:Bad', 'invalid_title', NULL, 'r1', now())")
    applied = db.migrate(con)
    assert 14 in applied
    kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables "
                             "WHERE table_name IN ('rejects', 'unit_rejects')").fetchall())
    assert kinds == {"rejects": "VIEW", "unit_rejects": "BASE TABLE"}
    assert con.execute("SELECT stage, unit_id, reason FROM rejects").fetchall() == [
        ("ingest", "enwiki:Bad", "invalid_title")]


def test_writers_land_in_the_view(tmp_path: Path) -> None:
    with db.connect(tmp_path / "w.duckdb") as con:
        upsert_rejects(con, "sample_paths", "r1", [("enwiki:x:Seed", "no_image", "")])
        _, rows = db.run_query(con, "rejects", {"stage": None})
        assert [r[:3] for r in rows] == [("sample_paths", "enwiki:x:Seed", "no_image")]
        assert con.execute("SELECT count(*) FROM rejects").fetchone() == (1,)
