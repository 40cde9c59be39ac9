"""The difficulty filter over the warehouse: every pool item without an outcome → kept or dropped by gate.

Reads: ``pool_view``, ``paths``; the tool environment's indexes and ``tool_calls``. Writes:
``difficulty_verdicts`` (one row per gate attempt), ``filter_outcomes`` (one per item and filter config),
``tool_calls``, ``llm_calls`` (model solver/judge only). Items with a final outcome for this filter
config are skipped, so a rerun redoes nothing that finished; ``failed`` items (a model call failed
after retries) are retried. A budget stop (``BudgetExhausted``) leaves the remaining items pending and is
reported as ``("stopped", "budget")``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

from schemas.synthesis import FilterConfig
from tasks.filter.shortcuts import run_gates
from tasks.synthesize.ports import AnswerJudge, ItemInput, Solver
from tasks.teacher.cost import BudgetExhausted
from toolenv import ToolEnv
from warehouse import synthesis as repo
from warehouse.db import Connection
from warehouse.synthesis import PoolRow

log = logging.getLogger(__name__)

SolverFactory = Callable[[PoolRow], Solver]


def filter_hash(cfg: FilterConfig) -> str:
    """Identity of a filter config: everything that changes a verdict (not the preview cap)."""
    return hashlib.sha256(cfg.model_dump_json(exclude={"max_items"}).encode()).hexdigest()[:16]


def read_image(data_dir: Path, rel: str | None) -> bytes | None:
    if rel is None:
        return None
    path = data_dir / rel
    return path.read_bytes() if path.is_file() else None


async def _filter(con: Connection, cfg: FilterConfig, run_id: str, data_dir: Path, env: ToolEnv,
                  make_solver: SolverFactory, judge: AnswerJudge, concurrency: int,
                  close: Callable[[], Awaitable[None]] | None) -> Counter[tuple[str, str]]:
    fhash = filter_hash(cfg)
    counts: Counter[tuple[str, str]] = Counter()
    lock = asyncio.Semaphore(max(1, concurrency))
    # One env serves every item: a gate's reset + call are synchronous and run back to back on the loop
    # thread (its evidence is captured before any await), so concurrent items never interleave inside it.
    stop = asyncio.Event()

    async def one(row: PoolRow) -> None:
        async with lock:
            if stop.is_set():
                return
            try:
                await gate(row)
            except BudgetExhausted as err:
                if not stop.is_set():
                    log.warning("filter: %s; the remaining items stay pending", err)
                    counts[("stopped", "budget")] += 1
                stop.set()

    async def gate(row: PoolRow) -> None:
        item = ItemInput(row.item_id, row.question, row.answer, row.aliases, read_image(data_dir, row.image_path))
        solver = make_solver(row)
        result = await run_gates(env, item, cfg.gates, cfg.attempts, solver, judge)
        repo.write_filter(con, run_id, fhash, row.item_id, result.attempts, solver.name, result.status,
                          result.reason, result.pass_at_k)
        counts[(result.status, result.reason or "passed_all_gates")] += 1

    try:
        await asyncio.gather(*(one(r) for r in repo.pending_filter_items(con, fhash, cfg.max_items)))
    finally:
        if close is not None:
            await close()
    return counts


def filter_pool(con: Connection, cfg: FilterConfig, run_id: str, data_dir: Path, env: ToolEnv,
                make_solver: SolverFactory, judge: AnswerJudge, *, concurrency: int = 1,
                close: Callable[[], Awaitable[None]] | None = None) -> Counter[tuple[str, str]]:
    """Run the gates on every pending pool item; returns counts by ``(status, reason)``. ``close`` (the model
    client's) runs at the end, inside the stage's event loop."""
    counts = asyncio.run(_filter(con, cfg, run_id, data_dir, env, make_solver, judge, concurrency, close))
    log.info("filter: %s", dict(counts))
    return counts
