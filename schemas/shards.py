"""Exported shard rows: the contract between the export stage, the Hub and ``training/``.

Layout of an export folder (``var/export/<name>/``)::

    README.md                       dataset card (YAML front matter declares configs ``sft`` and ``rl``)
    sft/train-00000-of-0000N.parquet
    rl/train-00000-of-0000N.parquet
    rl/validation-00000-of-0000N.parquet
    plots/*.png                     histograms referenced by the card
    manifest.json                   ExportManifest: counts, shard files and their sha256, config

``datasets.load_dataset(folder, "sft" | "rl")`` reads it; images are ``datasets.Image`` features (PNG or
JPEG bytes embedded in the parquet, decoded to PIL on access). Every row is validated against the model
below before it is written. ``provenance`` is a JSON string (``Provenance``), so the parquet schema stays
flat and stable while provenance grows.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SHARD_SCHEMA_VERSION = "1"

Split = Literal["train", "validation"]
Blob = bytes  # alias: a field named ``bytes`` would shadow the type in its own annotation


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ImageBytes(_Frozen):
    """One embedded image, in the shape of a ``datasets.Image`` feature's storage."""

    bytes: Blob = Field(min_length=1)
    path: str | None = None        # a file name for humans ("<sha256>.png"); never a local absolute path


class PathNode(_Frozen):
    title: str
    role: str                      # anchor | bridge | answer
    aliases: list[str]


class ImageProvenance(_Frozen):
    sha256: str
    license: str | None
    source_url: str | None
    author: str | None = None
    file_name: str | None = None
    method: str | None = None      # clip:<model> | heuristic (image relevance scorer)
    score: float | None = None
    degradation: str | None = None  # blur | downsample | perspective: the exported image is the degraded one


class Provenance(_Frozen):
    """What one exported row rests on. ``path`` is empty for items from external VQA sources."""

    item_id: str
    source: str                    # wiki | the external source's name
    path: list[PathNode]
    image: ImageProvenance | None
    wiki: str | None = None
    dump_date: str | None = None
    path_id: str | None = None
    hops: int | None = None
    domain: str | None = None
    answer_attribute: str | None = None
    question_method: str | None = None        # rule-based (offline fallback) | llm:<model>
    gates: dict[str, float] = Field(default_factory=dict)
    filter: dict[str, Any] = Field(default_factory=dict)    # pass@k per shortcut gate and the solver
    teacher: str | None = None                # path-guided (offline fallback) | <model>   (SFT only)
    answer_judge: str | None = None
    process_judge: str | None = None
    process_score: float | None = None
    prompts: dict[str, str] = Field(default_factory=dict)   # template -> content hash
    run_id: str | None = None
    text_license: str = "CC BY-SA"          # Wikipedia: 3.0 before 2023-06-29, 4.0 after (by revision)
    external: dict[str, Any] = Field(default_factory=dict)  # external source: file, row, original id
    search_backends: dict[str, str] = Field(default_factory=dict)  # tool -> "local index" | "remote … API at <host>"
    split_rule: str | None = None             # what decided the item's SFT/RL side (tasks/synthesize/split.py)


class ToolFunction(_Frozen):
    name: str
    arguments: str                 # JSON object as a string (OpenAI convention)


class ToolCallMsg(_Frozen):
    id: str
    type: Literal["function"] = "function"
    function: ToolFunction


class Message(_Frozen):
    """OpenAI-style chat message. ``content`` keeps the protocol text (``<think>``, ``<tool_call>``);
    ``<image>`` marks where each image of the row's ``images`` list is attached, in order."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: list[ToolCallMsg] | None = None
    tool_call_id: str | None = None
    name: str | None = None


class Turn(_Frozen):
    """ShareGPT turn of the released SFT set: ``human`` | ``gpt`` | ``observation``."""

    from_: Literal["human", "gpt", "observation"] = Field(alias="from")
    value: str

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _json_object(v: str) -> str:
    if not isinstance(json.loads(v), dict):
        raise ValueError("must be a JSON object")
    return v


class SftRow(_Frozen):
    id: str                        # trajectory id
    item_id: str
    messages: list[Message]
    conversations: list[Turn]      # without the system turn (it is ``system``)
    images: list[ImageBytes]
    system: str
    tools: str                     # JSON list of the tool schemas the teacher saw
    answer: str
    tool_calls: int
    source: str
    provenance: str                # JSON of Provenance

    @field_validator("provenance")
    @classmethod
    def _provenance_is_json(cls, v: str) -> str:
        return _json_object(v)

    @field_validator("images")
    @classmethod
    def _images_match_markers(cls, v: list[ImageBytes], info: Any) -> list[ImageBytes]:
        msgs = info.data.get("messages") or []
        markers = sum(m.content.count("<image>") for m in msgs)
        if msgs and markers != len(v):
            raise ValueError(f"{len(v)} images but {markers} <image> markers in messages")
        return v


class RlRow(_Frozen):
    id: str                        # item id
    question: str
    images: list[ImageBytes] = Field(min_length=1)
    answer: str
    answer_aliases: list[str]
    source: str
    data_source: str               # verl/rLLM name for ``source``
    prompt: list[Message]          # system + user (``<image>`` marker), what a chat-template RL trainer reads
    degradation: str | None
    hops: int | None
    split: Split
    provenance: str

    @field_validator("provenance")
    @classmethod
    def _provenance_is_json(cls, v: str) -> str:
        return _json_object(v)


class ShardFile(_Frozen):
    config: Literal["sft", "rl"]
    split: Split
    path: str                      # relative to the export folder
    rows: int
    sha256: str


class ExportManifest(_Frozen):
    name: str
    schema_version: str = SHARD_SCHEMA_VERSION
    run_id: str
    export_hash: str               # identity of (warehouse content exported, export config)
    sft_rows: int
    rl_rows: dict[str, int]        # split -> rows
    files: list[ShardFile]
    offline_fallbacks: list[str]
    created_at: str


class ExportConfig(_Frozen):
    """Export stage (PAPER.md §6.5-6.6, §12.E). Sizes default to the paper's sets; the folder name states
    the real counts (``<run name>-sft<N>-rl<M>``)."""

    sft_size: int = Field(default=36_000, ge=0, description="max SFT trajectories (paper: 36,592)")
    rl_size: int = Field(default=8_000, ge=0, description="max RL items (paper: 8K)")
    validation_fraction: float = Field(default=0.1, ge=0.0, lt=1.0, description="RL split [C]: 90/10")
    seed: int = Field(default=42, description="RL sampling and split seed [C]: 42")
    max_shard_bytes: int = Field(default=256 * 2**20, ge=1, description="parquet shard size bound")
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$",
                             description="folder name; default <run name>-sft<N>-rl<M>")
    publishable: bool = Field(default=True, description=(
        "false: this export must never go to the Hub (e.g. the ZIM sample: its images carry no free licence)"))
