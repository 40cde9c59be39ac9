"""A rerun skips a file source whose content, settings, media folder and ingest code are unchanged, and says so;
any change ingests it again. `tasks.runs.summary` turns before/after states into new / unchanged / dropped."""

from __future__ import annotations

from pathlib import Path

from tasks.ingest.ingest import ingest_source
from tasks.runs import summary
from tests.factories import small_world
from warehouse.db import connect
from warehouse.rejects import upsert_rejects


def test_unchanged_source_is_skipped_and_a_changed_one_is_not(tmp_path: Path) -> None:
    src, cfg = small_world(tmp_path)
    wh = tmp_path / "data" / "warehouse.duckdb"
    with connect(wh) as con:
        first = ingest_source(con, wh.parent, src, cfg, "run-1", workers=1)
        again = ingest_source(con, wh.parent, src, cfg, "run-2", workers=1)
        assert not first.unchanged and again.unchanged and again.pages == first.pages
        assert con.execute("SELECT run_id FROM sources").fetchall() == [("run-1",)]      # untouched
        stricter = cfg.model_copy(update={"max_image_pixels": 10})
        redo = ingest_source(con, wh.parent, src, stricter, "run-3", workers=1)
        assert not redo.unchanged                     # image limits shape the rows: ingested again
        assert src.media_dir is not None
        (src.media_dir / "extra.png").write_bytes(b"not listed in images.jsonl")
        assert not ingest_source(con, wh.parent, src, stricter, "run-4", workers=1).unchanged


def test_summary_counts_new_unchanged_and_dropped_in_pipeline_order(tmp_path: Path) -> None:
    src, cfg = small_world(tmp_path)
    wh = tmp_path / "data" / "warehouse.duckdb"
    before = summary.fingerprint(wh)                                  # no warehouse yet
    with connect(wh) as con:
        ingest_source(con, wh.parent, src, cfg, "run-1", workers=1)
        upsert_rejects(con, "sample_paths", "run-1", [("enwiki:x:Seed", "no_image", "")])
    mid = summary.fingerprint(wh)
    first = summary.compare(before, mid)
    assert [c.stage for c in first][:3] == ["ingest", "sample_paths", "questions"]
    ingest, sample = first[0], first[1]
    assert ingest.new > 0 and ingest.unchanged == 0 and sample.new_dropped == 1
    assert "nothing changed" not in summary.headline(first)
    again = summary.compare(mid, summary.fingerprint(wh))
    assert not any(c.changed for c in again)
    assert again[0].unchanged == ingest.new and again[1].dropped == 1
    assert summary.headline(again).startswith("nothing changed")
