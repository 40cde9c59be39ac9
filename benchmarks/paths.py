"""Path-sampling throughput: our CSR walk engine vs a networkx random walk, Wikispeedia graph.

Both do the same thing per walk: draw h ∈ {2,3,4} with probabilities 0.4/0.4/0.2, step to a uniformly
random out-neighbour h times, and fail on a dead end or a revisited node. Ours advances every walk of
an attempt at once over CSR arrays with counter-based randomness (``tasks.sample.paths.walk_batch``);
the baseline walks one at a time over a ``networkx.DiGraph`` with ``random.choice``.

Timing: one warm-up run of each (page cache, numpy and networkx code paths, CPU frequency), then ``--runs``
measured runs with ours and the baseline interleaved; the figures are the medians (every run is printed).

Usage: python -m benchmarks.paths [--walks N] [--runs 5]   (from the repo root); last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import gzip
import random
import statistics
import time
import urllib.parse

import networkx as nx
import numpy as np

from benchmarks._common import emit, fixture
from schemas.run_config import SamplingConfig
from tasks.sample.link_graph import graph_from_pairs
from tasks.sample.paths import choose_hops, uniform, walk_batch


def load_wikispeedia() -> tuple[list[str], np.ndarray, np.ndarray]:
    def rows(name: str) -> list[list[str]]:
        with gzip.open(fixture(f"graph/{name}"), "rt", encoding="utf-8") as f:
            return [line.rstrip("\n").split("\t") for line in f if line.strip() and not line.startswith("#")]

    titles = [urllib.parse.unquote(r[0]) for r in rows("wikispeedia_articles.tsv.gz")]
    index = {t: i for i, t in enumerate(titles)}
    pairs = [(index[urllib.parse.unquote(a)], index[urllib.parse.unquote(b)])
             for a, b in rows("wikispeedia_links.tsv.gz")]
    arr = np.array(pairs, dtype=np.int64)
    return titles, arr[:, 0], arr[:, 1]


def ours(graph, n_walks: int, cfg: SamplingConfig) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    n = graph.n_nodes
    starts = np.arange(n_walks, dtype=np.int64) % n
    keys = (np.arange(n_walks, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ np.uint64(cfg.seed)
    t0 = time.perf_counter()
    hops = choose_hops(uniform(keys, 0, 0), cfg.hop_probs)
    _, status = walk_batch(graph, starts, hops, keys, 0)
    elapsed = time.perf_counter() - t0
    return n_walks / elapsed, float(np.mean(status == 0))


def baseline(g: nx.DiGraph, nodes: list[int], n_walks: int, seed: int) -> tuple[float, float]:
    rng = random.Random(seed)
    ok = 0
    t0 = time.perf_counter()
    for i in range(n_walks):
        cur = nodes[i % len(nodes)]
        path = [cur]
        h = rng.choices((2, 3, 4), weights=(0.4, 0.4, 0.2))[0]
        for _ in range(h):
            succ = list(g.successors(cur))
            if not succ:
                break
            cur = rng.choice(succ)
            if cur in path:
                break
            path.append(cur)
        else:
            ok += 1
    elapsed = time.perf_counter() - t0
    return n_walks / elapsed, ok / n_walks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--walks", type=int, default=1_000_000)
    ap.add_argument("--baseline-walks", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5, help="measured runs after the warm-up (median reported)")
    args = ap.parse_args()
    titles, src, dst = load_wikispeedia()
    cfg = SamplingConfig(hub_in_degree=10**9)  # same graph for both: no exclusions
    t0 = time.perf_counter()
    graph = graph_from_pairs(titles, src, dst, cfg)
    build = time.perf_counter() - t0
    g = nx.DiGraph()
    g.add_nodes_from(range(len(titles)))
    g.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    nodes = list(range(len(titles)))
    ours(graph, args.walks // 10, cfg)                              # warm-up, not counted
    baseline(g, nodes, args.baseline_walks // 10, cfg.seed)
    ours_runs, base_runs = [], []
    for _ in range(args.runs):
        ours_rate, ours_ok = ours(graph, args.walks, cfg)
        base_rate, base_ok = baseline(g, nodes, args.baseline_walks, cfg.seed)
        ours_runs.append(ours_rate)
        base_runs.append(base_rate)
    ours_med, base_med = statistics.median(ours_runs), statistics.median(base_runs)
    print(f"graph: {graph.n_nodes} nodes, {graph.n_edges} edges (CSR built in {build * 1000:.0f} ms)")
    print(f"ours:     {ours_med:,.0f} walks/s median of {args.runs} ({args.walks:,} walks each, {ours_ok:.1%} complete)"
          f"  runs {[round(r) for r in ours_runs]}")
    print(f"baseline: {base_med:,.0f} walks/s median of {args.runs} ({args.baseline_walks:,} walks each, "
          f"{base_ok:.1%} complete, networkx)  runs {[round(r) for r in base_runs]}")
    ratios = [o / b for o, b in zip(ours_runs, base_runs, strict=True)]
    print(f"ratio per run (ours ÷ the baseline run next to it): {[round(r, 1) for r in ratios]}, "
          f"median {statistics.median(ratios):.1f}")
    emit("path_sampling_walks_per_s", "walks/s", ours_med, base_med, 20.0, graph="wikispeedia",
         nodes=graph.n_nodes, edges=graph.n_edges, ours_complete=round(ours_ok, 4),
         baseline_complete=round(base_ok, 4), runs=args.runs, median_run_ratio=round(statistics.median(ratios), 2))


if __name__ == "__main__":
    main()
