"""Kill ``searchvl synthesize`` with SIGKILL mid-run and run it again: no duplicate rows, and the scripted
server's counters show that no request whose call had completed (a memo row) was sent again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.factories import corpus_through_pool
from tests.fakes.openai_server import OpenAIServer
from tests.fakes.scripted_teacher import responder
from warehouse.db import connect

ROOT = Path(__file__).resolve().parents[2]
SEARCHVL = Path(sys.executable).with_name("searchvl")


def _config(tmp_path: Path) -> Path:
    raw = yaml.safe_load((ROOT / "flows/configs/demo.yaml").read_text())
    for src in raw["ingest"]["sources"]:
        for key in ("path", "media_dir"):
            src[key] = str((ROOT / "flows/configs" / src[key]).resolve())
    raw |= {"teacher": {"model": "scripted-teacher", "timeout_s": 5, "backoff_base_s": 0.01, "backoff_max_s": 0.05,
                        "concurrency": {"initial": 2, "max": 2}},
            "filter": {"solver": "scripted-solver"},
            "synthesis": {"rollouts": 3, "judge_model": "scripted-judge"}}
    path = tmp_path / "scripted.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _run(cfg: Path, data: Path, base_url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SEARCHVL_TEACHER_BASE_URL": base_url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    return subprocess.Popen([str(SEARCHVL), "synthesize", "--config", str(cfg), "--data-dir", str(data)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.mark.slow
def test_sigkill_mid_synthesis_then_rerun(tmp_path: Path) -> None:
    data = tmp_path / "var"
    data.mkdir()
    with connect(data / "warehouse.duckdb") as con:
        corpus_through_pool(con, data, ROOT / "flows/configs/demo.yaml")
        answers = {str(q): str(a) for q, a in con.execute("SELECT question, answer FROM pool_items").fetchall()}
    cfg = _config(tmp_path)
    with OpenAIServer(responder(answers), latency_s=0.15) as server:
        proc = _run(cfg, data, server.base_url)
        deadline = time.monotonic() + 240
        while len(server.requests) < 40 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, (proc.stdout.read() if proc.stdout else b"").decode()[-3000:]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        with connect(data / "warehouse.duckdb") as con:
            completed = {str(r[0]) for r in con.execute("SELECT request_hash FROM llm_calls WHERE error IS NULL"
                                                        ).fetchall()}
            before = con.execute("SELECT count(*) FROM synthesis_items").fetchone()
        assert completed and before is not None and before[0] < len(answers)   # killed mid-run
        sent_before = dict(server.body_counts)
        rerun = _run(cfg, data, server.base_url)
        out, _ = rerun.communicate(timeout=240)
        assert rerun.returncode == 0, out.decode()[-3000:]
        assert all(server.body_counts[h] == sent_before[h] for h in completed)   # nothing completed was re-sent
    with connect(data / "warehouse.duckdb") as con:
        done = con.execute("SELECT count(*) FROM synthesis_items").fetchone()
        kept = con.execute("SELECT count(*) FROM filter_outcomes WHERE status = 'kept'").fetchone()
        assert done == kept and done is not None and done[0] == len(answers)
        for table, key in (("trajectories", "trajectory_id"), ("trajectory_turns", "trajectory_id, idx"),
                           ("difficulty_verdicts", "item_id, filter_hash, gate, attempt"),
                           ("llm_calls", "request_hash")):
            dup = con.execute(f"SELECT count(*) - count(DISTINCT ({key})) FROM {table}").fetchone()
            assert dup == (0,), table
        per_item = con.execute("SELECT max(n) FROM (SELECT item_id, count(*) AS n FROM trajectories GROUP BY 1)"
                               ).fetchone()
        assert per_item == (3,)                                                  # K rollouts, no more
