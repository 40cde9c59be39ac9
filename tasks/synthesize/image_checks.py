"""What the offline teacher can measure about an image before choosing an image tool (PAPER.md §6.2's
triggers), from pixels only — never from the item's hidden degradation label.

- **size**: width under 500 px → ``super_resolution`` (the production prompt's trigger);
- **blur**: the share of the variance of the Laplacian that survives a light Gaussian blur (σ = 1). A sharp
  image loses most of its high-frequency energy to that blur (the bundled flags keep 7–10 %); an image
  that is already blurred barely changes (σ ≥ 1.5 keeps over 50 %). Above ``BLUR_KEEP`` → ``sharpen``.
  The ratio is used instead of the raw variance because flat graphics (flags) have a low variance even
  when sharp;
- **skew**: ``perspective_correct``'s own corner finder locates a quadrilateral covering at least half the
  frame, on a plain background, whose corners sit inside the frame and whose opposite sides differ in
  length by more than ``SKEW`` → the picture is a tilted plane → ``perspective_correct``;
- **text**: character-sized, character-shaped high-contrast blobs that line up in rows (``text_boxes``)
  → ``layout_parsing`` to read them, after a ``crop`` to the text when it covers under 30 % of the frame
  (the paper's crop trigger).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from toolenv.tools.perspective import find_quad

MIN_WIDTH = 500
BLUR_KEEP = 0.35
SKEW = 0.04
MIN_QUAD_AREA = 0.5          # the tilted quadrilateral covers at least half the frame …
MAX_BACKGROUND_STD = 12.0    # … and what lies outside it is plain (grey-level standard deviation)
MIN_ROW = 3          # a character-like blob counts when this many (itself included) line up with it
MIN_CHARS = 5        # text needs at least this many such blobs


@dataclass(frozen=True, slots=True)
class Measures:
    width: int
    height: int
    laplacian_var: float
    blur_keep: float          # share of the Laplacian variance left after a σ=1 blur
    skew: float               # relative length difference of opposite sides of the found quadrilateral (0: none)

    @property
    def small(self) -> bool:
        return self.width < MIN_WIDTH

    @property
    def blurry(self) -> bool:
        return self.blur_keep > BLUR_KEEP

    @property
    def skewed(self) -> bool:
        return self.skew > SKEW


def _skew(rgb: np.ndarray) -> float:
    quad = find_quad(rgb)
    if quad is None:
        return 0.0
    h, w = rgb.shape[:2]
    tl, tr, br, bl = (np.asarray(p, dtype=np.float64) for p in quad)
    frame = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float64)
    if np.abs(np.stack([tl, tr, br, bl]) - frame).max() < 0.01 * max(w, h):
        return 0.0                      # the quadrilateral is the frame itself
    corners = np.stack([tl, tr, br, bl]).astype(np.int32)
    inside = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(inside, corners, 1)
    outside = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[inside == 0]
    if inside.mean() < MIN_QUAD_AREA or outside.size == 0 or float(outside.std()) > MAX_BACKGROUND_STD:
        return 0.0                      # not a tilted plane on a plain background (an inner frame, a contour)
    top, bottom = float(np.linalg.norm(tr - tl)), float(np.linalg.norm(br - bl))
    left, right = float(np.linalg.norm(bl - tl)), float(np.linalg.norm(br - tr))
    return max(abs(top - bottom) / max(top, bottom, 1.0), abs(left - right) / max(left, right, 1.0))


def measure(image: Image.Image) -> Measures:
    rgb = np.asarray(image.convert("RGB"))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    var = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    soft = float(cv2.Laplacian(cv2.GaussianBlur(gray, (0, 0), 1.0), cv2.CV_64F).var())
    return Measures(image.width, image.height, round(var, 1), round(soft / var, 3) if var > 0 else 1.0,
                    round(_skew(rgb), 3))


def text_boxes(image: Image.Image) -> list[tuple[int, int, int, int]]:
    """Boxes ``(x, y, w, h)`` of character-like blobs (high-contrast connected components of text size and
    shape) that sit in rows of at least ``MIN_ROW`` neighbours — a cheap detector for printed text."""
    gray = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2GRAY)
    h = gray.shape[0]
    grad = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    _, mask = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    blobs = [tuple(int(v) for v in stats[i][:4]) for i in range(1, n)
             if 0.02 * h <= stats[i][3] <= 0.15 * h and 0.15 <= stats[i][2] / max(1, stats[i][3]) <= 1.6
             and stats[i][4] >= 0.2 * stats[i][2] * stats[i][3]]
    rows: list[tuple[int, int, int, int]] = []
    for x, y, bw, bh in blobs:
        near = [b for b in blobs if abs((b[1] + b[3] / 2) - (y + bh / 2)) < bh / 2 and abs(b[3] - bh) < bh / 2
                and abs(b[0] - x) < 6 * bh]
        if len(near) >= MIN_ROW:
            rows.append((x, y, bw, bh))
    return [(int(x), int(y), int(bw), int(bh)) for x, y, bw, bh in rows]


def text_region(image: Image.Image) -> tuple[int, int, int, int] | None:
    """The box around the detected text (padded by half a character height), or None when there is none."""
    boxes = text_boxes(image)
    if len(boxes) < MIN_CHARS:
        return None
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    pad = max(2, int(np.median([b[3] for b in boxes]) // 2))
    x0, y0 = max(0, x0 - pad), max(0, y0 - pad)
    x1, y1 = min(image.width, x1 + pad), min(image.height, y1 + pad)
    return x0, y0, x1 - x0, y1 - y0
