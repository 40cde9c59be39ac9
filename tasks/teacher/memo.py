"""The teacher client's side of the request memo: the ``TeacherMemo`` port, an in-process memo, and the
group-commit writer that takes memo writes off the event loop (one writer thread) without paying one
warehouse commit per call.

A warehouse upsert costs about the same for one row as for fifty (DuckDB's per-statement overhead
dominates), so ``MemoWriter`` writes every row that completed while the previous group was being
written as the next group. A call returns only after its row is written, so "completed" always means
"in the memo": a run killed at any point re-sends nothing it reported as done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from schemas.teacher import CallRow


class TeacherMemo(Protocol):
    """Where calls are remembered: ``lookup`` returns completed calls only; errors are stored, not served."""

    def lookup(self, key: str) -> CallRow | None: ...

    def record_many(self, rows: Sequence[CallRow]) -> None: ...


class MemoryMemo:
    """An in-process ``TeacherMemo`` (benchmarks, tests, throwaway runs)."""

    def __init__(self) -> None:
        self.rows: dict[str, CallRow] = {}

    def lookup(self, key: str) -> CallRow | None:
        row = self.rows.get(key)
        return row if row is not None and row.error is None else None

    def record_many(self, rows: Sequence[CallRow]) -> None:
        for row in rows:
            self.rows[row.request_hash] = row


class MemoWriter:
    """Group commit of memo rows in one dedicated thread (one writer per memo and loop): a DuckDB upsert
    costs milliseconds, and on the loop's thread it would stall every call in flight (DuckDB releases the
    GIL while it executes). ``record_many`` must therefore be safe to call from that thread while
    ``lookup`` runs on the loop (``WarehouseMemo`` writes through its own cursor)."""

    def __init__(self, memo: TeacherMemo) -> None:
        self.memo = memo
        self.groups = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memo-writer")
        self._queue: list[tuple[CallRow, asyncio.Future[None]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def write(self, row: CallRow) -> None:
        """Queue ``row`` and return once it is written (raises what the memo raised)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.append((row, done))
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain())
        await asyncio.shield(done)

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # let completions that are ready now join this group
        while self._queue:
            group, self._queue = self._queue, []
            try:
                await asyncio.get_running_loop().run_in_executor(self._pool, self.memo.record_many,
                                                                 [row for row, _ in group])
            except Exception as err:
                for _, done in group:
                    done.set_exception(err)
                    done.exception()  # retrieved here; each waiter re-raises it
            else:
                for _, done in group:
                    done.set_result(None)
            self.groups += 1
            await asyncio.sleep(0)

    def close(self) -> None:
        """Stop the writer thread (after the last write has returned)."""
        self._pool.shutdown(wait=True)
