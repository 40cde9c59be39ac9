"""Two shard workers (separate processes, seeded from one shared ingest) on the demo config, merged, equal a
single-worker run; a shard killed mid-run is retried alone and the merge still equals it."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.run import run
from flows.sharded import sharded_run
from schemas.run_config import ShardSpec, load_run_config
from tasks.shards.launch import (
    WORKER_MODULE,
    ShardRunError,
    run_shard,
    run_warm,
    shard_args,
    shard_command,
    shard_dir,
)
from tests.fakes.processes import kill_lock_holder_once
from warehouse.compare import diff_warehouses

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # one run + a sharded run (2 phases); a busy box is slow
ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "flows/configs/demo.yaml"
runner = CliRunner()


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_two_shards_merged_equal_a_single_run(prefect_api: None, tmp_path: Path) -> None:
    cfg = load_run_config(DEMO)
    single, sharded = tmp_path / "single", tmp_path / "sharded"
    run(cfg, single, 1, "run-single")
    counts = sharded_run(cfg, DEMO, sharded, shards=2, workers=1, run_id="run-merge")

    assert counts["merged:shards"] == 2
    assert diff_warehouses(single / "warehouse.duckdb", sharded / "warehouse.duckdb") == []

    # each worker sampled only its own seeds, and both had some
    seeds = []
    for i in range(2):
        wh = shard_dir(sharded, ShardSpec(index=i, count=2)) / "warehouse.duckdb"
        titles = {str(r[0]) for r in _rows(wh, "SELECT DISTINCT seed_title FROM paths")}
        assert titles and all(ShardSpec(index=i, count=2).owns("enwiki", t) for t in titles)
        assert _rows(wh, "SELECT count(*) FROM trajectories") == [(0,)]    # synthesis runs after the merge
        seeds.append(titles)
    assert not seeds[0] & seeds[1]
    # the pool phase: each shard built and filtered only the pool items whose duplicate key it owns
    pools = [{str(r[0]) for r in _rows(shard_dir(sharded, ShardSpec(index=i, count=2), "pool") / "warehouse.duckdb",
                                       "SELECT item_id FROM pool_items")} for i in range(2)]
    assert not pools[0] & pools[1]
    assert pools[0] | pools[1] == {str(r[0]) for r in _rows(single / "warehouse.duckdb",
                                                            "SELECT item_id FROM pool_items")}
    # the synthesize phase: each shard ran the teacher on the kept items whose id it owns, and only those
    for i in range(2):
        wh = shard_dir(sharded, ShardSpec(index=i, count=2), "synthesize") / "warehouse.duckdb"
        done = {str(r[0]) for r in _rows(wh, "SELECT item_id FROM synthesis_items")}
        assert all(ShardSpec(index=i, count=2).owns("item", x) for x in done)
    # every shard of every phase reopens the base's saved search indexes (built once), never its own
    for d in (sharded / "shards").iterdir():
        assert (d / "indexes").is_symlink() and (d / "indexes").resolve() == (sharded / "indexes").resolve()
    assert {p.name.split("-")[0] for p in (sharded / "indexes").iterdir()} >= {"text", "image"}
    runs = _rows(sharded / "warehouse.duckdb", "SELECT flow, status, config_json->>'$.sampling.shard.index' "
                                               "FROM runs ORDER BY 3 NULLS LAST, 1")
    assert runs == [("shard_run", "completed", "0")] * 3 + [("shard_run", "completed", "1")] * 3 + [
        ("ingest", "completed", None), ("merge_shards", "completed", None)]   # ingested once, three shard phases
    export = _rows(sharded / "warehouse.duckdb", "SELECT name FROM exports")
    assert export == _rows(single / "warehouse.duckdb", "SELECT name FROM exports")
    assert (sharded / "export" / str(export[0][0]) / "rl").is_dir()

    # merging the same shards again (CLI, no config) adds nothing and leaves the warehouse equal
    dirs = [str(shard_dir(sharded, ShardSpec(index=i, count=2))) for i in range(2)]
    res = runner.invoke(app, ["merge", "--into", str(sharded), "--from", dirs[0], "--from", dirs[1]])
    assert res.exit_code == 0, res.output
    assert diff_warehouses(single / "warehouse.duckdb", sharded / "warehouse.duckdb") == []


def test_a_shard_killed_mid_run_is_retried_alone(prefect_api: None, tmp_path: Path) -> None:
    """Shard 1's first synthesize-phase process (enhance → teacher; forked from the warm server) is SIGKILLed
    once it holds its warehouse; only that shard runs again, and the merge of the resumed shard equals a
    single-worker run."""
    cfg = load_run_config(DEMO)
    single, sharded = tmp_path / "single", tmp_path / "sharded"
    run(cfg, single, 1, "run-single")
    done = threading.Event()
    lock = shard_dir(sharded, ShardSpec(index=1, count=2), "synthesize") / "warehouse.duckdb.lock"
    killer = threading.Thread(target=kill_lock_holder_once, args=(lock, done), daemon=True)
    killer.start()
    try:
        sharded_run(cfg, DEMO, sharded, shards=2, workers=1, run_id="run-merge")
    finally:
        done.set()

    # each shard process once per phase (one flow run in its log), and the killed one once more
    starts = {d.name: d.joinpath("shard.log").read_text().count("for flow 'shard_run'")
              for d in (sharded / "shards").iterdir()}
    assert starts == {"0-of-2": 1, "1-of-2": 1, "pool-0-of-2": 1, "pool-1-of-2": 1, "synthesize-0-of-2": 1,
                      "synthesize-1-of-2": 2}
    runs = _rows(shard_dir(sharded, ShardSpec(index=1, count=2), "synthesize") / "warehouse.duckdb",
                 "SELECT status FROM runs WHERE flow = 'shard_run' AND config_json->>'$.sampling.shard.index' = '1'"
                 " ORDER BY started_at")
    assert [r[0] for r in runs][-2:] == ["running", "completed"]      # the killed try never finished
    assert diff_warehouses(single / "warehouse.duckdb", sharded / "warehouse.duckdb") == []


def test_a_shard_process_that_fails_raises_with_its_log(tmp_path: Path) -> None:
    """A warm-forked shard process that exits non-zero (here: arguments its parser refuses) is reported
    with its exit status and the tail of its log; the same command as a fresh interpreter fails the same."""
    args = shard_args(DEMO, ShardSpec(index=0, count=2), tmp_path / "d", 1, "questions")
    bad = [*args[:-1], "no-such-phase"]
    with pytest.raises(ShardRunError, match=r"exited 2(.|\n)*invalid choice: 'no-such-phase'"):
        run_warm(f"{WORKER_MODULE}:main", bad, tmp_path / "warm.log")
    with pytest.raises(ShardRunError, match=r"exited 2(.|\n)*invalid choice: 'no-such-phase'"):
        run_shard([*shard_command(DEMO, ShardSpec(index=0, count=2), tmp_path / "d", 1)[:-1], "no-such-phase"],
                  tmp_path / "cold.log")


def test_cli_refuses_a_shard_with_a_cap_over_all_items(tmp_path: Path) -> None:
    res = runner.invoke(app, ["run", "--config", str(DEMO), "--shard", "0/2", "--limit", "3",
                              "--data-dir", str(tmp_path / "d")])
    assert res.exit_code == 1
    assert "max_items" in res.output
    res = runner.invoke(app, ["run", "--config", str(DEMO), "--shard", "2/2", "--data-dir", str(tmp_path / "d")])
    assert res.exit_code == 1
    assert "shard index 2 is not below the shard count 2" in res.output
