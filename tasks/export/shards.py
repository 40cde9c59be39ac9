"""Parquet shards with ``datasets`` features, bounded in size, written under a temporary folder.

Rows are validated models (``schemas/shards.py``). Tables are built straight from Python rows with the
Arrow schema of the ``datasets`` features (which carries the ``huggingface`` metadata), so
``load_dataset`` decodes ``images`` as PIL images without a conversion pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features, Image, List, Value

from schemas.shards import RlRow, SftRow

_S = Value("string")
_MESSAGE = {"role": _S, "content": _S, "tool_calls": List({"id": _S, "type": _S,
                                                           "function": {"name": _S, "arguments": _S}}),
            "tool_call_id": _S, "name": _S}

SFT_FEATURES = Features({
    "id": _S, "item_id": _S, "messages": List(_MESSAGE), "conversations": List({"from": _S, "value": _S}),
    "images": List(Image()), "system": _S, "tools": _S, "answer": _S, "tool_calls": Value("int32"),
    "source": _S, "provenance": _S,
})
RL_FEATURES = Features({
    "id": _S, "question": _S, "images": List(Image()), "answer": _S, "answer_aliases": List(_S), "source": _S,
    "data_source": _S, "prompt": List(_MESSAGE), "degradation": _S, "hops": Value("int32"), "split": _S,
    "provenance": _S,
})


def features(config: str) -> Features:
    return SFT_FEATURES if config == "sft" else RL_FEATURES


def _record(row: SftRow | RlRow) -> dict[str, Any]:
    return row.model_dump(by_alias=True)


def _size(row: SftRow | RlRow) -> int:
    return sum(len(im.bytes) for im in row.images) + 2048


@dataclass(frozen=True, slots=True)
class WrittenShard:
    path: Path
    rows: int
    row_ids: tuple[str, ...]
    item_ids: tuple[str, ...]


def _batches(rows: Iterable[SftRow | RlRow], max_bytes: int) -> Iterator[list[SftRow | RlRow]]:
    batch: list[SftRow | RlRow] = []
    size = 0
    for row in rows:
        s = _size(row)
        if batch and size + s > max_bytes:
            yield batch
            batch, size = [], 0
        batch.append(row)
        size += s
    if batch:                                    # an empty split gets no shard: datasets cannot load 0 rows
        yield batch


def write_shards(folder: Path, config: str, split: str, rows: Iterable[SftRow | RlRow],
                 max_bytes: int) -> list[WrittenShard]:
    """Write ``<folder>/<config>/<split>-0000i-of-0000n.parquet``; returns the shards in order."""
    schema = features(config).arrow_schema
    out_dir = folder / config
    written: list[tuple[Path, list[SftRow | RlRow]]] = []
    for i, batch in enumerate(_batches(rows, max_bytes)):
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = out_dir / f".{split}-{i:05d}.parquet"
        table = pa.Table.from_pylist([_record(r) for r in batch], schema=schema)
        pq.write_table(table, tmp, compression="zstd", row_group_size=max(1, min(len(batch), 1000)))
        written.append((tmp, batch))
    shards = []
    for i, (tmp, batch) in enumerate(written):
        final = out_dir / f"{split}-{i:05d}-of-{len(written):05d}.parquet"
        tmp.rename(final)
        shards.append(WrittenShard(final, len(batch), tuple(r.id for r in batch),
                                   tuple(r.item_id if isinstance(r, SftRow) else r.id for r in batch)))
    return shards


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
