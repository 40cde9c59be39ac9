"""``FatalAwareGRPOTrainer``: TRL's ``GRPOTrainer`` (trl==1.16.0) with our rollouts, rewards, mask and loss.

TRL keeps what it does well — the optimizer and scheduler, the repeat sampler that yields G copies of
each prompt, the generation buffer split into ``steps_per_generation`` PPO mini-batches, logging,
checkpoints, the reference model when ``beta > 0``. We override two methods and keep each a thin caller
of pure functions:

- ``_generate_and_score_completions``: ``RolloutRunner`` (multi-turn, images in observations) →
  ``build_batch`` (fatal index, rewards, advantages with the clamp, filter, loss mask);
- ``compute_loss``: one forward pass → ``loss.policy_loss``.

Why not TRL's own multi-turn path: its ``rollout_func`` drops observation images before the forward
pass, and its advantage code has no hook between the estimator and the filter, which is exactly
where the one-sided clamp must sit (PAPER.md §8.2.3).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer
from trl.trainer.utils import selective_log_softmax

from training.advantages import AblationSpec, ablation_spec, clamp_stats, plan_batch
from training.config import AlgoSpec
from training.fatal import fatal_index, fatal_mask
from training.loss import policy_loss
from training.rewards import score_rollout
from training.rollout import Prompt, Rollout, RolloutRunner, concat_mm

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScoredBatch:
    tensors: dict[str, Any]
    stats: dict[str, float]
    records: list[dict[str, Any]]


def build_batch(rollouts: Sequence[Rollout], algo: AlgoSpec, group_size: int, pad_id: int,
                spec: AblationSpec | None = None) -> ScoredBatch:
    """Fatal index → rewards → advantages (group stats over all G) → clamp → filter → loss masks.

    Pure apart from tensor allocation; every number it logs is recomputable from ``records``.
    """
    spec = spec or ablation_spec(algo.ablation)
    fatals = [fatal_index(r.step_errors, answered=r.answer is not None, k=algo.fatal_k, at=algo.fatal_at)
              for r in rollouts]
    scores = [score_rollout(r.steps, r.answer, r.prompt.answer, r.prompt.aliases, fatal=f,
                            prefix_only=spec.prefix_rewards, alpha=algo.alpha) for r, f in zip(rollouts, fatals,
                                                                                               strict=True)]
    fatal_t = torch.tensor([-1 if f is None else f for f in fatals])
    rewards = torch.tensor([s.total for s in scores])
    plan = plan_batch(rewards, fatal_t, group_size, spec, estimator=algo.estimator, eps=algo.delta)
    width = max(len(r.input_ids) for r in rollouts)
    n = len(rollouts)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    att = torch.zeros((n, width), dtype=torch.long)
    mask = torch.zeros((n, width))
    for i, r in enumerate(rollouts):
        t = len(r.input_ids)
        ids[i, :t] = torch.tensor(r.input_ids)
        att[i, :t] = 1
        gen = torch.tensor(r.assistant_mask)
        mask[i, :t] = fatal_mask(gen, torch.tensor(r.token_steps), fatals[i] if spec.mask_after_fatal else None)
    tensors: dict[str, Any] = {"input_ids": ids, "attention_mask": att, "loss_mask": mask,
                               "advantages": plan.advantages, "keep": plan.keep,
                               "mm": [r.mm_inputs() for r in rollouts]}
    stats = clamp_stats(plan)
    stats.update({
        "fatal/dropped": float((~plan.keep).sum()),
        "turns/mean": sum(len(r.steps) for r in rollouts) / n,
        "tool_calls/mean": sum(sum(s.tool is not None for s in r.steps) for r in rollouts) / n,
        "accuracy": sum(s.acc for s in scores) / n,
        "reward/total": float(rewards.mean()),
        "reward/fmt": sum(s.fmt for s in scores) / n,
        "reward/acc": sum(s.acc for s in scores) / n,
        "reward/query": sum(s.query for s in scores) / n,
        "loss_tokens/mean": float(mask.sum(-1).mean()),
    })
    records = [{"item_id": r.prompt.item_id, "group": r.group, "turns": len(r.steps),
                "step_errors": r.step_errors, "answered": r.answer is not None, "terminal": r.terminal_reason,
                "fatal": f, "reward": s.total, "fmt": s.fmt, "acc": s.acc, "query": s.query,
                "adv_raw": float(plan.raw[i]), "adv": float(plan.advantages[i]), "keep": bool(plan.keep[i])}
               for i, (r, f, s) in enumerate(zip(rollouts, fatals, scores, strict=True))]
    return ScoredBatch(tensors, stats, records)


def _placeholder_reward(completions: list[Any], **_: Any) -> list[float]:
    """TRL requires a reward function; ours is computed in ``build_batch`` (never called)."""
    return [0.0] * len(completions)


class FatalAwareGRPOTrainer(GRPOTrainer):  # type: ignore[misc]
    """See the module docstring. ``prompts`` come from ``data.load_prompts``; ``runner`` drives toolenv."""

    def __init__(self, *, model: Any, processor: Any, prompts: Sequence[Prompt], runner: RolloutRunner,
                 algo: AlgoSpec, args: GRPOConfig, stats_path: Path | None = None) -> None:
        dataset = Dataset.from_list([{"prompt": [{"role": "user", "content": p.question}], "index": i}
                                     for i, p in enumerate(prompts)])
        super().__init__(model=model, reward_funcs=[_placeholder_reward], args=args, train_dataset=dataset,
                         processing_class=processor)
        self._prompts = list(prompts)
        self.runner = runner
        self.algo = algo
        self.spec = ablation_spec(algo.ablation)
        self.stats_path = stats_path
        self.history: list[dict[str, Any]] = []
        self._pad_id = int(processor.tokenizer.pad_token_id)

    # ------------------------------------------------------------------ rollouts + scoring
    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        g = self.num_generations
        prompts = [self._prompts[row["index"]] for row in inputs[::g]]
        was_training = self.model.training
        self.model.eval()
        try:
            rollouts = self.runner.run(prompts, g)
        finally:
            self.model.train(was_training)
        batch = build_batch(rollouts, self.algo, g, self._pad_id, self.spec)
        tensors = batch.tensors
        if self.args.steps_per_generation > 1 or self.num_iterations > 1:
            with torch.no_grad():
                tensors["old_logps"] = self._token_logps(self.model, tensors["input_ids"],
                                                         tensors["attention_mask"], tensors["mm"])
        mode = "train" if self.model.training else "eval"
        for k, v in batch.stats.items():
            self._metrics[mode][k].append(v)
        entry = {"step": self.state.global_step, **batch.stats, "rollouts": batch.records}
        self.history.append(entry)
        if self.stats_path is not None:
            with self.stats_path.open("a") as fh:
                fh.write(json.dumps(entry) + "\n")
        return tensors

    # ------------------------------------------------------------------ loss
    def _token_logps(self, model: Any, ids: torch.Tensor, att: torch.Tensor,
                     mm: Sequence[dict[str, torch.Tensor]]) -> torch.Tensor:
        device = self.accelerator.device
        extra = {k: v.to(device) for k, v in concat_mm(mm).items()}
        if "pixel_values" in extra:
            extra["pixel_values"] = extra["pixel_values"].to(next(model.parameters()).dtype)
        logits = model(input_ids=ids.to(device), attention_mask=att.to(device), **extra).logits
        logits = logits[:, :-1].float() / self.temperature
        return selective_log_softmax(logits, ids[:, 1:].to(device))  # type: ignore[no-any-return]

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> torch.Tensor:
        keep = inputs["keep"].nonzero().flatten().tolist()
        if not keep:  # every rollout filtered: a zero loss that still has a graph
            return sum((p.sum() for p in model.parameters() if p.requires_grad), torch.tensor(0.0)) * 0.0
        rows = torch.tensor(keep)
        att = inputs["attention_mask"][rows]
        width = int(att.sum(-1).max())
        ids, att = inputs["input_ids"][rows, :width], att[:, :width]
        mask = inputs["loss_mask"][rows, 1:width].to(self.accelerator.device)
        mm = [inputs["mm"][i] for i in keep]
        logps = self._token_logps(model, ids, att, mm)
        old = inputs["old_logps"][rows, :width - 1].to(logps.device) if "old_logps" in inputs else logps.detach()
        ref = None
        if self.algo.kl_beta > 0 and self.ref_model is not None:
            with torch.no_grad():
                ref = self._token_logps(self.ref_model, ids, att, mm)
        adv = inputs["advantages"][rows].to(logps.device)
        loss, stats = policy_loss(logps, old, adv, mask, eps_low=self.algo.eps_low, eps_high=self.algo.eps_high,
                                  agg=self.algo.aggregation, ref_logps=ref, beta=self.algo.kl_beta)
        mode = "train" if self.model.training else "eval"
        for k, v in stats.items():
            self._metrics[mode][k].append(v)
        return loss
