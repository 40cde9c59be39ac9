"""A small teacher run for the SIGKILL-resume test: N distinct chat calls through ``TeacherClient`` with
the warehouse memo, against a server URL. Writes ``done <i>`` per completed call (flushed) and
``finished`` at the end, so the test can kill it part-way.

Usage: python -m tests.fakes.teacher_driver BASE_URL WAREHOUSE_PATH N CONCURRENCY
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from schemas.teacher import ConcurrencyConfig, TeacherConfig
from tasks.teacher.client import TeacherClient
from warehouse.db import connect
from warehouse.llm_calls import WarehouseMemo


async def drive(base_url: str, db: Path, n: int, concurrency: int) -> None:
    cfg = TeacherConfig(model="scripted-model", temperature=0.0, max_tokens=32, timeout_s=10, max_retries=2,
                        backoff_base_s=0.01, backoff_max_s=0.1,
                        concurrency=ConcurrencyConfig(initial=concurrency, max=concurrency))
    with connect(db) as con:
        async with TeacherClient(base_url, None, cfg, memo=WarehouseMemo(con), run_id="driver") as client:

            async def one(i: int) -> None:
                await client.chat([{"role": "user", "content": f"item {i}"}], purpose="teacher")
                sys.stdout.write(f"done {i}\n")
                sys.stdout.flush()

            await asyncio.gather(*(one(i) for i in range(n)))
    sys.stdout.write("finished\n")
    sys.stdout.flush()


if __name__ == "__main__":
    url, path, count, conc = sys.argv[1:5]
    asyncio.run(drive(url, Path(path), int(count), int(conc)))
