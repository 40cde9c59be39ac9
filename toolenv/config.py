"""Environment limits and tool settings (PAPER.md §12.F item 35). Defaults are the released code's values.

The run config (``schemas/``) can embed or build an ``EnvConfig``; nothing here reads the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImageLimits(_Strict):
    """What an input image may be before it is decoded. Checked on the header, before pixels are read."""

    max_bytes: int = Field(default=20 * 1024 * 1024, gt=0, description="encoded size cap")
    max_pixels: int = Field(default=40_000_000, gt=0, description="width × height cap (decompression bombs)")
    max_side: int = Field(default=16_384, gt=0, description="longest side cap")
    formats: tuple[str, ...] = Field(
        default=("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"), description="PIL format names accepted"
    )


class EnvConfig(_Strict):
    """Agent-loop limits, image limits and tool settings for one ``ToolEnv``."""

    max_turns: int = Field(default=50, ge=1, description="assistant turns per episode (released code: 50)")
    max_turn_tokens: int = Field(default=4096, ge=1, description="tokens one assistant turn may have")
    max_consecutive_errors: int = Field(default=3, ge=1, description="stop after this many bad steps in a row")
    max_images_per_call: int = Field(default=4, ge=1, description="images one tool response may attach")
    require_think: bool = Field(default=True, description="a turn without <think>…</think> is a protocol error")
    tool_timeout_s: float | None = Field(
        default=60.0, gt=0, description="wall-clock cap per tool call; None runs tools inline without a cap"
    )
    tool_timeouts_s: dict[str, float] = Field(default_factory=dict, description="per-tool overrides")
    image_limits: ImageLimits = Field(default_factory=ImageLimits)
    max_output_pixels: int = Field(default=40_000_000, gt=0, description="cap on an image a tool produces")
    leakage_guard: bool = Field(
        default=True, description="drop search results quoting the question (synthesis and RL; off for eval)"
    )
    leakage_ngram: int = Field(default=13, ge=1, description="word n-gram length of the leakage guard")
    superres_model_dir: Path | None = Field(
        default=None, description="folder with OpenCV dnn_superres weights EDSR_x{2,3,4}.pb; None = fallback"
    )
    summary_sentences: int = Field(default=3, ge=1, le=8, description="sentences in an extractive summary")
    summary_max_chars: int = Field(default=700, ge=50, description="cap on one passage summary")
    summary_page_chars: int = Field(default=200_000, ge=1000,
                                    description="how much of a page the extractive summariser reads")
    cache_tools: tuple[str, ...] = Field(
        default=("text_search", "image_search", "layout_parsing"),
        description="tools whose successful results go through the injected ToolCache",
    )

    def timeout_for(self, tool: str) -> float | None:
        """The wall-clock cap for ``tool`` (a per-tool override wins)."""
        return self.tool_timeouts_s.get(tool, self.tool_timeout_s)
