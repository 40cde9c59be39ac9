"""Records of the question stage: node context, question spec, rewrite steps, grounding, gates, items."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Verdict = Literal["pass", "fail", "skip"]


@dataclass(frozen=True, slots=True)
class NodeContext:
    """What the question stage knows about one path node (from the warehouse)."""

    title: str
    role: str
    lead: str
    infobox_type: str | None
    infobox: dict[str, str]
    aliases: tuple[str, ...]


HopKind = Literal["noun", "context", "link", "clause"]


@dataclass(frozen=True, slots=True)
class Hop:
    """Relation from the previous node to this one: ``phrase`` is readable ("capital"),
    ``kind`` is ``noun`` (the X of Y), ``context`` (quoted sentence context) or ``link`` (no usable
    label: "the X mentioned in the article on Y")."""

    phrase: str
    kind: HopKind
    noun: str            # type noun of the target node ("city", "person", …)


@dataclass(frozen=True, slots=True)
class QuestionSpec:
    """A question as structure: the answer node is never named; ``surfaces[j]`` is how node j
    (anchor = 0, bridges = 1..h-1) is currently mentioned; ``hops[j]`` leads into node j+1."""

    attribute: str
    attribute_phrase: str
    hops: tuple[Hop, ...]
    surfaces: tuple[str, ...]
    obfuscated: bool = False
    text_template: str | None = None   # an LLM's wording with ``{0}``, ``{1}``… where node j is named


@dataclass(frozen=True, slots=True)
class CandidateVerdict:
    candidate: str
    answer_invariance: Verdict
    uniqueness: Verdict
    non_leakage: Verdict
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return (self.answer_invariance, self.uniqueness, self.non_leakage) == ("pass", "pass", "pass")


@dataclass(frozen=True, slots=True)
class RewriteStep:
    """One entity rewrite (farthest bridge first): every candidate with its verdicts."""

    step: int
    entity: str
    candidates: tuple[CandidateVerdict, ...]
    chosen: str | None
    question_after: str
    method: str
    alone_rank: int | None = None         # entity's rank when the descriptor is searched alone (None: not top 10)
    chain_unique: Verdict | None = None   # one fit among the previous node's out-links with this relation/type
    chain_detail: str = ""


@dataclass(frozen=True, slots=True)
class GateResult:
    gate: str                 # masking | uniqueness | visual_relevance | answer_length
    score: float
    verdict: Verdict
    detail: str


@dataclass(frozen=True, slots=True)
class Grounding:
    sha256: str
    file_name: str
    width: int
    height: int
    source_url: str | None
    author: str | None
    license: str | None
    score: float
    method: str               # clip:<model> | heuristic
    referring_expression: str
    candidates: int


@dataclass(frozen=True, slots=True)
class QuestionOutcome:
    """Everything the stage produced for one path; ``reject`` is set when it stopped early."""

    path_id: str
    canonical: str | None
    steps: tuple[RewriteStep, ...] = ()
    rewritten: str | None = None
    grounding: Grounding | None = None
    final: str | None = None
    gates: tuple[GateResult, ...] = ()
    reject: tuple[str, str] | None = None      # (stage, reason)
    detail: str = ""
    method: str = ""
    prompts: dict[str, str] = field(default_factory=dict)
    answer_aliases: tuple[str, ...] = ()
