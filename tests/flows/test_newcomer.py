"""A newcomer's first hour, played as written: a fresh clone, `make demo`, then every line of the README's
command-line block pasted in order (read from the README, so README and test cannot drift), then `make demo`
once more, which must say "nothing changed".

The clone reuses this checkout's virtualenv (a `.venv` link; the Makefile's install stamp is named by the
hash of pyproject.toml + requirements.lock, so nothing is reinstalled) and a private PREFECT_HOME.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # two demo runs and the README block; a busy box is slow
REPO = Path(__file__).resolve().parents[2]


def readme_commands(readme: str) -> list[str]:
    """The lines of the first ```bash block under "## The command line" (comment-only lines left out)."""
    section = readme.split("\n## The command line\n", 1)[1]
    block = section.split("```bash\n", 1)[1].split("\n```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def readme_python(readme: str) -> str:
    """The ```python block of the command-line section (reading the warehouse from Python)."""
    section = readme.split("\n## The command line\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("\n```", 1)[0]


def test_readme_command_block_starts_by_activating_the_venv() -> None:
    commands = readme_commands((REPO / "README.md").read_text(encoding="utf-8"))
    assert commands[0].startswith("source .venv/bin/activate")
    assert all(re.match(r"(source |searchvl )", c) for c in commands), commands
    assert not any(p in c for c in commands for p in ("ITEM_ID", "FILE", "ORG/NAME", "[--"))   # no placeholders


def _env(home: Path, clone: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEARCHVL_", "PREFECT_", "VIRTUAL_ENV"))}
    env.update(PREFECT_HOME=str(home / "prefect"), PYTHONPATH=str(clone), HF_HUB_OFFLINE="1", COLUMNS="100",
               PATH=os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p))
    return env


def _sh(script: str, cwd: Path, env: dict[str, str], timeout: int) -> tuple[str, float]:
    start = time.monotonic()
    res = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=timeout, check=False)
    out = res.stdout + res.stderr
    assert res.returncode == 0, f"{script!r} failed ({res.returncode}):\n{out[-6000:]}"
    return out, time.monotonic() - start


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("git") is None, reason="needs make and git")
def test_fresh_clone_make_demo_then_every_readme_command(tmp_path: Path) -> None:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "searchvl"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    digest = hashlib.sha256((clone / "pyproject.toml").read_bytes() + (clone / "requirements.lock").read_bytes())
    if not list(Path(sys.prefix).glob(f".installed-{digest.hexdigest()[:12]}-*")):
        pytest.skip("this venv was not installed by `make` from these pyproject.toml + requirements.lock; "
                    "a clone would reinstall into it")
    if (REPO.parent / "shared").is_dir():
        (tmp_path / "shared").symlink_to(REPO.parent / "shared")
    (clone / ".venv").symlink_to(Path(sys.prefix))            # this checkout's installed venv
    env = _env(tmp_path, clone)

    demo, first_s = _sh("make demo", clone, env, timeout=1200)
    assert "Installing" not in demo and "pip install" not in demo, "make demo reinstalled the venv"
    assert "source .venv/bin/activate" in demo and "searchvl inspect funnel" in demo
    assert "run run-" in demo and "ingest" in demo

    commands = readme_commands((clone / "README.md").read_text(encoding="utf-8"))
    script = "set -euo pipefail\n" + "\n".join(f"echo '$ {i}'\n{c}" for i, c in enumerate(commands)) + "\n"
    out, _ = _sh(script, clone, env, timeout=1200)
    assert "nothing changed" in out                               # the block ends with the demo's rerun
    assert "Traceback" not in out

    snippet = readme_python((clone / "README.md").read_text(encoding="utf-8"))
    (tmp_path / "snippet.py").write_text(snippet + "\nprint('snippet ok')\n", encoding="utf-8")
    out, _ = _sh(f".venv/bin/python -W error::UserWarning {tmp_path / 'snippet.py'}", clone, env, timeout=300)
    assert "snippet ok" in out

    rerun, rerun_s = _sh("make demo", clone, env, timeout=1200)
    assert "nothing changed" in rerun
    assert re.search(r"│ ingest\s+│ 0\s+│ \d+", rerun), rerun[-3000:]   # the dump was not ingested again
    sys.stderr.write(f"newcomer: first make demo {first_s:.1f} s, rerun {rerun_s:.1f} s\n")

    n_view, n_cli = (_sh(f".venv/bin/searchvl {cmd}", clone, env, timeout=120)[0] for cmd in (
        'sql "SELECT count(*) AS n FROM rejects" -f csv', "inspect rejects -f csv"))
    assert int(n_view.strip().splitlines()[-1]) == len(n_cli.strip().splitlines()) - 1   # one drop, one row
