"""Flow ``sample_paths``: link graph → anchor/bridge/answer paths, with seed rejects."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows._recorded import recorded
from schemas.run_config import RunConfig
from tasks.sample.steps import sample_paths_step


@flow(name="sample_paths")
def sample_paths(config: RunConfig, data_dir: Path = Path("var"), run_id: str | None = None,
                 record_run: bool = True) -> dict[str, int]:
    """Sample one path per eligible seed (or a reject with its reason) for every wiki."""
    return recorded("sample_paths", config, data_dir, run_id, record_run,
                    lambda rid: sample_paths_step(data_dir, config.sampling, rid))
