"""The filter and synthesis stages with the search tools on remote APIs (``Settings``: Serper-style search,
Jina-style reader, Lens-style image search) served by a real HTTP fake on 127.0.0.1 that answers from the
warehouse's own indexes and injects seeded faults (429, 500, dropped connections, slow replies past the
client timeout, truncated JSON): the stages complete, failed calls become error turns and are never
memoised, and the API key shows up nowhere."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from schemas.settings import Settings
from tasks.tooling import build_tool_env, load_indexes, text_documents
from tests.factories import corpus_through_pool, corpus_through_synthesis
from tests.fakes.search_api import FAULT_KINDS, SearchAPIServer
from toolenv import EpisodeItem, ErrorKind, error_kind_of
from warehouse import tool_calls as tool_repo
from warehouse.db import Connection

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "flows/configs/demo.yaml"
KEY = "sk-searchvl-fault-test-5e1d9a"        # distinctive, so "never appears" means something
TIMEOUT_S = 0.4


@pytest.fixture
def pooled(tmp_path: Path, warehouse: Connection) -> Connection:
    corpus_through_pool(warehouse, tmp_path, DEMO)
    return warehouse


def _server(con: Connection, data_dir: Path, **kw: object) -> SearchAPIServer:
    found = load_indexes(con, data_dir)
    pages = {d.url: d.text for d in text_documents(con)}
    return SearchAPIServer(found.text, found.image, pages=pages, api_key=KEY, **kw)  # type: ignore[arg-type]


def _settings(srv: SearchAPIServer, timeout_s: float = TIMEOUT_S) -> Settings:
    return Settings(search_api_url=srv.search_url, search_api_key=SecretStr(KEY), page_reader_url=srv.reader_url,
                    page_reader_api_key=SecretStr(KEY), image_search_url=srv.lens_url,
                    image_search_api_key=SecretStr(KEY), search_timeout_s=timeout_s)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def test_remote_backends_serve_the_tools(tmp_path: Path, pooled: Connection,
                                         logs: pytest.LogCaptureFixture) -> None:
    con = pooled
    row = tool_repo.image_rows(con, None)[0]
    image = (tmp_path / row.path).read_bytes()
    with _server(con, tmp_path) as srv:
        env = build_tool_env(con, tmp_path, settings=_settings(srv, 10.0), ocr=None)
        env.reset(EpisodeItem(question="Which page shows this image?", images=(image,), item_id="remote"))
        text = env.call("text_search", {"q": row.title})
        found = env.call("image_search", {"image": "img_1"})
    assert text.ok and not text.cached and f"Title: {row.title}" in text.content, text.content
    assert found.ok and '"visual_matches"' in found.content and row.title in found.content, found.content
    assert srv.counts["search"] == 1 and srv.counts["lens"] == 1 and srv.counts["reader"] >= 1
    assert srv.counts["unauthorized"] == 0 and not srv.faults
    assert ("search", row.title) in srv.served and any(r == "reader" for r, _ in srv.served)
    # the remote results are memoised under their own keys: the local index does not reuse them
    local = build_tool_env(con, tmp_path, ocr=None)
    local.reset(EpisodeItem(question="Which page shows this image?", images=(image,), item_id="local"))
    again = local.call("text_search", {"q": row.title})
    assert again.ok and not again.cached
    remote = build_tool_env(con, tmp_path, settings=_settings(srv, 10.0), ocr=None)
    remote.reset(EpisodeItem(question="Which page shows this image?", images=(image,), item_id="remote-2"))
    assert remote.call("text_search", {"q": row.title}).cached        # served from tool_calls, no request
    assert srv.counts["search"] == 1
    assert "remote search API" in logs.text and KEY not in logs.text


@pytest.mark.slow
def test_stages_survive_a_faulting_search_api(tmp_path: Path, pooled: Connection,
                                              logs: pytest.LogCaptureFixture) -> None:
    con = pooled
    with _server(con, tmp_path, fault_rate=0.2, fault_seed=7, slow_s=TIMEOUT_S + 0.4) as srv:
        filtered, made = corpus_through_synthesis(con, tmp_path, DEMO, _settings(srv))
    # the stages completed: every pool item got a filter outcome; synthesis ran on what was kept
    pool = con.execute("SELECT count(*) FROM pool_items").fetchone()
    assert pool is not None and sum(filtered.values()) == pool[0] > 0
    assert sum(made.values()) > 0, made
    # the remote backends served, with the key in the header, and faults were injected
    assert srv.counts["search"] > 0 and srv.counts["lens"] > 0 and srv.counts["reader"] > 0
    assert srv.counts["unauthorized"] == 0
    kinds = srv.fault_counts()
    assert srv.faults and set(kinds) <= set(FAULT_KINDS) and len(kinds) >= 3, kinds
    # failed calls that reached an episode are error turns with a backend/timeout kind ...
    turns = con.execute("SELECT tool, content, error, cached, arguments FROM trajectory_turns WHERE role = 'tool'"
                        ).fetchall()
    assert turns
    for _tool, content, error, cached, _args in turns:
        assert error_kind_of(content) == (ErrorKind(error) if error is not None else None), content
        assert not (error is not None and cached)
    failed = [(tool, content, error) for tool, content, error, _, _ in turns
              if error in (ErrorKind.BACKEND, ErrorKind.TIMEOUT) and tool in ("text_search", "image_search")]
    assert failed, "no injected fault reached a trajectory"
    assert all(("search API" in c or "timed out" in c) for _, c, _ in failed), failed
    # ... and only successes are memoised
    memo = con.execute("SELECT tool, response FROM tool_calls").fetchall()
    assert memo and all(error_kind_of(r) is None for _, r in memo)
    assert {t for t, _ in memo} >= {"text_search", "image_search"}
    # the key is nowhere: not in turns, not in the memo, not in the logs
    for table in ("trajectory_turns", "tool_calls", "trajectories"):
        def rows_with(needle: str, table: str = table) -> int:
            found = con.execute(f"SELECT count(*) FROM {table} t WHERE contains(CAST(t AS VARCHAR), ?)",
                                [needle]).fetchone()
            assert found is not None
            return int(found[0])
        assert rows_with("search") > 0 and rows_with(KEY) == 0, table     # the whole row is searched
    assert "remote search API" in logs.text and KEY not in logs.text
    # accepted trajectories exist, or every rejection has a reason
    accepted = con.execute("SELECT count(*) FROM accepted_trajectories").fetchone()
    unexplained = con.execute("SELECT count(*) FROM trajectories WHERE status = 'rejected' AND reject_reason IS NULL"
                              ).fetchone()
    assert (accepted is not None and accepted[0] > 0) or unexplained == (0,)
