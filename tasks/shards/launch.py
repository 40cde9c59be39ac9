"""Run one shard as its own process: ``python -m flows run --config F --shard i/N --data-dir D_i``.

Each shard is the ordinary ``run`` command with a shard, so a shard on a cluster node, a Prefect work-pool
flow run or a local subprocess are the same thing; this module is the local launcher.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from schemas.errors import PipelineError
from schemas.run_config import ShardSpec


class ShardRunError(PipelineError):
    """A shard's process exited non-zero; the message ends with the tail of its log."""


def shard_dir(data_dir: Path, shard: ShardSpec) -> Path:
    """Where shard ``i/N`` of a run under ``data_dir`` keeps its warehouse: ``<data_dir>/shards/i-of-N``."""
    return data_dir / "shards" / f"{shard.index}-of-{shard.count}"


def shard_command(config_path: Path, shard: ShardSpec, data_dir: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "flows", "run", "--config", str(config_path), "--shard", str(shard),
            "--data-dir", str(data_dir), "--workers", str(workers)]


def run_shard(cmd: list[str], log_path: Path, env: Mapping[str, str] | None = None, tail_lines: int = 30) -> None:
    """Run ``cmd`` to completion with its output in ``log_path``.

    Raises:
        ShardRunError: the process exited non-zero (with the last ``tail_lines`` lines of its log).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=dict(env) if env else None,
                              check=False)
    if proc.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-tail_lines:])
        raise ShardRunError(f"shard command exited {proc.returncode}: {' '.join(cmd)}\n(log {log_path})\n{tail}")
