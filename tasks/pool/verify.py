"""Image decontamination that survives any crop: local features behind the pHash/thumbnail fast path.

The pHash index (``decontam.ImageIndex``) finds copies, re-encodes, resizes and crops that happen to match its
stored windows. This stage finds the rest (crops at any offset, flips, small rotations, an image pasted onto a
canvas, heavy JPEG):

1. **Features.** ORB keypoints (OpenCV) on a grey copy scaled so its longer side is ``SIDE`` px (small images
   are scaled up, so thumbnails get features too), at most ``MAX_FEATURES`` per image.
2. **Shortlist.** Each benchmark descriptor (256 bits) is filed under ``TABLES`` keys of ``KEY_BITS`` fixed bits
   each (bit-sampling LSH for Hamming space). A query's descriptors vote for the benchmark images sharing a
   key; the ``SHORTLIST`` images with the most votes (normalised by their feature count) are verified.
3. **Verification.** Brute-force Hamming matching against each shortlisted image, Lowe's ratio test, then a
   RANSAC homography; a match needs ``min_inliers`` inliers forming a non-degenerate, orientation-preserving
   map (the query is tried as given and mirrored, so a flip is a match too).

Cost per query: one ORB pass (~5 ms at 480 px), a vectorised vote over sorted key arrays, and at most
``SHORTLIST`` small matchings; ``BENCHMARKS.md`` has the measured time per query against 10,000 images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIDE = 480
MAX_FEATURES = 400
TABLES = 6
KEY_BITS = 14
SHORTLIST = 6
RATIO = 0.8
_rng = np.random.default_rng(20260101)
_BITS = np.stack([_rng.choice(256, KEY_BITS, replace=False) for _ in range(TABLES)])   # fixed: part of the index


@dataclass(frozen=True, slots=True)
class Features:
    points: np.ndarray            # (n, 2) float32, in the scaled image's pixels
    descriptors: np.ndarray       # (n, 32) uint8
    size: tuple[int, int] = (SIDE, SIDE)   # the scaled image's (width, height)


def scaled_gray(gray: np.ndarray) -> np.ndarray:
    import cv2

    h, w = gray.shape[:2]
    scale = SIDE / max(h, w)
    if abs(scale - 1.0) < 1e-3:
        return gray
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interp)


def features(gray: np.ndarray) -> Features:
    """ORB features of a grey image (any size; scaled to ``SIDE`` first)."""
    import cv2

    img = scaled_gray(gray if gray.dtype == np.uint8 else np.clip(gray, 0, 255).astype(np.uint8))
    orb = cv2.ORB_create(  # type: ignore[attr-defined]
        nfeatures=MAX_FEATURES, scaleFactor=1.2, nlevels=8, edgeThreshold=15, patchSize=31, fastThreshold=10)
    kps, desc = orb.detectAndCompute(img, None)
    size = (int(img.shape[1]), int(img.shape[0]))
    if desc is None or not kps:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), size)
    return Features(np.array([k.pt for k in kps], np.float32), desc, size)


def mirrored(gray: np.ndarray) -> Features:
    """Features of the mirrored image (computed afresh: ORB descriptors are not mirror-symmetric)."""
    return features(np.ascontiguousarray(gray[:, ::-1]))


def _keys(desc: np.ndarray) -> np.ndarray:
    """(n, TABLES) int64 keys: KEY_BITS sampled bits of each descriptor per table."""
    bits = np.unpackbits(desc, axis=1)                                  # (n, 256)
    weights = (1 << np.arange(KEY_BITS, dtype=np.int64))
    return np.stack([(bits[:, _BITS[t]].astype(np.int64) * weights).sum(axis=1) for t in range(TABLES)], axis=1)


@dataclass(frozen=True, slots=True)
class Verified:
    owner: int                    # index of the benchmark image
    inliers: int
    flipped: bool
    cover: float                  # share of the benchmark image the inliers span


class FeatureIndex:
    """Benchmark images' ORB features with a bit-sampling LSH shortlist and RANSAC verification."""

    def __init__(self, min_inliers: int = 15, min_cover: float = 0.1) -> None:
        self.min_inliers, self.min_cover = min_inliers, min_cover
        self._feats: list[Features] = []
        self._frozen: tuple[list[np.ndarray], list[np.ndarray], np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self._feats)

    def add(self, f: Features) -> int:
        self._feats.append(f)
        self._frozen = None
        return len(self._feats) - 1

    def _tables(self) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
        if self._frozen is None:
            desc = [f.descriptors for f in self._feats if len(f.descriptors)]
            owners = np.concatenate([np.full(len(f.descriptors), i, np.int32) for i, f in enumerate(self._feats)
                                     if len(f.descriptors)]) if desc else np.zeros(0, np.int32)
            keys = _keys(np.concatenate(desc)) if desc else np.zeros((0, TABLES), np.int64)
            sorted_keys, sorted_owners = [], []
            for t in range(TABLES):
                order = np.argsort(keys[:, t], kind="stable")
                sorted_keys.append(keys[order, t])
                sorted_owners.append(owners[order])
            counts = np.array([max(1, len(f.descriptors)) for f in self._feats], np.float64)
            self._frozen = (sorted_keys, sorted_owners, counts)
        return self._frozen

    def shortlist(self, f: Features, k: int = SHORTLIST) -> list[int]:
        """The ``k`` benchmark images with the most LSH votes from ``f``'s descriptors."""
        if not len(f.descriptors) or not self._feats:
            return []
        sorted_keys, sorted_owners, counts = self._tables()
        votes = np.zeros(len(self._feats), np.float64)
        q = _keys(f.descriptors)
        for t in range(TABLES):
            lo = np.searchsorted(sorted_keys[t], q[:, t], side="left")
            hi = np.searchsorted(sorted_keys[t], q[:, t], side="right")
            sizes = hi - lo
            if not sizes.sum():
                continue
            idx = np.repeat(lo, sizes) + np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
            votes += np.bincount(sorted_owners[t][idx], minlength=len(self._feats))
        votes /= np.sqrt(counts)
        top = np.argsort(-votes)[:k]
        return [int(i) for i in top if votes[i] > 0]

    def verify(self, f: Features, owner: int) -> tuple[int, float]:
        """RANSAC inliers of a homography from ``f`` to benchmark image ``owner`` and the share of that image the
        inliers span (their convex hull over its area); ``(0, 0.0)`` when no homography holds."""
        import cv2

        ref = self._feats[owner]
        if len(f.descriptors) < 4 or len(ref.descriptors) < 4:
            return 0, 0.0
        pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(f.descriptors, ref.descriptors, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
        if len(good) < self.min_inliers:
            return 0, 0.0
        src = f.points[[m.queryIdx for m in good]].reshape(-1, 1, 2)
        dst = ref.points[[m.trainIdx for m in good]].reshape(-1, 1, 2)
        hom, mask = cv2.findHomography(src, dst, cv2.RANSAC, 6.0)
        if hom is None or mask is None:
            return 0, 0.0
        det = float(np.linalg.det(hom[:2, :2]))
        if not 0.02 < det < 50.0:            # degenerate, or mirrored (a flip is found by the mirrored query)
            return 0, 0.0
        inl = dst[mask.ravel().astype(bool)].reshape(-1, 2)
        hull = cv2.convexHull(inl) if len(inl) >= 3 else None
        cover = float(cv2.contourArea(hull)) / float(ref.size[0] * ref.size[1]) if hull is not None else 0.0
        return int(mask.sum()), cover

    def match(self, f: Features, flipped: Features | None = None) -> Verified | None:
        """The best verified benchmark image for the query (and its mirror image), if any: ``min_inliers``
        inliers spanning at least ``min_cover`` of the benchmark image (a shared logo or lettering gives
        inliers in one small patch; a crop of half the image spans far more)."""
        best: Verified | None = None
        for feats, is_flip in ((f, False), (flipped, True)):
            if feats is None:
                continue
            for owner in self.shortlist(feats):
                n, cover = self.verify(feats, owner)
                if n >= self.min_inliers and cover >= self.min_cover and (best is None or n > best.inliers):
                    best = Verified(owner, n, is_flip, round(cover, 3))
        return best
