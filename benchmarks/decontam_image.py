"""Image decontamination through the real pool stage: the pHash/thumbnail fast path alone (baseline) vs. the
fast path + local-feature verification (ours, ``tasks.pool.verify``).

Images: the real photographs and covers of the Ray Charles ZIM (``../shared/data``, read at run time, never
copied) and the bundled corpus's flags. Two folds: each half in turn is the benchmark (a JSONL of image
files); the pool is one external source holding, per benchmark image, a crop of 50–95 % area at a random
position, a 50 % crop, a mirror image, a ±3–5° rotation, the image pasted onto a larger canvas, a JPEG q30
copy and a mirrored crop (must be dropped), and, per image of the *other* half, the image itself, a JPEG q30
copy and a 70 % crop (must be kept). Pictures that are the same picture (a cover and its reissue) are kept in
one fold and listed. Recall and false positives are read from ``pool_rejects``.

Time per query with an index of 10,000 benchmark images (``--index 10000``): the 10,000 are synthesised from
the real images of one fold (random crops, mirrors, rotations, scalings and colour shifts), since no 10,000
real benchmark images are at hand; the queries are the positives above, checked with ``Decontaminator.check``.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps

from benchmarks._common import fixture
from benchmarks.tools import load_zim
from schemas.pool import ColumnMap, DecontamConfig, ExternalSource, PoolConfig
from tasks.pool.decontam import BenchmarkRef, Decontaminator, fingerprint
from tasks.pool.sources import RowReject, load_rows
from tasks.pool.stage import build_pool, external_item_id
from tasks.pool.verify import SHORTLIST, FeatureIndex, features
from toolenv.backends.image_features import gray_array
from warehouse.db import connect

REPO = Path(__file__).resolve().parents[1]


def _jpeg(im: Image.Image, q: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=q)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _crop(im: Image.Image, area: float, rng: random.Random) -> Image.Image:
    w, h = im.size
    f = area ** 0.5
    cw, ch = max(8, round(w * f)), max(8, round(h * f))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    return im.crop((x, y, x + cw, y + ch))


def _canvas(im: Image.Image, rng: random.Random) -> Image.Image:
    w, h = im.size
    big = Image.new("RGB", (int(w * rng.uniform(1.3, 2.0)), int(h * rng.uniform(1.3, 2.0))),
                    tuple(rng.randint(0, 255) for _ in range(3)))
    big.paste(im, (rng.randint(0, big.width - w), rng.randint(0, big.height - h)))
    return big


def positives(im: Image.Image, rng: random.Random) -> Iterator[tuple[str, Image.Image]]:
    yield "crop_50_95", _crop(im, rng.uniform(0.5, 0.95), rng)
    yield "crop_50", _crop(im, 0.5, rng)
    yield "mirror", ImageOps.mirror(im)
    yield "rotate_5", im.rotate(rng.choice([-5, -4, -3, 3, 4, 5]), expand=True, fillcolor=(255, 255, 255))
    yield "canvas", _canvas(im, rng)
    yield "jpeg_q30", _jpeg(im, 30)
    yield "mirror_crop", ImageOps.mirror(_crop(im, rng.uniform(0.5, 0.95), rng))


def negatives(im: Image.Image, rng: random.Random) -> Iterator[tuple[str, Image.Image]]:
    yield "unrelated", im
    yield "unrelated_jpeg_q30", _jpeg(im, 30)
    yield "unrelated_crop_70", _crop(im, 0.7, rng)


def real_images() -> list[tuple[str, Image.Image]]:
    corpus = load_zim(fixture("zim/wikipedia_en_ray_charles_2015-06.zim"))
    out = [(im.path, im.image) for im in corpus.content_images()]
    flags = sorted((REPO / "corpus" / "enwiki-sample" / "media").rglob("*.png"))
    return out + [(f.name, Image.open(f).convert("RGB")) for f in flags]


def _save(im: Image.Image, path: Path) -> str:
    im.save(path, "PNG")
    return path.name


def same_pictures(images: list[tuple[str, Image.Image]]) -> list[set[int]]:
    """Groups of images that are the same picture (a cover and its reissue): each raw image is verified
    against the shortlist of all the others with the default thresholds."""
    cfg = DecontamConfig()
    index = FeatureIndex(cfg.verify_min_inliers, cfg.verify_min_cover)
    feats = [features(gray_array(im)) for _, im in images]
    for f in feats:
        index.add(f)
    groups = [{i} for i in range(len(images))]
    for i, f in enumerate(feats):
        for j in index.shortlist(f, k=SHORTLIST + 1):
            n, cover = index.verify(f, j) if j != i else (0, 0.0)
            if n >= cfg.verify_min_inliers and cover >= cfg.verify_min_cover:
                merged = groups[i] | groups[j]
                for k in merged:
                    groups[k] = merged
    return list({id(g): g for g in groups}.values())


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def run_fold(bench: list[int], other: list[int], images: list[tuple[str, Image.Image]], folder: Path,
             cfg: DecontamConfig, rng_seed: int) -> tuple[Counter[str], Counter[str], int, float]:
    rng = random.Random(rng_seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"b{i}", "question": f"benchmark photograph number {i}",
             "image": _save(images[i][1], folder / f"b{i}.png")} for i in bench]
    (folder / "bench.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    items: list[tuple[str, str | None]] = []          # (kind, expected benchmark id or None)
    pool_rows: list[dict[str, str]] = []
    for i in bench:
        for kind, q in positives(images[i][1], rng):
            pool_rows.append({"id": f"p{len(pool_rows)}", "question": f"pool query {len(pool_rows)}",
                              "answer": "x", "image": _save(q, folder / f"p{len(pool_rows)}.png")})
            items.append((kind, f"b{i}"))
    for i in other:
        for kind, q in negatives(images[i][1], rng):
            pool_rows.append({"id": f"p{len(pool_rows)}", "question": f"pool query {len(pool_rows)}",
                              "answer": "x", "image": _save(q, folder / f"p{len(pool_rows)}.png")})
            items.append((kind, None))
    (folder / "pool.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pool_rows))
    bsrc = ExternalSource(name="bench", path=folder / "bench.jsonl", columns=ColumnMap(answer=None, id="id"))
    psrc = ExternalSource(name="items", path=folder / "pool.jsonl", columns=ColumnMap(id="id"))
    pool = PoolConfig(include_wiki=False, sources=[psrc], decontam=cfg.model_copy(update={"benchmarks": [bsrc]}))
    data = folder / f"data-{cfg.verify_images}"
    data.mkdir(exist_ok=True)
    with connect(data / "warehouse.duckdb") as con:
        t0 = time.perf_counter()
        build_pool(con, pool, "bench", data)
        elapsed = time.perf_counter() - t0
        dropped = {str(r[0]): str(r[1]) for r in con.execute(
            "SELECT item_id, matched_id FROM pool_rejects WHERE stage = 'decontam'").fetchall()}
    hit: Counter[str] = Counter()
    total: Counter[str] = Counter()
    false_pos = 0
    for row, (kind, want) in zip(load_rows(psrc, max_image_bytes=10**8, max_image_pixels=10**8), items, strict=True):
        if isinstance(row, RowReject):
            raise SystemExit(f"pool row {row.row}: {row.detail}")
        got = dropped.get(external_item_id("items", row))
        if want is None:
            false_pos += got is not None
        else:
            total[kind] += 1
            hit[kind] += got == want
    return hit, total, false_pos, elapsed / len(items)


def synthetic_index(images: list[Image.Image], n: int, rng: random.Random) -> Iterator[Image.Image]:
    """``n`` benchmark images made from ``images``: the originals, then random crops, mirrors, rotations,
    scalings and colour shifts of them."""
    yield from images
    for _ in range(n - len(images)):
        im = rng.choice(images)
        im = _crop(im, rng.uniform(0.4, 1.0), rng)
        if rng.random() < 0.5:
            im = ImageOps.mirror(im)
        im = im.rotate(rng.uniform(-20, 20), expand=True, fillcolor=(0, 0, 0))
        im = ImageEnhance.Color(im).enhance(rng.uniform(0.3, 1.7))
        side = rng.randint(120, 400)
        im.thumbnail((side, side))
        yield im


def time_per_query(images: list[tuple[str, Image.Image]], bench: list[int], size: int) -> tuple[float, float, float]:
    rng = random.Random(7)
    dec = Decontaminator.empty(DecontamConfig())
    t0 = time.perf_counter()
    for k, im in enumerate(synthetic_index([images[i][1] for i in bench], size, rng)):
        dec.add_image(BenchmarkRef("synthetic", str(k), str(k)), fingerprint(_png(im), crops=True, keep_gray=True))
    build_s = time.perf_counter() - t0
    queries = [q for i in bench for _, q in positives(images[i][1], rng)]
    t0 = time.perf_counter()
    fast = sum(dec.images.match(fingerprint(_png(q), crops=False)) is not None for q in queries)
    fast_per_query = (time.perf_counter() - t0) / len(queries)
    t0 = time.perf_counter()
    found = sum(dec.check("", fingerprint(_png(q), crops=False, keep_gray=True)) is not None for q in queries)
    per_query = (time.perf_counter() - t0) / len(queries)
    print(f"index of {size} images built in {build_s:.0f} s; {len(queries)} queries; fast path alone: {fast} "
          f"matched, {1000 * fast_per_query:.1f} ms per query; with verification: {found} matched, "
          f"{1000 * per_query:.1f} ms per query")
    return per_query, fast_per_query, build_s


def main() -> None:
    ap = argparse.ArgumentParser(description="image decontamination via build_pool: fast path vs + verification")
    ap.add_argument("--index", type=int, default=10_000, help="benchmark images for the timing run (0: skip)")
    ap.add_argument("--timing-only", action="store_true", help="only the time per query against --index images")
    args = ap.parse_args()
    images = real_images()
    if args.timing_only:
        per_query, fast, build_s = time_per_query(images, list(range(0, len(images), 2)), args.index)
        print(json.dumps({"name": "decontam_image_ms_per_query", "unit": "ms/query", "index": args.index,
                          "ours": round(1000 * per_query, 1), "baseline": round(1000 * fast, 1),
                          "ratio": round(fast / per_query, 3), "target": None, "meets": None,
                          "baseline_is": "pHash/thumbnail fast path alone", "index_build_s": round(build_s)}))
        return
    groups = same_pictures(images)
    dups = [sorted(images[i][0] for i in g) for g in groups if len(g) > 1]
    print(f"{len(images)} real images; same-picture groups kept in one fold: {dups}")
    rng = random.Random(0)
    rng.shuffle(groups)
    folds: list[list[int]] = [[], []]
    for g in groups:
        folds[0 if len(folds[0]) <= len(folds[1]) else 1].extend(sorted(g))
    results = {}
    with tempfile.TemporaryDirectory(prefix="decontam-image-") as tmp:
        for label, cfg in (("baseline", DecontamConfig(verify_images=False)), ("ours", DecontamConfig())):
            hit: Counter[str] = Counter()
            total: Counter[str] = Counter()
            fp, secs = 0, 0.0
            for k in (0, 1):
                h, t, f, s = run_fold(folds[k], folds[1 - k], images, Path(tmp) / f"fold{k}", cfg, 100 + k)
                hit += h
                total += t
                fp += f
                secs += s / 2
            recall = sum(hit.values()) / sum(total.values())
            negs = 3 * len(images)
            print(f"{label}: recall {recall:.3f} (" + ", ".join(f"{k} {hit[k]}/{total[k]}" for k in total)
                  + f"); false positives {fp} of {negs} unrelated queries ({len(images)} real images); "
                  f"{1000 * secs:.1f} ms per pool item")
            results[label] = (recall, fp, {k: round(hit[k] / total[k], 3) for k in total}, secs)
    query_s = time_per_query(images, folds[0], args.index)[0] if args.index else None
    ours, base = results["ours"], results["baseline"]
    print(json.dumps({"name": "decontam_image_recall", "unit": "recall", "ours": round(ours[0], 3),
                      "baseline": round(base[0], 3), "ratio": round(ours[0] / max(base[0], 1e-9), 2), "target": 0.95,
                      "meets": ours[0] >= 0.95 and ours[1] == 0, "false_positives": ours[1],
                      "unrelated_images": len(images), "by_kind": ours[2],
                      "ms_per_query_index_10k": round(1000 * query_s, 1) if query_s else None}))


if __name__ == "__main__":
    main()
