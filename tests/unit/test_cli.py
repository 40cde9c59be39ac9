"""CLI behaviour that needs no flow run: help, config errors, missing warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


@pytest.mark.parametrize("cmd", [[], ["run"], ["ingest"], ["sample-paths"], ["inspect"], ["inspect", "query"],
                                 ["sql"], ["validate-config"], ["export"], ["inspect", "funnel"],
                                 ["inspect", "rejects"], ["inspect", "item"]])
def test_every_command_has_help(cmd: list[str]) -> None:
    res = runner.invoke(app, [*cmd, "--help"])
    assert res.exit_code == 0
    assert "Usage" in res.output


def test_bad_config_exits_1_with_field_errors(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("name: x\ningest:\n  sources:\n    - kind: xml\nsampling:\n  max_retries: -1\n")
    res = runner.invoke(app, ["validate-config", "--config", str(f)])
    assert res.exit_code == 1
    assert "ingest.sources.0: Value error, a xml source needs 'path'" in res.output
    assert "sampling.max_retries" in res.output
    assert "Traceback" not in res.output


def test_demo_config_validates() -> None:
    res = runner.invoke(app, ["validate-config", "--config", "flows/configs/demo.yaml"])
    assert res.exit_code == 0, res.output


def test_inspect_without_warehouse_is_one_line(tmp_path: Path) -> None:
    res = runner.invoke(app, ["inspect", "--data-dir", str(tmp_path / "none")])
    assert res.exit_code == 1
    assert "no warehouse at" in res.output


def test_bad_environment_setting_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEARCHVL_WORKERS", "many")
    res = runner.invoke(app, ["inspect"])
    assert res.exit_code == 1
    assert "SEARCHVL_* environment" in res.output
