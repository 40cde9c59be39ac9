"""Prefect surface for run bookkeeping."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from schemas.run_config import RunConfig
from tasks.runs import record


@task(name="start_run")
def start_run(data_dir: Path, run_id: str, flow: str, config: RunConfig) -> None:
    record.start(data_dir, run_id, flow, config)


@task(name="finish_run")
def finish_run(data_dir: Path, run_id: str, status: str, error: str | None = None) -> None:
    record.finish(data_dir, run_id, status, error)
