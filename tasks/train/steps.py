"""Prefect surface of the training stage: one task that launches ``python -m training.grpo``."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from tasks.train.launch import run_training, train_command


@task(name="train", tags=["gpu"])
def train_step(recipe: Path, output_dir: Path | None, log_path: Path, export_dir: Path | None = None,
               index_dir: Path | None = None, max_steps: int | None = None) -> str:
    cmd = train_command(recipe, output_dir=output_dir, export_dir=export_dir, index_dir=index_dir,
                        max_steps=max_steps)
    get_run_logger().info("training: recipe %s, log %s", recipe, log_path)
    run = run_training(cmd, log_path, output_dir=output_dir)
    get_run_logger().info("training finished (exit %d)", run.returncode)
    return str(run.output_dir or "")
