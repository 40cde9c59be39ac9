"""Every tool on real images from the Ray Charles ZIM (../shared/data; skipped when absent), image-search
recall@5 on degraded copies, and super-resolution PSNR against bicubic."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from benchmarks.tools import ZimCorpus, load_zim, recall_at_k
from toolenv import EnvConfig, EpisodeItem, ImageIndex, RapidOcrEngine, TextIndex, ToolEnv
from toolenv.tools.perspective import find_quad
from toolenv.tools.superres import lanczos_unsharp

pytestmark = pytest.mark.data

ZIM = Path(__file__).resolve().parents[3] / "shared" / "data" / "zim" / "wikipedia_en_ray_charles_2015-06.zim"


@pytest.fixture(scope="module")
def corpus() -> ZimCorpus:
    if not ZIM.exists():
        pytest.skip(f"ZIM fixture not found at {ZIM}")
    return load_zim(ZIM)


@pytest.fixture(scope="module")
def image_index(corpus: ZimCorpus) -> ImageIndex:
    return ImageIndex.build(corpus.entries)


@pytest.fixture(scope="module")
def env(corpus: ZimCorpus, image_index: ImageIndex) -> ToolEnv:
    return ToolEnv.build(EnvConfig(), text_search=TextIndex.from_documents(corpus.documents),
                         image_search=image_index, ocr=RapidOcrEngine())


def image(corpus: ZimCorpus, name: str) -> Any:
    return next(im for im in corpus.images if im.path == f"I/m/{name}")


def turn(name: str, **arguments: Any) -> str:
    return f"<think>next</think><tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def test_corpus_shape(corpus: ZimCorpus) -> None:
    assert len(corpus.documents) == 85
    assert len(corpus.content_images()) >= 90
    assert image(corpus, "Ray_Charles_(cropped).jpg").pages[0] == "Ray Charles"


def test_image_search_recall_at_5_on_degraded_copies(corpus: ZimCorpus, image_index: ImageIndex) -> None:
    """Central 80 % crop, Gaussian blur σ∈[1, 2], downscale ×1/2…×1/4 (the benchmark's query)."""
    assert recall_at_k(image_index, corpus.content_images(), k=5) >= 0.9


def test_image_search_recall_at_5_on_random_offset_crops(corpus: ZimCorpus, image_index: ImageIndex) -> None:
    rng = random.Random(7)
    found = 0
    content = corpus.content_images()
    for im in content:
        w, h = im.image.size
        f = rng.uniform(0.7, 0.9)
        cw, ch = round(w * f), round(h * f)
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        query = im.image.crop((x, y, x + cw, y + ch)).resize((cw // 3, ch // 3), Image.Resampling.BILINEAR)
        found += any(hit.title in im.pages for hit in image_index.search(query, 5))
    assert found / len(content) >= 0.9


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / mse)


def test_superres_fallback_beats_bicubic_psnr(corpus: ZimCorpus) -> None:
    ours, bicubic = [], []
    for im in corpus.content_images():
        if min(im.image.size) < 100:
            continue
        w, h = im.image.width // 4 * 4, im.image.height // 4 * 4
        truth = np.asarray(im.image.crop((0, 0, w, h)))
        low = Image.fromarray(cv2.resize(truth, (w // 4, h // 4), interpolation=cv2.INTER_AREA))
        ours.append(psnr(truth, np.asarray(lanczos_unsharp(low, 4))))
        bicubic.append(psnr(truth, cv2.resize(np.asarray(low), (w, h), interpolation=cv2.INTER_CUBIC)))
    wins = np.mean(np.array(ours) > np.array(bicubic))
    assert len(ours) >= 90
    assert np.mean(ours) > np.mean(bicubic) + 0.1    # measured: 20.50 vs 20.34 dB over 98 images
    assert wins >= 0.9                                # measured: 98 / 98


def test_every_tool_on_real_images(corpus: ZimCorpus, env: ToolEnv) -> None:
    cover = image(corpus, "ModernSoundsInC&WMusic.jpg")
    env.reset(EpisodeItem("Which label released this album?", (cover.data,)))
    w, h = cover.image.size
    crop = env.step(turn("crop", image="img_1", x=0, y=0, width=w, height=h // 2))
    assert crop.images[0].height == h // 2
    sharp = env.step(turn("sharpen", image="img_1", amount=1.0))
    lap = [cv2.Laplacian(cv2.cvtColor(np.asarray(x), cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()
           for x in (cover.image, sharp.images[0].image)]
    assert lap[1] > 1.5 * lap[0]
    upscaled = env.step(turn("super_resolution", image="img_1", scale=2))
    assert (upscaled.images[0].width, upscaled.images[0].height) == (2 * w, 2 * h)
    read = env.step(turn("layout_parsing", image="img_1"))
    text = read.content.split("ALL RECOGNIZED TEXT:\n", 1)[1]
    assert "RAY CHARLES" in text
    assert "MODERN SOUNDS" in text
    found = env.step(turn("image_search", image="img_3"))      # the sharpened copy
    assert json.loads(found.content.split("\n", 1)[1])["visual_matches"][0]["title"] == \
        "Modern Sounds in Country and Western Music"
    search = env.step(turn("text_search", q="Ray Charles birthplace Albany Georgia"))
    assert "Title: Ray Charles\nURL: https://en.wikipedia.org/wiki/Ray_Charles" in search.content
    photo = env.step(turn("perspective_correct", image="img_1"))
    assert photo.ok
    assert env.state.consecutive_errors == 0


def test_perspective_recovers_real_images_warped_onto_a_background(corpus: ZimCorpus) -> None:
    """Each content image, resized to 300×300, warped onto a mid-grey noisy surface: corners within 4 px for
    ≥ 85 % of them (measured 93 / 100; the released pipeline alone: 34 / 100)."""
    corners = np.array([[90, 50], [500, 110], [540, 470], [60, 420]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(np.array([[0, 0], [299, 0], [299, 299], [0, 299]], np.float32), corners)
    mask = cv2.warpPerspective(np.full((300, 300), 255, np.uint8), matrix, (620, 540)) > 0
    surface = np.random.default_rng(0).normal(120, 5, (540, 620, 3)).clip(0, 255).astype(np.uint8)
    recovered = 0
    content = corpus.content_images()
    for im in content:
        scene = surface.copy()
        scene[mask] = cv2.warpPerspective(np.asarray(im.image.resize((300, 300))), matrix, (620, 540))[mask]
        quad = find_quad(scene)
        recovered += quad is not None and float(np.abs(quad - corners).max()) <= 4.0
    assert recovered / len(content) >= 0.85
