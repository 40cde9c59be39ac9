"""One path → one grounded, gated question (or a reject saying where and why it stopped).

canonical question → fuzzy rewrites (farthest bridge first) → anchor image → anchor name replaced by
the referring expression → four gates, each recorded (PAPER.md §4):

- masking: no alias of any path node (anchor and answer node included) in the final question;
- uniqueness: exactly one consistent answer — every descriptor passed its uniqueness check, the anchor
  image belongs to one page only, and each relation leads from its node to exactly one target;
- visual relevance: image score ≥ threshold;
- answer length: the answer has at most ``answer_max_tokens`` whitespace tokens.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

from schemas.paths import SampledPath
from schemas.questions import GateResult, NodeContext, QuestionOutcome, Verdict
from tasks.llm import LLMCallError
from tasks.questions.chain import Competitor, TopHits, alone_rank, rewrite_chain
from tasks.questions.ground import ImageCandidate, ImageScorer, choose_image
from tasks.questions.leakage import LeakChecker
from tasks.questions.offline import descriptor_query
from tasks.questions.rewrite import ModelOutputError, QuestionModel, RewriteResult, rewrite_bridges
from tasks.questions.spec import build_spec, render


@dataclass(frozen=True, slots=True)
class ChainFacts:
    """Counts the uniqueness gate needs: targets per hop sharing the hop's relation label, and how
    many pages use each candidate image."""

    relation_fanout: tuple[int, ...]
    image_pages: dict[str, int]
    competitors: tuple[tuple[Competitor, ...], ...] = ()   # per hop: rivals of its target (``chain.py``)


@dataclass(frozen=True, slots=True)
class QuestionSettings:
    n_candidates: int
    obfuscation_p: float
    image_candidates: int
    relevance_threshold: float
    answer_max_tokens: int
    scorer_name: str
    data_dir: str
    alone_k: int = 3
    max_words: int = 60
    chain_shortcut_gate: bool = True


def path_context(nodes: Sequence[NodeContext]) -> str:
    """The path's Wikipedia text for an LLM answer check (leads and answer-node infobox)."""
    parts = [f"{n.title}: {n.lead[:800]}" for n in nodes]
    box = "; ".join(f"{k} = {v}" for k, v in nodes[-1].infobox.items())
    return "\n".join([*parts, f"{nodes[-1].title} infobox: {box}"])


def shortcut_gate(final: str, targets: Sequence[str], search: TopHits | None, k: int) -> GateResult:
    """Searching the whole question text (no image) must not rank the answer page or the last bridge top-k."""
    if search is None:
        return GateResult("chain_shortcut", 0.0, "skip", "off (questions.chain_shortcut_gate) or no local index")
    hits = [t for t, _ in search(descriptor_query(final), k)]
    found = [(t, hits.index(t) + 1) for t in targets if t in hits]
    detail = ", ".join(f"{t} at rank {r}" for t, r in found) or f"none of {', '.join(targets)} in the top {k}"
    return GateResult("chain_shortcut", float(min((r for _, r in found), default=0)),
                      "fail" if found else "pass", detail)


def gates(final: str, answer: str, leaks: LeakChecker, facts: ChainFacts, image_sha: str, score: float,
          s: QuestionSettings, judge: tuple[Verdict, str]) -> list[GateResult]:
    found = leaks.find(final)
    fan = [*facts.relation_fanout, facts.image_pages.get(image_sha, 0)]
    ambiguous = [f"hop {i + 1}: {n} targets" for i, n in enumerate(fan[:-1]) if n != 1]
    if fan[-1] != 1:
        ambiguous.append(f"image used by {fan[-1]} pages")
    if judge[0] == "fail":
        ambiguous.append(f"judge: {judge[1]}")
    n_tokens = len(answer.split())
    return [
        GateResult("masking", float(len(found)), "fail" if found else "pass",
                   ", ".join(f"{lk.kind}:{lk.alias}~{lk.span}" for lk in found)),
        GateResult("uniqueness", 1.0 if not ambiguous else 0.0, "fail" if ambiguous else "pass",
                   "; ".join(ambiguous) or "; ".join(x for x in ("one target per hop; image on one page",
                                                                   judge[1]) if x)),
        GateResult("visual_relevance", score, "pass" if score >= s.relevance_threshold else "fail",
                   f"threshold {s.relevance_threshold}"),
        GateResult("answer_length", float(n_tokens), "pass" if n_tokens <= s.answer_max_tokens else "fail",
                   f"max {s.answer_max_tokens} tokens"),
        GateResult("question_length", float(len(final.split())), "pass" if len(final.split()) <= s.max_words
                   else "fail", f"max {s.max_words} words"),
    ]


def make_question(path: SampledPath, nodes: Sequence[NodeContext], facts: ChainFacts,
                  images: Sequence[ImageCandidate], model: QuestionModel, leaks: LeakChecker,
                  s: QuestionSettings, scorer: ImageScorer | None, rng: random.Random,
                  search: TopHits | None = None) -> QuestionOutcome:
    """Run the whole question stage for one path; never raises on model output.

    Paths whose every hop carries a relation clause are rewritten offline by ``rewrite_chain`` (relational
    descriptors, chain-unique, not self-sufficient) when ``search`` is given and the model is rule-based."""
    out = QuestionOutcome(path.path_id, None, method=model.method)
    spec = build_spec(list(nodes), list(path.edges), path.answer_attribute)
    try:
        spec = model.canonical(spec, nodes, path.answer)
    except ModelOutputError as err:
        return replace(out, reject=("canonical", "malformed_model_output"), detail=f"{err}: {err.raw[:500]}")
    except LLMCallError as err:
        return replace(out, reject=("canonical", f"model_error_{err.reason}"), detail=err.detail)
    out = replace(out, canonical=render(spec))
    relational = all(h.kind == "clause" for h in spec.hops) and len(facts.competitors) == len(spec.hops)
    try:
        result: RewriteResult
        if relational and search is not None and model.method == "rule-based":
            result = rewrite_chain(spec, nodes, path.answer, model, leaks, facts.competitors, search,
                                   k=s.alone_k, n_candidates=s.n_candidates, context=path_context(nodes), rng=rng,
                                   obfuscation_p=s.obfuscation_p)
        else:
            online = model.method != "rule-based"
            result = rewrite_bridges(spec, nodes, path.answer, model, leaks, n_candidates=s.n_candidates,
                                     context=path_context(nodes), rng=rng, obfuscation_p=s.obfuscation_p,
                                     alone=partial(alone_rank, search) if search is not None else None,
                                     alone_k=s.alone_k if online else None)
    except ModelOutputError as err:
        return replace(out, reject=("rewrite", "malformed_model_output"), detail=f"{err}: {err.raw[:500]}")
    except LLMCallError as err:
        return replace(out, reject=("rewrite", f"model_error_{err.reason}"), detail=err.detail)
    out = replace(out, steps=tuple(result.steps), rewritten=render(result.spec))
    if result.failed_entity is not None:
        return replace(out, reject=("rewrite", "no_valid_descriptor"), detail=result.failed_entity)
    grounding = choose_image(nodes[0], images, s.image_candidates, scorer, s.scorer_name, s.data_dir)
    if grounding is None:
        return replace(out, reject=("ground", "no_anchor_image"), detail=nodes[0].title)
    final_spec = replace(result.spec, surfaces=(grounding.referring_expression, *result.spec.surfaces[1:]))
    final = render(final_spec)
    try:
        judge = model.judge_final(final, grounding.referring_expression)
    except ModelOutputError as err:
        return replace(out, final=final, reject=("gate", "malformed_model_output"), detail=f"{err}: {err.raw[:500]}")
    except LLMCallError as err:
        return replace(out, final=final, reject=("gate", f"model_error_{err.reason}"), detail=err.detail)
    results = gates(final, path.answer, leaks, facts, grounding.sha256, grounding.score, s, judge)
    targets = [nodes[-1].title, *([nodes[-2].title] if len(nodes) > 2 else [])]
    results.append(shortcut_gate(final, targets, search if s.chain_shortcut_gate else None, s.alone_k))
    out = replace(out, grounding=grounding, final=final, gates=tuple(results))
    failed = [g.gate for g in results if g.verdict == "fail"]
    if failed:
        return replace(out, reject=("gate", f"gate_{failed[0]}"), detail=", ".join(failed))
    return out
