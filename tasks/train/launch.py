"""Launch ``python -m training.grpo`` as a subprocess and stream its log to a file (PAPER.md §8.2).

The process boundary is the dependency boundary (DESIGN.md C.3): the CPU worker that runs this never
imports torch. A non-zero exit raises ``TrainLaunchError`` carrying the last lines of the log.
"""

from __future__ import annotations

import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from schemas.errors import PipelineError

TAIL_LINES = 40


class TrainLaunchError(PipelineError):
    """The training subprocess exited non-zero; the message ends with the tail of its log."""


@dataclass(frozen=True, slots=True)
class TrainRun:
    returncode: int
    log_path: Path
    output_dir: Path | None


def train_command(recipe: Path, *, output_dir: Path | None = None, export_dir: Path | None = None,
                  index_dir: Path | None = None, max_steps: int | None = None,
                  python: str = sys.executable) -> list[str]:
    cmd = [python, "-m", "training.grpo", "--recipe", str(recipe)]
    for flag, value in (("--output-dir", output_dir), ("--export-dir", export_dir), ("--index-dir", index_dir),
                        ("--max-steps", max_steps)):
        if value is not None:
            cmd += [flag, str(value)]
    return cmd


def run_training(cmd: list[str], log_path: Path, *, cwd: Path | None = None, output_dir: Path | None = None,
                 tail_lines: int = TAIL_LINES) -> TrainRun:
    """Run ``cmd``, writing stdout+stderr line by line to ``log_path``; raise with the log tail on failure."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tail: deque[str] = deque(maxlen=tail_lines)
    with log_path.open("w") as log, subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE,
                                                     stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            log.flush()
            tail.append(line.rstrip("\n"))
        code = proc.wait()
    if code != 0:
        raise TrainLaunchError(f"training exited with code {code} (log: {log_path}); last {len(tail)} lines:\n"
                               + "\n".join(tail))
    return TrainRun(code, log_path, output_dir)
