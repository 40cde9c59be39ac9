"""The grounding rules on the labelled trajectory set: every good trajectory kept, every broken one rejected
with the rule it breaks; plus the schema check on its own and the rules inside the judging cascade."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from schemas.synthesis import SynthesisConfig
from tasks.synthesize.grounding import RULE_ORDER, check, reason, schema_problem, unseen_entities
from tasks.synthesize.ports import ItemInput, OfflineAnswerJudge, OfflineProcessJudge
from tasks.synthesize.rollouts import judge
from tests.unit.synthesize.grounding_cases import ANGOLA, Case, angola_steps, build, cases
from toolenv.registry import paper_tool_schemas

SCHEMAS = paper_tool_schemas()
CASES = cases()


def test_the_labelled_set_is_large_and_covers_every_rule() -> None:
    counts = Counter(c.expect for c in CASES)
    assert len(CASES) >= 40 and len({c.name for c in CASES}) == len(CASES)
    assert counts[None] >= 10 and all(counts[r] >= 8 for r in RULE_ORDER), counts


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_trajectory_sorted_with_the_right_reason(case: Case) -> None:
    broken = check(case.traj, case.hidden, SCHEMAS)
    assert reason(broken) == case.expect, [str(v) for v in broken]
    assert {v.rule for v in broken} <= ({case.expect} if case.expect else set()), [str(v) for v in broken]


def test_precision_and_recall_on_the_labelled_set() -> None:
    tp = fp = fn = 0
    for case in CASES:
        rejected = reason(check(case.traj, case.hidden, SCHEMAS))
        tp += rejected is not None and rejected == case.expect
        fp += rejected is not None and rejected != case.expect
        fn += rejected is None and case.expect is not None
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    assert (precision, recall) == (1.0, 1.0)


@pytest.mark.parametrize(("name", "args", "ok"), [
    ("image_search", {"image": "img_1"}, True),
    ("image_search", {"url": "img_1"}, False),
    ("text_search", {"q": "x", "hl": "en", "top_k": 5}, True),
    ("text_search", {"q": ""}, False),
    ("crop", {"image": "img_1", "x": 0, "y": 0, "width": 0, "height": 3}, False),
    ("crop", {"image": "img_1", "x": 0, "y": 0, "width": 2, "height": 3}, True),
    ("layout_parsing", {"image": "img_1", "use_chart_recognition": 1}, False),
    ("super_resolution", {"image": "img_1", "scale": 2}, True),
])
def test_schema_problem(name: str, args: dict[str, object], ok: bool) -> None:
    assert (schema_problem(name, args, SCHEMAS) is None) is ok


def test_unseen_entities_split_runs_and_openers() -> None:
    context = " angola luanda atlantic ocean "
    assert unseen_entities("Next: Angola Luanda and the Atlantic Ocean.", context) == []
    assert unseen_entities("Then the Indian Ocean borders Angola.", context) == ["Indian"]
    assert unseen_entities("Enough evidence. Zambia borders Angola.", context) == []   # sentence openers
    assert unseen_entities("Enough evidence: it borders Zambia.", context) == ["Zambia"]


def test_the_cascade_rejects_an_ungrounded_trajectory_with_the_rule() -> None:
    bad = build(ANGOLA.question, angola_steps(search_args={"url": "img_1"}))
    good = build(ANGOLA.question, angola_steps())
    item = ItemInput("i", ANGOLA.question, ANGOLA.answer, ANGOLA.aliases, None, nodes=ANGOLA.nodes)
    cfg = SynthesisConfig()
    traj, status, why = asyncio.run(judge(bad, item, cfg, OfflineAnswerJudge(), OfflineProcessJudge()))
    assert (status, why) == ("rejected", "schema_conformity")
    assert traj.process_verdict is not None and traj.process_verdict.score == 0.0
    assert "url" in traj.process_verdict.reasons[0]
    assert asyncio.run(judge(good, item, cfg, OfflineAnswerJudge(), OfflineProcessJudge()))[1:] == ("accepted", None)
