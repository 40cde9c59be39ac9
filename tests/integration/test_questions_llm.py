"""The online question model through the real ``openai`` client against a scripted server on 127.0.0.1:
valid answers, malformed answers (rejects keeping the raw text), server errors, and the call memo."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from schemas.run_config import QuestionsConfig
from schemas.settings import Settings
from tasks.questions.stage import question_all, text_index
from tests.factories import ingest_and_sample, small_sampling, small_world
from tests.fakes.openai_server import OpenAIServer, Reply
from warehouse.db import Connection

SECRET = "sk-test-secret-never-logged"


def good(answer: str) -> Callable[[list[dict[str, Any]]], Reply]:
    def respond(messages: list[dict[str, Any]]) -> Reply:
        text = messages[-1]["content"]
        if '{"question"' in text:
            return Reply(json.dumps({"question": re.search(r"<draft>(.*?)</draft>", text, re.S).group(1)}))  # type: ignore[union-attr]
        if '{"candidates"' in text:
            return Reply("```json\n" + json.dumps({"candidates": ["the municipality with a famous mayor",
                                                                  "the seat of government"]}) + "\n```")
        if '{"unique"' in text:
            return Reply(json.dumps({"unique": True, "other_candidates": []}))
        if '{"answer"' in text:
            return Reply(json.dumps({"answer": answer}))
        if '"n_consistent"' in text:
            return Reply(json.dumps({"answers": [answer], "n_consistent": 1}))
        return Reply("?", status=400)
    return respond


def run_stage(con: Connection, tmp_path: Path, server: OpenAIServer) -> dict[str, int]:
    # five pages: any whole-question search ranks every page top-3, so the chain-shortcut gate is off here and
    # a descriptor is self-sufficient only at rank 1 (tests/integration/test_questions_relational.py)
    cfg = QuestionsConfig(model="scripted-model", obfuscation_p=0.0, alone_k=1, chain_shortcut_gate=False)
    settings = Settings(llm_base_url=server.base_url, llm_api_key=SecretStr(SECRET), llm_timeout_s=5)
    counts = question_all(con, cfg, "run-q", tmp_path, settings, text_index)
    return {f"{o}:{r}": n for (o, r), n in counts.items()}


@pytest.fixture
def world(tmp_path: Path, warehouse: Connection) -> tuple[Connection, str]:
    src, _ = small_world(tmp_path)
    ingest_and_sample(warehouse, tmp_path, src, small_sampling())
    rows = warehouse.execute("SELECT answer FROM paths").fetchall()
    assert len(rows) == 1
    return warehouse, str(rows[0][0])


def test_valid_answers_make_an_accepted_item_and_a_rerun_sends_nothing(world: tuple[Connection, str],
                                                                      tmp_path: Path) -> None:
    con, answer = world
    with OpenAIServer(good(answer)) as server:
        assert run_stage(con, tmp_path, server) == {"kept:accepted": 1}
        sent = len(server.requests)
        assert sent >= 5 and all(r["model"] == "scripted-model" for r in server.requests)
        con.execute("DELETE FROM question_items")          # force a redo: every call is served by the memo
        assert run_stage(con, tmp_path, server) == {"kept:accepted": 1}
        assert len(server.requests) == sent
    row = con.execute("SELECT method, prompts, question FROM question_items").fetchall()[0]
    assert row[0] == "llm:scripted-model"
    assert set(json.loads(row[1])) >= {"questions/canonical.j2", "questions/propose.j2", "questions/unique.j2"}
    assert "the seat of government" in row[2] or "municipality" in row[2]
    dump = json.dumps(con.execute("SELECT * FROM llm_calls").fetchall(), default=str)
    assert SECRET not in dump


def test_malformed_answer_becomes_a_reject_with_the_raw_text(world: tuple[Connection, str], tmp_path: Path) -> None:
    con, _ = world
    with OpenAIServer(lambda m: Reply("Sure! The question is: what is the mayor?")) as server:
        assert run_stage(con, tmp_path, server) == {"dropped:canonical:malformed_model_output": 1}
    reason, detail = con.execute("SELECT reason, detail FROM rejects WHERE stage = 'questions'").fetchall()[0]
    assert reason == "canonical:malformed_model_output"
    assert "Sure! The question is" in detail


def test_server_errors_are_retried_boundedly_then_rejected(world: tuple[Connection, str], tmp_path: Path) -> None:
    con, _ = world
    with OpenAIServer(lambda m: Reply(status=500)) as server:
        assert run_stage(con, tmp_path, server) == {"dropped:canonical:model_error_http_500": 1}
        assert len(server.requests) == 4                      # one call + 3 retries, then give up
    err = con.execute("SELECT error FROM llm_calls").fetchall()[0][0]
    assert err.startswith("http_500")


def test_retry_after_is_honoured_then_the_call_succeeds(world: tuple[Connection, str], tmp_path: Path) -> None:
    con, answer = world
    inner = good(answer)
    state = {"n": 0}

    def flaky(messages: list[dict[str, Any]]) -> Reply:
        state["n"] += 1
        return Reply(status=429, retry_after=0.2) if state["n"] == 1 else inner(messages)

    with OpenAIServer(flaky) as server:
        assert run_stage(con, tmp_path, server) == {"kept:accepted": 1}
        assert server.statuses[0] == 429


def test_online_model_without_endpoint_is_a_config_error(world: tuple[Connection, str], tmp_path: Path) -> None:
    from schemas.errors import ConfigError

    con, _ = world
    with pytest.raises(ConfigError, match="SEARCHVL_LLM_BASE_URL"):
        question_all(con, QuestionsConfig(model="gpt-x"), "r", tmp_path, Settings(llm_base_url=None), text_index)
