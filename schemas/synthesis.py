"""Difficulty filter and trajectory synthesis: run config and the records they persist (PAPER.md §5, §6,
§12.D–E).

``path-guided`` is the offline default for both the solver (``filter.solver``) and the teacher
(``teacher.model``, ``schemas/teacher.py``); any other value names a model on the teacher endpoint from
settings (``SEARCHVL_TEACHER_BASE_URL``). Judges are offline rules unless ``judge_model`` names a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

OFFLINE = "path-guided"
Gate = Literal["no_tool", "one_image_search", "one_text_search"]
GATES: tuple[Gate, ...] = ("no_tool", "one_image_search", "one_text_search")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FilterConfig(_Strict):
    """Shortcut / one-step-collapse filter before synthesis (PAPER.md §5)."""

    solver: str = Field(default=OFFLINE, description="path-guided | a model name on the teacher endpoint")
    gates: list[Gate] = Field(default_factory=lambda: list(GATES), min_length=1,
                              description="[S] the paper's two stages plus one text search (issue 6)")
    attempts: int = Field(default=1, ge=1, le=10, description="[S] pass@k: k attempts per gate (greedy: 1)")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="[S] greedy")
    max_items: int | None = Field(default=None, ge=1, description="cap on items handled per run (preview)")


class SynthesisConfig(_Strict):
    """Teacher rollouts and the rejection cascade (PAPER.md §6, §12.E). The teacher itself (model, sampling,
    endpoint limits, budget) is ``RunConfig.teacher``; the judges use the same endpoint."""

    rollouts: int = Field(default=5, ge=1, le=32, description="K rollouts per item (a deterministic teacher runs 1)")
    max_turns: int = Field(default=50, ge=1, le=200)
    max_consecutive_errors: int = Field(default=3, ge=1)
    judge_model: str | None = Field(default=None, description="answer + process judge model; none = offline rules")
    process_threshold: float = Field(default=0.7, ge=0.0, le=1.0, description="[S] keep process score >= 0.7")
    keep_per_item: int = Field(default=2, ge=1, description="[S] accepted trajectories kept per item")
    collapse_max_calls: int = Field(default=1, ge=0, description="<= this many tool calls = one-step collapse")
    rl_holdout: float = Field(default=0.2, ge=0.0, le=1.0,
                              description="[S] share of the filtered pool set aside for the RL set before synthesis "
                                          "(PAPER §6.6: a random draw disjoint from the SFT items). Size it so "
                                          "share × kept items ≈ export.rl_size: held-out items beyond the RL "
                                          "cap are never given to the teacher")
    max_items: int | None = Field(default=None, ge=1, description="cap on items handled per run (preview)")
    date: str = Field(default="2026-01-01", pattern=r"^\d{4}-\d{2}-\d{2}$",
                      description="'Current date' line of the system prompt (fixed so requests memoise)")
    seed: int = 42


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class SolverAttempt:
    """One solver answer under one gate's budget."""

    gate: Gate
    attempt: int
    answer: str
    correct: bool
    judge: str           # how correctness was decided: alias-match | <judge model>
    tool_call: str       # the one call made ("" for no_tool), as ``name(args)``
    observation: str     # what that call returned (truncated), the only evidence the solver had
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One message of a trajectory, in order: ``system``, ``user`` (task), ``assistant``, ``tool``."""

    index: int
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    image_sha256s: tuple[str, ...] = ()
    tool: str | None = None
    arguments: str | None = None        # JSON
    error: str | None = None            # the toolenv error kind of this step
    tokens: int = 0
    cached: bool = False


@dataclass(frozen=True, slots=True)
class JudgeVerdict:
    correct: bool
    method: str          # alias-match | <model>
    reason: str


@dataclass(frozen=True, slots=True)
class ProcessVerdict:
    score: float
    method: str          # rules | <model>
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Trajectory:
    """A finished rollout: its turns, how it ended and what the judges said."""

    trajectory_id: str
    item_id: str
    rollout: int
    teacher: str
    turns: tuple[TurnRecord, ...]
    finish_reason: str                  # answered | max_turns | consecutive_errors | invalid_item | llm_error:<reason>
    final_answer: str | None
    tool_calls: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    degradation: str | None = None
    answer_verdict: JudgeVerdict | None = None
    process_verdict: ProcessVerdict | None = None
    one_step_collapse: bool = False
    reject_reason: str | None = None
    images: dict[str, bytes] = field(default_factory=dict)   # sha256 -> bytes of every image in the turns
