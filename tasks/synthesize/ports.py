"""The model-shaped ports of the filter and synthesis stages, with their offline implementations.

- ``Solver``: answers an item with the evidence one gate allows (none, or one tool result);
- ``AnswerJudge``: decides whether a response answers the item;
- ``ProcessJudge``: scores a trajectory's process.

The offline implementations are deterministic and labelled (``path-guided``, ``alias-match``,
``rules``); the model-backed ones live in ``tasks/synthesize/remote.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from schemas.synthesis import OFFLINE, JudgeVerdict, ProcessVerdict, Trajectory
from tasks.synthesize.answers import METHOD, found_in, judge_offline
from tasks.synthesize.judges import RULES, process_rules


@dataclass(frozen=True, slots=True)
class ItemInput:
    """What the filter's solver and the teacher get of a pool item (image: the degraded one when there is
    one), plus the reference the judges compare with."""

    item_id: str
    question: str
    answer: str
    aliases: tuple[str, ...]
    image: bytes | None
    degradation: str | None = None
    nodes: tuple[str, ...] = ()          # the hidden path (anchor, bridges, answer node), for the grounding rules
    labels: tuple[str, ...] = ()         # other hidden labels (gate scores) the trajectory must not repeat


class Solver(Protocol):
    @property
    def name(self) -> str: ...

    async def answer(self, question: str, image: bytes | None, evidence: str, *, attempt: int) -> str: ...


class AnswerJudge(Protocol):
    @property
    def name(self) -> str: ...

    async def judge(self, question: str, reference: str, aliases: Sequence[str], response: str | None
                    ) -> JudgeVerdict: ...


class ProcessJudge(Protocol):
    @property
    def name(self) -> str: ...

    async def score(self, question: str, reference: str, aliases: Sequence[str], traj: Trajectory
                    ) -> ProcessVerdict: ...


class OfflineSolver:
    """Answers only what the evidence it was given states: the reference (or an alias) as written there,
    else "cannot be determined". With no tool (``evidence == ""``) it sees only the question text, so it
    is correct exactly when the question leaks its answer. It needs the reference to recognise it, which
    a real solver would not: this makes it a conservative (over-dropping) shortcut detector."""

    name = OFFLINE

    def __init__(self, answer: str, aliases: Sequence[str]) -> None:
        self.reference, self.aliases = answer, tuple(aliases)

    async def answer(self, question: str, image: bytes | None, evidence: str, *, attempt: int) -> str:
        return found_in(evidence or question, self.reference, self.aliases) or "cannot be determined"


class OfflineAnswerJudge:
    name = METHOD

    async def judge(self, question: str, reference: str, aliases: Sequence[str], response: str | None
                    ) -> JudgeVerdict:
        return judge_offline(response, reference, aliases)


class OfflineProcessJudge:
    name = RULES

    async def score(self, question: str, reference: str, aliases: Sequence[str], traj: Trajectory
                    ) -> ProcessVerdict:
        return process_rules(traj, reference, aliases)
