"""Prefect surface of the export stage."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from schemas.run_config import RunConfig
from tasks.export.stage import export_dataset
from tasks.filter.stage import filter_hash
from tasks.runs import record
from tasks.synthesize.stage import synthesis_hash
from warehouse.db import connect


@task(name="export", tags=["warehouse-writer"])
def export_step(data_dir: Path, config: RunConfig, run_id: str, limit: int | None = None) -> dict[str, int]:
    with connect(data_dir / "warehouse.duckdb") as con:
        res = export_dataset(con, data_dir, config.export, filter_hash(config.filter), run_id, config.name,
                             config.synthesis.date, limit, synthesis_hash=synthesis_hash(config.synthesis))
    counts = {("sft", "train"): res.sft_rows, **{("rl", s): n for s, n in res.rl_rows.items()}}
    if res.rejected:
        counts[("dropped", "invalid_row")] = res.rejected
    record.stats(data_dir, run_id, "export", counts)
    get_run_logger().info("export %s %s at %s", res.name, "unchanged" if res.unchanged else "written", res.folder)
    return {"sft": res.sft_rows, "rl_train": res.rl_rows["train"], "rl_validation": res.rl_rows["validation"],
            "rejected": res.rejected, "unchanged": int(res.unchanged)}
