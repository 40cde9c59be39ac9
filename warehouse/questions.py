"""Reads and writes of the question stage: path context in, items / rewrite steps / gate verdicts out.

Reads come in batches: each function takes the titles (or sources, or image hashes) of a whole batch of
paths and runs one query per table, joined against that list, so a batch costs one pass over each table
however many items it holds (a query per item made the stage quadratic in the corpus). Writes too: one
transaction per batch of items, keyed by ``item_id``; the stage skips items already written, so a rerun after
a crash neither duplicates rows nor redoes (or re-sends) finished items.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from schemas.paths import PathEdge, PathNode, SampledPath
from schemas.questions import NodeContext, QuestionOutcome
from warehouse.db import Connection, load_query
from warehouse.rejects import upsert_rejects

STAGE = "questions"
# The batch reads join each table against a list parameter made a relation, ``(SELECT DISTINCT
# unnest($keys::VARCHAR[]) AS key) k``: one hash join reads the table once per batch, however long the list.

OutLink = tuple[str, str, str, str | None, str | None]


def _distinct(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def out_links(con: Connection, wiki: str, srcs: Iterable[str]) -> dict[str, list[OutLink]]:
    """Per source, every article it links to (in ``dst`` order), with the first link's context and the target's
    infobox type: ``(dst, anchor_text, sentence, infobox_key, dst_infobox_type)``; one query for all sources, a
    source without out-links is absent."""
    keys = _distinct(srcs)
    if not keys:
        return {}
    rows = con.execute(
        "SELECT r.src_title, r.dst_title, arg_min(coalesce(r.anchor_text, ''), r.ordinal),"
        " arg_min(coalesce(r.sentence, ''), r.ordinal), arg_min(r.infobox_key, r.ordinal), any_value(p.infobox_type)"
        " FROM resolved_links r JOIN (SELECT DISTINCT unnest($keys::VARCHAR[]) AS key) k ON k.key = r.src_title"
        " JOIN pages p ON p.wiki = r.wiki AND p.title = r.dst_title AND p.namespace = 0"
        " WHERE r.wiki = $wiki AND r.dst_title <> r.src_title GROUP BY r.src_title, r.dst_title"
        " ORDER BY r.src_title, r.dst_title", {"wiki": wiki, "keys": keys}).fetchall()
    out: dict[str, list[OutLink]] = {}
    for s, d, a, t, key, ty in rows:
        out.setdefault(str(s), []).append((str(d), str(a), str(t), key, ty))
    return out


def accepted_prefixes(con: Connection, questions_hash: str) -> list[tuple[str, str]]:
    """``(anchor, first bridge or '')`` of every item already accepted under this question config."""
    rows = con.execute(
        "SELECT p.nodes[1].title, CASE WHEN len(p.nodes) > 2 THEN p.nodes[2].title ELSE '' END FROM question_items q"
        " JOIN paths p USING (path_id) WHERE q.questions_hash = ? AND q.status = 'accepted'",
        [questions_hash]).fetchall()
    return [(str(a), str(b)) for a, b in rows]


def pending_paths(con: Connection, questions_hash: str, limit: int | None) -> list[SampledPath]:
    """Paths with no item yet for this question config, in a stable order."""
    rows = con.execute(
        "SELECT path_id, wiki, seed_title, domain, hops, nodes, edges, answer_attribute, answer, retries,"
        " sampling_hash, seed FROM paths p WHERE NOT EXISTS (SELECT 1 FROM question_items q"
        " WHERE q.path_id = p.path_id AND q.questions_hash = ?) ORDER BY path_id"
        " LIMIT ?",
        [questions_hash, limit if limit is not None else 2**62],
    ).fetchall()
    return [
        SampledPath(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]),
                    tuple(PathNode(n["title"], n["role"]) for n in r[5]),
                    tuple(PathEdge(**e) for e in r[6]), str(r[7]), str(r[8]), int(r[9]), str(r[10]), int(r[11]))
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class PageFacts:
    """What a path node's ``NodeContext`` holds about one title: its page row (when there is one) and its aliases in
    ``(kind, alias)`` order. ``context`` builds a fresh ``NodeContext`` (its own infobox dict) each time."""

    lead: str
    infobox_type: str | None
    infobox: tuple[tuple[str, str], ...]
    aliases: tuple[str, ...]

    def context(self, node: PathNode) -> NodeContext:
        return NodeContext(node.title, node.role, self.lead, self.infobox_type, dict(self.infobox),
                           tuple(dict.fromkeys([node.title, *self.aliases])))


NO_FACTS = PageFacts("", None, (), ())


def page_facts(con: Connection, wiki: str, titles: Iterable[str]) -> dict[str, PageFacts]:
    """Lead, infobox and every alias (title, redirects, bold names, infobox names) of each title, two queries
    for all of them; a title with neither a page nor an alias is absent (``NO_FACTS``)."""
    keys = _distinct(titles)
    if not keys:
        return {}
    params = {"wiki": wiki, "keys": keys}
    pages = {
        str(r[0]): r for r in con.execute(
            "SELECT p.title, p.lead_text, p.infobox_type, map_entries(p.infobox) FROM pages p"
            " JOIN (SELECT DISTINCT unnest($keys::VARCHAR[]) AS key) k ON k.key = p.title WHERE p.wiki = $wiki",
            params).fetchall()
    }
    aliases: dict[str, list[str]] = {}
    for title, alias in con.execute(
            "SELECT a.title, a.alias FROM all_aliases a"
            " JOIN (SELECT DISTINCT unnest($keys::VARCHAR[]) AS key) k ON k.key = a.title WHERE a.wiki = $wiki"
            " ORDER BY a.title, a.kind, a.alias", params).fetchall():
        aliases.setdefault(str(title), []).append(str(alias))
    out = {}
    for t in keys:
        row = pages.get(t)
        if row is None and t not in aliases:
            continue
        box = tuple((str(e["key"]), str(e["value"])) for e in (row[3] or [])) if row else ()
        out[t] = PageFacts(str(row[1] or "") if row else "", row[2] if row else None, box, tuple(aliases.get(t, ())))
    return out


def image_candidates(con: Connection, wiki: str, titles: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Per title, the page's images that have bytes, infobox image first, with licence fields; one query for all
    titles, a title without images is absent."""
    keys = _distinct(titles)
    if not keys:
        return {}
    cur = con.execute(
        "SELECT r.title AS _title, r.file_name, f.sha256, b.path, r.role, coalesce(r.caption, '') AS caption,"
        " b.width, b.height, f.license, f.author, f.source_url FROM image_refs r"
        " JOIN (SELECT DISTINCT unnest($keys::VARCHAR[]) AS key) k ON k.key = r.title"
        " JOIN image_files f ON f.wiki = r.wiki AND f.file_name = r.file_name"
        " JOIN image_blobs b ON b.sha256 = f.sha256"
        " WHERE r.wiki = $wiki ORDER BY r.title, r.ordinal", {"wiki": wiki, "keys": keys})
    cols = [d[0] for d in cur.description][1:]
    out: dict[str, list[dict[str, Any]]] = {}
    for r in cur.fetchall():
        out.setdefault(str(r[0]), []).append(dict(zip(cols, r[1:], strict=True)))
    return out


def image_subjects(con: Connection, wiki: str, sha256s: Iterable[str]) -> dict[str, list[tuple[str | None, int]]]:
    """Per image, the infobox types of the articles that show it as their infobox image, each with how many
    articles of that type do (``None``: no type), one query for all images. Counts, not titles: an image many
    pages show (a flag) would otherwise hand every item that pictures it a list as long as the corpus."""
    keys = _distinct(sha256s)
    if not keys:
        return {}
    rows = con.execute(
        "SELECT sha256, infobox_type, count(*) FROM ("
        "  SELECT DISTINCT f.sha256, r.title, p.infobox_type FROM image_files f"
        "  JOIN (SELECT DISTINCT unnest($keys::VARCHAR[]) AS key) k ON k.key = f.sha256"
        "  JOIN image_refs r ON r.wiki = f.wiki AND r.file_name = f.file_name AND r.role = 'infobox'"
        "  LEFT JOIN pages p ON p.wiki = r.wiki AND p.title = r.title"
        "  WHERE f.wiki = $wiki) GROUP BY ALL ORDER BY 1, 2 NULLS FIRST", {"wiki": wiki, "keys": keys}).fetchall()
    out: dict[str, list[tuple[str | None, int]]] = {}
    for sha, kind, n in rows:
        out.setdefault(str(sha), []).append((kind, int(n)))
    return out


def relation_fanout(con: Connection, wiki: str, edges: Iterable[PathEdge]) -> dict[tuple[str, str], int]:
    """Per ``(src, dst)`` of the infobox-key edges among ``edges``, how many distinct targets the source links
    from the same infobox field ("languages = Arabic, Berber" gives 2): the field of the first link (in page
    order) from src to dst that sits in one; at least 1. One query for all edges. (A context relation quotes its
    own sentence, so it names one target: the stage counts 1 for it.)"""
    pairs = list(dict.fromkeys((e.src, e.dst) for e in edges if e.relation_method == "infobox_key"))
    if not pairs:
        return {}
    links: dict[str, list[tuple[int, str, str]]] = {}
    for src, ordinal, dst, key in con.execute(
            "SELECT r.src_title, r.ordinal, r.dst_title, r.infobox_key FROM resolved_links r"
            " JOIN (SELECT DISTINCT unnest($keys::VARCHAR[]) AS key) k ON k.key = r.src_title"
            " WHERE r.wiki = $wiki AND r.infobox_key IS NOT NULL",
            {"wiki": wiki, "keys": _distinct(s for s, _ in pairs)}).fetchall():
        links.setdefault(str(src), []).append((int(ordinal), str(dst), str(key)))
    for rows in links.values():
        rows.sort()
    out = {}
    for src, dst in pairs:
        rows = links.get(src, [])
        field = next((k for _, d, k in rows if d == dst), None)
        out[(src, dst)] = max(1, len({d for _, d, k in rows if k == field})) if field is not None else 1
    return out


_ITEMS = pa.schema([
    ("item_id", pa.string()), ("path_id", pa.string()), ("run_id", pa.string()), ("questions_hash", pa.string()),
    ("method", pa.string()), ("status", pa.string()), ("reject_stage", pa.string()), ("reject_reason", pa.string()),
    ("detail", pa.string()), ("canonical", pa.string()), ("rewritten", pa.string()), ("question", pa.string()),
    ("answer", pa.string()), ("obfuscated", pa.bool_()), ("image_sha256", pa.string()),
    ("image_file_name", pa.string()), ("image_width", pa.int32()), ("image_height", pa.int32()),
    ("image_source_url", pa.string()), ("image_author", pa.string()), ("image_license", pa.string()),
    ("image_score", pa.float64()), ("image_method", pa.string()), ("image_candidates", pa.int32()),
    ("referring_expression", pa.string()), ("prompts", pa.string()), ("created_at", pa.timestamp("us")),
    ("answer_aliases", pa.list_(pa.string())), ("question_words", pa.int32()),
])
_VERDICT = pa.struct([(f, pa.string()) for f in ("candidate", "answer_invariance", "uniqueness", "non_leakage",
                                                  "detail")])
_STEPS = pa.schema([
    ("item_id", pa.string()), ("step", pa.int32()), ("entity", pa.string()), ("candidates", pa.list_(_VERDICT)),
    ("chosen", pa.string()), ("question_after", pa.string()), ("method", pa.string()), ("alone_rank", pa.int32()),
    ("chain_unique", pa.string()), ("chain_detail", pa.string()),
])
_GATES = pa.schema([("item_id", pa.string()), ("gate", pa.string()), ("score", pa.float64()),
                    ("verdict", pa.string()), ("detail", pa.string())])


def write_outcomes(con: Connection, run_id: str, questions_hash: str,
                   items: Sequence[tuple[str, str, QuestionOutcome]]) -> None:
    """Replace ``(item_id, answer, outcome)`` items with their steps and gates (and their reject rows, when
    rejected), all in one transaction: one delete per table for the whole batch, one Arrow insert per table."""
    if not items:
        return
    now = datetime.now(UTC).replace(tzinfo=None)       # the column is a plain TIMESTAMP, in UTC
    item_rows, step_rows, gate_rows, rejects = [], [], [], []
    for item_id, answer, o in items:
        g = o.grounding
        stage, reason = o.reject if o.reject else (None, None)
        item_rows.append(dict(zip(_ITEMS.names, [
            item_id, o.path_id, run_id, questions_hash, o.method, "rejected" if o.reject else "accepted",
            stage, reason, o.detail or None, o.canonical, o.rewritten, o.final, answer,
            any(s.step == 0 for s in o.steps), g and g.sha256, g and g.file_name, g and g.width, g and g.height,
            g and g.source_url, g and g.author, g and g.license, g and g.score, g and g.method, g and g.candidates,
            g and g.referring_expression, json.dumps(o.prompts, sort_keys=True), now, list(o.answer_aliases),
            len(o.final.split()) if o.final else None], strict=True)))
        step_rows += [dict(zip(_STEPS.names, [
            item_id, s.step, s.entity, [asdict(c) for c in s.candidates], s.chosen, s.question_after, s.method,
            s.alone_rank, s.chain_unique, s.chain_detail or None], strict=True)) for s in o.steps]
        gate_rows += [dict(zip(_GATES.names, [item_id, x.gate, x.score, x.verdict, x.detail], strict=True))
                      for x in o.gates]
        if o.reject:
            rejects.append((item_id, f"{stage}:{reason}", o.detail))
    ids = {"keys": [i for i, _, _ in items]}
    con.execute("BEGIN TRANSACTION")
    try:
        for table in ("question_items", "rewrite_steps", "gate_verdicts"):
            con.execute(f"DELETE FROM {table} WHERE item_id IN (SELECT unnest($keys::VARCHAR[]))", ids)  # noqa: S608 - fixed names
        con.execute("DELETE FROM unit_rejects WHERE stage = $stage AND unit_id IN (SELECT unnest($keys::VARCHAR[]))",
                    {**ids, "stage": STAGE})
        for table, schema, rows in (("question_items", _ITEMS, item_rows), ("rewrite_steps", _STEPS, step_rows),
                                    ("gate_verdicts", _GATES, gate_rows)):
            if rows:
                con.register("_question_rows", pa.Table.from_pylist(rows, schema=schema))
                try:
                    cols = ", ".join(schema.names)
                    con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _question_rows")  # noqa: S608 - fixed names
                finally:
                    con.unregister("_question_rows")
        upsert_rejects(con, STAGE, run_id, rejects)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def article_documents(con: Connection, wiki: str, *, body: bool,
                      batch_rows: int = 5_000) -> Iterator[tuple[str, str, str, str | None, list[str]]]:
    """``(title, lead, infobox, body, aliases)`` of every article in title order (``queries/article_documents.sql``,
    ``article_texts.sql``): the documents of the search indexes. The infobox is one ``- field: value`` line per
    field, so a query-focused summary can quote one fact. Without ``body``, body and aliases are left out (None,
    []) and not read: the question stage's uniqueness index holds neither.

    Read ``batch_rows`` titles at a time, by title range: only the titles are sorted whole (a sort of the full
    rows would hold every page's text at once)."""
    titles = [str(t) for (t,) in con.execute(
        "SELECT title FROM pages WHERE wiki = ? AND namespace = 0 AND redirect_target IS NULL ORDER BY title",
        [wiki]).fetchall()]
    query = load_query("article_documents" if body else "article_texts")
    for start in range(0, len(titles), batch_rows):
        lo, hi = titles[start], titles[min(start + batch_rows, len(titles)) - 1]
        for row in con.execute(query, {"wiki": wiki, "lo": lo, "hi": hi}).fetchall():
            t, lead, box, text, aliases = row
            yield str(t), str(lead), str(box), None if text is None else str(text), [str(a) for a in aliases]
