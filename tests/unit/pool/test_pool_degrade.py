"""Degradations of the enhancement subset: seeded, in range, exact sizes, and undone by the repair tools."""

from __future__ import annotations

import random
from collections import Counter

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from schemas.pool import EnhanceConfig
from tasks.pool.degrade import (
    border_fill,
    corners_recovered,
    degrade,
    downsample,
    gaussian_blur,
    item_rng,
    perspective,
    select_items,
)
from toolenv.tools.perspective import find_quad, perspective_correct
from toolenv.tools.sharpen import sharpen
from toolenv.tools.superres import lanczos_unsharp


def picture(width: int = 400, height: int = 300, seed: int = 0) -> Image.Image:
    """A photo-like test image: mid-tone background, textured, with coloured shapes and dark bars."""
    rng = np.random.default_rng(seed)
    base = rng.normal((120, 100, 80), 10, (height, width, 3)).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(base)
    draw = ImageDraw.Draw(img)
    for _ in range(10):
        x, y = int(rng.integers(0, width - 60)), int(rng.integers(0, height - 60))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        draw.ellipse((x, y, x + int(rng.integers(20, 60)), y + int(rng.integers(20, 60))), fill=colour)
    for i in range(6):
        draw.rectangle((20, 20 + i * 40, 20 + 30 * (i + 1), 30 + i * 40), fill=(15, 15, 15))
    return img


def laplacian_variance(img: Image.Image) -> float:
    return float(cv2.Laplacian(np.asarray(img.convert("L")), cv2.CV_64F).var())


def test_selection_is_per_item_deterministic_and_order_free() -> None:
    ids = [f"item{i}" for i in range(2000)]
    chosen = select_items(ids, 0.10, seed=7)
    assert 150 <= len(chosen) <= 250                                             # about a tenth
    assert select_items(list(reversed(ids)) + ids[:5], 0.10, seed=7) == chosen   # order and repeats don't matter
    # a per-item decision: an item's fate does not depend on which other items are in the pool (shards)
    assert set(select_items(ids[:1000], 0.10, seed=7)) | set(select_items(ids[1000:], 0.10, seed=7)) == set(chosen)
    assert select_items(ids, 0.10, seed=8) != chosen
    assert select_items(ids, 0.0, seed=7) == [] and len(select_items(ids, 1.0, seed=7)) == 2000


def test_degradation_is_deterministic_given_the_seed_and_item() -> None:
    cfg = EnhanceConfig()
    img = picture()
    for item in ("a", "b", "c", "d"):
        k1, p1, out1 = degrade(img, cfg, item_rng(cfg.seed, item))
        k2, p2, out2 = degrade(img, cfg, item_rng(cfg.seed, item))
        assert (k1, p1) == (k2, p2)
        assert np.array_equal(np.asarray(out1), np.asarray(out2))


def test_kinds_are_uniform_and_parameters_in_range() -> None:
    cfg = EnhanceConfig()
    kinds: Counter[str] = Counter()
    small = picture(120, 80)
    for i in range(300):
        kind, params, out = degrade(small, cfg, item_rng(cfg.seed, f"id{i}"))
        kinds[kind] += 1
        if kind == "blur":
            assert 1.5 <= float(params["sigma"]) <= 3.5  # type: ignore[arg-type]
        elif kind == "downsample":
            assert params["factor"] == 4 and params["to"] == [30, 20] and out.size == (30, 20)
        else:
            jitter = np.array(params["jitter"])
            assert jitter.shape == (4, 2) and jitter.min() >= 0.08 and jitter.max() <= 0.20
            assert out.size == small.size
    assert set(kinds) == {"blur", "downsample", "perspective"}
    assert all(70 <= n <= 130 for n in kinds.values()), kinds
    only = EnhanceConfig(kinds=["blur"], blur_sigma=(2.0, 2.0))
    assert degrade(small, only, random.Random(1))[:2] == ("blur", {"sigma": 2.0, "method": "cv2.GaussianBlur"})


@pytest.mark.parametrize(("size", "expect"), [((400, 300), (100, 75)), ((403, 302), (100, 75)), ((3, 2), (1, 1))])
def test_downsample_is_exactly_a_quarter(size: tuple[int, int], expect: tuple[int, int]) -> None:
    assert downsample(picture(*size) if min(size) > 60 else Image.new("RGB", size), 4).size == expect


def test_downsample_is_area_averaging_and_super_resolution_restores_the_size() -> None:
    img = picture()
    small = downsample(img, 4)
    block = np.asarray(img, dtype=np.float64)[:4, :4].reshape(-1, 3).mean(axis=0)
    assert np.abs(np.asarray(small, dtype=np.float64)[0, 0] - block).max() <= 1.0
    assert lanczos_unsharp(small, 4).size == img.size


def test_blur_lowers_sharpness_and_the_sharpen_tool_raises_it() -> None:
    img = picture()
    for sigma in (1.5, 3.5):
        blurred = gaussian_blur(img, sigma)
        assert laplacian_variance(blurred) < 0.5 * laplacian_variance(img)
        assert laplacian_variance(sharpen(blurred)) > 1.5 * laplacian_variance(blurred)


@pytest.mark.parametrize("seed", range(6))
def test_perspective_is_repairable_by_the_perspective_tool(seed: int) -> None:
    """The corner finder of ``perspective_correct`` recovers the jittered corners within 2 % of the side,
    and the rectified picture matches the original."""
    img = picture(seed=seed)
    rng = random.Random(seed)
    jitter = [[rng.uniform(0.08, 0.20) for _ in range(2)] for _ in range(4)]
    warped, corners, fill = perspective(img, jitter)
    assert warped.size == img.size and fill == border_fill(np.asarray(img))
    w, h = img.size
    assert corners[0][0] >= 0.08 * w - 1e-3 and corners[2][1] <= h - 1 - 0.08 * h + 1e-3   # moved inward
    quad = find_quad(np.asarray(warped))
    assert quad is not None
    assert float(np.abs(quad - corners).max()) <= 0.02 * max(w, h)
    assert corners_recovered(warped, corners)
    out, _ = perspective_correct(warped)
    assert out is not None
    back = np.asarray(out.resize(img.size, Image.Resampling.BOX), dtype=np.float32)
    assert np.abs(back - np.asarray(img, dtype=np.float32)).mean() < 30


def test_perspective_params_record_corners_fill_and_repairability() -> None:
    cfg = EnhanceConfig(kinds=["perspective"])
    kind, params, out = degrade(picture(), cfg, item_rng(1, "x"))
    assert kind == "perspective" and params["repairable"] is True
    corners = np.array(params["corners"], dtype=np.float32)
    quad = find_quad(np.asarray(out))
    assert quad is not None and float(np.abs(quad - corners).max()) <= 8


def test_border_fill_contrasts_with_the_border() -> None:
    dark = np.zeros((50, 50, 3), np.uint8)
    light = np.full((50, 50, 3), 250, np.uint8)
    half = np.concatenate([np.full((50, 25, 3), 70, np.uint8), np.full((50, 25, 3), 255, np.uint8)], axis=1)
    assert border_fill(dark) == 255 and border_fill(light) == 0
    assert 140 <= border_fill(half) <= 180      # between dark green (70) and white, not black
