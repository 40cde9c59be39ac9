"""SFT data plumbing without a model: images at their markers, CPU clipping of tool results, recipe stages,
the progress line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")

from training.config import RecipeError, load_recipe
from training.report import progress_line
from training.rollout import clip_observation, clip_text
from training.sft import clip_tool_results, interleave

RECIPES = Path(__file__).resolve().parents[3] / "training" / "recipes"


def test_images_go_where_their_markers_are() -> None:
    msgs: list[dict[str, Any]] = [{"role": "system", "content": "sys", "tool_calls": None},
            {"role": "user", "content": "<image>\nwhat is this?", "tool_calls": None},
            {"role": "assistant", "content": "<think>crop</think>",
             "tool_calls": [{"type": "function", "function": {"name": "crop", "arguments": "{}"}}]},
            {"role": "tool", "content": "<image>\ncropped", "tool_calls": None}]
    out = interleave(msgs, ["IMG1", "IMG2"])
    assert out[1]["content"] == [{"type": "image", "image": "IMG1"}, {"type": "text", "text": "\nwhat is this?"}]
    assert out[3]["content"] == [{"type": "image", "image": "IMG2"}, {"type": "text", "text": "\ncropped"}]
    assert out[2]["tool_calls"][0]["function"]["name"] == "crop"
    assert "tool_calls" not in out[0]                              # None fields dropped for the templates
    with pytest.raises(ValueError, match="more <image> markers"):
        interleave(msgs, ["IMG1"])
    with pytest.raises(ValueError, match="without an <image> marker"):
        interleave(msgs, ["IMG1", "IMG2", "IMG3"])


def test_clipping_keeps_markers_and_wrapper() -> None:
    ex = {"messages": [{"role": "tool", "content": "<image>\n" + "x" * 50},
                       {"role": "user", "content": "y" * 50}], "images": [b"1"]}
    clipped = clip_tool_results(ex, 10)
    assert clipped["messages"][0]["content"] == "<image>\n" + "x" * 10 + "…"
    assert clipped["messages"][1]["content"] == "y" * 50                      # only tool results are cut
    assert clip_tool_results(ex, None) is ex
    assert clip_text("abc", 5) == "abc"
    assert clip_observation("<tool_response>\n" + "z" * 20 + "\n</tool_response>", 4) == \
        "<tool_response>\nzzzz…\n</tool_response>"


def test_recipes_name_their_stage(tmp_path: Path) -> None:
    sft = load_recipe(RECIPES / "tiny-cpu-sft.yaml")
    assert sft.stage == "sft" and sft.sft.assistant_only_loss
    paper = load_recipe(RECIPES / "qwen3-vl-8b-sft.yaml")
    assert (paper.stage, paper.train.learning_rate, paper.sft.epochs, paper.sft.scheduler) == ("sft", 2e-5, 8, "cosine")
    assert (paper.sft.warmup_ratio, paper.sft.max_length, paper.sft.image_max_pixels) == (0.1, 32_000, 262_144)
    assert paper.train.max_steps == -1 and not paper.sft.freeze_vision
    grpo = load_recipe(RECIPES / "tiny-cpu.yaml")
    assert grpo.stage == "grpo" and grpo.model.path == "var/train/tiny-cpu-sft/final"
    with pytest.raises(RecipeError, match="max_steps must be >= 1 for grpo"):
        load_recipe(RECIPES / "tiny-cpu.yaml", **{"train.max_steps": -1})


def test_progress_line_names_the_step_numbers() -> None:
    line = progress_line("grpo", 2, 4, {"loss": 0.5, "reward/total": 0.25, "fatal/fraction": 0.75,
                                        "grad_norm": 0.0123, "epoch": 1})
    assert line == "[##########··········] grpo step 2/4 loss 0.5000 reward 0.250 fatal 0.75 grad_norm 0.0123"
    assert progress_line("sft", 0, 0, {}).startswith("[····")
