"""Measure what the question stage accepted in one warehouse (issue 13's README table).

    .venv/bin/python scripts/question_report.py WAREHOUSE.duckdb [--k 3] [--json]

Per warehouse: items accepted; median / max question words; the share of chosen descriptors whose entity the
local text index ranks top-k when the descriptor is searched alone (its own words; a relational descriptor's
``{x}`` slot left out); the share of accepted questions whose whole text ranks the answer page or the last bridge
top-k; and the question-stage drops by reason. Ranks are recomputed here with the stage's own index
(``tasks.questions.stage.text_index``), so warehouses written before alone ranks were recorded measure the same way.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from tasks.questions.chain import alone_rank
from tasks.questions.offline import descriptor_query
from tasks.questions.stage import text_index
from warehouse.db import connect


def report(db: Path, k: int) -> dict[str, object]:
    with connect(db, read_only=True) as con:
        wiki = "enwiki"
        search = text_index(con, wiki, db.parent)
        items = con.execute(
            "SELECT v.item_id, v.question, list_transform(v.nodes, lambda n: n.title) FROM vqa_items v").fetchall()
        words = [len(str(q).split()) for _, q, _ in items]
        chosen = con.execute(
            "SELECT s.entity, s.chosen FROM rewrite_steps s JOIN question_items q USING (item_id)"
            " WHERE q.status = 'accepted' AND s.step > 0 AND s.chosen IS NOT NULL").fetchall()
        alone = [alone_rank(search, str(d), str(e)) for e, d in chosen]
        shortcut = 0
        for _, question, titles in items:
            targets = [titles[-1], *([titles[-2]] if len(titles) > 2 else [])]
            hits = [t for t, _ in search(descriptor_query(str(question)), k)]
            shortcut += any(t in hits for t in targets)
        drops = dict(con.execute(
            "SELECT reject_stage || ':' || reject_reason, count(*) FROM question_items WHERE status = 'rejected'"
            " GROUP BY 1 ORDER BY 2 DESC").fetchall())
        walk = dict(con.execute(
            "SELECT reason, count(*) FROM rejects WHERE stage = 'sample_paths' AND reason LIKE 'exhausted_%'"
            " GROUP BY 1 ORDER BY 2 DESC").fetchall())
    return {
        "warehouse": db.parent.name, "accepted": len(items),
        "median_words": statistics.median(words) if words else None, "max_words": max(words, default=None),
        "descriptors": len(alone),
        "descriptors_topk_alone": round(sum(r is not None and r <= k for r in alone) / len(alone), 3)
        if alone else None,
        "questions_topk_shortcut": round(shortcut / len(items), 3) if items else None,
        "question_drops": drops, "walk_rejects": walk, "k": k,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("warehouse", type=Path, nargs="+")
    ap.add_argument("--k", type=int, default=3)
    args = ap.parse_args(argv)
    for db in args.warehouse:
        sys.stdout.write(json.dumps(report(db, args.k), sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
