"""What a training run tells its user: one line per logged step, and where everything went.

- ``step_callback``: a ``TrainerCallback`` that logs ``[####······] step 3/40 loss … reward … fatal … grad_norm …``
  (reward and fatal share only in GRPO) on every log event.
- ``finish``: saves ``<output_dir>/final`` (model + processor + TRL's model card naming the base model and the
  export), ``train_result.json`` (log history, first/last loss) and ``lineage.json`` (what the next stage
  names as its base model), then logs one ``TRAIN_RESULT {json}`` line that ``tasks/train/launch.py`` reads.

Names that reach a card or a log are public: a Hub id, a recipe name, an export's name and hash, never a
local absolute path.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from training.config import Recipe
from training.data import export_label

log = logging.getLogger("training.report")
RESULT_MARKER = "TRAIN_RESULT "
LINEAGE = "lineage.json"
_BAR = 20
TINY_NAME = "tiny-llava-from-config"   # training/tiny.py: random weights, built in process


def progress_line(stage: str, step: int, total: int, logs: dict[str, Any]) -> str:
    """``[#####·····] step 5/10 loss 1.234 reward 0.120 fatal 0.50 grad_norm 0.321`` (known keys only)."""
    done = int(_BAR * step / total) if total > 0 else 0
    parts = [f"[{'#' * done}{'·' * (_BAR - done)}] {stage} step {step}/{total}"]
    for key, label, fmt in (("loss", "loss", ".4f"), ("reward/total", "reward", ".3f"),
                            ("fatal/fraction", "fatal", ".2f"), ("accuracy", "acc", ".2f"),
                            ("grad_norm", "grad_norm", ".4g"), ("learning_rate", "lr", ".2e")):
        value = logs.get(key)
        if isinstance(value, int | float):
            parts.append(f"{label} {value:{fmt}}")
    return " ".join(parts)


class _StepLine(TrainerCallback):
    def __init__(self, stage: str) -> None:
        self.stage = stage

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if logs and state.is_world_process_zero and "train_runtime" not in logs:
            log.info("%s", progress_line(self.stage, state.global_step, state.max_steps, logs))


def step_callback(stage: str) -> Any:
    return _StepLine(stage)


def public_model_name(recipe: Recipe) -> str:
    """The base model as a card may name it: the tiny builder, a Hub id, or the recipe that produced a local
    checkpoint (from its ``lineage.json``), else the folder's name."""
    if recipe.model.tiny:
        return TINY_NAME
    path = recipe.model.path or "unknown"
    local = Path(path)
    if not local.exists():
        return path                                   # a Hub id
    lineage = local / LINEAGE
    if lineage.is_file():
        return str(json.loads(lineage.read_text())["model"])
    return local.name


def _losses(history: list[dict[str, Any]]) -> list[float]:
    return [float(e["loss"]) for e in history if "loss" in e and "train_runtime" not in e]


def finish(trainer: Any, recipe: Recipe, result: Any) -> Path:
    """Save the final model, card, result and lineage; log where they went (see the module docstring)."""
    out = recipe.train.output_dir
    final = out / "final"
    trainer.save_model(str(final))
    trainer.processing_class.save_pretrained(str(final))
    base = public_model_name(recipe)
    dataset = export_label(recipe.data.export_dir) if recipe.data.export_dir else "unknown"
    trainer.model.config._name_or_path = base          # TRL's card reads the base model from here
    if getattr(trainer, "hub_model_id", None) is None:
        trainer.hub_model_id = recipe.name               # the card's quick-start names this, not "None"
    trainer.create_model_card(model_name=recipe.name, dataset_name=dataset,
                              tags=["searchvl", recipe.stage, "multimodal-deep-search"])
    if (out / "README.md").is_file():
        shutil.copyfile(out / "README.md", final / "README.md")
    (final / LINEAGE).write_text(json.dumps({"model": recipe.name, "stage": recipe.stage, "base_model": base,
                                             "dataset": dataset}, indent=2))   # the next stage's base name
    history = list(trainer.state.log_history)
    losses = _losses(history)
    stats = out / "rollout_stats.jsonl"
    summary = {"recipe": recipe.name, "stage": recipe.stage, "global_step": trainer.state.global_step,
               "train_loss": result.training_loss, "first_loss": losses[0] if losses else None,
               "last_loss": losses[-1] if losses else None, "base_model": base, "dataset": dataset,
               "output_dir": str(out), "checkpoint": str(final),
               "rollout_stats": str(stats) if stats.is_file() else None}
    (out / "train_result.json").write_text(json.dumps({**summary, "log_history": history}, indent=2,
                                                      default=str))
    log.info("saved %s (step %d, loss first %s last %s)", final, trainer.state.global_step,
             summary["first_loss"], summary["last_loss"])
    log.info("%s%s", RESULT_MARKER, json.dumps(summary, default=str))
    return final
