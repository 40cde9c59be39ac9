"""What the offline teacher can measure about an image before choosing an image tool (PAPER.md §6.2's
triggers), from pixels only — never from the item's hidden degradation label.

- **size**: width under 500 px → ``super_resolution`` (the production prompt's trigger);
- **blur**: the share of the variance of the Laplacian that survives a light Gaussian blur (σ = 1). A sharp
  image loses most of its high-frequency energy to that blur (the bundled flags keep 7–10 %); an image
  that is already blurred barely changes (σ ≥ 1.5 keeps over 50 %). Above ``BLUR_KEEP`` → ``sharpen``.
  The ratio is used instead of the raw variance because flat graphics (flags) have a low variance even
  when sharp;
- **skew**: ``perspective_correct``'s own corner finder locates a quadrilateral whose corners sit inside
  the frame and whose opposite sides differ in length by more than ``SKEW`` → the picture is a tilted
  plane → ``perspective_correct``.
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
