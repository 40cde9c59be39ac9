"""A sharded run on a real local Prefect process work pool: every shard is a flow run of the ``shard_run``
deployment picked up by a process worker this test starts; a shard killed mid-run is retried alone and the
merge still equals a single-worker run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from prefect import Flow, get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

from flows.run import run
from flows.sharded import shard_run, sharded_run
from schemas.run_config import ShardSpec, load_run_config
from tasks.shards.launch import shard_dir
from tests.fakes.processes import kill_lock_holder_once
from warehouse.compare import diff_warehouses

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # one run + a sharded run (2 phases); a busy box is slow
ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "flows/configs/demo.yaml"


@pytest.fixture
def process_pool(prefect_api: None, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A process work pool, a ``shard_run`` deployment on it (code from this checkout) and a worker
    process polling it; yields ``(deployment name, deployment id)``."""
    pool = f"shards-{uuid.uuid4().hex[:8]}"
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        api = str(client.api_url)
    flow = cast(Flow[..., Any], shard_run.from_source(source=str(ROOT), entrypoint="flows/sharded.py:shard_run"))
    dep_id = flow.deploy(name="test-shard", work_pool_name=pool, print_next_steps=False, ignore_warnings=True)
    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_WORKER_QUERY_SECONDS": "1",
           "PREFECT_WORKER_PREFETCH_SECONDS": "1"}
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process",
                               "--limit", "2"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        yield "shard_run/test-shard", str(dep_id)
    finally:
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()


def test_shards_on_a_process_work_pool_equal_one_worker_and_a_killed_shard_is_retried_alone(
        process_pool: tuple[str, str], tmp_path: Path) -> None:
    deployment, dep_id = process_pool
    cfg = load_run_config(DEMO)
    single, sharded = tmp_path / "single", tmp_path / "sharded"
    run(cfg, single, 1, "run-single")

    done = threading.Event()
    lock = shard_dir(sharded, ShardSpec(index=1, count=2), "synthesize") / "warehouse.duckdb.lock"
    killer = threading.Thread(target=kill_lock_holder_once, args=(lock, done), daemon=True)
    killer.start()
    try:
        sharded_run(cfg, DEMO, sharded, shards=2, workers=1, run_id="run-merge", deployment=deployment)
    finally:
        done.set()
    assert diff_warehouses(single / "warehouse.duckdb", sharded / "warehouse.duckdb") == []

    # every shard was a flow run of the deployment; only the killed one (synthesize phase, shard 1) ran twice
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep_id])))
    names = sorted(str(r.name) for r in runs)
    assert names == ["shard-pool-0-of-2", "shard-pool-1-of-2", "shard-questions-0-of-2", "shard-questions-1-of-2",
                     "shard-synthesize-0-of-2", "shard-synthesize-1-of-2", "shard-synthesize-1-of-2"]
    states = sorted(str(r.state_name) for r in runs if r.name == "shard-synthesize-1-of-2")
    assert states[0] == "Completed" and states[1] in ("Crashed", "Failed")
