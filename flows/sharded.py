"""Flows ``sharded_run``, ``shard_run`` and ``merge_shards``: one run on N workers with disjoint seed shards.

``sharded_run`` ingests once into ``<data_dir>`` (the link graph is global, so every shard needs all of it),
then starts one ``shard_run`` per shard: a process ``python -m flows.sharded --shard i/N`` in
``<data_dir>/shards/i-of-N``, seeded with a copy of that ingest (``tasks.shards.launch.seed_shard``), which
samples paths for the seeds whose ``sha256(wiki NUL title) mod N == i`` and writes their questions. A failed
shard is retried alone. The shard warehouses are then merged into ``<data_dir>`` (ingest tables are not
copied back), and the stages that still choose over the whole pool (pool dedup, difficulty filter,
enhancement subset, synthesis caps, the export) run once on the merged warehouse, so the result equals a
single-worker run of the same config (``tests/flows/test_sharded.py``). On a cluster, ``shard_run`` is the
flow a work-pool deployment runs (README, "Running at scale").
"""

from __future__ import annotations

import argparse
from pathlib import Path

from prefect import flow
from prefect.futures import wait

from flows._recorded import recorded
from flows.export import export
from flows.ingest import ingest
from flows.questions import questions
from flows.sample_paths import sample_paths
from flows.synthesis import synthesis
from schemas.run_config import RunConfig, ShardSpec, load_run_config
from tasks.shards.steps import merge_step, run_shard_step


@flow(name="merge_shards")
def merge_shards(config: RunConfig | None, data_dir: Path, shard_dirs: list[Path],
                 run_id: str | None = None, seeded: bool = False) -> dict[str, int]:
    """Union the shard warehouses into ``data_dir``; with a config, then pool → filter → enhance →
    synthesize → export there (what a shard leaves out). ``seeded``: the shards started from ``data_dir``'s
    own ingest."""
    if config is None:
        return merge_step(data_dir, shard_dirs, None, seeded)

    def body(rid: str) -> dict[str, int]:
        counts = merge_step(data_dir, shard_dirs, rid, seeded)
        counts |= synthesis(config, data_dir, rid, record_run=False)
        counts |= export(config, data_dir, rid, record_run=False)
        return counts

    return recorded("merge_shards", config, data_dir, run_id, True, body)


@flow(name="shard_run")
def shard_run(config: RunConfig, data_dir: Path, run_id: str | None = None) -> dict[str, int]:
    """One shard (``config.sampling.shard``) on a data dir seeded from the shared ingest: paths for its own
    seeds, then their questions. Never ingests."""
    if config.sampling.shard is None:
        raise ValueError("shard_run needs a config with sampling.shard set (use flows.run.run otherwise)")

    def body(rid: str) -> dict[str, int]:
        counts = sample_paths(config, data_dir, rid, record_run=False)
        return counts | questions(config, data_dir, rid, record_run=False)

    return recorded("shard_run", config, data_dir, run_id, True, body)


@flow(name="sharded_run")
def sharded_run(config: RunConfig, config_path: Path, data_dir: Path = Path("var"), shards: int = 2,
                workers: int = 1, run_id: str | None = None) -> dict[str, int]:
    """Ingest once into ``data_dir``, run ``shards`` shard workers at once (``config_path`` is what each
    worker loads; ``config`` must be it, loaded), wait for all, then ``merge_shards`` with the config."""
    specs = [ShardSpec(index=i, count=shards) for i in range(shards)]
    config.with_shard(specs[0])       # a config that cannot be sharded fails here, before any work starts
    pages = ingest(config, data_dir, workers)
    futures = [run_shard_step.submit(config_path, s, data_dir, workers) for s in specs]
    wait(futures)                     # every shard finishes (or fails) before any failure is raised
    shard_dirs = [Path(f.result()) for f in futures]
    return {"pages": pages, **merge_shards(config, data_dir, shard_dirs, run_id, seeded=True)}


def main(argv: list[str] | None = None) -> None:
    """``python -m flows.sharded --config F --shard i/N --data-dir D``: one shard worker (what
    ``sharded_run`` launches); ``--workers`` is accepted for symmetry with ``run`` and unused."""
    ap = argparse.ArgumentParser(prog="python -m flows.sharded", description=main.__doc__)
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--shard", required=True)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    shard_run(load_run_config(args.config).with_shard(args.shard), args.data_dir)


if __name__ == "__main__":
    main()
