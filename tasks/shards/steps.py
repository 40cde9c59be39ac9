"""Prefect surface of sharded runs: seed a shard from the shared warehouse, run it (a flow run on a work pool,
or a local process), merge."""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

from prefect import get_client, get_run_logger, task
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment

from schemas.run_config import ShardSpec, load_run_config
from tasks.runs import record
from tasks.shards.launch import ShardRunError, run_shard, seed_shard, shard_command, shard_dir
from tasks.shards.merge import merge_shards


def _worker_env() -> dict[str, str]:
    """This process's environment plus the Prefect API it reports to (a test server, a real server or
    this process's ephemeral one), so the shard's flow runs show up next to the parent's."""
    with get_client(sync_client=True) as client:
        api = str(client.api_url)
    return {**os.environ, "PREFECT_API_URL": api}  # noqa: TID251 - passed through to the worker, not read


@task(name="run_shard", tags=["shard-worker"], retries=1, retry_delay_seconds=1)
def run_shard_step(config_path: Path, shard: ShardSpec, data_dir: Path, workers: int,
                   phase: str = "questions", deployment: str | None = None) -> str:
    """Seed shard ``i/N`` from the warehouse in ``data_dir`` and run its ``phase``: as a flow run of the
    ``shard_run`` deployment ``deployment`` on its work pool, else in a local process. Returns its data dir.
    A failed, crashed or killed shard is retried once, alone (it resumes: every stage skips finished keys)."""
    out = shard_dir(data_dir, shard, phase)
    seeded = seed_shard(data_dir, out)
    log = get_run_logger()
    if deployment is not None:
        params = {"config": load_run_config(config_path).with_shard(shard).model_dump(mode="json"),
                  "data_dir": str(out.resolve()), "phase": phase}
        run = cast(FlowRun, run_deployment(deployment, parameters=params, timeout=None, poll_interval=1,
                                           flow_run_name=f"shard-{phase}-{shard.index}-of-{shard.count}"))
        log.info("shard %s %s: flow run %s ended %s", shard, phase, run.name, run.state_name)
        if run.state is None or not run.state.is_completed():
            raise ShardRunError(f"shard {shard} ({phase}): flow run {run.name} of {deployment} ended "
                                f"{run.state_name} (worker log; data dir {out})")
        return str(out)
    cmd = shard_command(config_path, shard, out, workers, phase)
    log.info("shard %s %s (%s): %s", shard, phase, "seeded" if seeded else "resumed", " ".join(cmd))
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
