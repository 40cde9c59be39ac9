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
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from schemas.synthesis import JudgeVerdict

METHOD = "alias-match"
_BOXED = re.compile(r"\\?boxed\{([^{}]*)\}")
_PUNCT = re.compile(r"[^\w\s]")
_ARTICLE = re.compile(r"^(the|a|an)\s+")
_NUM_SEP = re.compile(r"(?<=\d)[,\s](?=\d{3}\b)")
_HEDGES = (
    "cannot be determined", "can't be determined", "cannot determine", "unable to determine", "not enough information",
    "i don't know", "i do not know", "unknown", "not sure", "unclear", "could not find", "couldn't find",
    "no answer", "insufficient information", "it is impossible", "not possible to determine",
)
_MULTI = re.compile(r"\b(either\b.+\bor\b|one of\b|possibly\b|or possibly|maybe\b|perhaps\b)")
_LIST = re.compile(r"[;,/]|\bor\b|\band\b")


def extract_answer(response: str) -> str:
    """The answer span: the last ``\\boxed{}`` content, else the response, trimmed."""
    boxed = _BOXED.findall(response)
    return (boxed[-1] if boxed else response).strip()


def fold(text: str) -> str:
    """Lower-case, diacritic-free, punctuation-free, article-free, single-spaced."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = _NUM_SEP.sub("", text)
    text = " ".join(_PUNCT.sub(" ", text).split())
    return _ARTICLE.sub("", text)


def hedge_reason(response: str, reference: str) -> str | None:
    """Why a response does not commit to one answer, or None when it does."""
    low = extract_answer(response).lower()
    if any(h in low for h in _HEDGES):
        return "hedged"
    if _MULTI.search(low):
        return "multiple_answers"
    ref_has_list = bool(_LIST.search(reference.lower()))
    parts = [p for p in _LIST.split(low) if p.strip()]
    if not ref_has_list and len(parts) >= 3 and len(low.split()) <= 3 * len(parts) + 2:
        return "multiple_answers"
    return None


def matches(response: str, answer: str, aliases: Iterable[str] = ()) -> bool:
    """Alias-aware normalised match (rules 3–4 of the module docstring)."""
    got = fold(extract_answer(response))
    if not got:
        return False
    refs = [r for r in (fold(a) for a in (answer, *aliases)) if r]
    if got in refs:
        return True
    if len(got.split()) > 12:
        return False
    padded = f" {got} "
    return any(f" {r} " in padded for r in refs)


def judge_offline(response: str | None, answer: str, aliases: Iterable[str] = ()) -> JudgeVerdict:
    """The offline answer judge: no response, hedges and mismatches are all ``correct = False`` with a reason."""
    if response is None or not response.strip():
        return JudgeVerdict(False, METHOD, "no_answer")
    hedge = hedge_reason(response, answer)
    if hedge:
        return JudgeVerdict(False, METHOD, hedge)
    if matches(response, answer, aliases):
        return JudgeVerdict(True, METHOD, "match")
    return JudgeVerdict(False, METHOD, "answer_wrong")


def found_in(text: str, answer: str, aliases: Iterable[str] = ()) -> str | None:
    """The reference (or alias) as it appears, whole-word and folded, in ``text`` (an observation), else None."""
    hay = f" {fold(text)} "
    for ref in (answer, *aliases):
        folded = fold(ref)
        if folded and f" {folded} " in hay:
            return ref
    return None
