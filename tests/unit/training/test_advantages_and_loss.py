"""Group advantages, the one-sided clamp, the ablation switch and the PPO loss (PAPER.md §8.2.3–8.2.4, §9.3)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from training.advantages import (  # noqa: E402
    ABLATIONS,
    ablation_spec,
    clamp_fatal,
    clamp_stats,
    group_advantages,
    plan_batch,
)
from training.loss import aggregate, low_var_kl, policy_loss  # noqa: E402

REWARDS = torch.tensor([1.0, 0.0, 0.5, 0.2, 0.9, 0.9, 0.0, 0.1])   # two groups of 4
FATAL = torch.tensor([-1, 2, -1, 0, -1, 3, 1, -1])                 # -1: not fatal


def test_rloo_is_leave_one_out() -> None:
    adv = group_advantages(torch.tensor([1.0, 0.0, 0.5, 0.2]), 4)
    assert torch.allclose(adv, torch.tensor([1.0 - 0.7 / 3, 0.0 - 1.7 / 3, 0.5 - 1.2 / 3, 0.2 - 1.5 / 3]))


def test_grpo_uses_population_std() -> None:
    r = torch.tensor([1.0, 0.0, 0.5, 0.2])
    adv = group_advantages(r, 4, estimator="grpo", eps=0.0)
    assert torch.allclose(adv, (r - r.mean()) / r.std(unbiased=False))
    assert torch.allclose(group_advantages(torch.ones(4), 4, estimator="grpo"), torch.zeros(4))


def test_groups_are_independent_and_sizes_checked() -> None:
    adv = group_advantages(REWARDS, 4)
    assert torch.allclose(adv[:4], group_advantages(REWARDS[:4], 4))
    with pytest.raises(ValueError, match="groups of 3"):
        group_advantages(REWARDS, 3)


def test_clamp_changes_only_negative_advantages_of_fatal_rollouts() -> None:
    raw = group_advantages(REWARDS, 4)
    fatal = FATAL >= 0
    out = clamp_fatal(raw, fatal)
    changed = out != raw
    assert torch.equal(changed, fatal & (raw < 0))
    assert (out[fatal] >= 0).all()
    assert torch.equal(out[~fatal], raw[~fatal])


def test_fatal_rollouts_count_in_group_statistics() -> None:
    plan = plan_batch(REWARDS, FATAL, 4, ablation_spec("fatal_aware"))
    assert torch.allclose(plan.raw, group_advantages(REWARDS, 4))   # computed before any filter


@pytest.mark.parametrize("name", ABLATIONS)
def test_each_ablation_does_what_it_says(name: str) -> None:
    spec = ablation_spec(name)  # type: ignore[arg-type]
    plan = plan_batch(REWARDS, FATAL, 4, spec)
    raw, fatal = group_advantages(REWARDS, 4), FATAL >= 0
    if name == "vanilla":
        assert torch.equal(plan.advantages, raw) and plan.keep.all()
        assert not spec.mask_after_fatal and not spec.prefix_rewards
    elif name == "drop_fatal":
        assert torch.equal(plan.advantages, raw) and torch.equal(plan.keep, ~fatal)
        assert not spec.mask_after_fatal
    elif name == "mask_only":
        assert torch.equal(plan.advantages, raw) and torch.equal(plan.keep, FATAL != 0)
        assert spec.mask_after_fatal and not spec.clamp
    else:
        assert torch.equal(plan.advantages, clamp_fatal(raw, fatal)) and torch.equal(plan.keep, FATAL != 0)
        assert spec.mask_after_fatal and spec.clamp
    with pytest.raises(ValueError, match="unknown ablation"):
        ablation_spec("nope")  # type: ignore[arg-type]


def test_clamp_stats_match_hand_count() -> None:
    plan = plan_batch(REWARDS, FATAL, 4, ablation_spec("fatal_aware"))
    raw = plan.raw[FATAL >= 0]
    s = clamp_stats(plan)
    assert s["fatal/fraction"] == 4 / 8
    assert s["fatal/clamped_share"] == (raw < 0).sum().item() / 4
    assert s["fatal/preserved_share"] == (raw >= 0).sum().item() / 4
    assert s["fatal/clamped_mean_adv"] == pytest.approx(raw[raw < 0].mean().item())


def test_loss_aggregations() -> None:
    tok = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    assert aggregate(tok, mask, "seq-mean-token-sum").item() == pytest.approx((3 + 4) / 2)
    assert aggregate(tok, mask, "seq-mean-token-mean").item() == pytest.approx((1.5 + 4) / 2)
    assert aggregate(tok, mask, "token-mean").item() == pytest.approx(7 / 3)


def test_ppo_clip_uses_asymmetric_epsilons() -> None:
    old = torch.zeros(1, 2)
    mask = torch.ones(1, 2)
    up = torch.log(torch.tensor([[1.5, 1.5]]))     # ratio 1.5 > 1 + 0.28
    loss, stats = policy_loss(up, old, torch.tensor([1.0]), mask, agg="token-mean")
    assert loss.item() == pytest.approx(-1.28)
    assert stats["clip_ratio"] == 1.0
    down = torch.log(torch.tensor([[0.5, 0.5]]))   # ratio 0.5 < 1 − 0.2, negative advantage
    loss, _ = policy_loss(down, old, torch.tensor([-1.0]), mask, agg="token-mean")
    assert loss.item() == pytest.approx(0.8)


def test_kl_off_by_default_and_low_var_kl_option() -> None:
    logps = torch.tensor([[-1.0, -2.0]])
    ref = torch.tensor([[-1.5, -1.0]])
    base, s0 = policy_loss(logps, logps, torch.tensor([0.0]), torch.ones(1, 2))
    assert base.item() == 0.0 and s0["kl"] == 0.0
    with_kl, s1 = policy_loss(logps, logps, torch.tensor([0.0]), torch.ones(1, 2), ref_logps=ref, beta=1e-3)
    assert with_kl.item() == pytest.approx(1e-3 * low_var_kl(logps, ref).sum().item())
    assert s1["kl"] > 0
    with pytest.raises(ValueError, match="ref_logps"):
        policy_loss(logps, logps, torch.tensor([0.0]), torch.ones(1, 2), beta=1e-3)
