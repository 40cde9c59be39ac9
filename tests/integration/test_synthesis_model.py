"""The filter and synthesis stages with model-backed solver, teacher and judges: the real ``TeacherClient``
(openai client) against a scripted OpenAI-compatible server on 127.0.0.1, on the bundled corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from schemas.settings import Settings
from schemas.synthesis import FilterConfig, SynthesisConfig
from schemas.teacher import TeacherConfig, TokenPrice
from tasks.filter.stage import filter_hash, filter_pool
from tasks.synthesize.models import filter_models, synthesis_models
from tasks.synthesize.stage import synthesize_pool
from tasks.tooling import build_tool_env, load_indexes
from tests.factories import corpus_through_pool
from tests.fakes.openai_server import OpenAIServer
from tests.fakes.scripted_teacher import responder
from warehouse.db import Connection

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-test-do-not-log-0123456789"


@pytest.fixture
def pooled(tmp_path: Path, warehouse: Connection) -> dict[str, str]:
    corpus_through_pool(warehouse, tmp_path, ROOT / "flows/configs/demo.yaml")
    return {str(q): str(a) for q, a in warehouse.execute("SELECT question, answer FROM pool_items").fetchall()}


def run(con: Connection, data_dir: Path, server: OpenAIServer, teacher: TeacherConfig, run_id: str
        ) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    settings = Settings(teacher_base_url=server.base_url, teacher_api_key=SecretStr(SECRET))
    fcfg = FilterConfig(solver="scripted-solver")
    scfg = SynthesisConfig(rollouts=3, judge_model="scripted-judge")
    fm = filter_models(con, settings, teacher, fcfg, scfg.judge_model, run_id)
    filtered = filter_pool(con, fcfg, run_id, data_dir, build_tool_env(con, data_dir), fm.make_solver, fm.judge,
                           concurrency=4, close=fm.close)
    indexes = load_indexes(con, data_dir)
    models = synthesis_models(con, settings, teacher, scfg, run_id)
    made = synthesize_pool(con, scfg, run_id, data_dir, filter_hash(fcfg),
                           lambda: build_tool_env(con, data_dir, indexes=indexes), models, concurrency=4)
    return dict(filtered), dict(made)


def fast(**over: Any) -> TeacherConfig:
    return TeacherConfig(model="scripted-teacher", timeout_s=5, backoff_base_s=0.01, backoff_max_s=0.05, **over)


def test_model_teacher_and_judges_end_to_end_and_memoised(tmp_path: Path, warehouse: Connection,
                                                           pooled: dict[str, str]) -> None:
    with OpenAIServer(responder(pooled)) as server:
        filtered, made = run(warehouse, tmp_path, server, fast(), "run-1")
        assert filtered == {("kept", "passed_all_gates"): len(pooled)}         # the solver never knew
        accepted = warehouse.execute("SELECT teacher, answer_judge, process_judge, tool_calls, process_score, item_id"
                                     " FROM accepted_trajectories").fetchall()
        # the scripted teacher answers only what its search showed (grounding rules): items whose search did
        # not show the answer are rejected; the others keep 2 of 3 rollouts (keep_per_item)
        per_item = {a[5]: sum(b[5] == a[5] for b in accepted) for a in accepted}
        assert per_item and set(per_item.values()) == {2}
        assert {a[:3] for a in accepted} == {("scripted-teacher", "scripted-judge", "scripted-judge")}
        assert made[("surplus", "over_keep_per_item")] == len(per_item)
        assert not {r for s, r in made if s == "rejected"} - {"answer_wrong", "hedged"}, made
        purposes = dict(warehouse.execute("SELECT purpose, count(*) FROM llm_calls GROUP BY 1").fetchall())
        assert {"teacher", "solver", "judge:answer", "judge:process"} <= set(purposes)
        sent = len(server.requests)
        # a rerun (new run id, same configs) re-sends nothing and writes nothing new
        again = run(warehouse, tmp_path, server, fast(), "run-2")
        assert again == ({}, {}) and len(server.requests) == sent
        # the API key is in no row
        dump = warehouse.execute("SELECT string_agg(coalesce(response, '') || coalesce(error, ''), '') FROM llm_calls"
                                 ).fetchone()
        assert dump is not None and SECRET not in dump[0]


def test_flaky_endpoint_run_finishes_with_failures_as_rows(tmp_path: Path, warehouse: Connection,
                                                            pooled: dict[str, str]) -> None:
    with OpenAIServer(responder(pooled), fail_rate=0.2, seed=7, fail_retry_after=0.05) as server:
        filtered, made = run(warehouse, tmp_path, server, fast(max_retries=1), "run-flaky")
        assert sum(filtered.values()) == len(pooled)
        assert sum(made.values()) > 0
        failed_calls = warehouse.execute("SELECT count(*) FROM llm_calls WHERE error IS NOT NULL").fetchone()
        failed_rows = warehouse.execute(
            "SELECT (SELECT count(*) FROM filter_outcomes WHERE status = 'failed')"
            " + (SELECT count(*) FROM trajectories WHERE finish_reason LIKE 'llm_error:%')").fetchone()
        assert failed_calls is not None and failed_rows is not None
        assert failed_calls[0] > 0 and failed_rows[0] > 0                       # failures are rows with reasons
        attempts = warehouse.execute("SELECT max(attempts) FROM llm_calls").fetchone()
        assert attempts is not None and attempts[0] <= 2                        # bounded: 1 try + 1 retry per call
        events: dict[str, list[Any]] = {}
        for e in server.events:
            events.setdefault(e.body_hash, []).append(e)
        for seq in events.values():                                             # Retry-After honoured
            for before, after in zip(seq, seq[1:], strict=False):
                if before.status == 429 and before.retry_after:
                    assert after.received - before.responded >= before.retry_after - 0.005


def test_budget_cap_stops_cleanly_and_a_higher_cap_finishes(tmp_path: Path, warehouse: Connection,
                                                            pooled: dict[str, str]) -> None:
    prices = {"scripted": TokenPrice(input_per_mtok=1000.0, output_per_mtok=1000.0)}   # $0.015 per call
    with OpenAIServer(responder(pooled)) as server:
        _, made = run(warehouse, tmp_path, server, fast(budget_usd=0.2, prices=prices), "run-cap")
        assert made.get(("stopped", "budget")) == 1
        spent = warehouse.execute("SELECT sum(cost_usd) FROM llm_calls WHERE run_id = 'run-cap'").fetchone()
        assert spent is not None and 0.2 <= spent[0] <= 0.2 + 0.015 * 4           # in-flight calls may finish
        done = warehouse.execute("SELECT count(*) FROM synthesis_items").fetchone()
        assert done is not None and done[0] < len(pooled)
        _, rest = run(warehouse, tmp_path, server, fast(budget_usd=50.0, prices=prices), "run-more")
        assert ("stopped", "budget") not in rest
        finished = warehouse.execute("SELECT count(*) FROM synthesis_items").fetchone()
        assert finished == (len(pooled),)
