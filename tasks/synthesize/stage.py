"""Trajectory synthesis over the warehouse: every item the filter kept → K judged rollouts, except the share
``rl_holdout`` set aside first for the RL set (``rl_holdout`` table; PAPER §6.6: RL items are a random draw
disjoint from the SFT items).

Reads: ``pool_view`` (degraded image for the enhancement subset), ``paths``, ``filter_outcomes``; the
tool environment's indexes and ``tool_calls``. Writes: ``trajectories``, ``trajectory_turns``,
``synthesis_items``, ``image_blobs`` (+ files) for every image a trajectory shows, ``tool_calls``,
``llm_calls`` (model teacher/judges only). One transaction per item; an item is done when its
``synthesis_items`` row exists, so a rerun redoes only unfinished items and, with the request memo,
re-sends no completed model call. An item where a model call failed for good (after the client's
retries) keeps its trajectory rows with the reason but stays pending, so the next run retries it. A budget
stop (``BudgetExhausted``) leaves the remaining items pending and is reported as ``("stopped", "budget")``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from prompts import render
from schemas.synthesis import OFFLINE, SynthesisConfig
from tasks.filter.stage import read_image
from tasks.ingest.images import DecodedImage, inspect_image, store_image
from tasks.synthesize.episode import OfflinePolicy, Policy
from tasks.synthesize.path_guided import PathGuidedPolicy, Plan
from tasks.synthesize.ports import AnswerJudge, ItemInput, ProcessJudge
from tasks.synthesize.rollouts import Judged, not_run, retryable, synthesize_item
from tasks.synthesize.split import split_kept
from tasks.teacher.cost import BudgetExhausted
from toolenv import ToolEnv
from warehouse import synthesis as repo
from warehouse.db import Connection
from warehouse.synthesis import BlobRow, PoolRow

log = logging.getLogger(__name__)

#: Builds the policy for (item, rollout, system prompt); a string when the teacher cannot attempt the item (why).
PolicyFactory = Callable[[PoolRow, int, str], Policy | str]


@dataclass(frozen=True, slots=True)
class Models:
    teacher: str
    make_policy: PolicyFactory
    answer_judge: AnswerJudge
    process_judge: ProcessJudge
    deterministic: bool            # one rollout is enough (the path-guided teacher)
    close: Callable[[], Awaitable[None]] | None = None


def synthesis_hash(cfg: SynthesisConfig) -> str:
    return hashlib.sha256(cfg.model_dump_json(exclude={"max_items"}).encode()).hexdigest()[:16]


def offline_policy(row: PoolRow, rollout: int, system: str) -> Policy | str:
    """The path-guided teacher for wiki items; external items have no path to follow."""
    if not row.nodes or not row.attribute or len(row.relations) != len(row.nodes) - 1:
        return "offline_teacher_needs_path"
    plan = Plan(row.question, row.answer, row.aliases, row.nodes, row.relations, row.attribute, row.degradation)
    return OfflinePolicy(PathGuidedPolicy(plan, ocr='"layout_parsing"' in system), name=OFFLINE)


def _blobs(data_dir: Path, judged: list[Judged]) -> list[BlobRow]:
    rows: dict[str, BlobRow] = {}
    for traj, _, _ in judged:
        for sha, data in traj.images.items():
            if sha in rows:
                continue
            checked = inspect_image(data, max_bytes=len(data) + 1, max_pixels=10**9)
            if isinstance(checked, DecodedImage):
                store_image(data_dir, checked, data)
                rows[sha] = (checked.sha256, checked.format, checked.width, checked.height, checked.size_bytes,
                             checked.relpath)
    return list(rows.values())


async def _run(con: Connection, cfg: SynthesisConfig, run_id: str, data_dir: Path, fhash: str,
               env_factory: Callable[[], ToolEnv], models: Models, concurrency: int,
               owns: Callable[[str], bool] | None = None) -> Counter[tuple[str, str]]:
    shash = synthesis_hash(cfg)
    counts: Counter[tuple[str, str]] = Counter()
    rollouts = 1 if models.deterministic else cfg.rollouts
    envs = [env_factory() for _ in range(max(1, concurrency))]
    system = render("synthesize/system.j2", tools=envs[0].tool_schemas(), date=cfg.date)
    prompts = {system.template: system.hash}
    stop = asyncio.Event()

    async def one(row: PoolRow, env: ToolEnv) -> None:
        item = ItemInput(row.item_id, row.question, row.answer, row.aliases,
                             read_image(data_dir, row.degraded_path or row.image_path), row.degradation,
                             nodes=row.nodes)
        first = models.make_policy(row, 0, system.text)
        if isinstance(first, str):
            judged = not_run(item, models.teacher, shash, first)
        else:
            policies = [first] + [models.make_policy(row, k, system.text) for k in range(1, rollouts)]
            judged = await synthesize_item(
                item, cfg, env=env, system=system.text, policies=[p for p in policies if not isinstance(p, str)],
                synthesis_hash=shash, answer_judge=models.answer_judge, process_judge=models.process_judge)
        done = not retryable(judged)
        repo.write_synthesis(con, run_id, shash, row.item_id, judged, _blobs(data_dir, judged), prompts, done=done)
        for _, status, reason in judged:
            counts[(status, reason or "accepted")] += 1
        if not done:
            counts[("pending", "model_call_failed")] += 1

    new = split_kept(con, run_id, shash, fhash, cfg.rl_holdout, cfg.seed)   # groups: tasks/synthesize/split.py
    if new:
        counts[("held_out", "rl")] += new
    queue = repo.pending_synthesis_items(con, fhash, shash, cfg.max_items)
    if owns is not None:     # a shard of a sharded run: the split above is global, the teacher runs on its items
        queue = [row for row in queue if owns(row.item_id)]

    async def worker(env: ToolEnv) -> None:
        while queue and not stop.is_set():
            row = queue.pop(0)
            try:
                await one(row, env)
            except BudgetExhausted as err:
                log.warning("synthesis: budget reached (%s); %d items left pending", err, len(queue) + 1)
                stop.set()

    try:
        await asyncio.gather(*(worker(e) for e in envs))
    finally:
        if models.close is not None:
            await models.close()
    if stop.is_set():
        counts[("stopped", "budget")] += 1
    return counts


def synthesize_pool(con: Connection, cfg: SynthesisConfig, run_id: str, data_dir: Path, fhash: str,
                    env_factory: Callable[[], ToolEnv], models: Models, *, concurrency: int = 1,
                    owns: Callable[[str], bool] | None = None) -> Counter[tuple[str, str]]:
    """K judged rollouts per pending kept item (``owns``: only the items it accepts, a shard's part); returns
    trajectory counts by ``(status, reason)``."""
    counts = asyncio.run(_run(con, cfg, run_id, data_dir, fhash, env_factory, models, concurrency, owns))
    log.info("synthesis: %s", dict(counts))
    return counts
