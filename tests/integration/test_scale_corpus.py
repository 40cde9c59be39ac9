"""``scripts/make_scale_corpus.py``: a synthetic pages-articles XML that ingests like a real dump, is labelled
synthetic in every row, follows the Wikispeedia degree distribution and is byte-identical for a seed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from schemas.run_config import IngestConfig, SourceConfig
from tasks.ingest.ingest import ingest_source
from warehouse.db import connect

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.data


def _make(out: Path, pages: int, seed: int = 0) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_scale_corpus.py"), "--pages", str(pages),
                    "--out", str(out), "--seed", str(seed)], check=True, capture_output=True)


def test_scale_corpus_ingests_labelled_synthetic_with_a_long_tailed_graph(shared_data: Path, tmp_path: Path) -> None:
    xml = tmp_path / "p.xml"
    _make(xml, 300)
    again = tmp_path / "again.xml"
    _make(again, 300)
    assert xml.read_bytes() == again.read_bytes()                  # deterministic for a seed
    src = SourceConfig(kind="xml", path=xml, media_dir=ROOT / "corpus" / "enwiki-sample" / "media")
    with connect(tmp_path / "warehouse.duckdb") as con:
        res = ingest_source(con, tmp_path, src, IngestConfig(sources=[src]), "run-test", workers=1)
        assert res.pages == 300 + 75 and not res.rejects             # every fourth page has a redirect
        assert con.execute("SELECT DISTINCT wiki FROM pages").fetchall() == [("synthwiki",)]
        assert con.execute("SELECT DISTINCT wiki FROM links").fetchall() == [("synthwiki",)]
        # links point at other synthetic pages; in-degrees are long-tailed like Wikispeedia's
        titles = {str(r[0]) for r in con.execute("SELECT title FROM pages WHERE redirect_target IS NULL").fetchall()}
        targets = [str(r[0]) for r in con.execute("SELECT target FROM links WHERE infobox_key IS NULL").fetchall()]
        assert sum(t in titles for t in targets) / len(targets) > 0.9
        indeg = sorted((targets.count(t) for t in titles), reverse=True)
        assert indeg[0] > 5 * (sum(indeg) / len(indeg))
        assert con.execute("SELECT count(*) FROM image_files").fetchall()[0][0] > 0   # the bundled media serve images
