"""The path-guided offline teacher: the calls it makes and that it answers only from observations."""

from __future__ import annotations

import json

from tasks.synthesize.path_guided import PathGuidedPolicy, Plan
from toolenv import ToolCall, parse_turn

PLAN = Plan("q?", "Luanda", (), ("Angola Flag", "Angola", "Luanda"), ("flag of", "capital"), "population",
            degradation="blur")
IMAGE_OK = "Tool execution result:\n" + json.dumps({"visual_matches": [{"title": "Angola Flag"}]})


def passage(title: str, summary: str) -> str:
    return f"[Passage 1]\nTitle: {title}\nURL: https://x\nSummary:\n{summary}"


def call(turn: str) -> tuple[str, dict[str, object]]:
    parsed = parse_turn(turn)
    assert isinstance(parsed, ToolCall), turn
    return parsed.name, parsed.arguments


def test_repairs_identifies_hops_and_answers_from_evidence() -> None:
    p = PathGuidedPolicy(PLAN)
    assert call(p.next_turn("q?")) == ("sharpen", {"image": "img_1"})
    assert call(p.next_turn("sharpened", new_images=1)) == ("image_search", {"url": "img_2"})
    assert call(p.next_turn(IMAGE_OK)) == ("text_search", {"q": "Angola Flag flag of"})
    assert call(p.next_turn(passage("Angola Flag", "The flag of Angola is red and black."))) == (
        "text_search", {"q": "Angola capital"})
    assert call(p.next_turn(passage("Angola", "Its capital is Luanda."))) == ("text_search",
                                                                             {"q": "Luanda population"})
    final = p.next_turn(passage("Luanda", "- population: Luanda metro 2 million; also Luanda"))
    assert "<response>\\boxed{Luanda}</response>" in final


def test_gives_up_honestly_when_the_tools_do_not_show_the_evidence() -> None:
    p = PathGuidedPolicy(Plan("q?", "x", (), ("A", "B"), ("rel",), "attr"))
    assert call(p.next_turn("q?"))[0] == "image_search"
    final = p.next_turn("Tool execution result:\n" + json.dumps({"visual_matches": [{"title": "Z"}]}))
    assert "cannot be determined" in final and "\\boxed" not in final
    q = PathGuidedPolicy(Plan("q?", "x", (), ("A", "B"), ("rel",), "attr"))
    q.next_turn("q?")
    q.next_turn("Tool execution result:\n" + json.dumps({"visual_matches": [{"title": "A"}]}))
    assert call(q.next_turn(passage("A", "nothing here")))[1] == {"q": "A rel B"}   # refined queries
    assert call(q.next_turn(passage("A", "nothing here")))[1] == {"q": "A B"}
    assert "cannot be determined" in q.next_turn(passage("A", "still nothing"))
