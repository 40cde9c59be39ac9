"""Scheduling end to end: a real ``prefect server`` (no Docker), the deployments from prefect.yaml registered
with ``prefect deploy --all``, and a scheduled run of ``regenerate`` executed by a process worker.

The server, the deploy and the worker are subprocesses with their own PREFECT_HOME and SQLite database in
``tmp_path`` on a free loopback port, so the test runs beside others under xdist and needs no network.
The nightly cron is asserted as registered; the run that executes comes from a second, interval schedule
anchored seconds ahead (with parameter overrides: data in ``tmp_path``, one ingest process), created by the
server's scheduler service exactly as the nightly run would be.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from prefect.blocks.system import Secret
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import DeploymentScheduleCreate, WorkPoolCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId, FlowRunFilter
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.schedules import IntervalSchedule
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.workers.process import ProcessWorker

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # ~45 s alone; headroom for a busy CI box

REPO = Path(__file__).resolve().parents[2]
PREFECT = [sys.executable, "-m", "prefect"]
DEPLOYMENTS = {"run/regenerate", "ingest/ingest", "sample_paths/sample-paths", "questions/questions",
               "synthesis/synthesis", "export/export", "publish/publish", "train/train-grpo"}
TERMINAL_BAD = {StateType.FAILED, StateType.CRASHED, StateType.CANCELLED, StateType.CANCELLING}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group this test started (the server and worker spawn children), then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


@contextmanager
def started(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            yield proc
        finally:
            stop(proc)


def tail(log: Path, n: int = 60) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-n:]) if log.exists() else "(no log)"


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"prefect server exited with {proc.returncode}:\n{tail(log)}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"prefect server not healthy after {timeout:.0f}s:\n{tail(log)}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A real local Prefect server; yields the environment that points CLI calls at it."""
    url = f"http://127.0.0.1:{free_port()}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SEARCHVL_"))}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": url,
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1",  # default 60: the nightly path, just faster
        "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
        "HF_HUB_OFFLINE": "1",
    }
    port = url.split(":")[2].split("/")[0]
    log = tmp_path / "server.log"
    with started([*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", port, "--no-ui"], env,
                 log) as proc:
        wait_healthy(url, proc, log)
        yield env


@contextmanager
def client_for(env: dict[str, str]) -> Iterator[SyncPrefectClient]:
    with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}), \
            get_client(sync_client=True) as client:
        yield client


def set_up_pools_and_secret(env: dict[str, str]) -> None:
    """The README's one-time setup: process pools cpu and gpu, the serialised `warehouse` queue, the Hub token
    block that `prefect deploy` resolves into publish's job variables."""
    with client_for(env) as client:
        template = ProcessWorker.get_default_base_job_template()
        for pool in ("cpu", "gpu"):
            client.create_work_pool(WorkPoolCreate(name=pool, type="process", base_job_template=template))
        client.create_work_queue(name="warehouse", work_pool_name="cpu", concurrency_limit=1)
        Secret(value="hf_not_a_real_token").save("hf-token")


def wait_for_run(client: SyncPrefectClient, deployment_id: Any, schedule_id: Any, worker: subprocess.Popen[bytes],
                 log: Path, timeout: float = 240) -> FlowRun:
    deadline = time.monotonic() + timeout
    run: FlowRun | None = None
    while time.monotonic() < deadline:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(), deployment_filter=DeploymentFilter(
            id=DeploymentFilterId(any_=[deployment_id])))
        ours = sorted((r for r in runs if r.created_by is not None and r.created_by.id == schedule_id),
                      key=lambda r: r.expected_start_time or datetime.max.replace(tzinfo=UTC))
        if ours:  # the scheduler books a few runs ahead; the first is due in seconds, the rest days later
            run = ours[0]
            if run.state_type == StateType.COMPLETED:
                return run
            if run.state_type in TERMINAL_BAD:
                pytest.fail(f"scheduled run ended {run.state_name}: {run.state and run.state.message}\n{tail(log)}")
        if worker.poll() is not None:
            pytest.fail(f"worker exited with {worker.returncode}:\n{tail(log)}")
        time.sleep(1)
    state = run.state_name if run else "never scheduled"
    pytest.fail(f"scheduled run not completed after {timeout:.0f}s ({state}):\n{tail(log)}")


def test_deployments_register_and_a_scheduled_run_executes(server: dict[str, str], tmp_path: Path) -> None:
    set_up_pools_and_secret(server)
    deploy = subprocess.run([*PREFECT, "--no-prompt", "deploy", "--all"], cwd=REPO, env=server,
                            capture_output=True, text=True, timeout=180, check=False)
    assert deploy.returncode == 0, deploy.stdout[-4000:] + deploy.stderr[-4000:]

    data = tmp_path / "var"
    with client_for(server) as client:
        registered = {f"{client.read_flow(d.flow_id).name}/{d.name}": d for d in client.read_deployments()}
        assert set(registered) == DEPLOYMENTS
        regenerate = registered["run/regenerate"]
        [nightly] = regenerate.schedules
        assert nightly.active
        assert getattr(nightly.schedule, "cron", None) == "0 3 * * *"
        assert getattr(nightly.schedule, "timezone", None) == "UTC"
        assert not any(d.schedules for name, d in registered.items() if name != "run/regenerate")
        writers = {n for n, d in registered.items() if "warehouse-writer" in d.tags}
        assert writers == DEPLOYMENTS - {"publish/publish", "train/train-grpo"}
        for name in writers:
            dep = registered[name]
            assert dep.work_pool_name == "cpu" and dep.work_queue_name == "warehouse", name
            assert dep.global_concurrency_limit is not None and dep.global_concurrency_limit.limit == 1, name
        assert registered["train/train-grpo"].work_pool_name == "gpu"
        publish_env = (registered["publish/publish"].job_variables or {})["env"]
        assert publish_env["SEARCHVL_HF_TOKEN"] == "hf_not_a_real_token"  # resolved from the Secret block

        # due in seconds; `limit` is the run flow's preview mode (2 seeds/items), one ingest process
        soon = DeploymentScheduleCreate(
            schedule=IntervalSchedule(interval=timedelta(days=1), anchor_date=datetime.now(UTC) + timedelta(seconds=5)),
            active=True, slug="test-soon", parameters={"data_dir": str(data), "workers": 1, "limit": 2})
        [schedule] = client.create_deployment_schedules(regenerate.id, [soon])

        worker_env = {**server, "SEARCHVL_REPO_DIR": str(REPO)}  # what the pull step cds to
        log = tmp_path / "worker.log"
        with started([*PREFECT, "worker", "start", "--pool", "cpu", "--type", "process", "--install-policy", "never",
                      "--name", "test-worker"], worker_env, log) as worker:
            run = wait_for_run(client, regenerate.id, schedule.id, worker, log)

        assert run.auto_scheduled
        assert run.created_by is not None and run.created_by.type == "SCHEDULE"
        assert run.parameters["data_dir"] == str(data)
        assert run.work_queue_name == "warehouse"

    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    try:
        runs = con.execute("SELECT flow, status FROM runs").fetchall()
        pages, paths = con.execute("SELECT (SELECT count(*) FROM pages), (SELECT count(*) FROM paths)").fetchone()
    finally:
        con.close()
    assert runs == [("run", "completed")]
    assert pages > 0 and paths > 0
