"""`searchvl inspect item` as a compact tree: one line per fact and per trajectory turn, every line within the
width."""

from __future__ import annotations

from tasks.inspect.tree import fit, item_tree, turn_line

SECTIONS = {
    "question": (["item_id", "status", "reject_stage", "reject_reason", "question", "answer", "image_file_name",
                  "image_license", "image_method", "image_score"],
                 [("it1", "accepted", None, None, "What is the type of the deity linked after X " * 5, "Greek",
                   "Flag of Angola.svg", "Public domain", "heuristic", 0.9)]),
    "path": (["path_id", "wiki", "domain", "hops", "nodes"],
             [("p1", "enwiki", "location", 3, ["anchor: Angola", "bridge: Asia", "answer: Apollo"])]),
    "gates": (["gate", "score", "verdict", "detail"], [("masking", 0.0, "pass", ""), ("uniqueness", 1.0, "pass", "")]),
    "trajectories": (["trajectory_id", "status", "reject_reason", "tool_calls", "final_answer"],
                     [("t1", "accepted", None, 1, "Greek")]),
    "exports": (["name", "config", "split"], [("demo", "sft", "train"), ("demo", "sft", "train")]),
}
TURNS = {"t1": [
    (0, "system", "You are … " * 500, None, None, None),
    (1, "user", "What is the type … <image>", None, None, None),
    (2, "assistant", '<think>Find the page.</think>\n<tool_call>{"name": "text_search", "arguments": {"q": "Asia"}}'
                     "</tool_call>", None, None, None),
    (3, "tool", "<tool_response>\n[Passage 1]\nTitle: Asia\nURL: u\nSummary:\nAsia is …\n</tool_response>",
     "text_search", '{"q": "Asia"}', None),
    (4, "assistant", "<think>Done.</think>\n<response>\\boxed{Greek}</response>", None, None, None),
]}


def test_tree_is_compact_and_fits_the_width() -> None:
    lines = item_tree("it1", SECTIONS, TURNS, width=80)
    assert lines[0] == "item it1 (accepted)"
    assert all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    assert "path (3 hops, location): anchor: Angola → bridge: Asia → answer: Apollo" in text
    assert "gates: masking pass 0.00 · uniqueness pass 1.00" in text
    assert "exports: demo sft/train" in text and text.count("demo sft/train") == 1
    assert len(lines) == 1 + 5 + 1 + len(TURNS["t1"]) + 1     # head, facts, trajectory, a line per turn, exports


def test_turn_lines_say_what_happened() -> None:
    assert "system prompt (5,000 chars)" in turn_line(TURNS["t1"][0])
    assert '→ text_search({"q": "Asia"})  (Find the page.)' in turn_line(TURNS["t1"][2])
    assert "text_search: results: Asia" in turn_line(TURNS["t1"][3])
    assert "⇒ answer: \\boxed{Greek}" in turn_line(TURNS["t1"][4])


def test_fit_folds_and_cuts() -> None:
    assert fit('{\n  "a": 1,\n  "b": 2\n}', 10) == '{ "a": 1,…'
    assert fit("short", 10) == "short"
