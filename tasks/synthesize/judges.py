"""The rejection cascade after synthesis (PAPER.md §6.4): answer judge, process judge, one-step collapse.

Offline (no ``judge_model``):

- **answer judge**: ``answers.judge_offline`` (alias-aware normalised match; hedges and multi-answer
  responses rejected);
- **process judge**: five documented rules mirroring the five criteria of the paper's query-quality
  rubric, each scored in [0, 1], averaged:

  1. ``no_repeats`` — no two tool calls with identical name and arguments (image-search and
     text-search utility: a repeated call brings nothing new);
  2. ``no_errors`` — share of tool steps without an error observation;
  3. ``results_used`` — share of successful searches whose result is picked up later: a title or
     answer from that observation appears in a later assistant turn (query progression);
  4. ``image_then_text`` — every ``image_search`` is followed by a ``text_search`` (the system
     prompt's rule; complementarity of image and text search);
  5. ``grounded_answer`` — the final answer appears in some observation (evidence over noise).

With a judge model, the paper's yes/no accuracy prompt and five-criterion process prompt
(``prompts/synthesize/answer_judge.j2``, ``process_judge.j2``) are rendered here and their replies
parsed here; a reply that cannot be parsed is a failed judgement (``correct = False`` / score 0)
with the raw text kept in the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from prompts import RenderedPrompt, render
from schemas.synthesis import JudgeVerdict, ProcessVerdict, Trajectory, TurnRecord
from tasks.synthesize.answers import extract_answer, fold, found_in
from tasks.synthesize.path_guided import match_titles, passages

RULES = "rules"
_SEARCHES = ("text_search", "image_search")
_CORRECT = re.compile(r"correct\s*[:=]\s*\**\s*(yes|no)\b", re.IGNORECASE)
_SCORE = re.compile(r"score\s*[:=]\s*\**\s*([01](?:\.\d+)?|\.\d+)", re.IGNORECASE)


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


# ----------------------------------------------------------------------------- model judges


def answer_prompt(question: str, reference: str, response: str) -> RenderedPrompt:
    return render("synthesize/answer_judge.j2", question=question, reference_answer=reference,
                  assistant_answer=response)


def parse_answer_verdict(raw: str, model: str) -> JudgeVerdict:
    m = _CORRECT.search(raw)
    if m is None:
        return JudgeVerdict(False, model, f"unparsable_judge_reply: {raw[:200]}")
    return JudgeVerdict(m.group(1).lower() == "yes", model, "judge_yes" if m.group(1).lower() == "yes"
                        else "answer_wrong")


def trajectory_summary(traj: Trajectory, *, max_steps: int = 20) -> str:
    """The released code's summary for the query judge: ``Step k: name(args≤200) [ERROR]`` + ``Result: obs≤400``."""
    lines = []
    for k, t in enumerate(tool_steps(traj.turns)[:max_steps], 1):
        err = " [ERROR]" if t.error else ""
        lines.append(f"Step {k}: {t.tool}({(t.arguments or '')[:200]}){err}\nResult: {t.content[:400]}")
    return "\n".join(lines)


def process_prompt(question: str, reference: str, traj: Trajectory) -> RenderedPrompt:
    return render("synthesize/process_judge.j2", question=question, ground_truth=reference,
                  prediction=(traj.final_answer or "")[:300], trajectory_summary=trajectory_summary(traj))


def parse_process_verdict(raw: str, model: str) -> ProcessVerdict:
    m = _SCORE.search(raw)
    if m is None:
        return ProcessVerdict(0.0, model, (f"unparsable_judge_reply: {raw[:200]}",))
    return ProcessVerdict(min(1.0, max(0.0, float(m.group(1)))), model, (raw[:300],))


def reasons_json(verdict: ProcessVerdict) -> str:
    return json.dumps(list(verdict.reasons))
