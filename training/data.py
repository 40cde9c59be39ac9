"""Read the exported RL shards (``schemas/shards.py``: the contract between export and training).

``training/`` never opens the warehouse: it reads ``<export>/rl/<split>-*.parquet``, validates every row
against ``RlRow`` (a shard that breaks the contract fails here, loudly, with the row id) and turns the
rows into rollout ``Prompt`` values. Images are ``datasets.Image`` storage structs ``{bytes, path}``.
"""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow.parquet as pq
from pydantic import ValidationError

from schemas.shards import RlRow
from training.rollout import Prompt


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


def shard_files(export_dir: Path, split: str) -> list[Path]:
    export_dir = resolve_export(export_dir)
    files = sorted((export_dir / "rl").glob(f"{split}-*.parquet"))
    if not files:
        raise ShardError(f"no RL shards {export_dir / 'rl'}/{split}-*.parquet; run the export stage first")
    return files


def read_rl_rows(export_dir: Path, split: str = "train") -> list[RlRow]:
    rows: list[RlRow] = []
    for f in shard_files(export_dir, split):
        for i, raw in enumerate(pq.read_table(f).to_pylist()):
            try:
                rows.append(RlRow.model_validate(raw))
            except ValidationError as err:
                raise ShardError(f"{f.name} row {i} ({raw.get('id')!r}) breaks the RlRow contract: "
                                 f"{err.errors(include_url=False)[0]['msg']}") from err
    return rows


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
