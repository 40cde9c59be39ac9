"""The question stage over the warehouse: every pending path → one item (accepted or rejected).

Reads: ``paths``, ``pages``, ``all_aliases``, ``resolved_links``, ``image_refs``/``image_files``/``image_blobs``.
Writes: ``question_items``, ``rewrite_steps``, ``gate_verdicts``, ``rejects`` (stage ``questions``),
``llm_calls`` (online only). Items already written for this question config are skipped, so a rerun
after a crash redoes nothing that finished.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from schemas.errors import ConfigError
from schemas.paths import PathNode, SampledPath
from schemas.questions import QuestionOutcome
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
from toolenv import Document, TextIndex
from warehouse import graph as graph_repo
from warehouse import questions as repo
from warehouse.db import Connection
from warehouse.llm_calls import WarehouseMemo

log = logging.getLogger(__name__)

#: Builds the offline uniqueness index from ``(title, lead, infobox values)`` documents.
IndexFactory = Callable[[Iterable[tuple[str, str, str]]], TopHits]


def text_index(docs: Iterable[tuple[str, str, str]]) -> TopHits:
    """The offline uniqueness index: the same BM25 index (``toolenv``'s tantivy ``TextIndex``) that the
    ``text_search`` tool uses, over title, lead and infobox values of every article."""
    index = TextIndex.from_documents(
        Document(title, f"https://en.wikipedia.org/wiki/{title.replace(' ', '_')}", f"{lead}\n{box}")
        for title, lead, box in docs)

    def top_hits(query: str, k: int) -> list[tuple[str, float]]:
        return [(h.title, float(h.score or 0.0)) for h in index.search(query, k)]

    return top_hits


def image_page_counts(subjects: dict[str, list[tuple[str, str | None]]], anchor_type: str | None) -> dict[str, int]:
    """How many entities "the <noun> in the image" could mean: pages showing the image as their infobox
    image whose type noun is the anchor's (Angola's flag also heads "Angolan Armed Forces", but that is
    not a country)."""
    noun = noun_of(anchor_type)
    return {sha: max(1, sum(noun_of(kind) == noun for _, kind in pages)) for sha, pages in subjects.items()}


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


def chain_competitors(con: Connection, path: SampledPath) -> tuple[tuple[Competitor, ...], ...]:
    """Per hop, the other out-links of its source that the same relation reaches, with the target's type noun."""
    out = []
    for edge, target in zip(path.edges, path.nodes[1:], strict=True):
        links = repo.out_links(con, path.wiki, edge.src)
        own = {dst: ty for dst, _a, _t, _k, ty in links}
        noun = noun_of(own.get(target.title))
        rivals = [dst for dst, a, t, k, ty in links if dst != target.title and noun_of(ty) == noun
                  and (edge_relation(edge.src, a, t, k) or ("", ""))[0] == edge.relation]
        boxes = graph_repo.load_infoboxes(con, path.wiki, rivals)
        out.append(tuple(Competitor(r, boxes.get(r, {})) for r in rivals))
    return tuple(out)


def diversity_reject(path: SampledPath, cfg: QuestionsConfig, taken: Counter[tuple[str, str]]) -> str | None:
    """``anchor_cap`` / ``prefix_cap`` when this path's anchor (or anchor + first bridge) is already used up."""
    anchor = path.nodes[0].title
    prefix = path.nodes[1].title if len(path.nodes) > 2 else ""
    if cfg.max_per_anchor is not None and sum(n for (a, _), n in taken.items() if a == anchor) >= cfg.max_per_anchor:
        return "anchor_cap"
    if cfg.max_per_prefix is not None and taken[(anchor, prefix)] >= cfg.max_per_prefix:
        return "prefix_cap"
    return None


def question_all(con: Connection, cfg: QuestionsConfig, run_id: str, data_dir: Path, settings: Settings,
                 make_index: IndexFactory, scorer: ImageScorer | None = None,
                 scorer_name: str = "heuristic", *, ingest_cfg: IngestConfig | None = None,
                 commons_policy: RetryPolicy | None = None) -> Counter[tuple[str, str]]:
    """Write one item per pending path; returns counts by ``(outcome, reason)``.

    With ``cfg.commons_api_url`` set, each anchor's title is first searched on Commons for extra
    candidate images (``tasks/questions/commons.py``); ``ingest_cfg`` supplies the image limits."""
    qhash = questions_hash(cfg)
    s = _settings(cfg, data_dir, scorer_name)
    client = None
    if cfg.model != "rule-based":
        if not settings.llm_base_url:
            raise ConfigError(f"questions.model is {cfg.model!r} but SEARCHVL_LLM_BASE_URL is not set")
        client = ChatClient(settings.llm_base_url, cfg.model, settings.llm_api_key, timeout_s=settings.llm_timeout_s,
                            seed=cfg.seed, memo=WarehouseMemo(con))
    indexes: dict[str, TopHits] = {}
    counts: Counter[tuple[str, str]] = Counter()
    searched: set[tuple[str, str]] = set()
    taken: Counter[tuple[str, str]] = Counter(repo.accepted_prefixes(con, qhash))
    for path in repo.pending_paths(con, qhash, cfg.max_items):
        nodes = repo.node_contexts(con, path.wiki, path.nodes)
        capped = diversity_reject(path, cfg, taken)
        if capped is not None:
            repo.write_outcome(con, run_id, qhash, item_id(path.path_id, qhash), path.answer,
                               QuestionOutcome(path.path_id, None, reject=("diversity", capped),
                                               detail=path.nodes[0].title, method=cfg.model))
            counts[("dropped", f"diversity:{capped}")] += 1
            continue
        if cfg.commons_api_url and (path.wiki, path.seed_title) not in searched:   # once per anchor and run
            if ingest_cfg is None:
                raise ConfigError("questions.commons_api_url needs the ingest config (image size limits)")
            searched.add((path.wiki, path.seed_title))
            outcome_c = add_commons_candidates(con, data_dir, cfg.commons_api_url, path.wiki, path.seed_title,
                                               cfg.image_candidates, run_id, ingest_cfg=ingest_cfg,
                                               policy=commons_policy)
            counts[("commons_search", outcome_c)] += 1
        cands = [ImageCandidate(**c) for c in repo.image_candidates(con, path.wiki, path.seed_title)]
        relational = all("{x}" in e.relation for e in path.edges)
        competitors = chain_competitors(con, path) if relational else ()
        fanout = (tuple(len(c) + 1 for c in competitors) if relational
                  else repo.relation_fanout(con, path.wiki, path.edges))
        facts = ChainFacts(fanout,
                           image_page_counts(repo.image_subjects(con, path.wiki, [c.sha256 for c in cands]),
                                             nodes[0].infobox_type), competitors)
        leaks = LeakChecker({n.title: n.aliases for n in nodes}, cfg.fuzzy_leak_threshold)
        model: QuestionModel
        if path.wiki not in indexes:
            indexes[path.wiki] = make_index(repo.all_titles_and_text(con, path.wiki))
        if client is None:
            model = RuleBasedModel(indexes[path.wiki], nodes[-1].infobox, path.answer_attribute,
                                   margin=cfg.uniqueness_margin)
        else:
            model = LLMQuestionModel(client, [a for n in nodes for a in n.aliases])
        rng = random.Random(f"{cfg.seed}|{path.path_id}")
        outcome: QuestionOutcome = make_question(path, nodes, facts, cands, model, leaks, s, scorer, rng,
                                                 indexes[path.wiki])
        entity = repo.node_contexts(con, path.wiki, [PathNode(path.answer, "answer")])[0]
        names = entity.aliases if entity.lead or entity.infobox else ()
        outcome = replace(outcome, answer_aliases=answer_aliases(path.answer, names))
        if isinstance(model, LLMQuestionModel):
            outcome.prompts.update(model.used)
        repo.write_outcome(con, run_id, qhash, item_id(path.path_id, qhash), path.answer, outcome)
        if outcome.reject:
            counts[("dropped", f"{outcome.reject[0]}:{outcome.reject[1]}")] += 1
        else:
            counts[("kept", "accepted")] += 1
            taken[(path.nodes[0].title, path.nodes[1].title if len(path.nodes) > 2 else "")] += 1
    log.info("questions: %s", dict(counts))
    return counts
