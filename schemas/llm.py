"""A remembered model call (the ``llm_calls`` memo): what came back, its tokens and latency."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MemoEntry:
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
