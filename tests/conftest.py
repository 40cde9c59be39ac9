"""Shared fixtures: hermetic environment, the shared data folder, a real DuckDB warehouse."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from warehouse.db import Connection, connect

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test depends on the developer's SEARCHVL_* settings; nothing reaches a hub."""
    for key in list(os.environ):
        if key.startswith("SEARCHVL_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` (real Wikipedia fixtures); the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Connection]:
    """A migrated DuckDB warehouse file in ``tmp_path``."""
    with connect(tmp_path / "warehouse.duckdb") as con:
        yield con
