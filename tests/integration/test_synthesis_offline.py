"""The filter and synthesis stages on the bundled corpus with the offline solver, teacher and judges:
real DuckDB, real tool environment (BM25 index, image index, image tools), no Prefect."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import corpus_through_pool, corpus_through_synthesis
from warehouse.db import Connection, run_query

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "flows/configs/demo.yaml"


def run_stages(con: Connection, data_dir: Path) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    return corpus_through_synthesis(con, data_dir, DEMO)


@pytest.fixture
def pooled(tmp_path: Path, warehouse: Connection) -> Connection:
    corpus_through_pool(warehouse, tmp_path, DEMO)
    return warehouse


def test_offline_synthesis_judged_recorded_and_idempotent(tmp_path: Path, pooled: Connection) -> None:
    con = pooled
    filtered, made = run_stages(con, tmp_path)
    pool = con.execute("SELECT count(*) FROM pool_items").fetchone()
    assert pool is not None and sum(filtered.values()) == pool[0] > 0
    # every item got a verdict per gate it reached, with the solver labelled
    solvers = {r[0] for r in con.execute("SELECT DISTINCT solver FROM difficulty_verdicts").fetchall()}
    assert solvers == {"path-guided"}
    # trajectories: each a row with turns; accepted ones passed both judges and used >= 2 tools
    accepted = con.execute("SELECT answer_correct, process_score, tool_calls, teacher, answer_judge, process_judge"
                           " FROM accepted_trajectories").fetchall()
    assert accepted, made
    assert all(c and s >= 0.7 and n >= 2 and t == "path-guided" and aj == "alias-match" and pj == "rules"
               for c, s, n, t, aj, pj in accepted)
    rejected = con.execute("SELECT count(*) FROM trajectories WHERE status = 'rejected' AND reject_reason IS NULL"
                           ).fetchone()
    assert rejected == (0,)                                    # every rejection has a reason
    turns = con.execute("SELECT count(*) FROM trajectory_turns t JOIN accepted_trajectories a USING (trajectory_id)"
                        " WHERE t.role = 'tool'").fetchone()
    assert turns is not None and turns[0] >= 2 * len(accepted)
    # images a trajectory shows are stored content-addressed
    missing = con.execute("SELECT count(*) FROM (SELECT unnest(image_sha256s) AS sha FROM trajectory_turns)"
                          " WHERE sha NOT IN (SELECT sha256 FROM image_blobs)").fetchone()
    assert missing == (0,)
    # the RL hold-out was set aside before the teacher ran: kept items only, never given to the teacher
    held = {r[0] for r in con.execute("SELECT item_id FROM rl_holdout").fetchall()}
    kept = {r[0] for r in con.execute("SELECT item_id FROM filter_outcomes WHERE status = 'kept'").fetchall()}
    taught = {r[0] for r in con.execute("SELECT DISTINCT item_id FROM trajectories").fetchall()}
    assert held and held < kept and not held & taught and taught == kept - held
    # the funnel shows each gate's drops, the hold-out and the average tool calls
    cols, rows = run_query(con, "synthesis_funnel")
    reasons = {r[cols.index("reason")] for r in rows}
    assert {"solved_no_tool", "solved_one_image_search", "solved_one_text_search"} <= reasons
    assert ("rl_holdout", len(held)) in {(r[cols.index("step")], r[cols.index("n")]) for r in rows}
    # a second run redoes nothing and duplicates nothing
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone() for t in
              ("difficulty_verdicts", "filter_outcomes", "rl_holdout", "trajectories", "trajectory_turns")}
    again_f, again_s = run_stages(con, tmp_path)
    assert again_f == {} and again_s == {}
    assert counts == {t: con.execute(f"SELECT count(*) FROM {t}").fetchone() for t in counts}
