"""Reads and writes of the difficulty filter and trajectory synthesis (``007_synthesis.sql``).

Each item's rows are written in one transaction keyed by deterministic ids, so a run killed at any
point and run again writes no duplicates and redoes only unfinished items.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from schemas.synthesis import SolverAttempt, Trajectory
from warehouse.db import Connection


@dataclass(frozen=True, slots=True)
class PoolRow:
    """A pool item as the filter and the teacher see it (``pool_view`` + the path behind a wiki item)."""

    item_id: str
    source: str
    question: str
    answer: str
    aliases: tuple[str, ...]
    image_path: str | None
    degradation: str | None
    degraded_path: str | None
    nodes: tuple[str, ...]
    relations: tuple[str, ...]
    attribute: str | None


_POOL = """
SELECT v.item_id, v.source, v.question, v.answer, v.aliases, v.image_path, v.degradation, v.degraded_path,
       list_transform(p.nodes, lambda n: n.title), list_transform(p.edges, lambda e: e.relation), p.answer_attribute
FROM pool_view v
LEFT JOIN paths p ON p.path_id = json_extract_string(v.provenance, '$.path_id')
"""


def _rows(con: Connection, where: str, params: list[Any], limit: int | None) -> list[PoolRow]:
    sql = _POOL + where + " ORDER BY v.item_id" + (" LIMIT ?" if limit else "")
    out = []
    for r in con.execute(sql, params + ([limit] if limit else [])).fetchall():
        out.append(PoolRow(str(r[0]), str(r[1]), str(r[2]), str(r[3]), tuple(r[4] or ()), r[5], r[6], r[7],
                           tuple(r[8] or ()), tuple(r[9] or ()), r[10]))
    return out


def pending_filter_items(con: Connection, filter_hash: str, limit: int | None) -> list[PoolRow]:
    """Pool items without a final (kept/dropped) filter outcome for this filter config."""
    return _rows(con, " WHERE v.item_id NOT IN (SELECT item_id FROM filter_outcomes WHERE filter_hash = ?"
                      " AND status IN ('kept', 'dropped'))",
                 [filter_hash], limit)


def kept_item_ids(con: Connection, filter_hash: str) -> list[str]:
    rows = con.execute("SELECT f.item_id FROM filter_outcomes f JOIN pool_items p USING (item_id)"
                       " WHERE f.filter_hash = ? AND f.status = 'kept' ORDER BY 1", [filter_hash]).fetchall()
    return [str(r[0]) for r in rows]


def pending_synthesis_items(con: Connection, filter_hash: str, synthesis_hash: str, limit: int | None) -> list[PoolRow]:
    """Items the filter kept that have not finished synthesis for this config and are not held out for RL."""
    return _rows(con, " WHERE v.item_id IN (SELECT item_id FROM filter_outcomes WHERE filter_hash = ? AND"
                      " status = 'kept') AND v.item_id NOT IN (SELECT item_id FROM synthesis_items"
                      " WHERE synthesis_hash = ?) AND v.item_id NOT IN (SELECT item_id FROM rl_holdout"
                      " WHERE synthesis_hash = ?)", [filter_hash, synthesis_hash, synthesis_hash], limit)


def hold_out(con: Connection, run_id: str, synthesis_hash: str, item_ids: Sequence[str]) -> int:
    """Record items set aside for RL under this synthesis config (idempotent); returns how many are new."""
    before = _count_holdout(con, synthesis_hash)
    if item_ids:
        con.executemany("INSERT OR IGNORE INTO rl_holdout VALUES (?, ?, ?, ?)",
                        [[i, synthesis_hash, run_id, datetime.now(UTC)] for i in item_ids])
    return _count_holdout(con, synthesis_hash) - before


def _count_holdout(con: Connection, synthesis_hash: str) -> int:
    row = con.execute("SELECT count(*) FROM rl_holdout WHERE synthesis_hash = ?", [synthesis_hash]).fetchone()
    return int(row[0]) if row else 0


def write_filter(con: Connection, run_id: str, filter_hash: str, item_id: str, attempts: Sequence[SolverAttempt],
                 solver: str, status: str, reason: str | None, pass_at_k: dict[str, float]) -> None:
    """One item's verdicts and outcome, atomically."""
    now = datetime.now(UTC)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM difficulty_verdicts WHERE item_id = ? AND filter_hash = ?", [item_id, filter_hash])
        if attempts:
            con.executemany(
                "INSERT INTO difficulty_verdicts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [[item_id, a.gate, a.attempt, filter_hash, run_id, solver, a.tool_call, a.observation[:2000],
                  a.answer, a.correct, a.judge, a.error, now] for a in attempts])
        con.execute("INSERT OR REPLACE INTO filter_outcomes VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [item_id, filter_hash, run_id, status, reason, json.dumps(pass_at_k, sort_keys=True), now])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


BlobRow = tuple[str, str, int, int, int, str]


def write_synthesis(con: Connection, run_id: str, synthesis_hash: str, item_id: str,
                    trajectories: Sequence[tuple[Trajectory, str, str | None]], blobs: Sequence[BlobRow],
                    prompts: dict[str, str], *, done: bool = True) -> None:
    """One item's trajectories ``(trajectory, status, reject_reason)``, their turns and images, atomically;
    with ``done`` the item is marked finished for this config (else it stays pending)."""
    now = datetime.now(UTC)
    ids = [t.trajectory_id for t, _, _ in trajectories]
    con.execute("BEGIN TRANSACTION")
    try:
        if blobs:
            con.executemany("INSERT OR IGNORE INTO image_blobs VALUES (?, ?, ?, ?, ?, ?)", [list(b) for b in blobs])
        con.execute("DELETE FROM trajectory_turns WHERE list_contains(?, trajectory_id)", [ids])
        con.execute("DELETE FROM trajectories WHERE list_contains(?, trajectory_id)", [ids])
        for t, status, reason in trajectories:
            av, pv = t.answer_verdict, t.process_verdict
            con.execute(
                "INSERT INTO trajectories VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?)",
                [t.trajectory_id, t.item_id, t.rollout, synthesis_hash, run_id, t.teacher, t.degradation,
                 t.finish_reason, t.final_answer, sum(x.role == "assistant" for x in t.turns), t.tool_calls,
                 [x.tool for x in t.turns if x.role == "tool" and x.tool], t.prompt_tokens, t.completion_tokens,
                 av.correct if av else None, av.method if av else None, av.reason if av else None,
                 pv.score if pv else None, pv.method if pv else None, list(pv.reasons) if pv else None,
                 t.one_step_collapse, status, reason, json.dumps(prompts, sort_keys=True), now])
            if t.turns:
                con.executemany(
                    "INSERT INTO trajectory_turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [[t.trajectory_id, x.index, x.role, x.content, list(x.image_sha256s), x.tool, x.arguments,
                      x.error, x.tokens, x.cached] for x in t.turns])
        if done:
            con.execute("INSERT OR REPLACE INTO synthesis_items VALUES (?, ?, ?, ?, ?)",
                        [item_id, synthesis_hash, run_id, sum(s == "accepted" for _, s, _ in trajectories), now])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def run_spend(con: Connection, run_id: str) -> float:
    """Dollars this run has spent on model calls so far (memo hits cost nothing)."""
    row = con.execute("SELECT coalesce(sum(cost_usd), 0) FROM llm_calls WHERE run_id = ?", [run_id]).fetchone()
    return float(row[0]) if row else 0.0
