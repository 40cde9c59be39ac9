"""Image fingerprints for reverse image search: multi-crop DCT perceptual hashes and a colour histogram.

A 64-bit pHash survives blur, re-compression and downscaling but not cropping. So each *indexed* image
is hashed at several crops — the whole image plus windows of 90/80/70/60 % of each side at 3×3
positions (37 hashes) — and the *query* is hashed once; the image's distance is the minimum Hamming
distance over its crops. A query cut from any part of the image, at any of those scales, lands near
one of them. A global HSV colour histogram (crop- and blur-tolerant) is a second, independent signal.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

HASH_BITS = 64
CROP_SCALES: tuple[float, ...] = (0.9, 0.8, 0.7, 0.6)
GRID = 3
_BIT_WEIGHTS = (1 << np.arange(HASH_BITS, dtype=np.uint64)).astype(np.uint64)


def gray_array(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L"), dtype=np.float32)


def phash(gray: np.ndarray) -> np.uint64:
    """DCT perceptual hash: 32×32 area-resize, 8×8 low-frequency DCT block vs its median (DC excluded
    from the median, kept as bit 0 so the hash is 64 bits)."""
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA)
    block = cv2.dct(small)[:8, :8].flatten()
    bits = block > np.median(block[1:])
    return np.uint64(int(np.dot(bits.astype(np.uint64), _BIT_WEIGHTS)))


def crop_windows(width: int, height: int, scales: tuple[float, ...] = CROP_SCALES,
                 grid: int = GRID) -> list[tuple[int, int, int, int]]:
    """The whole image, then for each scale ``grid``×``grid`` windows spread from corner to corner."""
    boxes = [(0, 0, width, height)]
    for s in scales:
        cw, ch = max(1, round(width * s)), max(1, round(height * s))
        for i in range(grid):
            for j in range(grid):
                x = round((width - cw) * i / (grid - 1))
                y = round((height - ch) * j / (grid - 1))
                boxes.append((x, y, x + cw, y + ch))
    return boxes


def multi_crop_hashes(img: Image.Image) -> np.ndarray:
    """pHashes of ``crop_windows`` of ``img`` (uint64 array)."""
    gray = gray_array(img)
    return np.array([phash(gray[y0:y1, x0:x1]) for x0, y0, x1, y1 in crop_windows(img.width, img.height)],
                    dtype=np.uint64)


def colour_histogram(img: Image.Image) -> np.ndarray:
    """L2-normalised square-root HSV histogram (8 hue × 4 saturation × 4 value bins)."""
    hsv = cv2.cvtColor(np.asarray(img.convert("RGB")), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).flatten()
    hist = np.sqrt(hist / max(float(hist.sum()), 1.0))
    norm = float(np.linalg.norm(hist))
    out: np.ndarray = (hist / norm if norm else hist).astype(np.float32)
    return out


def hamming(a: np.ndarray, b: np.uint64) -> np.ndarray:
    """Hamming distances between each hash in ``a`` and ``b``."""
    out: np.ndarray = np.bitwise_count(np.bitwise_xor(a, b)).astype(np.int32)
    return out
