"""The sample-paths stage over the warehouse.

Reads: ``pages``, ``page_degrees``, ``resolved_links``, ``image_refs``/``image_files``/``image_blobs``.
Writes: ``paths``; ``rejects`` (stage ``sample_paths``: ineligible seeds and exhausted seeds).
Side effects: none beyond the warehouse.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from schemas.run_config import SamplingConfig
from tasks.sample.link_graph import EdgeTable, EdgeText, EdgeTextLookup, LinkGraph, NodeTable, build_graph
from tasks.sample.paths import sample_paths, sampling_hash, select_seeds
from tasks.sample.relations import edge_relation
from warehouse import graph as graph_repo
from warehouse import paths as path_repo
from warehouse.db import Connection

log = logging.getLogger(__name__)


def load_graph(con: Connection, wiki: str, cfg: SamplingConfig) -> LinkGraph:
    """Build the CSR graph of one wiki from the warehouse: integer arrays, plus a relation code per edge when
    ``cfg.require_relations``. Links are streamed, never aggregated or held as text: the graph's memory is its
    arrays however much text the wiki has."""
    n = graph_repo.load_nodes(con, wiki)
    nodes = NodeTable(
        titles=[str(t) for t in n.column("title").to_pylist()],
        infobox_type=n.column("infobox_type").to_pylist(),
        in_degree=graph_repo.as_int64(n.column("in_degree")),
        is_disambiguation=np.asarray(n.column("is_disambiguation").to_pylist(), dtype=bool),
        image_min_side=graph_repo.as_int64(n.column("image_min_side")),
    )
    edges = _first_links(con, wiki)
    if cfg.require_relations:
        codes, vocab = _read_relations(con, wiki, nodes.titles, edges)
        edges = EdgeTable(edges.src, edges.dst, edges.ordinal, codes, vocab)
    return build_graph(nodes, edges, cfg)


def _first_links(con: Connection, wiki: str) -> EdgeTable:
    """Distinct (src, dst) edges sorted by (src, dst), each with the ordinal of its first link on the source page
    (that link's text is the edge's context)."""
    parts = [(graph_repo.as_int64(b.column("src")), graph_repo.as_int64(b.column("dst")),
              graph_repo.as_int64(b.column("ordinal"))) for b in graph_repo.iter_links(con, wiki, texts=False)]
    src, dst, ordinal = (np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, np.int64) for i in range(3))
    del parts
    order = np.lexsort((ordinal, dst, src))
    src, dst, ordinal = src[order], dst[order], ordinal[order]
    del order
    first = np.ones(len(src), dtype=bool)
    first[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
    return EdgeTable(src[first], dst[first], ordinal[first])


def _read_relations(con: Connection, wiki: str, titles: Sequence[str], edges: EdgeTable,
                    ) -> tuple[npt.NDArray[np.int32], list[tuple[str, str]]]:
    """Each edge's relation code (-1: none) and the codes' relations. Every edge decides whether a walk may take
    it, so every first link's text is read, a streamed batch at a time; a link finds its edge by binary search
    (edges are sorted by src, dst)."""
    n = max(len(titles), 1)
    keys = edges.src * n + edges.dst
    codes = np.full(len(keys), -1, dtype=np.int32)
    vocab: dict[tuple[str, str], int] = {}
    for batch in graph_repo.iter_links(con, wiki, texts=True):
        b_src, b_dst = graph_repo.as_int64(batch.column("src")), graph_repo.as_int64(batch.column("dst"))
        rows = np.searchsorted(keys, b_src * n + b_dst)
        first = np.flatnonzero(graph_repo.as_int64(batch.column("ordinal")) == edges.ordinal[rows])
        texts = zip(first.tolist(), batch.column("anchor_text").take(first).to_pylist(),
                    batch.column("sentence").take(first).to_pylist(),
                    batch.column("infobox_key").take(first).to_pylist(), strict=True)
        for j, anchor, sentence, key in texts:
            rel = edge_relation(titles[int(b_src[j])], anchor or "", sentence or "", key)
            if rel is not None:
                codes[rows[j]] = vocab.setdefault(rel, len(vocab))
    return codes, list(vocab)


def edge_text_lookup(con: Connection, wiki: str, graph: LinkGraph) -> EdgeTextLookup:
    """The warehouse's texts of a graph's edges (one query per call)."""
    def lookup(rows: Sequence[int]) -> dict[int, EdgeText]:
        titles, edges = graph.nodes.titles, graph.edges
        texts = graph_repo.load_link_texts(con, wiki, [titles[int(edges.src[r])] for r in rows],
                                           [int(edges.ordinal[r]) for r in rows])
        return dict(zip(rows, texts, strict=True))
    return lookup


def sample_all(con: Connection, cfg: SamplingConfig, run_id: str) -> Counter[tuple[str, str]]:
    """Sample paths for every wiki in the warehouse; returns counts by ``(outcome, reason)``."""
    counts: Counter[tuple[str, str]] = Counter()
    for wiki in graph_repo.wikis(con):
        graph = load_graph(con, wiki, cfg)
        seeds, seed_rejects = select_seeds(graph, wiki, cfg)
        def infoboxes(titles: Sequence[str], w: str = wiki) -> dict[str, dict[str, str]]:
            return graph_repo.load_infoboxes(con, w, titles)

        paths, walk_rejects = sample_paths(graph, wiki, seeds, cfg, infoboxes, edge_text_lookup(con, wiki, graph))
        rejects = seed_rejects + walk_rejects
        path_repo.replace_paths(con, run_id, wiki, sampling_hash(cfg), paths, rejects)
        counts.update(("kept", f"{p.hops}_hops") for p in paths)
        counts.update(("dropped", r.reason) for r in rejects)
        log.info("wiki %s: %d nodes, %d walkable edges, %d seeds, %d paths, %d rejects", wiki,
                 graph.n_nodes, graph.n_edges, len(seeds), len(paths), len(rejects))
    return counts
