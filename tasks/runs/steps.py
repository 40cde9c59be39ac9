"""Prefect surface for run bookkeeping."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from schemas.errors import PipelineError
from schemas.run_config import RunConfig
from tasks.runs import artifacts, record


@task(name="start_run")
def start_run(data_dir: Path, run_id: str, flow: str, config: RunConfig) -> None:
    record.start(data_dir, run_id, flow, config)


@task(name="finish_run")
def finish_run(data_dir: Path, run_id: str, status: str, error: str | None = None) -> None:
    record.finish(data_dir, run_id, status, error)


@task(name="publish_run_artifacts")
def publish_artifacts(data_dir: Path, flow: str) -> list[str]:
    """The funnel and rejects by reason as table artifacts, the newest export as a link and a markdown card
    summary, on this flow run (the Prefect UI's Artifacts tab). Returns the artifact keys."""
    from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

    try:
        made = artifacts.collect(data_dir)
    except PipelineError as err:        # the run itself succeeded; a missing artifact must not fail it
        get_run_logger().warning("no run artifacts: %s", err)
        return []
    create_table_artifact(made.funnel, key="funnel", description=f"{flow}: what every stage kept and dropped")
    create_table_artifact(made.rejects, key="rejects-by-reason", description=f"{flow}: dropped units by reason")
    keys = ["funnel", "rejects-by-reason"]
    if made.export is not None:
        create_link_artifact(made.export.folder, link_text=made.export.name, key="export",
                             description="the newest export folder (SFT + RL parquet shards, card)")
        create_markdown_artifact(made.export.markdown, key="export-card", description="the export's dataset card")
        keys += ["export", "export-card"]
    return keys
