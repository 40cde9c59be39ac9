"""Launch ``python -m training.run`` as a subprocess and stream its log to a file (PAPER.md §8.1–8.2).

The process boundary is the dependency boundary (DESIGN.md C.3): the CPU worker that runs this never
imports torch. The recipe's ``stage`` (sft | grpo) picks the trainer inside the subprocess. Lines the
trainer marks as progress (``[###···] sft step 3/40 loss …``) are passed to ``on_progress``; its last
``TRAIN_RESULT {json}`` line says where the checkpoint, the log and ``rollout_stats.jsonl`` went. A non-zero
exit raises ``TrainLaunchError`` carrying the last lines of the log.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from schemas.errors import PipelineError

TAIL_LINES = 40
RESULT_MARKER = "TRAIN_RESULT "      # training/report.py writes it; the process boundary keeps us from importing it
PROGRESS_MARKER = "] sft step ", "] grpo step "


class TrainLaunchError(PipelineError):
    """The training subprocess exited non-zero; the message ends with the tail of its log."""


@dataclass(frozen=True, slots=True)
class TrainRun:
    returncode: int
    log_path: Path
    output_dir: Path | None
    result: dict[str, Any] = field(default_factory=dict)   # the TRAIN_RESULT summary (empty when absent)


def train_command(recipe: Path, *, output_dir: Path | None = None, export_dir: Path | None = None,
                  index_dir: Path | None = None, max_steps: int | None = None, model_path: Path | None = None,
                  python: str = sys.executable) -> list[str]:
    cmd = [python, "-m", "training.run", "--recipe", str(recipe)]
    for flag, value in (("--output-dir", output_dir), ("--export-dir", export_dir), ("--index-dir", index_dir),
                        ("--max-steps", max_steps), ("--model-path", model_path)):
        if value is not None:
            cmd += [flag, str(value)]
    return cmd


def recipe_output_dir(recipe: Path) -> Path | None:
    """``train.output_dir`` as the recipe file states it (``None`` when unreadable: the trainer reports that)."""
    try:
        raw = yaml.safe_load(recipe.read_text())
    except (OSError, yaml.YAMLError):
        return None
    train = raw.get("train") if isinstance(raw, dict) else None
    value = train.get("output_dir") if isinstance(train, dict) else None
    return Path(value) if isinstance(value, str) else None


def parse_result(line: str) -> dict[str, Any] | None:
    """The JSON after ``TRAIN_RESULT `` in a log line, or ``None``."""
    at = line.find(RESULT_MARKER)
    if at < 0:
        return None
    try:
        value = json.loads(line[at + len(RESULT_MARKER):])
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def progress_text(line: str) -> str | None:
    """The ``[###···] <stage> step i/n …`` part of a progress line, or ``None``."""
    if not any(m in line for m in PROGRESS_MARKER):
        return None
    at = line.find("[")
    return line[at:].rstrip() if at >= 0 else None


def run_training(cmd: list[str], log_path: Path, *, cwd: Path | None = None, output_dir: Path | None = None,
                 tail_lines: int = TAIL_LINES, on_progress: Callable[[str], None] | None = None) -> TrainRun:
    """Run ``cmd``, writing stdout+stderr line by line to ``log_path``; raise with the log tail on failure."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tail: deque[str] = deque(maxlen=tail_lines)
    result: dict[str, Any] = {}
    with log_path.open("w") as log, subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE,
                                                     stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            log.flush()
            tail.append(line.rstrip("\n"))
            result = parse_result(line) or result
            progress = progress_text(line)
            if progress and on_progress is not None:
                on_progress(progress)
        code = proc.wait()
    if code != 0:
        raise TrainLaunchError(f"training exited with code {code} (log: {log_path}); last {len(tail)} lines:\n"
                               + "\n".join(tail))
    out = Path(result["output_dir"]) if result.get("output_dir") else output_dir
    return TrainRun(code, log_path, out, result)
