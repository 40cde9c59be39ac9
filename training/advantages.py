"""Advantages with one-sided clamping and the paper's ablation switch (PAPER.md §8.2.3, §9.3(b), §10 item 2).

Order of operations (§12.H item 43), all pure tensor code:

1. group statistics over **all** G rollouts of a prompt, fatal ones included, under no-grad
   (``group_advantages``: RLOO baseline by default [C], ``(r − μ)/(σ + δ)`` with population std as
   the paper's formula);
2. ``max(Â, 0)`` for fatal rollouts only (``clamp_fatal``);
3. only then drop filtered rollouts (``plan_batch``'s ``keep``), so they still shaped the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

Estimator = Literal["rloo", "grpo"]
Ablation = Literal["vanilla", "drop_fatal", "mask_only", "fatal_aware"]
ABLATIONS: tuple[Ablation, ...] = ("vanilla", "drop_fatal", "mask_only", "fatal_aware")


@dataclass(frozen=True, slots=True)
class AblationSpec:
    """What one row of the paper's RL ablation table (§9.3 b) switches on.

    - ``vanilla``: Search-R1 GRPO — observation tokens masked, nothing else; rewards over all steps.
    - ``drop_fatal``: hard masking (Vision-DeepResearch) — fatal rollouts removed after the advantages.
    - ``mask_only``: fatal-aware mask, no clamp.
    - ``fatal_aware``: mask + one-sided clamp (ours, the default).
    """

    mask_after_fatal: bool
    clamp: bool
    drop_fatal: bool
    prefix_rewards: bool      # r_fmt / r_query over the pre-fatal prefix only; fatal at 0 → reward 0, dropped


def ablation_spec(name: Ablation) -> AblationSpec:
    specs = {
        "vanilla": AblationSpec(mask_after_fatal=False, clamp=False, drop_fatal=False, prefix_rewards=False),
        "drop_fatal": AblationSpec(mask_after_fatal=False, clamp=False, drop_fatal=True, prefix_rewards=True),
        "mask_only": AblationSpec(mask_after_fatal=True, clamp=False, drop_fatal=False, prefix_rewards=True),
        "fatal_aware": AblationSpec(mask_after_fatal=True, clamp=True, drop_fatal=False, prefix_rewards=True),
    }
    if name not in specs:
        raise ValueError(f"unknown ablation {name!r}; choose one of {', '.join(ABLATIONS)}")
    return specs[name]


@torch.no_grad()
def group_advantages(rewards: torch.Tensor, group_size: int, *, estimator: Estimator = "rloo",
                     eps: float = 1e-6) -> torch.Tensor:
    """Trajectory-level advantages from rewards laid out group after group (``[N]``, ``N = n·G``).

    ``rloo``: ``r_i − mean of the other G−1 rewards`` (no std division) — the released config [C].
    ``grpo``: ``(r_i − μ_G)/(σ_G + eps)`` with the population std — the paper's displayed equation.
    """
    if group_size < 1 or rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    r = rewards.float().view(-1, group_size)
    if estimator == "rloo":
        if group_size == 1:
            return torch.zeros_like(rewards, dtype=torch.float)
        baseline = (r.sum(-1, keepdim=True) - r) / (group_size - 1)
        return (r - baseline).reshape(-1)
    if estimator == "grpo":
        mu = r.mean(-1, keepdim=True)
        sigma = r.std(-1, keepdim=True, unbiased=False)
        return ((r - mu) / (sigma + eps)).reshape(-1)
    raise ValueError(f"unknown advantage estimator {estimator!r}; use 'rloo' or 'grpo'")


def clamp_fatal(advantages: torch.Tensor, is_fatal: torch.Tensor) -> torch.Tensor:
    """Â_i = max(Â_i, 0) for fatal rollouts; non-fatal advantages are returned unchanged (§8.2.3 step 3)."""
    return torch.where(is_fatal.bool(), advantages.clamp(min=0), advantages)


@dataclass(frozen=True, slots=True)
class BatchPlan:
    advantages: torch.Tensor   # [N] after the clamp (pre-drop: dropped rows keep their value but do not train)
    raw: torch.Tensor          # [N] before the clamp
    keep: torch.Tensor         # [N] bool: rows that go into the loss
    is_fatal: torch.Tensor     # [N] bool


def plan_batch(rewards: torch.Tensor, fatal: torch.Tensor, group_size: int, spec: AblationSpec, *,
               estimator: Estimator = "rloo", eps: float = 1e-6) -> BatchPlan:
    """Advantages, clamp and filtering for one batch. ``fatal`` is ``[N]`` with ``-1`` for non-fatal.

    Fatal at step 0 is dropped under every fatal-aware variant (nothing is salvageable; its reward is
    already 0 and it counted in the group statistics); ``drop_fatal`` drops every fatal rollout.
    """
    is_fatal = fatal >= 0
    raw = group_advantages(rewards, group_size, estimator=estimator, eps=eps)
    adv = clamp_fatal(raw, is_fatal) if spec.clamp else raw
    keep = torch.ones_like(is_fatal)
    if spec.drop_fatal:
        keep &= ~is_fatal
    if spec.prefix_rewards:
        keep &= fatal != 0
    return BatchPlan(adv, raw, keep, is_fatal)


def clamp_stats(plan: BatchPlan) -> dict[str, float]:
    """The §9.5 numbers: share of fatal rollouts clamped (pre-clamp Â < 0) vs preserved, and their mean
    pre-clamp advantage. Zeros when the batch has no fatal rollout."""
    fatal_raw = plan.raw[plan.is_fatal]
    n = fatal_raw.numel()
    neg, pos = fatal_raw[fatal_raw < 0], fatal_raw[fatal_raw >= 0]
    return {
        "fatal/fraction": n / max(1, plan.raw.numel()),
        "fatal/clamped_share": neg.numel() / n if n else 0.0,
        "fatal/preserved_share": pos.numel() / n if n else 0.0,
        "fatal/clamped_mean_adv": float(neg.mean()) if neg.numel() else 0.0,
        "fatal/preserved_mean_adv": float(pos.mean()) if pos.numel() else 0.0,
    }
