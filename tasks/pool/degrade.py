"""Controlled degradations of the enhancement subset (PAPER.md §5, [S] parameters), each undone by a tool.

- blur ↔ ``sharpen``: Gaussian blur, σ ∈ ``blur_sigma`` (OpenCV, kernel size derived from σ).
- downsample ↔ ``super_resolution``: ×1/f with PIL's BOX filter (area averaging: every source pixel
  counts once, no ringing, the usual model of a low-resolution capture). Size is exactly
  ``(w // f, h // f)``, so the ×f SR tool restores the original size for sides divisible by f.
- perspective ↔ ``perspective_correct``: a homography moving each corner inward by a fraction of the
  side length drawn per axis from ``perspective_jitter``; the uncovered margin is filled with the grey
  level that contrasts most with the image's own border, so the Canny-quad rectifier can find the
  outline. Whether ``perspective_correct``'s corner finder recovers the corners (within 3 % of the
  longer side) is recorded as ``repairable``, so a trajectory never expects a repair that cannot work.

Which items: each id on its own, by a seeded hash: ``sha256(seed | id)`` read as a uniform draw in [0, 1) is
below ``fraction`` (so about ``fraction · n`` of n items; the choice needs no view of the other items, which
is what lets each shard of a sharded run enhance its own part of the pool and still equal one run). Each
chosen item draws its kind uniformly and its parameters from ``Random(seed | id)``, so an item keeps its
degradation when other items join or leave the pool. Values are rounded before they are
applied, so the recorded parameters reproduce the image exactly.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence

import numpy as np
from PIL import Image

from schemas.pool import DegradationKind, EnhanceConfig

REPAIR_TOLERANCE = 0.03
"""Largest corner error, as a fraction of the longer side, for a perspective degradation to count as repairable."""
Params = dict[str, float | int | str | bool | list[int] | list[list[float]]]


def selected(item_id: str, fraction: float, seed: int) -> bool:
    """Whether ``item_id`` is in the enhancement subset: ``sha256(f"{seed}|{id}")`` as a draw in [0, 1) is
    below ``fraction`` (1.0 takes every item, 0.0 none)."""
    digest = hashlib.sha256(f"{seed}|{item_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def select_items(item_ids: Iterable[str], fraction: float, seed: int) -> list[str]:
    """The distinct ids that are ``selected`` (a per-item decision), sorted."""
    return sorted(i for i in set(item_ids) if selected(i, fraction, seed))


def item_rng(seed: int, item_id: str) -> random.Random:
    """The item's own RNG (string seeds hash with SHA-512: stable across processes)."""
    return random.Random(f"{seed}|{item_id}|degrade")


def gaussian_blur(img: Image.Image, sigma: float) -> Image.Image:
    import cv2  # opencv comes with the `tools` extra

    return Image.fromarray(cv2.GaussianBlur(np.asarray(img.convert("RGB")), (0, 0), sigma))


def downsample(img: Image.Image, factor: int) -> Image.Image:
    """×1/``factor`` with area averaging (BOX); sides floor-divided, never below 1."""
    size = (max(1, img.width // factor), max(1, img.height // factor))
    return img.convert("RGB").resize(size, Image.Resampling.BOX)


def border_fill(rgb: np.ndarray) -> int:
    """The grey level (a multiple of 15) that contrasts most with the image's outer ring: the one whose
    2nd-percentile distance to the ring's grey levels is largest (darkest on ties)."""
    gray = rgb.astype(np.float32).mean(axis=2)
    ring = max(1, min(gray.shape) // 50)
    edge = np.concatenate([gray[:ring].ravel(), gray[-ring:].ravel(), gray[:, :ring].ravel(), gray[:, -ring:].ravel()])
    fills = np.arange(0, 256, 15, dtype=np.float32)
    scores = np.percentile(np.abs(edge[None, :] - fills[:, None]), 2, axis=1)
    return int(fills[int(np.argmax(scores))])


def inward_corners(width: int, height: int, jitter: Sequence[Sequence[float]]) -> np.ndarray:
    """Corners (tl, tr, br, bl) after moving each inward by ``(fx·width, fy·height)``."""
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = jitter
    w, h = width - 1, height - 1
    return np.array([[ax * width, ay * height], [w - bx * width, by * height],
                     [w - cx * width, h - cy * height], [dx * width, h - dy * height]], dtype=np.float32)


def perspective(img: Image.Image, jitter: Sequence[Sequence[float]], fill: int | None = None
                ) -> tuple[Image.Image, np.ndarray, int]:
    """Warp the whole image onto the inward-jittered quadrilateral of a same-size canvas.

    Returns the image, the quadrilateral's corners (tl, tr, br, bl) and the fill grey level used.
    """
    import cv2

    rgb = np.asarray(img.convert("RGB"))
    h, w = rgb.shape[:2]
    fill = border_fill(rgb) if fill is None else fill
    src = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)
    dst = inward_corners(w, h, jitter)
    matrix = cv2.getPerspectiveTransform(src, dst)
    out = cv2.warpPerspective(rgb, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=(fill, fill, fill))
    return Image.fromarray(out), dst, fill


def corners_recovered(warped: Image.Image, corners: np.ndarray) -> bool:
    """Whether ``perspective_correct``'s corner finder locates ``corners`` within ``REPAIR_TOLERANCE``."""
    from toolenv.tools.perspective import find_quad

    quad = find_quad(np.asarray(warped.convert("RGB")))
    return quad is not None and float(np.abs(quad - corners).max()) <= REPAIR_TOLERANCE * max(warped.size)


def degrade(img: Image.Image, cfg: EnhanceConfig, rng: random.Random) -> tuple[DegradationKind, Params, Image.Image]:
    """Draw a kind uniformly from ``cfg.kinds`` and its parameters from ``rng``; apply it."""
    kind = rng.choice(cfg.kinds)
    params: Params
    if kind == "blur":
        sigma = round(rng.uniform(*cfg.blur_sigma), 3)
        out, params = gaussian_blur(img, sigma), {"sigma": sigma, "method": "cv2.GaussianBlur"}
    elif kind == "downsample":
        out = downsample(img, cfg.downsample_factor)
        params = {"factor": cfg.downsample_factor, "resample": "box", "from": [img.width, img.height],
                  "to": [out.width, out.height]}
    else:
        jitter = [[round(rng.uniform(*cfg.perspective_jitter), 4) for _ in range(2)] for _ in range(4)]
        out, corners, fill = perspective(img, jitter)
        params = {"jitter": jitter, "corners": [[round(float(v), 2) for v in c] for c in corners],
                  "fill": fill, "interpolation": "linear", "repairable": corners_recovered(out, corners)}
    return kind, params, out

