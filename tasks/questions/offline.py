"""The rule-based question model: the embedded offline default, labelled ``rule-based`` in every row.

- canonical question: the templates of ``spec.render``;
- descriptors: the lead's definitional phrase and short infobox facts (``offline_candidates``);
- uniqueness: the local full-text index must return the entity as its top hit, ahead of the runner-up
  by a relative score margin (or as the only hit);
- answer invariance: a rewrite only swaps a bridge's surface, so the question still asks the same
  attribute through the same relations; the answer is re-read from the answer node's infobox and
  must equal the path's answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from schemas.questions import NodeContext, QuestionSpec, Verdict
from tasks.questions.rewrite import offline_candidates

TopHits = Callable[[str, int], list[tuple[str, float]]]
_STOP = frozenset(
    "the a an of in on at to by for with whose is was which who that and or its his her".split()  # noqa: SIM905
)


def descriptor_query(descriptor: str) -> str:
    """Search terms of a descriptor (stop words and punctuation dropped)."""
    words = re.findall(r"[\w'-]+", descriptor.lower())
    return " ".join(w for w in words if w not in _STOP)


@dataclass
class RuleBasedModel:
    """Offline ``QuestionModel`` over a text index; one instance per path (it knows the answer node)."""

    top_hits: TopHits
    answer_node_infobox: dict[str, str]
    attribute: str
    margin: float = 0.15
    method: str = "rule-based"

    def canonical(self, spec: QuestionSpec, nodes: Sequence[NodeContext], answer: str) -> QuestionSpec:
        return spec

    def propose(self, node: NodeContext, question: str, n: int) -> list[str]:
        return offline_candidates(node, n)

    def unique(self, question: str, node: NodeContext, descriptor: str) -> tuple[Verdict, str]:
        hits = self.top_hits(descriptor_query(descriptor), 5)
        if not hits:
            return "fail", "index: no hit"
        top, score = hits[0]
        if top != node.title:
            return "fail", f"index: top hit {top!r}"
        if len(hits) == 1:
            return "pass", "index: only hit"
        gap = (score - hits[1][1]) / score if score > 0 else 0.0
        verdict: Verdict = "pass" if gap >= self.margin else "fail"
        return verdict, f"index: top hit, margin {gap:.2f} over {hits[1][0]!r}"

    def same_answer(self, question: str, answer: str, context: str) -> tuple[Verdict, str]:
        reread = self.answer_node_infobox.get(self.attribute, "").strip()
        if reread == answer.strip():
            return "pass", "answer re-read from the answer node's infobox"
        return "fail", f"answer node's infobox now says {reread!r}"

    def judge_final(self, question: str, referring_expression: str) -> tuple[Verdict, str]:
        return "skip", "rule-based: no judge model; the structural fan-out check decides"
