"""Flow ``ingest``: every configured source into the warehouse, then in-degrees."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from schemas.errors import PipelineError
from schemas.run_config import RunConfig
from tasks.ingest.steps import ingest_one, update_degrees
from tasks.runs.record import new_run_id
from tasks.runs.steps import finish_run, start_run


@flow(name="ingest")
def ingest(config: RunConfig, data_dir: Path = Path("var"), workers: int = 2, run_id: str | None = None,
           record_run: bool = True) -> int:
    """Ingest sources in config order (one writer at a time); returns pages written."""
    run_id = run_id or new_run_id("ingest")
    if record_run:
        start_run(data_dir, run_id, "ingest", config)
    pages = 0
    try:
        for source in config.ingest.sources:
            pages += ingest_one(data_dir, source, config.ingest, run_id, workers)
        update_degrees(data_dir)
    except PipelineError as err:
        if record_run:
            finish_run(data_dir, run_id, "failed", str(err))
        raise
    if record_run:
        finish_run(data_dir, run_id, "completed")
    return pages
