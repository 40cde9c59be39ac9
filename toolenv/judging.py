"""The offline judges, shared by synthesis (``tasks/synthesize``) and the GRPO rewards (``training/``).

Moved here from ``tasks/synthesize/answers.py`` and ``judges.py`` (promote on second use, DESIGN.md C.3):
training may not import ``tasks``, and the accuracy reward (PAPER.md §8.2.1 r_acc) and the process
reward (r_query) must use the very rules the pipeline filtered with. ``tasks/synthesize`` re-exports them.

**Answer judge** (alias-aware normalised match). Rules, in order:

1. the final answer is the ``\\boxed{…}`` content when there is one, else the whole response;
2. normalise (``fold``): Unicode-fold (NFKD, no diacritics), ``casefold``, drop punctuation and leading
   articles, collapse spaces, read number grouping ("17,400" → "17400") and spell units one way;
3. the exact reference or an alias is correct whatever words it contains ("one of the …", "not …");
4. otherwise, with the reference's own words masked, a response that does not commit to one answer is
   rejected: hedges ("probably", "I think", "cannot be determined", …), a question mark, alternatives
   ("X or Y", "either", "one of", "X and Y" next to the reference, lists of several candidates) and
   negation ("not X");
5. correct when the response states the reference or an alias as whole words, in a sentence of any
   length.

Measured on a labelled set of response/reference pairs built from the bundled corpus's answers
(``benchmarks/answer_judge_eval.py``; numbers in BENCHMARKS.md).

**Process judge** (``process_rules``): five rules mirroring the five criteria of the paper's
query-quality rubric, each in [0, 1], averaged (see ``tasks/synthesize/judges.py`` for the list).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence

from schemas.synthesis import JudgeVerdict, ProcessVerdict, Trajectory, TurnRecord

METHOD = "alias-match"
_BOXED = re.compile(r"\\?boxed\{([^{}]*)\}")
_PUNCT = re.compile(r"[^\w\s]")
_ARTICLE = re.compile(r"^(the|a|an)\s+")
_NUM_SEP = re.compile(r"(?<=\d)[,\s](?=\d{3}\b)")
# One spelling per unit, so an infobox's ``44579000 km2`` matches prose's "44,579,000 square kilometers".
_UNITS = [(re.compile(rf"(?<=\d) ?(?:{pattern})\b"), f" {unit}".rstrip()) for pattern, unit in [
    (r"square kilometres?|square kilometers?|sq km|km 2\b|km2", "km2"),
    (r"square miles?|sq mi|mi 2\b|mi2", "sq mi"),
    (r"kilometres?|kilometers?|km", "km"),
    (r"metres?|meters?|m", "m"),
    (r"miles?|mi", "mi"),
    (r"per cent|percent", ""),      # "30%" loses its sign with the punctuation
]]
_HEDGES = (
    "cannot be determined", "can t be determined", "cannot determine", "unable to determine", "not enough information",
    "i don t know", "i do not know", "unknown", "not sure", "unclear", "could not find", "couldn t find",
    "no answer", "insufficient information", "it is impossible", "not possible to determine", "probably", "likely",
    "i think", "i believe", "i guess", "my guess", "it seems", "seems to be", "appears to be", "might be", "may be",
    "could be", "uncertain", "not certain", "presumably", "supposedly",
)
_HEDGE = re.compile(r"\b(?:" + "|".join(re.escape(h) for h in _HEDGES) + r")\b")
_MULTI = re.compile(r"\b(?:either|or|one of|possibly|perhaps|maybe|nor|versus|vs)\b")
_NEGATION = re.compile(r"\b(?:not|no|never|neither|isn t|wasn t|aren t|weren t|doesn t|didn t|cannot|non)\b")
_GOLD = "zzgoldzz"
_AND_NEXT = re.compile(rf"\b{_GOLD} (?:and|as well as|plus) \w|\w (?:and|as well as|plus) {_GOLD}\b|\bboth\b")
_LIST = re.compile(r"[;/]|,(?!\d{3}\b)|\bor\b|\band\b")


def extract_answer(response: str) -> str:
    """The answer span: the last ``\\boxed{}`` content, else the response, trimmed."""
    boxed = _BOXED.findall(response)
    return (boxed[-1] if boxed else response).strip()


def fold(text: str) -> str:
    """Lower-case, diacritic-free, punctuation-free, article-free, single-spaced, thousands separators
    dropped and units after a number spelled one way (``square kilometers`` → ``km2``)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = _NUM_SEP.sub("", text)
    text = " ".join(_PUNCT.sub(" ", text).split())
    for pattern, unit in _UNITS:
        text = pattern.sub(unit, text)
    return _ARTICLE.sub("", text)


def _refs(answer: str, aliases: Iterable[str]) -> list[str]:
    """Folded reference and aliases, longest first (so a longer alias is masked before a shorter one)."""
    return sorted({r for r in (fold(a) for a in (answer, *aliases)) if r}, key=len, reverse=True)


def _raw_without(text: str, refs: Iterable[str]) -> str:
    """``text`` with every case-insensitive raw occurrence of a reference masked (for "?" and list checks)."""
    for ref in sorted(refs, key=len, reverse=True):
        if ref:
            text = re.sub(re.escape(ref), f" {_GOLD} ", text, flags=re.IGNORECASE)
    return text


def hedge_reason(response: str, reference: str, aliases: Iterable[str] = ()) -> str | None:
    """Why a response does not commit to one answer, or None when it does. The words of the reference (and
    aliases) are masked first, so a gold that contains "one of", "not" or "and" is never held against it."""
    span = extract_answer(response)
    refs = _refs(reference, aliases)
    folded = f" {fold(span)} "
    for ref in refs:
        folded = folded.replace(f" {ref} ", f" {_GOLD} ")
    rest = folded.replace(_GOLD, " ")
    raw_rest = _raw_without(span, (reference, *aliases))
    if _HEDGE.search(rest):
        return "hedged"
    if "?" in raw_rest:
        return "question"
    if _MULTI.search(rest) or "&" in raw_rest or _AND_NEXT.search(folded):
        return "multiple_answers"
    if _NEGATION.search(rest):
        return "negated"
    parts = [p for p in _LIST.split(raw_rest.lower()) if p.strip()]
    if len(parts) >= 3 and len(raw_rest.split()) <= 3 * len(parts) + 2:
        return "multiple_answers"
    return None


def matches(response: str, answer: str, aliases: Iterable[str] = ()) -> bool:
    """Alias-aware normalised match: the folded answer equals the reference or an alias, or states one as
    whole words (a sentence of any length)."""
    got = fold(extract_answer(response))
    if not got:
        return False
    refs = _refs(answer, aliases)
    if got in refs:
        return True
    padded = f" {got} "
    return any(f" {r} " in padded for r in refs)


def judge_offline(response: str | None, answer: str, aliases: Iterable[str] = ()) -> JudgeVerdict:
    """The offline answer judge: no response, hedges and mismatches are all ``correct = False`` with a reason.
    The exact reference (or an alias) is correct whatever words it contains."""
    if response is None or not response.strip():
        return JudgeVerdict(False, METHOD, "no_answer")
    aliases = tuple(aliases)
    span = extract_answer(response)
    if fold(span) in _refs(answer, aliases) and span.count("?") <= min(r.count("?") for r in (answer, *aliases)):
        return JudgeVerdict(True, METHOD, "match")
    hedge = hedge_reason(response, answer, aliases)
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


# ----------------------------------------------------------------------------- process rules
RULES = "rules"
_SEARCHES = ("text_search", "image_search")
_PASSAGE = re.compile(r"\[Passage \d+\]\nTitle: ([^\n]*)\nURL: [^\n]*\nSummary:\n"
                      r"(.*?)(?=\n\n\[Passage \d+\]|\n\n\(Leakage|\Z)", re.DOTALL)


def passages(observation: str) -> list[tuple[str, str]]:
    """``(title, summary)`` of each ``[Passage i]`` in a ``text_search`` observation."""
    return [(t.strip(), s.strip()) for t, s in _PASSAGE.findall(observation)]


def match_titles(observation: str) -> list[str]:
    """Titles of the ``visual_matches`` in an ``image_search`` observation."""
    body = observation.split("\n", 1)[1] if observation.startswith("Tool execution result:") else observation
    start, end = body.find("{"), body.rfind("}")
    try:
        data = json.loads(body[start:end + 1]) if start >= 0 else {}
    except json.JSONDecodeError:
        return []
    return [str(m.get("title", "")) for m in data.get("visual_matches", []) if isinstance(m, dict)]


def tool_steps(turns: Sequence[TurnRecord]) -> list[TurnRecord]:
    return [t for t in turns if t.role == "tool"]


def _result_names(turn: TurnRecord) -> list[str]:
    if turn.tool == "image_search":
        return [t for t in match_titles(turn.content) if t]
    return [title for title, _ in passages(turn.content)]


def process_rules(traj: Trajectory, answer: str, aliases: Sequence[str]) -> ProcessVerdict:
    """The offline process judge (module docstring)."""
    steps = tool_steps(traj.turns)
    if not steps:
        return ProcessVerdict(0.0, RULES, ("no_tool_calls",))
    calls = [(t.tool, t.arguments) for t in steps]
    no_repeats = 1.0 if len(set(calls)) == len(calls) else 0.0
    no_errors = sum(t.error is None for t in steps) / len(steps)
    later_text = [fold(" ".join(t.content for t in traj.turns[s.index + 1:] if t.role == "assistant")) for s in steps]
    searches = [(s, later) for s, later in zip(steps, later_text, strict=True)
                if s.tool in _SEARCHES and s.error is None]
    used = [any(f" {fold(n)} " in f" {later} " for n in _result_names(s) if fold(n)) for s, later in searches]
    results_used = sum(used) / len(used) if used else 1.0
    order = [t.tool for t in steps]
    image_then_text = 1.0 if all("text_search" in order[i + 1:] for i, name in enumerate(order)
                                 if name == "image_search") else 0.0
    final = traj.final_answer
    grounded = 1.0 if final and any(found_in(t.content, extract_answer(final)) for t in steps) else 0.0
    parts = {"no_repeats": no_repeats, "no_errors": no_errors, "results_used": results_used,
             "image_then_text": image_then_text, "grounded_answer": grounded}
    score = round(sum(parts.values()) / len(parts), 4)
    return ProcessVerdict(score, RULES, tuple(f"{k}={v:.2f}" for k, v in parts.items()))
