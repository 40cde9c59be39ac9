"""Flow ``train``: fatal-aware GRPO on the exported RL shards, as a subprocess on the GPU work pool."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from tasks.train.steps import train_step


@flow(name="train")
def train(recipe: str, output_dir: Path | None = None, export_dir: Path | None = None,
          index_dir: Path | None = None, max_steps: int | None = None, log_path: Path | None = None) -> str:
    """Run ``python -m training.grpo --recipe <recipe>``; fails with the tail of its log."""
    log = log_path or (output_dir or Path("var/train")) / "train.log"
    return train_step(Path(recipe), output_dir, log, export_dir, index_dir, max_steps)
