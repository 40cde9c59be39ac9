"""Prefect surface of sharded runs: seed a shard from the shared warehouse, run it (a flow run on a work pool,
or a local process), merge."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from prefect import get_client, get_run_logger, task
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment

from schemas.run_config import ShardSpec, load_run_config
from tasks.runs import record
from tasks.shards.launch import WORKER_MODULE, ShardRunError, run_warm, seed_shard, shard_args, shard_dir
from tasks.shards.merge import merge_shards


def prefect_api_url() -> str:
    """The Prefect API this process reports to (a test server, a real server or this process's ephemeral
    one): the shard reports there too, so its flow runs show up next to the parent's and it never starts a
    temporary server of its own."""
    with get_client(sync_client=True) as client:
        return str(client.api_url)


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
    args = [*shard_args(config_path, shard, out, workers, phase), "--api-url", prefect_api_url()]
    log.info("shard %s %s (%s): %s %s", shard, phase, "seeded" if seeded else "resumed", WORKER_MODULE,
             " ".join(args))
    run_warm(f"{WORKER_MODULE}:main", args, out / "shard.log")     # a process forked from the warm server
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
