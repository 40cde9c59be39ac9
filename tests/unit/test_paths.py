"""Path sampling on synthetic graphs: the paper's rules as properties (seeded, deterministic)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.run_config import SamplingConfig
from tasks.sample.link_graph import EdgeTable, LinkGraph, NodeTable, build_graph, graph_from_pairs
from tasks.sample.paths import (
    Seed,
    choose_hops,
    domain_of,
    pick_answer,
    relation_label,
    sample_paths,
    select_seeds,
    uniform,
)

CFG = SamplingConfig(seed_min_in_degree=0, hub_in_degree=6)


def random_graph(n: int, m: int, seed: int, titles: list[str] | None = None) -> LinkGraph:
    rng = np.random.default_rng(seed)
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    names = titles or [f"Node {i:03d}" for i in range(n)]
    return graph_from_pairs(names, src.astype(np.int64), dst.astype(np.int64), CFG)


def boxes_for(graph: LinkGraph):  # type: ignore[no-untyped-def]
    def lookup(titles):  # type: ignore[no-untyped-def]
        return {t: {"founded": f"{1900 + len(t)}", "name": t, "motto": "one two three four five six seven"}
                for t in titles if not t.endswith("7")}
    return lookup


def check_rules(graph: LinkGraph, cfg: SamplingConfig, seeds: list[Seed]) -> None:
    paths, rejects = sample_paths(graph, "w", seeds, cfg, boxes_for(graph))
    index = {t: i for i, t in enumerate(graph.nodes.titles)}
    assert len(paths) + len(rejects) == len(seeds)
    for p in paths:
        ids = [index[n.title] for n in p.nodes]
        assert p.hops in cfg.hop_probs and len(ids) == p.hops + 1
        assert len(set(ids)) == len(ids), "a node repeats on the path"
        assert [n.role for n in p.nodes] == ["anchor"] + ["bridge"] * (p.hops - 1) + ["answer"]
        for a, b in zip(ids, ids[1:], strict=False):
            assert b in graph.neighbours(a), "hop is not a link"
            assert not graph.excluded[b], "walk stepped onto an excluded node"
        assert len(p.answer.split()) <= cfg.answer_max_tokens
        assert p.answer_attribute not in ("name", "motto")
        assert 0 <= p.retries < cfg.max_retries
    for r in rejects:
        assert r.reason.startswith("exhausted_")


@settings(max_examples=40, deadline=None)
@given(n=st.integers(5, 60), m=st.integers(0, 400), seed=st.integers(0, 10_000))
def test_sampled_paths_obey_every_rule(n: int, m: int, seed: int) -> None:
    graph = random_graph(n, m, seed)
    seeds = [Seed(v, "location") for v in range(n) if not graph.excluded[v]]
    check_rules(graph, CFG, seeds)


def test_same_inputs_same_paths_and_independent_of_batch() -> None:
    graph = random_graph(40, 300, 1)
    seeds = [Seed(v, "person") for v in range(40) if not graph.excluded[v]]
    a, _ = sample_paths(graph, "w", seeds, CFG, boxes_for(graph))
    b, _ = sample_paths(graph, "w", seeds, CFG, boxes_for(graph))
    half, _ = sample_paths(graph, "w", seeds[::2], CFG, boxes_for(graph))
    assert a == b
    assert {p.seed_title: p for p in half} == {p.seed_title: p for p in a if p.seed_title in
                                                {graph.nodes.titles[s.node] for s in seeds[::2]}}
    c, _ = sample_paths(graph, "w", seeds, CFG.model_copy(update={"seed": 7}), boxes_for(graph))
    assert [p.nodes for p in c] != [p.nodes for p in a]


def test_hop_distribution_follows_the_prior() -> None:
    keys = np.arange(1, 20_001, dtype=np.uint64) * np.uint64(2654435761)
    hops = choose_hops(uniform(keys, 0, 0), {2: 0.4, 3: 0.4, 4: 0.2})
    shares = [float(np.mean(hops == h)) for h in (2, 3, 4)]
    assert shares == pytest.approx([0.4, 0.4, 0.2], abs=0.02)


@pytest.mark.parametrize(
    ("title", "disamb", "in_degree", "excluded"),
    [("List of zoos", False, 1, True), ("Outline of art", False, 1, True), ("Index of x", False, 1, True),
     ("Timeline of y", False, 1, True), ("Mercury (disambiguation)", False, 1, True), ("Mercury", True, 1, True),
     ("Queensland", False, 7, True), ("Australia Zoo", False, 6, False)],
)
def test_node_exclusions(title: str, disamb: bool, in_degree: int, excluded: bool) -> None:
    nodes = NodeTable([title, "Other"], ["infobox zoo", None], np.array([in_degree, 0]),
                      np.array([disamb, False]), np.array([600, 0]))
    edges = EdgeTable(np.array([1]), np.array([0]), np.array([0]))
    g = build_graph(nodes, edges, CFG)
    assert bool(g.excluded[0]) is excluded
    assert (g.n_edges == 0) is excluded, "edges into excluded nodes are dropped"


def test_seed_eligibility_and_quotas() -> None:
    titles = ["A zoo", "B person", "C tiny image", "D hub", "E no domain", "F person", "G person"]
    nodes = NodeTable(titles, ["infobox zoo", "infobox person", "infobox zoo", "infobox zoo", "infobox widget",
                               "infobox person", "infobox person"],
                      np.array([1, 1, 1, 9, 1, 1, 1]), np.zeros(7, bool), np.array([600, 700, 100, 600, 600, 512, 0]))
    g = build_graph(nodes, EdgeTable(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)), CFG)
    cfg = CFG.model_copy(update={"domain_quota": 1})
    seeds, rejects = select_seeds(g, "w", cfg)
    reasons = {r.seed_title: r.reason for r in rejects}
    assert reasons["C tiny image"] == "image_too_small"
    assert reasons["D hub"] == "excluded_hub"
    assert reasons["E no domain"] == "no_domain"
    assert reasons["G person"] == "no_image"
    assert sorted(s.domain for s in seeds) == ["building", "person"]
    assert sum(r.reason == "over_quota" for r in rejects) == 1
    assert len(seeds) + len(rejects) == len(titles)


@pytest.mark.parametrize(
    ("kind", "domain"),
    [("infobox country", "location"), ("infobox u.s. state", "location"), ("infobox officeholder", "person"),
     ("infobox zoo", "building"), ("taxobox", "organism"), ("infobox spaceflight", "artifact"),
     ("infobox widget", None), (None, None)],
)
def test_domain_of(kind: str | None, domain: str | None) -> None:
    assert domain_of(kind, CFG.domains) == domain


@pytest.mark.parametrize(
    ("anchor", "sentence", "key", "label", "method"),
    [("Steve Irwin", "capital: x", "managed_by", "managed by", "infobox_key"),
     ("Algiers", "Its capital and most populous city is Algiers.", None, "most populous city is", "sentence_context"),
     ("Algiers", "Its capital and  most\npopulous city is Algiers.", None, "most populous city is", "sentence_context"),
     ("X", "X is first.", None, "links to", "fallback"),
     ("Georgia", 'He sang "Georgia on My Mind".', None, "He sang", "sentence_context"),
     ("Georgia", 'The “famous” song (Georgia)', None, "famous song", "sentence_context"),
     ("Asia", 'the "Old World" of Europe and Asia', None, "World of Europe and", "sentence_context"),
     ("Azerbaijan", "Jewish communities live in Turkey (17,400), Azerbaijan (9,100).", None, "Turkey (17,400),",
      "sentence_context"),
     ("Asia", "It separates the Old World of Europe and Asia from the Americas.", None, "World of Europe and",
      "sentence_context")],
)
def test_relation_label(anchor: str, sentence: str, key: str | None, label: str, method: str) -> None:
    assert relation_label(anchor, sentence, key) == (label, method)


@pytest.mark.parametrize(("source", "sentence", "label", "method"), [
    ("Albania", "Laws in Albania, including male circumcision, abortion and more.", "including male circumcision,",
     "sentence_context"),
    ("Mercury (planet)", "Unlike Mercury, the procedure of abortion.", "procedure of", "sentence_context"),
    ("Albania", "Albania abortion law.", "links to", "fallback"),
])
def test_relation_label_leaves_out_the_source_pages_name(source: str, sentence: str, label: str,
                                                         method: str) -> None:
    assert relation_label("abortion", sentence, None, source) == (label, method)


def test_pick_answer_respects_length_blocklist_and_leaks() -> None:
    box = {"name": "Terri", "image": "x.jpg", "citizenship": "20 November 2009",
           "spouse": "Steve Irwin", "bio": "one two three four five six seven"}
    assert pick_answer(box, 0.0, CFG, ["Australia Zoo", "Steve Irwin"]) == ("citizenship", "20 November 2009")
    assert pick_answer({"name": "x"}, 0.5, CFG, []) is None
