"""Token-level PPO-clip policy loss with the fatal-aware mask (PAPER.md §8.2.4, §8.3, §10 items 3–5).

``policy_loss`` is pure: log-probs, old log-probs, trajectory advantages and the loss mask in, a scalar
loss and its statistics out. Defaults follow the released config: ε_low 0.2 / ε_high 0.28 (DAPO
clip-higher), aggregation ``seq-mean-token-sum`` (per-sequence *sum* of token losses, mean over
sequences), KL off. Options: ``seq-mean-token-mean`` (the paper's displayed 1/Σ_t M_{i,t}),
``token-mean``, and the low-variance (k3) KL with coefficient ``beta`` (1e-3 in the table).
"""

from __future__ import annotations

from typing import Literal

import torch

Aggregation = Literal["seq-mean-token-sum", "seq-mean-token-mean", "token-mean"]


def low_var_kl(logps: torch.Tensor, ref_logps: torch.Tensor) -> torch.Tensor:
    """k3 estimator of KL(π_θ‖π_ref) per token: exp(ref − logp) − (ref − logp) − 1, clamped to [-10, 10]
    as verl's ``low_var_kl``."""
    d = ref_logps - logps
    return (torch.exp(d) - d - 1).clamp(-10, 10)


def aggregate(token_loss: torch.Tensor, mask: torch.Tensor, agg: Aggregation) -> torch.Tensor:
    """Reduce ``[B, T]`` token losses under ``mask``. Rows with an all-zero mask still count as sequences
    in the ``seq-mean-*`` forms (they contribute 0), as in verl."""
    masked = token_loss * mask
    if agg == "seq-mean-token-sum":
        return masked.sum(-1).mean()
    if agg == "seq-mean-token-mean":
        return (masked.sum(-1) / mask.sum(-1).clamp(min=1)).mean()
    if agg == "token-mean":
        return masked.sum() / mask.sum().clamp(min=1)
    raise ValueError(f"unknown loss aggregation {agg!r}")


def policy_loss(logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, *,
                eps_low: float = 0.2, eps_high: float = 0.28, agg: Aggregation = "seq-mean-token-sum",
                ref_logps: torch.Tensor | None = None, beta: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """−min(ρÂ, clip(ρ, 1−ε_low, 1+ε_high)Â) (+ β·KL) per token, masked and aggregated.

    Shapes: ``logps``/``old_logps``/``mask`` ``[B, T]``; ``advantages`` ``[B]`` (trajectory-level, the same
    on every token). The mask multiplies the per-token loss, so masked tokens get exactly zero gradient.
    """
    ratio = torch.exp(logps - old_logps)
    adv = advantages.unsqueeze(-1).to(logps.dtype)
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1 - eps_low, 1 + eps_high) * adv
    token_loss = -torch.min(unclipped, clipped)
    kl_mean = 0.0
    if beta > 0:
        if ref_logps is None:
            raise ValueError("beta > 0 needs ref_logps")
        kl = low_var_kl(logps, ref_logps)
        token_loss = token_loss + beta * kl
        kl_mean = float((kl * mask).sum() / mask.sum().clamp(min=1))
    loss = aggregate(token_loss, mask, agg)
    with torch.no_grad():
        n = mask.sum().clamp(min=1)
        is_clipped = ((ratio < 1 - eps_low) & (adv < 0)) | ((ratio > 1 + eps_high) & (adv > 0))
        stats = {"clip_ratio": float((is_clipped.float() * mask).sum() / n), "kl": kl_mean,
                 "loss_tokens": float(mask.sum())}
    return loss, stats
