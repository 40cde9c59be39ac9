"""Real MediaWiki dumps from ../shared/data: counts, graph density, and path rules on real graphs."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.run_config import IngestConfig, SamplingConfig, SourceConfig
from tasks.ingest.ingest import ingest_source
from tasks.sample.stage import load_graph
from tests.factories import check_paths
from warehouse.db import Connection, connect, load_query
from warehouse.pages import refresh_degrees

pytestmark = pytest.mark.data

GENSIM = "wikitext/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
DUMPS = {
    GENSIM: ("enwiki", 206),
    "wikitext/dbpedia-minidump-en-wiki.xml.bz2": ("enwiki", 27),
    "wikitext/enwiki-table-markup.xml.bz2": ("enwiki", 5),
    "wikitext/ltgwiki-complete-2017-dumpster-dive-smallwiki.xml.bz2": ("ltgwiki", 2004),
}


def ingest_file(con: Connection, tmp_path: Path, path: Path, workers: int = 2) -> None:
    src = SourceConfig(kind="xml", path=path)
    ingest_source(con, tmp_path, src, IngestConfig(sources=[src]), "run-data", workers=workers)
    refresh_degrees(con)


@pytest.mark.parametrize("name", sorted(DUMPS))
def test_every_dump_ingests(shared_data: Path, tmp_path: Path, name: str) -> None:
    wiki, pages = DUMPS[name]
    with connect(tmp_path / "w.duckdb") as con:
        ingest_file(con, tmp_path, shared_data / name)
        assert con.execute("SELECT wiki, count(*) FROM pages GROUP BY wiki").fetchall() == [(wiki, pages)]
        assert con.execute("SELECT status, error FROM sources").fetchall() == [("completed", None)]
        assert con.execute("SELECT count(*) FROM rejects").fetchone() == (0,)


def test_gensim_sample_counts(shared_data: Path, tmp_path: Path) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        ingest_file(con, tmp_path, shared_data / GENSIM)
        row = con.execute("""
            SELECT count(*) FILTER (WHERE redirect_target IS NULL),
                   count(*) FILTER (WHERE redirect_target IS NOT NULL),
                   count(*) FILTER (WHERE redirect_target IS NULL AND infobox_type LIKE 'infobox%')
            FROM pages WHERE namespace = 0""").fetchone()
        assert row == (106, 99, 45)
        ingest_file(con, tmp_path, shared_data / GENSIM, workers=1)  # the same source twice: same rows
        assert con.execute("SELECT count(*) FROM pages").fetchone() == (206,)
        lincoln = con.execute("SELECT infobox_type, lead_text FROM pages WHERE title = 'Abraham Lincoln'").fetchone()
        assert lincoln is not None and lincoln[0] == "infobox officeholder"
        assert lincoln[1].startswith("Abraham Lincoln")
        aliases = {a for (a,) in con.execute("SELECT alias FROM all_aliases WHERE title = 'Computer accessibility'")
                   .fetchall()}
        assert "AccessibleComputing" in aliases


def test_latgalian_graph_density_and_path_rules(shared_data: Path, tmp_path: Path) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        ingest_file(con, tmp_path, shared_data / "wikitext/ltgwiki-complete-2017-dumpster-dive-smallwiki.xml.bz2")
        # Latgalian: the English relation rules read none of its links; this tests graph density and path rules
        cfg = SamplingConfig(seed_min_in_degree=0, hub_in_degree=60, require_relations=False)
        graph = load_graph(con, "ltgwiki", cfg)
        edges = con.execute("SELECT count(*) FROM (SELECT DISTINCT src, dst FROM ("
                            + load_query("graph_links") + "))", {"wiki": "ltgwiki"}).fetchall()[0]
        assert edges is not None and edges[0] >= 2_500
        assert graph.excluded.sum() > 0, "hub threshold excludes the most linked pages"
        assert check_paths(graph, cfg, con, "ltgwiki") > 50
