"""Fatal step and fatal-aware mask (PAPER.md §8.2.2, §10 item 1 and 7, §12.H items 41–42).

Pure functions over per-step error flags and per-token step indices; no model, no environment.

Step indices are **0-based** assistant turns (step ``l`` is the ``l``-th assistant turn); a token's step
is ``-1`` when it is not an assistant token (prompt, observation, padding). With 0-based steps the
paper's ``𝟙[s(t) < f_i]`` keeps the steps before the fatal one, and "not fatal" is ``None`` (the paper's
``f_i = L_i + 1``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

FatalAt = Literal["start", "kth"]


def fatal_index(step_errors: Sequence[bool], *, answered: bool, k: int = 3, at: FatalAt = "start") -> int | None:
    """The fatal step of one episode (0-based), or ``None`` when it is not fatal.

    - A counter of consecutive tool-error steps resets on any good step; the first time it reaches
      ``k`` there is a cascade. ``at="start"`` (default, the released code's ``idx − K + 1``) returns the
      step where the cascade commences, so all ``k`` failing steps are masked; ``at="kth"`` returns the
      ``k``-th error's step (the appendix formula).
    - No cascade and no answer (turn or token budget ran out): fatal at ``len(step_errors)`` — every
      token is kept but the episode is flagged fatal (its advantage is clamped, r_acc = 0). [C] §10 item 7.
    - ``0`` means nothing is salvageable: the caller gives reward 0 and drops the episode.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    run = 0
    for i, failed in enumerate(step_errors):
        run = run + 1 if failed else 0
        if run == k:
            return i - k + 1 if at == "start" else i
    return None if answered else len(step_errors)


def steps_from_assistant_mask(assistant_mask: torch.Tensor) -> torch.Tensor:
    """Step index of each token from a 0/1 assistant mask by counting contiguous blocks of 1s (one
    block per assistant turn, as ``_apply_fatal_step_mask`` in the released rLLM engine); ``-1`` elsewhere.
    Works on ``[T]`` or ``[B, T]``."""
    m = assistant_mask.long()
    prev = torch.nn.functional.pad(m, (1, 0))[..., :-1]
    starts = (m == 1) & (prev == 0)
    block = torch.cumsum(starts.long(), dim=-1) - 1
    return torch.where(m == 1, block, torch.full_like(block, -1))


def fatal_mask(assistant_mask: torch.Tensor, token_steps: torch.Tensor,
               fatal: torch.Tensor | int | None) -> torch.Tensor:
    """M = M_gen · 𝟙[s(t) < f]: the loss mask (float, same shape as ``assistant_mask``).

    ``fatal`` is one index (or ``None`` = not fatal) for a ``[T]`` mask, or a ``[B]`` tensor for ``[B, T]``
    with ``-1`` meaning not fatal. Observation tokens (``assistant_mask == 0``) never count.
    """
    gen = assistant_mask.bool()
    if fatal is None:
        return gen.float()
    f = torch.as_tensor(fatal, device=token_steps.device)
    if f.ndim == 1:
        f = f.unsqueeze(-1)
    keep = (token_steps < f) | (f < 0)
    return (gen & keep).float()
