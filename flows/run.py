"""Flow ``run``: the main job, ingest → paths → questions (with grounding and gates) → pool, filters and synthesis
→ export."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows._recorded import recorded
from flows.export import export
from flows.ingest import ingest
from flows.questions import questions
from flows.sample_paths import sample_paths
from flows.synthesis import synthesis
from schemas.run_config import RunConfig


@flow(name="run")
def run(config: RunConfig, data_dir: Path = Path("var"), workers: int = 2,
        run_id: str | None = None, limit: int | None = None) -> dict[str, int]:
    """Run every stage in order, recording the run (config, code version) and its outcome. ``limit`` is the
    preview mode: at most ``limit`` seeds, question items and exported rows per config. A shard
    (``config.sampling.shard``) stops after the questions; ``flows.sharded.merge_shards`` does the rest."""
    if limit:
        config = config.preview(limit)
    if config.sampling.shard is not None:
        config = config.with_shard(config.sampling.shard)     # refuses caps over all seeds (e.g. --limit)

    def body(rid: str) -> dict[str, int]:
        pages = ingest(config, data_dir, workers, rid, record_run=False)
        counts = sample_paths(config, data_dir, rid, record_run=False)
        counts |= questions(config, data_dir, rid, record_run=False)
        if config.sampling.shard is not None:   # pool → export choose over all items: after `searchvl merge`
            return {"pages": pages, **counts}
        counts |= synthesis(config, data_dir, rid, record_run=False)
        counts |= export(config, data_dir, rid, record_run=False, limit=limit)
        return {"pages": pages, **counts}

    return recorded("run", config, data_dir, run_id, True, body)
