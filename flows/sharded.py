"""Flows ``sharded_run``, ``shard_run`` and ``merge_shards``: one run on N workers, equal to one worker.

``sharded_run``, with every costly stage inside the shards:

1. **Ingest once** into ``<data_dir>`` (the link graph is global: every shard needs all of it), and build the
   question stage's uniqueness index there once (``tasks.tooling.load_uniqueness_index``; shards open it). The
   warm fork server (``tasks.shards.launch.start_warm``: this module and its imports loaded once) starts first,
   so its imports overlap the ingest and a local shard process is a fork of it, not a fresh interpreter.
2. **Questions phase**: one ``shard_run`` per shard, each a process (``python -m flows.sharded --phase
   questions``, forked warm) in ``<data_dir>/shards/i-of-N`` seeded with a copy of that warehouse
   (``tasks.shards.launch.seed_shard``; the image folder and saved search indexes are the base's): paths
   for the seeds whose ``sha256(wiki NUL title) mod N == i``,
   then their questions. Unioned into ``<data_dir>`` (ingest tables are not copied back).
3. **Pool phase** (``--phase pool``, ``shards/pool-i-of-N``, seeded with the union): pool → difficulty filter
   for the items whose duplicate key (normalised question + image) the shard owns: duplicates share a key,
   hence a shard, and the filter judges each item alone. Unioned.
4. **Synthesize phase** (``--phase synthesize``, ``shards/synthesize-i-of-N``, seeded with the union, so every
   shard sees the whole kept pool): the SFT/RL group split (cheap, global and deterministic, so every shard
   writes the same rows), then enhancement (a seeded-hash draw per item) and the teacher for the kept items
   whose id the shard owns. ``merge_shards`` unions them and exports.

The preview caps ``filter/synthesis.max_items`` are refused. A failed shard is retried alone. The result
equals a single-worker run of the same config (``warehouse.compare.diff_warehouses`` empty;
``tests/flows/test_sharded.py``). On a cluster ``shard_run`` is the flow a work-pool deployment runs
(README, "Running at scale").
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from pathlib import Path

from prefect import flow
from prefect.futures import wait
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows._recorded import recorded
from flows.ingest import ingest
from flows.synthesis import synthesis
from schemas.run_config import RunConfig, ShardSpec, load_run_config
from tasks.filter.steps import filter_step
from tasks.pool.steps import enhance_step, pool_step
from tasks.questions.steps import questions_step, uniqueness_index_step
from tasks.sample.steps import sample_paths_step
from tasks.shards.launch import PHASES, start_warm
from tasks.shards.steps import merge_step, run_shard_step
from tasks.synthesize.steps import synthesize_step


@flow(name="merge_shards")
def merge_shards(config: RunConfig | None, data_dir: Path, shard_dirs: list[Path], run_id: str | None = None,
                 seeded: bool = False, synthesized: bool = False) -> dict[str, int]:
    """Union the shard warehouses into ``data_dir``; with a config, then pool → filter → enhance → synthesize
    (unless the shards did, ``synthesized``) → export there. ``seeded``: the shards started from
    ``data_dir``'s own warehouse."""
    if config is None:
        return merge_step(data_dir, shard_dirs, None, seeded)

    from flows.export import export  # here, not at the top: a shard process never exports (datasets, ≈ 2 s)

    def body(rid: str) -> dict[str, int]:
        counts = merge_step(data_dir, shard_dirs, rid, seeded)
        if not synthesized:
            counts |= synthesis(config, data_dir, rid, record_run=False)
        counts |= export(config, data_dir, rid, record_run=False)
        return counts

    return recorded("merge_shards", config, data_dir, run_id, True, body)


@flow(name="shard_run")
def shard_run(config: RunConfig, data_dir: Path, phase: str = "questions", run_id: str | None = None
              ) -> dict[str, int]:
    """One shard (``config.sampling.shard``) of one phase (``PHASES``) on a data dir seeded from the shared
    warehouse; never ingests."""
    shard = config.sampling.shard
    if shard is None or phase not in PHASES:
        raise ValueError(f"shard_run needs sampling.shard set and a phase in {PHASES}, got {shard}, {phase!r}")

    def body(rid: str) -> dict[str, int]:
        if phase == "questions":      # the steps of flows.sample_paths and flows.questions, without a subflow each
            counts = sample_paths_step(data_dir, config.sampling, rid)
            return counts | questions_step(data_dir, config.questions, rid, config.ingest)
        if phase == "pool":
            counts = {f"pool:{k}": n for k, n in pool_step(data_dir, config.pool, rid, shard).items()}
            return counts | {f"filter:{k}": n for k, n in filter_step(
                data_dir, config.filter, config.teacher, config.synthesis.judge_model, rid).items()}
        counts = {f"enhance:{k}": n for k, n in enhance_step(data_dir, config.pool, config.filter, rid, shard).items()}
        return counts | {f"synthesis:{k}": n for k, n in synthesize_step(
            data_dir, config.synthesis, config.teacher, config.filter, rid, shard).items()}

    return recorded("shard_run", config, data_dir, run_id, True, body)


def _phase(config_path: Path, specs: list[ShardSpec], data_dir: Path, workers: int, phase: str,
           deployment: str | None) -> list[Path]:
    futures = [run_shard_step.submit(config_path, s, data_dir, workers, phase, deployment) for s in specs]
    wait(futures)                     # every shard finishes (or fails, after its retry) before a failure is raised
    return [Path(f.result()) for f in futures]


@flow(name="sharded_run")
def sharded_run(config: RunConfig, config_path: Path, data_dir: Path = Path("var"), shards: int = 2,
                workers: int = 1, run_id: str | None = None, deployment: str | None = None) -> dict[str, int]:
    """Ingest once into ``data_dir``; run each phase (``PHASES``) on ``shards`` workers at once and union it;
    the last union is ``merge_shards`` (union + export). ``config_path`` is what each worker loads; ``config``
    must be it, loaded. ``deployment`` (``"shard_run/<name>"``, a deployment of ``shard_run`` on a work pool;
    README, "Prefect work pools on a cluster"): each shard is a flow run there, else a local process; its
    workers must then share ``data_dir``."""
    specs = [ShardSpec(index=i, count=shards) for i in range(shards)]
    config.with_shard(specs[0])       # a config that cannot be sharded fails here, before any work starts
    if deployment is None:
        start_warm()                  # local shards fork from it; its imports overlap the ingest
    pages = ingest(config, data_dir, workers)
    uniqueness_index_step(data_dir)   # shards link this data dir's indexes/: built once here, not once per shard
    for phase in PHASES[:-1]:
        merge_step(data_dir, _phase(config_path, specs, data_dir, workers, phase, deployment), None, True)
    last = _phase(config_path, specs, data_dir, workers, PHASES[-1], deployment)
    return {"pages": pages, **merge_shards(config, data_dir, last, run_id, seeded=True, synthesized=True)}


def main(argv: list[str] | None = None) -> None:
    """``python -m flows.sharded --config F --shard i/N --data-dir D [--phase P]``: one shard
    worker (what ``sharded_run`` launches); ``--workers`` is accepted for symmetry with ``run``, unused."""
    ap = argparse.ArgumentParser(prog="python -m flows.sharded", description=main.__doc__)
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--shard", required=True)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--phase", choices=PHASES, default="questions")
    ap.add_argument("--api-url", default=None,
                    help="the Prefect API to report to (default: PREFECT_API_URL, else a temporary server)")
    args = ap.parse_args(argv)
    with temporary_settings(updates={PREFECT_API_URL: args.api_url}) if args.api_url else nullcontext():
        shard_run(load_run_config(args.config).with_shard(args.shard), args.data_dir, args.phase)


if __name__ == "__main__":
    main()
