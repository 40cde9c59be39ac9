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


#: What the scripted teachers answer when no passage came back (``pipeline_responder``'s teacher cannot know the
#: right answer: it answers a passage title it read, and its judge is lenient).
PIPELINE_ANSWER = "I do not know"


#: The scripted teacher's search budget: it crawls the passage titles it has read until one shows the answer.
MAX_SEARCHES = 12


def _search(think: str, query: str) -> Reply:
    return Reply(f"<think>{think}</think>\n<tool_call>" + json.dumps({"name": "text_search", "arguments": {"q": query}})
                 + "</tool_call>")


def _seen(messages: list[dict[str, Any]]) -> str:
    """The tool responses the teacher has read so far (user messages after the task)."""
    return "\n".join(_text(m) for m in messages[2:] if m["role"] == "user")


def _find(text: str, reference: str | None) -> str | None:
    """``reference`` as written in ``text`` (whole words, any case), else None."""
    m = re.search(rf"(?<!\w){re.escape(reference)}(?!\w)", text, re.I) if reference else None
    return m.group(0) if m else None


def grounded_answer(seen: str, reference: str | None) -> str:
    """What a grounded teacher can answer: the reference as the observations write it when they show it, else
    the first passage title they returned (a span of an observation either way), else "I do not know"."""
    found = _find(seen, reference)
    if found:
        return found
    title = re.search(r"^Title: (.+)$", seen, re.M)
    return title.group(1).strip() if title else PIPELINE_ANSWER


def responder(answers: dict[str, str]) -> Any:
    """Teacher: image_search, a text_search on the question's first words, then searches for the passage titles
    it has read until one shows the answer it knows (at most ``MAX_SEARCHES`` turns), then an answer it can
    ground: that answer as written there, else the first passage title. Solver: does not know. Judges: fair."""
    def reply(messages: list[dict[str, Any]]) -> Reply:
        first = _text(messages[0])
        if "Visual Investigation Agent" in first:
            turns = sum(m["role"] == "assistant" for m in messages)
            question = _text(messages[1])
            if turns == 0:
                return Reply('<think>Identify the image.</think>\n<tool_call>{"name": "image_search", '
                             '"arguments": {"image": "img_1"}}</tool_call>')
            if turns == 1:
                return _search("Look it up.", " ".join(question.split()[:12]))
            seen, reference = _seen(messages), answers.get(question)
            asked = {json.loads(c)["arguments"].get("q") for m in messages if m["role"] == "assistant"
                     for c in re.findall(r"<tool_call>(.*?)</tool_call>", _text(m), re.S)}
            unread = [t for t in dict.fromkeys(re.findall(r"^Title: (.+)$", seen, re.M)) if t not in asked]
            if reference and not _find(seen, reference) and unread and turns < MAX_SEARCHES:
                return _search(f"Read about {unread[0]} next.", unread[0])    # a crawl over titles it has seen
            answer = grounded_answer(seen, reference)
            return Reply(f"<think>Enough evidence.</think>\n<response>\\boxed{{{answer}}}</response>")
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




def _between(text: str, tag: str) -> str:
    m = re.search(f"<{tag}>(.*?)</{tag}>", text, re.S)
    return m.group(1).strip() if m else ""


def pipeline_responder() -> Any:
    """A script for the whole ``searchvl run`` with every model on one endpoint (no answers known up front):

    - question stage (``prompts/questions/*.j2``): the canonical question is the draft; two generic
      descriptors; every descriptor unique; the answer check answers with the answer node's whole
      infobox (the path's answer is one of its values); the final judge finds one consistent answer;
    - teacher: image_search, one text_search, then the first passage title it read (grounded);
      solver: does not know;
    - answer judge: correct unless the report does not know; process judge: 0.9.
    Every reply depends only on the request, so a rerun gets the same answers.
    """
    teacher = responder({})

    def reply(messages: list[dict[str, Any]]) -> Reply:
        first, last = _text(messages[0]), _text(messages[-1])
        if "Visual Investigation Agent" in first and sum(m["role"] == "assistant" for m in messages) >= 2:
            answer = grounded_answer(_seen(messages), None)
            return Reply(f"<think>Enough evidence.</think>\n<response>\\boxed{{{answer}}}</response>")
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
