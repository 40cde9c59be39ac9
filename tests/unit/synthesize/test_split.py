"""The SFT/RL group split: a labelled set of pairs that must share a side, and unrelated pairs that must not
be tied together; plus stability, the per-item rule and the export guard."""

from __future__ import annotations

import random

from tasks.synthesize.split import DRAWN, SplitItem, conflicts, drawn_for_rl, split_items

# (a, b, rule): pairs that must land on the same side
TOGETHER = [
    (SplitItem("p1", "q one", "Greek", nodes=("Angola", "Atlantic Ocean", "Asia", "Apollo"), wiki="en"),
     SplitItem("p2", "q two", "44579000 km2", nodes=("Angola", "Atlantic Ocean", "Asia"), wiki="en"), "path_prefix"),
    (SplitItem("a1", "q", "Berber", nodes=("Albania", "Algeria"), wiki="en"),
     SplitItem("a2", "q", "Plato", nodes=("Albania", "Abortion"), wiki="en"), "anchor"),
    (SplitItem("i1", "q", "x1", image_sha256="ab" * 32), SplitItem("i2", "q", "x2", image_sha256="ab" * 32), "image"),
    (SplitItem("e1", "q", "Parmenides", nodes=("Albania", "Abortion", "Aristotle"), wiki="en"),
     SplitItem("e2", "q", "Socrates", nodes=("Angola", "Apollo", "Aristotle"), wiki="en"), "answer_entity"),
    (SplitItem("t1", "q", "Continental Congress"), SplitItem("t2", "q", "continental  congress"), "answer_text"),
    (SplitItem("m1", "What is the area of the continent?", "44579000 km2"),
     SplitItem("m2", "Which deity is linked from the continent whose area is 44579000 km2?", "Apollo"),
     "answer_mention"),
    (SplitItem("m3", "q", "Greek"), SplitItem("m4", "Which GREEK city hosted it?", "Athens"), "answer_mention"),
    (SplitItem("m5", "q", "Zürich"), SplitItem("m6", "Which river flows through zurich?", "Limmat"),
     "answer_mention"),
    (SplitItem("m7", "q", "Brahui", aliases=("Brahui language",)),
     SplitItem("m8", "Who speaks the Brahui language mostly?", "Balochistan"), "answer_mention"),
]
# pairs with no key in common and no whole-word answer mention: must not be tied together
APART = [
    (SplitItem("u1", "Which country is Afghanistan's neighbour?", "Afghan"),
     SplitItem("u2", "What is the demonym of Afghanistan?", "Afghanistani"), "Afghan is not the word Afghanistan"),
    (SplitItem("u3", "Which side of the road do they drive on?", "yes"),
     SplitItem("u4", "Is yes the answer?", "no"), "stopword answers are not searched"),
    (SplitItem("u5", "q", "Asia", nodes=("Angola", "Atlantic Ocean", "Asia"), wiki="en"),
     SplitItem("u6", "q", "Europe", nodes=("Alabama", "Atlantic Ocean", "Europe"), wiki="en"), "bridge only"),
    (SplitItem("u7", "What year was 2015x built?", "2015"), SplitItem("u8", "q", "1999"), "2015x is not 2015"),
]


def _filler(n: int) -> list[SplitItem]:
    return [SplitItem(f"f{i}", f"filler question number {i}", f"answer{i}", nodes=(f"A{i}", f"B{i}", f"C{i}"),
                      wiki="en", image_sha256=f"{i:064x}") for i in range(n)]


def _groups(items: list[SplitItem]) -> dict[str, str]:
    return {p.item_id: p.group_key for p in split_items(items, 0.5, 42)}


def test_labelled_pairs_precision_and_recall() -> None:
    items = [x for a, b, _ in TOGETHER + APART for x in (a, b)] + _filler(30)
    random.Random(0).shuffle(items)
    group = _groups(items)
    tied = [group[a.item_id] == group[b.item_id] for a, b, _ in TOGETHER]
    wrongly = [why for a, b, why in APART if group[a.item_id] == group[b.item_id]]
    recall = sum(tied) / len(tied)
    assert recall == 1.0, [r for (a, b, r), t in zip(TOGETHER, tied, strict=True) if not t]
    assert wrongly == []                     # precision 1.0 on the unrelated pairs
    # fillers stay alone, drawn by their own hash
    placed = {p.item_id: p for p in split_items(items, 0.5, 42)}
    assert all(placed[f"f{i}"].rule == DRAWN and placed[f"f{i}"].group_size == 1 for i in range(30))


def test_rules_are_recorded_per_item_and_groups_share_one_side() -> None:
    items = [x for a, b, _ in TOGETHER for x in (a, b)]
    placed = {p.item_id: p for p in split_items(items, 0.5, 7)}
    for a, b, rule in TOGETHER:
        assert placed[a.item_id].side == placed[b.item_id].side
        assert rule in placed[b.item_id].shared
    assert placed["p1"].rule == "path_prefix" and placed["m2"].rule == "answer_mention"


def test_draw_is_stable_under_order_and_unrelated_items() -> None:
    items = [x for a, b, _ in TOGETHER for x in (a, b)]
    base = {p.item_id: p.side for p in split_items(items, 0.4, 42)}
    shuffled = items[::-1] + _filler(50)
    again = {p.item_id: p.side for p in split_items(shuffled, 0.4, 42)}
    assert all(again[k] == v for k, v in base.items())
    sides = [drawn_for_rl(f"key{i}", 0.3, 42) for i in range(4000)]
    assert 0.27 < sum(sides) / len(sides) < 0.33


def test_conflicts_catch_shared_keys_and_rl_answers_in_sft_text() -> None:
    rl = [SplitItem("r1", "q", "44579000 km2", nodes=("Angola", "Atlantic Ocean", "Asia"), wiki="en")]
    sft = [SplitItem("s1", "Which deity is linked from the continent whose area is 44579000 km2?", "Apollo"),
           SplitItem("s2", "q", "Apollo", nodes=("Angola", "X"), wiki="en"),
           SplitItem("s3", "What is the type of the deity?", "Greek"),
           SplitItem("s4", "unrelated", "Plato")]
    found = {c.item_id: c.rule for c in conflicts(sft, rl, {"s3": "The area is 44579000 km2", "s4": "Plato"})}
    assert found == {"s1": "rl_answer_in_sft", "s2": "shared_anchor", "s3": "rl_answer_in_sft"}
