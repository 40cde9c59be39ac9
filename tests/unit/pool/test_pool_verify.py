"""Local-feature verification behind the pHash fast path (``tasks.pool.verify``): labelled queries that must
match (crops at any offset, mirror images, rotations, a canvas, JPEG q30) and unrelated images that must not,
on generated photos here and on the real ZIM images (``data`` marker) with precision and recall."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from schemas.pool import DecontamConfig
from tasks.pool.decontam import BenchmarkRef, Decontaminator, fingerprint


def scene(seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A textured scene: gradient, noise, many shapes and a few lines (ORB needs corners)."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 200 / w, yy * 200 / h, (xx + yy) * 100 / (w + h)], axis=2) + rng.normal(0, 6, (h, w, 3))
    img = Image.fromarray(base.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x, y = int(rng.integers(0, w - 30)), int(rng.integers(0, h - 30))
        box = (x, y, x + int(rng.integers(8, 60)), y + int(rng.integers(8, 60)))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)(box, fill=colour)
    return img


def png(img: Image.Image, fmt: str = "PNG", **kw: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def variants(img: Image.Image, rng: random.Random) -> Iterator[tuple[str, Image.Image]]:
    w, h = img.size
    for area in (0.5, 0.7, 0.95):
        f = area ** 0.5
        cw, ch = round(w * f), round(h * f)
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        yield f"crop_{area}", img.crop((x, y, x + cw, y + ch))
    yield "mirror", ImageOps.mirror(img)
    yield "rotate_5", img.rotate(5, expand=True, fillcolor=(255, 255, 255))
    canvas = Image.new("RGB", (int(w * 1.7), int(h * 1.5)), (30, 120, 200))
    canvas.paste(img, (rng.randint(0, canvas.width - w), rng.randint(0, canvas.height - h)))
    yield "canvas", canvas
    yield "jpeg_q30", Image.open(io.BytesIO(png(img, "JPEG", quality=30)))


def index(images: list[Image.Image], **cfg: object) -> Decontaminator:
    dec = Decontaminator.empty(DecontamConfig(**cfg))  # type: ignore[arg-type]
    for i, im in enumerate(images):
        dec.add_image(BenchmarkRef("bench", f"b{i}", f"b{i}.png"), fingerprint(png(im), crops=True, keep_gray=True))
    return dec


def score(dec: Decontaminator, bench: list[Image.Image], unrelated: list[Image.Image]
          ) -> tuple[float, float, dict[str, int], list[str]]:
    rng = random.Random(1)
    found, total, misses = 0, 0, {}
    for i, im in enumerate(bench):
        for kind, q in variants(im, rng):
            m = dec.check("", fingerprint(png(q), crops=False, keep_gray=True))
            total += 1
            ok = m is not None and m.ref.ref_id == f"b{i}"
            found += ok
            if not ok:
                misses[kind] = misses.get(kind, 0) + 1
    false_pos = [f"u{j}" for j, im in enumerate(unrelated)
                 if dec.check("", fingerprint(png(im), crops=False, keep_gray=True)) is not None]
    recall = found / total
    precision = found / (found + len(false_pos)) if found else 0.0
    return recall, precision, misses, false_pos


def test_verification_finds_what_the_phash_misses_on_generated_scenes() -> None:
    bench = [scene(s) for s in range(6)]
    unrelated = [scene(100 + s) for s in range(12)]
    recall, precision, misses, false_pos = score(index(bench), bench, unrelated)
    assert false_pos == [] and precision == 1.0
    assert recall >= 0.95, misses
    fast_only, _, _, _ = score(index(bench, verify_images=False), bench, unrelated)
    assert fast_only < recall                     # the fast path alone misses offset crops, mirrors, canvases


def test_match_says_how_it_was_verified() -> None:
    img = scene(3)
    dec = index([img])
    m = dec.check("", fingerprint(png(ImageOps.mirror(img.crop((100, 50, 400, 330)))), crops=False, keep_gray=True))
    assert m is not None and m.kind == "image_match" and "RANSAC inliers" in m.detail and "mirrored" in m.detail


ZIM = Path(__file__).resolve().parents[4] / "shared" / "data" / "zim" / "wikipedia_en_ray_charles_2015-06.zim"


@pytest.mark.data
@pytest.mark.slow
def test_real_images_recall_and_no_false_positive() -> None:
    if not ZIM.exists():
        pytest.skip(f"ZIM fixture not found at {ZIM}")
    from benchmarks.tools import load_zim

    images = [im.image for im in load_zim(ZIM).content_images()]
    rng = random.Random(5)
    rng.shuffle(images)
    bench, unrelated = images[:20], images[20:]
    names = {im.path for im in load_zim(ZIM).content_images()}
    assert len(names) >= 90
    recall, precision, misses, false_pos = score(index(bench), bench, unrelated)
    # 'The Genius Sings the Blues' cover and its reissue are one picture: allowed as a match, if drawn apart
    assert len(false_pos) <= 1 and precision >= 0.99, false_pos
    assert recall >= 0.93, misses
