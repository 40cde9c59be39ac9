"""Model-backed teacher, solver and judges over the shared ``TeacherClient`` (one endpoint, one memo,
one budget). Prompts come from ``prompts/``; replies are parsed in ``judges.py``.

- ``ModelPolicy``: the teacher in the episode loop. It keeps the chat history of its episode: the
  system prompt, the task (question + image), then each assistant turn and each tool response (as a
  ``user`` message ``<tool_response>…</tool_response>`` with the images the tool produced, as the
  released code does). Rollout k sends seed ``teacher.seed + k`` so the K calls differ (and memoise
  separately).
- ``ModelSolver``: one prompt (``filter/solver.j2``) with the item image and the single piece of
  evidence the gate allows; seed + attempt for pass@k.
- ``ModelAnswerJudge`` / ``ModelProcessJudge``: the paper's accuracy and query-quality prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prompts import render
from schemas.synthesis import JudgeVerdict, ProcessVerdict, Trajectory, TurnRecord
from tasks.synthesize.episode import Reply
from tasks.synthesize.judges import (
    answer_prompt,
    parse_answer_verdict,
    parse_process_verdict,
    process_prompt,
    tool_steps,
)
from tasks.teacher.client import TeacherClient, image_part, text_part
from toolenv import Observation, StoredImage


def _user(text: str, images: Sequence[StoredImage | bytes]) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [text_part(text)]
    for img in images:
        data, mime = (img.data, img.mime) if isinstance(img, StoredImage) else (img, "image/png")
        parts.append(image_part(data, mime))
    return {"role": "user", "content": parts if images else text}


@dataclass
class ModelPolicy:
    client: TeacherClient
    system: str
    seed: int
    name: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.name = self.name or self.client.config.model

    async def act(self, transcript: Sequence[TurnRecord], observation: Observation) -> Reply:
        if not self.messages:
            self.messages = [{"role": "system", "content": self.system}, _user(observation.content,
                                                                               observation.images)]
        else:
            self.messages.append(_user(observation.text, observation.images))
        result = await self.client.chat(list(self.messages), purpose="teacher", template="synthesize/system.j2",
                                        seed=self.seed)
        self.messages.append({"role": "assistant", "content": result.text})
        return Reply(result.text, result.prompt_tokens, result.completion_tokens)


@dataclass
class ModelSolver:
    client: TeacherClient
    model: str
    temperature: float
    seed: int
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or self.model

    async def answer(self, question: str, image: bytes | None, evidence: str, *, attempt: int) -> str:
        prompt = render("filter/solver.j2", question=question, evidence=evidence)
        msg = _user(prompt.text, [image] if image else [])
        result = await self.client.chat([msg], purpose="solver", template=prompt.template, template_hash=prompt.hash,
                                        model=self.model, temperature=self.temperature, seed=self.seed + attempt)
        return result.text


@dataclass
class ModelAnswerJudge:
    client: TeacherClient
    model: str

    @property
    def name(self) -> str:
        return self.model

    async def judge(self, question: str, reference: str, aliases: Sequence[str], response: str | None
                    ) -> JudgeVerdict:
        if response is None or not response.strip():
            return JudgeVerdict(False, self.model, "no_answer")
        prompt = answer_prompt(question, reference, response)
        result = await self.client.chat([{"role": "user", "content": prompt.text}], purpose="judge:answer",
                                        template=prompt.template, template_hash=prompt.hash, model=self.model,
                                        temperature=0.0)
        return parse_answer_verdict(result.text, self.model)


@dataclass
class ModelProcessJudge:
    client: TeacherClient
    model: str

    @property
    def name(self) -> str:
        return self.model

    async def score(self, question: str, reference: str, aliases: Sequence[str], traj: Trajectory
                    ) -> ProcessVerdict:
        if not tool_steps(traj.turns):
            return ProcessVerdict(0.0, self.model, ("no_tool_calls",))
        prompt = process_prompt(question, reference, traj)
        result = await self.client.chat([{"role": "user", "content": prompt.text}], purpose="judge:process",
                                        template=prompt.template, template_hash=prompt.hash, model=self.model,
                                        temperature=0.0)
        return parse_process_verdict(result.text, self.model)
