"""Flow ``run``: the main job, chaining the stages that exist so far (ingest → sample paths)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.ingest import ingest
from flows.sample_paths import sample_paths
from schemas.errors import PipelineError
from schemas.run_config import RunConfig
from tasks.runs.record import new_run_id
from tasks.runs.steps import finish_run, start_run


@flow(name="run")
def run(config: RunConfig, data_dir: Path = Path("var"), workers: int = 2,
        run_id: str | None = None) -> dict[str, int]:
    """Run every stage in order, recording the run (config, code version) and its outcome."""
    run_id = run_id or new_run_id("run")
    start_run(data_dir, run_id, "run", config)
    try:
        pages = ingest(config, data_dir, workers, run_id, record_run=False)
        counts = sample_paths(config, data_dir, run_id, record_run=False)
    except PipelineError as err:
        finish_run(data_dir, run_id, "failed", str(err))
        raise
    finish_run(data_dir, run_id, "completed")
    return {"pages": pages, **counts}
