"""The ``runs`` table (config, code version, prompt hashes) and ``stage_stats`` counts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from warehouse.db import Connection


def start_run(con: Connection, run_id: str, flow: str, config_name: str, config_hash: str,
              config_json: str, code_version: str, prompt_hashes: str = "{}") -> None:
    con.execute(
        "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 'running', NULL)",
        [run_id, flow, config_name, config_hash, config_json, code_version, prompt_hashes,
         datetime.now(UTC)],
    )


def finish_run(con: Connection, run_id: str, status: str, error: str | None = None) -> None:
    con.execute(
        "UPDATE runs SET finished_at = ?, status = ?, error = ? WHERE run_id = ?",
        [datetime.now(UTC), status, error, run_id],
    )


def record_stats(con: Connection, run_id: str, stage: str,
                 counts: Mapping[tuple[str, str], int]) -> None:
    """Replace the ``(outcome, reason) -> n`` counts of one stage in one run."""
    con.execute("DELETE FROM stage_stats WHERE run_id = ? AND stage = ?", [run_id, stage])
    if not counts:
        return
    con.executemany(
        "INSERT INTO stage_stats VALUES (?, ?, ?, ?, ?)",
        [[run_id, stage, outcome, reason, n] for (outcome, reason), n in sorted(counts.items())],
    )


def unit_fingerprint(con: Connection) -> dict[tuple[str, str], npt.NDArray[np.uint64]]:
    """``(stage, kept|dropped) -> unit hashes`` (named query ``stage_units``), to compare two states of the
    warehouse; numpy arrays, so millions of pages cost megabytes."""
    from warehouse.db import load_query

    cols = con.execute(load_query("stage_units")).fetchnumpy()
    stages, outcomes, hashes = (np.asarray(cols[c]) for c in ("stage", "outcome", "unit_hash"))
    out: dict[tuple[str, str], npt.NDArray[np.uint64]] = {}
    for key in sorted({(str(s), str(o)) for s, o in zip(stages, outcomes, strict=True)}):
        mask = (stages == key[0]) & (outcomes == key[1])
        out[key] = hashes[mask].astype(np.uint64)
    return out
