"""`searchvl inspect rejects` fits 100 columns with JSON details cut; csv keeps the full values."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app
from warehouse.db import connect
from warehouse.rejects import upsert_rejects

runner = CliRunner()


def test_rejects_table_fits_100_columns(tmp_path: Path) -> None:
    detail = json.dumps({"attempts": 30, "failures": {f"reason_{i}": i for i in range(20)}}, indent=2)
    with connect(tmp_path / "warehouse.duckdb") as con:
        upsert_rejects(con, "sample_paths", "r1", [(f"enwiki:{'ab' * 10}:Seed title number {i}", "exhausted_cycle",
                                                    detail) for i in range(5)])
    res = runner.invoke(app, ["inspect", "rejects", "--data-dir", str(tmp_path)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert sum("exhausted_cycle" in line for line in lines) == 5         # one line per reject
    assert "Seed title number 3" in res.output
    res = runner.invoke(app, ["inspect", "rejects", "--data-dir", str(tmp_path), "-f", "csv"])
    assert '""reason_19"": 19' in res.output            # csv-quoted, in full


def test_frame_reads_a_named_query_or_a_table_as_polars(tmp_path: Path) -> None:
    import polars as pl
    import pytest

    from schemas.errors import WarehouseError
    from tasks.inspect.queries import frame

    with connect(tmp_path / "warehouse.duckdb") as con:
        upsert_rejects(con, "sample_paths", "r1", [("u1", "no_image", ""), ("u2", "no_image", "")])
        upsert_rejects(con, "ingest", "r1", [("u3", "invalid_title", "")])
    by_reason = frame("rejects_by_reason", tmp_path)
    assert isinstance(by_reason, pl.DataFrame)
    assert by_reason.rows() == [("ingest", "invalid_title", 1), ("sample_paths", "no_image", 2)]
    assert frame("rejects", tmp_path).height == 3                         # $stage unset: every stage
    assert frame("rejects", tmp_path, {"stage": "ingest"}).height == 1
    assert frame("unit_rejects", tmp_path).columns[:3] == ["stage", "unit_id", "reason"]
    with pytest.raises(WarehouseError, match="no named query, table or view"):
        frame("nope; DROP TABLE x", tmp_path)
