"""The question stage on real Wikipedia: the bundled corpus (always) and the ZIM fixture (``data``).

Every accepted question is checked for aliases of every path node with a check written independently of
``LeakChecker``: whole-word matches on case- and diacritic-folded text, and rapidfuzz partial ratio ≥ 90
for aliases of six characters or more.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rapidfuzz import fuzz

from schemas.run_config import SourceConfig, load_run_config
from schemas.settings import Settings
from tasks.questions.leakage import fold
from tasks.questions.stage import question_all, text_index
from tasks.sample.paths import is_list_value
from tests.factories import ingest_and_sample
from warehouse.db import Connection, run_query

ROOT = Path(__file__).resolve().parents[2]


def leaks_in_accepted(con: Connection) -> tuple[int, list[str]]:
    items = con.execute(
        "SELECT v.item_id, v.question, list_transform(v.nodes, lambda n: n.title) FROM vqa_items v").fetchall()
    found = []
    for item_id, question, titles in items:
        aliases = [str(r[0]) for r in con.execute(
            "SELECT DISTINCT alias FROM all_aliases WHERE list_contains(?, title)", [titles]).fetchall()]
        q = fold(question)
        for alias in aliases:
            a = fold(re.sub(r"\s*\([^)]*\)$", "", alias)).strip()
            if len(a) < 3:
                continue
            if re.search(rf"(?<!\w){re.escape(a)}(?!\w)", q) or (len(a) >= 6 and fuzz.partial_ratio(a, q) >= 90):
                found.append(f"{item_id}: {alias!r} in {question!r}")
    return len(items), found


def test_bundled_corpus_questions_leak_no_alias(tmp_path: Path, warehouse: Connection) -> None:
    cfg = load_run_config(ROOT / "flows/configs/demo.yaml")
    ingest_and_sample(warehouse, tmp_path, cfg.ingest.sources[0], cfg.sampling, cfg.ingest)
    counts = question_all(warehouse, cfg.questions, "run-test", tmp_path, Settings(), text_index)
    accepted, leaks = leaks_in_accepted(warehouse)
    assert accepted == counts[("kept", "accepted")] >= 3
    assert leaks == []
    # the provenance query shows, for every accepted item, its path, rewrite steps, image licence and gates
    cols, rows = run_query(warehouse, "vqa_provenance")
    assert len(rows) == accepted
    for row in rows:
        r = dict(zip(cols, row, strict=True))
        assert r["path"] and r["rewrite_steps"] is not None and r["image_license"] == "Public domain"
        assert len(r["gates"]) == 6 and all("=pass" in g or "=skip" in g for g in r["gates"])
        assert r["image_method"] == "heuristic" and r["method"] == "rule-based"


@pytest.mark.data
def test_zim_questions_need_every_hop(shared_data: Path, tmp_path: Path, warehouse: Connection) -> None:
    """The ZIM run config (flows/configs/zim-sample.yaml) through sampling and questions: issue 13's acceptance."""
    cfg = load_run_config(ROOT / "flows/configs/zim-sample.yaml")
    zim = shared_data / "zim" / "wikipedia_en_ray_charles_2015-06.zim"
    ingest_and_sample(warehouse, tmp_path, SourceConfig(kind="zim", path=zim), cfg.sampling)
    counts = question_all(warehouse, cfg.questions, "run-test", tmp_path, Settings(), text_index)
    accepted, leaks = leaks_in_accepted(warehouse)
    assert accepted == counts[("kept", "accepted")] >= 20
    assert leaks == []
    k = cfg.questions.alone_k
    items = warehouse.execute("SELECT item_id, question, answer, answer_aliases, question_words FROM vqa_items"
                              ).fetchall()
    for item_id, question, answer, aliases, words in items:
        assert '"' not in question and "linked after" not in question and "mentioned in" not in question
        assert words <= cfg.questions.max_words
        assert not is_list_value(answer)
        if re.search(r"\d", answer):
            assert aliases, f"{answer!r} has no alias"
        steps = warehouse.execute("SELECT alone_rank, chain_unique FROM rewrite_steps WHERE item_id = ? AND step > 0",
                                  [item_id]).fetchall()
        assert steps and all(c == "pass" and (r is None or r > k) for r, c in steps), (question, steps)
    words = sorted(int(w) for *_, w in items)
    assert words[len(words) // 2] <= 35 and words[-1] <= 60
    gates = dict(warehouse.execute("SELECT gate, count(*) FROM gate_verdicts GROUP BY 1").fetchall())
    assert gates.get("chain_shortcut", 0) > 0
