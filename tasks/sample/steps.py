"""Prefect surface of the sample-paths stage."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from schemas.run_config import SamplingConfig
from tasks.runs import record
from tasks.sample.stage import sample_all
from warehouse.db import connect


@task(name="sample_paths", tags=["warehouse-writer"])
def sample_paths_step(data_dir: Path, sampling: SamplingConfig, run_id: str) -> dict[str, int]:
    with connect(data_dir / "warehouse.duckdb") as con:
        counts = sample_all(con, sampling, run_id)
    record.stats(data_dir, run_id, "sample_paths", counts)
    kept = sum(n for (outcome, _), n in counts.items() if outcome == "kept")
    get_run_logger().info("sampled %d paths; drops %s", kept,
                          {r: n for (o, r), n in counts.items() if o == "dropped"})
    return {f"{o}:{r}": n for (o, r), n in counts.items()}
