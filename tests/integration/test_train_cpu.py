"""End to end on CPU: RL shards exported from the bundled corpus train a tiny random VLM for 2 steps,
rollouts through the real ``toolenv`` over the saved indexes (PAPER.md §8.2, issue acceptance).

A random model only writes gibberish (every rollout fatal at step 0: ``training.grpo`` runs show it), so
the four rollouts of each group are scripted turn texts, tokenised and appended exactly as sampled
tokens would be; the environment, rewards, mask, advantages and the loss are the real ones. The logged
fatal statistics are checked against a hand count of the same rollouts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")

from tests.factories import exported_demo
from training.config import load_recipe
from training.grpo import build_trainer
from training.rollout import Rollout

RECIPE = Path(__file__).resolve().parents[2] / "training" / "recipes" / "tiny-cpu.yaml"
BAD = "no tags at all"


def _script(answer: str) -> list[list[str]]:
    call = f'<think>search it</think><tool_call>{{"name": "text_search", "arguments": {{"q": "{answer}"}}}}</tool_call>'
    return [
        [call, f"<think>found</think><response>{answer}</response>"],   # answered, not fatal
        [BAD, BAD, BAD],                                                # cascade at step 0: reward 0, dropped
        [BAD, call, "<think>guess</think><response>Paris</response>"],  # isolated error, answered wrong
        [call, BAD, BAD, BAD],                                          # cascade starts at step 1
    ]


class Scripted:
    """Scripted turn texts by position in the group (``_script``)."""

    def __init__(self, tokenizer: Any, eos: int) -> None:
        self.tok, self.eos = tokenizer, eos
        self.index: dict[int, int] = {}

    def __call__(self, contexts: Sequence[Rollout], max_new_tokens: int, turn: int) -> list[list[int]]:
        if turn == 0:  # a new batch of rollouts: positions restart
            self.index = {}
        out = []
        for c in contexts:
            pos = self.index.setdefault(id(c), len(self.index) % 4)
            text = _script(c.prompt.answer)[pos][turn]
            out.append([*self.tok(text, add_special_tokens=False).input_ids[:max_new_tokens - 1], self.eos])
        return out


@pytest.mark.slow
def test_two_steps_on_exported_shards(tmp_path: Path) -> None:
    export = exported_demo(tmp_path)
    data_dir = export.parents[1]
    out = tmp_path / "run"
    recipe = load_recipe(RECIPE, **{"model.tiny": True,   # a random policy: the scripted turns below act for it
                                    "data.export_dir": str(export), "env.index_dir": str(data_dir / "indexes"),
                                    "train.output_dir": str(out), "train.prompts_per_step": 1, "rollout.group_size": 4,
                                    "rollout.max_turn_tokens": 256, "rollout.max_total_tokens": 4096})
    trainer = build_trainer(recipe)
    tok = trainer.processing_class.tokenizer
    trainer.runner.generate = Scripted(tok, tok.convert_tokens_to_ids("<|im_end|>"))
    result = trainer.train()
    assert math.isfinite(result.training_loss)
    assert trainer.state.global_step == 2
    assert any(e.get("loss") not in (None, 0.0) for e in trainer.state.log_history)

    lines = [json.loads(x) for x in (out / "rollout_stats.jsonl").read_text().splitlines()]
    assert len(lines) == 2
    for entry in lines:
        recs = entry["rollouts"]
        assert [r["fatal"] for r in recs] == [None, 0, None, 1]
        assert [r["keep"] for r in recs] == [True, False, True, True]
        assert recs[0]["acc"] == 1.0 and recs[2]["acc"] == 0.0
        assert recs[1]["reward"] == 0.0
        fatal_raw = [r["adv_raw"] for r in recs if r["fatal"] is not None]
        assert entry["fatal/fraction"] == 2 / 4
        assert entry["fatal/dropped"] == 1
        assert entry["fatal/clamped_share"] == sum(a < 0 for a in fatal_raw) / 2
        assert entry["fatal/preserved_share"] == sum(a >= 0 for a in fatal_raw) / 2
        assert entry["turns/mean"] == (2 + 3 + 3 + 4) / 4
        assert entry["accuracy"] == 1 / 4
        for r in recs:
            if r["fatal"] is not None:
                assert r["adv"] == max(r["adv_raw"], 0.0)
    logged = [e for e in trainer.state.log_history if "fatal/fraction" in e]
    assert [e["fatal/fraction"] for e in logged] == [0.5, 0.5]

    final = out / "final"
    trainer.save_model(str(final))
    from transformers import AutoModelForImageTextToText, AutoProcessor

    again = AutoModelForImageTextToText.from_pretrained(final)
    AutoProcessor.from_pretrained(final)  # type: ignore[no-untyped-call]
    for (name, a), (_, b) in zip(trainer.model.state_dict().items(), again.state_dict().items(), strict=True):
        assert a.shape == b.shape and bool((a == b).all()), name
