"""One item as a compact tree (``searchvl inspect item ID``): path, question, gates, filter, each
trajectory's turns one line each, exports. Every line fits the terminal width; ``--full`` prints the
complete sections instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

Rows = tuple[list[str], list[tuple[Any, ...]]]
Turn = tuple[int, str, str, str | None, str | None, str | None]     # idx, role, content, tool, arguments, error

_THINK = re.compile(r"<think>(.*?)</think>", re.S)
_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.S)
_ANSWER = re.compile(r"<(?:response|answer)>(.*?)</(?:response|answer)>", re.S)
_TAGS = re.compile(r"</?[a-z_]+>")
_WS = re.compile(r"\s+")
_TITLE = re.compile(r"^Title: (.+)$", re.M)
_JSON_TITLE = re.compile(r'"title": "([^"]+)"')


def fit(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    one = _WS.sub(" ", text).strip()
    return one if len(one) <= width else one[: max(width - 1, 1)] + "…"


def _records(sections: Mapping[str, Rows], name: str) -> list[dict[str, Any]]:
    cols, rows = sections.get(name, ([], []))
    return [dict(zip(cols, r, strict=True)) for r in rows]


def turn_line(turn: Turn) -> str:
    """One line for one message: who spoke and what it did (a tool call with its arguments, an answer, a tool
    result's first words, an error)."""
    idx, role, content, tool, _arguments, error = turn
    if role == "system":
        return f"{idx:>2} system     system prompt ({len(content):,} chars)"
    if role == "assistant":
        call = _CALL.search(content)
        answer = _ANSWER.search(content)
        think = _THINK.search(content)
        if call:
            try:
                parsed = json.loads(call.group(1))
                act = f"→ {parsed.get('name')}({json.dumps(parsed.get('arguments', {}), ensure_ascii=False)})"
            except (json.JSONDecodeError, AttributeError):
                act = f"→ {call.group(1)}"
        elif answer:
            act = f"⇒ answer: {answer.group(1)}"
        else:
            act = _TAGS.sub(" ", content)
        why = f"  ({think.group(1).strip()})" if think else ""
        return f"{idx:>2} assistant  {act}{why}"
    if role == "tool":
        titles = _TITLE.findall(content) or _JSON_TITLE.findall(content)
        body = ("results: " + ", ".join(dict.fromkeys(titles)) if titles and not error
                else _TAGS.sub(" ", content).replace("Tool execution result:", ""))
        head = f"{tool or 'tool'}" + (f" [{error}]" if error else "")
        return f"{idx:>2} tool       {head}: {body}"
    return f"{idx:>2} {role:<10} {_TAGS.sub(' ', content)}"


def _gate_line(sections: Mapping[str, Rows]) -> str | None:
    gates = _records(sections, "gates")
    if not gates:
        return None
    parts = []
    for g in gates:
        score = g.get("score")
        parts.append(f"{g['gate']} {g['verdict']}" + (f" {score:.2f}" if isinstance(score, float) else ""))
    return "gates: " + " · ".join(parts)


def item_tree(item_id: str, sections: Mapping[str, Rows], turns: Mapping[str, Sequence[Turn]],
              width: int = 100) -> list[str]:
    """The compact tree of one item (or trajectory) as lines, each at most ``width`` characters."""
    head: list[str] = []
    pool = (_records(sections, "pool item") or [{}])[0]
    question = (_records(sections, "question") or [{}])[0]
    status = question.get("status") or ("pool item" if pool else "")
    head.append(f"item {item_id}" + (f" ({status})" if status else ""))
    body: list[str] = []
    path = (_records(sections, "path") or [{}])[0]
    if path:
        body.append(f"path ({path['hops']} hops, {path['domain']}): " + " → ".join(path["nodes"]))
    text = question.get("question") or pool.get("question")
    if text:
        body.append(f"question: {text}")
    answer = question.get("answer") or pool.get("answer")
    if answer:
        body.append(f"answer: {answer}" + (f"  [{question['reject_stage']}: {question['reject_reason']}]"
                                           if question.get("reject_reason") else ""))
    if question.get("image_file_name"):
        body.append(f"image: {question['image_file_name']} ({question.get('image_license') or 'no licence'}, "
                    f"{question.get('image_method')} {question.get('image_score')})")
    gates = _gate_line(sections)
    if gates:
        body.append(gates)
    for f in _records(sections, "filter outcome"):
        body.append(f"filter: {f['status']}" + (f" ({f['reason']})" if f.get("reason") else "")
                    + f", pass@k {f['pass_at_k']}")
    for e in _records(sections, "enhancement"):
        body.append(f"enhancement: {e['kind']}")
    if _records(sections, "rl hold-out"):
        body.append("rl hold-out: set aside for the RL export before synthesis")
    blocks: list[tuple[str, list[str]]] = [(line, []) for line in body]
    for t in _records(sections, "trajectories"):
        label = (f"trajectory {t['trajectory_id']} ({t['status']}"
                 + (f": {t['reject_reason']}" if t.get("reject_reason") else "")
                 + f", {t['tool_calls']} tool calls, answer {t['final_answer']!s})")
        blocks.append((label, [turn_line(turn) for turn in turns.get(str(t["trajectory_id"]), [])]))
    exports = _records(sections, "exports")
    if exports:
        names = dict.fromkeys(f"{e['name']} {e['config']}/{e['split']}" for e in exports)
        blocks.append(("exports: " + ", ".join(names), []))
    for r in _records(sections, "rejects"):
        blocks.append((f"dropped at {r['stage']}: {r['reason']}" + (f" ({r['detail']})" if r.get("detail") else ""),
                       []))
    lines = [fit(head[0], width)]
    for i, (label, children) in enumerate(blocks):
        last = i == len(blocks) - 1
        lines.append(fit(("└─ " if last else "├─ ") + label, width))
        for j, child in enumerate(children):
            stem = "   " if last else "│  "
            lines.append(fit(stem + ("└─ " if j == len(children) - 1 else "├─ ") + child, width))
    return lines
