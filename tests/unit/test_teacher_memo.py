"""The teacher memo's group-commit writer: rows that complete together are written together, every
caller returns only after its row is written, and a failing write reaches every caller of its group."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from schemas.teacher import CallRow
from tasks.teacher.memo import MemoryMemo, MemoWriter


def row(key: str, error: str | None = None) -> CallRow:
    return CallRow(key, "m", "teacher", "", "", None if error else "text", None, "http_500" if error else None, error,
                   1, 1, 1.0, 0.0, 1, "r", datetime(2026, 1, 1, tzinfo=UTC))


class CountingMemo(MemoryMemo):
    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.fail = fail

    def record_many(self, rows: Sequence[CallRow]) -> None:
        self.batches.append(len(rows))
        if self.fail:
            raise RuntimeError("disk full")
        super().record_many(rows)


def test_rows_completing_together_are_one_group_and_written_before_callers_return() -> None:
    memo = CountingMemo()

    async def main() -> None:
        writer = MemoWriter(memo)

        async def one(i: int) -> None:
            await writer.write(row(f"k{i}"))
            assert memo.lookup(f"k{i}") is not None       # durable before the call returns

        await asyncio.gather(*(one(i) for i in range(20)))
        await writer.write(row("late"))

    asyncio.run(main())
    assert memo.batches == [20, 1]


def test_error_rows_are_stored_but_not_served() -> None:
    memo = MemoryMemo()
    memo.record_many([row("bad", error="http_500: boom")])
    assert memo.lookup("bad") is None and "bad" in memo.rows


def test_a_failed_write_raises_in_every_caller_of_its_group() -> None:
    async def main() -> list[BaseException | None]:
        writer = MemoWriter(CountingMemo(fail=True))
        return list(await asyncio.gather(*(writer.write(row(f"k{i}")) for i in range(3)), return_exceptions=True))

    results = asyncio.run(main())
    assert all(isinstance(r, RuntimeError) and str(r) == "disk full" for r in results)
