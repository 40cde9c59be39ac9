"""Sharding, measured: the same config as one worker and as 2 shards + merge, on this machine, same run.

Config: ``flows/configs/demo.yaml`` with the Ray Charles ZIM added as a second source (bundled corpus + ZIM).
One worker: one recorded run in this process calling the flows and steps in the main job's order, timed in
the groups the shards use (ingest; sample + questions; pool + filter; enhance + synthesize; export).
Sharded: what ``flows.sharded.sharded_run`` does, step by step — the warm fork server starts, ingest once;
then per phase (questions, pool, synthesize) N shard processes (``flows.sharded.main --phase P``, each forked
from the warm server) at once, each seeded with a copy of the warehouse so far, followed by a union; the
export. ``--cold`` also times the same sharded run with every shard a fresh interpreter ``python -m
flows.sharded`` (the launch before the warm server), in the same invocation.
Per stage: wall seconds for both; a sharded phase's time is the wall time of
the parallel section (seeding and process start-up included), and each shard's own flow time (its ``runs``
row) is printed too. The two warehouses are compared with ``warehouse.compare.diff_warehouses`` (must be
empty).

Which stages scale with N: sample + questions (per seed), pool + filter (per duplicate key) and enhance +
synthesize (per kept item) run in the shards; ingest runs once (shared); the unions and the export run once.
The JSON ratio is the speedup of the
sharded run's total (``ours``: runs/hour sharded) over one worker (``baseline``); target 1.0 on 2 cores;
``shard_speedup`` is the measured speedup of each sharded stage, which ``benchmarks/projection.py`` uses.

With ``--runs K`` both run K times (fresh data dirs) and every figure is the median over the runs (the totals:
the median of the runs' totals); the diff must be empty in every run.

Usage: python -m benchmarks.sharding [--shards 2] [--corpus-pages N] [--cold] [--runs K]   (from the repo root; needs
../shared/data)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import yaml
from prefect.testing.utilities import prefect_test_harness

from benchmarks._common import emit, fixture
from flows._recorded import recorded
from flows.export import export
from flows.ingest import ingest
from flows.questions import questions
from flows.sample_paths import sample_paths
from schemas.run_config import RunConfig, ShardSpec, load_run_config
from tasks.filter.steps import filter_step
from tasks.pool.steps import enhance_step, pool_step
from tasks.questions.steps import uniqueness_index_step
from tasks.shards.launch import (
    PHASES,
    WORKER_MODULE,
    run_shard,
    run_warm,
    seed_shard,
    shard_args,
    shard_command,
    shard_dir,
    start_warm,
)
from tasks.shards.merge import merge_shards as union_shards
from tasks.shards.steps import prefect_api_url
from tasks.synthesize.steps import synthesize_step
from warehouse.compare import diff_warehouses

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "flows" / "configs" / "demo.yaml"
ZIM = "zim/wikipedia_en_ray_charles_2015-06.zim"


def _timed(times: dict[str, float], stage: str, fn: Callable[[], Any]) -> Any:
    t0 = time.perf_counter()
    out = fn()
    times[stage] = times.get(stage, 0.0) + time.perf_counter() - t0
    return out


def write_config(tmp: Path, pages: int | None = None) -> Path:
    """demo.yaml with its source paths made absolute and the ZIM appended, written under ``tmp``; with
    ``pages``, the synthetic corpus of that many pages (``scripts/make_scale_corpus.py``) instead."""
    raw = yaml.safe_load(DEMO.read_text())
    for src in raw["ingest"]["sources"]:
        for key in ("path", "media_dir"):
            if src.get(key):
                src[key] = str((DEMO.parent / src[key]).resolve())
    raw["ingest"]["sources"].append({"kind": "zim", "path": str(fixture(ZIM))})
    raw["name"] = "demo-zim"
    if pages:
        xml = tmp / f"synth-{pages}.xml"
        subprocess.run([sys.executable, str(ROOT / "scripts" / "make_scale_corpus.py"), "--pages", str(pages),
                        "--out", str(xml)], check=True, stdout=subprocess.DEVNULL)
        raw["ingest"]["sources"] = [{"kind": "xml", "path": str(xml), "media_dir": str(ROOT / "corpus" /
                                                                                        "enwiki-sample" / "media")}]
        raw["sampling"]["paths_per_seed"] = 1
        raw["name"] = f"synth-{pages}"
    path = tmp / "demo-zim.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def one_worker(cfg: RunConfig, d: Path) -> dict[str, float]:
    """The same stages in one process: the flows' steps in ``flows.synthesis``'s order, each group timed."""
    t: dict[str, float] = {}

    def flow() -> None:
        _timed(t, "ingest", lambda: ingest(cfg, d, 1, rid, record_run=False))
        _timed(t, "sample+questions", lambda: (sample_paths(cfg, d, rid, record_run=False),
                                               questions(cfg, d, rid, record_run=False)))
        _timed(t, "pool+filter", lambda: (pool_step(d, cfg.pool, rid), filter_step(
            d, cfg.filter, cfg.teacher, cfg.synthesis.judge_model, rid)))
        _timed(t, "enhance+synthesize", lambda: (enhance_step(d, cfg.pool, cfg.filter, rid), synthesize_step(
            d, cfg.synthesis, cfg.teacher, cfg.filter, rid)))
        _timed(t, "merge", lambda: None)
        _timed(t, "export", lambda: export(cfg, d, rid, record_run=False))

    rid = "one-worker"
    recorded("one_worker", cfg, d, rid, True, lambda _: flow())
    return t


def _shard_seconds(d: Path) -> float:
    """The shard's own stage time (its ``shard_run`` row: the flow, without process start-up)."""
    con = duckdb.connect(str(d / "warehouse.duckdb"), read_only=True)
    try:
        row = con.execute("SELECT epoch(finished_at - started_at) FROM runs WHERE flow = 'shard_run' "
                          "AND status = 'completed' ORDER BY started_at DESC LIMIT 1").fetchall()
    finally:
        con.close()
    return float(row[0][0]) if row else float("nan")


def _run_one(cfg_path: Path, d: Path, s: ShardSpec, phase: str, cold: bool) -> None:
    out = shard_dir(d, s, phase)
    if cold:           # a fresh interpreter per shard and phase (before issue 16's warm start)
        run_shard([*shard_command(cfg_path, s, out, 1, phase), "--api-url", prefect_api_url()], out / "shard.log")
    else:              # what tasks.shards.steps.run_shard_step does: a fork of the warm server
        run_warm(f"{WORKER_MODULE}:main", [*shard_args(cfg_path, s, out, 1, phase), "--api-url", prefect_api_url()],
                 out / "shard.log")


def _parallel(cfg_path: Path, d: Path, specs: list[ShardSpec], phase: str, cold: bool) -> list[Path]:
    dirs = [shard_dir(d, s, phase) for s in specs]
    for x in dirs:
        seed_shard(d, x)
    with ThreadPoolExecutor(len(specs)) as pool:
        list(pool.map(lambda s: _run_one(cfg_path, d, s, phase, cold), specs))
    return dirs


def sharded(cfg: RunConfig, cfg_path: Path, d: Path, n: int, cold: bool = False
            ) -> tuple[dict[str, float], dict[str, list[float]]]:
    """What ``flows.sharded.sharded_run`` does, each step timed (seeding a shard counts in its phase; the
    warm server starts before the ingest, as there)."""
    t: dict[str, float] = {}
    own: dict[str, list[float]] = {}
    specs = [ShardSpec(index=i, count=n) for i in range(n)]
    if not cold:
        start_warm()
    # as sharded_run: ingest once, then the question stage's uniqueness index once (the shards open it)
    _timed(t, "ingest", lambda: (ingest(cfg, d, 1, "sh-ingest"), uniqueness_index_step(d)))
    for phase, stage in zip(PHASES, ("sample+questions", "pool+filter", "enhance+synthesize"), strict=True):
        t0 = time.perf_counter()
        dirs = _parallel(cfg_path, d, specs, phase, cold)
        t1 = time.perf_counter()
        union_shards(d, dirs, seeded=True)
        t[stage], t["merge"] = t1 - t0, t.get("merge", 0.0) + time.perf_counter() - t1
        own[stage] = [_shard_seconds(x) for x in dirs]
    _timed(t, "export", lambda: export(cfg, d, "sh-export", record_run=False))   # as in merge_shards
    return t, own


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--corpus-pages", type=int, default=None,
                    help="run on a synthetic corpus of this many pages (scripts/make_scale_corpus.py) instead")
    ap.add_argument("--cold", action="store_true",
                    help="also time the sharded run with each shard a fresh interpreter (python -m flows.sharded, "
                         "the launch before the warm fork server), same run, for comparison")
    ap.add_argument("--runs", type=int, default=1,
                    help="run both this many times (fresh data dirs, same Prefect server) and report per-stage "
                         "medians: a phase of the demo takes seconds, and one run is noisy on shared cores")
    args = ap.parse_args()
    cold: dict[str, float] = {}
    ones: list[dict[str, float]] = []
    shs: list[dict[str, float]] = []
    owns: list[dict[str, list[float]]] = []
    diffs: list[list[str]] = []
    with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=120):
        cfg_path = write_config(Path(tmp), args.corpus_pages)
        cfg = load_run_config(cfg_path)
        for r in range(args.runs):
            ones.append(one_worker(cfg, Path(tmp) / f"one{r}"))
            if args.cold and r == 0:
                cold, cold_own = sharded(cfg, cfg_path, Path(tmp) / "cold", args.shards, cold=True)
                print(f"cold shards' own flow time (s): {cold_own}")
            sh_r, own_r = sharded(cfg, cfg_path, Path(tmp) / f"sharded{r}", args.shards)
            shs.append(sh_r)
            owns.append(own_r)
            diffs.append(diff_warehouses(Path(tmp) / f"one{r}" / "warehouse.duckdb",
                                         Path(tmp) / f"sharded{r}" / "warehouse.duckdb"))
            print(f"run {r + 1}: 1 worker {sum(ones[-1].values()):.2f} s, {args.shards} shards "
                  f"{sum(sh_r.values()):.2f} s, diff {'empty' if not diffs[-1] else diffs[-1][:3]}", flush=True)
        con = duckdb.connect(str(Path(tmp) / "one0" / "warehouse.duckdb"), read_only=True)
        counts = {k: con.execute(f"SELECT count(*) FROM {k}").fetchall()[0][0]  # noqa: S608 - fixed names
                  for k in ("pages", "paths", "question_items", "pool_items", "trajectories")}
        con.close()
    one = {k: statistics.median(o[k] for o in ones) for k in ones[0]}
    sh = {k: statistics.median(x[k] for x in shs) for k in shs[0]}
    per_shard = {k: [statistics.median(o[k][i] for o in owns) for i in range(args.shards)] for k in owns[0]}
    diff = next((d for d in diffs if d), [])
    stages = ["ingest", "sample+questions", "pool+filter", "enhance+synthesize", "merge", "export"]
    print(f"config: {cfg.name} (demo settings); rows: {counts}")
    print(f"{'stage':<18} {'1 worker s':>11} {f'{args.shards} shards s':>11}"
          + (f" {'cold s':>8}" if cold else "") + "  scales with N")
    scales = {"ingest": "no (once, shared)", "sample+questions": "yes (per seed, in the shards)",
              "pool+filter": "yes (per duplicate key, in the shards)",
              "enhance+synthesize": "yes (per kept item, in the shards)", "merge": "no (three unions)",
              "export": "no (once)"}
    for s in stages:
        print(f"{s:<18} {one.get(s, 0.0):>11.2f} {sh.get(s, 0.0):>11.2f}"
              + (f" {cold.get(s, 0.0):>8.2f}" if cold else "") + f"  {scales[s]}")
    t1 = statistics.median(sum(o.values()) for o in ones)
    tn = statistics.median(sum(x.values()) for x in shs)
    print(f"{'total':<18} {t1:>11.2f} {tn:>11.2f}" + (f" {sum(cold.values()):>8.2f}" if cold else "")
          + (f"  (medians of {args.runs} runs; totals are the median of the runs' totals)" if args.runs > 1 else ""))
    own = ", ".join(f"{k} {[round(x, 2) for x in v]}" for k, v in per_shard.items())
    print(f"each shard's own flow time (s): {own}"
          + " (the rest of a phase's wall time is process start-up and seeding)")
    print(f"diff (one worker vs sharded merged, every run): {diff or 'empty'}")
    emit("sharding_two_shards", "runs/hour", 3600 / tn, 3600 / t1, 1.0, shards=args.shards, config=cfg.name,
         rows=counts, runs=args.runs, run_ratios=[round(sum(o.values()) / sum(x.values()), 2)
                                                  for o, x in zip(ones, shs, strict=True)],
         one_worker_s={k: round(v, 2) for k, v in one.items()}, sharded_s={k: round(v, 2) for k, v in sh.items()},
         shard_own_s={k: [round(x, 2) for x in v] for k, v in per_shard.items()},
         shard_speedup={s: round(one[s] / sh[s], 2) for s in per_shard}, diff_empty=not diff,
         cold_sharded_s={k: round(v, 2) for k, v in cold.items()},
         diff=diff[:5])


if __name__ == "__main__":
    main()
