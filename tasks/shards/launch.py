"""Run one shard as its own process: ``python -m flows.sharded --config F --shard i/N --data-dir D_i --phase P``.

A shard starts from the run's shared warehouse (``seed_shard``: the base warehouse copied next to the shard,
its image folder linked), never ingests again, and runs the per-item stages for its own part of one phase
(``PHASES``). On a cluster the
same thing is a flow run of ``flows.sharded:shard_run`` on a Prefect work pool; this module is the local
launcher.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from schemas.errors import PipelineError
from schemas.run_config import ShardSpec

WAREHOUSE = "warehouse.duckdb"


class ShardRunError(PipelineError):
    """A shard's process exited non-zero; the message ends with the tail of its log."""


PHASES = ("questions", "pool", "synthesize")
"""A sharded run's shard phases, in order (``flows/sharded.py``): ``questions`` (paths and questions for the
shard's seeds), ``pool`` (pool → filter for the duplicate keys it owns), ``synthesize`` (enhance → teacher for
the kept items it owns)."""


def shard_dir(data_dir: Path, shard: ShardSpec, phase: str = "questions") -> Path:
    """Where shard ``i/N`` of a run under ``data_dir`` keeps its warehouse: ``<data_dir>/shards/i-of-N`` for
    the questions phase, ``<data_dir>/shards/<phase>-i-of-N`` for the later ones."""
    prefix = "" if phase == "questions" else f"{phase}-"
    return data_dir / "shards" / f"{prefix}{shard.index}-of-{shard.count}"


def seed_shard(base_dir: Path, out: Path) -> bool:
    """Give shard dir ``out`` the base run's ingest: a copy of ``base_dir``'s warehouse file (DuckDB opens one
    file per writer, so each shard writes its own copy; on a cluster this is a download of the ingest's
    warehouse or Parquet export from object storage) and ``images/`` linked to the base's image folder
    (content-addressed, so files a shard adds are the files the merge would copy anyway).

    A shard dir that already has a warehouse is left alone (a retried shard resumes where it stopped).
    Returns whether it was seeded now.
    """
    out.mkdir(parents=True, exist_ok=True)
    target = out / WAREHOUSE
    images = out / "images"
    if not images.exists() and not images.is_symlink():
        (base_dir / "images").mkdir(parents=True, exist_ok=True)
        images.symlink_to((base_dir / "images").resolve(), target_is_directory=True)
    if target.exists():
        return False
    src = base_dir / WAREHOUSE
    tmp = target.with_name(target.name + ".part")
    shutil.copyfile(src, tmp)
    wal = src.with_name(src.name + ".wal")
    if wal.exists():        # a base closed without a checkpoint: its WAL belongs to the copy too
        shutil.copyfile(wal, target.with_name(target.name + ".wal"))
    os.replace(tmp, target)
    return True


def shard_command(config_path: Path, shard: ShardSpec, data_dir: Path, workers: int,
                  phase: str = "questions") -> list[str]:
    return [sys.executable, "-m", "flows.sharded", "--config", str(config_path), "--shard", str(shard),
            "--data-dir", str(data_dir), "--workers", str(workers), "--phase", phase]


def run_shard(cmd: list[str], log_path: Path, env: Mapping[str, str] | None = None, tail_lines: int = 30) -> None:
    """Run ``cmd`` to completion with its output in ``log_path`` (appended: a retry keeps the failed try's log).

    Raises:
        ShardRunError: the process exited non-zero (with the last ``tail_lines`` lines of its log).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a") as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=dict(env) if env else None,
                              check=False)
    if proc.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-tail_lines:])
        raise ShardRunError(f"shard command exited {proc.returncode}: {' '.join(cmd)}\n(log {log_path})\n{tail}")
