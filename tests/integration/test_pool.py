"""The pool stage on a real warehouse: the bundled corpus through the question stage, then external sources
merged, benchmark overlaps dropped (by question and by image), reruns idempotent, the enhancement subset."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageDraw

from schemas.pool import ColumnMap, DecontamConfig, EnhanceConfig, ExternalSource, PoolConfig
from schemas.run_config import load_run_config
from schemas.settings import Settings
from tasks.pool.degrade import select_items
from tasks.pool.stage import build_pool, enhance_pool
from tasks.questions.stage import question_all, text_index
from tests.factories import ingest_and_sample
from warehouse.db import Connection, connect, run_query

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled corpus ingested, sampled and questioned once (a data dir: warehouse + images)."""
    data = tmp_path_factory.mktemp("demo")
    cfg = load_run_config(ROOT / "flows/configs/demo.yaml")
    with connect(data / "warehouse.duckdb") as con:
        ingest_and_sample(con, data, cfg.ingest.sources[0], cfg.sampling, cfg.ingest)
        question_all(con, cfg.questions, "run-test", data, Settings(), text_index)
    return data


@pytest.fixture
def data_dir(demo_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(demo_dir, copy)
    return copy


def encode(img: Image.Image, fmt: str = "PNG", **kw: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def photo(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.normal(110, 12, (240, 320, 3)).clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x, y = int(rng.integers(0, 280)), int(rng.integers(0, 200))
        draw.ellipse((x, y, x + int(rng.integers(15, 90)), y + int(rng.integers(15, 90))),
                     fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return img


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def pool_config(con: Connection, tmp: Path, data_dir: Path) -> tuple[PoolConfig, dict[str, str]]:
    """Two external sources and one benchmark that overlaps one wiki item by question, one by image and
    one external item by image. Returns the config and the ids expected to be contaminated."""
    wiki = con.execute("SELECT item_id, question, image_sha256, image_path FROM vqa_items ORDER BY item_id").fetchall()
    by_image: dict[str, list[tuple[str, str, str]]] = {}
    for item_id, question, sha, path in wiki:
        by_image.setdefault(sha, []).append((item_id, question, path))
    singles = sorted(v[0] for v in by_image.values() if len(v) == 1)
    assert len(singles) >= 2, "the bundled corpus gives at least two items with an image of their own"
    (text_hit, text_q, _), (image_hit, _, image_path) = singles[0], singles[1]
    media = tmp / "media"
    media.mkdir()
    for i in range(3):
        (media / f"p{i}.png").write_bytes(encode(photo(i)))
    (media / "broken.png").write_bytes(b"\x89PNG truncated")
    live = write_jsonl(tmp / "livevqa.jsonl", [
        {"id": "l0", "question": "Which festival is this stage set up for?", "answer": "Glastonbury",
         "image": "media/p0.png"},
        {"id": "l1", "question": "Which team plays in the stadium shown?", "answer": "Ajax", "image": "media/p1.png"},
        {"id": "l2", "question": "Which city hosts this parade?", "answer": "Rio", "image": "https://example.org/p.jpg"},
        {"id": "l3", "question": "", "answer": "x", "image": "media/p0.png"},
        {"id": "l4", "question": "What is broken here?", "answer": "x", "image": "media/broken.png"},
        {"question": "Which festival is this stage set up for?", "answer": "Glastonbury", "image": "media/p0.png"},
        {"question": "Which river flows past this building?", "answer": "Thames", "aliases": ["River Thames"],
         "image": "media/p2.png"},
    ])
    pq.write_table(pa.table({"q": ["What breed is this?", "What is this fruit?"], "a": ["Beagle", "Durian"],
                             "img": [encode(photo(10)), encode(photo(11))]}), tmp / "fvqa.parquet")
    bench_image = Image.open(data_dir / image_path).convert("RGB").resize((512, 384), Image.Resampling.LANCZOS)
    (media / "bench_flag.jpg").write_bytes(encode(bench_image, "JPEG", quality=80))
    (media / "bench_p1.jpg").write_bytes(encode(photo(1).resize((160, 120)), "JPEG", quality=70))
    (media / "bench_other.png").write_bytes(encode(photo(99)))
    bench = write_jsonl(tmp / "simplevqa.jsonl", [
        {"qid": "s0", "question": text_q, "image": None},
        {"qid": "s1", "question": "Name the nation this banner belongs to.", "image": "media/bench_flag.jpg"},
        {"qid": "s2", "question": "Who built it?", "image": "media/bench_p1.jpg"},
        {"qid": "s3", "question": "How tall is the mountain in the background of this photograph?",
         "image": "media/bench_other.png"},
    ])
    cfg = PoolConfig(
        sources=[ExternalSource(name="livevqa", path=live, columns=ColumnMap(id="id", answer_aliases="aliases")),
                 ExternalSource(name="fvqa", path=tmp / "fvqa.parquet", columns=ColumnMap(question="q", answer="a",
                                                                                            image="img"))],
        decontam=DecontamConfig(benchmarks=[ExternalSource(name="simplevqa", path=bench,
                                                           columns=ColumnMap(answer=None, id="qid"))]))
    return cfg, {"text": text_hit, "image": image_hit}


def table_rows(con: Connection, table: str) -> list[tuple[object, ...]]:
    cols = {"pool_items": "item_id, source, question, answer, aliases, image_sha256, image_url, provenance",
            "pool_rejects": "item_id, source, stage, reason, benchmark, matched_id, matched_text, distance, detail",
            "enhancements": "item_id, kind, params, original_sha256, degraded_sha256, width, height, size_bytes"}
    return con.execute(f"SELECT {cols[table]} FROM {table} ORDER BY item_id").fetchall()


def test_build_pool_merges_decontaminates_and_reruns_idempotently(data_dir: Path, tmp_path: Path) -> None:
    with connect(data_dir / "warehouse.duckdb") as con:
        n_wiki = con.execute("SELECT count(*) FROM vqa_items").fetchall()[0][0]
        cfg, hits = pool_config(con, tmp_path, data_dir)
        counts = build_pool(con, cfg, "run-pool", data_dir)
        assert {k: v for k, v in counts.items() if not k.startswith("note:")} == {
            "kept:wiki": n_wiki - 2, "kept:livevqa": 3, "kept:fvqa": 2,
            "dropped:merge:missing_question": 1, "dropped:merge:bad_image": 1, "dropped:merge:duplicate": 1,
            "dropped:decontam:question_overlap": 1, "dropped:decontam:image_match": 2}
        assert counts["note:benchmark_rows:simplevqa"] == 4 and counts["note:image_url_not_fetched"] == 1
        rejects = {r[0]: r for r in table_rows(con, "pool_rejects")}
        text, image = rejects[hits["text"]], rejects[hits["image"]]
        assert text[1:6] == ("wiki", "decontam", "question_overlap", "simplevqa", "s0") and text[7] == 1.0
        assert image[1:6] == ("wiki", "decontam", "image_match", "simplevqa", "s1")
        assert image[6] == "media/bench_flag.jpg"
        live_hit = next(r for r in rejects.values() if r[5] == "s2")
        assert live_hit[1:4] == ("livevqa", "decontam", "image_match") and float(str(live_hit[7])) <= 6
        dup = rejects["livevqa:row5"]
        assert dup[3] == "duplicate" and str(dup[5]).startswith("livevqa:")
        # wiki items keep their vqa_items id and point back to their path
        prov = dict(con.execute(
            "SELECT item_id, provenance->>'path_id' FROM pool_items WHERE source = 'wiki'").fetchall())
        vqa = dict(con.execute("SELECT item_id, path_id FROM vqa_items").fetchall())
        assert prov == {i: p for i, p in vqa.items() if i not in hits.values()}
        # external images are stored content-addressed and registered in image_blobs
        paths = con.execute("SELECT image_path FROM pool_view WHERE source <> 'wiki' AND image_sha256 IS NOT NULL")
        stored = [str(p) for (p,) in paths.fetchall()]
        assert len(stored) == 4 and all((data_dir / p).is_file() for p in stored)
        thames = con.execute("SELECT answer, aliases FROM pool_items WHERE question LIKE '%river%'").fetchall()
        assert thames == [("Thames", ["River Thames"])]
        # the funnel query shows kept by source and drops by reason with the matched benchmark
        _, rows = run_query(con, "pool_funnel")
        funnel = {(r[0], r[1], r[3], r[4]): r[5] for r in rows}
        assert funnel[("wiki", "kept", "", "")] == n_wiki - 2
        assert funnel[("wiki", "dropped", "image_match", "simplevqa")] == 1
        assert funnel[("livevqa", "dropped", "duplicate", "")] == 1
        before = {t: table_rows(con, t) for t in ("pool_items", "pool_rejects")}
        blobs = con.execute("SELECT count(*) FROM image_blobs").fetchall()
        assert build_pool(con, cfg, "run-pool-2", data_dir) == counts
        assert {t: table_rows(con, t) for t in before} == before
        assert con.execute("SELECT count(*) FROM image_blobs").fetchall() == blobs


def test_enhance_pool_degrades_a_tenth_with_recorded_kinds(data_dir: Path, tmp_path: Path) -> None:
    with connect(data_dir / "warehouse.duckdb") as con:
        cfg, _ = pool_config(con, tmp_path, data_dir)
        build_pool(con, cfg, "run-pool", data_dir)
        ids = [i for (i,) in con.execute("SELECT item_id FROM pool_items ORDER BY item_id").fetchall()]
        local = [i for (i,) in con.execute(
            "SELECT item_id FROM pool_items WHERE image_sha256 IS NOT NULL ORDER BY item_id").fetchall()]
        counts = enhance_pool(con, cfg, "run-enh", [*ids, "not-an-item"], data_dir)
        expected = len(select_items(local, cfg.enhance.fraction, cfg.enhance.seed))     # a per-item draw
        assert sum(v for k, v in counts.items() if k.startswith("enhanced:")) == expected
        assert counts["skipped:not_in_pool"] == 1 and counts["skipped:no_local_image"] == 1
        assert counts["kept:not_selected"] == len(local) - expected
        assert con.execute("SELECT count(*) FROM enhancements").fetchall() == [(expected,)]

        everything = cfg.model_copy(update={"enhance": EnhanceConfig(fraction=1.0, seed=3)})
        counts = enhance_pool(con, everything, "run-enh", ids, data_dir)
        rows = table_rows(con, "enhancements")
        assert len(rows) == len(local) and {r[1] for r in rows} == {"blur", "downsample", "perspective"}
        for item_id, kind, params_json, original, degraded, width, height, _ in rows:
            params = json.loads(str(params_json))
            assert params["seed"] == 3 and original != degraded
            src = con.execute("SELECT b.width, b.height FROM image_blobs b WHERE sha256 = ?", [original]).fetchall()[0]
            if kind == "downsample":
                assert (width, height) == (src[0] // 4, src[1] // 4)
            else:
                assert (width, height) == src
            if kind == "perspective":
                assert params["repairable"] is True
            path = con.execute("SELECT degraded_path FROM pool_view WHERE item_id = ?", [item_id]).fetchall()[0][0]
            assert Image.open(data_dir / str(path)).size == (width, height)
        assert enhance_pool(con, everything, "run-enh-2", ids, data_dir) == counts
        assert table_rows(con, "enhancements") == rows                     # same images, same rows
        # passing ids again at the default fraction keeps only the chosen subset among them
        enhance_pool(con, cfg, "run-enh-3", ids, data_dir)
        assert con.execute("SELECT count(*) FROM enhancements").fetchall() == [(expected,)]


def test_pool_tables_match_their_records(warehouse: Connection) -> None:
    from schemas.pool import Degradation, PoolItem, PoolReject

    for table, model in (("pool_items", PoolItem), ("pool_rejects", PoolReject), ("enhancements", Degradation)):
        columns = {str(r[0]) for r in warehouse.execute(f"DESCRIBE {table}").fetchall()}
        assert columns == set(model.model_fields) | {"run_id", "created_at"}, table
