"""One item's full provenance, section by section (``searchvl inspect item ID``)."""

from __future__ import annotations

from typing import Any

from warehouse.db import Connection

Rows = tuple[list[str], list[tuple[Any, ...]]]

# section -> SQL with one ``?`` parameter: the item id (a question/pool item id or a trajectory id)
SECTIONS: dict[str, str] = {
    "pool item": "SELECT * EXCLUDE (provenance), provenance::VARCHAR AS provenance FROM pool_view WHERE item_id = $id",
    "question": """SELECT item_id, status, reject_stage, reject_reason, method, canonical, rewritten, question, answer,
                          obfuscated, image_file_name, image_license, image_method, image_score, questions_hash
                   FROM question_items WHERE item_id = $id""",
    "path": """SELECT p.path_id, p.wiki, p.domain, p.hops,
                      list_transform(p.nodes, lambda n: n.role || ': ' || n.title) AS nodes,
                      list_transform(p.edges, lambda e: e.src || ' -[' || coalesce(e.relation, '') || ']-> ' || e.dst)
                          AS edges,
                      p.answer_attribute, p.answer
               FROM paths p JOIN question_items q USING (path_id) WHERE q.item_id = $id""",
    "aliases": """SELECT a.title, list(DISTINCT a.alias ORDER BY a.alias) AS aliases
                  FROM question_items q JOIN paths p USING (path_id),
                       LATERAL (SELECT unnest(p.nodes).title AS title) n
                  JOIN all_aliases a ON a.wiki = p.wiki AND a.title = n.title
                  WHERE q.item_id = $id GROUP BY a.title ORDER BY a.title""",
    "rewrite steps": """SELECT step, entity, chosen, len(candidates) AS candidates, question_after, method
                        FROM rewrite_steps WHERE item_id = $id ORDER BY step""",
    "gates": "SELECT gate, score, verdict, detail FROM gate_verdicts WHERE item_id = $id ORDER BY gate",
    "shortcut filter": """SELECT gate, attempt, solver, tool_call, answer, correct, judge, error
                          FROM difficulty_verdicts WHERE item_id = $id ORDER BY gate, attempt""",
    "filter outcome": "SELECT status, reason, pass_at_k::VARCHAR AS pass_at_k FROM filter_outcomes WHERE item_id = $id",
    "enhancement": "SELECT kind, params::VARCHAR AS params, degraded_sha256 FROM enhancements WHERE item_id = $id",
    "rl hold-out": "SELECT synthesis_hash, run_id, created_at FROM rl_holdout WHERE item_id = $id",
    "sft/rl split": """SELECT synthesis_hash, side, rule, shared, group_key, group_size FROM item_splits
                       WHERE item_id = $id""",
    "trajectories": """SELECT trajectory_id, rollout, teacher, finish_reason, tool_calls, tools_used, final_answer,
                              answer_correct, process_score, status, reject_reason
                       FROM trajectories WHERE item_id = $id OR trajectory_id = $id ORDER BY rollout""",
    "exports": """SELECT e.name, r.config, r.split, r.row_id, r.shard
                  FROM export_rows r JOIN exports e USING (export_id)
                  WHERE r.item_id = $id OR r.row_id = $id ORDER BY e.created_at DESC, r.config""",
    "rejects": """SELECT stage, unit_id, reason, detail FROM rejects
                  WHERE unit_id = $id OR ends_with(unit_id, ':' || $id)""",
}


def item_sections(con: Connection, item_id: str) -> list[tuple[str, Rows]]:
    """The non-empty sections for ``item_id``; an empty list when the id is unknown."""
    out = []
    for name, sql in SECTIONS.items():
        cur = con.execute(sql, {"id": item_id})
        cols = [d[0] for d in cur.description or []]
        rows = cur.fetchall()
        if rows:
            out.append((name, (cols, rows)))
    return out


def latest_export(con: Connection) -> tuple[str, str] | None:
    """``(name, folder)`` of the newest export."""
    row = con.execute("SELECT name, folder FROM exports ORDER BY created_at DESC LIMIT 1").fetchone()
    return (str(row[0]), str(row[1])) if row else None


def trajectory_turns(con: Connection, trajectory_ids: list[str]
                     ) -> dict[str, list[tuple[int, str, str, str | None, str | None, str | None]]]:
    """Every message of the given trajectories, in order: ``(idx, role, content, tool, arguments, error)``."""
    out: dict[str, list[tuple[int, str, str, str | None, str | None, str | None]]] = {t: [] for t in trajectory_ids}
    rows = con.execute("SELECT trajectory_id, idx, role, content, tool, arguments::VARCHAR, error "
                       "FROM trajectory_turns WHERE list_contains($ids, trajectory_id) ORDER BY trajectory_id, idx",
                       {"ids": trajectory_ids}).fetchall()
    for tid, idx, role, content, tool, args, error in rows:
        out[str(tid)].append((int(idx), str(role), str(content), tool, args, error))
    return out


def latest_export_counts(con: Connection) -> tuple[int, int, int] | None:
    """``(sft_rows, rl_train, rl_validation)`` of the newest export."""
    row = con.execute("SELECT sft_rows, rl_train, rl_validation FROM exports "
                      "ORDER BY created_at DESC LIMIT 1").fetchone()
    return (int(row[0]), int(row[1]), int(row[2])) if row else None
