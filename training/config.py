"""Training recipes: versioned YAML validated into pydantic models (DESIGN.md B.1 item 3, open-r1 recipes).

A recipe names its ``stage``: ``sft`` (PAPER.md §8.1, ``training.sft``) or ``grpo`` (§8.2–8.3,
``training.grpo``). Every hyperparameter defaults to the paper's released value (§8.1 table for SFT, §8.3
and §12.H for GRPO); fill-ins where the paper is silent are marked [S] here and listed under ``deviations``
in each recipe yaml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from training.advantages import Ablation, Estimator
from training.fatal import FatalAt
from training.loss import Aggregation


class RecipeError(ValueError):
    """A recipe file is missing, is not YAML, or fails validation (one line per bad field)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Stage = Literal["sft", "grpo"]


class ModelSpec(_Strict):
    path: str | None = Field(default=None, description="local model folder or Hub id (offline: local only); "
                                                       "for GRPO after SFT, the SFT run's <output_dir>/final")
    tiny: bool = Field(default=False, description="build the tiny CPU VLM from configs (training/tiny.py)")
    tiny_hidden_size: int = Field(default=32, ge=8)
    tiny_layers: int = Field(default=2, ge=1)
    tiny_vocab_size: int = Field(default=600, ge=300, description="BPE size; SFT also trains it on the export")
    tiny_cross_word_bpe: bool = Field(default=False, description="[S] BPE merges across words: the fixed system "
                                      "prompt and tool-call skeletons become few tokens (shorter CPU sequences)")
    dtype: Literal["float32", "bfloat16"] = "bfloat16"
    gradient_checkpointing: bool = True


class DataSpec(_Strict):
    export_dir: Path | None = Field(default=None, description="export folder with rl/train-*.parquet")
    split: Literal["train", "validation"] = "train"
    max_items: int | None = Field(default=None, ge=1)
    seed: int = 3407


class EnvSpec(_Strict):
    index_dir: Path | None = Field(default=None, description="<data_dir>/indexes (text-*/image-* folders)")
    max_turns: int = Field(default=50, ge=1)
    max_consecutive_errors: int = Field(default=3, ge=1)
    tool_timeout_s: float | None = 60.0
    leakage_guard: bool = True


class RolloutSpec(_Strict):
    group_size: int = Field(default=8, ge=2, description="G rollouts per prompt (8B: 8, MoE: 16)")
    temperature: float = Field(default=0.7, gt=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    max_turn_tokens: int = Field(default=4096, ge=1)
    max_total_tokens: int = Field(default=70_000, ge=1, description="the whole multi-turn response")
    image_placeholder: str | None = Field(default=None, description="default: the processor's image token")
    max_observation_chars: int | None = Field(default=None, ge=1, description="[S] CPU only: cut each tool "
                                              "result the policy sees to this many characters (None: whole)")


class AlgoSpec(_Strict):
    ablation: Ablation = "fatal_aware"
    estimator: Estimator = "rloo"
    fatal_k: int = Field(default=3, ge=1)
    fatal_at: FatalAt = "start"
    alpha: float = Field(default=0.8, ge=0, le=1, description="weight of r_acc against r_query")
    eps_low: float = Field(default=0.2, ge=0)
    eps_high: float = Field(default=0.28, ge=0)
    aggregation: Aggregation = "seq-mean-token-sum"
    kl_beta: float = Field(default=0.0, ge=0, description="low-variance KL coefficient; table value 1e-3 when on")
    delta: float = Field(default=1e-6, gt=0, description="σ + δ in the grpo estimator")


class SftSpec(_Strict):
    """SFT settings (PAPER.md §8.1 table; LlamaFactory names in the comments)."""

    epochs: float = Field(default=8.0, gt=0, description="num_train_epochs (used when train.max_steps is -1)")
    per_device_batch: int = Field(default=1, ge=1, description="per_device_train_batch_size")
    grad_accum: int = Field(default=1, ge=1, description="gradient_accumulation_steps")
    warmup_ratio: float = Field(default=0.1, ge=0, lt=1, description="warmup_steps as a ratio of all steps")
    scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    max_length: int | None = Field(default=32_000, ge=1, description="cutoff_len; longer rows are truncated")
    image_max_pixels: int | None = Field(default=262_144, ge=1, description="image_max_pixels (≈512×512)")
    assistant_only_loss: bool = Field(default=True, description="observations/system/user masked (§8.1)")
    freeze_vision: bool = Field(default=False, description="the paper trains the vision tower too")
    max_tool_chars: int | None = Field(default=None, ge=1, description="[S] CPU only: cut each tool result to "
                                       "this many characters (the GRPO recipe's rollout.max_observation_chars)")
    weight_decay: float = 0.0


class TrainSpec(_Strict):
    output_dir: Path = Path("var/train/run")
    learning_rate: float = 1e-6
    max_steps: int = Field(default=200, ge=-1, description="optimisation steps; -1 (SFT only): sft.epochs")
    prompts_per_step: int = Field(default=256, ge=1)
    steps_per_generation: int = Field(default=4, ge=1, description="PPO mini-batches per rollout batch")
    save_steps: int = Field(default=50, ge=1)
    logging_steps: int = Field(default=1, ge=1)
    seed: int = 3407
    use_cpu: bool = False


class Recipe(_Strict):
    name: str
    stage: Stage = Field(default="grpo", description="sft: training.sft; grpo: training.grpo")
    model: ModelSpec = Field(default_factory=ModelSpec)
    data: DataSpec = Field(default_factory=DataSpec)
    env: EnvSpec = Field(default_factory=EnvSpec)
    rollout: RolloutSpec = Field(default_factory=RolloutSpec)
    algo: AlgoSpec = Field(default_factory=AlgoSpec)
    sft: SftSpec = Field(default_factory=SftSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)
    deviations: dict[str, str] = Field(default_factory=dict, description="[S] choices and why")

    @model_validator(mode="after")
    def _steps_for_stage(self) -> Recipe:
        if self.train.max_steps == 0 or (self.stage == "grpo" and self.train.max_steps < 1):
            raise ValueError(f"train.max_steps must be >= 1 for {self.stage} (-1 = sft.epochs, SFT only)")
        return self


def _describe(err: ValidationError) -> str:
    return "\n".join(f"  {'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
                     for e in err.errors(include_url=False))


def load_recipe(path: Path, **overrides: object) -> Recipe:
    """Read and validate a recipe; ``overrides`` are dotted keys (``train.output_dir=...``)."""
    if not path.is_file():
        raise RecipeError(f"recipe not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise RecipeError(f"recipe {path} is not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise RecipeError(f"recipe {path} must be a mapping, not {type(raw).__name__}")
    for dotted, value in overrides.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    try:
        return Recipe.model_validate(raw)
    except ValidationError as err:
        raise RecipeError(f"invalid recipe {path}:\n{_describe(err)}") from err
