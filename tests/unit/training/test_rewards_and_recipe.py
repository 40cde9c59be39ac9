"""Composite reward (PAPER.md §8.2.1) and recipe loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.config import RecipeError, load_recipe
from training.rewards import StepRecord, composite, format_reward, query_reward, score_rollout, step_format

RECIPES = Path(__file__).resolve().parents[3] / "training" / "recipes"
GOOD_CALL = StepRecord('<think>look</think><tool_call>{"name": "text_search", "arguments": {"q": "zoo"}}</tool_call>',
                       tool="text_search", arguments='{"q": "zoo"}',
                       observation="[Passage 1]\nTitle: Australia Zoo\nURL: u\nSummary:\nAustralia Zoo is a zoo.")
BAD = StepRecord("gibberish", error="protocol", observation="[ERROR:protocol] Invalid content format")
ANSWER = StepRecord("<think>found</think><response>Australia Zoo</response>", answer="Australia Zoo")


def test_step_format() -> None:
    assert step_format(GOOD_CALL) == 1.0
    assert step_format(ANSWER) == 1.0
    assert step_format(BAD) == 0.0
    failed_call = StepRecord(GOOD_CALL.text, error="bad_arguments", tool="text_search")
    assert step_format(failed_call) == 0.0


def test_format_over_prefix_and_zero_without_steps() -> None:
    steps = [GOOD_CALL, BAD, ANSWER]
    assert format_reward(steps, 3) == pytest.approx(2 / 3)
    assert format_reward(steps, 1) == 1.0
    assert format_reward(steps, 0) == 0.0


def test_composite_weights() -> None:
    assert composite(1.0, 1.0, 0.5) == pytest.approx(0.9)
    assert composite(0.5, 1.0, 1.0) == pytest.approx(0.5)


def test_score_rollout_correct_answer() -> None:
    s = score_rollout([GOOD_CALL, ANSWER], "Australia Zoo", "Australia Zoo", [], fatal=None)
    assert s.fmt == 1.0 and s.acc == 1.0 and 0 < s.query <= 1
    assert s.total == pytest.approx(0.8 + 0.2 * s.query)


def test_query_zero_without_tool_calls() -> None:
    assert query_reward([ANSWER], 1, "Australia Zoo", [], "Australia Zoo") == 0.0
    assert query_reward([BAD, BAD], 2, "Australia Zoo", [], None) == 0.0


def test_fatal_rollouts_get_no_accuracy_and_prefix_only_scores() -> None:
    steps = [GOOD_CALL, BAD, BAD, BAD]
    s = score_rollout(steps, None, "Australia Zoo", [], fatal=1)
    assert s.acc == 0.0 and s.fmt == 1.0          # only the pre-fatal good step is scored
    zero = score_rollout([BAD, BAD, BAD], None, "Australia Zoo", [], fatal=0)
    assert zero.total == 0.0
    vanilla = score_rollout(steps, None, "Australia Zoo", [], fatal=1, prefix_only=False)
    assert vanilla.fmt == 0.25


@pytest.mark.parametrize("name", ["tiny-cpu.yaml", "qwen3-vl-8b.yaml"])
def test_bundled_recipes_validate(name: str) -> None:
    r = load_recipe(RECIPES / name)
    assert r.algo.eps_low == 0.2 and r.algo.eps_high == 0.28
    assert r.algo.estimator == "rloo" and r.algo.aggregation == "seq-mean-token-sum" and r.algo.kl_beta == 0.0
    assert r.algo.fatal_k == 3 and r.algo.alpha == 0.8


def test_paper_hyperparameters_in_gpu_recipe() -> None:
    r = load_recipe(RECIPES / "qwen3-vl-8b.yaml")
    assert (r.rollout.group_size, r.rollout.temperature, r.train.learning_rate) == (8, 0.7, 1e-6)
    assert (r.train.prompts_per_step, r.rollout.max_total_tokens, r.env.max_turns) == (256, 70_000, 50)


def test_recipe_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="not found"):
        load_recipe(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nalgo:\n  ablation: sometimes\n  eps_high: -1\n")
    with pytest.raises(RecipeError, match=r"algo\.ablation") as info:
        load_recipe(bad)
    assert "algo.eps_high" in str(info.value)
    r = load_recipe(RECIPES / "tiny-cpu.yaml", **{"train.max_steps": 5})
    assert r.train.max_steps == 5
