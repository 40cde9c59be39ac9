"""XML ingest into a real warehouse: idempotence, images, paths, and every fault the issue names."""

from __future__ import annotations

import bz2
import random
import string
from pathlib import Path

import pytest

from schemas.errors import SourceError
from schemas.run_config import IngestConfig, SourceConfig
from tasks.ingest.ingest import ingest_source
from tasks.sample.stage import sample_all
from tests.factories import dump_bytes, page_xml, png_bytes, small_sampling, small_world, write_dump, write_media
from warehouse.db import Connection, table_counts
from warehouse.pages import refresh_degrees


def counts(con: Connection) -> dict[str, int]:
    return {name: n for name, _, n in table_counts(con) if name not in ("runs", "stage_stats", "sources")}


def ingest(con: Connection, tmp_path: Path, src: SourceConfig, workers: int = 1) -> None:
    ingest_source(con, tmp_path, src, IngestConfig(sources=[src], batch_pages=2), "run-test", workers=workers)


@pytest.mark.parametrize("workers", [1, 2])
def test_small_world_ingests_samples_and_reruns_without_duplicates(
        warehouse: Connection, tmp_path: Path, workers: int) -> None:
    src, _ = small_world(tmp_path)
    ingest(warehouse, tmp_path, src, workers)
    refresh_degrees(warehouse)
    first = counts(warehouse)
    assert warehouse.execute("SELECT count(*) FROM pages WHERE redirect_target IS NULL").fetchone() == (5,)
    blob = warehouse.execute("SELECT f.license, b.width, b.height, b.path FROM image_files f "
                             "JOIN image_blobs b USING (sha256)").fetchone()
    assert blob is not None and blob[:3] == ("Public domain", 768, 512)
    assert (tmp_path / blob[3]).is_file(), "image bytes stored content-addressed under the data dir"
    alias = warehouse.execute("SELECT kind FROM all_aliases WHERE alias = 'Firefly'").fetchone()
    assert alias == ("redirect",)

    stats = sample_all(warehouse, small_sampling(), "run-test")
    paths = warehouse.execute("SELECT seed_title, hops, answer FROM paths").fetchall()
    assert [p[0] for p in paths] == ["Freedonia"], stats
    assert all(t != "List of Freedonians" for row in
               warehouse.execute("SELECT unnest(nodes).title FROM paths").fetchall() for t in row)
    ingest(warehouse, tmp_path, src, workers)
    refresh_degrees(warehouse)
    sample_all(warehouse, small_sampling(), "run-test")
    after = counts(warehouse)
    assert after == {**first, "paths": 1, "rejects": after["rejects"], "unit_rejects": after["unit_rejects"]}
    assert warehouse.execute("SELECT seed_title, hops, answer FROM paths").fetchall() == paths


def test_truncated_bz2_keeps_committed_pages_and_records_the_failure(warehouse: Connection, tmp_path: Path) -> None:
    rng = random.Random(0)  # incompressible text, so the dump spans several bz2 blocks
    pages = [page_xml(f"Page {i}", "".join(rng.choices(string.ascii_letters + " ", k=6000)), page_id=i + 1)
             for i in range(400)]
    data = bz2.compress(dump_bytes(pages))
    path = tmp_path / "cut.xml.bz2"
    path.write_bytes(data[: len(data) * 2 // 3])
    src = SourceConfig(kind="xml", path=path)
    with pytest.raises(SourceError) as info:
        ingest(warehouse, tmp_path, src)
    msg = str(info.value)
    assert "cut.xml.bz2" in msg and "last page read: 'Page " in msg
    committed = warehouse.execute("SELECT count(*) FROM pages").fetchone()
    status = warehouse.execute("SELECT status, pages_committed, last_page, error FROM sources").fetchone()
    assert committed is not None and status is not None
    assert status[0] == "failed" and status[1] == committed[0] > 0 and "truncated" in status[3]


def test_cut_off_xml_page(warehouse: Connection, tmp_path: Path) -> None:
    data = dump_bytes([page_xml("Alpha", "First page."), page_xml("Beta", "Second page.", page_id=2)])
    path = tmp_path / "cut.xml"
    path.write_bytes(data[: data.index(b"Second page")])
    with pytest.raises(SourceError, match=r"cut\.xml: malformed XML .* last page read: 'Alpha'"):
        ingest(warehouse, tmp_path, SourceConfig(kind="xml", path=path))
    assert warehouse.execute("SELECT title FROM pages").fetchall() == [("Alpha",)]


def test_invalid_utf8_title_is_one_reject(warehouse: Connection, tmp_path: Path) -> None:
    good = dump_bytes([page_xml("Alpha", "x"), page_xml("BADTITLE", "y", page_id=2), page_xml("Gamma", "z", page_id=3)])
    path = tmp_path / "utf8.xml"
    path.write_bytes(good.replace(b"BADTITLE", b"Bad \xff\xfe title \x07"))
    ingest(warehouse, tmp_path, SourceConfig(kind="xml", path=path))
    assert warehouse.execute("SELECT title FROM pages ORDER BY 1").fetchall() == [("Alpha",), ("Gamma",)]
    rej = warehouse.execute("SELECT stage, reason FROM rejects").fetchall()
    assert rej == [("ingest", "invalid_title")]


def test_broken_template_page_is_a_reject_and_the_rest_goes_on(warehouse: Connection, tmp_path: Path) -> None:
    path = write_dump(tmp_path / "t.xml", [
        page_xml("Fine", "Plain [[Other]] text."),
        page_xml("Broken", "{{Infobox person\n| name = X\n| born = {{birth date|1900|1|1}\nBody.", page_id=2),
        page_xml("Other", "More text.", page_id=3)])
    ingest(warehouse, tmp_path, SourceConfig(kind="xml", path=path))
    assert warehouse.execute("SELECT title FROM pages ORDER BY 1").fetchall() == [("Fine",), ("Other",)]
    assert warehouse.execute("SELECT unit_id, reason FROM rejects").fetchall() == [
        ("enwiki:Broken", "broken_template")]


def test_not_a_dump(warehouse: Connection, tmp_path: Path) -> None:
    path = tmp_path / "x.xml"
    path.write_text("<html><body>hello</body></html>")
    with pytest.raises(SourceError, match="not a MediaWiki XML export"):
        ingest(warehouse, tmp_path, SourceConfig(kind="xml", path=path))


def test_bad_images_in_media_dir_are_rejects(warehouse: Connection, tmp_path: Path) -> None:
    path = write_dump(tmp_path / "d.xml", [page_xml("Alpha", "x")])
    media = write_media(tmp_path / "media", {"Good.png": png_bytes(10, 10), "Fake.png": b"not an image"})
    with (media / "images.jsonl").open("a") as f:
        f.write('{"file_name": "Escape.png", "path": "../../etc/passwd"}\n')
        f.write('{"file_name": "Gone.png", "path": "missing.png"}\n')
    ingest(warehouse, tmp_path, SourceConfig(kind="xml", path=path, media_dir=media))
    reasons = dict(warehouse.execute("SELECT unit_id, reason FROM rejects").fetchall())
    assert reasons == {"enwiki:File:Fake.png": "not_an_image", "enwiki:File:Escape.png": "path_traversal",
                       "enwiki:File:Gone.png": "missing_file"}
    assert warehouse.execute("SELECT file_name FROM image_files").fetchall() == [("Good.png",)]
