"""Prefect surface of the ingest stage: one task per source, one for degrees."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from schemas.run_config import IngestConfig, SourceConfig
from tasks.ingest.ingest import ingest_source
from tasks.runs import record
from warehouse.db import connect
from warehouse.pages import refresh_degrees


@task(name="ingest_source", tags=["warehouse-writer"])
def ingest_one(data_dir: Path, source: SourceConfig, ingest: IngestConfig, run_id: str, workers: int) -> int:
    with connect(data_dir / "warehouse.duckdb") as con:
        result = ingest_source(con, data_dir, source, ingest, run_id, workers=workers)
    shown = result.uri if "://" in result.uri else Path(result.uri).name     # no local paths in the log
    if result.unchanged:
        record.stats(data_dir, run_id, f"ingest:{result.source_id}", {("unchanged", "page"): result.pages})
        get_run_logger().info("%s: unchanged since its last ingest, %d pages kept", shown, result.pages)
        return result.pages
    counts = {("kept", "page"): result.pages, ("kept", "image"): result.images}
    counts.update({("dropped", reason): n for reason, n in result.rejects.items()})
    record.stats(data_dir, run_id, f"ingest:{result.source_id}", counts)
    get_run_logger().info("%s: %d pages, %d images, rejects %s", shown, result.pages, result.images,
                          dict(result.rejects))
    return result.pages


@task(name="refresh_degrees", tags=["warehouse-writer"])
def update_degrees(data_dir: Path) -> int:
    with connect(data_dir / "warehouse.duckdb") as con:
        return refresh_degrees(con)
