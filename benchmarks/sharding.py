"""Sharding, measured: the same config as one worker and as 2 shards + merge, on this machine, same run.

Config: ``flows/configs/demo.yaml`` with the Ray Charles ZIM added as a second source (bundled corpus + ZIM).
One worker: the real flows in this process, stage by stage (``ingest``, ``sample_paths``, ``questions``,
``synthesis`` = pool → filter → enhance → synthesize, ``export``), each timed. Sharded: the same flows as
``flows.sharded.sharded_run`` chains them — ingest once, then 2 shard worker processes at once (each
``python -m flows.sharded``: seeded from the ingest, sample + questions for its own seeds), then the merge
(union) followed by synthesis and export on the merged warehouse. Per stage: wall seconds for both; the
shards' stage is the wall time of the parallel section (both processes, start-up included), and each
shard's own sample + questions time (from its ``runs`` row) is printed too. The two warehouses are compared
with ``warehouse.compare.diff_warehouses`` (must be empty).

Which stages scale with N here: sample and questions (per seed, in the shards); ingest runs once (shared);
synthesis and export run once after the merge. The JSON ratio is the speedup of the sharded run's total
(``ours``: runs/hour sharded) over one worker (``baseline``); target 1.0 on 2 cores (sharding must not cost
more than it saves at this size); ``shard_speedup`` is the speedup of the sharded stages alone.

Usage: python -m benchmarks.sharding [--shards 2]   (from the repo root; needs ../shared/data)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import yaml
from prefect.testing.utilities import prefect_test_harness

from benchmarks._common import emit, fixture
from flows.export import export
from flows.ingest import ingest
from flows.questions import questions
from flows.sample_paths import sample_paths
from flows.sharded import merge_shards
from flows.synthesis import synthesis
from schemas.run_config import RunConfig, ShardSpec, load_run_config
from tasks.shards.launch import run_shard, seed_shard, shard_command, shard_dir
from tasks.shards.merge import merge_shards as union_shards
from warehouse.compare import diff_warehouses

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "flows" / "configs" / "demo.yaml"
ZIM = "zim/wikipedia_en_ray_charles_2015-06.zim"


def _timed(times: dict[str, float], stage: str, fn: Callable[[], Any]) -> Any:
    t0 = time.perf_counter()
    out = fn()
    times[stage] = times.get(stage, 0.0) + time.perf_counter() - t0
    return out


def write_config(tmp: Path) -> Path:
    """demo.yaml with its source paths made absolute and the ZIM appended, written under ``tmp``."""
    raw = yaml.safe_load(DEMO.read_text())
    for src in raw["ingest"]["sources"]:
        for key in ("path", "media_dir"):
            if src.get(key):
                src[key] = str((DEMO.parent / src[key]).resolve())
    raw["ingest"]["sources"].append({"kind": "zim", "path": str(fixture(ZIM))})
    raw["name"] = "demo-zim"
    path = tmp / "demo-zim.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def one_worker(cfg: RunConfig, d: Path) -> dict[str, float]:
    t: dict[str, float] = {}
    _timed(t, "ingest", lambda: ingest(cfg, d, 1, "one-ingest", record_run=True))
    _timed(t, "sample+questions", lambda: (sample_paths(cfg, d, "one-sample"), questions(cfg, d, "one-questions")))
    _timed(t, "synthesis", lambda: synthesis(cfg, d, "one-synthesis"))
    _timed(t, "export", lambda: export(cfg, d, "one-export"))
    return t


def _shard_seconds(d: Path) -> float:
    con = duckdb.connect(str(d / "warehouse.duckdb"), read_only=True)
    try:
        row = con.execute("SELECT epoch(finished_at - started_at) FROM runs WHERE flow = 'shard_run' "
                          "AND status = 'completed'").fetchall()
    finally:
        con.close()
    return float(row[0][0]) if row else float("nan")


def sharded(cfg: RunConfig, cfg_path: Path, d: Path, n: int) -> tuple[dict[str, float], list[float]]:
    t: dict[str, float] = {}
    _timed(t, "ingest", lambda: ingest(cfg, d, 1, "sh-ingest"))
    specs = [ShardSpec(index=i, count=n) for i in range(n)]
    dirs = [shard_dir(d, s) for s in specs]
    _timed(t, "seed shards", lambda: [seed_shard(d, x) for x in dirs])

    def shards() -> None:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(n) as pool:
            list(pool.map(lambda s: run_shard(shard_command(cfg_path, s, shard_dir(d, s), 1),
                                              shard_dir(d, s) / "shard.log"), specs))

    _timed(t, "sample+questions", shards)
    _timed(t, "merge", lambda: union_shards(d, dirs, seeded=True))
    _timed(t, "synthesis", lambda: synthesis(cfg, d, "sh-synthesis"))
    _timed(t, "export", lambda: export(cfg, d, "sh-export"))
    return t, [_shard_seconds(x) for x in dirs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", type=int, default=2)
    args = ap.parse_args()
    assert merge_shards is not None   # the flow sharded_run ends with; the union step is timed on its own here
    with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=120):
        cfg_path = write_config(Path(tmp))
        cfg = load_run_config(cfg_path)
        one = one_worker(cfg, Path(tmp) / "one")
        sh, per_shard = sharded(cfg, cfg_path, Path(tmp) / "sharded", args.shards)
        diff = diff_warehouses(Path(tmp) / "one" / "warehouse.duckdb", Path(tmp) / "sharded" / "warehouse.duckdb")
        con = duckdb.connect(str(Path(tmp) / "one" / "warehouse.duckdb"), read_only=True)
        counts = {k: con.execute(f"SELECT count(*) FROM {k}").fetchall()[0][0]  # noqa: S608 - fixed names
                  for k in ("pages", "paths", "question_items", "pool_items", "trajectories")}
        con.close()
    stages = ["ingest", "seed shards", "sample+questions", "merge", "synthesis", "export"]
    print(f"config: demo + Ray Charles ZIM; rows: {counts}")
    print(f"{'stage':<18} {'1 worker s':>11} {f'{args.shards} shards s':>11}  scales with N")
    scales = {"sample+questions": "yes (per seed, in the shards)", "ingest": "no (once, shared)",
              "seed shards": "no (a file copy per shard)", "merge": "no (once)",
              "synthesis": "no (once, after the merge)", "export": "no (once)"}
    for s in stages:
        print(f"{s:<18} {one.get(s, 0.0):>11.2f} {sh.get(s, 0.0):>11.2f}  {scales[s]}")
    t1, tn = sum(one.values()), sum(sh.values())
    print(f"{'total':<18} {t1:>11.2f} {tn:>11.2f}")
    print(f"each shard's own sample+questions (s): {[round(x, 2) for x in per_shard]}")
    print(f"diff (one worker vs sharded merged): {diff or 'empty'}")
    emit("sharding_two_shards", "runs/hour", 3600 / tn, 3600 / t1, 1.0, shards=args.shards,
         one_worker_s={k: round(v, 2) for k, v in one.items()}, sharded_s={k: round(v, 2) for k, v in sh.items()},
         shard_own_s=[round(x, 2) for x in per_shard],
         shard_speedup=round(one["sample+questions"] / sh["sample+questions"], 2), diff_empty=not diff,
         diff=diff[:5])


if __name__ == "__main__":
    main()
