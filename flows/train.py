"""Flow ``train``: SFT or fatal-aware GRPO (the recipe's ``stage``) on the exported shards, as a subprocess on
the GPU work pool."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from tasks.train.launch import recipe_output_dir
from tasks.train.steps import train_step


@flow(name="train")
def train(recipe: str, output_dir: Path | None = None, export_dir: Path | None = None,
          index_dir: Path | None = None, max_steps: int | None = None, log_path: Path | None = None,
          model_path: Path | None = None) -> dict[str, Any]:
    """Run ``python -m training.run --recipe <recipe>``; returns the run's summary (checkpoint, output_dir,
    rollout_stats, log, first/last loss); fails with the tail of its log."""
    log = log_path or (output_dir or recipe_output_dir(Path(recipe)) or Path("var/train")) / "train.log"
    return train_step(Path(recipe), output_dir, log, export_dir, index_dir, max_steps, model_path)
