"""The link graph as compact CSR arrays, with the paper's node exclusions applied at build time.

Nodes are the main-namespace articles of one wiki in title order; an edge ``u → v`` exists when ``u``
links to ``v`` (redirects already resolved). Edges *into* excluded nodes (list/outline/index/timeline
pages, disambiguation pages, hubs above τ_hub, and anything that is not an article) are dropped when
the graph is built, so a walk can never step onto one (PAPER.md §2.2, §12.A.3).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from schemas.run_config import SamplingConfig

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class NodeTable:
    """Per-node attributes, aligned by node id (titles sorted)."""

    titles: list[str]
    infobox_type: list[str | None]
    in_degree: IntArray
    is_disambiguation: npt.NDArray[np.bool_]
    image_min_side: IntArray            # largest min(width, height) over the page's stored images; 0 if none


@dataclass(frozen=True, slots=True)
class EdgeTable:
    """One row per distinct (src, dst) pair, as integers: the first link in page order carries the context, and
    its text is read (by source title and ``ordinal``) only for the edges a path takes (``EdgeTextLookup``), so
    the graph's memory is its arrays however much text the wiki has."""

    src: IntArray
    dst: IntArray
    ordinal: IntArray                   # the first link's position on the source page (``links.ordinal``)
    #: per row, the index in ``relation_vocab`` of the relation clause (``tasks.sample.relations``) and how it was
    #: read, -1 where none reads the edge; None = not read (a text-less graph, or ``require_relations`` off).
    #: When set, rows without a relation are left out of the walkable graph.
    relation: npt.NDArray[np.int32] | None = None
    relation_vocab: Sequence[tuple[str, str]] = ()

    def relation_of(self, row: int) -> tuple[str, str] | None:
        if self.relation is None or self.relation[row] < 0:
            return None
        return self.relation_vocab[int(self.relation[row])]


#: (anchor text, sentence, infobox key) of an edge's first link
EdgeText = tuple[str, str, str | None]
#: edge rows → their texts, one call for every edge of a batch of paths
EdgeTextLookup = Callable[[Sequence[int]], Mapping[int, EdgeText]]


def no_edge_texts(rows: Sequence[int]) -> dict[int, EdgeText]:
    """The texts of a text-less graph (Wikispeedia pairs, unit-test graphs): empty."""
    return dict.fromkeys(rows, ("", "", None))


@dataclass(frozen=True, slots=True)
class LinkGraph:
    """CSR adjacency over walkable edges; ``edge_row[k]`` maps CSR slot ``k`` to its ``EdgeTable`` row."""

    nodes: NodeTable
    edges: EdgeTable
    indptr: IntArray
    indices: IntArray
    edge_row: IntArray
    excluded: npt.NDArray[np.bool_]
    exclusion_reason: list[str | None]
    unrelated_out: IntArray | None = None   # per node: out-edges left out because no relation reads them

    @property
    def n_nodes(self) -> int:
        return len(self.nodes.titles)

    @property
    def n_edges(self) -> int:
        return int(self.indices.shape[0])

    def neighbours(self, node: int) -> IntArray:
        return self.indices[self.indptr[node]:self.indptr[node + 1]]

    def edge_context(self, src: int, dst: int) -> int:
        """Row in ``edges`` for the walkable edge ``src → dst`` (raises KeyError if absent)."""
        lo, hi = int(self.indptr[src]), int(self.indptr[src + 1])
        pos = lo + int(np.searchsorted(self.indices[lo:hi], dst))
        if pos >= hi or self.indices[pos] != dst:
            raise KeyError(f"no edge {src} -> {dst}")
        return int(self.edge_row[pos])


def exclusion_reason(title: str, is_disambiguation: bool, in_degree: int, cfg: SamplingConfig) -> str | None:
    """Why a node may not appear on any path, or None (PAPER.md §2.2)."""
    if any(title.startswith(p) for p in cfg.excluded_title_prefixes):
        return "list_like_title"
    if any(s in title for s in cfg.excluded_title_substrings) or is_disambiguation:
        return "disambiguation"
    if in_degree > cfg.hub_in_degree:
        return "hub"
    return None


def build_graph(nodes: NodeTable, edges: EdgeTable, cfg: SamplingConfig) -> LinkGraph:
    """Sort edges into CSR order and drop every edge into an excluded node."""
    n = len(nodes.titles)
    reasons = [exclusion_reason(t, bool(d), int(k), cfg)
               for t, d, k in zip(nodes.titles, nodes.is_disambiguation, nodes.in_degree, strict=True)]
    excluded = np.array([r is not None for r in reasons], dtype=bool)
    keep = ~excluded[edges.dst] & (edges.src != edges.dst) if len(edges.dst) else np.zeros(0, dtype=bool)
    unrelated = None
    if edges.relation is not None:
        related = edges.relation >= 0
        unrelated = np.bincount(edges.src[keep & ~related], minlength=n).astype(np.int64)
        keep &= related
    rows = np.flatnonzero(keep)
    order = rows[np.lexsort((edges.dst[rows], edges.src[rows]))]
    src, dst = edges.src[order], edges.dst[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return LinkGraph(nodes, edges, indptr, dst.astype(np.int64), order.astype(np.int64), excluded, reasons,
                     unrelated)


def graph_from_pairs(titles: list[str], src: IntArray, dst: IntArray, cfg: SamplingConfig,
                     in_degree: IntArray | None = None) -> LinkGraph:
    """A text-less graph (for example Wikispeedia) from id pairs; in-degree is computed if not given."""
    n = len(titles)
    pairs = np.unique(np.stack([src, dst], axis=1), axis=0) if len(src) else np.zeros((0, 2), np.int64)
    s, d = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    deg = np.bincount(d, minlength=n).astype(np.int64) if in_degree is None else in_degree
    nodes = NodeTable(list(titles), [None] * n, deg, np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64))
    edges = EdgeTable(s, d, np.zeros(len(s), dtype=np.int64))
    return build_graph(nodes, edges, cfg)
