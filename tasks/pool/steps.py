"""Prefect surface of the pool stage: build the pool, then (after the filter) degrade the enhancement subset."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from schemas.pool import PoolConfig
from schemas.run_config import ShardSpec
from schemas.synthesis import FilterConfig
from tasks.filter.stage import filter_hash
from tasks.pool.stage import build_pool, enhance_pool
from tasks.runs import record
from warehouse.db import connect
from warehouse.synthesis import kept_item_ids


def _pairs(counts: dict[str, int]) -> dict[tuple[str, str], int]:
    return {(k.split(":", 1)[0], k.split(":", 1)[-1]): n for k, n in counts.items()}


@task(name="build_pool", tags=["warehouse-writer"])
def pool_step(data_dir: Path, cfg: PoolConfig, run_id: str, shard: ShardSpec | None = None) -> dict[str, int]:
    with connect(data_dir / "warehouse.duckdb") as con:
        counts = build_pool(con, cfg, run_id, data_dir, shard=shard)
    record.stats(data_dir, run_id, "pool", _pairs(counts))
    get_run_logger().info("pool: %s", counts)
    return counts


@task(name="enhance_pool", tags=["warehouse-writer"])
def enhance_step(data_dir: Path, cfg: PoolConfig, filter_cfg: FilterConfig, run_id: str,
                 shard: ShardSpec | None = None) -> dict[str, int]:
    """The enhancement subset of the kept items (``shard``: of the kept items whose id it owns)."""
    with connect(data_dir / "warehouse.duckdb") as con:
        ids = [i for i in kept_item_ids(con, filter_hash(filter_cfg)) if shard is None or shard.owns("item", i)]
        counts = enhance_pool(con, cfg, run_id, ids, data_dir)
    record.stats(data_dir, run_id, "enhance", _pairs(counts))
    get_run_logger().info("enhance: %s", counts)
    return counts
