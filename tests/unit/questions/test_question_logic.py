"""Table-driven tests of the question stage's invariants: leakage, uniqueness, farthest-first rewriting,
obfuscation and the grounding replacement text."""

from __future__ import annotations

import random

import pytest

from schemas.paths import PathEdge, PathNode, SampledPath
from schemas.questions import NodeContext, Verdict
from tasks.questions.ground import ImageCandidate, choose_image, heuristic_score
from tasks.questions.leakage import LeakChecker
from tasks.questions.offline import RuleBasedModel, descriptor_query
from tasks.questions.pipeline import ChainFacts, QuestionSettings, make_question
from tasks.questions.rewrite import definitional_phrase, offline_candidates, rewrite_bridges
from tasks.questions.spec import build_spec, render, templated

CHECKER = LeakChecker({
    "Algeria": ["Algeria", "People's Democratic Republic of Algeria", "Algérie", "DZ"],
    "Steve Irwin": ["Steve Irwin", "Stephen Robert Irwin"],
    "Australia Zoo": ["Australia Zoo", "Beerwah Reptile Park"],
    "Mercury (planet)": ["Mercury (planet)"],
})


@pytest.mark.parametrize(("text", "leaked"), [
    ("What is the capital of Algeria?", "Algeria"),                                  # exact title
    ("What is the capital of ALGERIA?", "Algeria"),                                  # case-folded
    ("What is Algeria's capital?", "Algeria"),                                       # possessive
    ("Quelle est la capitale de l'Algerie ?", "Algeria"),                            # diacritics folded
    ("Which park was once called the Beerwah Reptile Park?", "Australia Zoo"),       # redirect / alias
    ("Who founded the zoo that Irwin ran?", "Steve Irwin"),                          # partial name
    ("Who is Steve Irwinn's widow?", "Steve Irwin"),                                  # misspelling (fuzzy)
    ("How far is Mercury from the Sun?", "Mercury (planet)"),                        # parenthetical dropped
    ("The code DZ is used where?", "Algeria"),                                       # short alias, exact case
])
def test_leaks_found(text: str, leaked: str) -> None:
    assert leaked in {lk.title for lk in CHECKER.find(text)}


@pytest.mark.parametrize("text", [
    "What is the capital of the country whose flag is shown in the image?",
    "Which zoo in Queensland did the wildlife expert found?",
    "dz is lower case and not the code",                     # short aliases are case-sensitive
    "What is the national anthem of the state in the image?",  # generic words of aliases do not leak
])
def test_clean_text_has_no_leaks(text: str) -> None:
    assert CHECKER.find(text) == []


def node(title: str, role: str, lead: str = "", kind: str | None = None, **box: str) -> NodeContext:
    return NodeContext(title, role, lead, kind, dict(box), (title,))


NODES = [
    node("Algeria", "anchor", "Algeria is a country in North Africa.", "infobox country", capital="Algiers"),
    node("Algiers", "bridge", "Algiers is the capital and largest city of Algeria.", "infobox settlement",
         mayor="Abdelhakim Bettache"),
    node("Casbah of Algiers", "bridge", "The Casbah is a citadel of Algiers in Algeria.", "infobox building",
         built="1516"),
    node("Ottoman Empire", "answer", "", "infobox former country", founded="1299"),
]
EDGES = [
    PathEdge("Algeria", "Algiers", "Algiers", "capital: Algiers", "capital", "infobox_key"),
    PathEdge("Algiers", "Casbah of Algiers", "Casbah", "the Casbah is a citadel", "landmark", "infobox_key"),
    PathEdge("Casbah of Algiers", "Ottoman Empire", "Ottoman", "built by the Ottomans", "built by", "sentence_context"),
]


def hits_for(table: dict[str, list[tuple[str, float]]]):
    return lambda query, k: table.get(query, [])[:k]


@pytest.mark.parametrize(("hits", "verdict"), [
    ([("Algiers", 10.0)], "pass"),                                   # only hit
    ([("Algiers", 10.0), ("Oran", 5.0)], "pass"),                    # clear margin
    ([("Algiers", 10.0), ("Oran", 9.5)], "fail"),                    # margin too small
    ([("Oran", 10.0), ("Algiers", 5.0)], "fail"),                    # another entity ranks first
    ([], "fail"),                                                    # nothing found
])
def test_offline_uniqueness_decisions(hits: list[tuple[str, float]], verdict: Verdict) -> None:
    model = RuleBasedModel(hits_for({"capital city": hits}), {}, "founded", margin=0.15)
    got, _ = model.unique("q", NODES[1], "the capital city")
    assert got == verdict
    assert descriptor_query("the capital city") == "capital city"


class RecordingModel(RuleBasedModel):
    """The rule-based model, recording which entity it was asked about, in order."""

    asked: list[str]

    def propose(self, node: NodeContext, question: str, n: int) -> list[str]:
        self.asked.append(node.title)
        return [f"the mystery {node.title.split()[0].lower()} thing"]


def test_bridges_rewritten_farthest_first_and_anchor_left_for_grounding() -> None:
    spec = build_spec(NODES, EDGES, "founded")
    model = RecordingModel(lambda q, k: [], NODES[-1].infobox, "founded")
    model.asked = []
    model.unique = lambda question, n, d: ("pass", "")  # type: ignore[method-assign]
    result = rewrite_bridges(spec, NODES, "1299", model, CHECKER, n_candidates=3, context="",
                             rng=random.Random(0), obfuscation_p=0.0)
    assert model.asked == ["Casbah of Algiers", "Algiers"]
    assert [s.entity for s in result.steps] == ["Casbah of Algiers", "Algiers"]
    assert result.spec.surfaces[0] == "Algeria"          # the anchor waits for its image


def test_failing_bridge_stops_the_path_with_every_attempt_recorded() -> None:
    spec = build_spec(NODES, EDGES, "founded")
    model = RuleBasedModel(hits_for({}), NODES[-1].infobox, "founded")
    result = rewrite_bridges(spec, NODES, "1299", model, CHECKER, n_candidates=3, context="",
                             rng=random.Random(0), obfuscation_p=0.0)
    assert result.failed_entity == "Casbah of Algiers"
    step = result.steps[-1]
    assert step.chosen is None and step.candidates
    assert all(c.uniqueness == "fail" for c in step.candidates if c.non_leakage == "pass")


@pytest.mark.parametrize(("p", "obfuscated"), [(0.0, False), (1.0, True)])
def test_obfuscation_rate(p: float, obfuscated: bool) -> None:
    spec = build_spec(NODES, EDGES, "founded")
    model = RuleBasedModel(hits_for({}), NODES[-1].infobox, "founded")
    result = rewrite_bridges(spec, NODES, "1299", model, CHECKER, n_candidates=1, context="",
                             rng=random.Random(0), obfuscation_p=p)
    assert result.spec.obfuscated is obfuscated
    text = render(result.spec)
    assert text.startswith("When did") if obfuscated else text.startswith("What is the founding date")


def test_canonical_question_names_every_node_but_the_answer() -> None:
    text = render(build_spec(NODES, EDGES, "founded"))
    for n in NODES[:-1]:
        assert n.title in text
    assert "Ottoman Empire" not in text
    assert text.startswith("What is the founding date of")


def test_llm_wording_becomes_a_template_with_slots() -> None:
    spec = build_spec(NODES[:2], EDGES[:1], "mayor")
    t = templated(spec, "Who is the mayor of the capital of Algeria?")
    assert t is not None and render(t) == "Who is the mayor of the capital of Algeria?"
    assert templated(spec, "Who is the mayor of that capital?") is None          # anchor not named


def cand(file_name: str, role: str, caption: str = "") -> ImageCandidate:
    return ImageCandidate(file_name, file_name, f"images/{file_name}", role, caption, 1024, 768, "Public domain",
                          None, None)


@pytest.mark.parametrize(("candidates", "expected_file", "expression"), [
    ([cand("Flag of Algeria.png", "infobox")], "Flag of Algeria.png", "the country whose flag is shown in the image"),
    ([cand("Sahara.jpg", "body"), cand("Algeria map.png", "body")], "Algeria map.png", "the country in the image"),
    ([cand("x.jpg", "body"), cand("y.jpg", "body", "Dunes in Algeria")], "y.jpg", "the country in the image"),
])
def test_grounding_picks_the_image_and_replaces_the_name(candidates: list[ImageCandidate], expected_file: str,
                                                         expression: str) -> None:
    g = choose_image(NODES[0], candidates, 8, None, "heuristic", "/data")
    assert g is not None
    assert (g.file_name, g.referring_expression, g.method) == (expected_file, expression, "heuristic")
    assert g.license == "Public domain" and g.score == heuristic_score("Algeria", next(
        c for c in candidates if c.file_name == expected_file))


def test_whole_item_is_grounded_gated_and_leak_free() -> None:
    nodes, edges = NODES[:2], EDGES[:1]
    path = SampledPath("p1", "enwiki", "Algeria", "location", 1, tuple(PathNode(n.title, n.role) for n in nodes),
                       tuple(edges), "mayor", "Abdelhakim Bettache", 0, "h", 42)
    nodes = [nodes[0], node("Algiers", "answer", "", "infobox settlement", mayor="Abdelhakim Bettache")]
    model = RuleBasedModel(hits_for({}), nodes[-1].infobox, "mayor")
    leaks = LeakChecker({n.title: n.aliases for n in nodes})
    s = QuestionSettings(3, 0.0, 8, 0.28, 6, "heuristic", "/data")
    out = make_question(path, nodes, ChainFacts((1,), {"Flag of Algeria.png": 1}),
                        [cand("Flag of Algeria.png", "infobox")], model, leaks, s, None, random.Random(0))
    assert out.reject is None, out
    assert out.final == "Who is the mayor of the capital of the country whose flag is shown in the image?"
    assert {g.gate: g.verdict for g in out.gates} == {"masking": "pass", "uniqueness": "pass",
                                                      "visual_relevance": "pass", "answer_length": "pass",
                                                      "question_length": "pass", "chain_shortcut": "skip"}


def test_ambiguous_relation_fails_the_uniqueness_gate() -> None:
    nodes = [NODES[0], node("Algiers", "answer", "", "infobox settlement", mayor="Abdelhakim Bettache")]
    path = SampledPath("p1", "enwiki", "Algeria", "location", 1, tuple(PathNode(n.title, n.role) for n in nodes),
                       (EDGES[0],), "mayor", "Abdelhakim Bettache", 0, "h", 42)
    model = RuleBasedModel(hits_for({}), nodes[-1].infobox, "mayor")
    s = QuestionSettings(3, 0.0, 8, 0.28, 6, "heuristic", "/data")
    out = make_question(path, nodes, ChainFacts((2,), {"Flag of Algeria.png": 1}),
                        [cand("Flag of Algeria.png", "infobox")], model, LeakChecker({}), s, None, random.Random(0))
    assert out.reject == ("gate", "gate_uniqueness")


@pytest.mark.parametrize(("lead", "phrase"), [
    ("The Atlantic Ocean is the second-largest of the world's five oceans, with an area of",
     "second-largest of the world's five oceans"),
    ("ASCII, abbreviated from X, is a character-encoding scheme (the IANA prefers it). ASCII is the least bit",
     "character-encoding scheme"),
    ("Nothing defines it here.", None),
    ("Abortion is the ending of pregnancy by removing a fetus or embryo before it can survive outside",
     "ending of pregnancy by removing a fetus or embryo"),
    ("The American Revolutionary War was an armed conflict between Great Britain and thirteen of its North American",
     "armed conflict between Great Britain and thirteen"),
])
def test_definitional_phrase(lead: str, phrase: str | None) -> None:
    assert definitional_phrase(lead) == phrase


def test_offline_candidates_use_lead_then_infobox_facts() -> None:
    got = offline_candidates(node("Algiers", "bridge", "Algiers is the capital city of Algeria.", "infobox settlement",
                                  founded="944", image="x.jpg", mayor="A B"), 5)
    assert got[0] == "the capital city of Algeria whose founding date is 944"
    assert "the settlement whose founding date is 944" in got
    assert not any("x.jpg" in c for c in got)


def test_offline_candidates_skip_facts_that_name_the_node() -> None:
    war = node("American Revolutionary War", "bridge", "The American Revolutionary War was an armed conflict.",
               "infobox military conflict", conflict="American Revolutionary War", date="1775–1783")
    got = offline_candidates(war, 5)
    assert got and not any("American Revolutionary War" in c for c in got)
    assert "the military conflict whose date is 1775–1783" in got
