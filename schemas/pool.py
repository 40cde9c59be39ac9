"""The VQA pool (PAPER.md §5, §12.D): merged external sources, decontamination, the enhancement subset.

``PoolConfig`` is the run-config section (``pool:`` in a run YAML); ``PoolItem``, ``PoolReject`` and
``Degradation`` are the records the pool stage writes to ``pool_items``, ``pool_rejects`` and
``enhancements``. Defaults carry the paper's values where it gives one, else the digest's [S] choice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

DegradationKind = Literal["blur", "downsample", "perspective"]
DEGRADATION_KINDS: tuple[DegradationKind, ...] = ("blur", "downsample", "perspective")
WIKI_SOURCE = "wiki"
"""Source label of the items from ``vqa_items`` (reserved: no external source may use it)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnMap(_Strict):
    """Which column of the file holds each field. ``image`` may hold encoded bytes (or a ``datasets``
    ``Image`` struct ``{bytes, path}``), a path relative to the file's folder, or an http(s) URL, which is
    recorded and never fetched."""

    question: str = "question"
    answer: str | None = Field(default="answer", description="required for pool sources; optional for benchmarks")
    answer_aliases: str | None = Field(default=None, description="a list column, or one alias per row")
    image: str | None = "image"
    id: str | None = Field(default=None, description="the row's own id; without it the id hashes the row content")


class ExternalSource(_Strict):
    """One local VQA file: parquet, JSONL, a JSON array, or a ``datasets.save_to_disk`` folder.

    ``format: auto`` picks by extension (``.parquet``/``.pq``, ``.jsonl``/``.ndjson``, ``.json``,
    ``.arrow``) or, for a folder, by ``state.json``/``dataset_dict.json`` (read with pyarrow, so the
    ``datasets`` package is not needed) or the ``*.parquet`` files in it.
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", description="label on every row, e.g. livevqa")
    path: Path
    format: Literal["auto", "parquet", "jsonl", "json", "arrow"] = "auto"
    columns: ColumnMap = ColumnMap()
    image_kind: Literal["auto", "bytes", "path", "url"] = Field(
        default="auto", description="auto: bytes/struct → bytes, http(s):// → url, other text → path")
    split: str | None = Field(default=None, description="DatasetDict folders: one split (default: all)")
    max_rows: int | None = Field(default=None, ge=1, description="read at most this many rows")
    location: Literal["config", "data_dir"] = Field(default="config", description=(
        "what a relative path is relative to: the config file's folder, or the run's data dir (benchmarks "
        "fetched by scripts/fetch_benchmarks.py live under <data_dir>/benchmarks/)"))
    hub_id: str | None = Field(default=None, description="Hub dataset the local copy is fetched from (a record; "
                               "reading is always from path)")
    hub_config: str | None = None
    hub_split: str | None = None

    def resolved(self, base: Path) -> ExternalSource:
        """This source with a relative ``path`` resolved against ``base`` (the config file's folder; a
        ``data_dir`` source is left for ``in_data_dir``)."""
        if self.path.is_absolute() or self.location == "data_dir":
            return self
        return self.model_copy(update={"path": (base / self.path).resolve()})

    def in_data_dir(self, data_dir: Path) -> ExternalSource:
        """A ``data_dir`` source with its path resolved against the run's data dir."""
        if self.location != "data_dir" or self.path.is_absolute():
            return self
        return self.model_copy(update={"path": data_dir / self.path})


class EmbeddingConfig(_Strict):
    """The optional sentence-embedding matcher of decontamination (``tasks.pool.embedding``): a model a package
    ships (default: all-MiniLM-L6-v2 from the ``embed`` extra), loaded from a local folder whose weights match
    ``sha256``; never fetched from the Hub."""

    package: str = Field(default="all_minilm_l6_v2", description="Python package that ships model.zip")
    model_dir: Path | None = Field(default=None, description="a local sentence-transformers folder instead of "
                                   "the package's (extracted under <data_dir>/models/<package>/)")
    sha256: str = Field(default="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
                        pattern=r"^[0-9a-f]{64}$", description="of model.safetensors")
    min_cosine: float = Field(default=0.86, gt=0.0, le=1.0)
    min_cosine_same_answer: float = Field(default=0.75, gt=0.0, le=1.0)
    min_words_similarity: float = Field(default=0.2, ge=0.0, le=1.0, description=(
        "an embedding match also needs this content-word similarity: a sentence encoder scores two "
        "same-template questions about different entities high"))


class DecontamConfig(_Strict):
    """Drop pool items that overlap an evaluation benchmark in question text or image.

    Text: questions are NFKD-folded, case-folded and split into word tokens; an item matches a
    benchmark question when at least ``min_overlap`` of the *shorter* one's informative ``ngram``-grams
    appear in the other. n = 8 (not GPT-3's 13): VQA questions are short (InfoSeek/SimpleVQA median
    ~10 words), and 13-grams would leave most of them unchecked; 8 is PaLM's and the usual short-text
    choice. An n-gram shared by more than ``template_df`` benchmark questions is template phrasing
    ("what is the country of origin of this ...") and does not count, so templated benchmarks do not
    knock out every item that uses the same template. Behind that fast path (``paraphrase``, default on;
    ``tasks.pool.paraphrase``): IDF-weighted content-word similarity at any question length (a lower
    threshold when the folded answers are equal), and optionally a sentence-embedding matcher
    (``embedding``); an n-gram hit must also clear the content-word threshold.

    Images (either signal matches; ``tasks.pool.decontam`` has the measurements): a 64-bit DCT pHash
    (``toolenv.backends.image_features``) within ``phash_max_distance`` bits (6 of 64: re-encoding and
    resizing move a photo's pHash by 0–4 bits, unrelated photos sit near 32); a benchmark image is hashed
    whole and, with ``phash_crops``, at 36 crop windows, so a crop of it also matches. And an 8×8 RGB
    thumbnail within ``thumb_max_rms`` grey levels RMS, for flat graphics (flags, logos) whose pHash bits
    flip under re-encoding (low-contrast thumbnails — text pages, textures — are held to a stricter
    limit or not compared). Near-flat images (and crops) carry no pHash. Behind the fast path
    (``verify_images``): local-feature verification (``tasks.pool.verify``: ORB, ratio test, RANSAC homography,
    mirrored query) for crops at any offset, flips, small rotations and canvases.
    """

    benchmarks: list[ExternalSource] = Field(default_factory=list)
    ngram: int = Field(default=8, ge=3, le=32)
    min_overlap: float = Field(default=0.5, gt=0.0, le=1.0)
    template_df: int = Field(default=10, ge=1, description="n-grams in more benchmark questions are template")
    phash_max_distance: int = Field(default=6, ge=0, le=16)
    phash_crops: bool = True
    thumb_max_rms: float = Field(default=8.0, ge=0.0, le=64.0, description="0 turns the thumbnail check off")
    verify_images: bool = Field(default=True, description="local-feature verification behind the pHash fast path "
                                "(ORB, ratio test, RANSAC homography, mirrored query; tasks.pool.verify)")
    verify_min_inliers: int = Field(default=18, ge=6, description="RANSAC inliers a verified match needs")
    verify_min_cover: float = Field(default=0.05, ge=0.0, le=1.0, description=(
        "share of the benchmark image the inliers must span (shared lettering or a logo spans less)"))
    paraphrase: bool = Field(default=True, description="false: the n-gram rule only (questions under ngram "
                             "tokens unchecked): the old behaviour, kept as the benchmark's baseline")
    content_min_similarity: float = Field(default=0.6, gt=0.0, le=1.0, description=(
        "paraphrase rule: IDF-weighted Jaccard of normalised content words (tasks.pool.paraphrase); any length"))
    content_min_similarity_same_answer: float = Field(default=0.4, gt=0.0, le=1.0,
                                                      description="the same, when the answers are equal (folded)")
    content_min_words: int = Field(default=2, ge=1, description="questions with fewer content words are not "
                                   "compared by the paraphrase rules (the image check still applies)")
    embedding: EmbeddingConfig | None = Field(default=None, description="sentence-embedding matcher; none = off")


class EnhanceConfig(_Strict):
    """The enhancement subset (PAPER.md §5, [S] parameters): ``fraction`` of the *filtered* pool gets
    one degradation each, its kind drawn uniformly from ``kinds`` per item."""

    fraction: float = Field(default=0.10, ge=0.0, le=1.0)
    seed: int = 42
    kinds: list[DegradationKind] = Field(default_factory=lambda: list(DEGRADATION_KINDS), min_length=1)
    blur_sigma: tuple[float, float] = (1.5, 3.5)
    downsample_factor: int = Field(default=4, ge=2, le=4, description="×1/f; the SR tool upscales ×2/3/4")
    perspective_jitter: tuple[float, float] = Field(
        default=(0.08, 0.20), description="each corner moves inward by this fraction of the side, per axis")

    @field_validator("blur_sigma")
    @classmethod
    def _sigma(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0.0 < v[0] <= v[1] <= 20.0:
            raise ValueError(f"blur_sigma needs 0 < low <= high <= 20, got {list(v)}")
        return v

    @field_validator("perspective_jitter")
    @classmethod
    def _jitter(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0.0 <= v[0] <= v[1] < 0.4:
            raise ValueError(f"perspective_jitter needs 0 <= low <= high < 0.4, got {list(v)}")
        return v

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: list[DegradationKind]) -> list[DegradationKind]:
        if len(set(v)) != len(v):
            raise ValueError("kinds must not repeat")
        return v


class PoolConfig(_Strict):
    """The pool: ``vqa_items`` (when ``include_wiki``) plus ``sources``, decontaminated; then enhancement."""

    include_wiki: bool = True
    sources: list[ExternalSource] = Field(default_factory=list)
    decontam: DecontamConfig = DecontamConfig()
    enhance: EnhanceConfig = EnhanceConfig()
    max_image_bytes: int = Field(default=50_000_000, ge=1)
    max_image_pixels: int = Field(default=100_000_000, ge=1)

    @model_validator(mode="after")
    def _check_sources(self) -> PoolConfig:
        names = [s.name for s in self.sources]
        if WIKI_SOURCE in names:
            raise ValueError(f"source name {WIKI_SOURCE!r} is reserved for the items from vqa_items")
        if len(set(names)) != len(names):
            raise ValueError(f"source names must be unique, got {names}")
        for s in self.sources:
            if s.columns.answer is None or s.columns.image is None:
                raise ValueError(f"source {s.name!r}: columns.answer and columns.image are required")
        return self

    def resolved(self, base: Path) -> PoolConfig:
        """Relative source and benchmark paths resolved against ``base`` (call at config load)."""
        bench = [b.resolved(base) for b in self.decontam.benchmarks]
        return self.model_copy(update={
            "sources": [s.resolved(base) for s in self.sources],
            "decontam": self.decontam.model_copy(update={"benchmarks": bench}),
        })


class PoolItem(_Strict):
    """One pool item. Wiki items keep their ``vqa_items`` id and carry ``path_id`` in ``provenance``."""

    item_id: str
    source: str
    question: str
    answer: str
    aliases: tuple[str, ...] = ()
    image_sha256: str | None = Field(description="bytes in image_blobs; None when only a URL is known")
    image_url: str | None = None
    provenance: dict[str, JsonValue] = Field(default_factory=dict)


class PoolReject(_Strict):
    """A row or item kept out of the pool: at ``merge`` (unreadable row, duplicate) or ``decontam``."""

    item_id: str
    source: str
    stage: Literal["merge", "decontam"]
    reason: str
    benchmark: str | None = None
    matched_id: str | None = None
    matched_text: str | None = None
    distance: float | None = Field(default=None, description="image: Hamming bits; text: n-gram overlap")
    detail: str = ""


class Degradation(_Strict):
    """One degraded image of the enhancement subset, paired with its repair tool by ``kind``."""

    item_id: str
    kind: DegradationKind
    params: dict[str, JsonValue]
    original_sha256: str
    degraded_sha256: str
    width: int
    height: int
    size_bytes: int


REPAIR_TOOL: dict[DegradationKind, str] = {
    "blur": "sharpen", "downsample": "super_resolution", "perspective": "perspective_correct"}
"""The toolenv tool that undoes each degradation (what the trajectory should show)."""
