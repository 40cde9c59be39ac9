"""The Ray Charles ZIM from ../shared/data through the real ingest path: counts against its manifest,
navbox-free link graph, and the path rules on that graph. Plus: a file that is not a ZIM fails cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.errors import SourceError
from schemas.run_config import IngestConfig, SourceConfig
from tasks.ingest.ingest import ingest_source
from tasks.sample.paths import domain_of, select_seeds
from tasks.sample.stage import load_graph
from tests.factories import check_paths, small_sampling
from warehouse.db import Connection, connect, load_query
from warehouse.pages import refresh_degrees

ZIM = "zim/wikipedia_en_ray_charles_2015-06.zim"
MANIFEST = "zim/wikipedia_en_ray_charles_2015-06.manifest.json"


def ingest_zim(con: Connection, tmp_path: Path, path: Path) -> None:
    src = SourceConfig(kind="zim", path=path)
    ingest_source(con, tmp_path, src, IngestConfig(sources=[src]), "run-zim", workers=1)
    refresh_degrees(con)


@pytest.fixture
def zim(shared_data: Path) -> Path:
    path = shared_data / ZIM
    if not path.is_file():
        pytest.skip(f"ZIM fixture not found at {path}")
    return path


@pytest.mark.data
def test_zim_ingests_articles_redirects_and_infobox_images(zim: Path, tmp_path: Path) -> None:
    manifest = json.loads((zim.parent / Path(MANIFEST).name).read_text())
    with connect(tmp_path / "w.duckdb") as con:
        ingest_zim(con, tmp_path, zim)
        assert con.execute("SELECT status, wiki, error FROM sources").fetchall() == [("completed", "enwiki", None)]
        assert con.execute("SELECT count(*) FROM rejects").fetchone() == (0,)
        articles, redirects = con.execute("""
            SELECT count(*) FILTER (WHERE redirect_target IS NULL), count(*) FILTER (WHERE redirect_target IS NOT NULL)
            FROM pages WHERE wiki = 'enwiki' AND namespace = 0""").fetchall()[0]
        assert articles == manifest["stats"]["articles"] == 85
        # every A/ redirect of the 152 (one more points at the favicon, outside the article namespace)
        assert redirects == 151
        titles = {t for (t,) in con.execute("SELECT title FROM pages WHERE redirect_target IS NULL").fetchall()}
        assert titles == {a["title"] for a in manifest["articles"]}
        aliases = {a for (a,) in con.execute("SELECT alias FROM all_aliases WHERE title = 'America the Beautiful'")
                   .fetchall()}
        assert "From sea to shining sea" in aliases, "redirects become aliases"

        # the first infobox image of each article, with its bytes stored
        boxed = dict(con.execute("""
            SELECT r.title, f.source_url FROM image_refs r
            JOIN image_files f USING (wiki, file_name) JOIN image_blobs b USING (sha256)
            WHERE r.role = 'infobox' AND r.ordinal = 0""").fetchall())
        assert len(boxed) == manifest["stats"]["articles_with_infobox_image"] == 58
        expected = {a["title"]: f"zim://{a['infobox_images'][0]}" for a in manifest["articles"] if a["infobox_images"]}
        assert boxed == expected
        licences = con.execute("SELECT DISTINCT license FROM image_files").fetchall()
        assert licences == [(None,)], "a ZIM carries no licence: none is invented"

        kind, lead, genres = con.execute(
            "SELECT infobox_type, lead_text, infobox['genres'] FROM pages WHERE title = 'Ray Charles'").fetchone() or ()
        assert kind == "infobox musical artist"
        assert lead.startswith("Ray Charles Robinson (September 23, 1930") and "[1]" not in lead
        assert genres.startswith("R&B, soul, blues")

        # body links only: the Ray Charles navbox every page embeds must not become 3,361 edges
        distinct_edges = "SELECT count(*) FROM (SELECT DISTINCT src, dst FROM (" + load_query("graph_links") + "))"
        (edges,) = con.execute(distinct_edges, {"wiki": "enwiki"}).fetchall()[0]
        assert manifest["stats"]["in_sample_edges"] == 3361
        assert 450 <= edges <= 800


@pytest.mark.data
def test_zim_paths_obey_the_rules(zim: Path, tmp_path: Path) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        ingest_zim(con, tmp_path, zim)
        # ZIM images are thumbnails (120–250 px), so the image-side floor is lowered; Ray Charles (in-degree
        # 83) is above the hub threshold and must never appear on a path.
        # graph rules on every body link (relational sampling: tests/integration/test_questions_corpus.py)
        cfg = small_sampling(seed_min_image_side=100, hub_in_degree=60, require_relations=False)
        graph = load_graph(con, "enwiki", cfg)
        hub = graph.nodes.titles.index("Ray Charles")
        assert graph.excluded[hub]
        seeds, rejects = select_seeds(graph, "enwiki", cfg)
        assert len(seeds) >= 30
        assert {r.reason for r in rejects} <= {"no_image", "no_domain", "excluded_hub", "image_too_small"}
        nodes = graph.nodes
        for s in seeds:
            assert not graph.excluded[s.node] and nodes.image_min_side[s.node] >= cfg.seed_min_image_side
            assert cfg.seed_min_in_degree <= nodes.in_degree[s.node] <= cfg.seed_max_in_degree
            assert domain_of(nodes.infobox_type[s.node], cfg.domains) == s.domain
        assert check_paths(graph, cfg, con, "enwiki", seeds) >= 20


def test_a_file_that_is_not_a_zim_is_a_source_error(tmp_path: Path, warehouse: Connection) -> None:
    bogus = tmp_path / "garbage.zim"
    bogus.write_bytes(b"PK\x03\x04 this is a zip, not a ZIM " * 200)
    src = SourceConfig(kind="zim", path=bogus)
    with pytest.raises(SourceError, match=r"garbage\.zim: not a readable ZIM file"):
        ingest_source(warehouse, tmp_path, src, IngestConfig(sources=[src]), "run-bad", workers=1)
    assert warehouse.execute("SELECT status FROM sources").fetchall() == [("failed",)]
