"""The episode loop: one policy (path-guided or a teacher model) × one ``ToolEnv`` episode → a trajectory.

The environment is stepped on the caller's event-loop thread (its tool cache writes to the warehouse
connection, which is not thread-safe); only model calls are awaited, so many episodes run concurrently
while tools run one at a time. Local tools take milliseconds; the teacher dominates.

A model call that fails for good (after the client's bounded retries) ends the episode with
``finish_reason = llm_error:<reason>``: a row, not an exception. ``BudgetExhausted`` is systemic and
propagates so the stage stops cleanly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from schemas.synthesis import Trajectory, TurnRecord
from tasks.llm import LLMCallError
from tasks.synthesize.path_guided import PathGuidedPolicy
from toolenv import EpisodeItem, Observation, StoredImage, ToolEnv


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Policy(Protocol):
    """Who writes the assistant turns. ``act`` sees the transcript so far and the latest observation."""

    name: str

    async def act(self, transcript: Sequence[TurnRecord], observation: Observation) -> Reply: ...


@dataclass
class OfflinePolicy:
    """``PathGuidedPolicy`` behind the ``Policy`` port (no tokens, no network)."""

    inner: PathGuidedPolicy
    name: str = "path-guided"

    async def act(self, transcript: Sequence[TurnRecord], observation: Observation) -> Reply:
        new = len(observation.images) if observation.kind == "tool" else 0
        return Reply(self.inner.next_turn(observation.content, new, tuple(i.image for i in observation.images)))


@dataclass
class _Recorder:
    turns: list[TurnRecord] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)

    def add(self, role: str, content: str, images: Sequence[StoredImage] = (), **kw: object) -> TurnRecord:
        for img in images:
            self.images.setdefault(img.sha256, img.data)
        turn = TurnRecord(len(self.turns), role, content, tuple(i.sha256 for i in images), **kw)  # type: ignore[arg-type]
        self.turns.append(turn)
        return turn


def trajectory_id(item_id: str, rollout: int, synthesis_hash: str) -> str:
    return hashlib.sha256(f"{item_id}|{rollout}|{synthesis_hash}".encode()).hexdigest()[:24]


async def run_episode(env: ToolEnv, item: EpisodeItem, policy: Policy, *, system: str, rollout: int,
                      synthesis_hash: str, degradation: str | None = None) -> Trajectory:
    """Drive one episode to its end and return the unjudged trajectory (every turn and image kept)."""
    rec = _Recorder()
    rec.add("system", system)
    obs = env.reset(item)
    rec.add("user", obs.content, obs.images, error=obs.error.value if obs.error else None)
    finish: str | None = obs.terminal_reason
    calls = p_tok = c_tok = 0
    while not obs.done:
        try:
            reply = await policy.act(rec.turns, obs)
        except LLMCallError as err:
            finish = f"llm_error:{err.reason}"
            break
        p_tok, c_tok = p_tok + reply.prompt_tokens, c_tok + reply.completion_tokens
        rec.add("assistant", reply.text, tokens=reply.completion_tokens)
        obs = env.step(reply.text)
        if obs.kind == "tool":
            calls += obs.tool is not None
            rec.add("tool", obs.text, obs.images, tool=obs.tool,
                    arguments=json.dumps(obs.arguments, sort_keys=True) if obs.arguments is not None else None,
                    error=obs.error.value if obs.error else None, cached=obs.cached)
        finish = obs.terminal_reason
    return Trajectory(
        trajectory_id=trajectory_id(item.item_id, rollout, synthesis_hash), item_id=item.item_id, rollout=rollout,
        teacher=policy.name, turns=tuple(rec.turns), finish_reason=finish or "unfinished",
        final_answer=env.state.answer if env.state.terminal_reason == "answered" else None, tool_calls=calls,
        prompt_tokens=p_tok, completion_tokens=c_tok, degradation=degradation, images=rec.images)
