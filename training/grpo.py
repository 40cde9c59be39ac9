"""``python -m training.grpo --recipe R``: the fatal-aware GRPO stage (PAPER.md §8.2, §12.H).

Reads the exported RL shards and the saved search indexes (``<data_dir>/indexes/text-*``, ``image-*``:
the same ``toolenv`` backends synthesis used), builds the policy (a local checkpoint, or the tiny CPU
VLM from configs), trains with ``FatalAwareGRPOTrainer`` and saves the final model + processor to
``<output_dir>/final``. Per-generation statistics go to ``<output_dir>/rollout_stats.jsonl``.
Exit code 0 on success, 1 on a recipe/shard error (one message), other errors propagate.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from toolenv import EnvConfig, ImageIndex, RapidOcrEngine, TextIndex, ToolEnv
from training.config import EnvSpec, Recipe, RecipeError
from training.data import load_prompts

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


def load_policy(recipe: Recipe, model_cls: Any, processor_cls: Any, *,
                tiny_texts: Sequence[str] = ()) -> tuple[Any, Any]:
    """The model and processor a recipe names: the tiny VLM built from configs under
    ``<output_dir>/tiny-init`` (its tokenizer also trained on ``tiny_texts``), or ``model.path``."""
    import torch

    from training.tiny import build_tiny_vlm

    m = recipe.model
    if m.tiny:
        path = str(build_tiny_vlm(recipe.train.output_dir / "tiny-init", seed=recipe.train.seed,
                                  hidden_size=m.tiny_hidden_size, layers=m.tiny_layers,
                                  vocab_size=m.tiny_vocab_size, texts=tiny_texts,
                                  regex=not m.tiny_cross_word_bpe))
    elif m.path is None:
        raise RecipeError("model.path is required unless model.tiny is true")
    else:
        path = m.path
    torch.manual_seed(recipe.train.seed)
    dtype = torch.bfloat16 if m.dtype == "bfloat16" and not recipe.train.use_cpu else torch.float32
    processor = processor_cls.from_pretrained(path)
    model = model_cls.from_pretrained(path, dtype=dtype)
    log.info("policy %s: %s + %s", recipe.name, type(model).__name__, type(processor).__name__)
    return model, processor


def build_trainer(recipe: Recipe) -> Any:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from training.rollout import ModelGenerator, RolloutRunner
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
    model, processor = load_policy(recipe, AutoModelForImageTextToText, AutoProcessor)
    tok = processor.tokenizer
    placeholder = recipe.rollout.image_placeholder or str(processor.image_token)
    suppress = tuple(sorted(set(tok(placeholder, add_special_tokens=False).input_ids)))
    runner = RolloutRunner(processor, env_factory(recipe.env, recipe.rollout.max_turn_tokens,
                                                  lambda s: len(tok(s, add_special_tokens=False).input_ids)),
                           ModelGenerator(model, int(tok.pad_token_id), int(tok.convert_tokens_to_ids("<|im_end|>")),
                                          recipe.rollout.temperature, recipe.rollout.top_p, suppress),
                           recipe.rollout.max_turn_tokens, recipe.rollout.max_total_tokens,
                           recipe.rollout.image_placeholder, recipe.rollout.max_observation_chars)
    stats = out / "rollout_stats.jsonl"
    stats.unlink(missing_ok=True)          # one run's rollouts, not an append across reruns
    return FatalAwareGRPOTrainer(model=model, processor=processor, prompts=prompts, runner=runner,
                                 algo=recipe.algo, args=grpo_config(recipe), stats_path=stats)


def train(recipe: Recipe, callbacks: Sequence[Any] = ()) -> Path:
    """Train and save; returns the final checkpoint folder."""
    from training.report import finish, step_callback

    if recipe.stage != "grpo":
        raise RecipeError(f"recipe {recipe.name} is a {recipe.stage} recipe, not grpo")
    trainer = build_trainer(recipe)
    trainer.add_callback(step_callback("grpo"))
    for cb in callbacks:
        trainer.add_callback(cb)
    log.info("recipe %s: %d prompts, G=%d, ablation=%s, estimator=%s", recipe.name, len(trainer._prompts),
             recipe.rollout.group_size, recipe.algo.ablation, recipe.algo.estimator)
    result = trainer.train()
    return finish(trainer, recipe, result)


def main(argv: Sequence[str] | None = None) -> int:
    """Kept for ``python -m training.grpo``: the same entry point as ``python -m training.run`` (the recipe's
    ``stage`` picks SFT or GRPO)."""
    from training.run import main as run_main

    return run_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
