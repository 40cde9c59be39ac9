"""Prefect surface of the training stage: one task that launches ``python -m training.run`` (SFT or GRPO,
as the recipe says) and logs one line per training step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from tasks.train.launch import run_training, train_command


@task(name="train", tags=["gpu"])
def train_step(recipe: Path, output_dir: Path | None, log_path: Path, export_dir: Path | None = None,
               index_dir: Path | None = None, max_steps: int | None = None,
               model_path: Path | None = None) -> dict[str, Any]:
    logger = get_run_logger()
    cmd = train_command(recipe, output_dir=output_dir, export_dir=export_dir, index_dir=index_dir,
                        max_steps=max_steps, model_path=model_path)
    logger.info("training: recipe %s, log %s", recipe, log_path)
    run = run_training(cmd, log_path, output_dir=output_dir, on_progress=logger.info)
    logger.info("training finished (exit %d)", run.returncode)
    return {**run.result, "log": str(run.log_path)}
