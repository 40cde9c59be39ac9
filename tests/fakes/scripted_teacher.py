"""A scripted teacher, solver and judges for ``OpenAIServer``: the teacher calls ``image_search``, one
``text_search`` and then answers (it knows the answers by question, given up front); the solver never
knows; the answer judge compares with the reference; the process judge scores 0.9."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.fakes.openai_server import Reply


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if p.get("type") == "text")
    return str(content or "")


def responder(answers: dict[str, str]) -> Any:
    """Teacher: image_search, one text_search, then the answer. Solver: does not know. Judges: fair."""
    def reply(messages: list[dict[str, Any]]) -> Reply:
        first = _text(messages[0])
        if "Visual Investigation Agent" in first:
            turns = sum(m["role"] == "assistant" for m in messages)
            question = _text(messages[1])
            if turns == 0:
                return Reply('<think>Identify the image.</think>\n<tool_call>{"name": "image_search", '
                             '"arguments": {"url": "img_1"}}</tool_call>')
            if turns == 1:
                return Reply("<think>Look it up.</think>\n<tool_call>" + json.dumps(
                    {"name": "text_search", "arguments": {"q": question[:80]}}) + "</tool_call>")
            return Reply(f"<think>Enough evidence.</think>\n<response>\\boxed{{{answers[question]}}}</response>")
        if first.startswith("Answer the question about the image."):
            return Reply("\\boxed{I do not know}")
        if "Decide whether the research report" in first:
            ref = re.search(r"<reference_answer>(.*?)</reference_answer>", first, re.S)
            report = re.search(r"<report>(.*)</report>", first, re.S)
            ok = ref is not None and report is not None and ref.group(1).strip().lower() in report.group(1).lower()
            return Reply(f"correct: {'yes' if ok else 'no'}\nreasoning: compared.")
        if "how useful an agent's search trajectory" in first:
            return Reply("score: 0.9\nreasoning: targeted.")
        return Reply("unexpected prompt", status=400)
    return reply


#: The final answer of ``pipeline_responder``'s teacher (it cannot know the right one; its judge is lenient).
PIPELINE_ANSWER = "the answer the evidence gives"


def _between(text: str, tag: str) -> str:
    m = re.search(f"<{tag}>(.*?)</{tag}>", text, re.S)
    return m.group(1).strip() if m else ""


def pipeline_responder() -> Any:
    """A script for the whole ``searchvl run`` with every model on one endpoint (no answers known up front):

    - question stage (``prompts/questions/*.j2``): the canonical question is the draft; two generic
      descriptors; every descriptor unique; the answer check answers with the answer node's whole
      infobox (the path's answer is one of its values); the final judge finds one consistent answer;
    - teacher: image_search, one text_search, then ``PIPELINE_ANSWER``; solver: does not know;
    - answer judge: correct unless the report does not know; process judge: 0.9.
    Every reply depends only on the request, so a rerun gets the same answers.
    """
    teacher = responder({})

    def reply(messages: list[dict[str, Any]]) -> Reply:
        first, last = _text(messages[0]), _text(messages[-1])
        if "Visual Investigation Agent" in first and sum(m["role"] == "assistant" for m in messages) >= 2:
            return Reply(f"<think>Enough evidence.</think>\n<response>\\boxed{{{PIPELINE_ANSWER}}}</response>")
        if "Decide whether the research report" in first:
            report = first.split("Report:", 1)[-1].lower()
            return Reply(f"correct: {'no' if 'i do not know' in report else 'yes'}\nreasoning: compared.")
        if '{"question"' in last:
            return Reply(json.dumps({"question": _between(last, "draft")}))
        if '{"candidates"' in last:
            return Reply(json.dumps({"candidates": ["the subject of this clue", "the entity this hint describes"]}))
        if '{"unique"' in last:
            return Reply(json.dumps({"unique": True, "other_candidates": []}))
        if '{"answer"' in last:
            box = _between(last, "context").rsplit("\n", 1)[-1]
            return Reply(json.dumps({"answer": box.split(" infobox: ", 1)[-1]}))
        if '"n_consistent"' in last:
            return Reply(json.dumps({"answers": ["one"], "n_consistent": 1}))
        return teacher(messages)       # teacher turns 1-2, solver, process judge
    return reply


def bad_tool_call(messages: list[dict[str, Any]]) -> tuple[str, str] | None:
    """For the fault mode: a ``text_search`` call with arguments of the wrong types, for teacher requests only."""
    if messages and "Visual Investigation Agent" in _text(messages[0]):
        return "text_search", json.dumps({"q": 12345, "top_k": "many"})
    return None
