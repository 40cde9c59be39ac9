"""Table-driven tests of issue 13: relation phrases, relational descriptor verdicts (chain-unique, not
self-sufficient), answer deny list / list answers, and answer aliases."""

from __future__ import annotations

import pytest

from tasks.questions.aliases import answer_aliases
from tasks.questions.chain import Competitor, Fact, check_descriptor
from tasks.questions.leakage import LeakChecker
from tasks.sample.paths import METADATA_KEY, is_list_value
from tasks.sample.relations import edge_relation, render_relation

GENIUS = "The Genius Sings the Blues (1961) Soul Meeting (1961) The Genius After Hours (1961)"


@pytest.mark.parametrize(("source", "anchor", "sentence", "key", "expected"), [
    ("Soul Meeting", "The Genius After Hours", GENIUS, None, ("that was released just after {x}", "chronology")),
    ("Soul Meeting", "The Genius Sings the Blues", GENIUS, None, ("that was released just before {x}", "chronology")),
    ("A Fool for You", "Hallelujah I Love Her So",
     '"Greenbacks" (1955) "A Fool for You" (1955) "Hallelujah I Love Her So" (1956)', None,
     ("that was released just after {x}", "chronology")),
    ("Albert Einstein", "Berlin", "In 1914, the couple separated; Einstein moved to Berlin and his wife stayed.",
     None, ("that {x} moved to", "sentence_context")),
    ("Angola", "Atlantic Ocean", "It is bordered by Namibia to the south and the Atlantic Ocean to west.", None,
     ("that borders {x} to the west", "sentence_context")),
    ("Lonely Avenue", "Yes Indeed!", "from the album Yes Indeed!", None, ("that includes {x}", "infobox_key")),
    ("Ray Charles Anthology", "Ray Charles", "Producer Ray Charles", "Producer", ("that is the producer of {x}",
                                                                                 "infobox_key")),
    # link positions are not relations
    ("Asia", "Azerbaijan", "Jewish communities live in Turkey (17,400), Azerbaijan (9,100), Iran.", None, None),
    ("Albania", "Abortion", "Surveys detailed statistics in Albania, including male circumcision, abortion.", None,
     None),
    ("Night Time", "Ray (film)", "Night Time is included on the albums Ray (film)", None, None),
    ("Economy of Angola", "Angola", "caption: Luanda is the financial center of Angola", "caption", None),
])
def test_edge_relation(source: str, anchor: str, sentence: str, key: str | None,
                       expected: tuple[str, str] | None) -> None:
    assert edge_relation(source, anchor, sentence, key) == expected


def test_repeated_head_nouns_read_the_one() -> None:
    from schemas.questions import Hop, QuestionSpec
    from tasks.questions.spec import render
    after = Hop("that was released just after {x}", "clause", "album")
    spec = QuestionSpec("length", "running time", (after, after),
                        ("the album in the image", "the album released just after {x}"))
    assert render(spec) == ("What is the running time of the album released just after the one released just after "
                            "the one in the image?")


def test_render_relation_is_a_relative_clause() -> None:
    assert render_relation("that is the producer of {x}", "the album in the image", "person") == \
        "the producer of the album in the image"
    assert render_relation("that {x} moved to", "the person in the image", "city") == \
        "the city that the person in the image moved to"
    assert render_relation("that is the producer of {x}", "X", "person", "whose date of birth is 1933") == \
        "the person whose date of birth is 1933 and who is the producer of X"


def _hits(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def top(query: str, k: int) -> list[tuple[str, float]]:
        for words, titles in table.items():
            if set(words.split()) <= set(query.split()):
                return [(t, 1.0) for t in titles[:k]]
        return [("Unrelated", 1.0)]
    return top


INDEX = _hits({"album producer sid feller released just after": ["Dedicated to You"],
               "album released just after": ["X1", "X2", "X3", "X4", "Dedicated to You"]})
RIVAL = Competitor("Soul Brothers", {"producer": "Nesuhi Ertegun"})
SAME_FACT_RIVAL = Competitor("Soul Brothers", {"producer": "Sid Feller"})
FACT = Fact("producer", "Sid Feller")


@pytest.mark.parametrize(("desc", "fact", "competitors", "chain", "rank", "passes"), [
    # known good: the relation alone singles the album out among the previous node's out-links
    ("the album that was released just after {x}", None, [], "pass", 5, True),
    # known good: a rival shares the relation, the fact tells them apart, and alone it is not top-3
    ("the album whose released is 1961 and that was released just after {x}", Fact("released", "1961"), [RIVAL],
     "pass", 5, True),
    # known bad, non-unique in the chain: a rival shares the relation and nothing tells them apart
    ("the album that was released just after {x}", None, [RIVAL], "fail", 5, False),
    # known bad, non-unique: the fact holds for the rival too
    ("the album whose producer is Sid Feller and that was released just after {x}", FACT, [SAME_FACT_RIVAL],
     "fail", 1, False),
    # known bad, self-sufficient: searching the descriptor alone finds the album first
    ("the album whose producer is Sid Feller and that was released just after {x}", FACT, [RIVAL], "pass", 1,
     False),
])
def test_descriptor_verdicts(desc: str, fact: Fact | None, competitors: list[Competitor], chain: str,
                             rank: int | None, passes: bool) -> None:
    leaks = LeakChecker({"Dedicated to You": ["Dedicated to You"]})
    c = check_descriptor(desc, fact, "Dedicated to You", competitors, INDEX, leaks)
    assert (c.chain, c.rank, c.passes(3)) == (chain, rank, passes)


def test_a_leaking_descriptor_never_passes() -> None:
    leaks = LeakChecker({"Dedicated to You": ["Dedicated to You"]})
    c = check_descriptor("the album dedicated to you that was released just after {x}", None, "Dedicated to You",
                         [], INDEX, leaks)
    assert c.leak and not c.passes(3)


@pytest.mark.parametrize(("key", "denied"), [
    ("population_estimate_year", True), ("area_magnitude", True),
    ("type", True), ("image_flag", True), ("caption", True), ("child1", True),
    ("parent2", True), ("signature", True), ("leader_name1", True), ("released", False), ("length", False),
    ("area_total_km2", False), ("genre", False), ("birth_date", False)])
def test_metadata_keys_are_denied(key: str, denied: bool) -> None:
    assert bool(METADATA_KEY.search(key)) is denied


@pytest.mark.parametrize(("value", "is_list"), [
    ("Arabic, Berber", True), ("guitar and piano", True), ("Rock; soul", True), ("1,234,567", False),
    ("November 20, 2009", False), ("44,579,000 km2", False), ("Hard bop", False), ("37:43", False)])
def test_list_answers(value: str, is_list: bool) -> None:
    assert is_list_value(value) is is_list


@pytest.mark.parametrize(("answer", "names", "expected"), [
    ("44,579,000 km2", (), {"44579000 km2", "44,579,000 km²", "44579000"}),
    ("20 November 2009", (), {"November 20, 2009", "2009-11-20"}),
    ("August 31, 2004", (), {"31 August 2004", "2004-08-31"}),
    ("June 1964", (), {"1964-06"}),
    ("1961", (), {"in 1961"}),
    ("37:43", (), {"37 minutes 43 seconds"}),
    ("1_E11", (), set()),
    ("Atlantic Records", ("Atlantic", "Atlantic Recording Corporation"), {"Atlantic Recording Corporation"}),
    ("Ray Charles", ("Ray Charles (musician, born 1930)", "Raymond Charles Robinson", "I Believe to My Soul"),
     {"Raymond Charles Robinson"}),
])
def test_every_numeric_or_date_answer_has_aliases(answer: str, names: tuple[str, ...], expected: set[str]) -> None:
    got = answer_aliases(answer, names)
    assert expected <= set(got) and answer not in got and "I Believe to My Soul" not in got
