"""GPU checks of the training stage (marked ``gpu``; skipped without CUDA)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
ROOT = Path(__file__).resolve().parents[2]


def test_policy_loss_mask_on_cuda() -> None:
    from training.fatal import fatal_mask, steps_from_assistant_mask
    from training.loss import policy_loss

    gen = torch.tensor([0, 1, 1, 0, 1, 1], device="cuda")
    mask = fatal_mask(gen, steps_from_assistant_mask(gen), 1).unsqueeze(0)
    logits = torch.randn(1, 6, 5, device="cuda", requires_grad=True)
    logps = torch.log_softmax(logits, -1)[..., 0]
    loss, _ = policy_loss(logps, logps.detach(), torch.tensor([1.0], device="cuda"), mask)
    loss.backward()
    assert logits.grad is not None
    assert logits.grad[0, 4:].abs().sum() == 0 and logits.grad[0, 1:3].abs().sum() > 0


def test_throughput_benchmark_runs() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/grpo_throughput.py")], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["name"] == "grpo_throughput" and result["ours"] > 0
