"""Prefect surface of the difficulty filter."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from schemas.settings import Settings
from schemas.synthesis import FilterConfig
from schemas.teacher import TeacherConfig
from tasks.filter.stage import filter_hash, filter_pool
from tasks.runs import record
from tasks.synthesize.models import filter_models
from tasks.tooling import build_tool_env
from warehouse.db import connect


@task(name="filter_shortcuts", tags=["warehouse-writer"])
def filter_step(data_dir: Path, cfg: FilterConfig, teacher: TeacherConfig, judge_model: str | None,
                run_id: str) -> dict[str, int]:
    with connect(data_dir / "warehouse.duckdb") as con:
        settings = Settings()
        models = filter_models(con, settings, teacher, cfg, judge_model, run_id)
        env = build_tool_env(con, data_dir, settings=settings)
        counts = filter_pool(con, cfg, run_id, data_dir, env, models.make_solver, models.judge,
                             concurrency=1 if models.close is None else teacher.concurrency.max, close=models.close)
    record.stats(data_dir, run_id, "filter", counts)
    get_run_logger().info("filter %s: %s", filter_hash(cfg), {f"{o}:{r}": n for (o, r), n in counts.items()})
    return {f"{o}:{r}": n for (o, r), n in counts.items()}
