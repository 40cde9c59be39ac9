"""Flow ``export``: accepted trajectories → SFT shards, filtered pool items (disjoint) → RL shards, plus the
dataset card, under ``<data_dir>/export/<name>/``."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows._recorded import recorded
from schemas.run_config import RunConfig
from tasks.export.steps import export_step


@flow(name="export")
def export(config: RunConfig, data_dir: Path = Path("var"), run_id: str | None = None, record_run: bool = True,
           limit: int | None = None) -> dict[str, int]:
    """Write the shards and card; an unchanged export is not rewritten."""
    def body(rid: str) -> dict[str, int]:
        return {f"export:{k}": n for k, n in export_step(data_dir, config, rid, limit).items()}

    return recorded("export", config, data_dir, run_id, record_run, body)
