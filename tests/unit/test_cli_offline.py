"""The command as a newcomer meets it: offline defaults, read-only commands without Prefect, input checks that
fail before Prefect starts, with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()
DEMO = Path("flows/configs/demo.yaml")


def _config_with_source(tmp_path: Path, source: str) -> Path:
    text = DEMO.read_text(encoding="utf-8")
    text = text.replace("../../corpus/enwiki-sample/pages.xml.bz2", source)
    text = text.replace("../../corpus/enwiki-sample/media", str(Path("corpus/enwiki-sample/media").resolve()))
    f = tmp_path / "cfg.yaml"
    f.write_text(text, encoding="utf-8")
    return f


def test_validate_config_fails_for_a_missing_dump(tmp_path: Path) -> None:
    cfg = _config_with_source(tmp_path, str(tmp_path / "missing.xml.bz2"))
    res = runner.invoke(app, ["validate-config", "--config", str(cfg)])
    assert res.exit_code == 1
    assert "ingest.sources.0.path" in res.output and "does not exist" in res.output
    assert "Traceback" not in res.output


def test_validate_config_fails_for_an_unwritable_data_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    res = runner.invoke(app, ["validate-config", "--config", str(DEMO), "--data-dir", str(blocker / "var")])
    assert res.exit_code == 1
    assert "data dir" in res.output


def _cli(*args: str, code: str = "") -> subprocess.CompletedProcess[str]:
    """The real command in a fresh interpreter (so ``sys.modules`` tells what it imported)."""
    script = ("import sys\nfrom flows.cli import app\ntry:\n    app([" + ", ".join(repr(a) for a in args)
              + "])\nexcept SystemExit as e:\n    rc = e.code\n" + code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)


def test_run_with_a_missing_dump_fails_once_before_prefect(tmp_path: Path) -> None:
    cfg = _config_with_source(tmp_path, str(tmp_path / "missing.xml.bz2"))
    res = _cli("run", "--config", str(cfg), "--data-dir", str(tmp_path / "var"),
               code="assert 'prefect' not in sys.modules, 'Prefect was imported'\nsys.exit(rc)\n")
    assert res.returncode == 1, res.stderr
    lines = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1 and "does not exist" in lines[0], lines
    assert "temporary server" not in res.stderr


@pytest.mark.parametrize("args", [("inspect", "--data-dir", "{tmp}"), ("sql", "SELECT 1", "--data-dir", "{tmp}"),
                                  ("validate-config", "--config", str(DEMO)), ("inspect", "queries")])
def test_read_only_commands_never_import_prefect(tmp_path: Path, args: tuple[str, ...]) -> None:
    res = _cli(*(a.replace("{tmp}", str(tmp_path)) for a in args),
               code="assert 'prefect' not in sys.modules, 'Prefect was imported'\n")
    assert res.returncode == 0, res.stderr


def test_cli_turns_prefect_telemetry_off_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from schemas.settings import apply_prefect_defaults

    monkeypatch.delenv("PREFECT_SERVER_ANALYTICS_ENABLED", raising=False)
    apply_prefect_defaults()
    res = subprocess.run([sys.executable, "-c", "import os; print(os.environ['PREFECT_SERVER_ANALYTICS_ENABLED'])"],
                         capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "false"
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "true")
    apply_prefect_defaults()
    res = subprocess.run([sys.executable, "-c", "import os; print(os.environ['PREFECT_SERVER_ANALYTICS_ENABLED'])"],
                         capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "true"
