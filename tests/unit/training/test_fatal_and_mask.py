"""Fatal index on table-driven step sequences; the mask's gradient, checked with autograd (PAPER.md §8.2.2)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from training.fatal import fatal_index, fatal_mask, steps_from_assistant_mask  # noqa: E402
from training.loss import policy_loss  # noqa: E402

E, OK = True, False


@pytest.mark.parametrize(("errors", "answered", "start", "kth"), [
    pytest.param([OK, OK, OK], True, None, None, id="clean-answered"),
    pytest.param([OK, E, OK, E, OK], True, None, None, id="isolated-errors"),
    pytest.param([E, E, OK, E, E, OK], True, None, None, id="two-runs-of-two"),
    pytest.param([E, E, E], False, 0, 2, id="cascade-at-start"),
    pytest.param([OK, E, E, E], False, 1, 3, id="cascade-in-middle"),
    pytest.param([OK, OK, OK, E, E, E], False, 3, 5, id="cascade-at-end"),
    pytest.param([E, OK, E, E, E, OK], True, 2, 4, id="cascade-after-isolated-error"),
    pytest.param([E, E, E, E, E], False, 0, 2, id="longer-cascade-first-index"),
    pytest.param([OK, OK], False, 2, 2, id="no-answer-no-cascade"),
    pytest.param([OK, E], False, 2, 2, id="no-answer-trailing-errors"),
    pytest.param([], False, 0, 0, id="no-steps-no-answer"),
])
def test_fatal_index_table(errors: list[bool], answered: bool, start: int | None, kth: int | None) -> None:
    assert fatal_index(errors, answered=answered) == start
    assert fatal_index(errors, answered=answered, at="kth") == kth


def test_fatal_index_k_is_configurable() -> None:
    assert fatal_index([E, E], answered=False, k=2) == 0
    assert fatal_index([E, E, OK], answered=True, k=3) is None
    with pytest.raises(ValueError, match="k must be"):
        fatal_index([], answered=True, k=0)


def test_steps_from_assistant_mask_counts_blocks() -> None:
    m = torch.tensor([0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1])
    assert steps_from_assistant_mask(m).tolist() == [-1, -1, 0, 0, -1, -1, 1, -1, 2, 2, 2]
    batch = torch.stack([m, torch.ones_like(m)])
    assert steps_from_assistant_mask(batch)[1].tolist() == [0] * 11


def _sequence() -> tuple[torch.Tensor, torch.Tensor]:
    # prompt(3) | step0(2) | obs(2) | step1(3) | obs(1) | step2(2) | obs(1) | step3(2)
    gen = torch.tensor([0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1])
    return gen, steps_from_assistant_mask(gen)


@pytest.mark.parametrize("fatal", [0, 1, 2, 3, None])
def test_mask_gradient_zero_on_observations_and_from_fatal_step(fatal: int | None) -> None:
    gen, steps = _sequence()
    mask = fatal_mask(gen, steps, fatal)
    logits = torch.randn(1, gen.numel(), 7, requires_grad=True)
    targets = torch.randint(0, 7, (1, gen.numel()))
    logps = torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    loss, _ = policy_loss(logps, logps.detach(), torch.tensor([1.0]), mask.unsqueeze(0))
    loss.backward()
    assert logits.grad is not None
    per_token = logits.grad[0].abs().sum(-1)
    for t in range(gen.numel()):
        trained = bool(gen[t]) and (fatal is None or int(steps[t]) < fatal)
        if trained:
            assert per_token[t] > 0, f"token {t} (step {int(steps[t])}) should get gradient"
        else:
            assert per_token[t] == 0, f"token {t} (step {int(steps[t])}) must get exactly zero gradient"


def test_batched_mask_with_not_fatal_marker() -> None:
    gen, steps = _sequence()
    mask = fatal_mask(torch.stack([gen, gen]), torch.stack([steps, steps]), torch.tensor([1, -1]))
    assert mask[0].sum() == 2          # step 0 only
    assert mask[1].sum() == gen.sum()  # not fatal: every assistant token
