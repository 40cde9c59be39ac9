"""Shortcut / one-step-collapse gates (PAPER.md §5, §12.D): drop an item a solver answers with no tool,
after one ``image_search`` on its image, or after one ``text_search``.

[S] Both one-call gates make the call themselves, the same for every solver: ``image_search`` on the
item's image, and ``text_search`` with the question text as the query (the shortcut a solver would try
first). The solver then answers with that single result in context. Greedy decoding, ``attempts``
tries per gate (pass@k recorded); gates run in order and stop at the first solved one, which is the
item's drop reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.synthesis import Gate, SolverAttempt
from tasks.llm import LLMCallError
from tasks.synthesize.ports import AnswerJudge, ItemInput, Solver
from toolenv import EpisodeItem, ToolEnv

OBS_CHARS = 2000


@dataclass(frozen=True, slots=True)
class FilterResult:
    attempts: tuple[SolverAttempt, ...]
    status: str                 # kept | dropped | failed (a model call failed; retried next run)
    reason: str | None          # solved_<gate>
    pass_at_k: dict[str, float]


def _evidence(env: ToolEnv, item: ItemInput, gate: Gate) -> tuple[str, str, str | None]:
    """``(tool call, observation, error)`` of the one call a gate allows."""
    if gate == "no_tool":
        return "", "", None
    if gate == "one_image_search" and item.image is None:
        return "", "", "no_image"
    env.reset(EpisodeItem(item.question, (item.image,) if item.image else (), item.item_id))
    name, args = ("image_search", {"url": "img_1"}) if gate == "one_image_search" else ("text_search",
                                                                                         {"q": item.question})
    obs = env.call(name, args)
    call = f"{name}({args})"
    return call, obs.content, (obs.error.value if obs.error else None)


async def run_gates(env: ToolEnv, item: ItemInput, gates: list[Gate], attempts: int, solver: Solver,
                    judge: AnswerJudge) -> FilterResult:
    """Every attempt of every gate up to the first solved gate."""
    rows: list[SolverAttempt] = []
    pass_at_k: dict[str, float] = {}
    for gate in gates:
        call, evidence, error = _evidence(env, item, gate)
        solved = 0
        for k in range(attempts):
            if error is not None:
                rows.append(SolverAttempt(gate, k, "", False, judge.name, call, evidence[:OBS_CHARS], error))
                continue
            try:
                answer = await solver.answer(item.question, item.image, evidence, attempt=k)
                verdict = await judge.judge(item.question, item.answer, item.aliases, answer)
            except LLMCallError as err:   # the item cannot be verified now; a rerun tries it again
                rows.append(SolverAttempt(gate, k, "", False, judge.name, call, evidence[:OBS_CHARS], err.reason))
                return FilterResult(tuple(rows), "failed", f"model_error:{err.reason}", pass_at_k)
            solved += verdict.correct
            rows.append(SolverAttempt(gate, k, answer, verdict.correct, verdict.method, call, evidence[:OBS_CHARS]))
        pass_at_k[gate] = solved / attempts
        if solved:
            return FilterResult(tuple(rows), "dropped", f"solved_{gate}", pass_at_k)
    return FilterResult(tuple(rows), "kept", None, pass_at_k)
