"""Flow ``synthesis``: VQA items → pool (merged, decontaminated) → shortcut filter → enhancement → teacher
trajectories judged for answer and process."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows._recorded import recorded
from schemas.run_config import RunConfig
from tasks.filter.steps import filter_step
from tasks.pool.steps import enhance_step, pool_step
from tasks.synthesize.steps import synthesize_step


@flow(name="synthesis")
def synthesis(config: RunConfig, data_dir: Path = Path("var"), run_id: str | None = None,
              record_run: bool = True) -> dict[str, int]:
    """Pool, filter, enhance and synthesize; every stage skips what it finished before."""
    def body(rid: str) -> dict[str, int]:
        counts = {f"pool:{k}": n for k, n in pool_step(data_dir, config.pool, rid).items()}
        counts |= {f"filter:{k}": n for k, n in filter_step(data_dir, config.filter, config.teacher,
                                                              config.synthesis.judge_model, rid).items()}
        counts |= {f"enhance:{k}": n for k, n in enhance_step(data_dir, config.pool, config.filter, rid).items()}
        counts |= {f"synthesis:{k}": n for k, n in synthesize_step(data_dir, config.synthesis, config.teacher,
                                                                    config.filter, rid).items()}
        return counts

    return recorded("synthesis", config, data_dir, run_id, record_run, body)
