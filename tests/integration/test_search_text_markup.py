"""No citation or template markup reaches a tool observation: every bundled page's indexed text is clean, and
what `text_search` quotes from it too. Pure image tools need no warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from schemas.run_config import IngestConfig, SourceConfig
from tasks.ingest.ingest import ingest_source
from tasks.tooling import build_tool_env, text_documents
from tasks.wikimarkup import has_template_markup, strip_template_markup
from tests.factories import png_bytes
from toolenv import EnvConfig, EpisodeItem
from warehouse.db import connect

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "enwiki-sample"
MARKERS = ("{{", "}}", "|last=")


@pytest.mark.parametrize(("raw", "clean"), [
    ("A (named , plural aes{{refn|group=nb|Aes is the plural.\n\nThe plural.}}) is the first letter.",
     "A (named , plural aes) is the first letter."),
    ("fully compatible to ASCII.{{cite web |url=http://x.org/a", "fully compatible to ASCII."),
    ("e Web |last=Walters |year=2001 |work=W3C Blog}}\n\nOriginally based on English.", "Originally based on English."),
    ("| map2 = ASCII 1 | map2char1 = 41\n\nKept.", "Kept."),
    ("Plain prose stays as it is.", "Plain prose stays as it is."),
])
def test_strip_template_markup(raw: str, clean: str) -> None:
    assert strip_template_markup(raw) == clean


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("corpus")
    src = SourceConfig(kind="xml", path=CORPUS / "pages.xml.bz2", media_dir=CORPUS / "media")
    with connect(data_dir / "warehouse.duckdb") as con:
        ingest_source(con, data_dir, src, IngestConfig(sources=[src], batch_pages=50), "run-test", workers=1)
    return data_dir


def test_no_bundled_page_indexes_template_markup(corpus_dir: Path) -> None:
    with connect(corpus_dir / "warehouse.duckdb", read_only=True) as con:
        docs = list(text_documents(con))
    assert len(docs) >= 60
    dirty = [(d.title, m) for d in docs for m in MARKERS if m in d.text.replace(" ", "")]
    assert dirty == []
    assert not any(has_template_markup(d.text) for d in docs)


@pytest.mark.parametrize("query", ["ASCII Walters", "Apollo Homer", "Academy Award production design", "letter A"])
def test_text_search_observations_carry_no_markup(corpus_dir: Path, query: str) -> None:
    with connect(corpus_dir / "warehouse.duckdb") as con:
        env = build_tool_env(con, corpus_dir, EnvConfig(leakage_guard=False), cache=None, ocr=None)
        env.reset(EpisodeItem(question="", images=(png_bytes(8, 8),), item_id="t"))
        obs = env.call("text_search", {"q": query})
    assert obs.ok and obs.content
    assert not any(m in obs.content.replace(" ", "") for m in MARKERS), obs.content


def test_crop_works_without_a_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)                     # outside the repo, no data dir anywhere
    (tmp_path / "in.png").write_bytes(png_bytes(40, 30))
    res = CliRunner().invoke(app, ["tool", "crop", "--image", "in.png", "--args",
                                   '{"x": 0, "y": 0, "width": 10, "height": 10}'])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "tool-out" / "img_2.png").is_file()
    assert not (tmp_path / "var").exists()
