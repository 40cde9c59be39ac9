"""Flow ``sample_paths``: link graph → anchor/bridge/answer paths, with seed rejects."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from schemas.errors import PipelineError
from schemas.run_config import RunConfig
from tasks.runs.steps import finish_run, start_run
from tasks.sample.steps import sample_paths_step


@flow(name="sample_paths")
def sample_paths(config: RunConfig, data_dir: Path, run_id: str, record_run: bool = True) -> dict[str, int]:
    if record_run:
        start_run(data_dir, run_id, "sample_paths", config)
    try:
        counts = sample_paths_step(data_dir, config.sampling, run_id)
    except PipelineError as err:
        if record_run:
            finish_run(data_dir, run_id, "failed", str(err))
        raise
    if record_run:
        finish_run(data_dir, run_id, "completed")
    return counts
