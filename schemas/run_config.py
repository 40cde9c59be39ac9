"""Run parameters: validated pydantic models loaded from ``flows/configs/*.yaml``.

Every threshold carries the paper's value as its default (PAPER.md §2, §12.A); a small corpus
overrides them in its YAML, never in code.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.errors import ConfigError
from schemas.pool import PoolConfig
from schemas.shards import ExportConfig
from schemas.synthesis import FilterConfig, SynthesisConfig
from schemas.teacher import TeacherConfig

Domain = Literal["person", "building", "location", "organism", "artifact"]
DOMAINS: tuple[Domain, ...] = ("person", "building", "location", "organism", "artifact")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Strict):
    """One Wikipedia source. ``path`` is resolved relative to the config file."""

    kind: Literal["xml", "zim", "live"]
    path: Path | None = None
    media_dir: Path | None = Field(
        default=None, description="xml only: folder with images.jsonl naming local image files and licences"
    )
    titles: list[str] = Field(default_factory=list, description="live only: articles to fetch")
    api_url: str = "https://en.wikipedia.org/w/api.php"
    commons_api_url: str = "https://commons.wikimedia.org/w/api.php"
    language: str = "en"

    @model_validator(mode="after")
    def _check_kind(self) -> SourceConfig:
        if self.kind in ("xml", "zim") and self.path is None:
            raise ValueError(f"a {self.kind} source needs 'path'")
        if self.kind == "live" and not self.titles:
            raise ValueError("a live source needs 'titles'")
        return self


class IngestConfig(_Strict):
    sources: list[SourceConfig] = Field(min_length=1)
    batch_pages: int = Field(default=50, ge=1, le=100_000, description="pages per parse batch (one worker task)")
    commit_pages: int = Field(default=1000, ge=1, le=1_000_000,
                              description="[S] pages per warehouse commit (`benchmarks/ingest.py`)")
    workers: int | None = Field(default=None, ge=1, description="process-pool size; default from settings")
    max_image_bytes: int = Field(default=50_000_000, ge=1)
    max_image_pixels: int = Field(default=100_000_000, ge=1)


class ShardSpec(_Strict):
    """Shard ``index`` of ``count`` (``--shard i/N``): the seeds whose ``sha256(wiki NUL title)`` is ``index``
    modulo ``count``. Written ``"i/N"`` on the command line or in YAML."""

    index: int = Field(ge=0)
    count: int = Field(ge=1)

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, v: Any) -> Any:
        if isinstance(v, str):
            m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", v)
            if m is None:
                raise ValueError(f"a shard is written i/N (e.g. 0/4), got {v!r}")
            return {"index": int(m.group(1)), "count": int(m.group(2))}
        return v

    @model_validator(mode="after")
    def _range(self) -> ShardSpec:
        if self.index >= self.count:
            raise ValueError(f"shard index {self.index} is not below the shard count {self.count}")
        return self

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, wiki: str, title: str) -> bool:
        """Whether the seed page ``title`` of ``wiki`` belongs to this shard (stable across processes)."""
        h = hashlib.sha256(f"{wiki}\x00{title}".encode()).digest()
        return int.from_bytes(h[:8], "big") % self.count == self.index


class SamplingConfig(_Strict):
    """Path sampling (PAPER.md §2 / §12.A). Defaults are the paper's values."""

    seed: int = 42
    hub_in_degree: int = Field(default=10_000, ge=1, description="tau_hub: nodes above it are skipped")
    seed_min_in_degree: int = Field(default=50, ge=0)
    seed_max_in_degree: int = Field(default=10_000, ge=0)
    seed_min_image_side: int = Field(default=512, ge=1)
    hop_probs: dict[int, float] = Field(default_factory=lambda: {2: 0.4, 3: 0.4, 4: 0.2})
    max_retries: int = Field(default=10, ge=1)
    paths_per_seed: int = Field(default=1, ge=1, description="distinct paths kept per seed (paper: 1)")
    answer_max_tokens: int = Field(default=6, ge=1)
    excluded_title_prefixes: list[str] = Field(
        default_factory=lambda: ["List of", "Outline of", "Index of", "Timeline of"]
    )
    excluded_title_substrings: list[str] = Field(default_factory=lambda: ["(disambiguation)"])
    max_seeds: int | None = Field(default=None, ge=1)
    shard: ShardSpec | None = Field(
        default=None, description="sample only this shard's seeds (``--shard i/N``); not part of any hash")
    domain_quota: int | None = Field(default=None, ge=1, description="max seeds per domain (equal quotas)")
    domains: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "person": ["person", "officeholder", "philosopher", "writer", "scientist", "artist",
                       "musical artist", "military person", "sportsperson", "tennis", "football biography",
                       "royalty", "politician", "actor", "astronaut", "deity", "saint"],
            "building": ["building", "stadium", "museum", "zoo", "bridge", "church", "castle", "tower",
                         "venue", "airport", "historic site", "religious building", "university"],
            "location": ["country", "u.s. state", "settlement", "city", "province", "continent",
                         "island", "mountain", "river", "lake", "body of water", "region", "park",
                         "former country", "province or territory", "german state"],
            "organism": ["taxobox", "speciesbox", "automatic taxobox", "dog breed", "organism", "plant"],
            "artifact": ["spaceflight", "ship", "aircraft", "weapon", "automobile", "locomotive",
                         "artifact", "instrument", "painting", "sculpture", "coin", "film", "book",
                         "album", "song", "document", "video game", "software"],
        },
        description="domain -> infobox type keywords (lower-case; first matching domain wins)",
    )
    require_relations: bool = Field(default=True, description=(
        "walk only edges that carry a relation phrase (tasks/sample/relations.py); false keeps the old link-position "
        "labels ('linked after \"…\"'), for a corpus too small to have relational paths"))
    answer_key_blocklist: list[str] = Field(
        default_factory=lambda: ["image", "caption", "alt", "map", "logo", "flag", "coat", "seal", "signature",
                                 "website", "url", "footnote", "note", "ref", "module", "embed", "width",
                                 "size", "pushpin", "label", "coordinates", "coor", "symbol", "anthem",
                                 "motto", "native_name", "name", "title", "sortkey", "border", "colour",
                                 "color", "background", "upright"],
        description="infobox keys containing any of these never become answers",
    )

    @field_validator("domains")
    @classmethod
    def _domains(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = set(v) - set(DOMAINS)
        if unknown:
            raise ValueError(f"unknown domains {sorted(unknown)}; allowed: {', '.join(DOMAINS)}")
        return {d: [w.lower() for w in words] for d, words in v.items()}

    @field_validator("hop_probs")
    @classmethod
    def _probs(cls, v: dict[int, float]) -> dict[int, float]:
        if not v or any(h < 1 or p < 0 for h, p in v.items()):
            raise ValueError("hop_probs needs hop counts >= 1 with non-negative probabilities")
        if abs(sum(v.values()) - 1.0) > 1e-6:
            raise ValueError(f"hop_probs must sum to 1, got {sum(v.values()):.4f}")
        return v

    @model_validator(mode="after")
    def _window(self) -> SamplingConfig:
        if self.seed_min_in_degree > self.seed_max_in_degree:
            raise ValueError("seed_min_in_degree must be <= seed_max_in_degree")
        return self


class QuestionsConfig(_Strict):
    """Question stage (PAPER.md §3–4, §12.B–C). ``model: rule-based`` is the offline default; any other
    value names a model on the OpenAI-compatible endpoint from settings (``SEARCHVL_LLM_BASE_URL``)."""

    model: str = Field(default="rule-based", description="rule-based | a model name on the LLM endpoint")
    n_candidates: int = Field(default=4, ge=1, le=20, description="[S] N=3-5 descriptors per entity")
    obfuscation_p: float = Field(default=0.25, ge=0.0, le=1.0, description="[S] answer obfuscation rate")
    uniqueness_margin: float = Field(default=0.15, ge=0.0, le=1.0,
                                     description="offline: relative BM25 gap of the top hit over the runner-up")
    image_candidates: int = Field(default=8, ge=1, description="K candidate images of the anchor")
    relevance_threshold: float = Field(default=0.28, ge=-1.0, le=1.0, description="CLIP cosine (or heuristic)")
    clip_model_path: Path | None = Field(default=None, description="local CLIP directory; none = heuristic")
    commons_api_url: str | None = Field(
        default=None, description="online: also search Commons by the anchor's title for candidate images")
    answer_max_tokens: int = Field(default=6, ge=1)
    fuzzy_leak_threshold: float = Field(default=90.0, ge=50.0, le=100.0, description="rapidfuzz ratio")
    max_items: int | None = Field(default=None, ge=1, description="cap on paths handled per run (preview)")
    seed: int = 42
    alone_k: int = Field(default=3, ge=1, le=10, description=(
        "[S] a descriptor searched alone must not rank its entity in the top k; nor may the whole question "
        "rank the answer page or the last bridge (chain-shortcut gate)"))
    max_words: int = Field(default=60, ge=5, description="[S] questions longer than this are rejected")
    chain_shortcut_gate: bool = Field(default=True, description=(
        "reject a question whose whole text, searched alone, ranks the answer page or the last bridge top-k"))
    max_per_anchor: int | None = Field(default=None, ge=1, description="[S] accepted items per anchor page")
    max_per_prefix: int | None = Field(default=None, ge=1, description=(
        "[S] accepted items per shared path prefix (anchor and first bridge)"))


class RunConfig(_Strict):
    """One named run: what to ingest, how to sample, write questions, pool, filter and synthesize.
    Recorded in ``runs``."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    ingest: IngestConfig
    sampling: SamplingConfig = SamplingConfig()
    questions: QuestionsConfig = QuestionsConfig()
    pool: PoolConfig = PoolConfig()
    filter: FilterConfig = FilterConfig()
    synthesis: SynthesisConfig = SynthesisConfig()
    teacher: TeacherConfig = TeacherConfig()
    export: ExportConfig = ExportConfig()

    @model_validator(mode="after")
    def _shardable(self) -> RunConfig:
        problem = self.shard_problem()
        if problem:
            raise ValueError(problem)
        return self

    def shard_problem(self) -> str | None:
        """Why this config cannot run as one of several shards (a cap over all seeds' items), else None.
        ``sampling.max_seeds`` and ``domain_quota`` are fine: every shard selects seeds over the whole graph
        first and then keeps its own (README, "Running at scale")."""
        if self.sampling.shard is None or self.sampling.shard.count == 1:
            return None
        if self.questions.max_items is not None:
            return ("questions.max_items (or --limit) caps items over all seeds, so a shard cannot apply it; "
                    "drop the cap or run unsharded")
        for name, cap in (("filter", self.filter.max_items), ("synthesis", self.synthesis.max_items)):
            if cap is not None:
                return (f"{name}.max_items caps items over the whole pool, and each shard runs {name} on its own "
                        "part of it; drop the cap or run unsharded")
        return None

    def with_shard(self, shard: ShardSpec | str) -> RunConfig:
        """This run restricted to one seed shard (``"i/N"`` or a ``ShardSpec``).

        Raises:
            ConfigError: a malformed shard, or a config that cannot be sharded (``shard_problem``).
        """
        try:
            spec = shard if isinstance(shard, ShardSpec) else ShardSpec.model_validate(shard)
        except ValidationError as err:
            raise ConfigError(f"--shard: {format_validation_error(err)}") from err
        out = self.model_copy(update={"sampling": self.sampling.model_copy(update={"shard": spec})})
        problem = out.shard_problem()
        if problem:
            raise ConfigError(f"cannot run {self.name} as shard {spec}: {problem}")
        return out

    def config_hash(self) -> str:
        """Identity of the run's parameters; a shard of a run shares the run's hash."""
        return hashlib.sha256(self.model_dump_json(exclude={"sampling": {"shard"}}).encode()).hexdigest()[:16]

    def preview(self, limit: int) -> RunConfig:
        """The same run cut down to ``limit`` seeds and question items, named ``<name>-preview``."""
        seeds = min(self.sampling.max_seeds or limit, limit)
        items = min(self.questions.max_items or limit, limit)
        return self.model_copy(update={
            "name": f"{self.name}-preview",
            "sampling": self.sampling.model_copy(update={"max_seeds": seeds}),
            "questions": self.questions.model_copy(update={"max_items": items})})

    def as_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)


def format_validation_error(err: ValidationError) -> str:
    """One line per bad field: ``ingest.sources.0.path: a xml source needs 'path'``."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(root)"
        lines.append(f"{loc}: {e['msg']}")
    return "\n".join(lines)


def load_run_config(path: Path) -> RunConfig:
    """Load and validate a YAML run config; relative source paths resolve against its folder.

    Raises:
        ConfigError: unreadable file, bad YAML, or invalid fields (one line per field).
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read config {path}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"config {path} is not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path} must be a mapping at the top level")
    for src in (raw.get("ingest") or {}).get("sources") or []:
        for key in ("path", "media_dir"):
            if isinstance(src, dict) and isinstance(src.get(key), str) and not Path(src[key]).is_absolute():
                src[key] = str((path.parent / src[key]).resolve())
    pool: dict[str, Any] = raw["pool"] if isinstance(raw.get("pool"), dict) else {}
    for src in [*(pool.get("sources") or []), *((pool.get("decontam") or {}).get("benchmarks") or [])]:
        if isinstance(src, dict) and isinstance(src.get("path"), str) and not Path(src["path"]).is_absolute() \
                and src.get("location", "config") == "config":       # data_dir: resolved by the pool stage
            src["path"] = str((path.parent / src["path"]).resolve())
    questions = raw.get("questions")
    if isinstance(questions, dict) and isinstance(questions.get("clip_model_path"), str):
        questions["clip_model_path"] = str((path.parent / questions["clip_model_path"]).resolve())
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(f"invalid config {path}:\n{format_validation_error(err)}") from err
