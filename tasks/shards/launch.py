"""Run one shard as its own process: ``python -m flows.sharded --config F --shard i/N --data-dir D_i --phase P``.

A shard starts from the run's shared warehouse (``seed_shard``: the base warehouse copied next to the shard,
its image folder linked), never ingests again, and runs the per-item stages for its own part of one phase
(``PHASES``). On a cluster the
same thing is a flow run of ``flows.sharded:shard_run`` on a Prefect work pool; this module is the local
launcher.

Locally a shard process is forked from a **warm** server (``start_warm``, ``run_warm``: a
``multiprocessing`` fork server that imported the shard worker's modules once, started when a sharded run
starts so its imports overlap the ingest), not a fresh ``python -m flows.sharded``: a fresh interpreter
spends seconds importing Prefect, torch (through spaCy), datasets and the stages before its flow starts, once
per shard and phase. The forked process is still its own process (own pid, killed alone, exit status checked,
retried alone), with its output in the shard's log.
"""

from __future__ import annotations

import atexit
import importlib
import io
import multiprocessing.forkserver
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from multiprocessing import popen_forkserver, reduction, spawn, util
from multiprocessing.context import ForkServerProcess, set_spawning_popen
from pathlib import Path
from typing import Any

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


SHARED_DIRS = ("images", "indexes")
"""Folders a shard links to the base's instead of owning: ``images/`` (content-addressed files) and
``indexes/`` (the saved search indexes, ``tasks.tooling.load_indexes``: keyed by a digest of the ingested
pages and images, which every shard shares, and written atomically; so they are built once, by the first
shard phase that needs them, and reopened by every later shard and phase instead of rebuilt)."""


def seed_shard(base_dir: Path, out: Path) -> bool:
    """Give shard dir ``out`` the base run's ingest: a copy of ``base_dir``'s warehouse file (DuckDB opens one
    file per writer, so each shard writes its own copy; on a cluster this is a download of the ingest's
    warehouse or Parquet export from object storage) and ``SHARED_DIRS`` linked to the base's folders
    (``images/`` is content-addressed, so files a shard adds are the files the merge would copy anyway).

    A shard dir that already has a warehouse is left alone (a retried shard resumes where it stopped).
    Returns whether it was seeded now.
    """
    out.mkdir(parents=True, exist_ok=True)
    target = out / WAREHOUSE
    for shared in SHARED_DIRS:
        link = out / shared
        if not link.exists() and not link.is_symlink():
            (base_dir / shared).mkdir(parents=True, exist_ok=True)
            link.symlink_to((base_dir / shared).resolve(), target_is_directory=True)
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


WORKER_MODULE = "flows.sharded"
"""The shard worker: ``python -m flows.sharded``; its ``main(argv)`` is what a warm fork calls."""


def shard_args(config_path: Path, shard: ShardSpec, data_dir: Path, workers: int,
               phase: str = "questions") -> list[str]:
    """The shard worker's arguments (``flows.sharded.main``)."""
    return ["--config", str(config_path), "--shard", str(shard), "--data-dir", str(data_dir),
            "--workers", str(workers), "--phase", phase]


def shard_command(config_path: Path, shard: ShardSpec, data_dir: Path, workers: int,
                  phase: str = "questions") -> list[str]:
    """The shard worker as a fresh interpreter (what a machine without the warm server runs)."""
    return [sys.executable, "-m", WORKER_MODULE, *shard_args(config_path, shard, data_dir, workers, phase)]


def start_warm(modules: Sequence[str] = ()) -> None:
    """Start this process's fork server with the shard worker (``WORKER_MODULE``) and ``modules`` imported,
    if it is not running yet; returns at once (the server imports in the background, so the caller's next
    work overlaps it). Idempotent; the server ends when this process does; one started earlier keeps its own
    preload."""
    multiprocessing.forkserver.set_forkserver_preload([WORKER_MODULE, *modules])
    multiprocessing.forkserver.ensure_running()


class _WarmPopen(popen_forkserver.Popen):
    """``multiprocessing``'s fork-server launch without re-running the parent's main module in the child.

    A stock fork-server child first runs the parent's ``__main__`` again (as ``__mp_main__``; Python 3.11's
    fork server cannot preload it), which costs a shard seconds of imports when the parent is a test runner
    or a benchmark; ``_warm_child`` needs nothing from it (its target and arguments are importable by name).
    Otherwise ``popen_forkserver.Popen._launch`` as it is."""

    def _launch(self, process_obj: Any) -> None:
        prep = {k: v for k, v in spawn.get_preparation_data(process_obj._name).items()
                if k not in ("init_main_from_name", "init_main_from_path")}
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(prep, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        self.sentinel, w = multiprocessing.forkserver.connect_to_new_process(self._fds)  # type: ignore[attr-defined]
        parent_w = os.dup(w)       # the child watches this end to notice a dead parent
        self.finalizer = util.Finalize(self, util.close_fds, (parent_w, self.sentinel))  # type: ignore[attr-defined]
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = multiprocessing.forkserver.read_signed(self.sentinel)


class _WarmProcess(ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> _WarmPopen:     # multiprocessing's hook name
        return _WarmPopen(process_obj)


def _warm_child(entry: str, argv: list[str], log_path: str) -> None:
    """In the forked process: output to ``log_path``, call ``entry`` (``module:function``) with ``argv``, then
    run the exit handlers a normal interpreter runs (Prefect drains its logs and events there; a
    ``multiprocessing`` child leaves with ``os._exit``, which skips them)."""
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    module, _, name = entry.partition(":")
    try:
        getattr(importlib.import_module(module), name)(argv)
    finally:
        atexit._run_exitfuncs()


def run_warm(entry: str, argv: list[str], log_path: Path, tail_lines: int = 30) -> None:
    """Run ``entry(argv)`` (``"module:function"``) to completion in a process forked from the warm server
    (``start_warm``, started here if it is not running), with its output appended to ``log_path``.

    Raises:
        ShardRunError: the process exited non-zero or was killed (with the last ``tail_lines`` of its log).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start_warm()
    proc = _WarmProcess(target=_warm_child, args=(entry, argv, str(log_path)), name=f"shard {' '.join(argv)}")
    proc.start()
    try:
        proc.join()
    finally:
        if proc.is_alive():          # the caller was interrupted: the shard does not outlive it
            proc.kill()
            proc.join()
    if proc.exitcode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-tail_lines:])
        raise ShardRunError(f"shard process {proc.pid} exited {proc.exitcode}: {entry} {' '.join(argv)}\n"
                            f"(log {log_path})\n{tail}")


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
