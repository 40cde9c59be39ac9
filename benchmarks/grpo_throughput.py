"""GPU: processed tokens/s per GPU, ``FatalAwareGRPOTrainer`` vs plain TRL ``GRPOTrainer`` on the same model.

The same harness as ``grpo_overhead.py`` (``measure``) on CUDA with a larger batch: 8 prompts × G=8,
128 new tokens. Processed tokens per step = rollouts × (prompt + new tokens), the same for both, so the
ratio is TRL step time / our step time. Target: ours ≥ 0.95× TRL. Without CUDA it prints a skip line
(JSON with ``skipped``) and exits 0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    import torch

    if not torch.cuda.is_available():
        print(json.dumps({"name": "grpo_throughput", "skipped": "no CUDA device"}))
        return
    from benchmarks._common import emit
    from benchmarks.grpo_overhead import measure

    m = measure(use_cpu=False, prompts_n=8, g=8, new_tokens=128, steps=6)
    emit("grpo_throughput", "tokens/s/gpu", m["tokens_per_step"] / m["ours_s"], m["tokens_per_step"] / m["trl_s"],
         0.95, device=torch.cuda.get_device_name(0))


if __name__ == "__main__":
    main()
