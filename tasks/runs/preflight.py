"""Checks made before a run starts (and by ``searchvl validate-config``): every input file the config
names exists and is readable, and the data dir can be written. A missing dump fails here in
milliseconds, once, instead of inside a flow run.
"""

from __future__ import annotations

import os
from pathlib import Path

from schemas.errors import ConfigError
from schemas.run_config import RunConfig


def shown(path: Path) -> str:
    """``path`` relative to the working directory when it is under it (logs carry no home paths)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _input_problem(label: str, path: Path, *, folder: bool = False) -> str | None:
    if not path.exists():
        return f"{label}: {shown(path)} does not exist"
    if folder and not path.is_dir():
        return f"{label}: {shown(path)} is not a folder"
    if not os.access(path, os.R_OK) or (path.is_dir() and not os.access(path, os.X_OK)):
        return f"{label}: {shown(path)} is not readable"
    return None


def _writable_problem(data_dir: Path) -> str | None:
    probe = data_dir
    while not probe.exists():              # the nearest existing folder decides whether mkdir will work
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        return f"data dir: {shown(probe)} is a file, not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"data dir: {shown(data_dir)} is not writable"
    return None


def input_problems(config: RunConfig, *, sources: bool = True) -> list[str]:
    """One line per missing or unreadable input file of ``config`` (sources and media folders when ``sources``,
    external pool files, decontamination benchmarks, a configured CLIP folder)."""
    problems: list[str] = []
    for i, src in enumerate(config.ingest.sources if sources else []):
        if src.path is not None:
            problems.append(_input_problem(f"ingest.sources.{i}.path", src.path) or "")
        if src.media_dir is not None:
            problems.append(_input_problem(f"ingest.sources.{i}.media_dir", src.media_dir, folder=True) or "")
    for i, ext in enumerate(config.pool.sources):
        problems.append(_input_problem(f"pool.sources.{i}.path", ext.path) or "")
    for i, ext in enumerate(config.pool.decontam.benchmarks):
        if ext.location == "config":              # data_dir benchmarks are checked by check_run
            problems.append(_input_problem(f"pool.decontam.benchmarks.{i}.path", ext.path) or "")
    if config.questions.clip_model_path is not None:
        problems.append(_input_problem("questions.clip_model_path", config.questions.clip_model_path,
                                       folder=True) or "")
    return [p for p in problems if p]


def check_run(config: RunConfig, data_dir: Path | None, *, sources: bool = True) -> None:
    """Raise one ``ConfigError`` naming every problem (one line each) that would stop a run. ``sources=False``
    for commands that do not ingest (a merge node need not hold the dumps).

    Raises:
        ConfigError: an input is missing or unreadable, or ``data_dir`` cannot be written.
    """
    problems = input_problems(config, sources=sources)
    if data_dir is not None:
        problems += [p for p in [_writable_problem(data_dir)] if p]
        for i, ext in enumerate(config.pool.decontam.benchmarks):
            if ext.location == "data_dir" and (p := _input_problem(f"pool.decontam.benchmarks.{i}.path",
                                                                    ext.in_data_dir(data_dir).path)):
                fetch = "scripts/fetch_benchmarks.py fetches it while online" if ext.hub_id else "place it there"
                problems.append(f"{p} (benchmark {ext.name}: {fetch})")
    if problems:
        raise ConfigError(f"config {config.name}: " + "; ".join(problems))
