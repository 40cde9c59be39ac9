"""A new-namespace-scheme ZIM (the layout of every current Kiwix Wikipedia), written in the test with
libzim's own writer, through the real ingest path: articles, links, a redirect, a WebP infobox image,
and bad titles and paths as rejects while every good page is kept."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from libzim.writer import Creator, Hint, Item, StringProvider
from PIL import Image

from schemas.run_config import IngestConfig, SourceConfig
from tasks.ingest.ingest import ingest_source
from tasks.ingest.zim import file_name_of
from warehouse.db import Connection, connect


class _Entry(Item):
    def __init__(self, path: str, title: str, mimetype: str, content: bytes | str) -> None:
        super().__init__()
        self._path, self._title, self._mime, self._content = path, title, mimetype, content

    def get_path(self) -> str:
        return self._path

    def get_title(self) -> str:
        return self._title

    def get_mimetype(self) -> str:
        return self._mime

    def get_contentprovider(self) -> StringProvider:
        return StringProvider(self._content)

    def get_hints(self) -> dict[Hint, int]:
        return {Hint.FRONT_ARTICLE: self._mime == "text/html"}


def _html(body: str) -> str:
    return f"<html><head><title>t</title></head><body><div id='mw-content-text'>{body}</div></body></html>"


def _webp(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (20, 90, 160)).save(buf, "WEBP")
    return buf.getvalue()


ALPHA = _html("""
<table class="infobox"><tr><th colspan="2">Alpha</th></tr>
<tr><td colspan="2"><img src="_assets_/Alpha_flag.png.webp" width="220" height="150"></td></tr>
<tr><th>Country</th><td><a href="Beta">Beta</a></td></tr></table>
<p><b>Alpha</b> is a test place in <a href="./Beta">Beta</a>, next to <a href="Gamma_(river)">the Gamma</a>.</p>
<div class="navbox"><a href="Delta">Delta</a></div>""")
BETA = _html("<p><b>Beta</b> is a country whose capital is <a href='Alpha'>Alpha</a>.</p>")
GAMMA = _html("<p>The <b>Gamma</b> is a river through <a href='Alfa'>Alfa</a>.</p>")
DELTA = _html("<p><b>Delta</b> is only in a navbox, linking <a href='Beta'>Beta</a>.</p>")
BAD = _html("<p>A page with an unprintable title linking <a href='Alpha'>Alpha</a>.</p>")


def write_zim(path: Path) -> Path:
    with Creator(str(path)).config_indexing(False, "eng") as zim:
        zim.set_mainpath("Alpha")
        for key, value in {"Name": "wikipedia_en_test_maxi", "Language": "eng", "Title": "test"}.items():
            zim.add_metadata(key, value)
        for p, title, mime, content in [
            ("Alpha", "Alpha", "text/html", ALPHA), ("Beta", "Beta", "text/html", BETA),
            ("Gamma_(river)", "Gamma (river)", "text/html", GAMMA), ("Delta", "Delta", "text/html", DELTA),
            ("Bell", "Bell\x07ring", "text/html", BAD), ("Rub", "Rub\x7fout", "text/html", BAD),
            ("_assets_/Alpha_flag.png.webp", "", "image/webp", _webp(220, 150)),
            ("_assets_/style.css", "", "text/css", "body{}"),
        ]:
            zim.add_item(_Entry(p, title, mime, content))
        zim.add_redirection("Alfa", "Alfa", "Alpha", {Hint.FRONT_ARTICLE: False})
    return path


@pytest.fixture
def ingested(tmp_path: Path) -> Iterator[Connection]:
    zim = write_zim(tmp_path / "wikipedia_en_test_maxi_2026-11.zim")
    src = SourceConfig(kind="zim", path=zim)
    with connect(tmp_path / "w.duckdb") as con:
        ingest_source(con, tmp_path, src, IngestConfig(sources=[src]), "run-zim-new", workers=1)
        yield con


def test_new_scheme_articles_links_redirects_and_images(ingested: Connection) -> None:
    con = ingested
    assert con.execute("SELECT status, wiki, error FROM sources").fetchall() == [("completed", "enwiki", None)]
    pages = dict(con.execute("SELECT title, redirect_target FROM pages").fetchall())
    assert pages == {"Alpha": None, "Beta": None, "Gamma (river)": None, "Delta": None, "Alfa": "Alpha"}
    links = set(con.execute("SELECT src_title, target FROM links").fetchall())
    assert {("Alpha", "Beta"), ("Alpha", "Gamma (river)"), ("Beta", "Alpha"), ("Gamma (river)", "Alfa")} <= links
    assert ("Alpha", "Delta") not in links, "navbox links are not claims of the page"
    country = con.execute("SELECT infobox['country'] FROM pages WHERE title = 'Alpha'").fetchone()
    assert country == ("Beta",)
    image = con.execute("""
        SELECT r.file_name, f.source_url, b.format, b.width FROM image_refs r
        JOIN image_files f USING (wiki, file_name) JOIN image_blobs b USING (sha256)
        WHERE r.title = 'Alpha' AND r.role = 'infobox'""").fetchall()
    assert image == [("Alpha flag.png", "zim://C/_assets_/Alpha_flag.png.webp", "WEBP", 220)]


def test_new_scheme_bad_titles_are_rejects_and_the_rest_is_kept(ingested: Connection) -> None:
    rejects = ingested.execute("SELECT unit_id, reason, detail FROM rejects ORDER BY unit_id").fetchall()
    assert [r for _, r, _ in rejects] == ["invalid_title", "invalid_title"]
    assert all("control character" in d and "\n" not in d for _, _, d in rejects)
    assert all("\x07" not in u and "\x7f" not in u for u, _, _ in rejects), "unit ids are printable"
    assert ingested.execute("SELECT count(*) FROM pages").fetchone() == (5,)


@pytest.mark.parametrize(("src", "name"), [
    ("I/m/Ray_Charles_(cropped).jpg", "Ray Charles (cropped).jpg"),
    ("I/Flag_of_Spain.svg.png", "Flag of Spain.svg"),
    ("_assets_/Alpha_flag.jpg.webp", "Alpha flag.jpg"),
    ("_assets_/diagram.webp", "Diagram.webp"),
])
def test_file_names_match_the_wiki(src: str, name: str) -> None:
    assert file_name_of(src) == name
