"""Answer normalisation and the offline answer judge (alias-aware normalised match).

The same normaliser decides "correct" for the difficulty filter's offline solver, the offline answer
judge and (through the export) the GRPO accuracy reward, so the three agree by construction.

Rules, in order:

1. the final answer is the ``\\boxed{…}`` content when there is one, else the whole response;
2. hedged or multi-answer responses are rejected outright: "cannot be determined", "unknown",
   "not sure", "either X or Y", and lists of several candidates;
3. normalise: Unicode-fold (NFKD, no diacritics), lower-case, drop punctuation and leading articles,
   collapse spaces, and read number words/grouping ("17,400" → "17400");
4. correct when the normalised answer equals the reference or any alias, or when the response is a
   short sentence (≤ 12 words) that contains the reference as whole words.

The functions live in ``toolenv/judging.py`` (training's rewards use them too); this module re-exports them.
"""

from __future__ import annotations

from toolenv.judging import METHOD, extract_answer, fold, found_in, hedge_reason, judge_offline, matches

__all__ = ["METHOD", "extract_answer", "fold", "found_in", "hedge_reason", "judge_offline", "matches"]
