"""The asynchronous teacher client through the real ``openai`` client against a scripted server on
127.0.0.1: text and tool-call replies, malformed tool JSON, 429 + Retry-After (seconds and HTTP date),
500s, permanent 400s, timeouts, the warehouse memo (hits send nothing; a SIGKILLed run resumes without
re-sending completed calls), a 20 % failure rate at concurrency 8, and the budget cap."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from schemas.errors import ConfigError
from schemas.settings import Settings
from schemas.teacher import CallRow, ConcurrencyConfig, TeacherConfig, TokenPrice
from tasks.llm import LLMCallError
from tasks.teacher.client import TeacherClient, body_key, image_part, teacher_from_settings, text_part
from tasks.teacher.cost import BudgetExhausted, CostLedger
from tests.fakes.openai_server import OpenAIServer, Reply
from toolenv.errors import ErrorKind
from toolenv.protocol import ProtocolError, ToolCall, parse_turn
from warehouse.db import Connection, connect
from warehouse.llm_calls import WarehouseMemo

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-teacher-secret-never-stored"
CFG = TeacherConfig(model="scripted-model", temperature=0.0, max_tokens=64, timeout_s=5, max_retries=3,
                    backoff_base_s=0.01, backoff_max_s=0.05)
USER = [{"role": "user", "content": "hello"}]


def client_for(server: OpenAIServer, con: Connection | None = None, cfg: TeacherConfig = CFG,
               ledger: CostLedger | None = None) -> TeacherClient:
    return TeacherClient(server.base_url, SecretStr(SECRET), cfg, memo=WarehouseMemo(con) if con else None,
                         ledger=ledger, run_id="run-t")


def chat_once(server: OpenAIServer, con: Connection | None = None, cfg: TeacherConfig = CFG,
              **kwargs: Any) -> Any:
    async def main() -> Any:
        async with client_for(server, con, cfg) as client:
            return await client.chat(kwargs.pop("messages", USER), purpose="teacher", **kwargs)
    return asyncio.run(main())


def scripted(*replies: Reply) -> Callable[[list[dict[str, Any]]], Reply]:
    """Replies in order; the last one repeats."""
    queue = list(replies)

    def respond(messages: list[dict[str, Any]]) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]
    return respond


def test_text_reply_is_returned_and_memoised(warehouse: Connection) -> None:
    with OpenAIServer() as server:
        res = chat_once(server, warehouse, template="synthesize/system.j2", template_hash="abc123")
    assert (res.text, res.finish_reason, res.prompt_tokens, res.completion_tokens) == ("echo: hello", "stop", 10, 5)
    assert not res.cached and res.attempts == 1 and res.latency_ms > 0
    row = warehouse.execute("SELECT request_hash, model, purpose, template, template_hash, response, attempts,"
                            " run_id, error FROM llm_calls").fetchall()
    assert row == [(res.request_hash, "scripted-model", "teacher", "synthesize/system.j2", "abc123",
                    "echo: hello", 1, "run-t", None)]
    assert res.request_hash == body_key(server.requests[0])     # the memo key is the hash of the body sent
    assert SECRET not in json.dumps(warehouse.execute("SELECT * FROM llm_calls").fetchall(), default=str)


def test_tool_calls_are_folded_into_the_text_and_tools_passed_through() -> None:
    tools = [{"type": "function", "function": {"name": "image_search", "parameters": {"type": "object"}}}]
    reply = Reply("<think>search the image</think>", tool_calls=(("image_search", '{"image_id": "img_0"}'),))
    with OpenAIServer(lambda m: reply) as server:
        res = chat_once(server, tools=tools)
        assert server.requests[0]["tools"] == tools
    assert res.finish_reason == "tool_calls"
    assert res.text == ('<think>search the image</think>\n'
                        '<tool_call>{"name": "image_search", "arguments": {"image_id": "img_0"}}</tool_call>')
    assert parse_turn(res.text) == ToolCall("image_search", {"image_id": "img_0"}, "search the image")


def test_malformed_tool_json_is_kept_raw_for_the_parser_to_flag() -> None:
    reply = Reply("<think>x</think>", tool_calls=(("text_search", '{"q": "Irwin", top_k: 3'),))
    with OpenAIServer(lambda m: reply) as server:
        res = chat_once(server)
    assert '{"q": "Irwin", top_k: 3' in res.text
    turn = parse_turn(res.text)
    assert isinstance(turn, ProtocolError) and turn.kind is ErrorKind.MALFORMED_JSON


def test_multimodal_messages_carry_images_as_data_urls() -> None:
    png = b"\x89PNG\r\n\x1a\nfake"
    messages = [{"role": "user", "content": [text_part("what is this?"), image_part(png)]}]
    with OpenAIServer() as server:
        res = chat_once(server, messages=messages)
        sent = server.requests[0]["messages"][0]["content"]
    assert res.text == "echo: what is this?"
    assert sent[1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgpmYWtl"}}


def test_429_retry_after_seconds_is_honoured_as_a_lower_bound(warehouse: Connection) -> None:
    with OpenAIServer(scripted(Reply(status=429, retry_after=0.4), Reply("ok"))) as server:
        res = chat_once(server, warehouse)
        first, second = server.events
    assert res.text == "ok" and res.attempts == 2
    assert (first.status, second.status) == (429, 200) and first.body_hash == second.body_hash
    assert second.received - first.responded >= 0.4


def test_429_retry_after_http_date_is_honoured() -> None:
    arrivals: list[float] = []
    not_before = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)

    def respond(messages: list[dict[str, Any]]) -> Reply:
        arrivals.append(time.time())
        if len(arrivals) == 1:
            return Reply(status=429, retry_after=format_datetime(not_before, usegmt=True))
        return Reply("ok")

    with OpenAIServer(respond) as server:
        assert chat_once(server).text == "ok"
    assert len(arrivals) == 2 and arrivals[1] >= not_before.timestamp()


def test_a_retry_after_beyond_the_maximum_fails_at_once() -> None:
    cfg = CFG.model_copy(update={"max_retry_after_s": 1.0})
    with OpenAIServer(lambda m: Reply(status=429, retry_after=600)) as server:
        with pytest.raises(LLMCallError) as info:
            chat_once(server, cfg=cfg)
        assert len(server.requests) == 1
    assert info.value.reason == "http_429" and "max_retry_after_s" in info.value.detail


def test_500_is_retried_then_succeeds() -> None:
    with OpenAIServer(scripted(Reply(status=500), Reply(status=503), Reply("ok"))) as server:
        res = chat_once(server)
        assert server.statuses == [500, 503, 200]
    assert res.text == "ok" and res.attempts == 3


def test_permanent_400_is_not_retried_and_leaves_an_error_row(warehouse: Connection) -> None:
    with OpenAIServer(lambda m: Reply(status=400)) as server:
        with pytest.raises(LLMCallError) as info:
            chat_once(server, warehouse)
        assert len(server.requests) == 1
    assert info.value.reason == "http_400"
    assert warehouse.execute("SELECT error_reason, attempts, response FROM llm_calls").fetchall() == [
        ("http_400", 1, None)]


def test_slow_response_times_out_after_bounded_retries(warehouse: Connection) -> None:
    cfg = CFG.model_copy(update={"timeout_s": 0.3, "max_retries": 1})
    with OpenAIServer(lambda m: Reply("late", delay_s=1.5)) as server:
        with pytest.raises(LLMCallError) as info:
            chat_once(server, warehouse, cfg=cfg)
        assert len(server.requests) == 2
    assert info.value.reason == "timeout"
    assert warehouse.execute("SELECT error_reason, attempts FROM llm_calls").fetchall() == [("timeout", 2)]


def test_memo_hit_sends_nothing_and_a_failed_call_is_retried_on_rerun(warehouse: Connection) -> None:
    with OpenAIServer(scripted(Reply(status=400), Reply("fine"))) as server:
        with pytest.raises(LLMCallError):
            chat_once(server, warehouse)                       # error row: not served, retried next run
        first = chat_once(server, warehouse)
        again = chat_once(server, warehouse)                   # a new client over the same warehouse
        assert len(server.requests) == 2

        async def twins() -> list[Any]:                       # identical calls in flight: sent once
            async with client_for(server, warehouse) as client:
                msgs = [{"role": "user", "content": "twin"}]
                return list(await asyncio.gather(*(client.chat(msgs, purpose="judge") for _ in range(3))))

        results = asyncio.run(twins())
        assert len(server.requests) == 3
    assert first.text == again.text == "fine" and not first.cached and again.cached and again.cost_usd == 0
    assert sorted(r.cached for r in results) == [False, True, True]
    assert warehouse.execute("SELECT count(*), count(DISTINCT request_hash) FROM llm_calls").fetchall() == [(2, 2)]


def test_twenty_percent_failures_finish_with_rows_reasons_and_bounded_honoured_retries(
        warehouse: Connection) -> None:
    cfg = CFG.model_copy(update={"concurrency": ConcurrencyConfig(initial=8, max=8, grow_after=4)})

    def respond(messages: list[dict[str, Any]]) -> Reply:
        text = messages[-1]["content"]
        return Reply(status=500) if text.startswith("doomed") else Reply(f"answer to {text}")

    prompts = [f"item {i}" for i in range(50)] + [f"doomed {i}" for i in range(3)]
    with OpenAIServer(respond, latency_s=0.02, fail_rate=0.2, seed=7, fail_retry_after=0.1) as server:
        async def main() -> list[Any]:
            async with client_for(server, warehouse, cfg) as client:
                return list(await asyncio.gather(
                    *(client.chat([{"role": "user", "content": p}], purpose="teacher") for p in prompts),
                    return_exceptions=True))

        results = asyncio.run(main())
        events, counts, peak = list(server.events), dict(server.body_counts), server.peak_in_flight

    assert all(isinstance(r, LLMCallError) or r.text == f"answer to {p}" for r, p in zip(results, prompts, strict=True))
    assert all(isinstance(r, LLMCallError) and r.reason in ("http_500", "http_429") for r in results[50:])
    assert sum(e.status in (429, 500) for e in events) > 10                    # the failures really happened
    assert max(counts.values()) <= cfg.max_retries + 1 and peak <= 8
    rows = warehouse.execute("SELECT request_hash, response, error_reason, attempts FROM llm_calls").fetchall()
    assert len(rows) == len(prompts) == len({r[0] for r in rows})
    by_key = {r.request_hash: r for r in results if not isinstance(r, BaseException)}
    for key, response, reason, attempts in rows:
        assert 1 <= attempts <= cfg.max_retries + 1 and attempts == counts[key]
        assert (response is not None and reason is None) if key in by_key else reason in ("http_500", "http_429")
    assert sum(1 for r in rows if r[2]) == sum(isinstance(r, LLMCallError) for r in results)
    for key in counts:                                                          # backoff honoured, per call
        mine = sorted((e for e in events if e.body_hash == key), key=lambda e: e.received)
        for prev, nxt in zip(mine, mine[1:], strict=False):
            assert nxt.received - prev.responded >= (prev.retry_after or 0.0)


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_resends_no_completed_call(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    cmd = [sys.executable, "-m", "tests.fakes.teacher_driver"]
    with OpenAIServer(latency_s=0.2) as server:
        proc = subprocess.Popen([*cmd, server.base_url, str(db), "40", "4"], cwd=ROOT, stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout is not None
        done = 0
        while done < 12:
            line = proc.stdout.readline()
            assert line, "driver ended before it could be killed"
            done += line.startswith("done")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        with connect(db) as con:
            completed = {k for (k,) in con.execute("SELECT request_hash FROM llm_calls WHERE error IS NULL").fetchall()}
        assert 12 <= len(completed) < 40
        rerun = subprocess.run([*cmd, server.base_url, str(db), "40", "4"], cwd=ROOT, capture_output=True,
                               text=True, timeout=120, check=True)
        assert rerun.stdout.strip().endswith("finished")
        counts = dict(server.body_counts)
    assert all(counts[k] == 1 for k in completed)                # zero repeated requests for completed calls
    with connect(db) as con:
        keys = con.execute("SELECT request_hash FROM llm_calls WHERE error IS NULL").fetchall()
        failed = con.execute("SELECT request_hash, error_reason, error FROM llm_calls WHERE error IS NOT NULL"
                             ).fetchall()
        assert con.execute("SELECT count(*), count(DISTINCT request_hash) FROM llm_calls").fetchall() == [(40, 40)]
    assert not failed, f"calls still failing after the rerun: {failed}"
    assert {k for (k,) in keys} == set(counts)                   # every body sent is one memo row


def test_budget_cap_stops_the_batch_and_a_higher_cap_finishes_it(warehouse: Connection) -> None:
    price = {"scripted-model": TokenPrice(input_per_mtok=12_500, output_per_mtok=25_000)}   # $0.25 a call
    cfg = CFG.model_copy(update={"prices": price})

    async def run(cap: float) -> tuple[list[Any], CostLedger]:
        ledger = CostLedger.from_config(cfg.model_copy(update={"budget_usd": cap}))
        out: list[Any] = []
        async with client_for(server, warehouse, cfg, ledger) as client:
            for i in range(10):
                try:
                    out.append(await client.chat([{"role": "user", "content": f"q{i}"}], purpose="teacher"))
                except BudgetExhausted:
                    break
        return out, ledger

    with OpenAIServer() as server:
        first, ledger1 = asyncio.run(run(1.0))
        assert len(first) == 4 and ledger1.spent_usd == 1.0 and len(server.requests) == 4
        assert [r.cost_usd for r in first] == [0.25] * 4
        second, ledger2 = asyncio.run(run(10.0))
        assert len(second) == 10 and len(server.requests) == 10 and set(server.body_counts.values()) == {1}
    assert [r.cached for r in second] == [True] * 4 + [False] * 6
    assert ledger2.spent_usd == 1.5                              # memo hits cost nothing
    assert warehouse.execute("SELECT sum(cost_usd), count(*) FROM llm_calls").fetchall() == [(2.5, 10)]


def test_budget_cap_under_concurrency_overshoots_by_at_most_the_calls_in_flight(warehouse: Connection) -> None:
    price = {"scripted-model": TokenPrice(input_per_mtok=12_500, output_per_mtok=25_000)}
    cfg = CFG.model_copy(update={"prices": price, "budget_usd": 1.0,
                                 "concurrency": ConcurrencyConfig(initial=3, max=3)})
    with OpenAIServer(latency_s=0.05) as server:
        async def main() -> tuple[list[Any], float]:
            ledger = CostLedger.from_config(cfg)
            async with client_for(server, warehouse, cfg, ledger) as client:
                got = await asyncio.gather(*(client.chat([{"role": "user", "content": f"c{i}"}], purpose="t")
                                             for i in range(12)), return_exceptions=True)
            return list(got), ledger.spent_usd

        results, spent = asyncio.run(main())
    stopped = [r for r in results if isinstance(r, BudgetExhausted)]
    assert stopped and all(isinstance(r, BudgetExhausted) or r.text for r in results)
    assert 1.0 <= spent <= 1.0 + 2 * 0.25


def test_settings_supply_the_endpoint() -> None:
    with pytest.raises(ConfigError, match="SEARCHVL_TEACHER_BASE_URL"):
        teacher_from_settings(Settings(), CFG)
    with pytest.raises(ConfigError, match="offline"):
        teacher_from_settings(Settings(teacher_base_url="http://127.0.0.1:9/v1"), TeacherConfig())
    with OpenAIServer() as server:
        settings = Settings(teacher_base_url=server.base_url, teacher_api_key=SecretStr(SECRET))

        async def main() -> str:
            async with teacher_from_settings(settings, CFG) as client:
                return (await client.chat(USER, purpose="teacher")).text
        assert asyncio.run(main()) == "echo: hello"
    assert SECRET not in repr(settings)


def test_call_row_matches_the_llm_calls_table(warehouse: Connection) -> None:
    columns = {r[0] for r in warehouse.execute("DESCRIBE llm_calls").fetchall()}
    assert columns == {f.name for f in fields(CallRow)}


def test_warehouse_memo_upserts_groups_and_serves_only_completed_rows(warehouse: Connection) -> None:
    memo = WarehouseMemo(warehouse)
    at = datetime(2026, 1, 1, 12, tzinfo=UTC)
    ok = CallRow("k1", "m", "teacher", "t.j2", "h", "text", "stop", None, None, 3, 4, 5.0, 0.5, 1, "r", at)
    bad = CallRow("k2", "m", "judge", "", "", None, None, "timeout", "timeout: slow", None, None, None, 0.0, 3, "r", at)
    assert memo.lookup("k1") is None
    memo.record_many([bad, ok, bad])                                 # duplicates in a group: the last wins
    got = memo.lookup("k1")
    assert got is not None
    assert (got.response, got.cost_usd, got.purpose) == ("text", 0.5, "teacher")
    assert got.created_at == datetime(2026, 1, 1, 12)                # stored as naive UTC
    assert memo.lookup("k2") is None                                 # errors are stored, never served
    memo.record(CallRow("k2", "m", "judge", "", "", "late", "stop", None, None, 1, 1, 1.0, 0.0, 1, "r2", at))
    assert memo.lookup("k2") is not None                             # a later success replaces the error row
    assert warehouse.execute("SELECT request_hash, error_reason, run_id FROM llm_calls ORDER BY 1").fetchall() == [
        ("k1", None, "r"), ("k2", None, "r2")]
    assert WarehouseMemo(warehouse).get("k1") is not None            # the question stage reads the same rows
