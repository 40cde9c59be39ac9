"""``searchvl run`` (every model stage on a scripted local server) killed with SIGKILL during ingest, during
the questions and during synthesis, and run again each time: the final warehouse equals an uninterrupted
run's, no table has a duplicate key, and the server's counters show that no call that had completed (an
``llm_calls`` row without error) was sent again. And a second ``searchvl run`` on a data dir that a run is
writing fails with a one-line error and exit code 1, while the first run finishes intact."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes import pipeline_run as pr
from tests.fakes.openai_server import OpenAIServer
from tests.fakes.scripted_teacher import pipeline_responder
from warehouse.compare import diff_warehouses

LATENCY_S = 0.05     # per model reply: the model stages last long enough to be killed in the middle


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(pipeline_responder(), latency_s=LATENCY_S) as s:
        yield s


@pytest.fixture(scope="module")
def reference(server: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run; its warehouse."""
    tmp = tmp_path_factory.mktemp("reference")
    proc = pr.start(pr.write_config(tmp), tmp / "var", server.base_url)
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out.decode()[-3000:]
    db = tmp / "var" / "warehouse.duckdb"
    assert pr.duplicate_keys(db) == dict.fromkeys(pr.KEYS, 0)
    return db


def _sent(server: OpenAIServer) -> Counter[str]:
    """Requests received so far per memo key (either client's)."""
    out: Counter[str] = Counter()
    for body in list(server.requests):
        out.update(pr.request_hashes(body))
    return out


def _requests(server: OpenAIServer, model: str) -> int:
    return sum(1 for b in list(server.requests) if b.get("model") == model)


def _kill_when(proc: subprocess.Popen[bytes], log: Path, ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 180
    while not ready():
        assert proc.poll() is None, f"run ended before {what}:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"never reached {what}"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_in_three_stages_then_rerun_equals_an_uninterrupted_run(
        server: OpenAIServer, reference: Path, tmp_path: Path) -> None:
    cfg, data, log = pr.write_config(tmp_path), tmp_path / "var", tmp_path / "run.log"
    db = data / "warehouse.duckdb"
    completed_at_kill: list[tuple[set[str], Counter[str]]] = []

    def logged(text: str) -> Callable[[], bool]:
        start = log.stat().st_size if log.exists() else 0
        return lambda: log.exists() and text in log.read_text()[start:]

    def after(model: str, n: int) -> Callable[[], bool]:
        base = _requests(server, model)
        return lambda: _requests(server, model) - base >= n

    # (stage, when to kill: a factory called at the run's start, the next stage's log line)
    stages: list[tuple[str, Callable[[], Callable[[], bool]], str]] = [
        ("ingest", lambda: logged("for flow 'ingest'"), "for flow 'sample_paths'"),
        ("questions", lambda: after("scripted-llm", 15), "for flow 'synthesis'"),
        ("synthesis", lambda: after("scripted-teacher", 8), "for flow 'export'"),
    ]
    for name, trigger, next_stage in stages:
        mark = log.stat().st_size if log.exists() else 0
        ready = trigger()
        proc = pr.start(cfg, data, server.base_url, log=log)
        _kill_when(proc, log, ready, name)
        ran = log.read_text()[mark:]
        assert f"for flow '{name}'" in ran and next_stage not in ran, f"not killed during {name}"
        done = {str(h) for (h,) in pr.read(db, "SELECT request_hash FROM llm_calls WHERE error IS NULL")}
        completed_at_kill.append((done, _sent(server)))
        assert pr.duplicate_keys(db) == dict.fromkeys(pr.KEYS, 0), name

    final = pr.start(cfg, data, server.base_url, log=log)
    assert final.wait(timeout=240) == 0, log.read_text()[-3000:]
    sent = _sent(server)
    assert not completed_at_kill[0][0] and all(done for done, _ in completed_at_kill[1:])  # calls after ingest
    for done, before in completed_at_kill:          # nothing that had completed was sent again
        assert all(sent[h] == before[h] for h in done)
    assert pr.duplicate_keys(db) == dict.fromkeys(pr.KEYS, 0)
    assert diff_warehouses(reference, db) == []


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_second_writer_fails_at_once_and_the_first_run_finishes_intact(
        server: OpenAIServer, reference: Path, tmp_path: Path) -> None:
    cfg, data, log = pr.write_config(tmp_path), tmp_path / "var", tmp_path / "first.log"
    first = pr.start(cfg, data, server.base_url, log=log)
    deadline = time.monotonic() + 180
    while "for flow 'questions'" not in (log.read_text() if log.exists() else ""):   # writing now
        assert first.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.02)
    second = pr.start(cfg, data, server.base_url)
    out, _ = second.communicate(timeout=180)
    lines = [ln for ln in out.decode().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert second.returncode == 1, out.decode()[-3000:]
    assert len(errors) == 1 and "being written by another searchvl run" in errors[0], lines[-5:]
    assert first.wait(timeout=240) == 0, log.read_text()[-3000:]
    db = data / "warehouse.duckdb"
    assert pr.duplicate_keys(db) == dict.fromkeys(pr.KEYS, 0)
    assert diff_warehouses(reference, db) == []
