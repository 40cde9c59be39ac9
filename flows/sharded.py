"""Flows ``sharded_run`` and ``merge_shards``: the same run on N workers with disjoint seed shards, merged.

Each shard is ``searchvl run --shard i/N`` in its own process and data dir (``<data_dir>/shards/i-of-N``):
ingest (every shard ingests the same sources), then path sampling for the seeds whose
``sha256(wiki NUL title) mod N == i``, then questions. The shard warehouses are merged into
``<data_dir>``, and the stages that choose over the whole pool (pool dedup, difficulty filter,
enhancement subset, synthesis caps, the RL split) run once on the merged warehouse, so the result equals
a single-worker run of the same config. Workers here are local processes; on a cluster each shard is a
flow run on a Prefect work pool instead (README, "Running at scale").
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.futures import wait

from flows._recorded import recorded
from flows.export import export
from flows.synthesis import synthesis
from schemas.run_config import RunConfig, ShardSpec
from tasks.shards.steps import merge_step, run_shard_step


@flow(name="merge_shards")
def merge_shards(config: RunConfig | None, data_dir: Path, shard_dirs: list[Path],
                 run_id: str | None = None) -> dict[str, int]:
    """Union the shard warehouses into ``data_dir``; with a config, then pool → filter → enhance →
    synthesize → export there (what a shard leaves out)."""
    if config is None:
        return merge_step(data_dir, shard_dirs, None)

    def body(rid: str) -> dict[str, int]:
        counts = merge_step(data_dir, shard_dirs, rid)
        counts |= synthesis(config, data_dir, rid, record_run=False)
        counts |= export(config, data_dir, rid, record_run=False)
        return counts

    return recorded("merge_shards", config, data_dir, run_id, True, body)


@flow(name="sharded_run")
def sharded_run(config: RunConfig, config_path: Path, data_dir: Path = Path("var"), shards: int = 2,
                workers: int = 1, run_id: str | None = None) -> dict[str, int]:
    """Run ``shards`` shard workers at once (``config_path`` is what each worker loads; ``config`` must be
    it, loaded), wait for all, then ``merge_shards`` with the config."""
    specs = [ShardSpec(index=i, count=shards) for i in range(shards)]
    config.with_shard(specs[0])       # a config that cannot be sharded fails here, before any worker starts
    futures = [run_shard_step.submit(config_path, s, data_dir, workers) for s in specs]
    wait(futures)                     # every shard finishes (or fails) before any failure is raised
    shard_dirs = [Path(f.result()) for f in futures]
    return merge_shards(config, data_dir, shard_dirs, run_id)
