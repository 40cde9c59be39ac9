"""Killing a pipeline process from a test: the fault the shard tests inject."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path


def kill_lock_holder_once(lock: Path, done: threading.Event) -> None:
    """SIGKILL the process holding ``lock`` (its pid is the lock file's content) once it has one; give up when
    ``done`` is set first."""
    while not done.is_set():
        text = lock.read_text().strip() if lock.exists() else ""
        if text.isdigit():
            time.sleep(0.5)
            os.kill(int(text), signal.SIGKILL)
            return
        time.sleep(0.05)
