"""``python -m training.grpo --recipe R``: the fatal-aware GRPO stage (PAPER.md §8.2, §12.H).

Reads the exported RL shards and the saved search indexes (``<data_dir>/indexes/text-*``, ``image-*``:
the same ``toolenv`` backends synthesis used), builds the policy (a local checkpoint, or the tiny CPU
VLM from configs), trains with ``FatalAwareGRPOTrainer`` and saves the final model + processor to
``<output_dir>/final``. Per-generation statistics go to ``<output_dir>/rollout_stats.jsonl``.
Exit code 0 on success, 1 on a recipe/shard error (one message), other errors propagate.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from toolenv import EnvConfig, ImageIndex, RapidOcrEngine, TextIndex, ToolEnv
from training.config import EnvSpec, Recipe, RecipeError, load_recipe
from training.data import ShardError, load_prompts

log = logging.getLogger("training.grpo")


def _latest(index_dir: Path, kind: str) -> Path:
    found = sorted((p for p in index_dir.glob(f"{kind}-*") if p.is_dir() and not p.name.startswith(".")),
                   key=lambda p: p.stat().st_mtime)
    if not found:
        raise RecipeError(f"no saved {kind} index under {index_dir} (run synthesis or `searchvl tool` once)")
    return found[-1]


def env_factory(spec: EnvSpec, max_turn_tokens: int, token_counter: Callable[[str], int] | None = None,
                *, ocr: bool = False) -> Callable[[], ToolEnv]:
    """A ``ToolEnv`` builder over the saved indexes (loaded once, shared by every rollout's env)."""
    if spec.index_dir is None:
        raise RecipeError("env.index_dir is required (the data directory's indexes/ folder)")
    text = TextIndex.open(_latest(spec.index_dir, "text"))
    image = ImageIndex.load(_latest(spec.index_dir, "image"))
    engine = RapidOcrEngine() if ocr and importlib.util.find_spec("rapidocr") else None
    cfg = EnvConfig(max_turns=spec.max_turns, max_consecutive_errors=spec.max_consecutive_errors,
                    max_turn_tokens=max_turn_tokens, tool_timeout_s=spec.tool_timeout_s,
                    leakage_guard=spec.leakage_guard)

    def build() -> ToolEnv:
        return ToolEnv.build(cfg, text_search=text, image_search=image, ocr=engine, token_counter=token_counter)

    return build


def grpo_config(recipe: Recipe) -> Any:
    """TRL's ``GRPOConfig`` from the recipe (generation batch = prompts_per_step × G rollouts)."""
    from trl import GRPOConfig

    t, r, a = recipe.train, recipe.rollout, recipe.algo
    rollouts = t.prompts_per_step * r.group_size
    if rollouts % t.steps_per_generation:
        raise RecipeError(f"prompts_per_step × group_size = {rollouts} rollouts do not split into "
                          f"{t.steps_per_generation} mini-batches")
    bf16 = recipe.model.dtype == "bfloat16" and not t.use_cpu
    return GRPOConfig(output_dir=str(t.output_dir), per_device_train_batch_size=rollouts // t.steps_per_generation,
                      steps_per_generation=t.steps_per_generation, num_generations=r.group_size,
                      learning_rate=t.learning_rate, max_steps=t.max_steps, logging_steps=t.logging_steps,
                      save_strategy="steps", save_steps=t.save_steps, report_to=[], use_cpu=t.use_cpu, bf16=bf16,
                      seed=t.seed, data_seed=recipe.data.seed, beta=a.kl_beta, epsilon=a.eps_low,
                      epsilon_high=a.eps_high, temperature=r.temperature, top_p=r.top_p,
                      gradient_checkpointing=recipe.model.gradient_checkpointing and not t.use_cpu,
                      remove_unused_columns=False, max_completion_length=r.max_turn_tokens,
                      lr_scheduler_type="constant",
                      log_completions=False, disable_tqdm=True)


def build_trainer(recipe: Recipe) -> Any:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from training.rollout import ModelGenerator, RolloutRunner
    from training.tiny import build_tiny_vlm
    from training.trainer import FatalAwareGRPOTrainer

    out = recipe.train.output_dir
    out.mkdir(parents=True, exist_ok=True)
    if recipe.data.export_dir is None:
        raise RecipeError("data.export_dir is required (an export folder with rl/train-*.parquet)")
    prompts = load_prompts(recipe.data.export_dir, recipe.data.split, max_items=recipe.data.max_items,
                           seed=recipe.data.seed)
    if len(prompts) < recipe.train.prompts_per_step:
        raise RecipeError(f"{len(prompts)} prompts in the shards, fewer than prompts_per_step "
                          f"({recipe.train.prompts_per_step})")
    path = str(build_tiny_vlm(out / "tiny-init", seed=recipe.train.seed)) if recipe.model.tiny else recipe.model.path
    if path is None:
        raise RecipeError("model.path is required unless model.tiny is true")
    torch.manual_seed(recipe.train.seed)
    dtype = torch.bfloat16 if recipe.model.dtype == "bfloat16" and not recipe.train.use_cpu else torch.float32
    processor = AutoProcessor.from_pretrained(path)  # type: ignore[no-untyped-call]
    model = AutoModelForImageTextToText.from_pretrained(path, dtype=dtype)
    tok = processor.tokenizer
    placeholder = recipe.rollout.image_placeholder or str(processor.image_token)
    suppress = tuple(sorted(set(tok(placeholder, add_special_tokens=False).input_ids)))
    runner = RolloutRunner(processor, env_factory(recipe.env, recipe.rollout.max_turn_tokens,
                                                  lambda s: len(tok(s, add_special_tokens=False).input_ids)),
                           ModelGenerator(model, int(tok.pad_token_id), int(tok.convert_tokens_to_ids("<|im_end|>")),
                                          recipe.rollout.temperature, recipe.rollout.top_p, suppress),
                           recipe.rollout.max_turn_tokens, recipe.rollout.max_total_tokens,
                           recipe.rollout.image_placeholder)
    return FatalAwareGRPOTrainer(model=model, processor=processor, prompts=prompts, runner=runner,
                                 algo=recipe.algo, args=grpo_config(recipe), stats_path=out / "rollout_stats.jsonl")


def train(recipe: Recipe) -> Path:
    """Train and save; returns the final checkpoint folder."""
    trainer = build_trainer(recipe)
    log.info("recipe %s: %d prompts, G=%d, ablation=%s, estimator=%s", recipe.name, len(trainer._prompts),
             recipe.rollout.group_size, recipe.algo.ablation, recipe.algo.estimator)
    result = trainer.train()
    final = recipe.train.output_dir / "final"
    trainer.save_model(str(final))
    trainer.processing_class.save_pretrained(str(final))
    (recipe.train.output_dir / "train_result.json").write_text(json.dumps(
        {"recipe": recipe.name, "global_step": trainer.state.global_step, "train_loss": result.training_loss,
         "log_history": trainer.state.log_history}, indent=2, default=str))
    log.info("saved %s (step %d, loss %.4g)", final, trainer.state.global_step, result.training_loss)
    return final


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.grpo", description=__doc__.split("\n")[0])
    ap.add_argument("--recipe", required=True, type=Path, help="training/recipes/*.yaml")
    ap.add_argument("--output-dir", type=Path, help="override train.output_dir")
    ap.add_argument("--export-dir", type=Path, help="override data.export_dir")
    ap.add_argument("--index-dir", type=Path, help="override env.index_dir")
    ap.add_argument("--max-steps", type=int, help="override train.max_steps")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    over = {k: v for k, v in {"train.output_dir": args.output_dir, "data.export_dir": args.export_dir,
                              "env.index_dir": args.index_dir, "train.max_steps": args.max_steps}.items()
            if v is not None}
    try:
        recipe = load_recipe(args.recipe, **{k: str(v) if isinstance(v, Path) else v for k, v in over.items()})
        train(recipe)
    except (RecipeError, ShardError) as err:
        log.error("%s", err)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
