"""Flow ``questions``: paths → canonical question → fuzzy rewrites → anchor image → gates → VQA items."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows._recorded import recorded
from schemas.run_config import RunConfig
from tasks.questions.steps import questions_step


@flow(name="questions")
def questions(config: RunConfig, data_dir: Path = Path("var"), run_id: str | None = None,
              record_run: bool = True) -> dict[str, int]:
    """One item (accepted or rejected with its reason) per path not yet done for this question config."""
    return recorded("questions", config, data_dir, run_id, record_run,
                    lambda rid: questions_step(data_dir, config.questions, rid, config.ingest))
