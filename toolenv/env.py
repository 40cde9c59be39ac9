"""``ToolEnv``: the stateful tool environment shared by teacher synthesis and GRPO rollouts.

``reset(item)`` starts an episode (input images become ``img_1``, ``img_2``, …); ``step(text)`` takes one
raw assistant turn and returns the next observation. Every failure the model can cause — bad format,
malformed JSON, unknown tool, bad arguments, unknown image id, timeout, backend failure — comes back
as an error observation (``Observation.error`` + a marker string), never as an exception; an isolated
error does not end the episode. The episode ends on a ``<response>``, after ``max_consecutive_errors``
bad steps in a row, or after ``max_turns`` turns.

One instance runs one episode at a time; run parallel episodes on separate instances (they may share
a ``ToolRegistry``: backends are read-only or lock internally). Given the same inputs the observations
are the same, except where a wall-clock timeout fires.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from PIL import Image
from pydantic import BaseModel, ValidationError

from toolenv.backends.base import ImageSearch, Summarizer, TextSearch
from toolenv.cache import CachedResult, ToolCache, request_key
from toolenv.config import EnvConfig
from toolenv.errors import ErrorKind, ToolError, error_text, unknown_image_message
from toolenv.images import StoredImage, store_input, store_output
from toolenv.leakage import LeakageGuard
from toolenv.protocol import (
    FinalAnswer,
    ProtocolError,
    TokenCounter,
    approx_token_count,
    format_tool_response,
    parse_turn,
)
from toolenv.registry import AnyTool, ToolRegistry, default_registry
from toolenv.tools.base import ToolContext, ToolOutput
from toolenv.tools.ocr import OcrEngine

log = logging.getLogger(__name__)

TerminalReason = Literal["answered", "max_turns", "consecutive_errors", "invalid_item"]
ObservationKind = Literal["task", "tool", "answer"]


class EpisodeOverError(RuntimeError):
    """``step`` called before ``reset`` or after the episode ended: a bug in the driving loop."""


@dataclass(frozen=True, slots=True)
class EpisodeItem:
    """What an episode is about. ``guard_texts`` are extra texts the leakage guard protects besides the
    question (e.g. the canonical question before fuzzy rewriting)."""

    question: str
    images: tuple[bytes, ...] = ()
    item_id: str = ""
    guard_texts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Transform:
    """One image-producing tool call: ``output`` was made from ``inputs`` by ``tool(arguments)``."""

    output: str
    tool: str
    inputs: tuple[str, ...]
    arguments: dict[str, Any]
    turn: int


@dataclass(frozen=True, slots=True)
class Observation:
    """What the model sees next, plus the flags the driving loop and the trajectory recorder need."""

    kind: ObservationKind
    content: str
    images: tuple[StoredImage, ...] = ()
    turn: int = 0
    done: bool = False
    terminal_reason: TerminalReason | None = None
    error: ErrorKind | None = None
    tool: str | None = None
    arguments: dict[str, Any] | None = None
    answer: str | None = None
    elapsed_ms: float = 0.0
    cached: bool = False
    dropped_by_guard: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def text(self) -> str:
        """The message text: the question for ``task``, ``<tool_response>…</tool_response>`` for ``tool``."""
        return format_tool_response(self.content) if self.kind == "tool" else self.content


@dataclass
class EpisodeState:
    """Explicit per-episode state: the image registry, counters and the transform history."""

    item: EpisodeItem
    images: dict[str, StoredImage] = field(default_factory=dict)
    guard: LeakageGuard | None = None
    turn: int = 0
    consecutive_errors: int = 0
    step_errors: list[bool] = field(default_factory=list)
    history: list[Transform] = field(default_factory=list)
    done: bool = False
    terminal_reason: TerminalReason | None = None
    answer: str | None = None

    def next_image_id(self) -> str:
        return f"img_{len(self.images) + 1}"

    def lineage(self, image_id: str) -> list[Transform]:
        """The transforms that produced ``image_id``, oldest first (empty for an input image)."""
        made = {t.output: t for t in self.history}
        chain: list[Transform] = []
        todo = [image_id]
        while todo:
            t = made.get(todo.pop())
            if t is not None and t not in chain:
                chain.append(t)
                todo.extend(t.inputs)
        return sorted(chain, key=lambda t: int(t.output.split("_")[1]))


@dataclass(frozen=True, slots=True)
class _Outcome:
    content: str
    error: ErrorKind | None = None
    images: tuple[StoredImage, ...] = ()
    tool: str | None = None
    arguments: dict[str, Any] | None = None
    cached: bool = False
    dropped: int = 0


class ToolEnv:
    """Gym-style environment over a ``ToolRegistry``. See the module docstring."""

    def __init__(self, registry: ToolRegistry, config: EnvConfig | None = None, *, cache: ToolCache | None = None,
                 token_counter: TokenCounter | None = None) -> None:
        self.registry = registry
        self.config = config or EnvConfig()
        self.cache = cache
        self.count_tokens = token_counter or approx_token_count
        self._state: EpisodeState | None = None

    @classmethod
    def build(cls, config: EnvConfig | None = None, *, text_search: TextSearch | None = None,
              image_search: ImageSearch | None = None, ocr: OcrEngine | None = None,
              summarizer: Summarizer | None = None, cache: ToolCache | None = None,
              token_counter: TokenCounter | None = None) -> ToolEnv:
        """An environment with the paper's seven tools over the given backends (``default_registry``)."""
        config = config or EnvConfig()
        registry = default_registry(config, text_search=text_search, image_search=image_search, ocr=ocr,
                                    summarizer=summarizer)
        return cls(registry, config, cache=cache, token_counter=token_counter)

    @property
    def state(self) -> EpisodeState:
        if self._state is None:
            raise EpisodeOverError("call reset() first")
        return self._state

    def tool_schemas(self) -> list[dict[str, Any]]:
        return self.registry.schemas()

    # ------------------------------------------------------------------ episode API
    def reset(self, item: EpisodeItem) -> Observation:
        """Start an episode. Undecodable input images end it at once (``invalid_item``)."""
        cfg = self.config
        guard = LeakageGuard.build([item.question, *item.guard_texts], cfg.leakage_ngram) if cfg.leakage_guard \
            else None
        state = EpisodeState(item=item, guard=guard)
        self._state = state
        for data in item.images:
            img_id = state.next_image_id()
            try:
                state.images[img_id] = store_input(img_id, data, cfg.image_limits)
            except ToolError as err:
                state.done, state.terminal_reason = True, "invalid_item"
                return Observation("task", error_text(err.kind, f"{img_id}: {err.message}"), done=True,
                                   terminal_reason="invalid_item", error=err.kind)
        return Observation("task", item.question, images=tuple(state.images.values()))

    def step(self, text: str) -> Observation:
        """Take one raw assistant turn; return the tool response, an error observation, or the end."""
        state = self._live_state()
        state.turn += 1
        started = time.perf_counter()
        n_tokens = self.count_tokens(text)
        if n_tokens > self.config.max_turn_tokens:
            outcome = _Outcome(error_text(ErrorKind.PROTOCOL, f"the turn has {n_tokens} tokens, over the limit of "
                                          f"{self.config.max_turn_tokens}."), ErrorKind.PROTOCOL)
        else:
            turn = parse_turn(text, require_think=self.config.require_think)
            if isinstance(turn, ProtocolError):
                outcome = _Outcome(error_text(turn.kind, turn.message), turn.kind)
            elif isinstance(turn, FinalAnswer):
                state.answer = turn.text
                return self._finish(state, _Outcome(""), started, answer=turn.text)
            else:
                outcome = self._execute(state, turn.name, turn.arguments)
        return self._finish(state, outcome, started)

    def call(self, name: str, arguments: dict[str, Any]) -> Observation:
        """Run one tool call without the turn protocol (CLI, debugging); it still counts as a turn."""
        state = self._live_state()
        state.turn += 1
        started = time.perf_counter()
        return self._finish(state, self._execute(state, name, arguments), started)

    # ------------------------------------------------------------------ internals
    def _live_state(self) -> EpisodeState:
        state = self.state
        if state.done:
            raise EpisodeOverError(f"the episode ended ({state.terminal_reason}); call reset()")
        return state

    def _finish(self, state: EpisodeState, outcome: _Outcome, started: float, answer: str | None = None) -> Observation:
        failed = outcome.error is not None
        state.step_errors.append(failed)
        state.consecutive_errors = state.consecutive_errors + 1 if failed else 0
        reason: TerminalReason | None = None
        if answer is not None:
            reason = "answered"
        elif state.consecutive_errors >= self.config.max_consecutive_errors:
            reason = "consecutive_errors"
        elif state.turn >= self.config.max_turns:
            reason = "max_turns"
        if reason is not None:
            state.done, state.terminal_reason = True, reason
        return Observation("answer" if answer is not None else "tool", outcome.content, outcome.images,
                           turn=state.turn, done=state.done, terminal_reason=reason, error=outcome.error,
                           tool=outcome.tool, arguments=outcome.arguments, answer=answer,
                           elapsed_ms=round((time.perf_counter() - started) * 1000, 3), cached=outcome.cached,
                           dropped_by_guard=outcome.dropped)

    def _execute(self, state: EpisodeState, name: str, arguments: dict[str, Any]) -> _Outcome:
        tool = self.registry.get(name)
        if tool is None:
            return _Outcome(error_text(ErrorKind.UNKNOWN_TOOL, f"unknown tool {name!r}. Available tools: "
                                       f"{self.registry.names()}"), ErrorKind.UNKNOWN_TOOL, tool=name,
                            arguments=arguments)
        try:
            args = tool.args_model.model_validate(arguments)
        except ValidationError as err:
            return _Outcome(error_text(ErrorKind.BAD_ARGUMENTS, f"{name}: {_describe(err)}"),
                            ErrorKind.BAD_ARGUMENTS, tool=name, arguments=arguments)
        plain = args.model_dump(mode="json")
        refs = [str(plain[f]) for f in tool.image_fields]
        for ref in refs:
            if ref not in state.images:
                return _Outcome(error_text(ErrorKind.UNKNOWN_IMAGE, unknown_image_message(ref, list(state.images))),
                                ErrorKind.UNKNOWN_IMAGE, tool=name, arguments=plain)
        key = self._cache_key(state, tool, plain, refs)
        hit = self.cache.get(key) if self.cache is not None and key is not None else None
        if hit is not None:
            pics = tuple(Image.open(io.BytesIO(b)).convert("RGB") for b in hit.images)
            return self._register(state, tool, plain, refs, ToolOutput(hit.text, pics, hit.dropped_by_guard),
                                  cached=True)
        started = time.perf_counter()
        try:
            output = self._run(tool, args, ToolContext(image=_resolver(dict(state.images)), config=self.config,
                                                       guard=state.guard))
        except ToolError as err:
            return _Outcome(error_text(err.kind, err.message), err.kind, tool=name, arguments=plain)
        except Exception as err:  # a bug or an engine crash must still be an observation, not a crash
            log.warning("tool %s raised %s", name, type(err).__name__, exc_info=True)
            return _Outcome(error_text(ErrorKind.BACKEND, f"{name} failed: {type(err).__name__}: {err}"),
                            ErrorKind.BACKEND, tool=name, arguments=plain)
        latency_ms = (time.perf_counter() - started) * 1000
        outcome = self._register(state, tool, plain, refs, output)
        if key is not None and self.cache is not None:
            pngs = tuple(img.data for img in outcome.images)
            self.cache.put(key, CachedResult(output.text, pngs, output.dropped_by_guard), latency_ms, tool=name)
        return outcome

    def _cache_key(self, state: EpisodeState, tool: AnyTool, plain: dict[str, Any], refs: list[str]) -> str | None:
        """The memo key (images by content, backend fingerprint, guard), or None when not cached."""
        if self.cache is None or tool.name not in self.config.cache_tools:
            return None
        context = tool.fingerprint + (f"|guard:{state.guard.fingerprint}" if state.guard else "")
        return request_key(tool.name, {k: v for k, v in plain.items() if k not in tool.image_fields},
                           [state.images[r].sha256 for r in refs], context=context)

    def _run(self, tool: AnyTool, args: BaseModel, ctx: ToolContext) -> ToolOutput:
        timeout = self.config.timeout_for(tool.name)
        if timeout is None:
            return tool.run(args, ctx)
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["out"] = tool.run(args, ctx)
            except BaseException as err:  # re-raised in the caller's thread
                box["err"] = err

        worker = threading.Thread(target=target, name=f"toolenv-{tool.name}", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            raise ToolError(ErrorKind.TIMEOUT, f"{tool.name} timed out after {timeout:g} s")
        if "err" in box:
            raise box["err"]
        out: ToolOutput = box["out"]
        return out

    def _register(self, state: EpisodeState, tool: AnyTool, plain: dict[str, Any], refs: list[str],
                  output: ToolOutput, cached: bool = False) -> _Outcome:
        cap = self.config.max_images_per_call
        lines = [output.text]
        stored: list[StoredImage] = []
        for img in output.images[:cap]:
            if img.width * img.height > self.config.max_output_pixels:
                lines.append(f"Warning: an output image of {img.width}×{img.height} exceeds the pixel limit and "
                             "was not kept.")
                continue
            img_id = state.next_image_id()
            state.images[img_id] = entry = store_output(img_id, img)
            stored.append(entry)
            state.history.append(Transform(img_id, tool.name, tuple(refs), plain, state.turn))
            lines.append(f"New image: {img_id} ({entry.width}×{entry.height} px).")
        if len(output.images) > cap:
            lines.append(f"Note: {len(output.images) - cap} more images were produced but only {cap} are attached "
                         "per call.")
        return _Outcome("\n".join(lines), None, tuple(stored), tool=tool.name, arguments=plain, cached=cached,
                        dropped=output.dropped_by_guard)


def _resolver(images: dict[str, StoredImage]) -> Callable[[str], Image.Image]:
    def resolve(ref: str) -> Image.Image:
        found = images.get(ref)
        if found is None:
            raise ToolError(ErrorKind.UNKNOWN_IMAGE, unknown_image_message(ref, list(images)))
        return found.image

    return resolve


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors(include_url=False):
        loc = ".".join(str(p) for p in e["loc"]) or "arguments"
        msg = "unexpected argument" if e["type"] == "extra_forbidden" else e["msg"]
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)
