"""Online extra anchor-image candidates: Commons search by the anchor's title, against a fake
MediaWiki on 127.0.0.1, inside the real question stage on the bundled corpus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.run_config import load_run_config
from schemas.settings import Settings
from tasks.ingest.live import RetryPolicy
from tasks.questions.stage import question_all, text_index
from tests.factories import ingest_and_sample, png_bytes
from tests.fakes.mediawiki_server import FakeFile, FakeMediaWiki
from warehouse.db import Connection

ROOT = Path(__file__).resolve().parents[2]
FAST = RetryPolicy(attempts=2, backoff=0.01, max_wait=0.1, timeout=2.0)


@pytest.fixture
def seeded(tmp_path: Path, warehouse: Connection) -> list[str]:
    cfg = load_run_config(ROOT / "flows/configs/demo.yaml")
    ingest_and_sample(warehouse, tmp_path, cfg.ingest.sources[0], cfg.sampling, cfg.ingest)
    return [str(r[0]) for r in warehouse.execute("SELECT DISTINCT seed_title FROM paths ORDER BY 1").fetchall()]


@pytest.fixture
def commons(seeded: list[str]) -> Iterator[FakeMediaWiki]:
    with FakeMediaWiki() as server:
        for i, title in enumerate(seeded):
            server.add_file(FakeFile(f"{title} landscape.jpg", png_bytes(320, 240, (i * 30 % 255, 90, 40)), 320, 240,
                                     mime="image/png", artist_html="<i>A. Photographer</i>"))
            server.add_file(FakeFile(f"{title} map.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", 10, 10,
                                     mime="image/svg+xml"))
        yield server


def run(con: Connection, tmp_path: Path, api_url: str) -> dict[tuple[str, str], int]:
    cfg = load_run_config(ROOT / "flows/configs/demo.yaml")
    qcfg = cfg.questions.model_copy(update={"commons_api_url": api_url})
    return dict(question_all(con, qcfg, "run-commons", tmp_path, Settings(), text_index, ingest_cfg=cfg.ingest,
                             commons_policy=FAST))


def test_commons_hits_become_extra_candidates_once_per_anchor(
        tmp_path: Path, warehouse: Connection, seeded: list[str], commons: FakeMediaWiki) -> None:
    counts = run(warehouse, tmp_path, commons.commons_api_url)
    assert counts[("commons_search", "added")] == len(seeded)
    refs = warehouse.execute("SELECT title, file_name, ordinal, f.license, f.author FROM image_refs"
                             " JOIN image_files f USING (wiki, file_name) WHERE role = 'commons' ORDER BY 1").fetchall()
    assert [r[0] for r in refs] == seeded                      # one raster hit per anchor; the SVG is not a candidate
    assert all(r[1].endswith("landscape.jpg") and r[2] >= 1000 and r[3] and r[4] == "A. Photographer" for r in refs)
    svg = warehouse.execute("SELECT count(*) FROM rejects WHERE stage = 'questions' AND reason = 'unsupported_format'"
                            " AND unit_id LIKE '%map.svg'").fetchone()
    assert svg == (len(seeded),)
    # the extra candidates were scored: grounded items saw more than the page's own images
    seen = warehouse.execute("SELECT max(image_candidates) FROM question_items"
                             " WHERE image_sha256 IS NOT NULL").fetchone()
    assert seen is not None and seen[0] >= 2
    # the infobox image still wins under the offline heuristic
    chosen = warehouse.execute("SELECT count(*) FROM question_items"
                               " WHERE image_file_name LIKE '%landscape.jpg'").fetchone()
    assert chosen == (0,)
    searches = len(commons.select("commons"))
    # a second run on the same anchors searches nothing again
    warehouse.execute("DELETE FROM question_items")
    again = run(warehouse, tmp_path, commons.commons_api_url)
    assert again[("commons_search", "cached")] == sum(v for (k, _), v in counts.items() if k == "commons_search")
    assert len(commons.select("commons")) == searches


def test_failed_commons_search_is_a_reject_and_the_item_goes_on(
        tmp_path: Path, warehouse: Connection, seeded: list[str], commons: FakeMediaWiki) -> None:
    commons.fail("*", 503, api="commons")
    counts = run(warehouse, tmp_path, commons.commons_api_url)
    assert counts[("commons_search", "failed")] == len(seeded)
    assert counts[("kept", "accepted")] >= 3                   # grounded on the pages' own images
    failed = warehouse.execute("SELECT count(*) FROM rejects WHERE reason = 'commons_search_failed'").fetchone()
    assert failed == (len(seeded),)
    commons.faults.clear()
    warehouse.execute("DELETE FROM question_items")
    retried = run(warehouse, tmp_path, commons.commons_api_url)
    assert retried[("commons_search", "added")] == len(seeded)
    left = warehouse.execute("SELECT count(*) FROM rejects WHERE reason = 'commons_search_failed'").fetchone()
    assert left == (0,)
