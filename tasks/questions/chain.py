"""Relational descriptors (PAPER.md §3.2), offline: each entity is described through its relation to the
previous node of the chain, plus at most one fact of its own when the relation alone does not single it out.

Two invariants per rewrite step, both recorded on the ``RewriteStep``:

- **unique given the chain**: among the previous node's out-links that carry the same relation to an entity of
  the same type (the ``competitors``), exactly one fits the descriptor: the entity itself;
- **not self-sufficient**: searching the descriptor's own words alone (the previous node left out) in the local
  index does not rank the entity in the top ``k``; ``alone_rank`` is recorded (None: not in the top 10).

So the descriptor resolves only *given the partly rewritten question*, and every earlier hop stays needed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from schemas.questions import CandidateVerdict, NodeContext, QuestionSpec, RewriteStep, Verdict
from tasks.questions.leakage import LeakChecker, fold
from tasks.questions.offline import descriptor_query
from tasks.questions.rewrite import QuestionModel, RewriteResult
from tasks.questions.spec import attribute_phrase, can_obfuscate, render
from tasks.sample.paths import METADATA_KEY, is_list_value
from tasks.sample.relations import render_relation

TopHits = Callable[[str, int], list[tuple[str, float]]]
ALONE_DEPTH = 10
_SKIP_FACT_KEYS = ("name", "title", "website", "url", "alt", "border", "width", "size", "coordinates", "label")


@dataclass(frozen=True, slots=True)
class Competitor:
    """Another out-link of the previous node with the same relation and type noun."""

    title: str
    infobox: dict[str, str]


@dataclass(frozen=True, slots=True)
class Fact:
    key: str
    value: str

    @property
    def clause(self) -> str:
        return f"whose {attribute_phrase(self.key)} is {self.value}"


def facts_of(node: NodeContext, forbidden: Sequence[str], skip_key: str | None = None,
             max_tokens: int = 6) -> list[Fact]:
    """Short infobox facts of ``node`` that name no path node and are no metadata or list."""
    banned = [fold(t) for t in forbidden if len(t) >= 3]
    out = []
    for key, value in node.infobox.items():
        k, v = key.lower(), value.strip()
        if not v or k == (skip_key or "").lower() or METADATA_KEY.search(k) or any(s in k for s in _SKIP_FACT_KEYS):
            continue
        if len(v.split()) > max_tokens or is_list_value(v) or '"' in v or any(b in fold(v) for b in banned):
            continue
        out.append(Fact(key, v))
    return out


def chain_verdict(fact: Fact | None, competitors: Sequence[Competitor]) -> tuple[Verdict, str]:
    """Exactly one fits: no competitor shares the relation, or none also has the fact."""
    fits = [c.title for c in competitors if fact is None or c.infobox.get(fact.key, "").strip() == fact.value]
    if not fits:
        return "pass", f"unique among {len(competitors) + 1} out-link(s) with this relation"
    return "fail", f"{len(fits) + 1} fit: also {', '.join(fits[:3])}"


def alone_rank(top_hits: TopHits, descriptor: str, title: str) -> int | None:
    """Rank (1-based) of ``title`` when the descriptor's own words are searched alone; None beyond the top 10."""
    query = descriptor_query(descriptor.replace("{x}", " "))
    if not query:
        return None
    for i, (hit, _score) in enumerate(top_hits(query, ALONE_DEPTH), 1):
        if hit == title:
            return i
    return None


@dataclass(frozen=True, slots=True)
class DescriptorCheck:
    descriptor: str
    chain: Verdict
    chain_detail: str
    rank: int | None
    leak: str

    def passes(self, k: int) -> bool:
        return self.chain == "pass" and not self.leak and (self.rank is None or self.rank > k)


def check_descriptor(descriptor: str, fact: Fact | None, title: str, competitors: Sequence[Competitor],
                     top_hits: TopHits, leaks: LeakChecker) -> DescriptorCheck:
    found = leaks.find(descriptor.replace("{x}", " "))
    chain, detail = chain_verdict(fact, competitors)
    return DescriptorCheck(descriptor, chain, detail, alone_rank(top_hits, descriptor, title),
                           ", ".join(f"{lk.kind}:{lk.span}" for lk in found))


def _verdict(c: DescriptorCheck, k: int) -> CandidateVerdict:
    self_sufficient = c.rank is not None and c.rank <= k
    uniq: Verdict = "pass" if c.chain == "pass" and not self_sufficient else "fail"
    detail = "; ".join(x for x in (c.leak, f"chain: {c.chain_detail}",
                                   f"alone rank {c.rank if c.rank is not None else f'>{ALONE_DEPTH}'} (k={k})"
                                   + (": self-sufficient" if self_sufficient else "")) if x)
    return CandidateVerdict(c.descriptor, "pass" if uniq == "pass" and not c.leak else "skip", uniq,
                            "fail" if c.leak else "pass", detail)


def rewrite_chain(spec: QuestionSpec, nodes: Sequence[NodeContext], answer: str, model: QuestionModel,
                  leaks: LeakChecker, competitors: Sequence[Sequence[Competitor]], top_hits: TopHits, *,
                  k: int, n_candidates: int, context: str, rng: random.Random,
                  obfuscation_p: float) -> RewriteResult:
    """Bridges farthest first, each replaced by its relation to the previous node (+ at most one fact), then a
    last step that checks the answer node's own hop (relation only). ``competitors[j]`` are the rivals of node
    ``j + 1``. Stops at the first entity with no passing descriptor."""
    steps: list[RewriteStep] = []
    if rng.random() < obfuscation_p and can_obfuscate(spec):
        spec = replace(spec, obfuscated=True)
        steps.append(RewriteStep(0, "(answer)", (), "obfuscated", render(spec), model.method))
    forbidden = [t for n in nodes for t in (n.title, *n.aliases)]
    h = len(spec.hops)
    for j in [*range(h - 1, 0, -1), h]:
        node, hop = nodes[j], spec.hops[j - 1]
        facts: list[Fact | None] = [None]
        if j < h:
            facts += facts_of(node, forbidden)[: max(0, n_candidates - 1)]
        verdicts, chosen, last = [], None, None
        for fact in facts:
            desc = render_relation(hop.phrase, "{x}", hop.noun, fact.clause if fact else None)
            last = check_descriptor(desc, fact, node.title, competitors[j - 1], top_hits, leaks)
            verdict = _verdict(last, k)
            if verdict.uniqueness == "pass" and verdict.non_leakage == "pass" and j < h:
                trial = replace(spec, surfaces=(*spec.surfaces[:j], desc, *spec.surfaces[j + 1:]))
                same, a_detail = model.same_answer(render(trial), answer, context)
                verdict = replace(verdict, answer_invariance=same, detail=f"{verdict.detail}; {a_detail}")
            verdicts.append(verdict)
            if verdict.accepted:
                chosen = desc
                if j < h:
                    spec = replace(spec, surfaces=(*spec.surfaces[:j], desc, *spec.surfaces[j + 1:]))
                break
        assert last is not None
        steps.append(RewriteStep(len(steps) + 1, node.title, tuple(verdicts), chosen, render(spec), model.method,
                                 alone_rank=last.rank, chain_unique=last.chain, chain_detail=last.chain_detail))
        if chosen is None:
            return RewriteResult(spec, steps, failed_entity=node.title)
    return RewriteResult(spec, steps)
