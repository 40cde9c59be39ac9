"""Reads and writes of the question stage: path context in, items / rewrite steps / gate verdicts out.

Each item is written in its own transaction, keyed by ``item_id``; the stage skips items already
written, so a rerun after a crash neither duplicates rows nor redoes (or re-sends) finished items.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from schemas.paths import PathEdge, PathNode, SampledPath
from schemas.questions import NodeContext, QuestionOutcome
from warehouse.db import Connection
from warehouse.rejects import upsert_rejects

STAGE = "questions"
ITEM_COLUMNS = ("item_id, path_id, run_id, questions_hash, method, status, reject_stage, reject_reason, detail,"
                " canonical, rewritten, question, answer, obfuscated, image_sha256, image_file_name, image_width,"
                " image_height, image_source_url, image_author, image_license, image_score, image_method,"
                " image_candidates, referring_expression, prompts, created_at, answer_aliases, question_words")


def out_links(con: Connection, wiki: str, src: str) -> list[tuple[str, str, str, str | None, str | None]]:
    """Every article ``src`` links to, with the first link's context and the target's infobox type:
    ``(dst, anchor_text, sentence, infobox_key, dst_infobox_type)``."""
    rows = con.execute(
        "SELECT r.dst_title, arg_min(coalesce(r.anchor_text, ''), r.ordinal), arg_min(coalesce(r.sentence, ''),"
        " r.ordinal), arg_min(r.infobox_key, r.ordinal), any_value(p.infobox_type) FROM resolved_links r"
        " JOIN pages p ON p.wiki = r.wiki AND p.title = r.dst_title AND p.namespace = 0"
        " WHERE r.wiki = ? AND r.src_title = ? AND r.dst_title <> r.src_title GROUP BY r.dst_title"
        " ORDER BY r.dst_title", [wiki, src]).fetchall()
    return [(str(d), str(a), str(t), k, ty) for d, a, t, k, ty in rows]


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


def node_contexts(con: Connection, wiki: str, nodes: Sequence[PathNode]) -> list[NodeContext]:
    """Lead, infobox and every alias (title, redirects, bold names, infobox names) of each node."""
    titles = [n.title for n in nodes]
    pages = {
        str(r[0]): r for r in con.execute(
            "SELECT title, lead_text, infobox_type, map_entries(infobox) FROM pages"
            " WHERE wiki = ? AND list_contains(?, title)", [wiki, titles]).fetchall()
    }
    aliases: dict[str, list[str]] = {t: [] for t in titles}
    for title, alias in con.execute(
            "SELECT title, alias FROM all_aliases WHERE wiki = ? AND list_contains(?, title) ORDER BY kind, alias",
            [wiki, titles]).fetchall():
        aliases[str(title)].append(str(alias))
    out = []
    for n in nodes:
        row = pages.get(n.title)
        box = {str(e["key"]): str(e["value"]) for e in (row[3] or [])} if row else {}
        out.append(NodeContext(n.title, n.role, str(row[1] or "") if row else "", row[2] if row else None,
                               box, tuple(dict.fromkeys([n.title, *aliases[n.title]]))))
    return out


def image_candidates(con: Connection, wiki: str, title: str) -> list[dict[str, Any]]:
    """The page's images that have bytes, infobox image first, with licence fields."""
    cur = con.execute(
        "SELECT r.file_name, f.sha256, b.path, r.role, coalesce(r.caption, '') AS caption, b.width, b.height,"
        " f.license, f.author, f.source_url FROM image_refs r"
        " JOIN image_files f ON f.wiki = r.wiki AND f.file_name = r.file_name"
        " JOIN image_blobs b ON b.sha256 = f.sha256"
        " WHERE r.wiki = ? AND r.title = ? ORDER BY r.ordinal", [wiki, title])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def image_subjects(con: Connection, wiki: str, sha256s: Sequence[str]) -> dict[str, list[tuple[str, str | None]]]:
    """Per image, the articles that show it as their infobox image, with their infobox types."""
    if not sha256s:
        return {}
    rows = con.execute(
        "SELECT DISTINCT f.sha256, r.title, p.infobox_type FROM image_files f"
        " JOIN image_refs r ON r.wiki = f.wiki AND r.file_name = f.file_name AND r.role = 'infobox'"
        " LEFT JOIN pages p ON p.wiki = r.wiki AND p.title = r.title"
        " WHERE f.wiki = ? AND list_contains(?, f.sha256) ORDER BY 1, 2", [wiki, list(sha256s)]).fetchall()
    out: dict[str, list[tuple[str, str | None]]] = {}
    for sha, title, kind in rows:
        out.setdefault(str(sha), []).append((str(title), kind))
    return out


def relation_fanout(con: Connection, wiki: str, edges: Sequence[PathEdge]) -> tuple[int, ...]:
    """Per hop, how many distinct targets the source links under the same relation.

    Infobox relations count the distinct targets linked from that infobox field ("languages = Arabic,
    Berber" gives 2); a context relation quotes its own sentence, so it names one target.
    """
    out = []
    for e in edges:
        if e.relation_method != "infobox_key":
            out.append(1)
            continue
        rows = con.execute(
            "WITH k AS (SELECT infobox_key FROM resolved_links WHERE wiki = $w AND src_title = $s"
            " AND dst_title = $d AND infobox_key IS NOT NULL LIMIT 1)"
            " SELECT count(DISTINCT dst_title) FROM resolved_links WHERE wiki = $w AND src_title = $s"
            " AND infobox_key = (SELECT infobox_key FROM k)", {"w": wiki, "s": e.src, "d": e.dst}).fetchall()
        out.append(max(1, int(rows[0][0])) if rows else 1)
    return tuple(out)


def write_outcome(con: Connection, run_id: str, questions_hash: str, item_id: str, answer: str,
                  o: QuestionOutcome) -> None:
    """Replace one item with its steps and gates (and its reject row, when rejected), atomically."""
    now = datetime.now(UTC)
    g = o.grounding
    stage, reason = o.reject if o.reject else (None, None)
    obfuscated = any(s.step == 0 for s in o.steps)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM question_items WHERE item_id = ?", [item_id])
        con.execute("DELETE FROM rewrite_steps WHERE item_id = ?", [item_id])
        con.execute("DELETE FROM gate_verdicts WHERE item_id = ?", [item_id])
        con.execute("DELETE FROM unit_rejects WHERE stage = ? AND unit_id = ?", [STAGE, item_id])
        con.execute(
            f"INSERT INTO question_items ({ITEM_COLUMNS}) VALUES ({', '.join('?' * 29)})",  # noqa: S608
            [item_id, o.path_id, run_id, questions_hash, o.method, "rejected" if o.reject else "accepted",
             stage, reason, o.detail or None, o.canonical, o.rewritten, o.final, answer, obfuscated,
             g and g.sha256, g and g.file_name, g and g.width, g and g.height, g and g.source_url,
             g and g.author, g and g.license, g and g.score, g and g.method, g and g.candidates,
             g and g.referring_expression, json.dumps(o.prompts, sort_keys=True), now, list(o.answer_aliases),
             len(o.final.split()) if o.final else None])
        if o.steps:
            con.executemany(
                "INSERT INTO rewrite_steps (item_id, step, entity, candidates, chosen, question_after, method,"
                " alone_rank, chain_unique, chain_detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [[item_id, s.step, s.entity, [asdict(c) for c in s.candidates], s.chosen, s.question_after,
                  s.method, s.alone_rank, s.chain_unique, s.chain_detail or None] for s in o.steps])
        if o.gates:
            con.executemany("INSERT INTO gate_verdicts VALUES (?, ?, ?, ?, ?)",
                            [[item_id, x.gate, x.score, x.verdict, x.detail] for x in o.gates])
        if o.reject:
            upsert_rejects(con, STAGE, run_id, [(item_id, f"{stage}:{reason}", o.detail)])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def all_titles_and_text(con: Connection, wiki: str) -> list[tuple[str, str, str]]:
    """``(title, lead text, infobox)`` of every article: the documents of the offline text index. The infobox
    is one ``- field: value`` line per field, so a query-focused summary can quote one fact."""
    rows = con.execute(
        "SELECT title, coalesce(lead_text, ''), coalesce(array_to_string(list_transform(map_entries(infobox),"
        " lambda e: '- ' || replace(e.key, '_', ' ') || ': ' || e.value), chr(10)), '')"
        " FROM pages WHERE wiki = ? AND namespace = 0 AND redirect_target IS NULL ORDER BY title", [wiki]).fetchall()
    return [(str(t), str(lead), str(box)) for t, lead, box in rows]


def body_sentences(con: Connection, wiki: str) -> dict[str, str]:
    """Per article, the sentences that carry its links, in page order, minus those already in the lead: the
    body text a search result can quote (pages keep only their lead; links keep their sentence)."""
    rows = con.execute(
        "SELECT s.src_title, string_agg(s.sentence, chr(10) || chr(10) ORDER BY s.ord) FROM ("
        "  SELECT l.src_title, l.sentence, min(l.ordinal) AS ord FROM links l"
        "  JOIN pages p ON p.wiki = l.wiki AND p.title = l.src_title"
        "  WHERE l.wiki = ? AND l.sentence IS NOT NULL AND length(l.sentence) > 0"
        "    AND position(l.sentence IN coalesce(p.lead_text, '')) = 0"
        "  GROUP BY ALL) s GROUP BY s.src_title", [wiki]).fetchall()
    return {str(t): str(text) for t, text in rows}
