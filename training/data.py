"""Read the exported shards (``schemas/shards.py``: the contract between export and training).

``training/`` never opens the warehouse: it reads ``<export>/rl/<split>-*.parquet`` (GRPO) and
``<export>/sft/train-*.parquet`` (SFT), validates every row against ``RlRow`` / ``SftRow`` (a shard that
breaks the contract fails here, loudly, with the row id) and turns RL rows into rollout ``Prompt`` values
and SFT rows into chat examples (``sft_example``). Images are ``datasets.Image`` storage structs
``{bytes, path}``.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Literal, TypeVar

import pyarrow.parquet as pq
from pydantic import ValidationError

from schemas.shards import ExportManifest, RlRow, SftRow
from training.rollout import Prompt

RowT = TypeVar("RowT", RlRow, SftRow)


class ShardError(ValueError):
    """No shards where the recipe points, or a row that does not follow ``RlRow``."""


def resolve_export(path: Path) -> Path:
    """An export folder as given, or the newest export under an export root (``<data_dir>/export``): exports
    are named by their counts (``demo-sft2-rl4``), so recipes can point at the root."""
    if (path / "rl").is_dir() or not path.is_dir():
        return path
    exports = [p for p in path.iterdir() if (p / "manifest.json").is_file() and not p.name.startswith(".")]
    if not exports:
        return path
    return max(exports, key=lambda p: (p / "manifest.json").stat().st_mtime)


def shard_files(export_dir: Path, split: str, config: Literal["rl", "sft"] = "rl") -> list[Path]:
    export_dir = resolve_export(export_dir)
    files = sorted((export_dir / config).glob(f"{split}-*.parquet"))
    if not files:
        raise ShardError(f"no {config.upper()} shards {export_dir / config}/{split}-*.parquet; "
                         "run the export stage first")
    return files


def export_label(export_dir: Path) -> str:
    """``<export name>@<export hash[:12]>`` from the manifest (what a model card names as its data), or the
    folder name; never a local path."""
    folder = resolve_export(export_dir)
    try:
        manifest = ExportManifest.model_validate_json((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return folder.name
    return f"{manifest.name}@{manifest.export_hash[:12]}"


def _read_rows(export_dir: Path, split: str, config: Literal["rl", "sft"], model: type[RowT]) -> list[RowT]:
    rows: list[RowT] = []
    for f in shard_files(export_dir, split, config):
        for i, raw in enumerate(pq.read_table(f).to_pylist()):
            try:
                rows.append(model.model_validate(raw))
            except ValidationError as err:
                raise ShardError(f"{f.name} row {i} ({raw.get('id')!r}) breaks the {model.__name__} contract: "
                                 f"{err.errors(include_url=False)[0]['msg']}") from err
    return rows


def read_rl_rows(export_dir: Path, split: str = "train") -> list[RlRow]:
    return _read_rows(export_dir, split, "rl", RlRow)


def to_prompt(row: RlRow) -> Prompt:
    messages = tuple({"role": m.role, "content": m.content} for m in row.prompt)
    return Prompt(row.id, row.question, messages, tuple(i.bytes for i in row.images), row.answer,
                  tuple(row.answer_aliases))


def load_prompts(export_dir: Path, split: str = "train", *, max_items: int | None = None,
                 seed: int = 3407) -> list[Prompt]:
    """Validated prompts of one split, shuffled with ``seed`` (the table's data seed), capped at ``max_items``."""
    prompts = [to_prompt(r) for r in read_rl_rows(export_dir, split)]
    random.Random(seed).shuffle(prompts)
    return prompts[:max_items] if max_items else prompts


def read_sft_rows(export_dir: Path, split: str = "train") -> list[SftRow]:
    return _read_rows(export_dir, split, "sft", SftRow)


def sft_example(row: SftRow) -> dict[str, Any]:
    """One SFT row as a TRL conversational vision example: ``messages`` exactly as exported (the system
    prompt carries the ``<tools>`` schema the teacher saw; assistant actions are ``tool_calls`` with JSON
    ``arguments`` strings; tool results are ``tool`` messages; ``<image>`` marks each image) and ``images``
    (bytes, in marker order). ``tool_call_id``/``name`` are dropped: the chat templates do not render them."""
    messages = [{"role": m.role, "content": m.content,
                 "tool_calls": [{"type": "function", "function": {"name": c.function.name,
                                                                  "arguments": c.function.arguments}}
                                for c in m.tool_calls] if m.tool_calls else None}
                for m in row.messages]
    return {"id": row.id, "messages": messages, "images": [i.bytes for i in row.images]}


def load_sft_examples(export_dir: Path, split: str = "train", *, max_items: int | None = None,
                      seed: int = 3407) -> list[dict[str, Any]]:
    """Validated SFT examples, shuffled with ``seed`` and capped at ``max_items``."""
    examples = [sft_example(r) for r in read_sft_rows(export_dir, split)]
    random.Random(seed).shuffle(examples)
    return examples[:max_items] if max_items else examples

