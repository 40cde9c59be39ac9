"""Flow ``train`` runs ``python -m training.run`` as a subprocess; a failing recipe raises with the log tail."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.train import train
from tasks.train.launch import TrainLaunchError, parse_result, progress_text, run_training, train_command


def test_failing_recipe_raises_with_log_tail(prefect_api: None, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nalgo:\n  ablation: sometimes\n")
    log = tmp_path / "train.log"
    with pytest.raises(TrainLaunchError, match=r"exited with code 1") as info:
        train(str(bad), tmp_path / "out", log_path=log)
    assert "algo.ablation" in str(info.value)          # the tail of the subprocess log is in the error
    assert "algo.ablation" in log.read_text()          # and the whole log is on disk


def test_tail_is_bounded(tmp_path: Path) -> None:
    cmd = ["python", "-c", "import sys\nfor i in range(100): print(i)\nsys.exit(3)"]
    with pytest.raises(TrainLaunchError) as info:
        run_training(cmd, tmp_path / "x.log", tail_lines=5)
    msg = str(info.value)
    assert msg.endswith("95\n96\n97\n98\n99") and "\n94\n" not in msg
    ok = run_training(["python", "-c", "print('ok')"], tmp_path / "ok.log")
    assert ok.returncode == 0 and (tmp_path / "ok.log").read_text() == "ok\n"


def test_train_command_flags() -> None:
    cmd = train_command(Path("r.yaml"), output_dir=Path("o"), max_steps=2, model_path=Path("m"), python="py")
    assert cmd == ["py", "-m", "training.run", "--recipe", "r.yaml", "--output-dir", "o", "--max-steps", "2",
                   "--model-path", "m"]


def test_progress_and_result_lines(tmp_path: Path) -> None:
    line = "2026-01-01 10:00:00 training.report INFO [####······] grpo step 2/5 loss 0.1000 fatal 0.50"
    assert progress_text(line) == "[####······] grpo step 2/5 loss 0.1000 fatal 0.50"
    assert progress_text("training.sft INFO recipe x (sft): 5 trajectories") is None
    assert parse_result('x INFO TRAIN_RESULT {"checkpoint": "o/final"}') == {"checkpoint": "o/final"}
    assert parse_result("TRAIN_RESULT not json") is None
    script = ("print('t INFO [##] sft step 1/1 loss 2.0')\n"
              "print('t INFO TRAIN_RESULT {\"output_dir\": \"o\", \"checkpoint\": \"o/final\"}')")
    seen: list[str] = []
    run = run_training(["python", "-c", script], tmp_path / "r.log", on_progress=seen.append)
    assert seen == ["[##] sft step 1/1 loss 2.0"]
    assert run.result["checkpoint"] == "o/final" and run.output_dir == Path("o")
