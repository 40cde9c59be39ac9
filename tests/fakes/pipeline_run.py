"""``searchvl run`` as a subprocess with every model stage on one scripted local server, for the crash/resume
and outside-fault tests: the config (the demo config, shrunk, with model names everywhere), the command,
and the warehouse checks both tests share."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import yaml

from tasks.llm import request_key
from tasks.teacher.client import body_key

ROOT = Path(__file__).resolve().parents[2]
SEARCHVL = Path(sys.executable).with_name("searchvl")

#: Primary keys of the tables a run writes (for the duplicate check).
KEYS = {
    "pages": "wiki, title", "rejects": "stage, unit_id", "paths": "path_id",
    "question_items": "item_id", "pool_items": "item_id",
    "trajectories": "trajectory_id", "trajectory_turns": "trajectory_id, idx", "llm_calls": "request_hash",
    "difficulty_verdicts": "item_id, filter_hash, gate, attempt",
}


def write_config(tmp_path: Path, *, paths_per_seed: int = 2, rollouts: int = 2, timeout_s: float = 5.0,
                 max_retries: int = 2, concurrency: int = 2) -> Path:
    """The demo config with absolute corpus paths, fewer paths, and model names for the question model,
    the filter solver, the teacher and the judges (all served by the same scripted endpoint)."""
    raw: dict[str, Any] = yaml.safe_load((ROOT / "flows/configs/demo.yaml").read_text())
    for src in raw["ingest"]["sources"]:
        for key in ("path", "media_dir"):
            src[key] = str((ROOT / "flows/configs" / src[key]).resolve())
    raw["sampling"]["paths_per_seed"] = paths_per_seed
    raw["questions"] |= {"model": "scripted-llm", "n_candidates": 2, "obfuscation_p": 0.0}
    raw["filter"]["solver"] = "scripted-solver"
    raw["synthesis"] |= {"rollouts": rollouts, "judge_model": "scripted-judge"}
    raw["teacher"] = {"model": "scripted-teacher", "timeout_s": timeout_s, "max_retries": max_retries,
                      "backoff_base_s": 0.01, "backoff_max_s": 0.05,
                      "concurrency": {"initial": concurrency, "max": concurrency}}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def env(base_url: str, llm_timeout_s: float = 5.0) -> dict[str, str]:
    out = {**os.environ, "SEARCHVL_TEACHER_BASE_URL": base_url, "SEARCHVL_LLM_BASE_URL": base_url,
           "SEARCHVL_LLM_TIMEOUT_S": str(llm_timeout_s), "SEARCHVL_WORKERS": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120", "PYTHONUNBUFFERED": "1"}
    out.pop("PREFECT_API_URL", None)
    out.pop("SEARCHVL_DEBUG", None)
    return out


def start(cfg: Path, data: Path, base_url: str, llm_timeout_s: float = 5.0, log: Path | None = None
          ) -> subprocess.Popen[bytes]:
    """``searchvl run`` in its own session (so the test can SIGKILL the whole group); output to ``log``
    (appended) when given, else to a pipe."""
    out = log.open("ab") if log is not None else subprocess.PIPE
    try:
        return subprocess.Popen([str(SEARCHVL), "run", "--config", str(cfg), "--data-dir", str(data)],
                                env=env(base_url, llm_timeout_s), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=ROOT)
    finally:
        if log is not None:
            out.close()  # type: ignore[union-attr]


def request_hashes(body: dict[str, Any]) -> set[str]:
    """Every memo key a request body can have: the teacher client's (the body's hash) and the question
    stage client's (model, messages, sampling params)."""
    params = {k: body[k] for k in ("temperature", "seed") if k in body}
    return {body_key(body), request_key(str(body.get("model")), body.get("messages", []), params)}


def read(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on a finished warehouse (read-only)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def duplicate_keys(db: Path) -> dict[str, int]:
    """Rows beyond the first per primary key, for every table in ``KEYS`` (all zero in a sound warehouse)."""
    out = {}
    for table, key in KEYS.items():
        (n,) = read(db, f"SELECT count(*) - count(DISTINCT ({key})) FROM {table}")[0]
        out[table] = int(n)
    return out
