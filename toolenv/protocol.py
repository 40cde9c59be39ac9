"""The turn protocol (PAPER.md §6.3, §12.F item 26): parse one assistant turn, format one tool response.

A well-formed turn is ``<think>…</think>`` followed by exactly one ``<tool_call>{json}</tool_call>`` or
``<response>…</response>`` (``<answer>`` is the released code's legacy alias), with only whitespace
around them — the same shape as the format reward's regex. Anything else parses to a ``ProtocolError``
value; nothing here raises.

Deviation: the released code parses tool-call JSON with json5; we use strict JSON (json5 is not a
dependency). A ```json fence around the object and an ``arguments`` value given as a JSON string
(OpenAI style) are accepted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from toolenv.errors import ErrorKind

_BLOCK = re.compile(r"<(think|tool_call|response|answer)>(.*?)</\1>", re.DOTALL)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_TOKEN = re.compile(r"\w+|[^\w\s]")
_MARKER = re.compile(r"<\s*/?\s*(?:tool_response|tool_call|tools|think|response|answer)\s*/?\s*>|<\|[^<>|\n]{0,64}\|>",
                     re.IGNORECASE)

TokenCounter = Callable[[str], int]


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    think: str = ""


@dataclass(frozen=True, slots=True)
class FinalAnswer:
    text: str
    think: str = ""


@dataclass(frozen=True, slots=True)
class ProtocolError:
    kind: ErrorKind  # PROTOCOL or MALFORMED_JSON
    message: str


Turn = ToolCall | FinalAnswer | ProtocolError


def approx_token_count(text: str) -> int:
    """Words plus punctuation marks: close to a BPE count for English. Inject the policy's tokenizer
    (``ToolEnv(token_counter=...)``) where the exact count matters."""
    return len(_TOKEN.findall(text))


def neutralise_markers(content: str) -> str:
    """``content`` with the turn protocol's tags (``</tool_response>``, ``<tool_call>``, ``<think>``, …)
    and chat-template special tokens (``<|im_end|>``) made inert as ``&lt;…&gt;`` text."""
    return _MARKER.sub(lambda m: m.group(0).replace("<", "&lt;").replace(">", "&gt;"), content)


def format_tool_response(content: str) -> str:
    """The user message that carries a tool result back to the model. Tool results quote untrusted
    text (search results are page text), so markers inside them are neutralised: a page containing
    ``</tool_response>`` cannot close the block early or fake a tool call."""
    return f"<tool_response>\n{neutralise_markers(content)}\n</tool_response>"


def parse_turn(text: str, *, require_think: bool = True) -> Turn:
    """Parse one assistant turn into a tool call, a final answer, or a protocol error."""
    acting = _THINK.sub("", text)  # tags quoted inside <think> are reasoning, not actions
    if acting.count("<tool_call>") > 1:
        return ProtocolError(ErrorKind.PROTOCOL, f"found {acting.count('<tool_call>')} <tool_call> blocks; "
                             "emit exactly one action per turn and wait for its result.")
    blocks = list(_BLOCK.finditer(text))
    thinks = [b for b in blocks if b.group(1) == "think"]
    actions = [b for b in blocks if b.group(1) != "think"]
    if not actions:
        for tag in ("tool_call", "response", "answer"):
            if f"<{tag}>" in acting:
                return ProtocolError(ErrorKind.PROTOCOL, f"<{tag}> is not closed with </{tag}>.")
        return ProtocolError(ErrorKind.PROTOCOL, "the turn must contain <tool_call>…</tool_call> or "
                             "<response>…</response>.")
    if len(actions) > 1:
        tags = ", ".join(f"<{b.group(1)}>" for b in actions)
        return ProtocolError(ErrorKind.PROTOCOL, f"found {len(actions)} actions ({tags}); emit exactly one "
                             "<tool_call> or <response> per turn.")
    action = actions[0]
    if len(thinks) > 1:
        return ProtocolError(ErrorKind.PROTOCOL, "more than one <think> block; use one per turn.")
    if require_think and not thinks:
        return ProtocolError(ErrorKind.PROTOCOL, f"missing <think>…</think> before <{action.group(1)}>.")
    if thinks and thinks[0].start() > action.start():
        return ProtocolError(ErrorKind.PROTOCOL, f"<think> must come before <{action.group(1)}>.")
    outside = _BLOCK.sub("", text).strip()
    if outside:
        return ProtocolError(ErrorKind.PROTOCOL, f"text outside <think> and the action: {outside[:80]!r}.")
    think = thinks[0].group(2).strip() if thinks else ""
    body = action.group(2).strip()
    if action.group(1) in ("response", "answer"):
        if not body:
            return ProtocolError(ErrorKind.PROTOCOL, "empty <response>.")
        return FinalAnswer(text=body, think=think)
    return _parse_call(body, think)


def _parse_call(body: str, think: str) -> ToolCall | ProtocolError:
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    try:
        obj = json.loads(body)
    except json.JSONDecodeError as err:
        return ProtocolError(ErrorKind.MALFORMED_JSON, f"({err.msg} at line {err.lineno} column {err.colno})")
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str) or not obj["name"].strip():
        return ProtocolError(ErrorKind.MALFORMED_JSON, 'Expected {"name": <tool name>, "arguments": {...}}.')
    args = obj.get("arguments", {})
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as err:
            return ProtocolError(ErrorKind.MALFORMED_JSON, f"(arguments string: {err.msg})")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return ProtocolError(ErrorKind.MALFORMED_JSON, '"arguments" must be a JSON object.')
    return ToolCall(name=obj["name"].strip(), arguments=args, think=think)
