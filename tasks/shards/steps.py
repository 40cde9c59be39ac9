"""Prefect surface of sharded runs: seed a shard from the shared ingest, run it as its own process, merge."""

from __future__ import annotations

import os
from pathlib import Path

from prefect import get_client, get_run_logger, task

from schemas.run_config import ShardSpec
from tasks.runs import record
from tasks.shards.launch import run_shard, seed_shard, shard_command, shard_dir
from tasks.shards.merge import merge_shards


def _worker_env() -> dict[str, str]:
    """This process's environment plus the Prefect API it reports to (a test server, a real server or
    this process's ephemeral one), so the shard's flow runs show up next to the parent's."""
    with get_client(sync_client=True) as client:
        api = str(client.api_url)
    return {**os.environ, "PREFECT_API_URL": api}  # noqa: TID251 - passed through to the worker, not read


@task(name="run_shard", tags=["shard-worker"], retries=1, retry_delay_seconds=1)
def run_shard_step(config_path: Path, shard: ShardSpec, data_dir: Path, workers: int) -> str:
    """Seed shard ``i/N`` from the run's ingest in ``data_dir`` and run it in its own process; returns its
    data dir. A failed or killed shard is retried once, alone (it resumes: every stage skips finished keys)."""
    out = shard_dir(data_dir, shard)
    seeded = seed_shard(data_dir, out)
    cmd = shard_command(config_path, shard, out, workers)
    get_run_logger().info("shard %s (%s): %s", shard, "seeded" if seeded else "resumed", " ".join(cmd))
    run_shard(cmd, out / "shard.log", _worker_env())
    return str(out)


@task(name="merge_shards", tags=["warehouse-writer"])
def merge_step(target_dir: Path, shard_dirs: list[Path], run_id: str | None, seeded: bool = False) -> dict[str, int]:
    """Merge the shard data dirs into ``target_dir``; counts go to ``stage_stats`` when in a recorded run."""
    counts = merge_shards(target_dir, shard_dirs, seeded=seeded)
    if run_id is not None:
        record.stats(target_dir, run_id, "merge", {(k.split(":", 1)[0], k.split(":", 1)[-1]): n
                                                   for k, n in counts.items()})
    get_run_logger().info("merge: %s", counts)
    return counts
