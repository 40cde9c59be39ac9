"""The question stage over the warehouse: every pending path → one item (accepted or rejected).

Reads: ``paths``, ``pages``, ``all_aliases``, ``resolved_links``, ``image_refs``/``image_files``/``image_blobs``.
Writes: ``question_items``, ``rewrite_steps``, ``gate_verdicts``, ``rejects`` (stage ``questions``),
``llm_calls`` (online only). Items already written for this question config are skipped, so a rerun
after a crash redoes nothing that finished.

Pending paths go in batches of ``BATCH_SIZE``: what a batch needs from the warehouse is read up front with one
query per table (``Prefetch``), and its items are written in one transaction at the end, so the stage's cost
grows with the number of items, not with items × corpus size. Decisions stay sequential in path order (the
diversity caps count items accepted earlier in the same run); a crash loses at most the current batch, and the
model calls it made are already in ``llm_calls``, so a rerun re-sends none of them.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from schemas.errors import ConfigError
from schemas.paths import PathNode, SampledPath
from schemas.questions import NodeContext, QuestionOutcome
from schemas.run_config import IngestConfig, QuestionsConfig
from schemas.settings import Settings
from tasks.ingest.live import RetryPolicy
from tasks.llm import ChatClient
from tasks.questions.aliases import answer_aliases
from tasks.questions.chain import Competitor
from tasks.questions.commons import add_commons_candidates
from tasks.questions.ground import ImageCandidate, ImageScorer
from tasks.questions.leakage import LeakChecker
from tasks.questions.llm import LLMQuestionModel
from tasks.questions.offline import RuleBasedModel, TopHits
from tasks.questions.pipeline import ChainFacts, QuestionSettings, make_question
from tasks.questions.rewrite import QuestionModel
from tasks.questions.spec import noun_of
from tasks.sample.relations import edge_relation
from tasks.tooling import load_uniqueness_index
from warehouse import graph as graph_repo
from warehouse import questions as repo
from warehouse.db import Connection
from warehouse.llm_calls import WarehouseMemo

log = logging.getLogger(__name__)

#: Pending paths per batch: one read per table and one write transaction each.
BATCH_SIZE = 256

#: Distinct ``(query, k)`` answers the offline index keeps (each at most ``k`` titles and scores).
SEARCH_MEMO = 16_384

#: The offline uniqueness index of one wiki: ``(con, wiki, data_dir)`` → search.
IndexFactory = Callable[[Connection, str, Path], TopHits]


def text_index(con: Connection, wiki: str, data_dir: Path) -> TopHits:
    """The offline uniqueness index: the same BM25 index (``toolenv``'s tantivy ``TextIndex``) that the
    ``text_search`` tool uses, over title, lead and infobox values of every article, saved under
    ``<data_dir>/indexes`` (``tasks.tooling.load_uniqueness_index``) so shards and reruns open it.

    Answers are memoised per ``(query, k)`` (the index answers deterministically): the same descriptor is
    searched again for every item that describes a node by the same fact ("status LC", "symbol type emblem"),
    and a search's cost grows with the postings of its words, so with the corpus."""
    index = load_uniqueness_index(con, data_dir, wiki)

    @lru_cache(maxsize=SEARCH_MEMO)
    def search(query: str, k: int) -> tuple[tuple[str, float], ...]:
        return tuple((h.title, float(h.score or 0.0)) for h in index.search(query, k))

    def top_hits(query: str, k: int) -> list[tuple[str, float]]:
        return list(search(query, k))

    return top_hits


def image_page_counts(subjects: Mapping[str, Sequence[tuple[str | None, int]]],
                      anchor_type: str | None) -> dict[str, int]:
    """How many entities "the <noun> in the image" could mean: pages showing the image as their infobox
    image whose type noun is the anchor's (Angola's flag also heads "Angolan Armed Forces", but that is
    not a country). ``subjects``: per image, ``(infobox type, pages)`` (``warehouse.questions.image_subjects``)."""
    noun = noun_of(anchor_type)
    return {sha: max(1, sum(n for kind, n in kinds if noun_of(kind) == noun)) for sha, kinds in subjects.items()}


def questions_hash(cfg: QuestionsConfig) -> str:
    """Identity of a question config: everything that changes an item (not the preview cap)."""
    blob = cfg.model_dump_json(exclude={"max_items"})
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def item_id(path_id: str, qhash: str) -> str:
    return hashlib.sha256(f"{path_id}|{qhash}".encode()).hexdigest()[:20]


def _settings(cfg: QuestionsConfig, data_dir: Path, scorer_name: str) -> QuestionSettings:
    return QuestionSettings(cfg.n_candidates, cfg.obfuscation_p, cfg.image_candidates, cfg.relevance_threshold,
                            cfg.answer_max_tokens, scorer_name, str(data_dir), cfg.alone_k, cfg.max_words,
                            cfg.chain_shortcut_gate)


def chain_rivals(path: SampledPath, out_links: Mapping[str, Sequence[repo.OutLink]]) -> tuple[tuple[str, ...], ...]:
    """Per hop, the other out-links of its source (``out_links`` by source title) that the same relation reaches,
    with the target's type noun."""
    out = []
    for edge, target in zip(path.edges, path.nodes[1:], strict=True):
        links = out_links.get(edge.src, ())
        own = {dst: ty for dst, _a, _t, _k, ty in links}
        noun = noun_of(own.get(target.title))
        out.append(tuple(dst for dst, a, t, k, ty in links if dst != target.title and noun_of(ty) == noun
                         and (edge_relation(edge.src, a, t, k) or ("", ""))[0] == edge.relation))
    return tuple(out)


def is_relational(path: SampledPath) -> bool:
    """Every hop is a relation clause (``{x}``): the chain rules apply (competitors, not fan-out)."""
    return all("{x}" in e.relation for e in path.edges)


@dataclass
class Prefetch:
    """What a batch of paths reads from the warehouse, one query per table for the whole batch; keyed by wiki.

    Values handed to an item are fresh objects (``NodeContext``, ``ImageCandidate``, ``Competitor``), so no
    item sees another's changes. ``refresh_images`` re-reads the image tables after a Commons search added
    candidates in the middle of a batch."""

    pages: dict[str, dict[str, repo.PageFacts]] = field(default_factory=dict)
    images: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    subjects: dict[str, dict[str, list[tuple[str | None, int]]]] = field(default_factory=dict)
    rivals: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)      # by path_id
    boxes: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    fanout: dict[str, dict[tuple[str, str], int]] = field(default_factory=dict)

    @classmethod
    def read(cls, con: Connection, paths: Sequence[SampledPath]) -> Prefetch:
        pre = cls()
        for wiki, group in _by_wiki(paths).items():
            pre.pages[wiki] = repo.page_facts(con, wiki, [t for p in group for t in
                                                          (*(n.title for n in p.nodes), p.answer)])
            rel = [p for p in group if is_relational(p)]
            links = repo.out_links(con, wiki, [e.src for p in rel for e in p.edges])
            pre.rivals.update((p.path_id, chain_rivals(p, links)) for p in rel)
            pre.boxes[wiki] = graph_repo.load_infoboxes(con, wiki, list(dict.fromkeys(
                r for p in rel for hop in pre.rivals[p.path_id] for r in hop)))
            pre.fanout[wiki] = repo.relation_fanout(con, wiki, [e for p in group if not is_relational(p)
                                                                     for e in p.edges])
        pre.refresh_images(con, paths)
        return pre

    def refresh_images(self, con: Connection, paths: Sequence[SampledPath]) -> None:
        """(Re-)read the image candidates of these paths' anchors and the pages showing those images."""
        for wiki, group in _by_wiki(paths).items():
            images = repo.image_candidates(con, wiki, [p.seed_title for p in group])
            self.images[wiki] = images
            self.subjects[wiki] = repo.image_subjects(con, wiki, [str(c["sha256"]) for cs in images.values()
                                                                  for c in cs])

    def nodes(self, wiki: str, nodes: Sequence[PathNode]) -> list[NodeContext]:
        facts = self.pages[wiki]
        return [facts.get(n.title, repo.NO_FACTS).context(n) for n in nodes]

    def candidates(self, wiki: str, title: str) -> list[ImageCandidate]:
        return [ImageCandidate(**c) for c in self.images[wiki].get(title, ())]

    def image_subjects(self, wiki: str, sha256s: Iterable[str]) -> dict[str, list[tuple[str | None, int]]]:
        subjects = self.subjects[wiki]
        return {sha: list(subjects[sha]) for sha in sorted(set(sha256s)) if sha in subjects}

    def competitors(self, path: SampledPath) -> tuple[tuple[Competitor, ...], ...]:
        boxes = self.boxes[path.wiki]
        return tuple(tuple(Competitor(r, dict(boxes.get(r, {}))) for r in hop) for hop in self.rivals[path.path_id])

    def relation_fanout(self, path: SampledPath) -> tuple[int, ...]:
        fan = self.fanout[path.wiki]
        return tuple(fan.get((e.src, e.dst), 1) if e.relation_method == "infobox_key" else 1 for e in path.edges)


def _by_wiki(paths: Sequence[SampledPath]) -> dict[str, list[SampledPath]]:
    out: dict[str, list[SampledPath]] = {}
    for p in paths:
        out.setdefault(p.wiki, []).append(p)
    return out


class Taken:
    """Items accepted so far per ``(anchor, first bridge or '')`` and per anchor: what the diversity caps count."""

    def __init__(self, prefixes: Iterable[tuple[str, str]] = ()) -> None:
        self.prefixes: Counter[tuple[str, str]] = Counter()
        self.anchors: Counter[str] = Counter()
        for anchor, prefix in prefixes:
            self.add(anchor, prefix)

    def add(self, anchor: str, prefix: str) -> None:
        self.prefixes[(anchor, prefix)] += 1
        self.anchors[anchor] += 1


def _prefix(path: SampledPath) -> tuple[str, str]:
    return path.nodes[0].title, path.nodes[1].title if len(path.nodes) > 2 else ""


def diversity_reject(path: SampledPath, cfg: QuestionsConfig, taken: Taken) -> str | None:
    """``anchor_cap`` / ``prefix_cap`` when this path's anchor (or anchor + first bridge) is already used up."""
    anchor, prefix = _prefix(path)
    if cfg.max_per_anchor is not None and taken.anchors[anchor] >= cfg.max_per_anchor:
        return "anchor_cap"
    if cfg.max_per_prefix is not None and taken.prefixes[(anchor, prefix)] >= cfg.max_per_prefix:
        return "prefix_cap"
    return None


def question_all(con: Connection, cfg: QuestionsConfig, run_id: str, data_dir: Path, settings: Settings,
                 make_index: IndexFactory, scorer: ImageScorer | None = None,
                 scorer_name: str = "heuristic", *, ingest_cfg: IngestConfig | None = None,
                 commons_policy: RetryPolicy | None = None, batch_size: int = BATCH_SIZE) -> Counter[tuple[str, str]]:
    """Write one item per pending path; returns counts by ``(outcome, reason)``.

    With ``cfg.commons_api_url`` set, each anchor's title is first searched on Commons for extra
    candidate images (``tasks/questions/commons.py``); ``ingest_cfg`` supplies the image limits.
    Paths go in batches of ``batch_size`` (read once, written in one transaction each)."""
    qhash = questions_hash(cfg)
    s = _settings(cfg, data_dir, scorer_name)
    client = None
    if cfg.model != "rule-based":
        if not settings.llm_base_url:
            raise ConfigError(f"questions.model is {cfg.model!r} but SEARCHVL_LLM_BASE_URL is not set")
        client = ChatClient(settings.llm_base_url, cfg.model, settings.llm_api_key, timeout_s=settings.llm_timeout_s,
                            seed=cfg.seed, memo=WarehouseMemo(con))
    if cfg.commons_api_url and ingest_cfg is None:
        raise ConfigError("questions.commons_api_url needs the ingest config (image size limits)")
    indexes: dict[str, TopHits] = {}
    counts: Counter[tuple[str, str]] = Counter()
    searched: set[tuple[str, str]] = set()
    taken = Taken(repo.accepted_prefixes(con, qhash))
    pending = repo.pending_paths(con, qhash, cfg.max_items)
    for start in range(0, len(pending), max(1, batch_size)):
        batch = pending[start:start + max(1, batch_size)]
        pre = Prefetch.read(con, batch)
        written: list[tuple[str, str, QuestionOutcome]] = []
        for i, path in enumerate(batch):
            capped = diversity_reject(path, cfg, taken)
            if capped is not None:
                written.append((item_id(path.path_id, qhash), path.answer,
                                QuestionOutcome(path.path_id, None, reject=("diversity", capped),
                                                detail=path.nodes[0].title, method=cfg.model)))
                counts[("dropped", f"diversity:{capped}")] += 1
                continue
            if cfg.commons_api_url and (path.wiki, path.seed_title) not in searched:   # once per anchor and run
                assert ingest_cfg is not None
                searched.add((path.wiki, path.seed_title))
                outcome_c = add_commons_candidates(con, data_dir, cfg.commons_api_url, path.wiki, path.seed_title,
                                                   cfg.image_candidates, run_id, ingest_cfg=ingest_cfg,
                                                   policy=commons_policy)
                counts[("commons_search", outcome_c)] += 1
                if outcome_c != "cached":       # it may have written images: the rest of the batch re-reads them
                    pre.refresh_images(con, batch[i:])
            outcome = _question(path, cfg, s, pre, indexes, make_index, con, client, scorer)
            written.append((item_id(path.path_id, qhash), path.answer, outcome))
            if outcome.reject:
                counts[("dropped", f"{outcome.reject[0]}:{outcome.reject[1]}")] += 1
            else:
                counts[("kept", "accepted")] += 1
                taken.add(*_prefix(path))
        repo.write_outcomes(con, run_id, qhash, written)
    log.info("questions: %s", dict(counts))
    return counts


def _question(path: SampledPath, cfg: QuestionsConfig, s: QuestionSettings, pre: Prefetch,
              indexes: dict[str, TopHits], make_index: IndexFactory, con: Connection, client: ChatClient | None,
              scorer: ImageScorer | None) -> QuestionOutcome:
    """One path's item (accepted or rejected), from the batch's prefetched warehouse rows."""
    nodes = pre.nodes(path.wiki, path.nodes)
    cands = pre.candidates(path.wiki, path.seed_title)
    relational = is_relational(path)
    competitors = pre.competitors(path) if relational else ()
    fanout = tuple(len(c) + 1 for c in competitors) if relational else pre.relation_fanout(path)
    facts = ChainFacts(fanout, image_page_counts(pre.image_subjects(path.wiki, [c.sha256 for c in cands]),
                                                 nodes[0].infobox_type), competitors)
    leaks = LeakChecker({n.title: n.aliases for n in nodes}, cfg.fuzzy_leak_threshold)
    model: QuestionModel
    if path.wiki not in indexes:
        indexes[path.wiki] = make_index(con, path.wiki, Path(s.data_dir))
    if client is None:
        model = RuleBasedModel(indexes[path.wiki], nodes[-1].infobox, path.answer_attribute,
                               margin=cfg.uniqueness_margin)
    else:
        model = LLMQuestionModel(client, [a for n in nodes for a in n.aliases])
    rng = random.Random(f"{cfg.seed}|{path.path_id}")
    outcome: QuestionOutcome = make_question(path, nodes, facts, cands, model, leaks, s, scorer, rng,
                                             indexes[path.wiki])
    entity = pre.nodes(path.wiki, [PathNode(path.answer, "answer")])[0]
    names = entity.aliases if entity.lead or entity.infobox else ()
    outcome = replace(outcome, answer_aliases=answer_aliases(path.answer, names))
    if isinstance(model, LLMQuestionModel):
        outcome.prompts.update(model.used)
    return outcome
