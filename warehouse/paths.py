"""Write sampled paths and seed rejects (idempotent per wiki and sampling config)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime

import pyarrow as pa

from schemas.paths import PathEdge, PathNode, SampledPath, SeedReject
from warehouse.db import Connection
from warehouse.rejects import clear_rejects, upsert_rejects

STAGE = "sample_paths"
_NODE = tuple(f.name for f in fields(PathNode))
_EDGE = tuple(f.name for f in fields(PathEdge))


def _row(record: object, names: tuple[str, ...]) -> dict[str, object]:
    """A flat record as a dict (``dataclasses.asdict`` deep-copies every value: most of this writer's time)."""
    return {n: getattr(record, n) for n in names}


def replace_paths(con: Connection, run_id: str, wiki: str, sampling_hash: str,
                  paths: Sequence[SampledPath], rejects: Sequence[SeedReject]) -> None:
    """Replace this wiki's paths and seed rejects for this sampling config, in one transaction."""
    now = datetime.now(UTC)
    tbl = pa.Table.from_pylist([
        {"path_id": p.path_id, "run_id": run_id, "wiki": p.wiki, "seed_title": p.seed_title,
         "domain": p.domain, "hops": p.hops, "nodes": [_row(n, _NODE) for n in p.nodes],
         "edges": [_row(e, _EDGE) for e in p.edges], "answer_attribute": p.answer_attribute,
         "answer": p.answer, "retries": p.retries, "sampling_hash": p.sampling_hash, "seed": p.seed,
         "created_at": now}
        for p in paths
    ])
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM paths WHERE wiki = ? AND sampling_hash = ?", [wiki, sampling_hash])
        clear_rejects(con, STAGE, f"{wiki}:{sampling_hash}:")
        if tbl.num_rows:
            con.register("_paths", tbl)
            con.execute("INSERT INTO paths BY NAME SELECT * FROM _paths")
            con.unregister("_paths")
        upsert_rejects(con, STAGE, run_id,
                       [(f"{r.wiki}:{sampling_hash}:{r.seed_title}", r.reason, r.detail) for r in rejects])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
