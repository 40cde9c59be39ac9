"""Step time of ``FatalAwareGRPOTrainer`` vs plain TRL ``GRPOTrainer`` on CPU: same tiny VLM, same batch.

Both trainers get 2 prompts × G=4 rollouts of one image + a short question, 16 new tokens per rollout,
single-turn (ours: ``env.max_turns=1``, so each rollout is one generation + one ``toolenv`` step, as
TRL's one generation + one reward call). Measures the median optimizer-step time after a warm-up
step. Ratio = TRL time / our time (higher is better; target ≥ 1/1.05).
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import emit

STEPS, G, PROMPTS, NEW_TOKENS = 6, 4, 2, 16


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def _timer() -> Any:
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.marks: list[float] = []

        def on_step_begin(self, *args: Any, **kwargs: Any) -> None:
            self.marks.append(time.perf_counter())

        def on_step_end(self, *args: Any, **kwargs: Any) -> None:
            self.marks[-1] = time.perf_counter() - self.marks[-1]

    return StepTimer()


def _median_step(trainer: Any) -> float:
    timer = _timer()
    trainer.add_callback(timer)
    trainer.train()
    return statistics.median(timer.marks[1:])


def measure(*, use_cpu: bool = True, prompts_n: int = PROMPTS, g: int = G, new_tokens: int = NEW_TOKENS,
            steps: int = STEPS) -> dict[str, float]:
    """Median step seconds of plain TRL and of ours, and the nominal tokens processed per step."""
    import torch
    from datasets import Dataset
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import GRPOConfig, GRPOTrainer

    from toolenv import Document, EnvConfig, ImageIndex, TextIndex, ToolEnv
    from training.config import AlgoSpec
    from training.rollout import ModelGenerator, Prompt, RolloutRunner
    from training.tiny import build_tiny_vlm
    from training.trainer import FatalAwareGRPOTrainer

    if use_cpu:
        torch.set_num_threads(2)
    tmp = Path(tempfile.mkdtemp())
    path = build_tiny_vlm(tmp / "model")
    png = _png()
    question = "which zoo did the crocodile hunter run?"
    common = {"per_device_train_batch_size": prompts_n * g, "num_generations": g, "max_completion_length": new_tokens,
              "max_steps": steps, "logging_steps": 1, "report_to": [], "use_cpu": use_cpu, "save_strategy": "no",
              "learning_rate": 1e-5, "temperature": 0.7, "disable_tqdm": True, "remove_unused_columns": False,
              "seed": 0}

    def judge(completions: list[Any], **_: Any) -> list[float]:
        from toolenv.judging import judge_offline

        texts = [c[0]["content"] if isinstance(c, list) else str(c) for c in completions]
        return [float(judge_offline(t, "Australia Zoo").correct) for t in texts]

    proc = AutoProcessor.from_pretrained(path)
    rows = [{"prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}],
             "image": Image.open(io.BytesIO(png)).convert("RGB")} for _ in range(prompts_n)]
    torch.manual_seed(0)
    plain = GRPOTrainer(model=AutoModelForImageTextToText.from_pretrained(path), reward_funcs=judge,
                        args=GRPOConfig(output_dir=str(tmp / "trl"), **common), train_dataset=Dataset.from_list(rows),
                        processing_class=proc)
    baseline = _median_step(plain)

    torch.manual_seed(0)
    model = AutoModelForImageTextToText.from_pretrained(path)
    text = TextIndex.from_documents([Document("Australia Zoo", "https://en.wikipedia.org/wiki/Australia_Zoo",
                                              "Australia Zoo is a zoo in Queensland run by the Irwin family.")])
    image = ImageIndex.build([])
    cfg = EnvConfig(max_turns=1, max_turn_tokens=new_tokens * 8, tool_timeout_s=None)
    tok = proc.tokenizer
    runner = RolloutRunner(proc, lambda: ToolEnv.build(cfg, text_search=text, image_search=image),
                           ModelGenerator(model, tok.pad_token_id, tok.convert_tokens_to_ids("<|im_end|>"),
                                          suppress_ids=(tok.convert_tokens_to_ids("<image>"),)),
                           max_turn_tokens=new_tokens, max_total_tokens=new_tokens * 4)
    prompts = [Prompt(f"p{i}", question, ({"role": "user", "content": f"<image>{question}"},), (png,), "Australia Zoo")
               for i in range(prompts_n)]
    ours_trainer = FatalAwareGRPOTrainer(model=model, processor=proc, prompts=prompts, runner=runner, algo=AlgoSpec(),
                                         args=GRPOConfig(output_dir=str(tmp / "ours"), **common))
    ours = _median_step(ours_trainer)
    prompt_tokens = len(runner.start(prompts[0], 0)[0].input_ids)
    return {"ours_s": ours, "trl_s": baseline, "tokens_per_step": prompts_n * g * (prompt_tokens + new_tokens)}


def main() -> None:
    m = measure()
    emit("grpo_overhead", "steps/s", 1 / m["ours_s"], 1 / m["trl_s"], round(1 / 1.05, 3),
         our_step_s=round(m["ours_s"], 4), trl_step_s=round(m["trl_s"], 4), steps=STEPS, rollouts=PROMPTS * G,
         new_tokens=NEW_TOKENS, device="cpu")


if __name__ == "__main__":
    main()
