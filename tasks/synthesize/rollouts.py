"""One item's synthesis: K rollouts, both judges, one-step-collapse flag, and which trajectories to keep.

Cascade per rollout (PAPER.md §6.4): no final answer / hedged / wrong → ``answer_*`` rejects; a
correct trajectory with at most ``collapse_max_calls`` tool calls → ``one_step_collapse`` (kept out of
SFT); then the grounding rules (``grounding.py``, code checks for every teacher and every judge: a
trajectory that breaks one is rejected with the rule as its reason and a process score of 0, and a model
process judge is not asked); then the process judge (< threshold → ``process_low``). Of the accepted ones at most
``keep_per_item`` are kept, fewest tool calls first; the rest are ``surplus``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from schemas.synthesis import ProcessVerdict, SynthesisConfig, Trajectory
from tasks.llm import LLMCallError
from tasks.synthesize import grounding
from tasks.synthesize.episode import Policy, run_episode, trajectory_id
from tasks.synthesize.ports import AnswerJudge, ItemInput, ProcessJudge
from toolenv import EpisodeItem, ToolEnv
from toolenv.registry import paper_tool_schemas

Judged = tuple[Trajectory, str, str | None]   # (trajectory, status, reject reason)


async def judge(traj: Trajectory, item: ItemInput, cfg: SynthesisConfig, answer_judge: AnswerJudge,
                process_judge: ProcessJudge, schemas: Sequence[Mapping[str, Any]] | None = None) -> Judged:
    """Attach both verdicts and decide the trajectory's status (before the per-item keep limit). A judge call
    that fails for good is a ``judge_error:<reason>`` reject (the item is retried on the next run).
    ``schemas``: the tool schemas the teacher was shown (default: the paper's seven)."""
    try:
        return await _judge(traj, item, cfg, answer_judge, process_judge,
                            paper_tool_schemas() if schemas is None else schemas)
    except LLMCallError as err:
        return traj, "rejected", f"judge_error:{err.reason}"


def retryable(judged: Sequence[Judged]) -> bool:
    """Whether a model call failed for good in this item (the item stays pending for the next run)."""
    return any(t.finish_reason.startswith("llm_error:") or (r or "").startswith("judge_error:") for t, _, r in judged)


def hidden_of(item: ItemInput) -> grounding.Hidden:
    return grounding.Hidden(item.question, item.answer, item.aliases, item.nodes, item.degradation, item.labels)


async def _judge(traj: Trajectory, item: ItemInput, cfg: SynthesisConfig, answer_judge: AnswerJudge,
                 process_judge: ProcessJudge, schemas: Sequence[Mapping[str, Any]]) -> Judged:
    verdict = await answer_judge.judge(item.question, item.answer, item.aliases, traj.final_answer)
    traj = replace(traj, answer_verdict=verdict)
    if not verdict.correct:
        reason = "no_answer" if traj.final_answer is None else verdict.reason
        return traj, "rejected", reason if traj.finish_reason == "answered" else f"{reason}:{traj.finish_reason}"
    if traj.tool_calls <= cfg.collapse_max_calls:
        return replace(traj, one_step_collapse=True), "rejected", "one_step_collapse"
    broken = grounding.check(traj, hidden_of(item), schemas)
    if broken:
        verdict_ = ProcessVerdict(0.0, f"{process_judge.name}+grounding", tuple(str(v) for v in broken[:10]))
        return replace(traj, process_verdict=verdict_), "rejected", grounding.reason(broken)
    process = await process_judge.score(item.question, item.answer, item.aliases, traj)
    traj = replace(traj, process_verdict=process)
    if process.score < cfg.process_threshold:
        return traj, "rejected", "process_low"
    return traj, "accepted", None


def keep_best(judged: Sequence[Judged], keep: int) -> list[Judged]:
    """At most ``keep`` accepted trajectories, fewest tool calls (then earliest rollout) first."""
    accepted = sorted((j for j in judged if j[1] == "accepted"), key=lambda j: (j[0].tool_calls, j[0].rollout))
    kept = {j[0].trajectory_id for j in accepted[:keep]}
    return [(t, "surplus", "over_keep_per_item") if s == "accepted" and t.trajectory_id not in kept else (t, s, r)
            for t, s, r in judged]


async def synthesize_item(item: ItemInput, cfg: SynthesisConfig, *, env: ToolEnv, system: str,
                          policies: Sequence[Policy], synthesis_hash: str, answer_judge: AnswerJudge,
                          process_judge: ProcessJudge) -> list[Judged]:
    """Run one episode per policy (rollout k = ``policies[k]``, one at a time on ``env``) and judge them."""
    judged: list[Judged] = []
    episode = EpisodeItem(item.question, (item.image,) if item.image else (), item.item_id)
    for k, policy in enumerate(policies):
        traj = await run_episode(env, episode, policy, system=system, rollout=k,
                                 synthesis_hash=synthesis_hash, degradation=item.degradation)
        judged.append(await judge(traj, item, cfg, answer_judge, process_judge, env.tool_schemas()))
    return keep_best(judged, cfg.keep_per_item)


def not_run(item: ItemInput, teacher: str, synthesis_hash: str, reason: str) -> list[Judged]:
    """The row for an item the teacher cannot attempt (e.g. the offline teacher and an item with no path)."""
    traj = Trajectory(trajectory_id(item.item_id, 0, synthesis_hash), item.item_id, 0, teacher, (), "not_run",
                      None, 0, degradation=item.degradation)
    return [(traj, "rejected", reason)]
