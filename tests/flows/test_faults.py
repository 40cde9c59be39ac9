"""``searchvl run`` against a model endpoint that fails on 20% of requests (429 + Retry-After, 500, dropped
connections, replies past the client timeout, truncated JSON bodies, tool calls with wrongly typed
arguments): the run completes, every failure is a row with its reason, retries are bounded, and nothing
accepted or exported rests on a failed call. The server's fault log is compared with the warehouse."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest

from tasks.teacher.client import body_key
from tests.fakes import pipeline_run as pr
from tests.fakes.openai_server import Event, OpenAIServer
from tests.fakes.scripted_teacher import bad_tool_call, pipeline_responder

TEACHER_RETRIES = 1          # teacher, solver and judges: 2 attempts per call, so some calls fail for good
QUESTION_RETRIES = 3         # the question stage client's default
#: the client's failure reason for the last fault a call got
REASON = {"429": "http_429", "500": "http_500", "drop": "connection", "timeout": "timeout",
          "truncated": "bad_response"}


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_run_with_20_percent_faults_completes_with_failures_as_rows(tmp_path: Path) -> None:
    cfg = pr.write_config(tmp_path, timeout_s=1.0, max_retries=TEACHER_RETRIES, concurrency=1)
    data = tmp_path / "var"
    with OpenAIServer(pipeline_responder(), fault_rate=0.2, fault_seed=11, fault_delay_s=2.0,
                      fail_retry_after=0.05, bad_tool_call=bad_tool_call) as server:
        proc = pr.start(cfg, data, server.base_url, llm_timeout_s=1.0)
        out, _ = proc.communicate(timeout=360)
        assert proc.returncode == 0, out.decode()[-4000:]
        bodies = {}
        for body in server.requests:
            bodies[body_key(body)] = body
        events: dict[str, list[Event]] = defaultdict(list)
        for e in sorted(server.events, key=lambda e: e.received):    # a late (timed-out) reply is logged late
            events[e.body_hash].append(e)
        kinds = Counter(f.kind for f in server.faults)
    db = data / "warehouse.duckdb"
    assert set(kinds) == {"429", "500", "drop", "timeout", "truncated", "bad_tool_args"}, kinds
    calls = {str(h): (purpose, reason, error, response, attempts) for h, purpose, reason, error, response, attempts
             in pr.read(db, "SELECT request_hash, purpose, error_reason, error, response, attempts FROM llm_calls")}

    # retries are bounded; a completed call is never sent again; every call is one row under its body's key
    failed_bodies = set()
    for key, seq in events.items():
        body = bodies[key]
        question_stage = body["model"] == "scripted-llm"
        bound = (QUESTION_RETRIES if question_stage else TEACHER_RETRIES) + 1
        failing = [e for e in seq if e.fault in REASON]
        # an identical request may come again only after a call that failed for good (bound failures in a row)
        assert all(e.fault in REASON for e in seq[:-1]), (body["model"], [e.fault for e in seq])
        rows = [calls[k] for k in pr.request_hashes(body) if k in calls]
        assert len(rows) == 1, key
        _, reason, error, response, attempts = rows[0]
        last = seq[-1]
        if last.fault in REASON:            # the last call failed for good: a row with the last failure's reason
            assert len(failing) % bound == 0
            assert reason == REASON[str(last.fault)] and error and error.startswith(reason), (reason, error)
            failed_bodies.add(key)
        else:                               # completed: its row holds the reply, after < bound failures
            assert error is None and reason is None and response is not None
            assert question_stage or attempts == len(failing) % bound + 1 <= bound
    failed_rows = [r for r in calls.values() if r[2] is not None]
    assert len(failed_rows) == len(failed_bodies)           # no error row the server does not explain

    # each failed call is also the reason on the row of the unit it broke
    teacher_failed = Counter(r[0] for r in failed_rows if r[0])
    question_failed = [r[1] for r in failed_rows if not r[0]]
    q_rejects = [str(r[0]) for r in pr.read(db, "SELECT reason FROM rejects WHERE stage = 'questions'")]
    for reason in question_failed:
        assert any(r.endswith(f"model_error_{reason}") for r in q_rejects), (reason, q_rejects)
    if teacher_failed["teacher"]:
        (n,) = pr.read(db, "SELECT count(*) FROM trajectories WHERE finish_reason LIKE 'llm_error:%'")[0]
        assert n >= 1
    if teacher_failed["solver"]:
        (n,) = pr.read(db, "SELECT count(*) FROM difficulty_verdicts WHERE error IS NOT NULL")[0]
        assert n >= 1

    # a tool call with wrongly typed arguments is an error observation in the trajectory, not a crash
    bad_replies = sum(1 for r in calls.values() if r[3] and '"q": 12345' in r[3])
    (bad_turns,) = pr.read(db, "SELECT count(*) FROM trajectory_turns WHERE tool = 'text_search'"
                               " AND error = 'bad_arguments'")[0]
    assert bad_replies >= 1 and bad_turns == bad_replies

    # nothing accepted or exported rests on a failed call
    completed_teacher = {str(r[3]) for r in calls.values() if r[0] == "teacher" and r[2] is None}
    accepted = pr.read(db, "SELECT t.trajectory_id, t.finish_reason FROM accepted_trajectories t")
    assert accepted and all(f == "answered" for _, f in accepted)
    turns = pr.read(db, "SELECT u.content FROM trajectory_turns u JOIN accepted_trajectories t USING"
                        " (trajectory_id) WHERE u.role = 'assistant'")
    assert turns and all(str(c) in completed_teacher for (c,) in turns)
    exported = pr.read(db, "SELECT e.row_id, t.trajectory_id FROM export_rows e LEFT JOIN accepted_trajectories t"
                           " ON t.trajectory_id = e.row_id WHERE e.config = 'sft'")
    assert exported and all(t is not None for _, t in exported)
    judged_badly = pr.read(db, "SELECT count(*) FROM export_rows e JOIN trajectories t ON t.trajectory_id = e.row_id"
                               " WHERE t.finish_reason LIKE 'llm_error:%'")
    assert judged_badly == [(0,)]
    assert pr.duplicate_keys(db) == dict.fromkeys(pr.KEYS, 0)
