"""Fuzzy entity rewriting (PAPER.md §3.2): bridges from the farthest back toward the anchor.

For each bridge the model proposes up to N descriptors; the first that passes all three invariants
replaces the bridge's name:

- answer invariance: the rewritten question still has the same answer;
- uniqueness: the descriptor picks out this entity;
- non-leakage: no alias of any path node appears (``LeakChecker``).

If no candidate passes for some bridge the path fails (the paper resamples the walk). Every attempt is
recorded as a ``RewriteStep`` with each candidate's verdicts.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from schemas.questions import CandidateVerdict, NodeContext, QuestionSpec, RewriteStep, Verdict
from tasks.llm import BadModelOutput
from tasks.questions.leakage import LeakChecker, fold
from tasks.questions.spec import attribute_phrase, can_obfuscate, render, type_noun

_DEFINITION = re.compile(r"\b(?:is|was|are|were)\s+(?:a|an|the|one of the)\s+([^.;:()]+)", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)])\.\s+(?=[A-Z])")
_SKIP_KEYS = re.compile(r"image|caption|alt|map|logo|flag|coat|seal|signature|name|title|website|url|footnote|"
                        r"label|pushpin|coordinates|^coor|relief|width|size|_ref|note", re.IGNORECASE)
_CUT = re.compile(r",|\bwhich\b|\bwho\b|\bthat\b| and (?:is|was)\b", re.IGNORECASE)
_PHRASE_BREAKS = frozenset({"of", "in", "on", "at", "by", "for", "with", "from", "between", "before", "after",
                            "during", "under", "and", "or", "to", "its", "their", "his", "her", "the", "a", "an"})
_PREFERRED_KEYS = ("founded", "established", "birth_date", "born", "formation", "opened", "released",
                   "occupation", "genre", "country", "location", "type", "nationality", "party",
                   "population_total", "area_total_km2", "launch_date", "operator", "manufacturer")


class QuestionModel(Protocol):
    """The language port of this stage: rule-based offline, an LLM online (``tasks/questions/llm.py``)."""

    @property
    def method(self) -> str:
        """``rule-based`` or ``llm:<model>``: written into every row the model produces."""
        ...

    def canonical(self, spec: QuestionSpec, nodes: Sequence[NodeContext], answer: str) -> QuestionSpec:
        """The canonical question naming every node, as a spec whose surfaces can be swapped (an LLM's
        wording becomes ``spec.text_template``); raises ``ModelOutputError`` on bad output."""
        ...

    def propose(self, node: NodeContext, question: str, n: int) -> list[str]:
        """Up to ``n`` descriptors for ``node`` given the partly rewritten question."""
        ...

    def unique(self, question: str, node: NodeContext, descriptor: str) -> tuple[Verdict, str]:
        """Does ``descriptor`` (in ``question``) pick out ``node`` only?"""
        ...

    def same_answer(self, question: str, answer: str, context: str) -> tuple[Verdict, str]:
        """Does ``question`` still have ``answer``? ``context`` is the path's Wikipedia text."""
        ...

    def judge_final(self, question: str, referring_expression: str) -> tuple[Verdict, str]:
        """Final uniqueness judge that sees only the question: exactly one consistent answer?"""
        ...


ModelOutputError = BadModelOutput     # a model answer that cannot be used; ``raw`` keeps the text


def definitional_phrase(lead: str, max_words: int = 10) -> str | None:
    """"X is a French-Algerian city in …" → "French-Algerian city in …" (first clause of the first
    sentence, capped): a definition later in the lead usually defines something else.

    The cap keeps "the <phrase>" under the search tools' 13-gram leakage guard: a longer verbatim run
    of the entity's own lead would make the guard drop that page from every search the solver makes,
    so the bridge could never be found (nor should a descriptor be a quotable sentence)."""
    first = _SENTENCE_END.split(lead.strip().split("\n", 1)[0], maxsplit=1)[0]
    m = _DEFINITION.search(first[:600])
    if not m:
        return None
    phrase = _CUT.split(m.group(1), maxsplit=1)[0].strip()
    words = phrase.split()
    if len(words) > max_words:  # end where a phrase can end: before the last preposition or conjunction
        words = words[:max_words]
        cuts = [i for i in range(2, len(words)) if words[i].lower() in _PHRASE_BREAKS]
        if cuts:
            words = words[:cuts[-1]]
        while words and words[-1].lower() in _PHRASE_BREAKS:
            words.pop()
    return " ".join(words) if len(words) >= 2 else None


def offline_candidates(node: NodeContext, n: int, max_value_tokens: int = 6) -> list[str]:
    """Rule-based descriptors: the lead's definitional phrase, then infobox facts, then both. A fact whose
    value names the node itself ("conflict: American Revolutionary War" on that war's page) is skipped:
    it could never pass non-leakage, and it would take the place of a fact that can."""
    noun = type_noun(node)
    keys = [k for k in _PREFERRED_KEYS if k in node.infobox]
    keys += [k for k in node.infobox if k not in keys and not _SKIP_KEYS.search(k)]
    own_names = [fold(a) for a in {node.title, *node.aliases} if len(a) >= 3]
    facts = []
    for key in keys:
        value = node.infobox[key].strip()
        if value and len(value.split()) <= max_value_tokens and not any(n in fold(value) for n in own_names):
            facts.append(f"whose {attribute_phrase(key)} is {value}")
    definition = definitional_phrase(node.lead)
    out: list[str] = []
    if definition and facts:
        out.append(f"the {definition} {facts[0]}")
    if definition:
        out.append(f"the {definition}")
    out += [f"the {noun} {fact}" for fact in facts]
    return list(dict.fromkeys(out))[:n]


@dataclass
class RewriteResult:
    spec: QuestionSpec
    steps: list[RewriteStep]
    failed_entity: str | None = None


def rewrite_bridges(spec: QuestionSpec, nodes: Sequence[NodeContext], answer: str, model: QuestionModel,
                    leaks: LeakChecker, *, n_candidates: int, context: str, rng: random.Random,
                    obfuscation_p: float, alone: Callable[[str, str], int | None] | None = None,
                    alone_k: int | None = None) -> RewriteResult:
    """Rewrite bridges v_{h-1} … v_1 in that order; stop at the first bridge with no passing candidate.

    Answer obfuscation (vaguer phrasing of the asked attribute) is applied with ``obfuscation_p`` first,
    so the entity rewrites are checked against the question as it will finally read. ``alone(descriptor,
    title)`` gives the entity's rank when the descriptor is searched by itself (recorded on the step); with
    ``alone_k`` set, a descriptor that ranks its entity within the top ``alone_k`` is self-sufficient and fails
    uniqueness (the online path; the legacy rule-based check wants the opposite, so it only records the rank).
    """
    steps: list[RewriteStep] = []
    if rng.random() < obfuscation_p and can_obfuscate(spec):
        spec = replace(spec, obfuscated=True)
        steps.append(RewriteStep(0, "(answer)", (), "obfuscated", render(spec), model.method))
    for j in range(len(spec.surfaces) - 1, 0, -1):
        node = nodes[j]
        verdicts = []
        chosen = None
        ranks: dict[str, int | None] = {}
        for cand in model.propose(node, render(spec), n_candidates):
            trial = replace(spec, surfaces=(*spec.surfaces[:j], cand, *spec.surfaces[j + 1:]))
            text = render(trial)
            leak = leaks.find(cand)
            no_leak: Verdict = "fail" if leak else "pass"
            rank = alone(cand, node.title) if alone is not None else None
            uniq, u_detail = model.unique(text, node, cand) if not leak else ("skip", "")
            if uniq == "pass" and alone_k is not None and rank is not None and rank <= alone_k:
                uniq, u_detail = "fail", f"{u_detail}; self-sufficient: alone rank {rank} (k={alone_k})"
            ranks[cand] = rank
            same, a_detail = model.same_answer(text, answer, context) if uniq == "pass" else ("skip", "")
            detail = "; ".join(x for x in (", ".join(f"{lk.kind}:{lk.span}" for lk in leak), u_detail, a_detail) if x)
            verdict = CandidateVerdict(cand, same, uniq, no_leak, detail)
            verdicts.append(verdict)
            if verdict.accepted:
                chosen, spec = cand, trial
                break
        shown = chosen if chosen is not None else (verdicts[-1].candidate if verdicts else None)
        steps.append(RewriteStep(len(steps) + 1, node.title, tuple(verdicts), chosen, render(spec), model.method,
                                 alone_rank=ranks.get(shown) if shown is not None else None))
        if chosen is None:
            return RewriteResult(spec, steps, failed_entity=node.title)
    return RewriteResult(spec, steps)
