"""Image tools on generated images: crop geometry, the released unsharp formula, super-resolution fallback,
perspective correction of synthetic quadrilaterals."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from toolenv.config import EnvConfig
from toolenv.errors import ErrorKind, ToolError
from toolenv.tools.base import ToolContext
from toolenv.tools.crop import CropArgs, CropTool, crop, crop_box
from toolenv.tools.perspective import PerspectiveCorrectArgs, PerspectiveCorrectTool, find_quad, perspective_correct
from toolenv.tools.sharpen import sharpen
from toolenv.tools.superres import SuperResolutionArgs, SuperResolutionTool, SuperResolver, lanczos_unsharp


def gradient(w: int, h: int) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None, None]
    return Image.fromarray(np.concatenate([np.broadcast_to(x, (h, w, 1)), np.broadcast_to(y, (h, w, 1)),
                                           np.full((h, w, 1), 90, np.float32)], axis=2).astype(np.uint8))


def ctx_for(img: Image.Image, config: EnvConfig | None = None) -> ToolContext:
    def resolve(ref: str) -> Image.Image:
        if ref != "img_1":
            raise ToolError(ErrorKind.UNKNOWN_IMAGE, ref)
        return img

    return ToolContext(image=resolve, config=config or EnvConfig())


# ------------------------------------------------------------------ crop
def test_crop_is_absolute_pixels() -> None:
    img = gradient(100, 80)
    out, clipped = crop(img, 10, 20, 30, 40)
    assert out.size == (30, 40)
    assert not clipped
    assert out.getpixel((0, 0)) == img.getpixel((10, 20))
    assert out.getpixel((29, 39)) == img.getpixel((39, 59))


def test_crop_clips_far_edges_and_refuses_outside_origins() -> None:
    assert crop_box((100, 80), 90, 70, 50, 50) == ((90, 70, 100, 80), True)
    with pytest.raises(ToolError) as info:
        crop_box((100, 80), 100, 0, 5, 5)
    assert info.value.kind == ErrorKind.BAD_ARGUMENTS
    out = CropTool().run(CropArgs(image="img_1", x=90, y=0, width=50, height=10), ctx_for(gradient(100, 80)))
    assert out.images[0].size == (10, 10)
    assert "clipped" in out.text


# ------------------------------------------------------------------ sharpen
def test_sharpen_is_the_released_unsharp_mask() -> None:
    img = gradient(64, 48)
    draw = ImageDraw.Draw(img)
    draw.rectangle((20, 10, 40, 30), fill=(250, 250, 250))
    arr = np.asarray(img).astype(np.float64)
    blurred = cv2.GaussianBlur(np.asarray(img), (0, 0), 3).astype(np.float64)
    expected = np.clip(np.round(2.5 * arr - 1.5 * blurred), 0, 255)
    got = np.asarray(sharpen(img, 1.5)).astype(np.float64)
    assert np.abs(got - expected).max() <= 1
    assert np.array_equal(np.asarray(sharpen(img, 0.0)), np.asarray(img))


# ------------------------------------------------------------------ super-resolution
def test_superres_fallback_without_weights() -> None:
    img = gradient(30, 20)
    out = SuperResolutionTool(SuperResolver(None)).run(SuperResolutionArgs(image="img_1"), ctx_for(img))
    assert out.images[0].size == (120, 80)
    assert "Lanczos ×4 + unsharp mask (fallback: no EDSR weights configured)" in out.text
    assert np.array_equal(np.asarray(out.images[0]), np.asarray(lanczos_unsharp(img, 4)))


def test_superres_reports_missing_and_broken_weights(tmp_path: Path) -> None:
    img = gradient(16, 16)
    _, note = SuperResolver(tmp_path).upscale(img, 2)
    assert f"EDSR weights not found at {tmp_path / 'EDSR_x2.pb'}" in note
    (tmp_path / "EDSR_x4.pb").write_bytes(b"not a tensorflow graph")
    out, note = SuperResolver(tmp_path).upscale(img, 4)
    assert "failed to load" in note
    assert out.size == (64, 64)


def test_superres_refuses_outputs_over_the_pixel_limit() -> None:
    tool = SuperResolutionTool(SuperResolver(None))
    with pytest.raises(ToolError) as info:
        tool.run(SuperResolutionArgs(image="img_1", scale=4), ctx_for(gradient(100, 100),
                                                                       EnvConfig(max_output_pixels=100_000)))
    assert info.value.kind == ErrorKind.BAD_ARGUMENTS


# ------------------------------------------------------------------ perspective
def document(w: int = 300, h: int = 400) -> np.ndarray:
    doc = Image.new("RGB", (w, h), (245, 245, 240))
    draw = ImageDraw.Draw(doc)
    for i in range(12):
        draw.rectangle((30, 40 + i * 28, 30 + (i * 37) % 200 + 60, 52 + i * 28), fill=(20, 20, 20))
    return np.asarray(doc)


def place(doc: np.ndarray, corners: np.ndarray, size: tuple[int, int] = (640, 520)) -> np.ndarray:
    h, w = doc.shape[:2]
    src = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    rng = np.random.default_rng(0)
    canvas = (rng.normal(70, 6, (size[1], size[0], 3))).clip(0, 255).astype(np.uint8)
    warped = cv2.warpPerspective(doc, matrix, size)
    mask = cv2.warpPerspective(np.full(doc.shape[:2], 255, np.uint8), matrix, size) > 0
    canvas[mask] = warped[mask]
    return canvas


QUADS = [
    [[80, 60], [520, 95], [560, 470], [50, 430]],
    [[150, 40], [470, 40], [600, 500], [30, 500]],     # keystone
    [[60, 120], [430, 30], [590, 380], [200, 500]],    # rotated ≈ 20°
]


@pytest.mark.parametrize("corners", QUADS)
def test_perspective_recovers_synthetic_quadrilateral_corners(corners: list[list[int]]) -> None:
    truth = np.array(corners, dtype=np.float32)
    scene = place(document(), truth)
    quad = find_quad(scene)
    assert quad is not None
    assert np.abs(quad - truth).max() <= 4.0
    out, _ = perspective_correct(Image.fromarray(scene))
    assert out is not None
    expect_w = max(np.linalg.norm(truth[1] - truth[0]), np.linalg.norm(truth[2] - truth[3]))
    expect_h = max(np.linalg.norm(truth[3] - truth[0]), np.linalg.norm(truth[2] - truth[1]))
    assert abs(out.width - expect_w) <= 4
    assert abs(out.height - expect_h) <= 4
    # the rectified page matches the original page content
    back = cv2.resize(np.asarray(out), (300, 400), interpolation=cv2.INTER_AREA).astype(np.float32)
    assert np.abs(back - document().astype(np.float32)).mean() < 25


def test_perspective_falls_back_with_a_warning() -> None:
    tool = PerspectiveCorrectTool()
    out = tool.run(PerspectiveCorrectArgs(image="img_1"), ctx_for(gradient(200, 150)))
    assert out.images == ()
    assert out.text.startswith("Warning: no reliable quadrilateral")
    small_square = np.full((400, 400, 3), 60, np.uint8)
    small_square[10:40, 10:40] = 250     # a 4-gon covering < 10 % of the image is not a document outline
    assert find_quad(small_square) is None
