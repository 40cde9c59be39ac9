"""The online question model: every language step of the stage as a prompt to an OpenAI-compatible
model (``prompts/questions/*.j2``). Rows say ``method = llm:<model>`` and carry the prompt hashes.

Model text is untrusted: each reply must be the JSON object its prompt asks for, or the step raises
``ModelOutputError`` with the raw text (the item becomes a reject row that keeps it). Page text
reaches the model only inside ``<context>`` blocks of the user message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import prompts
from schemas.questions import NodeContext, QuestionSpec, Verdict
from tasks.llm import ChatClient, parse_json_object
from tasks.questions.leakage import fold
from tasks.questions.rewrite import ModelOutputError
from tasks.questions.spec import render, templated

_PUNCT = re.compile(r"[^\w\s]")


def normalise_answer(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", fold(text)).split())


def _field(obj: dict[str, Any], key: str, kind: type, raw: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind):
        raise ModelOutputError(f"reply field {key!r} missing or not {kind.__name__}", raw)
    return value


@dataclass
class LLMQuestionModel:
    """``QuestionModel`` over a chat client; one instance per path (it knows the path's forbidden names)."""

    client: ChatClient
    forbidden: Sequence[str]
    used: dict[str, str] = field(default_factory=dict)   # template -> hash, for the item row

    @property
    def method(self) -> str:
        return f"llm:{self.client.model}"

    def _ask(self, template: str, **ctx: Any) -> tuple[dict[str, Any], str]:
        p = prompts.render(template, **ctx)
        self.used[p.template] = p.hash
        raw = self.client.complete(p)
        return parse_json_object(raw), raw

    def canonical(self, spec: QuestionSpec, nodes: Sequence[NodeContext], answer: str) -> QuestionSpec:
        hops = [{"src": a.title, "relation": h.phrase, "dst": b.title}
                for a, b, h in zip(nodes, nodes[1:], spec.hops, strict=False)]
        obj, raw = self._ask("questions/canonical.j2", attribute=spec.attribute_phrase, answer=answer, hops=hops,
                             draft=render(spec))
        text = _field(obj, "question", str, raw).strip()
        out = templated(spec, text)
        if out is None:
            raise ModelOutputError("canonical question does not name every path node exactly once", raw)
        if nodes[-1].title.lower() in text.lower():
            raise ModelOutputError("canonical question names the answer node", raw)
        return out

    def propose(self, node: NodeContext, question: str, n: int) -> list[str]:
        obj, raw = self._ask("questions/propose.j2", title=node.title, lead=node.lead[:1500], infobox=node.infobox,
                             question=question, n=n, forbidden=list(self.forbidden)[:40])
        cands = _field(obj, "candidates", list, raw)
        if not all(isinstance(c, str) and c.strip() for c in cands):
            raise ModelOutputError("candidates must be non-empty strings", raw)
        return [c.strip() for c in cands][:n]

    def unique(self, question: str, node: NodeContext, descriptor: str) -> tuple[Verdict, str]:
        obj, raw = self._ask("questions/unique.j2", title=node.title, descriptor=descriptor, question=question)
        ok = _field(obj, "unique", bool, raw)
        others = obj.get("other_candidates") or []
        return ("pass" if ok else "fail"), f"judge: unique={ok}" + (f", others {others}" if others else "")

    def same_answer(self, question: str, answer: str, context: str) -> tuple[Verdict, str]:
        obj, raw = self._ask("questions/same_answer.j2", question=question, context=context)
        got = _field(obj, "answer", str, raw)
        ok = normalise_answer(got) == normalise_answer(answer) or normalise_answer(answer) in normalise_answer(got)
        return ("pass" if ok else "fail"), f"model answered {got[:80]!r}"

    def judge_final(self, question: str, referring_expression: str) -> tuple[Verdict, str]:
        obj, raw = self._ask("questions/final_judge.j2", question=question,
                             referring_expression=referring_expression)
        n = obj.get("n_consistent")
        if not isinstance(n, int) or isinstance(n, bool):
            raise ModelOutputError("n_consistent must be an integer", raw)
        return ("pass" if n == 1 else "fail"), f"judge: {n} consistent answer(s)"
