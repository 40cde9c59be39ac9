"""Choosing the solver, teacher and judges from config: offline (path-guided, alias-match, rules) or models
on the teacher endpoint, all sharing one ``TeacherClient`` (memo in ``llm_calls``, one budget).

The budget cap is per run: each stage's ledger starts with the cap minus what this run already spent
in earlier stages (``llm_calls.cost_usd`` of the run), so filter + synthesis together stop at the cap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from schemas.errors import ConfigError
from schemas.settings import Settings
from schemas.synthesis import OFFLINE, FilterConfig, SynthesisConfig
from schemas.teacher import TeacherConfig
from tasks.synthesize.ports import (
    AnswerJudge,
    OfflineAnswerJudge,
    OfflineProcessJudge,
    OfflineSolver,
    ProcessJudge,
    Solver,
)
from tasks.synthesize.remote import ModelAnswerJudge, ModelPolicy, ModelProcessJudge, ModelSolver
from tasks.synthesize.stage import Models, PolicyFactory, offline_policy
from tasks.teacher.client import TeacherClient, teacher_from_settings
from tasks.teacher.cost import CostLedger, PriceTable
from warehouse.db import Connection
from warehouse.llm_calls import WarehouseMemo
from warehouse.synthesis import PoolRow, run_spend


@dataclass(frozen=True, slots=True)
class FilterModels:
    make_solver: Callable[[PoolRow], Solver]
    judge: AnswerJudge
    close: Callable[[], Awaitable[None]] | None


def _client(con: Connection, settings: Settings, teacher: TeacherConfig, run_id: str, model: str) -> TeacherClient:
    cfg = teacher if not teacher.offline else teacher.model_copy(update={"model": model})
    budget = None
    if cfg.budget_usd is not None:
        budget = max(0.0, cfg.budget_usd - run_spend(con, run_id))   # 0: the first call stops the stage
    ledger = CostLedger(PriceTable(cfg.prices, cfg.call_prices), budget)
    try:
        return teacher_from_settings(settings, cfg, memo=WarehouseMemo(con), ledger=ledger, run_id=run_id)
    except ConfigError as err:
        raise ConfigError(f"{err} (needed for model {model!r})") from err


def filter_models(con: Connection, settings: Settings, teacher: TeacherConfig, cfg: FilterConfig,
                  judge_model: str | None, run_id: str) -> FilterModels:
    """Offline solver + alias-match judge, or models (solver and/or judge) on the teacher endpoint."""
    if cfg.solver == OFFLINE and judge_model is None:
        return FilterModels(lambda row: OfflineSolver(row.answer, row.aliases), OfflineAnswerJudge(), None)
    client = _client(con, settings, teacher, run_id, cfg.solver if cfg.solver != OFFLINE else str(judge_model))

    def make_solver(row: PoolRow) -> Solver:
        if cfg.solver == OFFLINE:
            return OfflineSolver(row.answer, row.aliases)
        return ModelSolver(client, cfg.solver, cfg.temperature, teacher.seed)

    judge: AnswerJudge = ModelAnswerJudge(client, judge_model) if judge_model else OfflineAnswerJudge()
    return FilterModels(make_solver, judge, client.aclose)


def synthesis_models(con: Connection, settings: Settings, teacher: TeacherConfig, cfg: SynthesisConfig,
                     run_id: str) -> Models:
    """The teacher policy factory and both judges (and the client's close, when there is a client)."""
    if teacher.offline and cfg.judge_model is None:
        return Models(OFFLINE, offline_policy, OfflineAnswerJudge(), OfflineProcessJudge(), True)
    client = _client(con, settings, teacher, run_id, teacher.model if not teacher.offline else str(cfg.judge_model))
    make_policy: PolicyFactory = offline_policy
    if not teacher.offline:
        def make_policy(row: PoolRow, k: int, system: str) -> ModelPolicy:
            return ModelPolicy(client, system, teacher.seed + k)
    answer: AnswerJudge = ModelAnswerJudge(client, cfg.judge_model) if cfg.judge_model else OfflineAnswerJudge()
    process: ProcessJudge = ModelProcessJudge(client, cfg.judge_model) if cfg.judge_model else OfflineProcessJudge()
    return Models(teacher.model, make_policy, answer, process, teacher.offline, client.aclose)
