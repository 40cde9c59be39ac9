"""Run bookkeeping: code version and the ``runs`` / ``stage_stats`` rows."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import prompts
from schemas.run_config import RunConfig
from warehouse import runs as run_repo
from warehouse.db import connect
from warehouse.lock import writer_lock


def code_version() -> str:
    """``git describe`` of the checkout when there is one, else the installed package version."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], capture_output=True,
                             text=True, timeout=5, check=False, cwd=Path(__file__).resolve().parents[2])
        if out.returncode == 0 and out.stdout.strip():
            return f"git:{out.stdout.strip()}"
    except OSError:
        pass
    try:
        return f"pkg:{version('searchvl')}"
    except PackageNotFoundError:
        return "unknown"


def new_run_id(flow: str) -> str:
    return f"{flow}-{uuid.uuid4().hex[:12]}"


@contextmanager
def writer(data_dir: Path) -> Iterator[None]:
    """Hold the data dir's warehouse writer lock (re-entrant; ``warehouse/lock.py``); a second run fails at once."""
    with writer_lock(data_dir / "warehouse.duckdb"):
        yield


def start(data_dir: Path, run_id: str, flow: str, config: RunConfig) -> None:
    with connect(data_dir / "warehouse.duckdb") as con:
        run_repo.start_run(con, run_id, flow, config.name, config.config_hash(), config.as_json(),
                           code_version(), json.dumps(prompts.all_hashes(), sort_keys=True))


def finish(data_dir: Path, run_id: str, status: str, error: str | None = None) -> None:
    with connect(data_dir / "warehouse.duckdb") as con:
        run_repo.finish_run(con, run_id, status, error)


def stats(data_dir: Path, run_id: str, stage: str, counts: Mapping[tuple[str, str], int]) -> None:
    with connect(data_dir / "warehouse.duckdb") as con:
        run_repo.record_stats(con, run_id, stage, counts)
