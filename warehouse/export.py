"""Reads behind the export stage and the ``exports`` / ``export_rows`` tables (``008_exports.sql``).

SFT candidates are the ``accepted_trajectories`` view; RL candidates are pool items the shortcut filter
kept that no accepted trajectory uses (PAPER.md §6.6: RL is disjoint from the SFT items).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from warehouse.db import Connection, run_query


@dataclass(frozen=True, slots=True)
class TurnRow:
    idx: int
    role: str
    content: str
    image_sha256s: tuple[str, ...]
    tool: str | None
    arguments: str | None


@dataclass(frozen=True, slots=True)
class SftCandidate:
    trajectory_id: str
    item_id: str
    source: str
    answer: str
    teacher: str
    answer_judge: str | None
    process_judge: str | None
    process_score: float | None
    tool_calls: int
    prompts: dict[str, str]
    run_id: str | None
    turns: tuple[TurnRow, ...]
    final_answer: str | None = None


@dataclass(frozen=True, slots=True)
class RlCandidate:
    item_id: str
    source: str
    question: str
    answer: str
    aliases: tuple[str, ...]
    image_sha256: str | None        # the degraded image for the enhancement subset, else the original
    degradation: str | None


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """Everything provenance needs about one pool item."""

    item_id: str
    source: str
    aliases: tuple[str, ...]
    pool_provenance: dict[str, Any]
    degradation: str | None
    exported_image: str | None
    nodes: tuple[tuple[str, str, tuple[str, ...]], ...]     # (title, role, aliases)
    hops: int | None
    domain: str | None
    wiki: str | None
    path_id: str | None
    answer_attribute: str | None
    image_method: str | None
    image_score: float | None
    gates: dict[str, float]
    pass_at_k: dict[str, float]
    filter_solver: str | None
    latest_revision: str | None = None    # newest revision timestamp among the path's articles


def sft_candidates(con: Connection) -> list[SftCandidate]:
    """Accepted trajectories (one-step collapses are never accepted), with their turns, by id."""
    rows = con.execute("""
        SELECT trajectory_id, item_id, source, answer, teacher, answer_judge, process_judge, process_score,
               tool_calls, prompts, run_id, final_answer
        FROM accepted_trajectories WHERE NOT one_step_collapse ORDER BY trajectory_id""").fetchall()
    turns: dict[str, list[TurnRow]] = defaultdict(list)
    for t in con.execute("""
            SELECT trajectory_id, idx, role, content, image_sha256s, tool, arguments::VARCHAR
            FROM trajectory_turns WHERE trajectory_id IN (SELECT trajectory_id FROM accepted_trajectories)
            ORDER BY trajectory_id, idx""").fetchall():
        turns[str(t[0])].append(TurnRow(int(t[1]), str(t[2]), str(t[3]), tuple(t[4] or ()), t[5], t[6]))
    return [SftCandidate(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), r[5], r[6], r[7], int(r[8]),
                         json.loads(r[9]) if r[9] else {}, r[10], tuple(turns[str(r[0])]), r[11]) for r in rows]


def rl_candidates(con: Connection, filter_hash: str, synthesis_hash: str) -> list[RlCandidate]:
    """Items kept by this filter config and held out for RL by this synthesis config (``rl_holdout``). An item
    whose group moved to RL after the teacher ran keeps its trajectories in the warehouse; the export leaves
    them out of SFT (``held_out_ids``)."""
    rows = con.execute("""
        SELECT v.item_id, v.source, v.question, v.answer, v.aliases,
               coalesce(v.degraded_sha256, v.image_sha256), v.degradation
        FROM pool_view v JOIN filter_outcomes f ON f.item_id = v.item_id
        WHERE f.filter_hash = ? AND f.status = 'kept'
          AND v.item_id IN (SELECT item_id FROM rl_holdout WHERE synthesis_hash = ?)
        ORDER BY v.item_id""", [filter_hash, synthesis_hash]).fetchall()
    return [RlCandidate(str(r[0]), str(r[1]), str(r[2]), str(r[3]), tuple(r[4] or ()), r[5], r[6]) for r in rows]


def held_out_ids(con: Connection, synthesis_hash: str) -> set[str]:
    """Items this synthesis config holds out for RL (never SFT, whatever trajectories they have)."""
    rows = con.execute("SELECT item_id FROM rl_holdout WHERE synthesis_hash = ?", [synthesis_hash]).fetchall()
    return {str(r[0]) for r in rows}


def item_facts(con: Connection, item_ids: Sequence[str]) -> dict[str, ItemFacts]:
    """Provenance inputs for the given pool items, keyed by item id."""
    if not item_ids:
        return {}
    con.execute("CREATE OR REPLACE TEMP TABLE _export_ids AS SELECT unnest(?::VARCHAR[]) AS item_id", [list(item_ids)])
    base = con.execute("""
        SELECT p.item_id, p.source, p.aliases, p.provenance::VARCHAR, e.kind,
               coalesce(e.degraded_sha256, p.image_sha256),
               pa.hops, pa.domain, pa.wiki, pa.path_id, pa.answer_attribute, q.image_method, q.image_score,
               f.pass_at_k::VARCHAR,
               (SELECT any_value(d.solver) FROM difficulty_verdicts d
                 WHERE d.item_id = p.item_id AND d.filter_hash = f.filter_hash)
        FROM _export_ids i JOIN pool_items p USING (item_id)
        LEFT JOIN enhancements e ON e.item_id = p.item_id
        LEFT JOIN question_items q ON q.item_id = p.item_id
        LEFT JOIN paths pa ON pa.path_id = q.path_id
        LEFT JOIN filter_outcomes f ON f.item_id = p.item_id AND f.status = 'kept'""").fetchall()
    nodes: dict[str, list[tuple[str, str, tuple[str, ...]]]] = defaultdict(list)
    for r in con.execute("""
            WITH n AS (
                SELECT q.item_id, pa.wiki, u.ord, u.node.title AS title, u.node.role AS role
                FROM _export_ids i JOIN question_items q USING (item_id) JOIN paths pa USING (path_id),
                     LATERAL (SELECT unnest(pa.nodes) AS node, generate_subscripts(pa.nodes, 1) AS ord) u)
            SELECT n.item_id, n.ord, n.title, n.role,
                   list(DISTINCT a.alias ORDER BY a.alias) FILTER (WHERE a.alias IS NOT NULL)
            FROM n LEFT JOIN all_aliases a ON a.wiki = n.wiki AND a.title = n.title
            GROUP BY ALL ORDER BY n.item_id, n.ord""").fetchall():
        nodes[str(r[0])].append((str(r[2]), str(r[3]), tuple(r[4] or ())))
    revisions = dict(con.execute("""
        SELECT q.item_id, max(pg.revision_timestamp)
        FROM _export_ids i JOIN question_items q USING (item_id) JOIN paths pa USING (path_id),
             LATERAL (SELECT unnest(pa.nodes).title AS title) n
        JOIN pages pg ON pg.wiki = pa.wiki AND pg.title = n.title GROUP BY q.item_id""").fetchall())
    gates: dict[str, dict[str, float]] = defaultdict(dict)
    for item, gate, score in con.execute(
            "SELECT g.item_id, g.gate, g.score FROM gate_verdicts g JOIN _export_ids USING (item_id)").fetchall():
        gates[str(item)][str(gate)] = float(score)
    con.execute("DROP TABLE _export_ids")
    out = {}
    for r in base:
        item = str(r[0])
        out[item] = ItemFacts(item, str(r[1]), tuple(r[2] or ()), json.loads(r[3]) if r[3] else {}, r[4], r[5],
                              tuple(nodes[item]), r[6], r[7], r[8], r[9], r[10], r[11], r[12], gates[item],
                              json.loads(r[13]) if r[13] else {}, r[14], revisions.get(item))
    return out


def image_files(con: Connection, shas: Sequence[str]) -> dict[str, tuple[str, str]]:
    """``sha256 -> (path relative to the data dir, format)`` for the given images."""
    if not shas:
        return {}
    rows = con.execute("SELECT sha256, path, format FROM image_blobs WHERE list_contains(?, sha256)",
                       [sorted(set(shas))]).fetchall()
    return {str(r[0]): (str(r[1]), str(r[2])) for r in rows}


def image_licences(con: Connection, shas: Sequence[str]) -> list[tuple[str, str | None, str | None, str | None]]:
    """``(file name, licence, author, source url)`` of the given images, for the card's attribution."""
    if not shas:
        return []
    rows = con.execute("""
        WITH s AS (SELECT unnest(?::VARCHAR[]) AS sha256),
        o AS (SELECT coalesce(e.original_sha256, s.sha256) AS sha256 FROM s
              LEFT JOIN (SELECT DISTINCT degraded_sha256, original_sha256 FROM enhancements) e
              ON e.degraded_sha256 = s.sha256)
        SELECT DISTINCT file_name, license, author, source_url FROM image_files
        WHERE sha256 IN (SELECT sha256 FROM o) ORDER BY file_name""", [sorted(set(shas))]).fetchall()
    return [(str(r[0]), r[1], r[2], r[3]) for r in rows]


def text_attribution(con: Connection, titles: Sequence[str]
                     ) -> list[tuple[str, str, int | None, str | None, str | None]]:
    """``(wiki, title, revision id, dump date, revision timestamp)`` of the articles the items rest on."""
    if not titles:
        return []
    rows = con.execute("""
        SELECT DISTINCT p.wiki, p.title, p.revision_id, s.dump_date, p.revision_timestamp FROM pages p
        LEFT JOIN sources s USING (source_id)
        WHERE list_contains(?, p.title) AND p.redirect_target IS NULL ORDER BY p.title""",
                       [sorted(set(titles))]).fetchall()
    return [(str(r[0]), str(r[1]), r[2], r[3], r[4]) for r in rows]


def find_export(con: Connection, export_id: str) -> tuple[str, str] | None:
    """``(name, folder)`` of an export already recorded with this id."""
    row = con.execute("SELECT name, folder FROM exports WHERE export_id = ?", [export_id]).fetchone()
    return (str(row[0]), str(row[1])) if row else None


def record_export(con: Connection, export_id: str, name: str, run_id: str, folder: str, sft_rows: int,
                  rl_rows: dict[str, int], shard_files: int, size: int, config: dict[str, Any],
                  rows: Sequence[tuple[str, str, str, str, str]]) -> None:
    """One export and its ``(config, split, row_id, item_id, shard)`` rows, atomically (rerun: replaced)."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM export_rows WHERE export_id = ?", [export_id])
        con.execute("INSERT OR REPLACE INTO exports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [export_id, name, run_id, folder, sft_rows, rl_rows.get("train", 0),
                     rl_rows.get("validation", 0), shard_files, size, json.dumps(config, sort_keys=True),
                     datetime.now(UTC)])
        if rows:
            cols = list(zip(*rows, strict=True))
            batch = pa.table({"export_id": [export_id] * len(rows), "config": cols[0], "split": cols[1],
                              "row_id": cols[2], "item_id": cols[3], "shard": cols[4]})
            con.register("_export_rows_batch", batch)
            con.execute("INSERT INTO export_rows SELECT * FROM _export_rows_batch")
            con.unregister("_export_rows_batch")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def funnel(con: Connection) -> list[tuple[str, str, str, int]]:
    """``(stage, outcome, reason, n)`` over every stage (named query ``funnel``), for the dataset card."""
    _, rows = run_query(con, "funnel")
    return [(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]


def gate_pass_rates(con: Connection) -> list[tuple[str, int, float]]:
    """``(gate, verdicts, pass rate)`` of the question-stage quality gates."""
    rows = con.execute("""SELECT gate, count(*), avg((verdict = 'pass')::INTEGER) FROM gate_verdicts
                          GROUP BY gate ORDER BY gate""").fetchall()
    return [(str(r[0]), int(r[1]), float(r[2])) for r in rows]


def usage(con: Connection) -> dict[str, Any]:
    """Model calls, tokens and recorded cost, plus teacher tokens of the trajectories."""
    calls = con.execute("""SELECT count(*), coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0),
                                  coalesce(sum(cost_usd), 0) FROM llm_calls""").fetchone()
    traj = con.execute("""SELECT count(*), coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0)
                          FROM trajectories""").fetchone()
    tools = con.execute("SELECT count(*) FROM tool_calls").fetchone()
    if calls is None or traj is None or tools is None:
        raise RuntimeError("aggregate query returned no row")
    return {"model_calls": int(calls[0]), "prompt_tokens": int(calls[1]), "completion_tokens": int(calls[2]),
            "cost_usd": float(calls[3]), "trajectories": int(traj[0]), "trajectory_prompt_tokens": int(traj[1]),
            "trajectory_completion_tokens": int(traj[2]), "cached_tool_calls": int(tools[0])}


def latest_run_config(con: Connection) -> str | None:
    row = con.execute("SELECT config_json::VARCHAR FROM runs WHERE config_json IS NOT NULL"
                      " ORDER BY started_at DESC LIMIT 1").fetchone()
    return str(row[0]) if row else None


def labels(con: Connection) -> dict[str, list[str]]:
    """Distinct method labels per stage: which defaults were offline fallbacks is read from these."""
    rows = con.execute("""
        SELECT 'questions', method FROM question_items
        UNION SELECT 'image_relevance', image_method FROM question_items WHERE image_method IS NOT NULL
        UNION SELECT 'filter_solver', solver FROM difficulty_verdicts
        UNION SELECT 'teacher', teacher FROM trajectories
        UNION SELECT 'answer_judge', answer_judge FROM trajectories WHERE answer_judge IS NOT NULL
        UNION SELECT 'process_judge', process_judge FROM trajectories WHERE process_judge IS NOT NULL
        UNION SELECT 'super_resolution', CASE WHEN content ILIKE '%lanczos%' THEN 'lanczos' ELSE 'edsr' END
            FROM trajectory_turns WHERE tool = 'super_resolution' AND error IS NULL
        ORDER BY 1, 2""").fetchall()
    out: dict[str, list[str]] = defaultdict(list)
    for stage, label in rows:
        out[str(stage)].append(str(label))
    return dict(out)


def search_backends(con: Connection) -> dict[str, dict[str, str]]:
    """``run_id -> {tool: backend label}`` recorded by synthesis runs (stage ``search_backends``)."""
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for run_id, tool, label in con.execute("SELECT run_id, outcome, reason FROM stage_stats"
                                           " WHERE stage = 'search_backends' ORDER BY 1, 2").fetchall():
        out[str(run_id)][str(tool)] = str(label)
    return dict(out)


def decontam_summary(con: Connection) -> tuple[dict[str, int], list[tuple[str, str, int]]]:
    """Benchmark rows/images indexed by the latest pool build (``note:benchmark_*`` stage stats) and the
    items decontamination dropped, ``(benchmark, reason, n)``."""
    notes: dict[str, int] = {}
    row = con.execute("SELECT run_id FROM stage_stats WHERE stage = 'pool' ORDER BY rowid DESC LIMIT 1").fetchone()
    if row is not None:
        for reason, n in con.execute("SELECT reason, n FROM stage_stats WHERE stage = 'pool' AND run_id = ?"
                                     " AND outcome = 'note' AND reason LIKE 'benchmark_%'", [row[0]]).fetchall():
            notes[str(reason)] = int(n)
    dropped = con.execute("SELECT coalesce(benchmark, ''), reason, count(*) FROM pool_rejects"
                          " WHERE stage = 'decontam' GROUP BY ALL ORDER BY 1, 2").fetchall()
    return notes, [(str(b), str(r), int(n)) for b, r, n in dropped]
