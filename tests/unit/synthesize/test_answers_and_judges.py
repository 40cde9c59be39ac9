"""Answer normalisation, the offline answer judge, observation parsing and the offline process judge."""

from __future__ import annotations

import json

import pytest

from schemas.synthesis import Trajectory, TurnRecord
from tasks.synthesize.answers import extract_answer, fold, found_in, hedge_reason, judge_offline, matches
from tasks.synthesize.judges import parse_answer_verdict, parse_process_verdict, process_rules, trajectory_summary
from tasks.synthesize.path_guided import answer_evidence, hop_evidence, match_titles, passages

TEXT_OBS = """[Passage 1]
Title: Angola
URL: https://en.wikipedia.org/wiki/Angola
Summary:
Angola is bordered by Namibia to the south and the Atlantic Ocean to the west.

[Passage 2]
Title: Luanda
URL: https://en.wikipedia.org/wiki/Luanda
Summary:
- country: Angola
- population: 2,571,861"""
IMAGE_OBS = "Tool execution result:\n" + json.dumps({"visual_matches": [{"position": 1, "title": "Angola"},
                                                                      {"position": 2, "title": "Albania"}]})


@pytest.mark.parametrize(("response", "answer", "aliases", "ok"), [
    ("\\boxed{Luanda}", "Luanda", (), True),
    ("The capital is Luanda.", "Luanda", (), True),
    ("luanda", "Luanda", (), True),
    ("São Tomé", "Sao Tome", (), True),
    ("the Atlantic Ocean", "Atlantic Ocean", (), True),
    ("17,400", "17400", (), True),
    ("Kwanza", "Angolan kwanza", ("Kwanza",), True),
    ("44,579,000 square kilometers", "44579000 km2", (), True),
    ("about 1,246,700 km²", "1246700 km2", (), True),
    ("3,646 metres", "3646 m", (), True),
    ("44,579,000 square miles", "44579000 km2", (), False),
    ("Lobito", "Luanda", (), False),
    ("Luandan", "Luanda", (), False),
])
def test_alias_aware_match(response: str, answer: str, aliases: tuple[str, ...], ok: bool) -> None:
    assert matches(response, answer, aliases) is ok


@pytest.mark.parametrize(("response", "reason"), [
    ("The answer cannot be determined from the evidence found.", "hedged"),
    ("I don't know", "hedged"),
    ("It is either Luanda or Lobito", "multiple_answers"),
    ("Luanda, Lobito, Benguela", "multiple_answers"),
    ("Perhaps Luanda", "multiple_answers"),
    ("\\boxed{Luanda}", None),
])
def test_hedges_and_lists_are_rejected(response: str, reason: str | None) -> None:
    assert hedge_reason(response, "Luanda") == reason
    verdict = judge_offline(response, "Luanda")
    assert verdict.correct is (reason is None)
    assert verdict.reason == (reason or "match")


def test_no_answer_and_extraction() -> None:
    assert judge_offline(None, "x").reason == "no_answer"
    assert extract_answer("so \\boxed{A} then \\boxed{B}") == "B"
    assert fold("The  Āmu-Darya!") == "amu darya"
    assert found_in("the river Amu Darya flows", "Āmu Darya") == "Āmu Darya"
    assert found_in("Amu Daryas", "Amu Darya") is None


def test_observation_parsing() -> None:
    assert passages(TEXT_OBS) == [("Angola", "Angola is bordered by Namibia to the south and the Atlantic Ocean "
                                              "to the west."), ("Luanda", "- country: Angola\n- population: 2,571,861")]
    assert match_titles(IMAGE_OBS) == ["Angola", "Albania"]
    assert match_titles("not json") == []
    assert hop_evidence(TEXT_OBS, "Angola", "Atlantic Ocean") is not None
    assert hop_evidence(TEXT_OBS, "Luanda", "Angola") is not None           # the reverse direction counts
    assert hop_evidence(TEXT_OBS, "Angola", "Zambia") is None
    assert answer_evidence(TEXT_OBS, "Luanda", "population", "2571861", ()) == ("- population: 2,571,861",
                                                                              "2,571,861")   # copied as written
    assert answer_evidence(TEXT_OBS, "Angola", "population", "2571861", ()) is None   # only the answer node's


def _traj(steps: list[tuple[str, str, str | None]], final: str | None, thinks: list[str]) -> Trajectory:
    turns = [TurnRecord(0, "system", "s"), TurnRecord(1, "user", "q")]
    for (tool, content, error), think in zip(steps, thinks, strict=False):
        turns.append(TurnRecord(len(turns), "assistant", think))
        turns.append(TurnRecord(len(turns), "tool", content, tool=tool, arguments=json.dumps({"q": content[:5]}),
                                error=error))
    turns.append(TurnRecord(len(turns), "assistant", thinks[-1]))
    return Trajectory("t", "i", 0, "path-guided", tuple(turns), "answered", final, len(steps))


def test_process_rules_reward_used_evidence_and_penalise_repeats() -> None:
    good = _traj([("image_search", IMAGE_OBS, None), ("text_search", TEXT_OBS, None)], "\\boxed{2571861}",
                 ["find it", "image is Angola", "Luanda population is 2571861"])
    verdict = process_rules(good, "2571861", ())
    assert verdict.score == 1.0 and verdict.method == "rules"
    bad = _traj([("text_search", TEXT_OBS, None), ("text_search", TEXT_OBS, None), ("image_search", "x", "timeout")],
                "\\boxed{Lobito}", ["a", "b", "c", "d"])
    low = process_rules(bad, "Lobito", ())
    assert low.score < 0.7
    assert "no_repeats=0.00" in low.reasons and "image_then_text=0.00" in low.reasons
    assert process_rules(_traj([], "x", ["x"]), "x", ()).score == 0.0
    assert "Step 1: text_search(" in trajectory_summary(bad) and "[ERROR]" in trajectory_summary(bad)


def test_model_judge_replies_are_parsed_or_rejected() -> None:
    assert parse_answer_verdict("correct: yes\nreasoning: same city", "gpt").correct
    assert parse_answer_verdict("**Correct:** No", "gpt").reason == "answer_wrong"
    assert parse_answer_verdict("I think so", "gpt").reason.startswith("unparsable_judge_reply")
    assert parse_process_verdict("score: 0.8\nreasoning: fine", "gpt").score == 0.8
    assert parse_process_verdict("score: 7", "gpt").reasons[0].startswith("unparsable")   # out of [0, 1]
    assert parse_process_verdict("no score here", "gpt").score == 0.0
