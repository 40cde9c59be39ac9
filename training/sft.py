"""``python -m training.sft --recipe R``: the SFT stage on the exported ``sft`` shards (PAPER.md §8.1).

TRL's ``SFTTrainer`` (trl==1.16.0) does the work; we pass it three things:

- the **data** exactly as exported (``data.load_sft_examples``): OpenAI-style ``messages`` (system prompt with
  the ``<tools>`` schema the teacher saw, user question, assistant ``<think>`` text + ``tool_calls``, ``tool``
  results) and the row's ``images``;
- a **collator** (``InterleavedVisionCollator``) that puts each image where its ``<image>`` marker is — in the
  user turn *or in a tool result* (crop, sharpen… return images) — before TRL's vision collator renders the
  chat template and runs the model's processor (TRL's own helper puts every image before the first user
  message, which is wrong for multi-image trajectories);
- ``assistant_only_loss``: the chat template's ``{% generation %}`` blocks (the tiny model's template has them;
  for Qwen3-VL TRL swaps in its ``qwen3_vl`` training template) mark the supervised tokens, so system, user
  and tool-response tokens carry label ``-100``: the paper's objective, observations as conditioning only.

Packing and padding-free batching stay off (multi-image rows; TRL refuses both for vision data). The final
model + processor go to ``<output_dir>/final`` with TRL's model card naming the base model and the export.
Exit code 0 on success, 1 on a recipe/shard error (one message), other errors propagate.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

from training.config import Recipe, RecipeError
from training.data import load_sft_examples
from training.rollout import clip_text

log = logging.getLogger("training.sft")
IMAGE_MARKER = "<image>"


def interleave(messages: Sequence[dict[str, Any]], images: Sequence[Any],
               marker: str = IMAGE_MARKER) -> list[dict[str, Any]]:
    """``messages`` with string contents turned into content blocks, one ``{"type": "image", "image": img}``
    block at each ``marker``, images taken in order. Raises ``ValueError`` when the counts differ."""
    pending = list(images)
    out: list[dict[str, Any]] = []
    for m in messages:
        content = m.get("content")
        msg = {k: v for k, v in m.items() if v is not None}
        if isinstance(content, str):
            blocks: list[dict[str, Any]] = []
            for i, part in enumerate(content.split(marker)):
                if i:
                    if not pending:
                        raise ValueError("more <image> markers than images")
                    blocks.append({"type": "image", "image": pending.pop(0)})
                if part:
                    blocks.append({"type": "text", "text": part})
            msg["content"] = blocks
        out.append(msg)
    if pending:
        raise ValueError(f"{len(pending)} images without an <image> marker")
    return out


def clip_tool_results(example: dict[str, Any], max_chars: int | None) -> dict[str, Any]:
    """[S] CPU recipes: each ``tool`` message's text cut to ``max_chars`` (image markers kept), as the GRPO
    rollouts cut observations (``rollout.max_observation_chars``)."""
    if max_chars is None:
        return example
    messages = []
    for m in example["messages"]:
        if m["role"] == "tool":
            markers = m["content"].count(IMAGE_MARKER)
            text = m["content"].replace(IMAGE_MARKER + "\n", "").replace(IMAGE_MARKER, "")
            m = {**m, "content": IMAGE_MARKER * markers + ("\n" if markers else "") + clip_text(text, max_chars)}
        messages.append(m)
    return {**example, "messages": messages}


def decode_image(data: bytes | Image.Image) -> Image.Image:
    return data if isinstance(data, Image.Image) else Image.open(io.BytesIO(data)).convert("RGB")


@dataclass
class InterleavedVisionCollator(DataCollatorForVisionLanguageModeling):  # type: ignore[misc]
    """TRL's vision collator with images placed at their ``<image>`` markers (see the module docstring)."""

    def _collate_language_modeling(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        prepared = [{"messages": interleave(ex["messages"], [decode_image(b) for b in ex["images"]]),
                     "images": []} for ex in examples]
        return super()._collate_language_modeling(prepared)  # type: ignore[no-any-return]


def sft_config(recipe: Recipe) -> Any:
    """TRL's ``SFTConfig`` from the recipe (PAPER.md §8.1 names in ``SftSpec``)."""
    from trl import SFTConfig

    t, s = recipe.train, recipe.sft
    bf16 = recipe.model.dtype == "bfloat16" and not t.use_cpu
    return SFTConfig(output_dir=str(t.output_dir), per_device_train_batch_size=s.per_device_batch,
                     gradient_accumulation_steps=s.grad_accum, learning_rate=t.learning_rate,
                     num_train_epochs=s.epochs, max_steps=t.max_steps, lr_scheduler_type=s.scheduler,
                     warmup_steps=s.warmup_ratio, weight_decay=s.weight_decay, logging_steps=t.logging_steps,
                     save_strategy="steps", save_steps=t.save_steps, report_to=[], use_cpu=t.use_cpu, bf16=bf16,
                     seed=t.seed, data_seed=recipe.data.seed, max_length=s.max_length, packing=False,
                     padding_free=False, assistant_only_loss=s.assistant_only_loss,
                     gradient_checkpointing=recipe.model.gradient_checkpointing and not t.use_cpu,
                     remove_unused_columns=False, dataset_kwargs={"skip_prepare_dataset": True},
                     disable_tqdm=True)


def _limit_pixels(processor: Any, max_pixels: int | None) -> None:
    """``image_max_pixels``: Qwen-VL image processors bound the pixels per image through ``size['longest_edge']``
    (and ``max_pixels``); processors without that notion (the tiny CLIP one) are left as they are."""
    ip = getattr(processor, "image_processor", None)
    if max_pixels is None or ip is None:
        return
    size = getattr(ip, "size", None)
    if isinstance(size, dict) and "longest_edge" in size:
        ip.size = {**size, "longest_edge": max_pixels}
    if hasattr(ip, "max_pixels"):
        ip.max_pixels = max_pixels


def build_sft_trainer(recipe: Recipe) -> Any:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import SFTTrainer
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    from training.grpo import load_policy

    if recipe.stage != "sft":
        raise RecipeError(f"recipe {recipe.name} is a {recipe.stage} recipe, not sft")
    if recipe.data.export_dir is None:
        raise RecipeError("data.export_dir is required (an export folder with sft/train-*.parquet)")
    out = recipe.train.output_dir
    out.mkdir(parents=True, exist_ok=True)
    examples = [clip_tool_results(e, recipe.sft.max_tool_chars)
                for e in load_sft_examples(recipe.data.export_dir, "train", max_items=recipe.data.max_items,
                                           seed=recipe.data.seed)]
    texts = [m["content"] for e in examples for m in e["messages"]]
    model, processor = load_policy(recipe, AutoModelForImageTextToText, AutoProcessor, tiny_texts=texts)
    _limit_pixels(processor, recipe.sft.image_max_pixels)
    if recipe.sft.freeze_vision:
        for name, p in model.named_parameters():
            if "vision" in name:
                p.requires_grad_(False)
    template = None
    if recipe.sft.assistant_only_loss and not has_generation_markers(processor.chat_template):
        template = get_training_chat_template(processor)
        if template is None:
            raise RecipeError(f"{type(processor).__name__}: no training chat template with {{% generation %}} "
                              "markers is known for this model; set sft.assistant_only_loss false or add one")
    collator = InterleavedVisionCollator(processor=processor, max_length=recipe.sft.max_length,
                                         assistant_only_loss=recipe.sft.assistant_only_loss,
                                         chat_template=template)
    dataset = Dataset.from_list(examples)
    torch.manual_seed(recipe.train.seed)
    return SFTTrainer(model=model, args=sft_config(recipe), train_dataset=dataset, processing_class=processor,
                      data_collator=collator)


def train(recipe: Recipe, callbacks: Sequence[Any] = ()) -> Path:
    """Train and save; returns the final checkpoint folder."""
    from training.report import finish, step_callback

    trainer = build_sft_trainer(recipe)
    trainer.add_callback(step_callback("sft"))
    for cb in callbacks:
        trainer.add_callback(cb)
    log.info("recipe %s (sft): %d trajectories, max_steps %d, lr %g, assistant_only_loss %s", recipe.name,
             len(trainer.train_dataset), recipe.train.max_steps, recipe.train.learning_rate,
             recipe.sft.assistant_only_loss)
    result = trainer.train()
    return finish(trainer, recipe, result)


if __name__ == "__main__":
    from training.run import main

    raise SystemExit(main())
