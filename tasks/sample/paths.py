"""Seeded, deterministic hyperlink-path sampling (PAPER.md §2 and §12.A).

Randomness is counter-based: every draw is ``splitmix64(key(seed title) ⊕ run seed, attempt, step)``.
So a seed's path depends only on the corpus, the sampling config and the run seed — not on which
other seeds share its batch or shard — and all walks of one attempt advance together as numpy arrays.

Per seed, up to ``max_retries`` attempts: draw h ∈ {2,3,4} with the paper's probabilities, walk h
hops uniformly over walkable out-links (excluded nodes are already cut from the graph), fail the
attempt on a dead end or a revisited node, then require an infobox attribute of ≤ 6 tokens on the
answer node. A seed that fails every attempt becomes a reject with the commonest failure.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt

from schemas.paths import PathEdge, PathNode, RelationMethod, SampledPath, SeedReject
from schemas.run_config import SamplingConfig
from tasks.sample.link_graph import EdgeText, EdgeTextLookup, IntArray, LinkGraph, no_edge_texts

U64 = npt.NDArray[np.uint64]
InfoboxLookup = Callable[[Sequence[str]], Mapping[str, Mapping[str, str]]]
OK, DEAD_END, CYCLE, NO_RELATION = 0, 1, 2, 3
_FAIL_NAMES = {DEAD_END: "dead_end", CYCLE: "cycle", NO_RELATION: "no_relation"}
_STOP = {"the", "a", "an", "and", "or", "of", "in", "on", "at", "to", "its", "his", "her", "their", "with",
         "by", "for", "as", "is", "was", "from", "that", "which", "this"}
_WORD = re.compile(r"[\w'’-]+")
_PAREN_SUFFIX = re.compile(r"\s*\([^)]*\)$")
_NO_DOUBLE_QUOTES = str.maketrans("", "", '"“”')  # a cut can leave one half of a pair


def splitmix64(x: U64) -> U64:
    """The splitmix64 finaliser, vectorised (uint64 arithmetic wraps); in-place on one copy."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
        return z


def title_key(title: str, run_seed: int) -> int:
    h = int.from_bytes(hashlib.blake2b(title.encode(), digest_size=8).digest(), "little")
    return h ^ (run_seed * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFFFFFF)


def _mix_scalar(x: int) -> int:
    """splitmix64 on one Python int (for the per-draw salt)."""
    m = 0xFFFFFFFFFFFFFFFF
    z = (x + 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


def uniform(keys: U64, attempt: int, step: int) -> npt.NDArray[np.float64]:
    """Independent U[0,1) per key for draw ``(attempt, step)``."""
    x = splitmix64(keys ^ np.uint64(_mix_scalar(attempt * 1024 + step + 1)))
    x >>= np.uint64(11)
    out = x.astype(np.float64)
    out *= 1.0 / (1 << 53)
    return out


def choose_hops(u: npt.NDArray[np.float64], hop_probs: Mapping[int, float]) -> IntArray:
    hops = np.array(sorted(hop_probs), dtype=np.int64)
    cum = np.cumsum([hop_probs[h] for h in hops])
    return hops[np.minimum(np.searchsorted(cum, u, side="right"), len(hops) - 1)]


def walk_batch(graph: LinkGraph, starts: IntArray, hops: IntArray, keys: U64,
               attempt: int) -> tuple[IntArray, IntArray]:
    """Walk every start ``hops[i]`` steps at once. Returns ``(walks, status)``: walks is
    ``(n, max_h + 1)`` padded with -1; status is OK, DEAD_END or CYCLE per walk.

    Whole-array steps (no gathers of the live subset): nearly every walk is alive at every step, so
    masking is cheaper than compacting. A node whose out-links all lack a relation phrase ends the walk
    as NO_RELATION (those edges are not in the CSR), not as a dead end.
    """
    n, max_h = len(starts), int(hops.max()) if len(hops) else 0
    walks = np.full((n, max_h + 1), -1, dtype=np.int64, order="F")  # columns contiguous
    walks[:, 0] = starts
    status = np.zeros(n, dtype=np.int64)
    last_slot = max(graph.n_edges - 1, 0)
    for step in range(1, max_h + 1):
        active = (status == OK) & (hops >= step)
        if not active.any():
            break
        cur = np.where(active, walks[:, step - 1], 0)
        lo = graph.indptr[cur]
        deg = graph.indptr[cur + 1] - lo
        dead = active & (deg == 0)
        status[dead] = DEAD_END
        if graph.unrelated_out is not None:      # out-links exist, but no relation reads any of them
            status[dead & (graph.unrelated_out[cur] > 0)] = NO_RELATION
        go = active & ~dead
        pick = (uniform(keys, attempt, step) * deg).astype(np.int64)
        nxt = graph.indices[np.minimum(lo + np.minimum(pick, deg - 1), last_slot)] if graph.n_edges else lo
        walks[:, step] = np.where(go, nxt, -1)
        seen = walks[:, 0] == nxt
        for k in range(1, step):
            seen |= walks[:, k] == nxt
        status[seen & go] = CYCLE
    return walks, status


def domain_of(infobox_type: str | None, domains: Mapping[str, Sequence[str]]) -> str | None:
    """First domain whose keyword occurs in the infobox type (``infobox u.s. state`` → location)."""
    if not infobox_type:
        return None
    t = infobox_type.lower()
    for domain, words in domains.items():
        if any(w in t for w in words):
            return domain
    return None


def relation_label(anchor: str, sentence: str, infobox_key: str | None,
                   source: str = "") -> tuple[str, RelationMethod]:
    """A short relation phrase for an edge: the infobox key it sits under, else the last four words
    right before the anchor text in its sentence, verbatim (leading stop words, double quotes and a
    trailing opening quote or bracket dropped), else ``links to``.

    Verbatim, because the question quotes it to pin the link down: "Turkey (17,400)," reads as the list
    entry it is, where the bare tokens "turkey 17 400" read as nonsense. Words up to the last mention of
    the ``source`` page's own name are left out: the question names that page only through its
    description, and a quoted "Albania, including …" would leak it."""
    if infobox_key:
        return re.sub(r"[_\d]+", " ", infobox_key).strip().lower() or "links to", "infobox_key"
    pos = sentence.lower().find(anchor.lower()) if anchor else -1
    if pos > 0:
        since = 0
        name = _PAREN_SUFFIX.sub("", source).lower()
        if len(name) >= 3:
            mention = sentence.lower().rfind(name, 0, pos)
            since = mention + len(name) if mention >= 0 else 0
        words = list(_WORD.finditer(sentence, since, pos))[-4:]
        while words and words[0].group().lower() in _STOP:
            words = words[1:]
        if words:  # the question wraps it in double quotes: none inside, no opening quote or bracket last
            start = words[0].start()
            while start > since and not sentence[start - 1].isspace():  # keep a word's opening quote or bracket
                start -= 1
            text = sentence[start:pos].rstrip(" \t\n\"'“‘([{")
            return " ".join(text.translate(_NO_DOUBLE_QUOTES).split()), "sentence_context"
    return "links to", "fallback"


#: Infobox keys that hold page metadata, not a fact worth asking for: estimate/census years, the infobox's own
#: ``type``, image fields, numbered family/child keys, signatures, reference and footnote slots, codes.
METADATA_KEY = re.compile(r"estimate|census|magnitude|_year$|^year_|^type$|_type$|image|caption|signature|^child\d|"
                          r"^parent\d|^[a-z]+\d+$|_(?:name|title|data|label)\d+$|^blank|_ref$|^ref|footnote|"
                          r"^data\d|_code$|^iso|rank$|^id$|_id$")
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_DATE_COMMA = re.compile(rf"\b(?:{_MONTHS})\.?\s+\d{{1,2}},\s*\d{{3,4}}\b", re.IGNORECASE)
_LIST_SPLIT = re.compile(r"\s*(?:[;•·|/\n]|,(?!\d{3}\b)|\band\b)\s*")


def is_list_value(value: str) -> bool:
    """"Arabic, Berber" / "Rock; soul" / "guitar and piano" are lists; "1,234,567", "November 20, 2009" and
    "44,579,000 km2" are one value."""
    v = _DATE_COMMA.sub("DATE", value)
    parts = [p for p in _LIST_SPLIT.split(v) if p.strip()]
    return len(parts) >= 2


def pick_answer(infobox: Mapping[str, str], u: float, cfg: SamplingConfig,
                path_titles: Sequence[str]) -> tuple[str, str] | None:
    """Choose an infobox attribute of at most ``answer_max_tokens`` tokens (whitespace words, as the
    paper counts "20 November 2009" as 3) that is not a name/image field and names no path node."""
    lowered = [t.lower() for t in path_titles]
    candidates = []
    for key, value in infobox.items():
        k, v = key.lower(), value.strip()
        if not v or any(b in k for b in cfg.answer_key_blocklist) or k.startswith(("lat", "long")):
            continue
        if METADATA_KEY.search(k) or is_list_value(v):
            continue
        if len(v.split()) > cfg.answer_max_tokens or any(t in v.lower() for t in lowered):
            continue
        candidates.append((key, v))
    if not candidates:
        return None
    return candidates[min(int(u * len(candidates)), len(candidates) - 1)]


@dataclass(frozen=True, slots=True)
class Seed:
    node: int
    domain: str


def _path_id(wiki: str, seed: str, attempt: int, sampling_hash: str) -> str:
    return hashlib.sha256(f"{wiki}\x00{seed}\x00{attempt}\x00{sampling_hash}".encode()).hexdigest()[:20]


def sampling_hash(cfg: SamplingConfig) -> str:
    """Identity of the sampling config; the shard is left out, so a shard's path ids are the single run's."""
    blob = json.dumps(cfg.model_dump(mode="json", exclude={"shard"}), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _build_path(graph: LinkGraph, wiki: str, seed: Seed, walk: IntArray, answer: tuple[str, str],
                attempt: int, cfg: SamplingConfig, s_hash: str, texts: Mapping[int, EdgeText]) -> SampledPath:
    titles = [graph.nodes.titles[int(v)] for v in walk]
    roles = ["anchor"] + ["bridge"] * (len(titles) - 2) + ["answer"]
    nodes = tuple(PathNode(t, r) for t, r in zip(titles, roles, strict=True))  # type: ignore[arg-type]
    edges = []
    for a, b in itertools.pairwise(walk):
        row = graph.edge_context(int(a), int(b))
        anchor, sentence, infobox_key = texts[row]
        rel = graph.edges.relation_of(row)
        if rel is not None:
            label, method = rel[0], cast(RelationMethod, rel[1])
        else:                                   # relations not required (or a text-less graph)
            label, method = relation_label(anchor, sentence, infobox_key, graph.nodes.titles[int(a)])
        edges.append(PathEdge(graph.nodes.titles[int(a)], graph.nodes.titles[int(b)], anchor, sentence,
                              label, method))
    return SampledPath(_path_id(wiki, titles[0], attempt, s_hash), wiki, titles[0], seed.domain,
                       len(walk) - 1, nodes, tuple(edges), answer[0], answer[1], attempt, s_hash, cfg.seed)


def sample_paths(graph: LinkGraph, wiki: str, seeds: Sequence[Seed], cfg: SamplingConfig,
                 infoboxes: InfoboxLookup, edge_texts: EdgeTextLookup = no_edge_texts,
                 ) -> tuple[list[SampledPath], list[SeedReject]]:
    """Up to ``paths_per_seed`` distinct paths per seed (the paper: one) within
    ``max_retries × paths_per_seed`` attempts; a seed with none is one reject with its failure counts.
    The texts of the edges the paths take are read once, at the end (``edge_texts``)."""
    s_hash = sampling_hash(cfg)
    keys = np.array([title_key(graph.nodes.titles[s.node], cfg.seed) for s in seeds], dtype=np.uint64)
    failures: list[Counter[str]] = [Counter() for _ in seeds]
    found: list[set[tuple[str, ...]]] = [set() for _ in seeds]
    pending = np.arange(len(seeds))
    walked: list[tuple[int, IntArray, tuple[str, str], int]] = []     # (seed index, walk, answer, attempt)
    for attempt in range(cfg.max_retries * cfg.paths_per_seed):
        if not len(pending):
            break
        k = keys[pending]
        hops = choose_hops(uniform(k, attempt, 0), cfg.hop_probs)
        starts = np.array([seeds[int(i)].node for i in pending], dtype=np.int64)
        walks, status = walk_batch(graph, starts, hops, k, attempt)
        ends = {int(walks[j, hops[j]]) for j in np.flatnonzero(status == OK)}
        boxes = infoboxes([graph.nodes.titles[e] for e in sorted(ends)])
        u_answer = uniform(k, attempt, 99)
        still: list[int] = []
        for j, i in enumerate(pending):
            if status[j] != OK:
                failures[i][_FAIL_NAMES[int(status[j])]] += 1
                still.append(int(i))
                continue
            walk = walks[j, : hops[j] + 1]
            titles = [graph.nodes.titles[int(v)] for v in walk]
            answer = pick_answer(boxes.get(titles[-1], {}), float(u_answer[j]), cfg, titles)
            if answer is None:
                failures[i]["no_short_attribute"] += 1
                still.append(int(i))
                continue
            if tuple(titles) in found[i]:
                failures[i]["duplicate_walk"] += 1
            else:
                found[i].add(tuple(titles))
                walked.append((int(i), walk, answer, attempt))
            if len(found[i]) < cfg.paths_per_seed:
                still.append(int(i))
        pending = np.array(still, dtype=np.int64)
    rejects = [
        SeedReject(wiki, graph.nodes.titles[seeds[int(i)].node],
                   f"exhausted_{failures[i].most_common(1)[0][0]}",
                   json.dumps({"attempts": cfg.max_retries * cfg.paths_per_seed, "failures": dict(failures[i])},
                              sort_keys=True))
        for i in pending if not found[i]
    ]
    rows = sorted({graph.edge_context(int(a), int(b)) for _, walk, _, _ in walked for a, b in itertools.pairwise(walk)})
    texts = edge_texts(rows)
    paths = [_build_path(graph, wiki, seeds[i], walk, answer, attempt, cfg, s_hash, texts)
             for i, walk, answer, attempt in walked]
    paths.sort(key=lambda p: (p.seed_title, p.path_id))
    return paths, rejects


def select_seeds(graph: LinkGraph, wiki: str, cfg: SamplingConfig) -> tuple[list[Seed], list[SeedReject]]:
    """Seed eligibility (infobox, image ≥ min side, in-degree window, a domain) and equal domain quotas.

    Every article with an infobox is a candidate; each ineligible one is a reject with its reason.
    Eligible seeds are taken round-robin across domains in hash order up to the quotas.
    With ``cfg.shard`` set, the selection is made over the whole graph (so ``max_seeds`` and the quotas mean
    what they mean in a single run) and then only the shard's own seeds and rejects are returned.
    """
    seeds, rejects = _select_all_seeds(graph, wiki, cfg)
    shard = cfg.shard
    if shard is None:
        return seeds, rejects
    titles = graph.nodes.titles
    return ([s for s in seeds if shard.owns(wiki, titles[s.node])],
            [r for r in rejects if shard.owns(wiki, r.seed_title)])


def _select_all_seeds(graph: LinkGraph, wiki: str, cfg: SamplingConfig) -> tuple[list[Seed], list[SeedReject]]:
    nodes = graph.nodes
    by_domain: dict[str, list[tuple[int, int]]] = {}
    rejects: list[SeedReject] = []
    for v, title in enumerate(nodes.titles):
        if nodes.infobox_type[v] is None:
            continue
        reason = _ineligible(graph, v, cfg)
        domain = domain_of(nodes.infobox_type[v], cfg.domains)
        if reason is None and domain is None:
            reason = "no_domain"
        if reason is not None:
            rejects.append(SeedReject(wiki, title, reason, _seed_detail(graph, v)))
            continue
        assert domain is not None
        by_domain.setdefault(domain, []).append((title_key(title, cfg.seed), v))
    queues = {d: deque(v for _, v in sorted(items)) for d, items in sorted(by_domain.items())}
    seeds: list[Seed] = []
    taken = dict.fromkeys(queues, 0)
    while any(queues.values()):
        for d, q in queues.items():
            if not q:
                continue
            v = q.popleft()     # a list's pop(0) made the round-robin quadratic in the seeds of a domain
            full = (cfg.max_seeds is not None and len(seeds) >= cfg.max_seeds) or (
                cfg.domain_quota is not None and taken[d] >= cfg.domain_quota)
            if full:
                rejects.append(SeedReject(wiki, nodes.titles[v], "over_quota", f"domain={d}"))
            else:
                seeds.append(Seed(v, d))
                taken[d] += 1
    return seeds, rejects


def _ineligible(graph: LinkGraph, v: int, cfg: SamplingConfig) -> str | None:
    nodes = graph.nodes
    if graph.excluded[v]:
        return f"excluded_{graph.exclusion_reason[v]}"
    if nodes.image_min_side[v] == 0:
        return "no_image"
    if nodes.image_min_side[v] < cfg.seed_min_image_side:
        return "image_too_small"
    if nodes.in_degree[v] < cfg.seed_min_in_degree:
        return "in_degree_below_window"
    if nodes.in_degree[v] > cfg.seed_max_in_degree:
        return "in_degree_above_window"
    return None


def _seed_detail(graph: LinkGraph, v: int) -> str:
    n = graph.nodes
    return json.dumps({"infobox_type": n.infobox_type[v], "in_degree": int(n.in_degree[v]),
                       "image_min_side": int(n.image_min_side[v])}, sort_keys=True)
