"""Local reverse image search over ingested images (``image_features`` explains the fingerprints).

Score of an indexed image for a query = weighted mean of
  hash similarity   1 − min Hamming distance over its crop hashes / 64      (weight 1.0)
  colour similarity cosine of the HSV histograms                           (weight 0.5)
  embedding cosine  when an ``ImageEmbedder`` (e.g. CLIP) is configured     (weight 1.0)
Images are ranked by score (ties: ingestion order) and expanded to the pages that show them.
A linear scan over packed 64-bit hashes: ~37 hashes per image, ~1 ms per 10k images; past a few
million images, swap in a multi-index hash table or an ANN index behind the same ``search``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from toolenv.backends.base import ImageHit
from toolenv.backends.image_features import HASH_BITS, colour_histogram, gray_array, hamming, multi_crop_hashes, phash
from toolenv.config import ImageLimits
from toolenv.errors import ToolError
from toolenv.images import decode_image, to_rgb

WEIGHTS = {"hash": 1.0, "colour": 0.5, "embedding": 1.0}


class ImageEmbedder(Protocol):
    """An image model: ``embed`` returns one L2-normalised float vector per image, shape (n, d)."""

    name: str

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class ImageEntry:
    """One (image, page) pair to index: the same image on two pages is two entries with one sha256."""

    sha256: str
    image: Image.Image | bytes
    page_title: str
    caption: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class _Page:
    owner: int
    title: str
    url: str
    caption: str
    sha256: str


class ImageIndex:
    """Build with ``ImageIndex.build(entries)``; query with ``search(image, top_k)``."""

    def __init__(self, hashes: np.ndarray, owner: np.ndarray, hists: np.ndarray, embeddings: np.ndarray | None,
                 pages: list[_Page], shas: list[str], embedder: ImageEmbedder | None,
                 skipped: list[tuple[str, str]]) -> None:
        self._hashes, self._owner, self._hists, self._emb = hashes, owner, hists, embeddings
        self._pages, self._shas, self._embedder = pages, shas, embedder
        self.skipped = skipped   # (sha256, reason) of entries whose bytes did not decode
        digest = hashlib.sha256(json.dumps([asdict(p) for p in pages]).encode())
        self._fingerprint = f"phash37:{digest.hexdigest()[:16]}:{len(shas)}:{embedder.name if embedder else '-'}"

    @classmethod
    def build(cls, entries: Iterable[ImageEntry], *, embedder: ImageEmbedder | None = None,
              limits: ImageLimits | None = None) -> ImageIndex:
        limits = limits or ImageLimits()
        shas: list[str] = []
        owner_of: dict[str, int] = {}
        images: list[Image.Image] = []
        pages: list[_Page] = []
        skipped: list[tuple[str, str]] = []
        bad: set[str] = set()
        for e in entries:
            if e.sha256 in bad:
                continue
            if e.sha256 not in owner_of:
                try:
                    img = decode_image(e.image, limits) if isinstance(e.image, bytes) else to_rgb(e.image)
                except ToolError as err:
                    skipped.append((e.sha256, err.message))
                    bad.add(e.sha256)
                    continue
                owner_of[e.sha256] = len(shas)
                shas.append(e.sha256)
                images.append(img)
            pages.append(_Page(owner_of[e.sha256], e.page_title, e.url, e.caption, e.sha256))
        per_image = [multi_crop_hashes(img) for img in images]
        hashes = np.concatenate(per_image) if per_image else np.zeros(0, dtype=np.uint64)
        owner = np.concatenate([np.full(len(h), i, dtype=np.int32) for i, h in enumerate(per_image)]) \
            if per_image else np.zeros(0, dtype=np.int32)
        hists = np.stack([colour_histogram(img) for img in images]) if images else np.zeros((0, 128), np.float32)
        emb = embedder.embed(images).astype(np.float32) if embedder is not None and images else None
        return cls(hashes, owner, hists, emb, pages, shas, embedder, skipped)

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def __len__(self) -> int:
        """Number of distinct images."""
        return len(self._shas)

    def image_scores(self, image: Image.Image) -> np.ndarray:
        """Score of every indexed image for the query ``image`` (higher is more similar)."""
        n = len(self._shas)
        if n == 0:
            return np.zeros(0, dtype=np.float64)
        rgb = to_rgb(image)
        best = np.full(n, HASH_BITS, dtype=np.int32)
        np.minimum.at(best, self._owner, hamming(self._hashes, phash(gray_array(rgb))))
        total = WEIGHTS["hash"] * (1.0 - best / HASH_BITS) + WEIGHTS["colour"] * (self._hists @ colour_histogram(rgb))
        weight = WEIGHTS["hash"] + WEIGHTS["colour"]
        if self._embedder is not None and self._emb is not None:
            total = total + WEIGHTS["embedding"] * (self._emb @ self._embedder.embed([rgb])[0])
            weight += WEIGHTS["embedding"]
        return np.asarray(total / weight, dtype=np.float64)

    def search(self, image: Image.Image, top_k: int = 5) -> list[ImageHit]:
        """Pages showing the images most like ``image``, best first, one hit per page."""
        scores = self.image_scores(image)
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
        by_owner: dict[int, list[_Page]] = {}
        for page in self._pages:
            by_owner.setdefault(page.owner, []).append(page)
        hits: list[ImageHit] = []
        seen: set[str] = set()
        for i in order:
            for page in by_owner.get(i, []):
                key = page.url or page.title
                if key in seen:
                    continue
                seen.add(key)
                hits.append(ImageHit(page.title, page.url, page.caption, round(float(scores[i]), 4), page.sha256))
                if len(hits) == top_k:
                    return hits
        return hits

    def save(self, path: Path) -> None:
        """Write the index to a folder (arrays as .npz, pages as JSON); the embedder is not saved."""
        path.mkdir(parents=True, exist_ok=True)
        arrays = {"hashes": self._hashes, "owner": self._owner, "hists": self._hists}
        if self._emb is not None:
            arrays["embeddings"] = self._emb
        np.savez(path / "image_index.npz", **arrays)  # type: ignore[arg-type]  # numpy stub types **kwds oddly
        meta = {"shas": self._shas, "pages": [asdict(p) for p in self._pages], "skipped": self.skipped}
        (path / "image_index.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, path: Path, *, embedder: ImageEmbedder | None = None) -> ImageIndex:
        """Reopen a saved index; pass the same ``embedder`` it was built with, if any."""
        meta = json.loads((path / "image_index.json").read_text())
        with np.load(path / "image_index.npz") as arrays:
            emb = arrays["embeddings"] if "embeddings" in arrays and embedder is not None else None
            return cls(arrays["hashes"], arrays["owner"], arrays["hists"], emb,
                       [_Page(**p) for p in meta["pages"]], meta["shas"], embedder if emb is not None else None,
                       [tuple(s) for s in meta["skipped"]])
