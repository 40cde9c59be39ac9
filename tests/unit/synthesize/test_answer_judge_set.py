"""The offline answer judge on the labelled set built from the bundled corpus's answers (≥ 500 pairs), and on
golds whose own words look like hedges."""

from __future__ import annotations

import pytest

from benchmarks.answer_judge_eval import labelled_pairs, scores
from tasks.synthesize.answers import judge_offline


def test_precision_and_recall_on_the_corpus_answers() -> None:
    pairs = labelled_pairs()
    assert len(pairs) >= 500 and sum(p.correct for p in pairs) >= 200 and sum(not p.correct for p in pairs) >= 200
    precision, recall, wrong = scores(pairs, lambda r, g: judge_offline(r, g).correct)
    assert precision >= 0.99 and recall >= 0.99, wrong[:10]


@pytest.mark.parametrize(("response", "gold", "ok"), [
    ("one of the Seven Wonders", "one of the Seven Wonders", True),
    ("It is one of the Seven Wonders of the World.", "one of the Seven Wonders", True),
    ("Not applicable", "not applicable", True),
    ("Trinidad and Tobago", "Trinidad and Tobago", True),
    ("The island nation of Trinidad and Tobago", "Trinidad and Tobago", True),
    ("Who's Sorry Now?", "Who's Sorry Now?", True),
    ("Olympia or Austin", "Olympia", False),
    ("Austin or Olympia", "Olympia", False),
    ("Olympia and Austin", "Olympia", False),
    ("not Olympia", "Olympia", False),
    ("Olympia?", "Olympia", False),
    ("It is likely Olympia.", "Olympia", False),
    ("STRAßE", "strasse", True),
    ("The capital of the U.S. state of Washington, which the second search named, is Olympia.", "Olympia", True),
])
def test_tricky_golds_and_hedges(response: str, gold: str, ok: bool) -> None:
    assert judge_offline(response, gold).correct is ok
