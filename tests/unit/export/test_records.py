"""Pure conversions of the export stage: turns → SFT layouts, RL rows, the seeded split."""

from __future__ import annotations

import json

import pytest

from schemas.shards import ImageBytes
from tasks.export.records import ExportRowError, rl_row, sft_row, split_items, tools_from_system
from warehouse.export import ItemFacts, RlCandidate, SftCandidate, TurnRow

SYSTEM = ('Tools are described inside <tools></tools>:\n<tools>\n{"type": "function", "function": {"name": "crop"}}\n'
          '</tools>\nbe brief')
FACTS = ItemFacts("item1", "wiki", ("Ankara",),
                  {"image_license": "CC0", "image_source_url": "u", "method": "rule-based"}, None, "abc",
                  (("Turkey", "anchor", ("Turkey", "Türkiye")), ("Ankara", "answer", ("Ankara",))),
                  1, "location", "enwiki", "p1", "capital", "heuristic", 0.9, {"masking": 1.0}, {"no_tool": 0.0},
                  "path-guided")


def load(sha: str) -> ImageBytes:
    return ImageBytes(bytes=b"\x89PNG" + sha.encode(), path=f"{sha}.png")


def turns(*specs: tuple[str, str, tuple[str, ...], str | None]) -> tuple[TurnRow, ...]:
    return tuple(TurnRow(i, role, text, imgs, tool, None) for i, (role, text, imgs, tool) in enumerate(specs))


def candidate(ts: tuple[TurnRow, ...]) -> SftCandidate:
    return SftCandidate("t1", "item1", "wiki", "Ankara", "path-guided", "alias-match", "rules", 0.9, 1, {"s.j2": "h"},
                        "run", ts)


def test_sft_row_has_both_layouts_and_image_markers_in_order() -> None:
    row = sft_row(candidate(turns(
        ("system", SYSTEM, (), None),
        ("user", "Which city?", ("img1",), None),
        ("assistant", '<think>crop it</think>\n<tool_call>{"name": "crop", "arguments": {"image": "img_1", "x": 0, '
                      '"y": 0, "width": 5, "height": 5}}</tool_call>', (), None),
        ("tool", "<tool_response>\ncropped as img_2\n</tool_response>", ("img2",), "crop"),
        ("assistant", "<think>done</think>\n<response>\\boxed{Ankara}</response>", (), None))), FACTS, load)
    assert [m.role for m in row.messages] == ["system", "user", "assistant", "tool", "assistant"]
    call = row.messages[2]
    assert call.content == "<think>crop it</think>" and call.tool_calls and call.tool_calls[0].function.name == "crop"
    assert json.loads(call.tool_calls[0].function.arguments)["width"] == 5
    assert row.messages[3].tool_call_id == call.tool_calls[0].id
    assert row.messages[3].content == "<image>\ncropped as img_2"
    assert [t.from_ for t in row.conversations] == ["human", "gpt", "observation", "gpt"]
    assert "<tool_call>" in row.conversations[1].value          # ShareGPT keeps the protocol text verbatim
    assert [im.path for im in row.images] == ["img1.png", "img2.png"]
    assert json.loads(row.tools) == [{"type": "function", "function": {"name": "crop"}}]
    prov = json.loads(row.provenance)
    assert prov["path"][0] == {"title": "Turkey", "role": "anchor", "aliases": ["Turkey", "Türkiye"]}
    assert prov["image"]["license"] == "CC0" and prov["teacher"] == "path-guided"


def test_trajectories_that_cannot_be_rows_raise_export_errors() -> None:
    with pytest.raises(ExportRowError, match="system"):
        sft_row(candidate(turns(("user", "q", (), None))), FACTS, load)
    with pytest.raises(ExportRowError, match="assistant"):
        sft_row(candidate(turns(("system", SYSTEM, (), None), ("user", "q", (), None))), FACTS, load)
    with pytest.raises(ExportRowError, match="no local image"):
        rl_row(RlCandidate("i", "wiki", "q", "a", (), None, None), FACTS, load, "train", "sys")


def test_rl_row_prompt_and_aliases() -> None:
    row = rl_row(RlCandidate("item1", "wiki", "Which city?", "Ankara", ("Angora",), "abc", "blur"), FACTS, load,
                 "validation", "SYS")
    assert [m.role for m in row.prompt] == ["system", "user"] and row.prompt[1].content == "<image>\nWhich city?"
    assert row.answer_aliases == ["Angora"] and row.degradation == "blur" and row.split == "validation"


def test_split_is_seeded_ninety_ten_and_order_free() -> None:
    ids = [f"i{k}" for k in range(100)]
    a = split_items(ids, 0.1, 42)
    assert a == split_items(list(reversed(ids)), 0.1, 42)
    assert sum(v == "validation" for v in a.values()) == 10
    assert a != split_items(ids, 0.1, 7)
    assert list(split_items(["x", "y"], 0.1, 42).values()).count("validation") == 1
    assert split_items(["x"], 0.1, 42) == {"x": "train"}


def test_tools_block_is_the_non_empty_one() -> None:
    assert tools_from_system("no tools here") == []
    assert len(tools_from_system(SYSTEM)) == 1
