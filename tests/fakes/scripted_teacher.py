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
            ref = re.search(r"Reference answer: (.*)", first)
            ok = ref is not None and ref.group(1).strip().lower() in first.split("Report:", 1)[1].lower()
            return Reply(f"correct: {'yes' if ok else 'no'}\nreasoning: compared.")
        if "how useful an agent's search trajectory" in first:
            return Reply("score: 0.9\nreasoning: targeted.")
        return Reply("unexpected prompt", status=400)
    return reply
