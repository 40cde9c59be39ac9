"""The sample-paths stage over the warehouse.

Reads: ``pages``, ``page_degrees``, ``resolved_links``, ``image_refs``/``image_files``/``image_blobs``.
Writes: ``paths``; ``rejects`` (stage ``sample_paths``: ineligible seeds and exhausted seeds).
Side effects: none beyond the warehouse.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TypeVar, overload

import numpy as np
import pyarrow as pa

from schemas.run_config import SamplingConfig
from tasks.sample.link_graph import EdgeTable, LinkGraph, NodeTable, build_graph
from tasks.sample.paths import sample_paths, sampling_hash, select_seeds
from tasks.sample.relations import edge_relation
from warehouse import graph as graph_repo
from warehouse import paths as path_repo
from warehouse.db import Connection

log = logging.getLogger(__name__)


T = TypeVar("T")


class ArrowColumn(Sequence[T]):
    """A string column of the edge table read one row at a time, each value (null included) through ``convert``:
    a path needs the context of a few edges, and a Python list of every edge's sentence costs seconds and hundreds
    of MB on a large wiki."""

    def __init__(self, col: pa.ChunkedArray, convert: Callable[[str | None], T]) -> None:
        self._col = col.combine_chunks()
        self._convert = convert

    def __len__(self) -> int:
        return len(self._col)

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> list[T]: ...
    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self._convert(x) for x in self._col[i].to_pylist()]
        return self._convert(self._col[i].as_py())


def _text(x: str | None) -> str:
    return str(x or "")


def _key(x: str | None) -> str | None:
    return None if x is None else str(x)


def load_graph(con: Connection, wiki: str, cfg: SamplingConfig) -> LinkGraph:
    """Build the CSR graph of one wiki from the warehouse."""
    n = graph_repo.load_nodes(con, wiki)
    e = graph_repo.load_edges(con, wiki)
    nodes = NodeTable(
        titles=[str(t) for t in n.column("title").to_pylist()],
        infobox_type=n.column("infobox_type").to_pylist(),
        in_degree=graph_repo.as_int64(n.column("in_degree")),
        is_disambiguation=np.asarray(n.column("is_disambiguation").to_pylist(), dtype=bool),
        image_min_side=graph_repo.as_int64(n.column("image_min_side")),
    )
    src, dst = graph_repo.as_int64(e.column("src")), graph_repo.as_int64(e.column("dst"))
    anchors, sentences = ArrowColumn(e.column("anchor_text"), _text), ArrowColumn(e.column("sentence"), _text)
    keys = ArrowColumn(e.column("infobox_key"), _key)
    relations = None
    if cfg.require_relations:       # every edge's relation decides whether a walk may take it: read them all
        titles = nodes.titles
        relations = [edge_relation(titles[int(s)], a, t, k) for s, a, t, k in
                     zip(src, anchors[:], sentences[:], keys[:], strict=True)]
    edges = EdgeTable(src=src, dst=dst, anchor_text=anchors, sentence=sentences, infobox_key=keys, relation=relations)
    return build_graph(nodes, edges, cfg)


def sample_all(con: Connection, cfg: SamplingConfig, run_id: str) -> Counter[tuple[str, str]]:
    """Sample paths for every wiki in the warehouse; returns counts by ``(outcome, reason)``."""
    counts: Counter[tuple[str, str]] = Counter()
    for wiki in graph_repo.wikis(con):
        graph = load_graph(con, wiki, cfg)
        seeds, seed_rejects = select_seeds(graph, wiki, cfg)
        def infoboxes(titles: Sequence[str], w: str = wiki) -> dict[str, dict[str, str]]:
            return graph_repo.load_infoboxes(con, w, titles)

        paths, walk_rejects = sample_paths(graph, wiki, seeds, cfg, infoboxes)
        rejects = seed_rejects + walk_rejects
        path_repo.replace_paths(con, run_id, wiki, sampling_hash(cfg), paths, rejects)
        counts.update(("kept", f"{p.hops}_hops") for p in paths)
        counts.update(("dropped", r.reason) for r in rejects)
        log.info("wiki %s: %d nodes, %d walkable edges, %d seeds, %d paths, %d rejects", wiki,
                 graph.n_nodes, graph.n_edges, len(seeds), len(paths), len(rejects))
    return counts
