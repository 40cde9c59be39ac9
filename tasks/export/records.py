"""Warehouse records → shard rows (``schemas/shards.py``): pure functions, images passed in as bytes.

SFT (PAPER.md §6.5, §12.E item 24): one row per accepted trajectory, in two layouts of the same turns:
- ``messages``: OpenAI style. An assistant turn keeps its ``<think>`` text as ``content`` and its action as a
  structured ``tool_calls`` entry; each tool result is a ``tool`` message answering that call's id.
- ``conversations``: the released SFT set's ShareGPT layout: ``human`` / ``gpt`` / ``observation`` turns, the
  gpt turns verbatim in the text protocol (``<think>…</think><tool_call>{…}</tool_call>``), ``system`` and
  ``tools`` as separate columns.
In both, the tool-response wrapper ``<tool_response>…</tool_response>`` is left to the chat template, and
``<image>`` marks each attached image, in the order of the row's ``images``.

RL (§6.6): one row per item: the question with its image, the answer and aliases, and a ``prompt`` (agent
system prompt + user turn) that chat-template RL trainers read directly.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence

from schemas.shards import (
    ImageBytes,
    ImageProvenance,
    Message,
    PathNode,
    Provenance,
    RlRow,
    SftRow,
    Split,
    ToolCallMsg,
    ToolFunction,
    Turn,
)
from tasks.export.redact import redact_paths
from toolenv.protocol import ToolCall, parse_turn
from warehouse.export import ItemFacts, RlCandidate, SftCandidate

IMAGE = "<image>"
_TOOL_CALL = re.compile(r"\s*<tool_call>.*?</tool_call>\s*", re.DOTALL)
_TOOLS = re.compile(r"<tools>(.*?)</tools>", re.DOTALL)

ImageLoader = Callable[[str], ImageBytes]


class ExportRowError(ValueError):
    """A candidate that cannot become a valid shard row (recorded as a reject, never written)."""


@functools.lru_cache(maxsize=8)
def _tools_json(system: str) -> str:
    return json.dumps(tools_from_system(system))


def tools_from_system(system: str) -> list[dict[str, object]]:
    """The tool schemas inside the system prompt's ``<tools>`` block: what the teacher actually saw."""
    blocks = [b for b in _TOOLS.findall(system) if b.strip()]   # the prose mentions an empty <tools></tools>
    if not blocks:
        return []
    return [json.loads(line) for line in blocks[-1].splitlines() if line.strip()]


def _unwrap(observation: str) -> str:
    text = observation.strip()
    head, tail = "<tool_response>", "</tool_response>"
    if text.startswith(head) and text.endswith(tail):
        return text[len(head):-len(tail)].strip("\n")
    return observation


def _with_images(text: str, n: int) -> str:
    return (IMAGE * n + "\n" + text) if n else text


def wikipedia_text_license(revision_timestamp: str | None) -> str:
    """Wikipedia text is CC BY-SA 4.0 from 2023-06-29 on and CC BY-SA 3.0 before (with GFDL)."""
    if revision_timestamp and revision_timestamp[:10] >= "2023-06-29":
        return "CC BY-SA 4.0"
    return "CC BY-SA 3.0" if revision_timestamp else "CC BY-SA"


def provenance(facts: ItemFacts, *, teacher: str | None = None, answer_judge: str | None = None,
               process_judge: str | None = None, process_score: float | None = None,
               prompts: dict[str, str] | None = None, run_id: str | None = None,
               search_backends: dict[str, str] | None = None, split_rule: str | None = None) -> str:
    """The JSON provenance of one row: path nodes with aliases, the image and its licence, gates, judges."""
    pp = facts.pool_provenance
    image = None
    if facts.exported_image:
        image = ImageProvenance(sha256=facts.exported_image, license=pp.get("image_license"),
                                source_url=pp.get("image_source_url"), author=pp.get("image_author"),
                                file_name=pp.get("image_file_name"), method=facts.image_method,
                                score=facts.image_score, degradation=facts.degradation)
    wiki = facts.source == "wiki"
    prov = Provenance(
        item_id=facts.item_id, source=facts.source,
        path=[PathNode(title=t, role=r, aliases=list(a)) for t, r, a in facts.nodes],
        image=image, wiki=facts.wiki, dump_date=pp.get("dump_date"), path_id=facts.path_id, hops=facts.hops,
        domain=facts.domain, answer_attribute=facts.answer_attribute,
        question_method=pp.get("method") if wiki else None, gates=facts.gates,
        filter={"pass_at_k": facts.pass_at_k, "solver": facts.filter_solver},
        teacher=teacher, answer_judge=answer_judge, process_judge=process_judge, process_score=process_score,
        prompts=prompts or {}, run_id=run_id,
        text_license=wikipedia_text_license(facts.latest_revision) if wiki else str(pp.get("license", "see source")),
        external={} if wiki else redact_paths({k: v for k, v in pp.items()
                                               if k in ("file", "row", "id", "source_file")}),
        search_backends=search_backends or {}, split_rule=split_rule)
    return prov.model_dump_json()


def sft_row(c: SftCandidate, facts: ItemFacts, load: ImageLoader, search_backends: dict[str, str] | None = None,
            split_rule: str | None = None) -> SftRow:
    """One accepted trajectory as an SFT row (both layouts)."""
    if not c.turns or c.turns[0].role != "system":
        raise ExportRowError("trajectory has no system turn")
    system = c.turns[0].content
    messages = [Message(role="system", content=system)]
    conversations: list[Turn] = []
    images: list[ImageBytes] = []
    pending: list[str] = []                     # ids of tool calls not yet answered
    for t in c.turns[1:]:
        images.extend(load(sha) for sha in t.image_sha256s)
        n = len(t.image_sha256s)
        if t.role == "user":
            text = _with_images(t.content, n)
            messages.append(Message(role="user", content=text))
            conversations.append(Turn(**{"from": "human", "value": text}))
        elif t.role == "assistant":
            conversations.append(Turn(**{"from": "gpt", "value": t.content}))
            parsed = parse_turn(t.content)
            if isinstance(parsed, ToolCall):
                call_id = f"call_{t.idx}"
                pending.append(call_id)
                messages.append(Message(role="assistant", content=_TOOL_CALL.sub("\n", t.content).strip(),
                                        tool_calls=[ToolCallMsg(id=call_id, function=ToolFunction(
                                            name=parsed.name, arguments=json.dumps(parsed.arguments)))]))
            else:
                messages.append(Message(role="assistant", content=t.content))
        elif t.role == "tool":
            text = _with_images(_unwrap(t.content), n)
            conversations.append(Turn(**{"from": "observation", "value": text}))
            if pending:
                messages.append(Message(role="tool", content=text, tool_call_id=pending.pop(0), name=t.tool))
            else:                               # an error observation after a malformed turn
                messages.append(Message(role="user", content=text))
        else:
            raise ExportRowError(f"unexpected turn role {t.role!r} at {t.idx}")
    if not conversations or conversations[-1].from_ != "gpt":
        raise ExportRowError("trajectory does not end with an assistant turn")
    try:
        return SftRow(id=c.trajectory_id, item_id=c.item_id, messages=messages, conversations=conversations,
                      images=images, system=system, tools=_tools_json(system), answer=c.answer,
                      tool_calls=c.tool_calls, source=c.source,
                      provenance=provenance(facts, teacher=c.teacher, answer_judge=c.answer_judge,
                                            process_judge=c.process_judge, process_score=c.process_score,
                                            prompts=c.prompts, run_id=c.run_id, search_backends=search_backends,
                                            split_rule=split_rule))
    except ValueError as e:
        raise ExportRowError(f"invalid SFT row: {e}") from e


def rl_row(c: RlCandidate, facts: ItemFacts, load: ImageLoader, split: Split, system: str,
           split_rule: str | None = None) -> RlRow:
    """One pool item as an RL row."""
    if not c.image_sha256:
        raise ExportRowError("item has no local image")
    user = _with_images(c.question, 1)
    try:
        return RlRow(id=c.item_id, question=c.question, images=[load(c.image_sha256)], answer=c.answer,
                     answer_aliases=list(c.aliases), source=c.source, data_source=f"searchvl/{c.source}",
                     prompt=[Message(role="system", content=system), Message(role="user", content=user)],
                     degradation=c.degradation, hops=facts.hops, split=split,
                     provenance=provenance(facts, split_rule=split_rule))
    except ValueError as e:
        raise ExportRowError(f"invalid RL row: {e}") from e


def split_items(item_ids: Sequence[str], validation_fraction: float, seed: int) -> dict[str, Split]:
    """Seeded 90/10 split (PAPER.md §6.6 [C]: seed 42): shuffle the sorted ids, the first
    ``round(n · fraction)`` (at least one when n ≥ 2 and fraction > 0) go to validation."""
    import random

    ids = sorted(item_ids)
    random.Random(seed).shuffle(ids)
    n_val = round(len(ids) * validation_fraction)
    if n_val == 0 and validation_fraction > 0 and len(ids) >= 2:
        n_val = 1
    return {i: ("validation" if k < n_val else "train") for k, i in enumerate(ids)}
