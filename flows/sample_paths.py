"""Flow ``sample_paths``: link graph → anchor/bridge/answer paths, with seed rejects."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from schemas.errors import PipelineError
from schemas.run_config import RunConfig
from tasks.runs.record import new_run_id
from tasks.runs.steps import finish_run, start_run
from tasks.sample.steps import sample_paths_step


@flow(name="sample_paths")
def sample_paths(config: RunConfig, data_dir: Path = Path("var"), run_id: str | None = None,
                 record_run: bool = True) -> dict[str, int]:
    """Sample one path per eligible seed (or a reject with its reason) for every wiki."""
    run_id = run_id or new_run_id("sample")
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
