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

Before any process judge (offline or model), ``rollouts.judge`` runs the grounding rules of
``grounding.py`` as code (schema conformity, hidden labels, entity and answer provenance); a trajectory
that breaks one is rejected with the rule as its reason and never reaches the process judge.

With a judge model, the paper's yes/no accuracy prompt and five-criterion process prompt
(``prompts/synthesize/answer_judge.j2``, ``process_judge.j2``) are rendered here and their replies
parsed here; a reply that cannot be parsed is a failed judgement (``correct = False`` / score 0)
with the raw text kept in the reason.
"""

from __future__ import annotations

import json
import re

from prompts import RenderedPrompt, render
from schemas.synthesis import JudgeVerdict, ProcessVerdict, Trajectory
from toolenv.judging import RULES, process_rules, tool_steps

__all__ = ["RULES", "answer_prompt", "parse_answer_verdict", "parse_process_verdict", "process_prompt",
           "process_rules", "reasons_json", "tool_steps", "trajectory_summary"]

_CORRECT = re.compile(r"correct\s*[:=]\s*\**\s*(yes|no)\b", re.IGNORECASE)
_SCORE = re.compile(r"score\s*[:=]\s*\**\s*([01](?:\.\d+)?|\.\d+)", re.IGNORECASE)


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
