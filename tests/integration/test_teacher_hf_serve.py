"""The teacher client against a real second server: ``transformers serve`` on 127.0.0.1 with a tiny chat
model built from a config in the test (tokenizer trained in-process, random 2-layer Llama; no download)."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from schemas.teacher import ChatResult, TeacherConfig
from tasks.teacher.client import TeacherClient
from warehouse.db import Connection
from warehouse.llm_calls import WarehouseMemo

ROOT = Path(__file__).resolve().parents[2]
MISSING = [m for m in ("torch", "transformers", "tokenizers", "fastapi", "uvicorn")
           if importlib.util.find_spec(m) is None]
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(MISSING), reason=f"transformers serve needs {', '.join(MISSING)} (train extra)")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served_model(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``(base_url, model name)`` of ``transformers serve`` running the tiny model."""
    from tests.fakes.hf_serve import build_tiny_chat_model

    model_dir = build_tiny_chat_model(tmp_path / "tiny-llama")
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    cli = Path(sys.executable).with_name("transformers")     # the real `transformers serve` command
    proc = subprocess.Popen([str(cli), "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port),
                             "--device", "cpu"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"transformers serve exited: {(tmp_path / 'serve.log').read_text()[-2000:]}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "transformers serve did not come up in 180 s"
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1", str(model_dir)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def test_completion_from_transformers_serve(served_model: tuple[str, str], warehouse: Connection) -> None:
    base_url, model = served_model
    cfg = TeacherConfig(model=model, temperature=0.0, max_tokens=8, timeout_s=60, max_retries=1,
                        backoff_base_s=0.1, backoff_max_s=0.5)

    async def main() -> tuple[ChatResult, ChatResult]:
        async with TeacherClient(base_url, None, cfg, memo=WarehouseMemo(warehouse), run_id="hf") as client:
            msgs = [{"role": "user", "content": "which zoo?"}]
            first = await client.chat(msgs, purpose="teacher")
            return first, await client.chat(msgs, purpose="teacher")

    first, second = asyncio.run(main())
    assert isinstance(first.text, str) and first.finish_reason in ("stop", "length")
    assert first.prompt_tokens > 0 and 0 < first.completion_tokens <= 8
    assert not first.cached and second.cached and second.text == first.text
    rows = warehouse.execute("SELECT model, response, error FROM llm_calls").fetchall()
    assert rows == [(model, first.text, None)]
