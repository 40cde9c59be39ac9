"""Composite reward r = r_fmt · (α·r_acc + (1−α)·r_query), α = 0.8 (PAPER.md §8.2.1, §12.H item 40).

Pure functions over the steps of one rollout. ``upto`` is the number of steps the process rewards
see: the pre-fatal prefix (``fatal`` steps) under the fatal-aware variants, every step for vanilla GRPO.

- r_fmt: mean over the scored steps of a 0/1 check — 0 for a step with a tool or protocol error, else
  the released format regex; 0 when no step is scored (fatal at step 0).
- r_acc: the pipeline's own answer judge (``toolenv.judging.judge_offline``, alias-aware normalised
  match) on the final ``<response>``; 0 without a response or for a fatal rollout.
  [S] Deviation: the paper uses a GPT-4o yes/no judge; we use the offline judge the export filtered with.
- r_query: the pipeline's rule-based process judge (``toolenv.judging.process_rules``, five criteria)
  over the scored prefix; 0 with no tool call. [S] Deviation: the paper uses an LLM judge over a text
  summary; the rules score the same five criteria offline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from schemas.synthesis import Trajectory, TurnRecord
from toolenv.judging import judge_offline, process_rules

FORMAT_RE = re.compile(
    r"^<think>.*?</think>\s*(<tool_call>.*?</tool_call>|<response>.*?</response>|<answer>.*?</answer>)\s*$",
    re.DOTALL)


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One assistant turn and what the environment made of it."""

    text: str
    error: str | None = None          # toolenv ErrorKind value of this step
    tool: str | None = None
    arguments: str | None = None      # JSON
    observation: str = ""
    answer: str | None = None


@dataclass(frozen=True, slots=True)
class RewardBreakdown:
    fmt: float
    acc: float
    query: float
    total: float


def step_format(step: StepRecord) -> float:
    """1.0 when the turn matches the format regex and did not fail, else 0.0."""
    return 0.0 if step.error is not None else float(bool(FORMAT_RE.match(step.text.strip())))


def format_reward(steps: Sequence[StepRecord], upto: int) -> float:
    scored = steps[:upto]
    return sum(step_format(s) for s in scored) / len(scored) if scored else 0.0


def accuracy_reward(answer: str | None, gold: str, aliases: Sequence[str], *, fatal: bool) -> float:
    if fatal or answer is None:
        return 0.0
    return 1.0 if judge_offline(answer, gold, aliases).correct else 0.0


def query_reward(steps: Sequence[StepRecord], upto: int, gold: str, aliases: Sequence[str],
                 answer: str | None) -> float:
    """The process judge's rules over the scored prefix, as a synthesis ``Trajectory``."""
    scored = steps[:upto]
    if not any(s.tool is not None for s in scored):
        return 0.0
    turns: list[TurnRecord] = []
    for s in scored:
        turns.append(TurnRecord(len(turns), "assistant", s.text))
        if s.answer is None:
            turns.append(TurnRecord(len(turns), "tool", s.observation, tool=s.tool, arguments=s.arguments,
                                    error=s.error))
    traj = Trajectory("rl", "rl", 0, "policy", tuple(turns), "answered" if answer else "unfinished", answer,
                      sum(s.tool is not None for s in scored))
    score = process_rules(traj, gold, aliases).score
    return min(1.0, max(0.0, score))


def composite(fmt: float, acc: float, query: float, *, alpha: float = 0.8) -> float:
    return fmt * (alpha * acc + (1 - alpha) * query)


def score_rollout(steps: Sequence[StepRecord], answer: str | None, gold: str, aliases: Sequence[str], *,
                  fatal: int | None, prefix_only: bool = True, alpha: float = 0.8) -> RewardBreakdown:
    """All three components and the total for one rollout. ``fatal`` is its fatal step or ``None``;
    with ``prefix_only`` fatal at 0 scores 0 (the caller drops the rollout)."""
    is_fatal = fatal is not None
    upto = fatal if (prefix_only and fatal is not None) else len(steps)
    fmt = format_reward(steps, upto)
    acc = accuracy_reward(answer, gold, aliases, fatal=is_fatal)
    query = query_reward(steps, upto, gold, aliases, None if is_fatal else answer)
    return RewardBreakdown(fmt, acc, query, composite(fmt, acc, query, alpha=alpha))


def arguments_json(arguments: dict[str, object] | None) -> str | None:
    return json.dumps(arguments, sort_keys=True) if arguments is not None else None
