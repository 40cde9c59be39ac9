"""The main flow under a real Prefect API, and the CLI around it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml
from typer.testing import CliRunner

from flows.cli import app
from flows.run import run
from schemas.run_config import IngestConfig, RunConfig
from tests.factories import small_sampling, small_world

pytestmark = pytest.mark.slow
runner = CliRunner()


def table_rows(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_type = 'BASE TABLE'").fetchall()]
        return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0] for n in names}
    finally:
        con.close()


def test_run_flow_twice_is_idempotent(prefect_api: None, tmp_path: Path) -> None:
    src, _ = small_world(tmp_path)
    cfg = RunConfig(name="small", ingest=IngestConfig(sources=[src], batch_pages=2), sampling=small_sampling())
    data = tmp_path / "var"
    first = run(cfg, data, 2, "run-1")
    assert first["pages"] == 6
    assert first["kept:2_hops"] + first.get("kept:3_hops", 0) + first.get("kept:4_hops", 0) == 1
    rows1 = table_rows(data / "warehouse.duckdb")
    run(cfg, data, 1, "run-2")
    rows2 = table_rows(data / "warehouse.duckdb")
    assert rows2["runs"] == 2
    assert {k: v for k, v in rows2.items() if k not in ("runs", "stage_stats")} == {
        k: v for k, v in rows1.items() if k not in ("runs", "stage_stats")}
    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    runs = con.execute("SELECT status, config_hash, code_version FROM runs ORDER BY run_id").fetchall()
    con.close()
    assert [r[0] for r in runs] == ["completed", "completed"]
    assert runs[0][1] == cfg.config_hash()
    assert runs[0][2] != "unknown"


def test_cli_run_inspect_and_sql(prefect_api: None, tmp_path: Path) -> None:
    src, _ = small_world(tmp_path)
    cfg_file = tmp_path / "small.yaml"
    cfg_file.write_text(yaml.safe_dump({
        "name": "small",
        "ingest": {"sources": [{"kind": "xml", "path": str(src.path), "media_dir": str(src.media_dir)}]},
        "sampling": {"seed_min_in_degree": 0}}))
    data = tmp_path / "var"
    res = runner.invoke(app, ["run", "--config", str(cfg_file), "--data-dir", str(data), "--workers", "1"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["inspect", "--data-dir", str(data), "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert "paths,table,1" in res.output
    res = runner.invoke(app, ["inspect", "query", "seed_rejects_by_reason", "--data-dir", str(data), "-f", "json"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["sql", "SELECT seed_title FROM paths", "--data-dir", str(data), "-f", "csv"])
    assert res.output.splitlines() == ["seed_title", "Freedonia"]
    res = runner.invoke(app, ["sql", "DELETE FROM paths", "--data-dir", str(data)])
    assert res.exit_code == 1
    assert "read-only" in res.output
