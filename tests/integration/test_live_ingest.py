"""Live-API ingest end to end: wikipedia-api + Action API + Commons against a fake MediaWiki on
127.0.0.1, through ``ingest_source`` into a real DuckDB warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.errors import SourceError
from schemas.run_config import IngestConfig, SourceConfig
from tasks.ingest import live
from tasks.ingest.ingest import IngestResult, ingest_source
from tests.factories import png_bytes
from tests.fakes.mediawiki_server import FakeFile, FakeMediaWiki, closed_port_url
from warehouse.db import Connection, connect, table_counts

FREEDONIA = """{{Infobox country
| conventional_long_name = Republic of Freedonia
| common_name = Freedonia
| image_flag = Flag of Freedonia.png
| capital = [[Fredville]]
}}
'''Freedonia''', officially the '''Republic of Freedonia''', is a country bordering [[Sylvania]]. \
Its capital is [[Fredville]].

== History ==
Freedonia once fought a war with [[Sylvania|its neighbour]].
"""
FREDVILLE = """{{Infobox settlement
| name = Fredville
| image_skyline = File:Fredville skyline.png
| country = [[Freedonia]]
}}
'''Fredville''' is the capital of [[Freedonia]].
"""
SYLVANIA = "{{Infobox country\n| common_name = Sylvania\n| image_flag = Flag of Sylvania.png\n}}\n" \
           "'''Sylvania''' is a country next to [[Freedonia]]."
OSTERLICH = "{{Infobox country\n| image_flag = Nowhere.png\n}}\n'''Osterlich''' is a country near [[Fredonia]]."


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same retry logic, test-sized waits: a Retry-After of 1 s is capped at 0.3 s."""
    monkeypatch.setattr(live, "DEFAULT_POLICY", live.RetryPolicy(attempts=3, backoff=0.01, max_wait=0.3,
                                                                  timeout=0.5))


@pytest.fixture
def fake() -> Iterator[FakeMediaWiki]:
    with FakeMediaWiki() as server:
        server.add_page("Freedonia", FREEDONIA, redirects=("Republic of Freedonia", "Freedonia (country)",
                                                           "Fredonia"))
        server.add_page("Fredville", FREDVILLE, redirects=("Fredville City",))
        server.add_page("Sylvania", SYLVANIA)
        server.add_page("Osterlich", OSTERLICH)
        server.add_file(FakeFile("Flag of Freedonia.png", png_bytes(64, 48), 64, 48,
                                 artist_html='<a href="//commons.wikimedia.org/wiki/User:Jane">Jane Doe</a>',
                                 description_html="<p>Flag of <b>Freedonia</b> &amp; its colours</p>"))
        server.add_file(FakeFile("Fredville skyline.png", png_bytes(40, 30, (10, 20, 200)), 40, 30,
                                 license="Fair use", license_url=None, artist_html="City of Fredville",
                                 on_commons=False))
        server.add_file(FakeFile("Flag of Sylvania.png", png_bytes(8, 8), 8, 8, reported_size=60_000_000))
        yield server


def run(con: Connection, tmp_path: Path, api_url: str, commons: str, titles: list[str],
        batch_pages: int = 2) -> IngestResult:
    src = SourceConfig(kind="live", titles=titles, api_url=api_url, commons_api_url=commons)
    return ingest_source(con, tmp_path, src, IngestConfig(sources=[src], batch_pages=batch_pages), "run-live",
                         workers=1)


def rows(con: Connection, sql: str) -> list[tuple[object, ...]]:
    return con.execute(sql).fetchall()


def test_pages_links_redirects_infobox_and_images_land(fake: FakeMediaWiki, tmp_path: Path) -> None:
    fake.max_per_response = 2  # Freedonia's three redirects need a continuation
    titles = ["Freedonia", "fredville_City", "Sylvania", "Osterlich", "Atlantis", "Fredonia"]
    with connect(tmp_path / "w.duckdb") as con:
        result = run(con, tmp_path, fake.api_url, fake.commons_api_url, titles)
        articles = rows(con, "SELECT title, page_id, revision_id, revision_timestamp, infobox_type FROM pages "
                             "WHERE redirect_target IS NULL ORDER BY title")
        assert [a[0] for a in articles] == ["Fredville", "Freedonia", "Osterlich", "Sylvania"]
        assert articles[1][1:] == (fake.pages["Freedonia"].page_id, fake.pages["Freedonia"].rev_id,
                                   "2024-05-01T12:00:00Z", "infobox country")
        assert rows(con, "SELECT infobox['capital'] FROM pages WHERE title = 'Freedonia'") == [("Fredville",)]

        links = rows(con, "SELECT target, anchor_text, infobox_key FROM links WHERE src_title = 'Freedonia' "
                          "ORDER BY ordinal")
        assert ("Fredville", "Fredville", "capital") in links and ("Sylvania", "its neighbour", None) in links
        assert rows(con, "SELECT dst_title FROM resolved_links WHERE src_title = 'Osterlich'") == [("Freedonia",)]

        aliases = set(rows(con, "SELECT title, alias, kind FROM all_aliases WHERE kind <> 'title'"))
        assert {("Freedonia", "Republic of Freedonia", "redirect"), ("Freedonia", "Freedonia (country)", "redirect"),
                ("Freedonia", "Fredonia", "redirect"), ("Fredville", "Fredville City", "redirect"),
                ("Freedonia", "Republic of Freedonia", "bold_lead")} <= aliases

        assert rows(con, "SELECT title, file_name FROM image_refs WHERE role = 'infobox' AND ordinal = 0 "
                         "ORDER BY title") == [("Fredville", "Fredville skyline.png"),
                                               ("Freedonia", "Flag of Freedonia.png"),
                                               ("Osterlich", "Nowhere.png"), ("Sylvania", "Flag of Sylvania.png")]
        images = rows(con, "SELECT f.file_name, f.license, f.license_url, f.author, f.source_url, f.description, "
                           "b.width, b.height, b.path FROM image_files f JOIN image_blobs b USING (sha256) "
                           "ORDER BY f.file_name")
        flag, skyline = images
        assert flag[:4] == ("Flag of Freedonia.png", "CC BY-SA 4.0",
                            "https://creativecommons.org/licenses/by-sa/4.0", "Jane Doe")
        assert str(flag[4]).endswith("/wiki/File:Flag_of_Freedonia.png")
        assert flag[5:8] == ("Flag of Freedonia & its colours", 64, 48)
        assert (tmp_path / str(flag[8])).is_file()
        assert skyline[:4] == ("Fredville skyline.png", "Fair use", None, "City of Fredville"), \
            "a local (non-Commons) file is described by the wiki's own API"

        assert rows(con, "SELECT unit_id, reason FROM rejects ORDER BY unit_id") == [
            ("enwiki:Atlantis", "not_found"), ("enwiki:File:Flag of Sylvania.png", "too_large"),
            ("enwiki:File:Nowhere.png", "image_not_found")]
        assert fake.count("upload", title="upload:Flag of Sylvania.png") == 0, "size cap checked before download"
        assert rows(con, "SELECT status, pages_committed FROM sources") == [("completed", result.pages)]
        first = table_counts(con)

    assert len(fake.select("commons", prop="imageinfo")) == 2, "one Commons query per batch with images"
    assert any("rdcontinue" in h.params for h in fake.select(prop="redirects")), "continuation followed"
    assert fake.count(title="Atlantis", prop="info") == 1, "wikipedia-api resolves each title (prop=info)"
    agents = {h.user_agent for h in fake.hits}
    assert agents and all(a.startswith("searchvl/") for a in agents)

    with connect(tmp_path / "w.duckdb") as con:
        run(con, tmp_path, fake.api_url, fake.commons_api_url, titles)
        assert table_counts(con) == first, "a rerun upserts the same rows"


def test_retries_rate_limits_timeouts_and_rejects_a_failing_page(fake: FakeMediaWiki, tmp_path: Path) -> None:
    fake.fail("Fredville", 429, times=1, retry_after="1", prop="info")
    fake.fail("Freedonia", None, times=1, delay=1.0, prop="info")  # first answer slower than the 0.5 s timeout
    fake.fail("Sylvania", 500, prop="revisions")  # forever
    with connect(tmp_path / "w.duckdb") as con:
        result = run(con, tmp_path, fake.api_url, fake.commons_api_url, ["Freedonia", "Fredville", "Sylvania"],
                     batch_pages=10)
        assert rows(con, "SELECT title FROM pages WHERE redirect_target IS NULL ORDER BY title") == [
            ("Fredville",), ("Freedonia",)]
        rejects = rows(con, "SELECT unit_id, reason, detail FROM rejects")
        assert [r[:2] for r in rejects] == [("enwiki:Sylvania", "http_error")]
        assert "HTTP 500" in str(rejects[0][2])
        assert rows(con, "SELECT count(*) FROM image_files") == [(2,)]
    assert result.rejects == {"http_error": 1}

    rate_limited = fake.select(title="Fredville", prop="info")
    assert [h.status for h in rate_limited] == [429, 200]
    gap = rate_limited[1].at - rate_limited[0].at
    assert 0.25 <= gap < 0.9, f"Retry-After honoured but capped at 0.3 s, waited {gap:.2f}s"
    assert fake.count(title="Freedonia", prop="info") == 2, "a timed-out request is retried"
    sylvania = fake.select(title="Sylvania", prop="revisions")
    assert [h.status for h in sylvania] == [500] * 6, "3 attempts in the batch, 3 more on its own"


def test_commons_outage_falls_back_to_the_wiki_and_a_failing_download_is_a_reject(
        fake: FakeMediaWiki, tmp_path: Path) -> None:
    fake.fail("*", 500, api="commons")
    fake.fail("upload:Fredville skyline.png", 503)
    with connect(tmp_path / "w.duckdb") as con:
        result = run(con, tmp_path, fake.api_url, fake.commons_api_url, ["Freedonia", "Fredville"])
        assert rows(con, "SELECT title FROM pages WHERE redirect_target IS NULL ORDER BY title") == [
            ("Fredville",), ("Freedonia",)]
        assert rows(con, "SELECT file_name, license, author FROM image_files") == [
            ("Flag of Freedonia.png", "CC BY-SA 4.0", "Jane Doe")], "Commons file described by the wiki's API"
        assert rows(con, "SELECT unit_id, reason FROM rejects") == [
            ("enwiki:File:Fredville skyline.png", "image_fetch_failed")]
    assert result.images == 1
    assert [h.status for h in fake.select("commons")] == [500] * 3
    assert fake.count("upload", title="upload:Fredville skyline.png") == 3


def test_unreachable_api_raises_source_error(tmp_path: Path) -> None:
    url = closed_port_url()
    with connect(tmp_path / "w.duckdb") as con:
        with pytest.raises(SourceError, match=r"cannot reach the MediaWiki API at http://127\.0\.0\.1:\d+/w/api\.php"):
            run(con, tmp_path, url, url, ["Freedonia"])
        status = rows(con, "SELECT status, error FROM sources")
        assert status[0][0] == "failed" and "cannot reach" in str(status[0][1])
