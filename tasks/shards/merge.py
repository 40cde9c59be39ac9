"""Merge shard data dirs into one: warehouse rows (``warehouse.merge``) and image files.

Images are content-addressed (``images/<sha[:2]>/<sha>.<ext>``), so a file already in the target is
the same file and is not copied again; a copy goes through a temporary name so a crash never leaves a
truncated image under its final name.
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from schemas.errors import WarehouseError
from warehouse.db import connect
from warehouse.merge import merge_from

log = logging.getLogger(__name__)
WAREHOUSE = "warehouse.duckdb"


def copy_images(src_dir: Path, dst_dir: Path, relpaths: Sequence[str]) -> int:
    """Copy the files ``relpaths`` (relative to the data dirs) that ``dst_dir`` lacks; returns how many."""
    copied = 0
    for rel in relpaths:
        src, dst = src_dir / rel, dst_dir / rel
        if dst.exists():
            continue
        if not src.exists():
            raise WarehouseError(f"shard {src_dir}: image file {rel} named in image_blobs is missing")
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(dst.name + ".part")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)
        copied += 1
    return copied


INGEST_TABLES = frozenset({"sources", "pages", "links", "aliases", "image_refs", "page_degrees"})
"""What one shared ingest writes and a shard seeded from it (``seed_shard``) only reads."""


def merge_shards(target_dir: Path, shard_dirs: Sequence[Path], *, seeded: bool = False) -> dict[str, int]:
    """Union every shard's warehouse into ``target_dir/warehouse.duckdb`` (created when missing) and copy
    their images. Idempotent: merging a shard again adds nothing. ``seeded``: the shards were seeded from
    ``target_dir``'s own ingest, so ``INGEST_TABLES`` are already there and are not copied back.

    Returns:
        Counts: ``merged:shards``, ``merged:<table>`` (rows added), ``merged:images`` (files copied) and
        ``memo_conflict:<table>`` (memo keys two shards stored differently; the first row seen is kept).

    Raises:
        WarehouseError: a shard dir has no warehouse, comes from other migrations, or disagrees with an
            earlier shard on a row's data (the shards did not run one config over the same sources).
    """
    if not shard_dirs:
        raise WarehouseError("merge needs at least one shard data dir (--from)")
    resolved = target_dir.resolve()
    if any(d.resolve() == resolved for d in shard_dirs):
        raise WarehouseError(f"cannot merge {target_dir} into itself")
    counts: Counter[str] = Counter()
    with connect(target_dir / WAREHOUSE) as con:
        for d in shard_dirs:
            res = merge_from(con, d / WAREHOUSE, shared=INGEST_TABLES if seeded else frozenset())
            counts["merged:shards"] += 1
            counts.update({f"merged:{t}": n for t, n in res.inserted.items()})
            counts.update({f"memo_conflict:{t}": n for t, n in res.memo_conflicts.items()})
            counts["merged:images"] += copy_images(d, target_dir, res.blob_paths)
            log.info("merged %s: %d rows, %d memo conflicts", d, sum(res.inserted.values()),
                     sum(res.memo_conflicts.values()))
    return dict(counts)
