"""Prefect surface of the question stage."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from schemas.run_config import IngestConfig, QuestionsConfig
from schemas.settings import Settings
from tasks.questions.stage import question_all, text_index
from tasks.runs import record
from tasks.tooling import load_uniqueness_index
from warehouse import graph as graph_repo
from warehouse.db import connect


@task(name="questions", tags=["warehouse-writer"])
def questions_step(data_dir: Path, cfg: QuestionsConfig, run_id: str, ingest_cfg: IngestConfig) -> dict[str, int]:
    scorer, scorer_name = None, "heuristic"
    if cfg.clip_model_path is not None:
        from tasks.questions.clip import load_clip_scorer

        scorer, scorer_name = load_clip_scorer(cfg.clip_model_path)
    with connect(data_dir / "warehouse.duckdb") as con:
        counts = question_all(con, cfg, run_id, data_dir, Settings(), text_index, scorer, scorer_name,
                              ingest_cfg=ingest_cfg)
    record.stats(data_dir, run_id, "questions", counts)
    get_run_logger().info("questions: %s", {f"{o}:{r}": n for (o, r), n in counts.items()})
    return {f"{o}:{r}": n for (o, r), n in counts.items()}


@task(name="uniqueness_indexes")
def uniqueness_index_step(data_dir: Path) -> int:
    """Build the question stage's uniqueness index of every wiki now (or find it current), once, before the shards
    that share ``indexes/`` start: each would otherwise index every page of the corpus itself. Returns the wikis."""
    with connect(data_dir / "warehouse.duckdb", read_only=True) as con:
        wikis = graph_repo.wikis(con)
        for wiki in wikis:
            load_uniqueness_index(con, data_dir, wiki)
    return len(wikis)
