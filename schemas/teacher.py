"""The teacher client's contract: its run parameters (``TeacherConfig``), the result of one chat call
(``ChatResult``) and the ``llm_calls`` row it memoises (``CallRow``).

Endpoint URLs and API keys are *not* run parameters: they come from ``schemas.settings.Settings``
(``teacher_base_url``, ``teacher_api_key``), so a config file never holds a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

OFFLINE_TEACHER = "path-guided"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TokenPrice(_Strict):
    """List price of one model, in US dollars per million tokens."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


class ConcurrencyConfig(_Strict):
    """The adaptive per-endpoint limit (AIMD): start at ``initial`` requests in flight, halve on a 429,
    add one after ``grow_after`` successes in a row, never above ``max``."""

    initial: int = Field(default=8, ge=1)
    max: int = Field(default=64, ge=1)
    grow_after: int = Field(default=16, ge=1, description="successes in a row before the limit grows by one")

    @model_validator(mode="after")
    def _initial_within_max(self) -> ConcurrencyConfig:
        if self.initial > self.max:
            raise ValueError(f"concurrency.initial ({self.initial}) must be <= concurrency.max ({self.max})")
        return self


class TeacherConfig(_Strict):
    """How the teacher (and the solvers and judges on the same client) is called and what it may spend.

    ``model: path-guided`` is the offline default (no endpoint is called); any other value names a model
    on the OpenAI-compatible endpoint from settings (``SEARCHVL_TEACHER_BASE_URL``).
    """

    model: str = Field(default=OFFLINE_TEACHER, description="path-guided | a model name on the teacher endpoint")
    temperature: float = Field(default=0.7, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int = Field(default=2048, ge=1)
    seed: int = Field(default=42, description="sent with every request; vary it per rollout (seed + k)")
    timeout_s: float = Field(default=120.0, gt=0, description="per attempt, connect to last byte")
    max_retries: int = Field(default=4, ge=0, description="retries of transient errors (connection, timeout, 429, 5xx)")
    backoff_base_s: float = Field(default=1.0, ge=0, description="first retry delay; doubles per attempt, jittered")
    backoff_max_s: float = Field(default=60.0, ge=0)
    max_retry_after_s: float = Field(
        default=300.0, gt=0, description="a Retry-After longer than this fails the call instead of waiting"
    )
    concurrency: ConcurrencyConfig = Field(default_factory=ConcurrencyConfig)
    budget_usd: float | None = Field(default=None, gt=0, description="run-level spend cap; none = no cap")
    prices: dict[str, TokenPrice] = Field(
        default_factory=dict,
        description="model name (or name prefix) -> $ per 1M input/output tokens; unpriced models cost 0",
    )
    call_prices: dict[str, float] = Field(
        default_factory=dict, description="per-call API -> $ per call (serper, jina, lens, ...)"
    )

    @property
    def offline(self) -> bool:
        return self.model == OFFLINE_TEACHER

    @model_validator(mode="after")
    def _check(self) -> TeacherConfig:
        if any(v < 0 for v in self.call_prices.values()):
            raise ValueError("call_prices must be >= 0")
        if self.backoff_base_s > self.backoff_max_s:
            raise ValueError("backoff_base_s must be <= backoff_max_s")
        return self


@dataclass(frozen=True, slots=True)
class ChatResult:
    """One chat completion as the episode loop sees it. Tool calls returned in the API's ``tool_calls``
    field are already folded into ``text`` as ``<tool_call>{json}</tool_call>`` blocks."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    cached: bool           # served from the memo (or by an identical call in flight): nothing was sent
    cost_usd: float        # spend of this call in this run; 0 when cached
    attempts: int          # requests sent for it in this run (0 when cached)
    request_hash: str
    model: str


@dataclass(frozen=True, slots=True)
class CallRow:
    """One ``llm_calls`` row: a completed call (``response``) or a final error (``error_reason``)."""

    request_hash: str
    model: str
    purpose: str
    template: str
    template_hash: str
    response: str | None
    finish_reason: str | None
    error_reason: str | None     # http_<status> | timeout | connection | ...
    error: str | None            # "<reason>: <detail>"
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float | None
    cost_usd: float
    attempts: int
    run_id: str | None
    created_at: datetime
