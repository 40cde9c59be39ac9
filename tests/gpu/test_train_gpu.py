"""GPU checks of the training stage, SFT and GRPO (marked ``gpu``; skipped without CUDA)."""

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
    loss.backward()  # type: ignore[no-untyped-call]
    assert logits.grad is not None
    assert logits.grad[0, 4:].abs().sum() == 0 and logits.grad[0, 1:3].abs().sum() > 0


def test_throughput_benchmark_runs() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/grpo_throughput.py")], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["name"] == "grpo_throughput" and result["ours"] > 0


def test_tiny_sft_on_cuda(tmp_path: Path) -> None:
    """The SFT stage end to end on the GPU: the demo export, the tiny recipe with CPU off and bf16 on."""
    pytest.importorskip("trl")
    from tests.factories import exported_demo
    from training.config import load_recipe
    from training.sft import train

    export = exported_demo(tmp_path)
    recipe = load_recipe(ROOT / "training/recipes/tiny-cpu-sft.yaml", **{
        "data.export_dir": str(export), "train.output_dir": str(tmp_path / "sft"), "train.max_steps": 6,
        "train.logging_steps": 2, "train.use_cpu": False, "model.dtype": "bfloat16"})
    final = train(recipe)
    result = json.loads((tmp_path / "sft" / "train_result.json").read_text())
    assert result["global_step"] == 6 and result["first_loss"] is not None
    assert (final / "model.safetensors").is_file()


@pytest.mark.parametrize("name", ["qwen3-vl-8b-sft.yaml"])
def test_gpu_recipe_loads_real_processor(name: str, tmp_path: Path) -> None:
    """The paper recipe's base model resolves to Qwen3-VL's own processor, TRL has a training template with
    generation markers for it, and one exported SFT row collates with assistant-only labels. Needs the base
    model in the local Hugging Face cache (the GPU machines are offline): skipped otherwise."""
    pytest.importorskip("trl")
    from transformers import AutoProcessor
    from trl.chat_template_utils import get_training_chat_template

    from tests.factories import exported_demo
    from training.config import load_recipe
    from training.data import load_sft_examples
    from training.sft import InterleavedVisionCollator, _limit_pixels

    recipe = load_recipe(ROOT / "training/recipes" / name)
    try:
        processor = AutoProcessor.from_pretrained(recipe.model.path, local_files_only=True)  # type: ignore[no-untyped-call]
    except (OSError, ValueError) as err:
        pytest.skip(f"{recipe.model.path} not in the local cache: {err}")
    assert type(processor).__name__.startswith("Qwen3VL")
    _limit_pixels(processor, recipe.sft.image_max_pixels)
    template = get_training_chat_template(processor)
    assert template is not None and "generation" in template
    example = load_sft_examples(exported_demo(tmp_path))[0]
    batch = InterleavedVisionCollator(processor=processor, max_length=recipe.sft.max_length,
                                      assistant_only_loss=True, chat_template=template)([example])
    taught = processor.tokenizer.decode(batch["input_ids"][0][batch["labels"][0] != -100])
    assert "<tool_response>" not in taught and "<tool_call>" in taught
    assert batch["pixel_values"].shape[0] > 0
