"""Prefect surface of trajectory synthesis."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from schemas.run_config import ShardSpec
from schemas.settings import Settings
from schemas.synthesis import FilterConfig, SynthesisConfig
from schemas.teacher import TeacherConfig
from tasks.filter.stage import filter_hash
from tasks.runs import record
from tasks.synthesize.backends import search_backend_labels
from tasks.synthesize.models import synthesis_models
from tasks.synthesize.stage import synthesize_pool
from tasks.tooling import build_tool_env, load_indexes
from toolenv import EnvConfig
from warehouse.db import connect


@task(name="synthesize", tags=["warehouse-writer"])
def synthesize_step(data_dir: Path, cfg: SynthesisConfig, teacher: TeacherConfig, filter_cfg: FilterConfig,
                    run_id: str, shard: ShardSpec | None = None) -> dict[str, int]:
    env_cfg = EnvConfig(max_turns=cfg.max_turns, max_consecutive_errors=cfg.max_consecutive_errors)
    with connect(data_dir / "warehouse.duckdb") as con:
        settings = Settings()
        models = synthesis_models(con, settings, teacher, cfg, run_id)
        indexes = load_indexes(con, data_dir)
        counts = synthesize_pool(con, cfg, run_id, data_dir, filter_hash(filter_cfg),
                                 lambda: build_tool_env(con, data_dir, env_cfg, indexes=indexes, settings=settings),
                                 models,
                                 concurrency=1 if models.deterministic else teacher.concurrency.max,
                                 owns=None if shard is None else (lambda item_id: shard.owns("item", item_id)))
    record.stats(data_dir, run_id, "synthesize", counts)
    record.stats(data_dir, run_id, "search_backends", dict.fromkeys(search_backend_labels(settings).items(), 1))
    get_run_logger().info("synthesis: %s", {f"{o}:{r}": n for (o, r), n in counts.items()})
    return {f"{o}:{r}": n for (o, r), n in counts.items()}
