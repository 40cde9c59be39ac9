"""Answer normalisation and the offline answer judge (alias-aware normalised match), re-exported.

The functions and their rules live in ``toolenv/judging.py``: the difficulty filter's offline solver, the
offline answer judge and the GRPO accuracy reward all use that one normaliser, so they agree by
construction.
"""

from __future__ import annotations

from toolenv.judging import METHOD, extract_answer, fold, found_in, hedge_reason, judge_offline, matches

__all__ = ["METHOD", "extract_answer", "fold", "found_in", "hedge_reason", "judge_offline", "matches"]
