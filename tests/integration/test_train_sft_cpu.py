"""SFT on CPU (PAPER.md §8.1): the demo export's ``sft`` shards train the tiny VLM with TRL's ``SFTTrainer``.

Checks the two things a user cannot see from the loss alone: which tokens carry loss (assistant turns only:
no system, user or tool-response token; every assistant turn ends with a supervised ``<|im_end|>``) and
that the images reach the model at their markers; then that the loss falls from the first logged step to
the last.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("trl")

from tests.factories import exported_demo
from training.config import load_recipe
from training.sft import build_sft_trainer, train

RECIPE = Path(__file__).resolve().parents[2] / "training" / "recipes" / "tiny-cpu-sft.yaml"


def _spans(mask: list[bool]) -> list[tuple[int, int]]:
    spans, start = [], None
    for i, on in enumerate([*mask, False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            spans.append((start, i))
            start = None
    return spans


@pytest.mark.slow
def test_sft_masks_and_loss_falls(tmp_path: Path) -> None:
    export = exported_demo(tmp_path)
    out = tmp_path / "sft"
    recipe = load_recipe(RECIPE, **{"data.export_dir": str(export), "train.output_dir": str(out),
                                    "train.max_steps": 15, "train.logging_steps": 5})
    trainer = build_sft_trainer(recipe)
    tok = trainer.processing_class.tokenizer
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    image_id = tok.convert_tokens_to_ids("<image>")
    for row in trainer.train_dataset:
        batch = trainer.data_collator([row])
        ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
        supervised = [lab != -100 for lab in labels]
        spans = _spans(supervised)
        assistants = [m for m in row["messages"] if m["role"] == "assistant"]
        assert len(spans) == len(assistants)
        for (a, b), msg in zip(spans, assistants, strict=True):
            assert tok.decode(ids[max(0, a - 12):a]).endswith("<|im_start|>assistant\n")  # turn starts here
            assert ids[b - 1] == im_end                                                   # and learns to stop
            text = tok.decode(ids[a:b])
            assert msg["content"] in text
            for call in msg["tool_calls"] or []:
                assert f'"name": "{call["function"]["name"]}"' in text
        taught = tok.decode([t for t, s in zip(ids, supervised, strict=True) if s])
        assert "<tool_response>" not in taught and "<|im_start|>user" not in taught
        assert image_id not in [t for t, s in zip(ids, supervised, strict=True) if s]
        masked = tok.decode([t for t, s in zip(ids, supervised, strict=True) if not s])
        for m in row["messages"]:
            if m["role"] in ("system", "user", "tool"):
                snippet = m["content"].replace("<image>", "").strip()[:40]
                assert snippet in masked and snippet not in taught, (m["role"], snippet)
        n_images = len(row["images"])
        assert ids.count(image_id) == 4 * n_images          # 28×28 images, 4 patches each, at their markers
        assert batch["pixel_values"].shape[0] == n_images

    final = train(recipe)
    history = json.loads((out / "train_result.json").read_text())
    losses = [e["loss"] for e in history["log_history"] if "loss" in e]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0], losses
    assert history["first_loss"] == losses[0] and history["last_loss"] == losses[-1]
    card = (final / "README.md").read_text()
    assert "base_model: tiny-llava-from-config" in card and f"datasets: {export.name}@" in card
    assert str(tmp_path) not in card
    assert json.loads((final / "lineage.json").read_text())["model"] == "tiny-cpu-sft"
