"""Flow ``ingest``: every configured source into the warehouse, then in-degrees."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows._recorded import recorded
from schemas.run_config import RunConfig
from tasks.ingest.steps import ingest_one, update_degrees


@flow(name="ingest")
def ingest(config: RunConfig, data_dir: Path = Path("var"), workers: int = 2, run_id: str | None = None,
           record_run: bool = True) -> int:
    """Ingest sources in config order (one writer at a time); returns pages written."""
    def body(rid: str) -> int:
        pages = sum(ingest_one(data_dir, source, config.ingest, rid, workers) for source in config.ingest.sources)
        update_degrees(data_dir)
        return pages

    return recorded("ingest", config, data_dir, run_id, record_run, body)
