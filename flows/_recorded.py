"""Run bookkeeping shared by every flow: a ``runs`` row that ends ``completed`` or ``failed``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from schemas.errors import PipelineError
from schemas.run_config import RunConfig
from tasks.runs.record import new_run_id, writer
from tasks.runs.steps import finish_run, publish_artifacts, start_run

T = TypeVar("T")


def recorded(flow_name: str, config: RunConfig, data_dir: Path, run_id: str | None, record_run: bool,
             body: Callable[[str], T]) -> T:
    """Call ``body(run_id)`` holding the warehouse's writer lock (a second writing run fails at once); when
    ``record_run``, record the run's start and how it ended, and publish the run's artifacts (funnel, rejects
    by reason, the newest export)."""
    run_id = run_id or new_run_id(flow_name)
    with writer(data_dir):
        if record_run:
            start_run(data_dir, run_id, flow_name, config)
        try:
            result = body(run_id)
        except PipelineError as err:
            if record_run:
                finish_run(data_dir, run_id, "failed", str(err))
            raise
        if record_run:
            finish_run(data_dir, run_id, "completed")
            publish_artifacts(data_dir, flow_name)       # funnel, rejects by reason, the export: in the Prefect UI
        return result
