"""The tool environment over a real warehouse (the bundled corpus): search indexes built from the ingested
pages and images, the ``tool_calls`` memo, and ``searchvl tool`` through typer's ``CliRunner``."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from flows.cli import app
from schemas.pages import PageRecord
from schemas.run_config import IngestConfig, SourceConfig
from tasks.ingest.ingest import ingest_source
from tasks.tooling import (
    WarehouseToolCache,
    build_tool_env,
    load_indexes,
    load_uniqueness_index,
    page_url,
    text_documents,
)
from tests.factories import png_bytes
from toolenv import CachedResult, EnvConfig, EpisodeItem
from warehouse.db import Connection, connect, migrations
from warehouse.pages import upsert_pages
from warehouse.tool_calls import get_tool_call

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus" / "enwiki-sample"
runner = CliRunner()


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with the bundled corpus ingested and its search indexes saved (built once; tests work on
    copies)."""
    data_dir = tmp_path_factory.mktemp("corpus")
    src = SourceConfig(kind="xml", path=CORPUS / "pages.xml.bz2", media_dir=CORPUS / "media")
    with connect(data_dir / "warehouse.duckdb") as con:
        ingest_source(con, data_dir, src, IngestConfig(sources=[src], batch_pages=50), "run-test", workers=1)
        load_indexes(con, data_dir)
    return data_dir


@pytest.fixture
def data_dir(ingested: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(ingested, tmp_path / "data"))


def tool(data_dir: Path, *args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["tool", *args, "--data-dir", str(data_dir)])
    assert "Traceback" not in res.output
    return res.exit_code, res.output


def tool_call_rows(data_dir: Path) -> list[tuple[str | None, int]]:
    with connect(data_dir / "warehouse.duckdb") as con:
        return [(r[0], int(r[1])) for r in con.execute("SELECT tool, hits FROM tool_calls").fetchall()]


# ---------------------------------------------------------------- indexes
def test_documents_carry_url_lead_and_every_alias(data_dir: Path) -> None:
    with connect(data_dir / "warehouse.duckdb") as con:
        docs = {d.title: d for d in text_documents(con)}
    assert len(docs) == 68
    rand = docs["Ayn Rand"]
    assert rand.url == "https://en.wikipedia.org/wiki/Ayn_Rand"
    assert "AynRand" in rand.aliases                          # a redirect
    assert "Alisa Zinov'yevna Rosenbaum" in rand.aliases      # a bold lead / infobox name
    assert "Ayn Rand" not in rand.aliases
    assert rand.text.startswith("Ayn Rand")
    assert page_url("pt_brwiki", "São Paulo") == "https://pt-br.wikipedia.org/wiki/São_Paulo"


@pytest.mark.parametrize(("query", "title"), [("AynRand", "Ayn Rand"), ("Oscars", "Academy Awards"),
                                              ("Afro-asiatic languages", "Afroasiatic languages"),
                                              ("Astronomers and Astrophysicists", "Astronomer")])
def test_text_search_finds_pages_by_alias(data_dir: Path, query: str, title: str) -> None:
    with connect(data_dir / "warehouse.duckdb") as con:
        indexes = load_indexes(con, data_dir)
    assert title in [h.title for h in indexes.text.search(query, top_k=5)]


def test_page_body_written_with_the_page_equals_the_migration_fill(data_dir: Path) -> None:
    """``pages.body_text`` comes from ``warehouse.pages.page_body`` at ingest; migration 015 fills older rows in
    SQL: both must give every page the same text (the search documents quote it)."""
    migration = next(sql for v, _, sql in migrations() if v == 15)
    fill = migration[migration.index("UPDATE pages"):]
    with connect(data_dir / "warehouse.duckdb") as con:
        written = dict(con.execute("SELECT title, body_text FROM pages").fetchall())
        con.execute("UPDATE pages SET body_text = NULL")
        con.execute(fill)
        filled = dict(con.execute("SELECT title, body_text FROM pages").fetchall())
    assert sum(b is not None for b in written.values()) >= 60
    assert written == filled


def test_indexes_are_saved_and_rebuilt_only_when_the_warehouse_changes(data_dir: Path, tmp_path: Path) -> None:
    where = tmp_path / "indexes"
    with connect(data_dir / "warehouse.duckdb") as con:
        first = load_indexes(con, data_dir, index_dir=where)
        again = load_indexes(con, data_dir, index_dir=where)
        assert first.rebuilt == ("text", "image") and again.rebuilt == ()
        assert (again.text_path, again.text.fingerprint) == (first.text_path, first.text.fingerprint)
        assert len(again.image) == 7 and again.missing_image_files == 0
        upsert_pages(con, [PageRecord("enwiki", "Zyzzyva", 0, lead_text="Zyzzyva is a genus of weevils.")], "t")
        changed = load_indexes(con, data_dir, index_dir=where)
    assert changed.rebuilt == ("text",) and changed.image_path == first.image_path
    assert not first.text_path.exists(), "the stale text index is removed"
    assert changed.text.search("weevils genus", top_k=1)[0].title == "Zyzzyva"


def test_uniqueness_index_is_saved_shared_and_rebuilt_only_when_the_pages_change(data_dir: Path,
                                                                                  tmp_path: Path) -> None:
    where = tmp_path / "indexes"
    with connect(data_dir / "warehouse.duckdb") as con:
        first = load_uniqueness_index(con, data_dir, "enwiki", index_dir=where)
        (saved,) = where.glob("uniqueness-enwiki-*")
        mtime = saved.stat().st_mtime_ns
        again = load_uniqueness_index(con, data_dir, "enwiki", index_dir=where)
        assert again.fingerprint == first.fingerprint and saved.stat().st_mtime_ns == mtime, "opened, not rebuilt"
        assert again.search("Albania", top_k=1)[0].title == "Albania"
        upsert_pages(con, [PageRecord("enwiki", "Zyzzyva", 0, lead_text="Zyzzyva is a genus of weevils.")], "t")
        changed = load_uniqueness_index(con, data_dir, "enwiki", index_dir=where)
    assert changed.fingerprint != first.fingerprint and not saved.exists(), "the stale index is replaced"
    assert changed.search("weevils genus", top_k=1)[0].title == "Zyzzyva"


def test_image_search_finds_the_article_of_an_ingested_flag(data_dir: Path) -> None:
    flag = (CORPUS / "media" / "flag_of_albania.png").read_bytes()
    with connect(data_dir / "warehouse.duckdb") as con:
        env = build_tool_env(con, data_dir, EnvConfig(leakage_guard=False), ocr=None)
        env.reset(EpisodeItem("Which country?", (flag,)))
        obs = env.call("image_search", {"image": "img_1", "top_k": 3})
    assert obs.ok
    assert json.loads(obs.content.split("\n", 1)[1])["visual_matches"][0]["title"] == "Albania"


# ---------------------------------------------------------------- the memo
def test_warehouse_cache_is_reused_by_a_second_environment(data_dir: Path) -> None:
    with connect(data_dir / "warehouse.duckdb") as con:
        indexes = load_indexes(con, data_dir)
        envs = [build_tool_env(con, data_dir, EnvConfig(leakage_guard=False), ocr=None, indexes=indexes)
                for _ in range(2)]
        observations = []
        for env in envs:                       # two "runs"
            env.reset(EpisodeItem("q"))
            observations.append(env.call("text_search", {"q": "Aristotle teacher of Alexander"}))
            bad = env.call("text_search", {"q": ""})          # an error: never cached
            assert not bad.ok
        assert [o.cached for o in observations] == [False, True]
        assert observations[0].content == observations[1].content
        assert con.execute("SELECT count(*), max(hits) FROM tool_calls").fetchall() == [(1, 1)]


def test_cache_round_trips_images_and_a_read_only_cache_writes_nothing(warehouse: Connection) -> None:
    cache = WarehouseToolCache(warehouse, tool="crop")
    result = CachedResult("New image: img_2", (png_bytes(3, 2), png_bytes(1, 1, (0, 0, 0))), dropped_by_guard=2)
    assert cache.get("k") is None
    cache.put("k", result, 12.5)
    cache.put("k", CachedResult("other"), 1.0)             # the first entry for a hash wins
    assert cache.get("k") == result
    entry = get_tool_call(warehouse, "k", count_hit=False)
    assert entry is not None and (entry.tool, entry.hits, entry.latency_ms) == ("crop", 1, 12.5)
    frozen = WarehouseToolCache(warehouse, read_only=True)
    frozen.put("k2", result, 1.0)
    assert frozen.get("k") == result and frozen.get("k2") is None
    assert warehouse.execute("SELECT count(*), sum(hits) FROM tool_calls").fetchall() == [(1, 1)]
    assert (cache.hits, cache.misses, cache.writes) == (1, 1, 1)


# ---------------------------------------------------------------- searchvl tool
def test_cli_text_search_prints_the_article_and_the_second_call_is_a_cache_hit(data_dir: Path) -> None:
    code, out = tool(data_dir, "text_search", "--args", '{"q": "Ayn Rand"}')
    assert code == 0, out
    assert "[Passage 1]\nTitle: Ayn Rand\nURL: https://en.wikipedia.org/wiki/Ayn_Rand" in out
    assert "[text_search: ran," in out
    code, again = tool(data_dir, "text_search", "--args", '{"q": "Ayn Rand"}')
    assert code == 0 and "[text_search: cache hit (warehouse tool_calls)" in again
    assert again.split("\n[text_search")[0] == out.split("\n[text_search")[0]
    assert tool_call_rows(data_dir) == [("text_search", 1)]


def test_cli_crop_writes_the_produced_image(data_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    src.write_bytes(png_bytes(200, 100))
    out_dir = tmp_path / "out"
    code, out = tool(data_dir, "crop", "--image", str(src), "--args", '{"x": 10, "y": 20, "width": 50, "height": 40}',
                     "--out", str(out_dir))
    assert code == 0, out
    assert f"wrote {out_dir / 'img_2.png'} (50×40)" in out
    assert Image.open(io.BytesIO((out_dir / "img_2.png").read_bytes())).size == (50, 40)
    assert tool_call_rows(data_dir) == [], "crop is not in cache_tools"


@pytest.mark.parametrize(("args", "message"), [
    (["crop", "--image", "BAD", "--args", '{"x": 0, "y": 0, "width": 5, "height": 5}'],
     "cannot use the input image (img_1 = BAD): [ERROR:bad_image]"),
    (["crop", "--image", "MISSING"], "image file not found: MISSING"),
    (["frobnicate"], "unknown tool 'frobnicate'; available: crop, sharpen"),
    (["text_search", "--args", "{q: 1}"], "--args is not valid JSON"),
    (["text_search", "--args", "[1]"], "--args must be a JSON object"),
    (["text_search", "--args", '{"query": "x"}'], "[ERROR:bad_arguments]"),
])
def test_cli_errors_are_one_line_with_a_non_zero_exit(data_dir: Path, tmp_path: Path, args: list[str],
                                                       message: str) -> None:
    files = {"BAD": tmp_path / "bad.png", "MISSING": tmp_path / "missing.png"}
    files["BAD"].write_text("not an image")
    code, out = tool(data_dir, *[str(files.get(a, a)) for a in args])
    for placeholder, path in files.items():
        message = message.replace(placeholder, str(path))
    assert code == 1
    assert out.startswith("error: ") and message in out
    assert out.count("\n") == 1


def test_cli_without_a_warehouse_says_what_to_run(tmp_path: Path) -> None:
    code, out = tool(tmp_path / "empty", "text_search", "--args", '{"q": "x"}')
    assert code == 1 and "no warehouse at" in out and "searchvl ingest" in out


HOLD = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
""")


def test_cli_reads_a_snapshot_while_another_process_writes(data_dir: Path) -> None:
    tool(data_dir, "text_search", "--args", '{"q": "Anarchism"}')       # cache the call first
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(data_dir / "warehouse.duckdb")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        code, out = tool(data_dir, "text_search", "--args", '{"q": "Anarchism"}')
        code2, out2 = tool(data_dir, "text_search", "--args", '{"q": "Autism"}')
    finally:
        holder.communicate("\n", timeout=30)
    assert code == 0 and "cache hit (warehouse tool_calls)" in out and "cache read-only" in out
    assert code2 == 0 and "Title: Autism" in out2 and "[text_search: ran," in out2
    assert tool_call_rows(data_dir) == [("text_search", 0)], "a snapshot neither writes entries nor counts hits"


def test_tool_command_has_help() -> None:
    res = runner.invoke(app, ["tool", "--help"])
    assert res.exit_code == 0 and "--args" in res.output and "--image" in res.output
