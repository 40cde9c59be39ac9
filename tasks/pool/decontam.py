"""Decontamination against evaluation benchmarks: question n-gram overlap and image perceptual hashes (the
fast paths), then paraphrase matching (``tasks.pool.paraphrase``) and local-feature image verification
(``tasks.pool.verify``); ``Decontaminator.check`` runs them in that order.

Both indexes are built once from the benchmark rows and then answer one lookup per pool item:
- ``QuestionIndex``: an inverted index n-gram → benchmark questions; a lookup touches only the item's
  own n-grams and their postings (O(total n-grams) to build and to query), skipping template n-grams
  (those in more than ``template_df`` benchmark questions). ``DecontamConfig`` explains the rule.
- ``ImageIndex``: two signals, either one matches. 64-bit DCT pHashes (``toolenv.backends.image_features``,
  the reverse-image-search fingerprints) of the benchmark image and its crops, against the item's whole-
  image pHash: robust for photos, and a crop of a benchmark image still matches. But a pHash thresholds
  63 DCT coefficients at their median, and flat, symmetric graphics (flags, logos) have many near-zero
  coefficients whose bits flip under re-encoding: a flag saved as JPEG q95 moved 19 of 64 bits. So an
  8×8 RGB thumbnail (area-averaged) is compared too (colour also separates flags a grey pHash cannot);
  low-contrast thumbnails (text pages, textures, noise) are compared strictly or not at all, because
  they all look alike at 8×8.

Measured on 98 Ray Charles ZIM images (≥ 100 px) and the 7 bundled flags, each indexed with crops:
copies at ×1, ×1/2 and ×1/4 re-encoded as JPEG q95/85/60 were all found (315 of 315, 9 of them by the
thumbnail alone), and no image matched another one (the only cross-match is the same album cover at
two crops, a true duplicate).
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np
from PIL import Image

from schemas.pool import DecontamConfig
from tasks.pool.paraphrase import ContentIndex, EmbeddingIndex, Encoder, content_words, folded_answer, tokens
from tasks.pool.verify import FeatureIndex, features, mirrored

THUMB_SIDE = 8
THUMB_DIM = THUMB_SIDE * THUMB_SIDE * 3
THUMB_MIN_STD = 16.0
"""Thumbnails whose 192 values vary less than this (text pages, textures, noise) are not compared."""
THUMB_REL = 0.1
"""A thumbnail match also needs RMS ≤ this fraction of the item thumbnail's own standard deviation:
re-encoded flag copies stayed under 0.033 of it, two different pages of text sat at 0.23."""
FLAT_STD = 3.0
"""Grey-level standard deviation (at the pHash's 32×32 scale) under which an image or crop is flat: its
pHash would be noise, not content."""


@dataclass(frozen=True, slots=True)
class BenchmarkRef:
    benchmark: str
    ref_id: str                   # the row's id, or ``row<n>``
    text: str                     # its question, or its image reference
    answer: str = ""              # its answer (text refs), for the same-answer thresholds


MatchKind = Literal["question_overlap", "question_paraphrase", "question_embedding", "image_match"]


@dataclass(frozen=True, slots=True)
class Match:
    kind: MatchKind
    ref: BenchmarkRef
    distance: float               # text: overlap fraction / similarity; image: Hamming bits
    detail: str


def ngrams(toks: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)}


class QuestionIndex:
    """Benchmark questions by n-gram; ``match`` returns the benchmark question overlapping most."""

    def __init__(self, n: int, min_overlap: float, template_df: int) -> None:
        self.n, self.min_overlap, self.template_df = n, min_overlap, template_df
        self._refs: list[BenchmarkRef] = []
        self._grams: list[set[tuple[str, ...]]] = []
        self._postings: dict[tuple[str, ...], list[int]] = {}
        self._informative: list[int] | None = None

    def __len__(self) -> int:
        return len(self._refs)

    def add(self, ref: BenchmarkRef) -> None:
        grams = ngrams(tokens(ref.text), self.n)
        if not grams:
            return
        qid = len(self._refs)
        self._refs.append(ref)
        self._grams.append(grams)
        for g in grams:
            self._postings.setdefault(g, []).append(qid)
        self._informative = None

    def _is_template(self, gram: tuple[str, ...]) -> bool:
        return len(self._postings.get(gram, ())) > self.template_df

    def match(self, question: str) -> Match | None:
        """The benchmark question sharing the largest fraction of informative n-grams, if ≥ ``min_overlap``."""
        if self._informative is None:     # informative n-grams per benchmark question, once per build
            self._informative = [sum(not self._is_template(g) for g in gs) for gs in self._grams]
        grams = [g for g in ngrams(tokens(question), self.n) if not self._is_template(g)]
        hits: Counter[int] = Counter()
        for g in grams:
            hits.update(self._postings.get(g, ()))
        best: tuple[float, int] | None = None
        for qid, shared in hits.items():
            overlap = shared / max(1, min(len(grams), self._informative[qid]))
            if best is None or overlap > best[0]:
                best = (overlap, qid)
        if best is None or best[0] < self.min_overlap:
            return None
        overlap, qid = best
        shown = next(" ".join(g) for g in grams if qid in self._postings.get(g, ()))
        return Match("question_overlap", self._refs[qid], round(overlap, 4),
                     f"{hits[qid]} shared {self.n}-grams ({overlap:.0%}), e.g. {shown!r}")


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the image check compares: pHashes (the whole image, or whole + crops for a benchmark image;
    empty when flat) and an 8×8 RGB thumbnail (192 values, 0–255)."""

    hashes: tuple[int, ...]
    thumb: np.ndarray
    gray: np.ndarray | None = None    # the grey image, kept when local-feature verification will need it


def _rgb(data: bytes) -> Image.Image:
    """Decoded RGB, transparent pixels composited onto white (as a page would show them)."""
    with Image.open(io.BytesIO(data)) as img:
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            rgba = img.convert("RGBA")
            canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(canvas, rgba).convert("RGB")
        return img.convert("RGB")


def content_hash(gray: np.ndarray) -> int | None:
    """The pHash of a grey image (``toolenv``'s, on the same 32×32 area-resize it starts from), or ``None``
    when that 32×32 image is flat (no content to compare)."""
    import cv2  # opencv (the `tools` extra) only when images are hashed

    from toolenv.backends.image_features import phash

    if gray.size == 0:
        return None
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA)
    return None if float(small.std()) < FLAT_STD else int(phash(small))


def fingerprint(data: bytes, *, crops: bool, keep_gray: bool = False) -> Fingerprint:
    """The image's fingerprint; ``crops`` adds the pHashes of ``crop_windows`` (flat crops left out);
    ``keep_gray`` keeps the grey image (scaled for ``tasks.pool.verify``) for the local-feature check."""
    from toolenv.backends.image_features import crop_windows, gray_array

    rgb = _rgb(data)
    gray = gray_array(rgb)
    h, w = gray.shape[:2]
    boxes = crop_windows(w, h) if crops else [(0, 0, w, h)]
    hashes = (content_hash(gray[y0:y1, x0:x1]) for x0, y0, x1, y1 in boxes)
    thumb = np.asarray(rgb.resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX), dtype=np.float32).ravel()
    kept = None
    if keep_gray:
        from tasks.pool.verify import scaled_gray

        kept = scaled_gray(np.clip(gray, 0, 255).astype(np.uint8))
    return Fingerprint(tuple(dict.fromkeys(x for x in hashes if x is not None)), thumb, kept)


class ImageIndex:
    """Benchmark image fingerprints, scanned with numpy: a match is a pHash within ``max_distance`` bits
    (any crop) or a thumbnail within ``max_rms`` grey levels RMS and within ``THUMB_REL`` of its own
    spread (low-contrast thumbnails — text pages, textures — need near-identity; under ``THUMB_MIN_STD``
    they are not compared, and only the pHash decides). Each signal costs ~1 ms per query per 10k
    benchmark images; past ~1M, put a multi-index hash table and an ANN index behind ``match``."""

    def __init__(self, max_distance: int, max_rms: float) -> None:
        self.max_distance, self.max_rms = max_distance, max_rms
        self._refs: list[BenchmarkRef] = []
        self._hash_list: list[int] = []
        self._hash_owner: list[int] = []
        self._thumb_list: list[np.ndarray] = []
        self._thumb_owner: list[int] = []
        self._arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self._refs)

    def add(self, ref: BenchmarkRef, fp: Fingerprint) -> None:
        owner = len(self._refs)
        self._refs.append(ref)
        self._hash_list += fp.hashes
        self._hash_owner += [owner] * len(fp.hashes)
        if float(fp.thumb.std()) >= THUMB_MIN_STD:
            self._thumb_list.append(fp.thumb)
            self._thumb_owner.append(owner)
        self._arrays = None

    def _frozen(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if self._arrays is None:
            thumbs = np.stack(self._thumb_list) if self._thumb_list else np.zeros((0, THUMB_DIM), np.float32)
            self._arrays = (np.array(self._hash_list, dtype=np.uint64), np.array(self._hash_owner, dtype=np.int64),
                            thumbs, (thumbs**2).sum(axis=1))
        return self._arrays

    def _thumb_match(self, fp: Fingerprint, thumbs: np.ndarray, norms: np.ndarray) -> Match | None:
        limit = min(self.max_rms, THUMB_REL * float(fp.thumb.std()))
        if self.max_rms <= 0 or not len(thumbs) or float(fp.thumb.std()) < THUMB_MIN_STD:
            return None
        sq = np.maximum(norms + float((fp.thumb**2).sum()) - 2.0 * (thumbs @ fp.thumb), 0.0)
        best = int(np.argmin(sq))
        rms = float(np.sqrt(sq[best] / THUMB_DIM))
        if rms > limit:
            return None
        return Match("image_match", self._refs[self._thumb_owner[best]], round(rms, 3),
                     f"thumbnail RMS {rms:.1f} grey levels (max {limit:.1f}); pHash did not match")

    def match(self, fp: Fingerprint) -> Match | None:
        """The closest benchmark image by pHash, else by thumbnail, within the limits."""
        from toolenv.backends.image_features import hamming

        hashes, owners, thumbs, norms = self._frozen()
        if not self._refs:
            return None
        if fp.hashes and hashes.size:
            dist = hamming(hashes, np.uint64(fp.hashes[0]))
            best = int(np.argmin(dist))
            if int(dist[best]) <= self.max_distance:
                return Match("image_match", self._refs[int(owners[best])], float(dist[best]),
                             f"pHash distance {int(dist[best])} bits (max {self.max_distance})")
        return self._thumb_match(fp, thumbs, norms)


T = TypeVar("T")


@dataclass(slots=True)
class Decontaminator:
    """The indexes of one build; ``check`` tests a pool item: the n-gram fast path, then the paraphrase rules
    (content words, then the embedding when configured; ``tasks.pool.paraphrase``), then the image."""

    questions: QuestionIndex
    images: ImageIndex
    cfg: DecontamConfig | None = None
    content: ContentIndex = field(default_factory=ContentIndex)
    embeddings: EmbeddingIndex | None = None
    refs: list[BenchmarkRef] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    _qid: dict[tuple[str, str], int] = field(default_factory=dict)
    _vectors: dict[str, np.ndarray] = field(default_factory=dict)
    verifier: FeatureIndex | None = None
    image_refs: list[BenchmarkRef] = field(default_factory=list)

    @classmethod
    def empty(cls, cfg: DecontamConfig, encoder: Encoder | None = None) -> Decontaminator:
        return cls(QuestionIndex(cfg.ngram, cfg.min_overlap, cfg.template_df),
                   ImageIndex(cfg.phash_max_distance, cfg.thumb_max_rms), cfg,
                   embeddings=EmbeddingIndex(encoder) if encoder is not None else None,
                   verifier=FeatureIndex(cfg.verify_min_inliers, cfg.verify_min_cover) if cfg.verify_images else None)

    @property
    def keeps_gray(self) -> bool:
        """Whether item fingerprints need their grey image (verification on, benchmark images indexed)."""
        return self.verifier is not None and len(self.verifier) > 0

    def add_image(self, ref: BenchmarkRef, fp: Fingerprint) -> None:
        """Index one benchmark image for the pHash/thumbnail fast path and, with ``gray``, for verification."""
        self.images.add(ref, fp)
        if self.verifier is not None and fp.gray is not None:
            self.verifier.add(features(fp.gray))
            self.image_refs.append(ref)

    def _verified(self, fp: Fingerprint) -> Match | None:
        if self.verifier is None or fp.gray is None or not len(self.verifier):
            return None
        v = self.verifier.match(features(fp.gray), mirrored(fp.gray))
        if v is None:
            return None
        return Match("image_match", self.image_refs[v.owner], float(v.inliers),
                     f"local features: {v.inliers} RANSAC inliers spanning {v.cover:.0%} of the benchmark image"
                     + (" (mirrored query)" if v.flipped else ""))

    def add_question(self, ref: BenchmarkRef) -> None:
        """Index one benchmark question (and its answer) for every text rule."""
        self.questions.add(ref)
        self.content.add(ref.text)
        if self.embeddings is not None:
            self.embeddings.add(ref.text)
        self._qid[(ref.benchmark, ref.ref_id)] = len(self.refs)
        self.refs.append(ref)
        self.answers.append(folded_answer(ref.answer))

    def _paraphrase(self, question: str, answer: str) -> Match | None:
        cfg = self.cfg
        if cfg is None or not cfg.paraphrase or not self.refs:
            return None
        near = self.content.nearest(question, cfg.content_min_words)
        if near is not None:
            same = bool(answer) and self.answers[near.qid] == answer
            limit = cfg.content_min_similarity_same_answer if same else cfg.content_min_similarity
            if near.score >= limit:
                return Match("question_paraphrase", self.refs[near.qid], near.score,
                             f"content-word similarity {near.score:.2f} (min {limit}{', same answer' if same else ''})"
                             f"; shared {list(near.shared)[:8]}")
        return self._embedding(question, answer)

    def _embedding(self, question: str, answer: str) -> Match | None:
        cfg, emb = self.cfg, self.embeddings
        if cfg is None or cfg.embedding is None or emb is None:
            return None
        words = content_words(question)
        near = self.content.nearest(question, cfg.content_min_words)
        e = cfg.embedding
        if near is None or near.score < e.min_words_similarity:   # no benchmark question could pass the overlap
            return None
        vector = self._vectors.get(question)
        for qid, cos in emb.top(vector if vector is not None else emb.embed([question])[0], 5):
            same = bool(answer) and self.answers[qid] == answer
            limit = e.min_cosine_same_answer if same else e.min_cosine
            overlap = self.content.similarity(words, self.content.words(qid))
            if cos >= limit and overlap >= e.min_words_similarity:
                return Match("question_embedding", self.refs[qid], round(cos, 4),
                             f"embedding cosine {cos:.3f} (min {limit}{', same answer' if same else ''}), "
                             f"content-word similarity {overlap:.2f}")
        return None

    def _overlap(self, question: str, answer: str) -> Match | None:
        """The n-gram fast path, confirmed by the content words when a paraphrase config is present: a shared
        8-gram of template phrasing ("what is the most famous work written by") about another entity is not a
        copy (its content-word similarity stays under ``content_min_similarity``)."""
        m = self.questions.match(question)
        if m is None or self.cfg is None or not self.cfg.paraphrase:
            return m
        qid = self._qid.get((m.ref.benchmark, m.ref.ref_id))
        if qid is None or (answer and self.answers[qid] == answer):
            return m
        sim = self.content.similarity(content_words(question), self.content.words(qid))
        return m if sim >= self.cfg.content_min_similarity else None

    def prefetched(self, candidates: Iterable[T], batch: int = 256) -> Iterator[T]:
        """``candidates`` unchanged, with the questions of each ``batch`` embedded in one call first (one
        encoder call per item is ~10x slower on CPU). A no-op without an embedding matcher."""
        if self.embeddings is None or self.cfg is None or self.cfg.embedding is None or not self.refs:
            yield from candidates
            return
        chunk: list[T] = []
        for c in candidates:
            chunk.append(c)
            if len(chunk) >= batch:
                yield from self._embed_chunk(chunk)
                chunk = []
        yield from self._embed_chunk(chunk)

    def _embed_chunk(self, chunk: list[T]) -> list[T]:
        texts = [q for c in chunk if (q := getattr(getattr(c, "item", None), "question", None))]
        if texts and self.embeddings is not None:
            self._vectors = dict(zip(texts, self.embeddings.embed(texts), strict=True))
        return chunk

    def check(self, question: str, image: Fingerprint | None, answer: str | None = None) -> Match | None:
        folded = folded_answer(answer)
        if m := self._overlap(question, folded) or self._paraphrase(question, folded):
            return m
        return (self.images.match(image) or self._verified(image)) if image is not None else None
