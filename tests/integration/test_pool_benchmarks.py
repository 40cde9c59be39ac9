"""Declared benchmarks: copies under the data dir (``location: data_dir``), a clear error naming a missing one
(pool stage and preflight), and the rows/images/drops the card reports, through the real pool stage."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from schemas.errors import ConfigError, SourceError
from schemas.pool import ColumnMap, DecontamConfig, ExternalSource, PoolConfig
from schemas.run_config import RunConfig
from tasks.pool.stage import build_pool
from tasks.runs.preflight import check_run
from warehouse.db import connect
from warehouse.export import decontam_summary


def _png(seed: int) -> bytes:
    rng = random.Random(seed)
    img = Image.new("RGB", (320, 240), (rng.randint(0, 255), 90, 160))
    draw = ImageDraw.Draw(img)
    for _ in range(40):
        x, y = rng.randint(0, 290), rng.randint(0, 215)
        shape = draw.rectangle if rng.random() < 0.5 else draw.ellipse
        shape((x, y, x + rng.randint(8, 40), y + rng.randint(8, 30)), fill=tuple(rng.randint(0, 255) for _ in "rgb"))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _bench(name: str = "mmsearch", path: str = "benchmarks/mmsearch.jsonl") -> ExternalSource:
    return ExternalSource(name=name, path=Path(path), location="data_dir", hub_id="CaraJ/MMSearch",
                          columns=ColumnMap(question="query", answer="gt_answer", image="query_image", id="sample_id"))


def test_missing_benchmark_is_one_clear_error(tmp_path: Path) -> None:
    cfg = PoolConfig(include_wiki=False, decontam=DecontamConfig(benchmarks=[_bench()]))
    with connect(tmp_path / "warehouse.duckdb") as con, \
            pytest.raises(SourceError, match=r"benchmark 'mmsearch': .*benchmarks/mmsearch\.jsonl does not exist; "
                                             r"fetch it \(Hub dataset CaraJ/MMSearch\)"):
        build_pool(con, cfg, "run", tmp_path)
    (tmp_path / "d.xml").write_text("<mediawiki/>")
    source = {"kind": "xml", "path": str(tmp_path / "d.xml")}
    run = RunConfig.model_validate({"name": "x", "ingest": {"sources": [source]}, "pool": cfg.model_dump(mode="json")})
    with pytest.raises(ConfigError, match=r"pool\.decontam\.benchmarks\.0\.path: .*mmsearch\.jsonl does not exist "
                                          r"\(benchmark mmsearch: scripts/fetch_benchmarks\.py"):
        check_run(run, tmp_path)


def test_benchmark_in_the_data_dir_drops_overlapping_items_and_is_summarised(tmp_path: Path) -> None:
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "q1.png").write_bytes(_png(1))
    (tmp_path / "benchmarks" / "mmsearch.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [
        {"sample_id": "m1", "query": "Which album cover is this?", "gt_answer": "Soul Meeting",
         "query_image": "q1.png"},
        {"sample_id": "m2", "query": "In which city was Ray Charles born?", "gt_answer": "Albany"}]))
    src = tmp_path / "items"
    src.mkdir()
    crop = Image.open(io.BytesIO(_png(1))).crop((60, 40, 300, 230))
    crop.save(src / "crop.png")
    (src / "other.png").write_bytes(_png(5))
    (src / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": "a", "question": "Ray Charles was born in which city?", "answer": "Albany", "image": "other.png"},
        {"id": "b", "question": "Who is on this record sleeve?", "answer": "Milt Jackson", "image": "crop.png"},
        {"id": "c", "question": "Which label released this record first?", "answer": "Atlantic",
         "image": "other.png"}]))
    cfg = PoolConfig(include_wiki=False, sources=[ExternalSource(name="items", path=src / "items.jsonl",
                                                                 columns=ColumnMap(id="id"))],
                     decontam=DecontamConfig(benchmarks=[_bench()]))
    with connect(tmp_path / "warehouse.duckdb") as con:
        counts = build_pool(con, cfg, "run", tmp_path)
        rejects = dict(con.execute("SELECT item_id, reason || ' ' || detail FROM pool_rejects").fetchall())
        con.execute("INSERT INTO stage_stats VALUES ('run', 'pool', 'note', 'benchmark_rows:mmsearch', 2),"
                    " ('run', 'pool', 'note', 'benchmark_images:mmsearch', 1)")
        notes, dropped = decontam_summary(con)
    assert counts["note:benchmark_rows:mmsearch"] == 2 and counts["note:benchmark_images:mmsearch"] == 1
    assert sorted(r.split()[0] for r in rejects.values()) == ["image_match", "question_paraphrase"], rejects
    assert counts["kept:items"] == 1 and "RANSAC inliers" in " ".join(rejects.values())
    assert notes == {"benchmark_rows:mmsearch": 2, "benchmark_images:mmsearch": 1}
    assert sorted(dropped) == [("mmsearch", "image_match", 1), ("mmsearch", "question_paraphrase", 1)]
