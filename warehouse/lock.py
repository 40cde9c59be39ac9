"""One writing run per warehouse, across processes: an advisory ``flock`` on ``<warehouse>.lock``.

DuckDB's own file lock guards one connection, but a run opens and closes a connection per stage, so
between two stages a second ``searchvl run`` on the same data dir could open the file and interleave its
writes with the first run's. The run therefore holds this lock from its first write to its end; a second
run fails at once with ``WarehouseError`` naming the holder's pid. The kernel drops the lock when the
holder dies (even by SIGKILL), so a crashed run never leaves a stale lock behind: the rerun just takes it.

Re-entrant within a process (a flow and its subflows, all in one process, take it once).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from schemas.errors import WarehouseError

_held: dict[Path, tuple[int, int]] = {}      # lock file -> (descriptor, depth)
_guard = threading.Lock()


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def _acquire(lock: Path, warehouse: Path) -> int:
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        who = f" (pid {holder})" if holder.isdigit() else ""
        raise WarehouseError(f"warehouse {warehouse} is being written by another searchvl run{who}; only one "
                             "writer at a time (wait for it to finish, or read a snapshot with `searchvl inspect`)"
                             ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


@contextmanager
def writer_lock(warehouse: Path) -> Iterator[None]:
    """Hold the warehouse's writer lock for the block.

    Raises:
        WarehouseError: another process holds it.
    """
    lock = lock_path(warehouse).absolute()
    with _guard:
        fd, depth = _held.get(lock) or (_acquire(lock, warehouse), 0)
        _held[lock] = (fd, depth + 1)
    try:
        yield
    finally:
        with _guard:
            fd, depth = _held[lock]
            if depth > 1:
                _held[lock] = (fd, depth - 1)
            else:
                del _held[lock]
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
